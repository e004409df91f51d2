//! Files the agent creates (the recording, the status file, dumped class
//! files, the live socket's staging directory), opened so that nobody else
//! can redirect them: always relative to a directory handle, never through
//! a symbolic link, never reusing a file another user owns or has linked.
//!
//! The agent runs inside JVMs of any user, root included, and often writes
//! into shared directories such as /tmp: a name in such a directory may
//! have been planted by another local user.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, renameat2, OFlag, RenameFlags};
use nix::sys::stat::{fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::{geteuid, unlinkat, UnlinkatFlags};

/// A directory opened once; every file is created relative to it, so the
/// directory cannot be swapped for another between checks and use.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// (device, inode) of a file we created, to remove only that file later.
pub type FileIdentity = (u64, u64);

fn io_error(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

fn identity(stat: &FileStat) -> FileIdentity {
    (stat.st_dev, stat.st_ino)
}

fn is_kind(stat: &FileStat, kind: SFlag) -> bool {
    SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == kind
}

impl Dir {
    /// Opens `path` as a directory. The path is the user's own choice, so
    /// links in it are followed (`/tmp` is a link on some systems and in
    /// some containers); what matters is that the files are then created
    /// relative to this handle, never through a link.
    pub fn open(path: &Path) -> io::Result<Dir> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_error)?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Opens `path` and checks that files may safely be created in it: it
    /// belongs to this process's user or to root, and if others may write
    /// to it, it is sticky (like /tmp), so they cannot rename or delete
    /// what we create there. The error says why, for a one-line message.
    pub fn open_checked(path: &Path) -> Result<Dir, String> {
        let dir = Dir::open(path).map_err(|e| describe_open_error(&e))?;
        let stat = fstat(dir.fd.as_fd()).map_err(|e| io_error(e).to_string())?;
        let euid = geteuid().as_raw();
        if stat.st_uid != euid && stat.st_uid != 0 {
            return Err(format!(
                "it belongs to uid {}, not to this JVM's user (uid {euid}) or root",
                stat.st_uid
            ));
        }
        let shared = stat.st_mode & 0o022 != 0;
        if shared && stat.st_mode & 0o1000 == 0 {
            return Err(format!(
                "other users may write to it (mode {:o}) and it is not sticky",
                stat.st_mode & 0o7777
            ));
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` inside this directory, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates a new file; fails with `AlreadyExists` if anything (a file,
    /// a link, a socket) has that name.
    pub fn create_new(&self, name: &str, mode: u32) -> io::Result<File> {
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(io_error)?;
        Ok(File::from(fd))
    }

    /// Creates `name`, or empties it if it is already a file of ours: a
    /// regular file owned by this process's user with a single link. A
    /// character device (only root can make one: /dev/null, /dev/full) or
    /// a FIFO of ours is written as it is. A symbolic link, another user's
    /// file or FIFO, or a hard link to some other file is refused
    /// (`PermissionDenied` with the reason).
    pub fn create_or_truncate_own(&self, name: &str, mode: u32) -> io::Result<File> {
        match self.create_new(name, mode) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            other => return other,
        }
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map_err(io_error)?;
        let stat = fstat(fd.as_fd()).map_err(io_error)?;
        let euid = geteuid().as_raw();
        let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
        if is_kind(&stat, SFlag::S_IFCHR) {
            return Ok(File::from(fd));
        }
        let regular = is_kind(&stat, SFlag::S_IFREG);
        if !regular && !is_kind(&stat, SFlag::S_IFIFO) {
            return refuse("it exists and is not a regular file".into());
        }
        if stat.st_uid != euid {
            return refuse(format!(
                "it exists and belongs to uid {}, not to this JVM's user (uid {euid})",
                stat.st_uid
            ));
        }
        if !regular {
            return Ok(File::from(fd));
        }
        if stat.st_nlink != 1 {
            return refuse("it exists and has other hard links".into());
        }
        nix::unistd::ftruncate(fd.as_fd(), 0).map_err(io_error)?;
        Ok(File::from(fd))
    }

    /// The identity of the entry `name` (not following a link).
    pub fn identity_of(&self, name: &str) -> Option<FileIdentity> {
        fstatat(
            self.fd.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok()
        .map(|s| identity(&s))
    }

    /// The owner of the entry `name` (not following a link).
    pub fn owner_of(&self, name: &str) -> Option<u32> {
        fstatat(
            self.fd.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok()
        .map(|s| s.st_uid)
    }

    /// Removes `name` only while it is still the file we created.
    pub fn remove_if_same(&self, name: &str, expected: FileIdentity) {
        if self.identity_of(name) == Some(expected) {
            let _ = unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir);
        }
    }

    /// Removes `name` if it belongs to this process's user (a leftover of
    /// an earlier JVM with the same pid); anything else is left alone.
    pub fn remove_if_own(&self, name: &str) {
        if self.owner_of(name) == Some(geteuid().as_raw()) {
            let _ = unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir);
        }
    }

    /// Renames `from` to `to` inside this directory, never replacing an
    /// existing `to`.
    pub fn rename_no_replace(&self, from: &str, to: &str) -> io::Result<()> {
        renameat2(
            self.fd.as_fd(),
            from,
            self.fd.as_fd(),
            to,
            RenameFlags::RENAME_NOREPLACE,
        )
        .map_err(io_error)
    }

    /// Removes the file `name` (not a directory).
    pub fn remove_entry(&self, name: &str) {
        let _ = unlinkat(self.fd.as_fd(), name, UnlinkatFlags::NoRemoveDir);
    }

    /// Creates a new directory `name` with mode 0700 and opens it.
    pub fn create_private_dir(&self, name: &str) -> io::Result<Dir> {
        mkdirat(self.fd.as_fd(), name, Mode::from_bits_truncate(0o700)).map_err(io_error)?;
        let fd = openat(
            self.fd.as_fd(),
            name,
            OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_error)?;
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }

    /// Removes the empty directory `name`.
    pub fn remove_dir(&self, name: &str) {
        let _ = unlinkat(self.fd.as_fd(), name, UnlinkatFlags::RemoveDir);
    }
}

/// Moves `from` in `src` to `to` in `dst`, never replacing an existing `to`.
pub fn rename_between(src: &Dir, from: &str, dst: &Dir, to: &str) -> io::Result<()> {
    renameat2(
        src.fd.as_fd(),
        from,
        dst.fd.as_fd(),
        to,
        RenameFlags::RENAME_NOREPLACE,
    )
    .map_err(io_error)
}

/// The identity of an open file (to recognise it later by name).
pub fn identity_of_file(file: &File) -> Option<FileIdentity> {
    fstat(file.as_fd()).ok().map(|s| identity(&s))
}

/// "it is a symbolic link, which metascope refuses to follow" for ELOOP,
/// the system's words otherwise.
pub fn describe_open_error(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) if code == libc::ELOOP => {
            "it is a symbolic link, which metascope refuses to follow".into()
        }
        Some(code) if code == libc::ENOTDIR => "it is not a directory".into(),
        _ => e.to_string(),
    }
}

/// Splits a user-given file path into its directory and file name.
pub fn split(path: &Path) -> Option<(PathBuf, String)> {
    let name = path.file_name()?.to_str()?.to_string();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some((parent, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn create_new_never_follows_or_reuses() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("link")).unwrap();
        assert_eq!(
            dir.create_new("link", 0o600).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        let mut f = dir.create_new("fresh", 0o600).unwrap();
        f.write_all(b"x").unwrap();
        let mode = std::fs::metadata(tmp.path().join("fresh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn truncating_takes_only_our_own_single_link_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("ours"), "old").unwrap();
        let mut f = dir.create_or_truncate_own("ours", 0o600).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        let mut text = String::new();
        File::open(tmp.path().join("ours"))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "new");

        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("link")).unwrap();
        let e = dir.create_or_truncate_own("link", 0o600).unwrap_err();
        assert_eq!(
            describe_open_error(&e),
            "it is a symbolic link, which metascope refuses to follow"
        );
        std::fs::hard_link(&victim, tmp.path().join("hard")).unwrap();
        let e = dir.create_or_truncate_own("hard", 0o600).unwrap_err();
        assert!(e.to_string().contains("other hard links"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }

    #[test]
    fn a_shared_directory_must_be_sticky() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = Dir::open_checked(tmp.path()).unwrap_err();
        assert!(err.contains("not sticky"), "{err}");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        Dir::open_checked(tmp.path()).unwrap();
        assert!(Dir::open_checked(Path::new("/tmp")).is_ok());
    }

    #[test]
    fn removal_spares_a_replaced_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        let f = dir.create_new("status", 0o600).unwrap();
        let id = identity_of_file(&f).unwrap();
        std::fs::remove_file(tmp.path().join("status")).unwrap();
        std::fs::write(tmp.path().join("status"), "someone else's").unwrap();
        dir.remove_if_same("status", id);
        assert!(tmp.path().join("status").exists());
        let f = dir.create_new("mine", 0o600).unwrap();
        dir.remove_if_same("mine", identity_of_file(&f).unwrap());
        assert!(!tmp.path().join("mine").exists());
    }

    #[test]
    fn rename_never_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Dir::open(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("a"), "a").unwrap();
        std::fs::write(tmp.path().join("b"), "b").unwrap();
        assert!(dir.rename_no_replace("a", "b").is_err());
        assert_eq!(std::fs::read_to_string(tmp.path().join("b")).unwrap(), "b");
        dir.rename_no_replace("a", "c").unwrap();
    }
}
