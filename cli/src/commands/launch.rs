//! Starting a JVM under the agent: finding the agent library, building the
//! `-agentpath:` option, running the JVM and waiting for it.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use anyhow::{bail, Context, Result};

/// Environment variable naming the agent library.
pub const AGENT_ENV: &str = "METASCOPE_AGENT";

/// `libmetascope_agent.so` (or `.dylib` on macOS).
pub fn agent_file_name() -> String {
    format!(
        "{}metascope_agent{}",
        env::consts::DLL_PREFIX,
        env::consts::DLL_SUFFIX
    )
}

/// Finds the agent: `--agent`, else `$METASCOPE_AGENT`, else next to this
/// executable (cargo puts both in target/<profile>/), else `../lib/` beside
/// it (an installed layout). The error lists every place it looked.
pub fn find_agent(explicit: Option<&Path>) -> Result<PathBuf> {
    let name = agent_file_name();
    if let Some(path) = explicit {
        return existing_agent(path, "--agent");
    }
    let from_env = env::var_os(AGENT_ENV).filter(|v| !v.is_empty());
    if let Some(path) = &from_env {
        return existing_agent(Path::new(path), AGENT_ENV);
    }

    let mut candidates = Vec::new();
    if let Some(dir) = env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(&name));
        candidates.push(dir.join("..").join("lib").join(&name));
        // Test binaries live in target/<profile>/deps/.
        if dir.file_name() == Some(OsStr::new("deps")) {
            if let Some(profile_dir) = dir.parent() {
                candidates.push(profile_dir.join(&name));
            }
        }
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return canonical(found);
    }
    let looked: Vec<String> = std::iter::once(format!("${AGENT_ENV} (not set)"))
        .chain(candidates.iter().map(|p| p.display().to_string()))
        .map(|s| format!("  - {s}"))
        .collect();
    bail!(
        "cannot find the metascope agent ({name}). Looked in:\n{}\n\
         Build it with `cargo build -p metascope-agent` (it lands next to the metascope binary), \
         or pass --agent PATH, or set {AGENT_ENV}=/path/to/{name}",
        looked.join("\n")
    )
}

fn existing_agent(path: &Path, from: &str) -> Result<PathBuf> {
    if !path.is_file() {
        bail!(
            "{from} names {}, which does not exist; build the agent with \
             `cargo build -p metascope-agent` or fix the path",
            path.display()
        );
    }
    canonical(path)
}

fn canonical(path: &Path) -> Result<PathBuf> {
    fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// `metascope-<unix seconds>.jsonl` in the current directory.
pub fn default_output() -> PathBuf {
    PathBuf::from(format!("metascope-{}.jsonl", unix_seconds()))
}

pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `-agentpath:` option for `agent` writing to `out` (both absolute),
/// with the user's extra agent options appended.
pub fn agentpath_option(agent: &Path, out: &Path, extra: Option<&str>) -> Result<OsString> {
    let out_str = out
        .to_str()
        .context("the output path must be valid UTF-8")?;
    // The agent splits its options on ',' and the first '='.
    if out_str.contains(',') {
        bail!("the output path {out_str} contains ',', which the agent's option syntax cannot carry; choose another -o");
    }
    let mut option = OsString::from("-agentpath:");
    option.push(agent);
    option.push(format!("=out={out_str}"));
    if let Some(extra) = extra.map(str::trim).filter(|e| !e.is_empty()) {
        if extra
            .split(',')
            .any(|kv| kv.trim_start().starts_with("out="))
        {
            bail!("--agent-opts must not set out=; use -o FILE instead");
        }
        option.push(",");
        option.push(extra);
    }
    Ok(option)
}

/// `java ARGS...` with the agent option right after the executable.
pub fn java_command(java_argv: &[OsString], agentpath: OsString) -> Result<Command> {
    let Some((java, args)) = java_argv.split_first() else {
        bail!("nothing to run: give the java command after --, e.g. `metascope run -- java -jar app.jar`");
    };
    let mut command = Command::new(java);
    command.arg(agentpath).args(args);
    Ok(command)
}

/// How the JVM ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JvmExit {
    /// Exit code to pass on: the JVM's, or 128+signal if it was killed.
    pub code: i32,
}

/// Runs the JVM with inherited stdio and waits for it. Ctrl-C (and Ctrl-\ for
/// a thread dump) reach the JVM, which is in the same process group;
/// this process survives them so the report can still be printed.
pub fn run_jvm(mut command: Command) -> Result<JvmExit> {
    let program = command.get_program().to_string_lossy().into_owned();
    let _guard = crate::sys::InterruptsIgnored::install();
    let mut child = command.spawn().with_context(|| {
        format!("cannot start `{program}`: is a JDK installed and on PATH (or JAVA_HOME set)?")
    })?;
    let status = child
        .wait()
        .with_context(|| format!("lost track of `{program}`"))?;
    Ok(JvmExit {
        code: exit_code(status),
    })
}

fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    1
}

/// The recording exists and has at least one byte.
pub fn recording_written(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// `$JAVA_HOME/bin/java` when JAVA_HOME is set and has one, else `java`.
pub fn java_executable() -> OsString {
    if let Some(home) = env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let java = Path::new(&home)
            .join("bin")
            .join(format!("java{}", env::consts::EXE_SUFFIX));
        if java.is_file() {
            return java.into_os_string();
        }
    }
    OsString::from("java")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agentpath_carries_out_and_extra_options() {
        let opt = agentpath_option(
            Path::new("/opt/ms/libmetascope_agent.so"),
            Path::new("/tmp/rec.jsonl"),
            Some("depth=32,mode=all"),
        )
        .unwrap();
        assert_eq!(
            opt,
            "-agentpath:/opt/ms/libmetascope_agent.so=out=/tmp/rec.jsonl,depth=32,mode=all"
        );
        let plain = agentpath_option(Path::new("/a.so"), Path::new("/r.jsonl"), None).unwrap();
        assert_eq!(plain, "-agentpath:/a.so=out=/r.jsonl");
    }

    #[test]
    fn agentpath_rejects_what_the_agent_cannot_parse() {
        let e =
            agentpath_option(Path::new("/a.so"), Path::new("/tmp/a,b.jsonl"), None).unwrap_err();
        assert!(e.to_string().contains("contains ','"));
        let e = agentpath_option(
            Path::new("/a.so"),
            Path::new("/r.jsonl"),
            Some("depth=8,out=/x"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("use -o FILE"));
    }

    #[test]
    fn agent_option_goes_right_after_the_java_executable() {
        let argv: Vec<OsString> = ["java", "-Xmx64m", "-jar", "app.jar"]
            .map(OsString::from)
            .into();
        let cmd = java_command(&argv, OsString::from("-agentpath:/a.so=out=/r")).unwrap();
        assert_eq!(cmd.get_program(), "java");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(
            args,
            ["-agentpath:/a.so=out=/r", "-Xmx64m", "-jar", "app.jar"]
        );
        assert!(java_command(&[], OsString::new()).is_err());
    }

    #[test]
    fn missing_explicit_agent_is_a_clear_error() {
        let e = find_agent(Some(Path::new("/nonexistent/libmetascope_agent.so"))).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("--agent names /nonexistent/libmetascope_agent.so"),
            "{msg}"
        );
        assert!(msg.contains("cargo build -p metascope-agent"), "{msg}");
    }

    #[test]
    fn default_output_is_timestamped_jsonl() {
        let name = default_output().display().to_string();
        assert!(
            name.starts_with("metascope-") && name.ends_with(".jsonl"),
            "{name}"
        );
    }
}
