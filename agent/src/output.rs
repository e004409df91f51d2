//! The recording file: opened safely, written through a buffer, and
//! checked at every flush that it is still the file at its path.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Opens the recording: `requested` (truncated if it exists), or else
/// `metascope-<pid>.jsonl` in `default_dir`, never overwriting an earlier
/// recording (`-1`, `-2`... are added). A symlink at the path is refused
/// (O_NOFOLLOW), so nobody can redirect the output through a shared
/// directory; the mode is 0666 less the user's umask.
pub fn open(
    requested: Option<&Path>,
    default_dir: &Path,
    pid: u32,
) -> Result<(File, PathBuf), String> {
    let open = |path: &Path, create_new: bool| {
        let mut o = OpenOptions::new();
        o.write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        if create_new {
            o.create_new(true);
        } else {
            o.create(true).truncate(true);
        }
        o.open(path)
    };
    let explain = |path: &Path, e: io::Error| {
        let hint = if e.raw_os_error() == Some(libc::ELOOP) {
            "it is a symbolic link, which metascope refuses to follow".to_string()
        } else {
            e.to_string()
        };
        format!(
            "metascope: cannot write the recording to {}: {hint} (choose a writable file with out=FILE)",
            path.display()
        )
    };
    match requested {
        Some(path) => open(path, false)
            .map(|f| (f, absolute(path)))
            .map_err(|e| explain(path, e)),
        None => {
            for n in 0..1000 {
                let name = if n == 0 {
                    format!("metascope-{pid}.jsonl")
                } else {
                    format!("metascope-{pid}-{n}.jsonl")
                };
                let path = default_dir.join(name);
                match open(&path, true) {
                    Ok(f) => return Ok((f, absolute(&path))),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(explain(&path, e)),
                }
            }
            Err(format!(
                "metascope: cannot find a free file name metascope-{pid}-N.jsonl in {} (choose one with out=FILE)",
                default_dir.display()
            ))
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A buffered recording that notices when its file was deleted or
/// replaced (e.g. the directory was removed): writing on into an unlinked
/// inode would lose the recording silently.
pub struct RecordingFile {
    out: BufWriter<File>,
    path: PathBuf,
    /// (device, inode) of the file we opened; `None` for devices and
    /// pipes, where the check does not apply.
    identity: Option<(u64, u64)>,
}

impl RecordingFile {
    pub fn new(file: File, path: PathBuf) -> RecordingFile {
        let identity = file
            .metadata()
            .ok()
            .filter(|m| m.file_type().is_file())
            .map(|m| (m.dev(), m.ino()));
        RecordingFile {
            // Larger than the writer's flush threshold plus one record, so
            // the buffer never writes a partial line by itself.
            out: BufWriter::with_capacity(1 << 20, file),
            path,
            identity,
        }
    }

    fn still_ours(&self) -> io::Result<()> {
        let Some(identity) = self.identity else {
            return Ok(());
        };
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == identity => Ok(()),
            _ => Err(io::Error::other("the file was deleted or replaced")),
        }
    }
}

impl Write for RecordingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.still_ours()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_name_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metascope-42.jsonl"), "earlier").unwrap();
        let (_, path) = open(None, dir.path(), 42).unwrap();
        assert!(path.ends_with("metascope-42-1.jsonl"), "{}", path.display());
        let (_, path) = open(None, dir.path(), 42).unwrap();
        assert!(path.ends_with("metascope-42-2.jsonl"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("metascope-42.jsonl")).unwrap(),
            "earlier"
        );
    }

    #[test]
    fn a_planted_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").unwrap();
        let link = dir.path().join("rec.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open(Some(&link), dir.path(), 1).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(err.starts_with("metascope: cannot write the recording to"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        // The default name: a symlink there is skipped like any existing file.
        std::os::unix::fs::symlink(&target, dir.path().join("metascope-7.jsonl")).unwrap();
        let (_, path) = open(None, dir.path(), 7).unwrap();
        assert!(path.ends_with("metascope-7-1.jsonl"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }

    #[test]
    fn an_unwritable_place_is_explained() {
        let err = open(
            Some(Path::new("/nonexistent-dir/x.jsonl")),
            Path::new("."),
            1,
        )
        .unwrap_err();
        assert!(err.contains("/nonexistent-dir/x.jsonl"), "{err}");
        assert!(err.contains("out=FILE"), "{err}");
    }

    #[test]
    fn deleting_the_file_is_noticed_at_the_next_flush() {
        let dir = tempfile::tempdir().unwrap();
        let (file, path) = open(None, dir.path(), 9).unwrap();
        let mut out = RecordingFile::new(file, path.clone());
        out.write_all(b"{}\n").unwrap();
        out.flush().unwrap();
        std::fs::remove_file(&path).unwrap();
        out.write_all(b"{}\n").unwrap();
        let err = out.flush().unwrap_err();
        assert!(err.to_string().contains("deleted or replaced"));
    }
}
