//! A Java Flight Recorder recording (`.jfr`) as a source of the event
//! stream: read by the metascope-jfr crate (streaming, bounded memory,
//! chunk by chunk), its records turned into the event stream's by
//! [`super::from_jfr`].
//!
//! A cut or damaged recording is read up to the damage and reported as
//! such ([`Damage`]), like a cut JSON Lines recording; a recording without
//! class events (JFR's default settings leave them off) is an error that
//! says how to record one.

use std::fs::File;
use std::io::IsTerminal;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use indicatif::ProgressBar;
use metascope_jfr::{Error, JfrReader};

use super::from_jfr::FromJfr;
use super::progress::progress_bar;
use super::{CutOff, Damage, JfrDamage, Sink, Source};

/// Records read between two updates of the progress bar.
const PROGRESS_EVERY: u64 = 1 << 14;

/// How to record class events with JFR, for the message of a recording
/// without them (docs/jfr.md says the same).
pub const HOW_TO_RECORD: &str = "\
record with metascope's JFR settings (docs/metascope.jfc: the JDK's default settings \
plus jdk.ClassDefine and jdk.ClassLoad with stack traces, and jdk.ClassUnload), on JDK 11 to 25: \
`java -XX:StartFlightRecording:filename=app.jfr,settings=/path/to/metascope.jfc ...` or \
`jcmd <pid> JFR.start name=metascope filename=app.jfr settings=/path/to/metascope.jfc`; \
on JDK 17 and later `class-loading=true` with the default settings does the same \
(`-XX:StartFlightRecording:filename=app.jfr,class-loading=true`); then `metascope report app.jfr` \
(docs/jfr.md)";

/// A JFR recording being read.
pub struct Jfr {
    reader: JfrReader,
    shown: String,
    convert: FromJfr,
    damage: Damage,
    progress: ProgressBar,
    done: bool,
}

impl Jfr {
    /// Reads the recording in `file`, opened from `path`; a progress bar on
    /// a terminal for a big file.
    pub fn new(file: File, path: &Path) -> Result<Jfr> {
        let shown = path.display().to_string();
        let reader = JfrReader::from_file(file).map_err(|e| anyhow!("{shown}: {e}"))?;
        let progress = progress_bar(reader.len(), std::io::stderr().is_terminal());
        Ok(Jfr {
            convert: FromJfr::new(&shown),
            reader,
            shown,
            damage: Damage::default(),
            progress,
            done: false,
        })
    }
}

impl Source for Jfr {
    fn read<K: Sink + ?Sized>(&mut self, sink: &mut K) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let mut records = 0u64;
        let mut failure = None;
        while let Some(item) = self.reader.next_event() {
            match item {
                Ok(event) => self.convert.event(event, sink),
                Err(Error::Damaged(d)) => {
                    let damage = JfrDamage::from(&d);
                    if d.cut {
                        self.damage.cut_off = Some(CutOff::InJfrChunk(damage));
                    } else {
                        self.damage.jfr_corrupt = Some(damage);
                    }
                }
                Err(e) => failure = Some(e),
            }
            records += 1;
            if records.is_multiple_of(PROGRESS_EVERY) {
                self.progress.set_position(self.reader.position());
            }
        }
        self.progress.finish_and_clear();
        let intact = self.damage.cut_off.is_none() && self.damage.jfr_corrupt.is_none();
        self.convert.finish(sink, intact && failure.is_none());
        if let Some(e) = failure {
            // What was read before is in the analysis; the command says why
            // it stopped.
            bail!("{}: {e}", self.shown);
        }
        if self.convert.classes() == 0 {
            let stopped = self.damage.cut_off.is_some() || self.damage.jfr_corrupt.is_some();
            // Cut before its settings were decoded, a recording cannot say
            // whether class events were on.
            if stopped && !self.convert.class_settings_seen() {
                bail!(
                    "{}: nothing could be read: {}",
                    self.shown,
                    jfr_damage_text(&self.damage)
                );
            }
            if !self.convert.class_events_enabled() {
                bail!(
                    "{} has no class events: jdk.ClassDefine and jdk.ClassLoad were off when it \
                     was recorded (JFR's default settings leave them off), so it cannot tell \
                     which code defined classes; {HOW_TO_RECORD}",
                    self.shown
                );
            }
        }
        Ok(())
    }

    fn damage(&self) -> &Damage {
        &self.damage
    }
}

/// The damage of a recording nothing could be read from, in one line.
fn jfr_damage_text(damage: &Damage) -> String {
    let (d, cut) = match (&damage.cut_off, &damage.jfr_corrupt) {
        (Some(CutOff::InJfrChunk(d)), _) => (d, true),
        (_, Some(d)) => (d, false),
        _ => return "it is damaged".to_string(),
    };
    let what = if cut {
        format!(
            "the file ends at byte {} inside chunk {} ({})",
            d.file_len, d.chunk, d.reason
        )
    } else {
        format!(
            "it is damaged at byte {} of {} in chunk {} ({})",
            d.read_to, d.file_len, d.chunk, d.reason
        )
    };
    // JDK 11 (and JDK 14+ between flushes) writes a chunk's metadata and
    // constants at its end: a chunk cut before them decodes to nothing.
    format!(
        "{what}, before anything decodable: the JVM writes a chunk's constants when it flushes \
         it, so a recording copied while being written can hold none yet \
         (`jcmd <pid> JFR.dump filename=app.jfr` writes a complete one)"
    )
}
