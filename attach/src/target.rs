//! A JVM to attach to, and every file of it we touch.
//!
//! [`Target::open`] reads `/proc/PID/status`, becomes the JVM's user when
//! root (see `identity`), then opens the target's root (`/proc/PID/root`)
//! and its `/tmp` once, as directory handles. Every later file is opened
//! relative to them (`openat`/`openat2`, never following a final symlink)
//! and checked on the open descriptor: type, owner (the JVM's euid), mode.
//! Whatever fails a check is refused by name, with the reason, before the
//! JVM is signalled or asked to load anything.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::sys::stat::{fstat, fstatat, major, minor, FileStat, Mode};
use nix::unistd::{unlinkat, Pid, UnlinkatFlags};

use crate::error::AttachError;
use crate::escape::escape_control;
use crate::identity;
use crate::in_root::{self, check, check_shared_dir, Expect, Kind};
use crate::process::{parse_maps, parse_status, ProcStatus};
use crate::protocol::{load_request, parse_load_reply, LoadReply, MAX_ARG_LEN, MAX_REPLY_LEN};

/// HotSpot's temporary directory on Linux (`os::get_temp_directory()`),
/// as the JVM sees it: its attach socket and trigger live there.
pub const TMP: &str = "/tmp";

/// A running process we may attach to, its root and its /tmp opened.
#[derive(Debug)]
pub struct Target {
    pid: u32,
    process: ProcStatus,
    /// `/proc/PID/root`: every path of the target is resolved inside it.
    root: OwnedFd,
    /// `<root>/tmp`, checked to be a directory only root or the JVM's user
    /// owns, sticky if others may write in it.
    tmp: OwnedFd,
    in_container: bool,
}

/// A trigger file for HotSpot's attach listener.
enum Trigger {
    /// Created here: removed again (if it is still the same file).
    Ours {
        dir: OwnedFd,
        name: String,
        dev: u64,
        ino: u64,
    },
    /// Already there and owned as HotSpot requires: left alone.
    Present,
}

impl Trigger {
    fn remove(self) {
        if let Trigger::Ours {
            dir,
            name,
            dev,
            ino,
        } = self
        {
            let same = fstatat(&dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .is_ok_and(|st| st.st_dev == dev && st.st_ino == ino);
            if same {
                let _ = unlinkat(&dir, name.as_str(), UnlinkatFlags::NoRemoveDir);
            }
        }
    }
}

impl Target {
    /// Opens the process `pid` for attaching. Root attaching to another
    /// user's JVM becomes that user here, for the rest of this process's
    /// life; anyone else must be the JVM's user and group already.
    pub fn open(pid: u32) -> Result<Target, AttachError> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|_| AttachError::NoSuchProcess { pid })?;
        let process = parse_status(&text, pid).ok_or_else(|| AttachError::NotAJvm {
            pid,
            why: "cannot read its /proc status".into(),
        })?;
        identity::become_target_user(pid, &process)?;
        let io = |step: String| {
            move |e: Errno| match e {
                Errno::ENOENT | Errno::ESRCH => AttachError::NoSuchProcess { pid },
                e => AttachError::Io {
                    pid,
                    step,
                    error: e.into(),
                },
            }
        };
        let proc_root = format!("/proc/{pid}/root");
        let root = nix::fcntl::open(
            proc_root.as_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io(format!(
            "opening {proc_root} as uid {} (a JVM that is not dumpable, e.g. a java binary with file \
             capabilities, cannot be reached safely by another user)",
            nix::unistd::geteuid()
        )))?;
        let ours = nix::sys::stat::stat("/").map_err(io("reading /".into()))?;
        let theirs = fstat(&root).map_err(io(format!("reading {proc_root}")))?;
        let in_container = (ours.st_dev, ours.st_ino) != (theirs.st_dev, theirs.st_ino);
        let shown = shown_path(pid, in_container, Path::new(TMP));
        let tmp = in_root::open(
            root.as_fd(),
            Path::new(TMP),
            OFlag::O_PATH | OFlag::O_DIRECTORY,
        )
        .map_err(io(format!("opening {shown}")))?;
        let stat = fstat(&tmp).map_err(io(format!("reading {shown}")))?;
        check_shared_dir(&stat, process.euid)
            .map_err(|why| AttachError::Refused { path: shown, why })?;
        Ok(Target {
            pid,
            process,
            root,
            tmp,
            in_container,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pid in the JVM's own namespace.
    pub fn ns_pid(&self) -> u32 {
        self.process.ns_pid
    }

    /// The JVM's effective uid: the owner of every file it makes.
    pub fn euid(&self) -> u32 {
        self.process.euid
    }

    /// The JVM runs in another root (a container): paths of ours mean
    /// nothing to it.
    pub fn in_container(&self) -> bool {
        self.in_container
    }

    /// `inside` (a path as the JVM sees it) as the operator can reach it,
    /// escaped for a terminal.
    pub fn shown(&self, inside: &Path) -> String {
        shown_path(self.pid, self.in_container, inside)
    }

    fn shown_in_tmp(&self, name: &str) -> String {
        self.shown(&Path::new(TMP).join(name))
    }

    fn io(&self, step: String) -> impl FnOnce(Errno) -> AttachError {
        let pid = self.pid;
        move |e| AttachError::Io {
            pid,
            step,
            error: e.into(),
        }
    }

    /// Opens `inside` (absolute, as the JVM sees it) for reading if it
    /// passes `expect`; `None` if there is no such file.
    pub fn open_file(&self, inside: &Path, expect: &Expect) -> Result<Option<File>, AttachError> {
        let shown = self.shown(inside);
        if !inside.is_absolute() {
            return Err(AttachError::Refused {
                path: shown,
                why: "not an absolute path".into(),
            });
        }
        let found = in_root::open(self.root.as_fd(), inside, OFlag::O_PATH | OFlag::O_NOFOLLOW);
        self.checked(found, expect, &shown)?
            .map(|fd| self.reopen_for_reading(&fd, &shown))
            .transpose()
    }

    /// Opens `name` in the JVM's /tmp for reading if it passes `expect`;
    /// `None` if there is no such file.
    pub fn open_in_tmp(&self, name: &str, expect: &Expect) -> Result<Option<File>, AttachError> {
        let shown = self.shown_in_tmp(name);
        self.checked(self.open_path_in_tmp(name), expect, &shown)?
            .map(|fd| self.reopen_for_reading(&fd, &shown))
            .transpose()
    }

    fn open_path_in_tmp(&self, name: &str) -> nix::Result<OwnedFd> {
        if name.contains('/') {
            return Err(Errno::EINVAL);
        }
        openat(
            &self.tmp,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    }

    /// The `O_PATH` descriptor of `found` if it meets `expect`.
    fn checked(
        &self,
        found: nix::Result<OwnedFd>,
        expect: &Expect,
        shown: &str,
    ) -> Result<Option<OwnedFd>, AttachError> {
        let fd = match found {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => {
                return Err(AttachError::Refused {
                    path: shown.to_string(),
                    why: "its path leads through a symbolic link that cannot be resolved inside the JVM's root \
                          (another user may have planted it); remove it"
                        .into(),
                })
            }
            Err(e) => return Err(self.io(format!("opening {shown}"))(e)),
        };
        let stat = fstat(&fd).map_err(self.io(format!("reading {shown}")))?;
        check(&stat, expect).map_err(|why| AttachError::Refused {
            path: shown.to_string(),
            why,
        })?;
        Ok(Some(fd))
    }

    /// The checked file itself (the magic link of our own descriptor
    /// names exactly that inode, whatever happened to its name since).
    fn reopen_for_reading(&self, fd: &OwnedFd, shown: &str) -> Result<File, AttachError> {
        nix::fcntl::open(
            format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str(),
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(File::from)
        .map_err(self.io(format!("opening {shown}")))
    }

    /// Connects to the Unix socket `inside` (as the JVM sees it): it must
    /// be the JVM user's, mode 0600 like every socket the JVM and the agent
    /// make, and the process listening on it must be the JVM itself.
    pub fn connect(&self, inside: &Path) -> Result<UnixStream, AttachError> {
        let shown = self.shown(inside);
        let found = in_root::open(self.root.as_fd(), inside, OFlag::O_PATH | OFlag::O_NOFOLLOW);
        match self.checked(found, &self.private_socket(), &shown)? {
            Some(fd) => self.connect_checked(&fd, &shown),
            None => Err(AttachError::Io {
                pid: self.pid,
                step: format!("connecting to {shown}"),
                error: Errno::ENOENT.into(),
            }),
        }
    }

    fn private_socket(&self) -> Expect {
        Expect {
            private: true,
            ..Expect::owned_by(Kind::Socket, self.process.euid)
        }
    }

    /// Connects through our descriptor of the checked socket file, then
    /// asks the kernel who listens (SO_PEERCRED).
    fn connect_checked(&self, socket: &OwnedFd, shown: &str) -> Result<UnixStream, AttachError> {
        let stream = UnixStream::connect(format!("/proc/self/fd/{}", socket.as_raw_fd())).map_err(
            |error| AttachError::Io {
                pid: self.pid,
                step: format!("connecting to {shown}"),
                error,
            },
        )?;
        let peer = getsockopt(&stream, PeerCredentials)
            .map_err(self.io(format!("asking who listens on {shown}")))?;
        if u32::try_from(peer.pid()) != Ok(self.pid) || peer.uid() != self.process.euid {
            return Err(AttachError::Refused {
                path: shown.to_string(),
                why: format!(
                    "the process listening on it is pid {} (uid {}), not the JVM {} (uid {}): another process holds \
                     the JVM's socket; remove it",
                    peer.pid(),
                    peer.uid(),
                    self.pid,
                    self.process.euid
                ),
            });
        }
        Ok(stream)
    }

    /// Is `inside` (as the JVM sees it) a file the JVM has mapped now? A
    /// library it has loaded can be named in a `load` again without running
    /// any code that is not already in the JVM.
    pub fn is_mapped(&self, inside: &Path) -> bool {
        let Ok(maps) = std::fs::read_to_string(format!("/proc/{}/maps", self.pid)) else {
            return false;
        };
        let file = in_root::open(self.root.as_fd(), inside, OFlag::O_PATH)
            .ok()
            .and_then(|fd| fstat(&fd).ok());
        let path = inside.to_str();
        parse_maps(&maps).iter().any(|m| {
            // The same inode (a bind mount or chroot, where the kernel
            // prints our path), or the same path inside the root (overlay
            // filesystems map the lower inode, not the one stat shows).
            let same_inode = file.is_some_and(|st: FileStat| {
                m.inode == st.st_ino
                    && m.dev_major == major(st.st_dev)
                    && m.dev_minor == minor(st.st_dev)
            });
            same_inode || Some(m.path.as_str()) == path
        })
    }

    /// Puts `bytes` (the agent library) into the JVM's /tmp and returns the
    /// path the JVM loads it by. The copy is made by the JVM's user, never
    /// follows or overwrites anything (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode
    /// 0444) and is named after its content: an identical copy already
    /// there (perhaps mapped by the JVM) is reused, never rewritten; a name
    /// taken by anything else is left alone for a fresh unique one.
    pub fn place_agent(&self, bytes: &[u8]) -> Result<PathBuf, AttachError> {
        let name = agent_copy_name(bytes);
        if let Some(mapped) = self.mapped_copy(&name, bytes) {
            return Ok(mapped);
        }
        if self.create_copy(&name, bytes)? || self.is_identical_copy(&name, bytes) {
            return Ok(Path::new(TMP).join(name));
        }
        if let Some(earlier) = self.identical_copy(&name, bytes) {
            return Ok(earlier);
        }
        for _ in 0..8 {
            let unique = format!(
                "{}-{}.so",
                name.trim_end_matches(".so"),
                random_hex().map_err(|error| AttachError::Io {
                    pid: self.pid,
                    step: "reading /dev/urandom".into(),
                    error,
                })?
            );
            if self.create_copy(&unique, bytes)? {
                return Ok(Path::new(TMP).join(unique));
            }
        }
        Err(AttachError::Io {
            pid: self.pid,
            step: format!(
                "creating a copy of the agent in {}",
                self.shown(Path::new(TMP))
            ),
            error: Errno::EEXIST.into(),
        })
    }

    /// A copy of these bytes the JVM has loaded already (perhaps under a
    /// unique name, when another user had taken the usual one): loading
    /// any other copy would make a second instance of the library, which
    /// refuses to act.
    fn mapped_copy(&self, name: &str, bytes: &[u8]) -> Option<PathBuf> {
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", self.pid)).ok()?;
        let stem = name.trim_end_matches(".so");
        parse_maps(&maps).iter().find_map(|m| {
            let file = Path::new(&m.path).file_name()?.to_str()?;
            let inside = Path::new(TMP).join(file);
            (file.starts_with(stem)
                && file.ends_with(".so")
                && self.is_identical_copy(file, bytes)
                && self.is_mapped(&inside))
            .then_some(inside)
        })
    }

    /// A copy of these bytes made earlier under a unique name.
    fn identical_copy(&self, name: &str, bytes: &[u8]) -> Option<PathBuf> {
        let stem = name.trim_end_matches(".so");
        let dir = std::fs::read_dir(format!("/proc/self/fd/{}", self.tmp.as_raw_fd())).ok()?;
        dir.filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|file| file.starts_with(stem) && file.ends_with(".so"))
            .find(|file| self.is_identical_copy(file, bytes))
            .map(|file| Path::new(TMP).join(file))
    }

    /// `Ok(false)` when the name is taken.
    fn create_copy(&self, name: &str, bytes: &[u8]) -> Result<bool, AttachError> {
        let shown = self.shown_in_tmp(name);
        let fd = match openat(
            &self.tmp,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o444),
        ) {
            Ok(fd) => fd,
            Err(Errno::EEXIST) => return Ok(false),
            Err(e) => return Err(self.io(format!("creating {shown}"))(e)),
        };
        let stat = fstat(&fd).map_err(self.io(format!("reading {shown}")))?;
        let mut file = File::from(fd);
        if let Err(error) = file.write_all(bytes).and_then(|()| file.sync_all()) {
            let ours = Trigger::Ours {
                dir: self.tmp.try_clone().map_err(|error| AttachError::Io {
                    pid: self.pid,
                    step: "duplicating a descriptor".into(),
                    error,
                })?,
                name: name.to_string(),
                dev: stat.st_dev,
                ino: stat.st_ino,
            };
            ours.remove();
            return Err(AttachError::Io {
                pid: self.pid,
                step: format!("writing {shown}"),
                error,
            });
        }
        Ok(true)
    }

    /// A copy someone made before: reused only if it is a regular file of
    /// the JVM's user (or root) that nobody else may write, with exactly
    /// these bytes.
    fn is_identical_copy(&self, name: &str, bytes: &[u8]) -> bool {
        let expect = Expect {
            or_root: true,
            owner_writes_only: true,
            max_len: Some(bytes.len() as u64),
            ..Expect::owned_by(Kind::File, self.process.euid)
        };
        let Ok(Some(mut file)) = self.open_in_tmp(name, &expect) else {
            return false;
        };
        let mut existing = Vec::with_capacity(bytes.len());
        file.read_to_end(&mut existing).is_ok() && existing == bytes
    }

    /// Loads `agent` (a path as the JVM sees it) with `options` over the
    /// attach protocol, starting the JVM's attach listener if needed.
    pub fn load(
        &self,
        agent: &Path,
        options: &str,
        timeout: Duration,
    ) -> Result<LoadReply, AttachError> {
        self.load_prepared(|| Ok(agent.to_path_buf()), options, timeout)
    }

    /// Like [`Target::load`], with the library path made by `agent` only
    /// once the JVM's attach socket is there and has passed its checks:
    /// a refusal leaves nothing behind (e.g. a copy of the library).
    pub fn load_prepared(
        &self,
        agent: impl FnOnce() -> Result<PathBuf, AttachError>,
        options: &str,
        timeout: Duration,
    ) -> Result<LoadReply, AttachError> {
        let pid = self.pid;
        let too_long = || AttachError::CommandFailed {
            pid,
            status: -1,
            message: "the agent path and options must be at most 1,024 bytes each".into(),
        };
        if options.len() > MAX_ARG_LEN {
            return Err(too_long());
        }
        if !self.is_hotspot() {
            return Err(AttachError::NotAJvm {
                pid,
                why: "no libjvm.so is mapped in it".into(),
            });
        }
        let name = format!(".java_pid{}", self.process.ns_pid);
        let shown = self.shown_in_tmp(&name);
        let socket = match self.attach_socket(&name)? {
            Some(socket) => socket,
            None => self.start_listener(&name, timeout)?,
        };
        let mut stream = self.connect_checked(&socket, &shown)?;
        let agent = agent()?;
        if agent.as_os_str().len() > MAX_ARG_LEN {
            return Err(too_long());
        }
        let io = |step: &str| {
            let step = format!("{step} ({shown})");
            move |error| AttachError::Io { pid, step, error }
        };
        stream
            .set_read_timeout(Some(timeout.max(Duration::from_secs(10))))
            .map_err(io("setting a timeout"))?;
        stream
            .write_all(&load_request(&agent, options))
            .map_err(io("sending the load command"))?;
        let mut reply = Vec::new();
        stream
            .take(MAX_REPLY_LEN)
            .read_to_end(&mut reply)
            .map_err(io("reading the reply"))?;
        parse_load_reply(pid, &String::from_utf8_lossy(&reply))
    }

    fn is_hotspot(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/maps", self.pid)) {
            Ok(maps) => parse_maps(&maps)
                .iter()
                .any(|m| m.path.ends_with("/libjvm.so")),
            // Unreadable maps: let the protocol decide.
            Err(_) => true,
        }
    }

    /// The JVM's attach socket if it is there (and passes the checks).
    fn attach_socket(&self, name: &str) -> Result<Option<OwnedFd>, AttachError> {
        let shown = self.shown_in_tmp(name);
        self.checked(self.open_path_in_tmp(name), &self.private_socket(), &shown)
    }

    /// Creates the trigger file, sends SIGQUIT, waits for the socket.
    fn start_listener(&self, socket: &str, timeout: Duration) -> Result<OwnedFd, AttachError> {
        let pid = self.pid;
        if !self.process.handles_sigquit {
            return Err(AttachError::NoSigquitHandler { pid });
        }
        let trigger = self.create_trigger()?;
        if let Err(e) = kill(Pid::from_raw(pid as i32), Signal::SIGQUIT) {
            trigger.remove();
            return Err(self.io("sending SIGQUIT".into())(e));
        }
        let start = Instant::now();
        let mut pause = Duration::from_millis(20);
        let found = loop {
            std::thread::sleep(pause);
            match self.attach_socket(socket) {
                Ok(None) if start.elapsed() < timeout => {}
                Ok(None) => {
                    break Err(AttachError::ListenerTimeout {
                        pid,
                        waited: start.elapsed(),
                        socket: self.shown_in_tmp(socket),
                    })
                }
                Ok(Some(fd)) => break Ok(fd),
                Err(e) => break Err(e),
            }
            pause = (pause + Duration::from_millis(20)).min(Duration::from_millis(500));
        };
        trigger.remove();
        found
    }

    /// `.attach_pid<nspid>` where HotSpot looks for it: its working
    /// directory first, then /tmp, the latter only if the former does not
    /// exist at all. HotSpot honours a trigger owned by its euid or root;
    /// one that is there and is not (or is a symlink) makes HotSpot ignore
    /// the request, so it is refused here, before any signal.
    fn create_trigger(&self) -> Result<Trigger, AttachError> {
        let name = format!(".attach_pid{}", self.process.ns_pid);
        let cwd = nix::fcntl::open(
            format!("/proc/{}/cwd", self.pid).as_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        );
        if let Ok(cwd) = cwd {
            let shown = self.shown_cwd(&name);
            if let Ok(trigger) = self.make_trigger(cwd, &name, &shown)? {
                return Ok(trigger);
            }
        }
        let shown = self.shown_in_tmp(&name);
        let tmp = self.tmp.try_clone().map_err(|error| AttachError::Io {
            pid: self.pid,
            step: "duplicating a descriptor".into(),
            error,
        })?;
        let created = self.make_trigger(tmp, &name, &shown)?;
        created.map_err(self.io(format!("creating the attach trigger {shown}")))
    }

    /// The inner error when `dir` takes no new file (e.g. not writable)
    /// and has none.
    fn make_trigger(
        &self,
        dir: OwnedFd,
        name: &str,
        shown: &str,
    ) -> Result<Result<Trigger, Errno>, AttachError> {
        match openat(
            &dir,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(file) => {
                let stat = fstat(&file).map_err(self.io(format!("reading {shown}")))?;
                Ok(Ok(Trigger::Ours {
                    dir,
                    name: name.to_string(),
                    dev: stat.st_dev,
                    ino: stat.st_ino,
                }))
            }
            Err(Errno::EEXIST) => {
                let stat = fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(self.io(format!("reading {shown}")))?;
                let honoured = Expect {
                    or_root: true,
                    ..Expect::owned_by(Kind::File, self.process.euid)
                };
                check(&stat, &honoured).map_err(|why| AttachError::Refused {
                    path: shown.to_string(),
                    why: format!("{why}; the JVM would ignore an attach request while it is there"),
                })?;
                Ok(Ok(Trigger::Present))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    fn shown_cwd(&self, name: &str) -> String {
        let link = format!("/proc/{}/cwd", self.pid);
        match std::fs::read_link(&link) {
            Ok(cwd) if !self.in_container => escape_control(&cwd.join(name).display().to_string()),
            _ => escape_control(&format!("{link}/{name}")),
        }
    }
}

/// `inside` as the operator can reach it: through `/proc/PID/root` for a
/// JVM in another root. Escaped for a terminal.
fn shown_path(pid: u32, in_container: bool, inside: &Path) -> String {
    if in_container {
        escape_control(&format!("/proc/{pid}/root{}", inside.display()))
    } else {
        escape_control(&inside.display().to_string())
    }
}

/// The name of the agent's copy in a container's /tmp, derived from its
/// bytes (FNV-1a, 64 bits): a name, not a proof; the bytes are compared
/// before a copy is reused.
pub fn agent_copy_name(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!(".metascope-agent-{hash:016x}.so")
}

fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 8];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
