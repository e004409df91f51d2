//! Opening files of the target: every path is resolved inside the target's
//! root (`/proc/PID/root`, opened once) with `openat2(RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)`, so an absolute symlink inside a container
//! never leads to the host, and every file is checked (type, owner, mode)
//! on the descriptor we then use, never by name first.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

/// Opens `path` (absolute, as the target sees it) inside `root`. A final
/// symlink is never followed when `flags` has `O_NOFOLLOW`.
pub fn open(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    match openat2(root, path, how) {
        Err(Errno::ENOSYS) => open_without_symlinks(root, path, flags),
        other => other,
    }
}

/// For kernels before 5.6 (no openat2): walk the path one component at a
/// time, refusing every symlink and `..` (ELOOP), so nothing can lead out
/// of `root`.
fn open_without_symlinks(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let names: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(Ok(name)),
            Component::RootDir | Component::CurDir => None,
            Component::ParentDir | Component::Prefix(_) => Some(Err(Errno::ELOOP)),
        })
        .collect::<Result<_, _>>()?;
    let Some((last, dirs)) = names.split_last() else {
        return openat(root, ".", flags | OFlag::O_CLOEXEC, Mode::empty());
    };
    let walk = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let mut dir: Option<OwnedFd> = None;
    for name in dirs {
        let at = dir.as_ref().map_or(root, |d| d.as_fd());
        dir = Some(openat(at, *name, walk, Mode::empty()).map_err(|e| match e {
            Errno::ENOTDIR => Errno::ELOOP, // a symlink where a directory was expected
            e => e,
        })?);
    }
    let at = dir.as_ref().map_or(root, |d| d.as_fd());
    openat(
        at,
        *last,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// What a file of the target must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Socket,
    Directory,
}

/// The checks a file of the target must pass before we use it.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub kind: Kind,
    /// The JVM's effective uid: files it made are its own.
    pub owner: u32,
    /// Root may own it too (system directories, root-installed copies).
    pub or_root: bool,
    /// No permission bit for group or others (`mode & 0o077 == 0`), as
    /// HotSpot's attach socket (0600) and the agent's status file.
    pub private: bool,
    /// Nobody but the owner may write it (`mode & 0o022 == 0`).
    pub owner_writes_only: bool,
    /// At most this many bytes.
    pub max_len: Option<u64>,
}

impl Expect {
    pub fn owned_by(kind: Kind, owner: u32) -> Expect {
        Expect {
            kind,
            owner,
            or_root: false,
            private: false,
            owner_writes_only: false,
            max_len: None,
        }
    }
}

/// The file type in words.
pub fn kind_name(stat: &FileStat) -> &'static str {
    match SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFIFO => "a named pipe",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "a device",
        _ => "an unknown kind of file",
    }
}

/// Why `stat` does not meet `expect` (what to do included), or `Ok`.
pub fn check(stat: &FileStat, expect: &Expect) -> Result<(), String> {
    let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    let (wanted, name) = match expect.kind {
        Kind::File => (SFlag::S_IFREG, "a regular file"),
        Kind::Socket => (SFlag::S_IFSOCK, "a socket"),
        Kind::Directory => (SFlag::S_IFDIR, "a directory"),
    };
    let planted = "another user may have planted it; remove it";
    if kind != wanted {
        return Err(format!("it is {}, not {name} ({planted})", kind_name(stat)));
    }
    let uid = stat.st_uid;
    if uid != expect.owner && !(expect.or_root && uid == 0) {
        let allowed = if expect.or_root {
            format!("the JVM's user {} or root", expect.owner)
        } else {
            format!("the JVM's user {}", expect.owner)
        };
        return Err(format!("owned by uid {uid}, not {allowed} ({planted})"));
    }
    let mode = stat.st_mode & 0o7777;
    if expect.private && mode & 0o077 != 0 {
        return Err(format!(
            "its mode {mode:04o} opens it to other users, where the JVM makes it 0600 (another user may have \
             changed it); remove it"
        ));
    }
    if expect.owner_writes_only && mode & 0o022 != 0 {
        return Err(format!(
            "its mode {mode:04o} lets other users write it ({planted})"
        ));
    }
    if let Some(max) = expect.max_len {
        if stat.st_size as u64 > max {
            return Err(format!(
                "it is {} bytes, more than the {max} such a file ever holds; remove it",
                stat.st_size
            ));
        }
    }
    Ok(())
}

/// A directory other users may write into only if it is sticky (as /tmp),
/// owned by root or the JVM's user.
pub fn check_shared_dir(stat: &FileStat, owner: u32) -> Result<(), String> {
    check(
        stat,
        &Expect {
            or_root: true,
            ..Expect::owned_by(Kind::Directory, owner)
        },
    )?;
    let mode = stat.st_mode & 0o7777;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(format!(
            "its mode {mode:04o} lets other users replace the files in it (a shared directory needs the sticky bit, \
             as /tmp has: chmod +t)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::fstat;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn root_of(dir: &Path) -> OwnedFd {
        nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap()
    }

    fn read(fd: OwnedFd) -> String {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text).unwrap();
        text
    }

    #[test]
    fn absolute_symlinks_stay_inside_the_root() {
        let host = tempfile::tempdir().unwrap();
        let root = host.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/secret"), "inside").unwrap();
        std::fs::write(host.path().join("secret"), "host").unwrap();
        // An absolute link in the container, to a path that exists on the host.
        let outside = host.path().join("secret");
        symlink(&outside, root.join("link")).unwrap();
        symlink("/etc", root.join("tmp")).unwrap();
        symlink("../../../..", root.join("up")).unwrap();
        let r = root_of(&root);
        // The link's target is resolved inside the root, where it does not exist.
        assert_eq!(
            open(r.as_fd(), Path::new("/link"), OFlag::O_RDONLY).unwrap_err(),
            Errno::ENOENT
        );
        let f = open(r.as_fd(), Path::new("/tmp/secret"), OFlag::O_RDONLY).unwrap();
        assert_eq!(read(f), "inside");
        let f = open(r.as_fd(), Path::new("/up/etc/secret"), OFlag::O_RDONLY).unwrap();
        assert_eq!(read(f), "inside");
        // A final symlink is not followed with O_NOFOLLOW.
        symlink("/etc/secret", root.join("final")).unwrap();
        assert_eq!(
            open(
                r.as_fd(),
                Path::new("/final"),
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW
            )
            .unwrap_err(),
            Errno::ELOOP
        );
    }

    #[test]
    fn without_openat2_every_symlink_is_refused() {
        let host = tempfile::tempdir().unwrap();
        let root = host.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/f"), "x").unwrap();
        symlink("/etc", root.join("tmp")).unwrap();
        symlink("f", root.join("etc/g")).unwrap();
        let r = root_of(root);
        let open = |p: &str| open_without_symlinks(r.as_fd(), Path::new(p), OFlag::O_RDONLY);
        assert!(open("/etc/f").is_ok());
        assert_eq!(open("/tmp/f").unwrap_err(), Errno::ELOOP);
        assert_eq!(open("/etc/g").unwrap_err(), Errno::ELOOP);
        assert_eq!(open("/etc/../etc/f").unwrap_err(), Errno::ELOOP);
    }

    #[test]
    fn checks_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "0123456789").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let stat = fstat(std::fs::File::open(&file).unwrap()).unwrap();
        let me = stat.st_uid;
        let ok = Expect::owned_by(Kind::File, me);
        assert_eq!(check(&stat, &ok), Ok(()));
        let e = check(&stat, &Expect::owned_by(Kind::File, me + 1)).unwrap_err();
        assert!(
            e.contains(&format!("owned by uid {me}, not the JVM's user {}", me + 1)),
            "{e}"
        );
        assert!(e.contains("remove it"), "{e}");
        let e = check(
            &stat,
            &Expect {
                private: true,
                ..ok
            },
        )
        .unwrap_err();
        assert!(e.contains("mode 0644"), "{e}");
        let e = check(
            &stat,
            &Expect {
                max_len: Some(4),
                ..ok
            },
        )
        .unwrap_err();
        assert!(e.contains("10 bytes"), "{e}");
        let e = check(&stat, &Expect::owned_by(Kind::Socket, me)).unwrap_err();
        assert!(e.contains("it is a regular file, not a socket"), "{e}");

        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let open_dir = |p: &Path| fstat(root_of(p)).unwrap();
        let e = check_shared_dir(&open_dir(&shared), me).unwrap_err();
        assert!(e.contains("sticky"), "{e}");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(check_shared_dir(&open_dir(&shared), me), Ok(()));
    }
}
