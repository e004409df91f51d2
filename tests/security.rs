//! An unprivileged user against root running `metascope attach`, `attach
//! --stop` and `top` (issue 9). The attacker, `nobody`, plants files
//! where metascope and the JVM look (a forged status file naming its own
//! library, a symlinked attach trigger, an impostor attach socket,
//! symlinks in a container's /tmp); root runs metascope; each test checks
//! that nothing of the attacker's was loaded, written or truncated, that
//! root got one line naming the refused file and why, and that the JVM ran
//! on and ended with its own exit code.
//!
//! Needs root, setpriv and a C compiler (plus unshare, mount and chroot
//! for the container): without them each test prints SKIPPED, and fails
//! when CI is set.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use metascope_events::status::{process_start_ticks, RecordingStatus};

const NOBODY: u32 = 65534;
const DAEMON: u32 = 1;
/// The victim JVM's own exit code when its work ends (Torture serve).
const OWN_EXIT_CODE: i32 = 7;
const PRECIOUS: &str = "the victim's data\n";

/// The attacker's tools and a victim file, in a directory every user can
/// read (a clean clone may live in a private directory).
struct Lab {
    _dir: tempfile::TempDir,
    /// Mode 1777, like /tmp: the attacker writes here, JVMs work here.
    shared: PathBuf,
    java: PathBuf,
    cli: PathBuf,
    agent: PathBuf,
    jar: PathBuf,
    /// The attacker's library (owned by nobody); loading it writes `marker`.
    evil_lib: PathBuf,
    marker: PathBuf,
    /// tests/security/fake_attach_listener.c, built.
    listener: PathBuf,
    /// A file of root's that a followed symlink would clobber.
    precious: PathBuf,
}

/// Prints SKIPPED; in CI (`CI` set) a skipped adversarial test fails.
fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}; CI must run tests/security.rs as root with setpriv, cc, unshare, mount and chroot"
    );
}

fn lab() -> Option<Lab> {
    if !is_root() {
        skip("the adversarial tests need root (the operator) and `nobody` (the attacker)");
        return None;
    }
    for tool in ["setpriv", "cc"] {
        if Command::new(tool).arg("--version").output().is_err() {
            skip(&format!("the adversarial tests need {tool}"));
            return None;
        }
    }
    let Some(java) = java(17) else {
        skip("the adversarial tests need JDK 17");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let copy = |from: &Path, name: &str| {
        let to = dir.path().join(name);
        std::fs::copy(from, &to).unwrap();
        to
    };
    let cli = copy(metascope_bin(), "metascope");
    let agent = copy(&agent_lib(), "libmetascope_agent.so");
    let jar = copy(
        Path::new(metascope_harness::HARNESS_JAR_PATH),
        "harness.jar",
    );
    let sources = Path::new(WORKSPACE).join("tests/security");
    let marker = shared.join("attacker-code-ran");
    let evil_lib = shared.join("evil.so");
    compile(
        &[
            "-shared",
            "-fPIC",
            &format!("-DMARKER=\"{}\"", marker.display()),
        ],
        &sources.join("evil_agent.c"),
        &evil_lib,
    );
    std::os::unix::fs::chown(&evil_lib, Some(NOBODY), Some(NOBODY)).unwrap();
    let listener = dir.path().join("fake_attach_listener");
    compile(&[], &sources.join("fake_attach_listener.c"), &listener);
    let precious = dir.path().join("precious");
    std::fs::write(&precious, PRECIOUS).unwrap();
    Some(Lab {
        _dir: dir,
        shared,
        java,
        cli,
        agent,
        jar,
        evil_lib,
        marker,
        listener,
        precious,
    })
}

fn compile(flags: &[&str], source: &Path, out: &Path) {
    let cc = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg(source)
        .output()
        .unwrap();
    assert!(
        cc.status.success(),
        "cc {}: {}",
        source.display(),
        stderr(&cc)
    );
}

/// `program args...` as the attacker.
fn as_nobody(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(program);
    command
}

fn succeeds(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?}: {}", stderr(&out));
}

/// The attacker writes `content` to `path`.
fn plant_file(path: &Path, content: &str) {
    succeeds(
        as_nobody("sh")
            .args(["-c", "printf %s \"$1\" > \"$2\"", "sh", content])
            .arg(path),
    );
}

/// The attacker makes `link` point at `target`.
fn plant_symlink(target: &Path, link: &Path) {
    succeeds(as_nobody("ln").arg("-s").arg(target).arg(link));
}

/// Removes a file at the end of a test, however it ends.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A long-running JVM (`Torture serve 7`) that defines a class every
/// 20 ms until its stdin closes, then exits with code 7.
struct Jvm {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    output: Arc<Mutex<String>>,
}

impl Jvm {
    /// A JVM on this host in `cwd`, as root or as `user`.
    fn on_host(lab: &Lab, cwd: &Path, user: Option<u32>) -> Jvm {
        let mut command = match user {
            None => Command::new(&lab.java),
            Some(uid) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg(&lab.java);
                c
            }
        };
        command
            .arg("-cp")
            .arg(&lab.jar)
            .args([
                "com.acme.torture.Torture",
                "serve",
                &OWN_EXIT_CODE.to_string(),
            ])
            .current_dir(cwd);
        let jvm = Jvm::spawn(command);
        jvm.wait_ready();
        jvm
    }

    fn spawn(mut command: Command) -> Jvm {
        // The agent (for now) writes its status file under $TMPDIR.
        command.env_remove("TMPDIR");
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let mut all = output.lock().unwrap_or_else(|e| e.into_inner());
                    all.push_str(&line);
                    all.push('\n');
                }
            });
        }
        Jvm {
            pid: child.id(),
            stdin: child.stdin.take(),
            child,
            output,
        }
    }

    fn wait_ready(&self) {
        wait_until(
            Duration::from_secs(20),
            "the JVM to say it is ready",
            || self.said("torture: ready"),
        );
    }

    fn said(&self, text: &str) -> bool {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(text)
    }

    fn is_running(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).is_ok_and(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
    }

    /// Nothing reached the JVM: its attach listener never started (the
    /// thread appears on the first attach), it was not sent SIGQUIT
    /// (without a trigger HotSpot prints a thread dump), none of the
    /// attacker's code ran.
    fn assert_untouched(&self, lab: &Lab) {
        assert!(self.is_running(), "the JVM must keep running");
        let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", self.pid))
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .collect();
        assert!(
            !threads.iter().any(|t| t.trim() == "Attach Listener"),
            "the JVM's attach listener was started"
        );
        assert!(!self.said("Full thread dump"), "the JVM was sent SIGQUIT");
        assert!(!lab.marker.exists(), "the attacker's library was loaded");
    }

    /// Closes its stdin and expects its own exit code.
    fn ends_with_its_own_code(mut self) {
        assert!(
            self.is_running(),
            "the JVM died: {}",
            self.output.lock().unwrap_or_else(|e| e.into_inner())
        );
        drop(self.stdin.take());
        let mut code = None;
        wait_until(Duration::from_secs(20), "the JVM to exit", || {
            code = self.child.try_wait().unwrap();
            code.is_some()
        });
        assert_eq!(
            code.unwrap().code(),
            Some(OWN_EXIT_CODE),
            "{}",
            self.output.lock().unwrap_or_else(|e| e.into_inner())
        );
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Exactly one line on stderr, the error, with every fragment in it.
fn assert_one_clear_line(out: &Output, fragments: &[&str]) {
    assert!(
        !out.status.success(),
        "metascope must fail: {}",
        stdout(out)
    );
    let err = stderr(out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line, not:\n{err}");
    assert!(lines[0].starts_with("metascope: error: "), "{err}");
    for fragment in fragments {
        assert!(
            lines[0].contains(fragment),
            "{fragment:?} missing in:\n{err}"
        );
    }
    assert!(
        !err.contains('\x1b') && !out.stdout.contains(&0x1b),
        "raw escape in output"
    );
}

/// The impostor listener, run by `user`, on `socket` with `mode`.
struct Impostor {
    child: Child,
    log: PathBuf,
    _socket: Cleanup,
}

impl Impostor {
    fn start(lab: &Lab, socket: &Path, mode: &str, as_attacker: bool) -> Impostor {
        let log = lab.shared.join(format!("impostor-{mode}.log"));
        let mut command = if as_attacker {
            as_nobody(&lab.listener)
        } else {
            Command::new(&lab.listener)
        };
        let mut child = command
            .arg(socket)
            .arg(mode)
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "listening\n");
        Impostor {
            child,
            log,
            _socket: Cleanup(socket.to_path_buf()),
        }
    }

    fn connections(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Impostor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_ticks(pid: u32) -> u64 {
    process_start_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap()).unwrap()
}

/// Item 1: another user's status file naming its own library, with the
/// right start time. `attach`, `attach --stop` and `top` refuse it by
/// name; the JVM is not touched.
#[test]
fn a_status_file_planted_by_another_user_is_refused() {
    let Some(lab) = lab() else { return };
    let jvm = Jvm::on_host(&lab, &lab.shared, None);
    let pid = jvm.pid.to_string();
    let status_file = PathBuf::from(format!("/tmp/.metascope_pid{pid}"));
    let _cleanup = Cleanup(status_file.clone());
    let forged = RecordingStatus {
        out: lab.shared.join("stolen.jsonl"),
        socket: Some(lab.shared.join("evil.sock")),
        started: Some(start_ticks(jvm.pid)),
        agent: Some(lab.evil_lib.clone()),
    }
    .to_text();
    plant_file(&status_file, &forged);

    for args in [
        vec!["attach", &pid, "--stop"],
        vec!["attach", &pid, "--duration", "1s"],
        vec!["top", &pid, "--iterations", "1", "--plain"],
    ] {
        let out = metascope().args(&args).output().unwrap();
        assert_one_clear_line(
            &out,
            &[
                &format!("refusing {}", status_file.display()),
                &format!("owned by uid {NOBODY}, not the JVM's user 0"),
                "remove it",
            ],
        );
    }
    assert_eq!(std::fs::read_to_string(&status_file).unwrap(), forged);
    jvm.assert_untouched(&lab);
    jvm.ends_with_its_own_code();
}

/// Item 1, deeper: a status file with the right owner (as root in a
/// container, or the JVM's own user, could write) still cannot make
/// `--stop` load a library the JVM has not loaded, nor `top` connect to a
/// socket of another user.
#[test]
fn a_status_file_is_followed_only_to_what_the_jvm_owns_and_maps() {
    let Some(lab) = lab() else { return };
    let jvm = Jvm::on_host(&lab, &lab.shared, None);
    let pid = jvm.pid.to_string();
    let evil_socket = lab.shared.join("evil.sock");
    let impostor = Impostor::start(&lab, &evil_socket, "777", true);
    let status_file = PathBuf::from(format!("/tmp/.metascope_pid{pid}"));
    let _cleanup = Cleanup(status_file.clone());
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&status_file)
        .unwrap()
        .write_all(
            RecordingStatus {
                out: lab.shared.join("stolen.jsonl"),
                socket: Some(evil_socket.clone()),
                started: Some(start_ticks(jvm.pid)),
                agent: Some(lab.evil_lib.clone()),
            }
            .to_text()
            .as_bytes(),
        )
        .unwrap();

    let stop = metascope()
        .args(["attach", &pid, "--stop", "--agent"])
        .arg(&lab.agent)
        .output()
        .unwrap();
    assert_one_clear_line(
        &stop,
        &[
            &format!("cannot stop the recording of {pid}"),
            &format!("names the agent library {}", lab.evil_lib.display()),
            "which the JVM has not loaded",
            "nothing was loaded",
        ],
    );
    let top = metascope()
        .args(["top", &pid, "--iterations", "1", "--plain"])
        .output()
        .unwrap();
    assert_one_clear_line(
        &top,
        &[
            &format!("refusing {}", evil_socket.display()),
            &format!("owned by uid {NOBODY}, not the JVM's user 0"),
        ],
    );
    assert_eq!(impostor.connections(), "", "nothing may connect to it");
    jvm.assert_untouched(&lab);
    jvm.ends_with_its_own_code();
}

/// Item 2: a symlink `.attach_pid<PID>` in the JVM's working directory,
/// pointing at a file of root's. It is neither followed nor truncated,
/// and refused before the JVM is signalled (HotSpot would ignore the
/// request while it is there).
#[test]
fn a_symlinked_attach_trigger_is_neither_followed_nor_truncated() {
    let Some(lab) = lab() else { return };
    let jvm = Jvm::on_host(&lab, &lab.shared, None);
    let pid = jvm.pid.to_string();
    let trigger = lab.shared.join(format!(".attach_pid{pid}"));
    plant_symlink(&lab.precious, &trigger);

    let out = metascope()
        .args(["attach", &pid, "--duration", "1s", "-o"])
        .arg(lab.shared.join("rec.jsonl"))
        .output()
        .unwrap();
    assert_one_clear_line(
        &out,
        &[
            &format!("refusing {}", trigger.display()),
            "it is a symbolic link",
            "remove it",
        ],
    );
    assert_eq!(std::fs::read_to_string(&lab.precious).unwrap(), PRECIOUS);
    assert_eq!(
        std::fs::read_link(&trigger).unwrap(),
        lab.precious,
        "left alone"
    );
    jvm.assert_untouched(&lab);
    jvm.ends_with_its_own_code();
}

/// Item 5: an attach socket of another user where the JVM's will be,
/// answering like a JVM. Refused by its owner before anything is sent.
#[test]
fn an_attach_socket_of_another_user_gets_nothing() {
    let Some(lab) = lab() else { return };
    let jvm = Jvm::on_host(&lab, &lab.shared, None);
    let pid = jvm.pid.to_string();
    let socket = PathBuf::from(format!("/tmp/.java_pid{pid}"));
    let impostor = Impostor::start(&lab, &socket, "777", true);

    let out = metascope()
        .args(["attach", &pid, "--duration", "1s", "-o"])
        .arg(lab.shared.join("rec.jsonl"))
        .output()
        .unwrap();
    assert_one_clear_line(
        &out,
        &[
            &format!("refusing {}", socket.display()),
            &format!("owned by uid {NOBODY}, not the JVM's user 0"),
        ],
    );
    assert_eq!(impostor.connections(), "", "nothing may be sent to it");
    assert!(!lab.shared.join(format!(".attach_pid{pid}")).exists());
    jvm.assert_untouched(&lab);
    drop(impostor);
    jvm.ends_with_its_own_code();
}

/// Item 5, deeper: a socket with the JVM's owner and mode, but another
/// process listening on it. SO_PEERCRED names the impostor; nothing is
/// sent and its reply (with terminal escapes) is never read.
#[test]
fn an_attach_socket_held_by_another_process_is_refused_by_its_peer() {
    let Some(lab) = lab() else { return };
    let jvm = Jvm::on_host(&lab, &lab.shared, None);
    let pid = jvm.pid.to_string();
    let socket = PathBuf::from(format!("/tmp/.java_pid{pid}"));
    let impostor = Impostor::start(&lab, &socket, "600", false);

    let out = metascope()
        .args(["attach", &pid, "--duration", "1s", "-o"])
        .arg(lab.shared.join("rec.jsonl"))
        .output()
        .unwrap();
    assert_one_clear_line(
        &out,
        &[
            &format!("refusing {}", socket.display()),
            &format!(
                "the process listening on it is pid {} (uid 0), not the JVM {pid}",
                impostor.child.id()
            ),
        ],
    );
    wait_until(
        Duration::from_secs(5),
        "the impostor to log the connection",
        || !impostor.connections().is_empty(),
    );
    assert_eq!(
        impostor.connections(),
        "connection: 0 bytes\n",
        "no request sent"
    );
    jvm.assert_untouched(&lab);
    drop(impostor);
    jvm.ends_with_its_own_code();
}

/// The ids of a process, from /proc/PID/status: Uid, Gid, Groups, CapEff.
fn ids_of(pid: u32) -> Option<[String; 4]> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    Some([
        field("Uid:")?,
        field("Gid:")?,
        field("Groups:")?,
        field("CapEff:")?,
    ])
}

/// A JVM of `daemon`: the same user with another group is told what to
/// do (HotSpot checks uid and gid); root attaching becomes `daemon`
/// entirely (uids, gids, groups, no capabilities) and records.
#[test]
fn root_becomes_the_jvms_user_and_a_wrong_group_is_explained() {
    let Some(lab) = lab() else { return };
    let jvm = Jvm::on_host(&lab, &lab.shared, Some(DAEMON));
    let pid = jvm.pid.to_string();

    let wrong_group = Command::new("setpriv")
        .args([
            &format!("--reuid={DAEMON}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
        ])
        .arg(&lab.cli)
        .args(["attach", &pid, "--agent"])
        .arg(&lab.agent)
        .output()
        .unwrap();
    assert_one_clear_line(
        &wrong_group,
        &[
            &format!("process {pid} runs as uid {DAEMON} with group"),
            &format!("({DAEMON}), you have group"),
            &format!("({NOBODY})"),
            " -g ",
            "or as root",
        ],
    );
    jvm.assert_untouched(&lab);

    let out = lab.shared.join("by-root.jsonl");
    let cli = metascope()
        .args([
            "attach",
            &pid,
            "--duration",
            "2s",
            "--format",
            "json",
            "--agent",
        ])
        .arg(&lab.agent)
        .arg("-o")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let cli_pid = cli.id();
    let (mut seen, mut proc_owner) = (None, None);
    wait_until(
        Duration::from_secs(10),
        "metascope to take the JVM's user",
        || {
            seen = ids_of(cli_pid);
            // Owned by root while the process is not dumpable (no ptrace by daemon).
            proc_owner = std::fs::metadata(format!("/proc/{cli_pid}/mem"))
                .ok()
                .map(|m| m.uid());
            seen.as_ref().is_some_and(|ids| ids[0] != "0 0 0 0")
        },
    );
    let finished = cli.wait_with_output().unwrap();
    assert!(finished.status.success(), "{}", stderr(&finished));
    assert_eq!(
        seen.unwrap(),
        ["1 1 1 1", "1 1 1 1", "", "0000000000000000"].map(String::from),
        "uids, gids, supplementary groups (the JVM's: none), effective capabilities"
    );
    assert_eq!(
        proc_owner,
        Some(0),
        "metascope must not be dumpable as daemon"
    );
    let report: serde_json::Value = serde_json::from_slice(&finished.stdout).unwrap();
    assert_eq!(
        report["call_sites"][0]["application_frame"]["method"], "generate",
        "{report}"
    );
    assert_eq!(std::fs::metadata(&out).unwrap().uid(), DAEMON);
    assert!(!lab.marker.exists());
    jvm.ends_with_its_own_code();
}

/// A container of our own: a mount and pid namespace, /usr and /etc bound
/// into a fresh root whose /tmp is a symlink to /var/tmp (absolute: on
/// the host it would mean the host's /var/tmp), the JVM inside running as
/// `daemon` with pid 1 and its working directory in /work (mode 1777).
struct Container {
    root: tempfile::TempDir,
    jvm: Jvm,
}

impl Container {
    fn start(lab: &Lab) -> Option<Container> {
        for tool in ["unshare", "mount", "chroot"] {
            if Command::new(tool).arg("--version").output().is_err() {
                skip(&format!("the container test needs {tool}"));
                return None;
            }
        }
        let java_home = lab.java.parent()?.parent()?.to_path_buf();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::set_permissions(r, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut binds = Vec::new();
        for dir in [
            "usr", "etc", "bin", "sbin", "lib", "lib64", "lib32", "libx32",
        ] {
            let host = Path::new("/").join(dir);
            match std::fs::symlink_metadata(&host) {
                Ok(m) if m.file_type().is_symlink() => {
                    std::os::unix::fs::symlink(std::fs::read_link(&host).unwrap(), r.join(dir))
                        .unwrap()
                }
                Ok(_) => {
                    std::fs::create_dir(r.join(dir)).unwrap();
                    binds.push(host);
                }
                Err(_) => {}
            }
        }
        if !binds.iter().any(|b| java_home.starts_with(b)) {
            std::fs::create_dir_all(r.join(java_home.strip_prefix("/").unwrap())).unwrap();
            binds.push(java_home.clone());
        }
        for dir in ["proc", "var/tmp", "work", "app"] {
            std::fs::create_dir_all(r.join(dir)).unwrap();
        }
        for dir in ["var/tmp", "work"] {
            std::fs::set_permissions(r.join(dir), std::fs::Permissions::from_mode(0o1777)).unwrap();
        }
        std::os::unix::fs::symlink("/var/tmp", r.join("tmp")).unwrap();
        std::fs::copy(&lab.jar, r.join("app/harness.jar")).unwrap();
        let mounts: String = binds
            .iter()
            .map(|b| format!("mount --bind '{}' \"$R{}\"\n", b.display(), b.display()))
            .collect();
        let script = format!(
            "set -e\nR=\"$1\"\n{mounts}mount -t proc proc \"$R/proc\"\n\
             exec chroot \"$R\" setpriv --reuid={DAEMON} --regid={DAEMON} --clear-groups \
             sh -c 'cd /work && exec \"$@\"' sh '{}' -cp /app/harness.jar com.acme.torture.Torture serve {OWN_EXIT_CODE}\n",
            lab.java.display()
        );
        let mut command = Command::new("unshare");
        command
            .args([
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "sh",
                "-c",
                &script,
                "sh",
            ])
            .arg(r);
        let mut jvm = Jvm::spawn(command);
        jvm.wait_ready();
        // unshare forked the namespace's pid 1, which became the JVM.
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", jvm.pid)).unwrap();
        jvm.pid = children.split_whitespace().next().unwrap().parse().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/status", jvm.pid)).unwrap();
        assert!(
            status.contains("NStgid:")
                && status
                    .lines()
                    .any(|l| l.starts_with("NStgid:") && l.ends_with("\t1")),
            "{status}"
        );
        Some(Container { root, jvm })
    }

    /// The container's /tmp, from the host.
    fn tmp(&self) -> PathBuf {
        self.root.path().join("var/tmp")
    }
}

/// Items 2 and 3 in a container: a symlinked trigger in the JVM's working
/// directory (absolute, to a host file) is refused; then attach, --stop
/// and top work for the non-root JVM while the attacker's symlinks in the
/// container's /tmp (at the agent copy's name and the old fixed name) are
/// neither followed nor replaced.
#[test]
fn in_a_container_attach_stop_and_top_work_and_planted_links_are_not_followed() {
    let Some(lab) = lab() else { return };
    let Some(container) = Container::start(&lab) else {
        return;
    };
    let jvm = &container.jvm;
    let pid = jvm.pid.to_string();
    let agent_bytes = std::fs::read(&lab.agent).unwrap();
    let copy_name = metascope_attach::agent_copy_name(&agent_bytes);
    let planted = [
        container.tmp().join(&copy_name),
        container.tmp().join("libmetascope_agent.so"),
    ];
    for link in &planted {
        plant_symlink(&lab.precious, link);
    }
    let trigger = container.root.path().join("work/.attach_pid1");
    plant_symlink(&lab.precious, &trigger);
    let attach = |args: &[&str]| {
        metascope()
            .args(args)
            .arg("--agent")
            .arg(&lab.agent)
            .output()
            .unwrap()
    };

    let refused = attach(&["attach", &pid, "--duration", "1s"]);
    assert_one_clear_line(
        &refused,
        &[
            &format!("refusing /proc/{pid}/cwd/.attach_pid1: it is a symbolic link"),
            "remove it",
        ],
    );
    jvm.assert_untouched(&lab);
    std::fs::remove_file(&trigger).unwrap(); // what the operator is told to do

    let start = attach(&["attach", &pid]);
    assert!(start.status.success(), "{}", stderr(&start));
    let said = stderr(&start);
    let recording = said
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("/proc/{pid}/root/tmp/")))
        .unwrap_or_else(|| panic!("no recording in the container's /tmp named: {said}"));
    assert!(recording.starts_with("metascope-1-"), "{said}");
    let recording = container.tmp().join(recording);
    wait_until(Duration::from_secs(10), "a class in the recording", || {
        std::fs::read_to_string(&recording).is_ok_and(|r| r.contains(r#"{"type":"class""#))
    });
    let stop = attach(&["attach", &pid, "--stop", "--format", "json"]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    let report: serde_json::Value = serde_json::from_slice(&stop.stdout).unwrap();
    assert_eq!(report["recording"]["summary"]["reason"], "stopped");
    assert_eq!(
        report["call_sites"][0]["application_frame"]["method"], "generate",
        "{report}"
    );
    let top = attach(&["top", &pid, "--iterations", "2", "--plain"]);
    assert!(
        top.status.success(),
        "{}\n{}",
        stderr(&top),
        jvm.output.lock().unwrap_or_else(|e| e.into_inner())
    );
    assert!(
        stdout(&top).contains("com.acme.torture.Torture.generate"),
        "{}",
        stdout(&top)
    );
    assert!(
        stderr(&top).contains("recording stopped"),
        "{}",
        stderr(&top)
    );

    assert_eq!(std::fs::read_to_string(&lab.precious).unwrap(), PRECIOUS);
    for link in &planted {
        assert_eq!(
            std::fs::read_link(link).unwrap(),
            lab.precious,
            "left alone"
        );
    }
    let copies: Vec<_> = std::fs::read_dir(container.tmp())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with(copy_name.trim_end_matches(".so")) && !p.is_symlink()
        })
        .collect();
    assert_eq!(copies.len(), 1, "one copy, reused: {copies:?}");
    let meta = std::fs::metadata(&copies[0]).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (DAEMON, 0o444));
    assert_eq!(std::fs::read(&copies[0]).unwrap(), agent_bytes);
    assert!(!lab.marker.exists());
    let Container { root: _root, jvm } = container;
    jvm.ends_with_its_own_code();
}
