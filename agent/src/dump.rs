//! `dump=DIR`: the bytes of captured classes as `DIR/<binary name>.class`,
//! to read with `javap -c`. Written by the writer thread; a name that
//! cannot be written is counted and skipped.

use std::io::{self, Write};

use crate::files::Dir;
use crate::messages;

/// Class files written with `dump=DIR` at most.
const MAX_DUMPED: u64 = 100_000;

/// `dump=DIR`: class files for javap.
pub struct Dump {
    dir: Dir,
    written: u64,
    /// Class files that could not be written.
    pub failed: u64,
    stopped: bool,
}

impl Dump {
    pub fn new(dir: Dir) -> Dump {
        Dump {
            dir,
            written: 0,
            failed: 0,
            stopped: false,
        }
    }
    /// Writes one class file, `DIR/<binary name>.class` (mode 0600, never
    /// through a link, never over an existing file: a repeated name gets
    /// `-<seq>`). A name that cannot be written is counted and skipped;
    /// only a full disk stops dumping.
    pub fn write(&mut self, name: &str, seq: u64, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        if self.written >= MAX_DUMPED {
            messages::say(&format!(
                "dump= reached {MAX_DUMPED} class files; no more are written"
            ));
            self.stopped = true;
            return;
        }
        let base = dump_file_name(name);
        let mut result = self.dir.create_new(&format!("{base}.class"), 0o600);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::AlreadyExists) {
            // Names repeat across loaders (Groovy's Script1...): keep each.
            result = self.dir.create_new(&format!("{base}-{seq}.class"), 0o600);
        }
        match result.and_then(|mut file| file.write_all(bytes)) {
            Ok(()) => self.written += 1,
            Err(e) => {
                self.failed += 1;
                let full = matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT));
                if self.failed == 1 || full {
                    messages::say(&format!(
                        "cannot dump {name} to {}: {}{}",
                        self.dir.path().display(),
                        crate::files::describe_open_error(&e),
                        if full {
                            "; dumping stopped"
                        } else {
                            "; skipped (the summary counts the class files not written)"
                        }
                    ));
                }
                self.stopped = full;
            }
        }
    }
}

/// A file name for a class: its binary name with anything a file name
/// cannot hold (`/`, NUL, a leading `.`) replaced, and long names cut
/// with a hash of the whole so they stay distinct and under NAME_MAX.
fn dump_file_name(name: &str) -> String {
    const MAX: usize = 200;
    let mut clean: String = name
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    if clean.starts_with('.') || clean.is_empty() {
        clean.insert(0, '_');
    }
    if clean.len() <= MAX {
        return clean;
    }
    let mut cut = MAX;
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = crate::classfile::fnv64(name.as_bytes());
    format!("{}~{hash:016x}", &clean[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        assert_eq!(dump_file_name("com.acme.Gen$1"), "com.acme.Gen$1");
        assert_eq!(dump_file_name("a/b"), "a_b");
        assert_eq!(dump_file_name(".hidden"), "_.hidden");
        let long_a = format!("com.acme.{}", "A".repeat(300));
        let long_b = format!("com.acme.{}B", "A".repeat(300));
        assert!(dump_file_name(&long_a).len() < 255);
        assert_ne!(dump_file_name(&long_a), dump_file_name(&long_b));
    }

    #[test]
    fn one_bad_name_is_skipped_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let mut dump = Dump::new(Dir::open(tmp.path()).unwrap());
        std::fs::create_dir(tmp.path().join("Taken.class")).unwrap();
        std::fs::create_dir(tmp.path().join("Taken-1.class")).unwrap();
        dump.write("Taken", 1, b"x");
        dump.write("Fine", 2, b"y");
        assert_eq!((dump.written, dump.failed), (1, 1));
        assert_eq!(std::fs::read(tmp.path().join("Fine.class")).unwrap(), b"y");
    }
}
