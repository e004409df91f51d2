//! The recording file: opened safely, written through a buffer, and
//! checked at every flush that it is still the file at its path.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::files::{self, describe_open_error, Dir, FileIdentity};

/// Mode of recordings: stacks and class names are the application's
/// business, so only the JVM's user may read them.
const RECORDING_MODE: u32 = 0o600;

/// Opens the recording: `requested`, or else `metascope-<pid>.jsonl` in
/// `default_dir`, never overwriting an earlier recording (`-1`, `-2`... are
/// added). Files are created relative to their directory with O_EXCL and
/// O_NOFOLLOW and mode 0600; an existing `requested` file is reused (and
/// emptied) only if it is a regular file of this JVM's user with a single
/// link, so a link or file planted by someone else in a shared directory
/// is never written through.
pub fn open(
    requested: Option<&Path>,
    default_dir: &Path,
    pid: u32,
) -> Result<RecordingFile, String> {
    let explain = |path: &Path, why: String| {
        format!(
            "metascope: cannot write the recording to {}: {why} (choose a writable file with out=FILE)",
            path.display()
        )
    };
    match requested {
        Some(path) => {
            let (parent, name) = files::split(path)
                .ok_or_else(|| explain(path, "it does not name a file".into()))?;
            let dir = Dir::open(&parent).map_err(|e| {
                explain(path, format!("its directory: {}", describe_open_error(&e)))
            })?;
            let file = dir
                .create_or_truncate_own(&name, RECORDING_MODE)
                .map_err(|e| explain(path, describe_open_error(&e)))?;
            Ok(RecordingFile::new(file, dir, name, absolute(path)))
        }
        None => {
            let dir = Dir::open(default_dir)
                .map_err(|e| explain(default_dir, describe_open_error(&e)))?;
            for n in 0..1000 {
                let name = if n == 0 {
                    format!("metascope-{pid}.jsonl")
                } else {
                    format!("metascope-{pid}-{n}.jsonl")
                };
                match dir.create_new(&name, RECORDING_MODE) {
                    Ok(f) => {
                        let path = absolute(&default_dir.join(&name));
                        return Ok(RecordingFile::new(f, dir, name, path));
                    }
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                    Err(e) => {
                        return Err(explain(&default_dir.join(&name), describe_open_error(&e)))
                    }
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
    dir: Dir,
    name: String,
    path: PathBuf,
    /// (device, inode) of the file we opened; `None` for devices and
    /// pipes, where the check does not apply.
    identity: Option<FileIdentity>,
}

impl RecordingFile {
    fn new(file: File, dir: Dir, name: String, path: PathBuf) -> RecordingFile {
        let identity = file
            .metadata()
            .ok()
            .filter(|m| m.file_type().is_file())
            .and_then(|_| files::identity_of_file(&file));
        RecordingFile {
            // Larger than the writer's flush threshold plus one record, so
            // the buffer never writes a partial line by itself.
            out: BufWriter::with_capacity(1 << 20, file),
            dir,
            name,
            path,
            identity,
        }
    }

    /// The recording's absolute path, as the JVM sees it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn still_ours(&self) -> io::Result<()> {
        let Some(identity) = self.identity else {
            return Ok(());
        };
        if self.dir.identity_of(&self.name) == Some(identity) {
            Ok(())
        } else {
            Err(io::Error::other("the file was deleted or replaced"))
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
        let out = open(None, dir.path(), 42).unwrap();
        assert!(
            out.path().ends_with("metascope-42-1.jsonl"),
            "{}",
            out.path().display()
        );
        let out = open(None, dir.path(), 42).unwrap();
        assert!(out.path().ends_with("metascope-42-2.jsonl"));
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
        let err = open(Some(&link), dir.path(), 1).err().unwrap();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(err.starts_with("metascope: cannot write the recording to"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
        // The default name: a symlink there is skipped like any existing file.
        std::os::unix::fs::symlink(&target, dir.path().join("metascope-7.jsonl")).unwrap();
        let out = open(None, dir.path(), 7).unwrap();
        assert!(out.path().ends_with("metascope-7-1.jsonl"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }

    #[test]
    fn an_unwritable_place_is_explained() {
        let err = open(
            Some(Path::new("/nonexistent-dir/x.jsonl")),
            Path::new("."),
            1,
        )
        .err()
        .unwrap();
        assert!(err.contains("/nonexistent-dir/x.jsonl"), "{err}");
        assert!(err.contains("out=FILE"), "{err}");
    }

    #[test]
    fn recordings_are_private_and_other_users_files_are_refused() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let out = open(None, dir.path(), 5).unwrap();
        let mode = std::fs::metadata(out.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let planted = dir.path().join("planted.jsonl");
        std::fs::write(&planted, "someone else's").unwrap();
        std::os::unix::fs::chown(&planted, Some(65534), None).unwrap();
        assert_eq!(std::fs::metadata(&planted).unwrap().uid(), 65534);
        let err = open(Some(&planted), dir.path(), 5).err().unwrap();
        assert!(err.contains("belongs to uid 65534"), "{err}");
        assert_eq!(std::fs::read_to_string(&planted).unwrap(), "someone else's");
    }

    #[test]
    fn deleting_the_file_is_noticed_at_the_next_flush() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = open(None, dir.path(), 9).unwrap();
        let path = out.path().to_path_buf();
        out.write_all(b"{}\n").unwrap();
        out.flush().unwrap();
        std::fs::remove_file(&path).unwrap();
        out.write_all(b"{}\n").unwrap();
        let err = out.flush().unwrap_err();
        assert!(err.to_string().contains("deleted or replaced"));
    }
}
