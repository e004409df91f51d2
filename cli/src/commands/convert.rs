//! `metascope convert FILE -o OUT.jsonl`: a recording (a JFR file) written
//! out as the event stream the agent writes (docs/events.md), record by
//! record as the reader yields them, so tools that read the agent's
//! recordings (jq, `metascope report`) read it too.
//!
//! The same records also go through an analysis, only for its warnings:
//! what was lost to a cut or damaged input is said on stderr, as `report`
//! says it.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{anyhow, Context, Result};
use metascope_events::{ClassDefined, LoaderRef, Record};

use super::report::analysis_options;
use crate::analyze::stacks::DEFAULT_STACK_MEMORY_MIB;
use crate::analyze::Analysis;
use crate::cli::ConvertArgs;
use crate::escape;
use crate::read::{self, Item, Sink, Source};
use crate::render::wording;
use crate::report::{self, Contents, FlameGraphParts};

/// Writes each record as one line, and feeds the analysis.
struct Converter {
    out: BufWriter<File>,
    analysis: Analysis,
    /// The first write error; nothing is written after it.
    error: Option<std::io::Error>,
    records: u64,
}

impl Converter {
    fn write(&mut self, record: &Record) {
        if self.error.is_some() {
            return;
        }
        let written = serde_json::to_writer(&mut self.out, record)
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        match written {
            Ok(()) => self.records += 1,
            Err(e) => self.error = Some(e),
        }
    }
}

impl Sink for Converter {
    fn item(&mut self, item: Item<'_>, position: u64) {
        let record = match &item {
            Item::Class(c) => Record::Class(ClassDefined {
                seq: c.seq,
                name: c.name.to_string(),
                kind: c.kind,
                loader: LoaderRef {
                    id: c.loader_id,
                    type_name: c.loader_type.to_string(),
                },
                hidden: c.hidden,
                thread: c.thread.to_string(),
                t_ns: c.t_ns,
                wall_ms: c.wall_ms,
                event: c.event,
                stack: c.stack,
                target: c.target.map(str::to_string),
                fingerprint: c.fingerprint.map(str::to_string),
            }),
            Item::Record(r) => r.clone(),
        };
        self.write(&record);
        self.analysis.item(item, position);
    }
}

pub fn run(args: &ConvertArgs) -> Result<()> {
    let mut source = read::open(&args.file)?;
    // Never through a planted link or over an existing file.
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.output)
        .map_err(|e| {
            anyhow!(
                "cannot create {}: {e}; name a file that does not exist yet (convert never \
                 overwrites)",
                args.output.display()
            )
        })?;
    let options = analysis_options(&[], &[], false, DEFAULT_STACK_MEMORY_MIB);
    let mut converter = Converter {
        out: BufWriter::with_capacity(1 << 16, out),
        analysis: Analysis::new(options),
        error: None,
        records: 0,
    };
    let read = source.read(&mut converter);
    let flushed = converter.out.flush();
    if let Some(e) = converter.error.take() {
        return Err(e).with_context(|| format!("writing {}", args.output.display()));
    }
    flushed.with_context(|| format!("writing {}", args.output.display()))?;
    read?;
    let shown = args.file.display().to_string();
    let contents = Contents {
        file: &shown,
        top: 0,
        flame_graph: FlameGraphParts::None,
    };
    let report = report::build(&converter.analysis.finish(source.damage()), &contents);
    for w in &report.recording.warnings {
        eprintln!(
            "metascope convert: warning: {}",
            escape::text(&wording::warning(w))
        );
    }
    eprintln!(
        "metascope convert: wrote {} records to {}",
        converter.records,
        escape::text(&args.output.display().to_string())
    );
    Ok(())
}
