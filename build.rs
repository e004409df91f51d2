//! Compiles the Java reproduction programs in `java-harness/src` into
//! `$OUT_DIR/metascope-harness.jar`, which `harness.rs` embeds (so
//! `metascope demo` works from any directory) and the end-to-end tests run.
//!
//! javac is found via `$JAVAC`, then `$JAVA_HOME/bin/javac`, then `PATH`; the
//! `jar` tool is taken from the same directory as javac (falling back to
//! `PATH`). Sources are compiled with `--release 11` so the jar runs on every
//! JDK the project supports (11, 17, 21, 25), and with `-g` so stack traces
//! carry line numbers and the CLI can name the offending line.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{self, Command};

const SOURCE_DIR: &str = "java-harness/src";
/// Each directory under it becomes `<directory>.jar`: libraries the
/// reproductions use, in jars of their own as real frameworks are.
const LIBS_DIR: &str = "java-harness/libs";
const JAR_NAME: &str = "metascope-harness.jar";
const INSTALL_HINT: &str = "install a JDK (e.g. `apt-get install openjdk-17-jdk-headless`), \
     or point $JAVAC (or $JAVA_HOME) at one";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE_DIR}");
    println!("cargo:rerun-if-changed={LIBS_DIR}");
    println!("cargo:rerun-if-env-changed=JAVAC");
    println!("cargo:rerun-if-env-changed=JAVA_HOME");

    if let Err(message) = run() {
        // A panic would bury the message in a backtrace; print it plainly.
        eprintln!("error: metascope-harness build script: {message}");
        process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR unset")?);
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR unset")?);
    let src_dir = manifest_dir.join(SOURCE_DIR);

    let mut sources = Vec::new();
    collect_java_files(&src_dir, &mut sources)
        .map_err(|e| format!("cannot read {}: {e}", src_dir.display()))?;
    if sources.is_empty() {
        return Err(format!("no .java files under {}", src_dir.display()));
    }
    sources.sort(); // deterministic command line
                    // Cargo only watches the directory's own mtime for rerun-if-changed on a
                    // directory, which it scans recursively; listing the files keeps edits to
                    // existing sources covered on every Cargo version.
    for source in &sources {
        println!("cargo:rerun-if-changed={}", source.display());
    }

    let javac = find_javac()?;
    let jar = find_jar(&javac)?;
    let tools = Tools { javac, jar };

    let mut libraries = Vec::new();
    let libs_dir = manifest_dir.join(LIBS_DIR);
    let mut lib_dirs: Vec<PathBuf> = fs::read_dir(&libs_dir)
        .map_err(|e| format!("cannot read {}: {e}", libs_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    lib_dirs.sort();
    for dir in lib_dirs {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("a library directory without a UTF-8 name")?;
        let mut lib_sources = Vec::new();
        collect_java_files(&dir, &mut lib_sources)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        lib_sources.sort();
        for source in &lib_sources {
            println!("cargo:rerun-if-changed={}", source.display());
        }
        let jar_path = out_dir.join(format!("{name}.jar"));
        tools.build_jar(&out_dir, name, &lib_sources, &[], &jar_path)?;
        libraries.push(jar_path);
    }
    // The reproductions find their library jars through this variable
    // (harness.rs: `Program::classpath`).
    let joined: Vec<String> = libraries.iter().map(|p| p.display().to_string()).collect();
    println!("cargo:rustc-env=HARNESS_LIBRARY_JARS={}", joined.join(":"));

    tools.build_jar(
        &out_dir,
        "harness",
        &sources,
        &libraries,
        &out_dir.join(JAR_NAME),
    )
}

/// The JDK's compiler and jar tool.
struct Tools {
    javac: PathBuf,
    jar: PathBuf,
}

impl Tools {
    /// Compiles `sources` (against `classpath`) into the jar `jar_path`.
    fn build_jar(
        &self,
        out_dir: &Path,
        label: &str,
        sources: &[PathBuf],
        classpath: &[PathBuf],
        jar_path: &Path,
    ) -> Result<(), String> {
        // Compile into a fresh directory so classes of deleted sources do not linger.
        let classes_dir = out_dir.join(format!("{label}-classes"));
        if classes_dir.exists() {
            fs::remove_dir_all(&classes_dir)
                .map_err(|e| format!("cannot clean {}: {e}", classes_dir.display()))?;
        }
        fs::create_dir_all(&classes_dir)
            .map_err(|e| format!("cannot create {}: {e}", classes_dir.display()))?;

        // Pass the file list through an @argfile: no command-line length limits.
        let argfile = out_dir.join(format!("{label}-sources.txt"));
        let list: String = sources
            .iter()
            .map(|p| format!("\"{}\"\n", java_arg_escape(p)))
            .collect();
        fs::write(&argfile, list)
            .map_err(|e| format!("cannot write {}: {e}", argfile.display()))?;

        let mut compile = Command::new(&self.javac);
        compile.args(["--release", "11", "-g", "-encoding", "UTF-8", "-nowarn"]);
        if !classpath.is_empty() {
            let joined: Vec<String> = classpath.iter().map(|p| p.display().to_string()).collect();
            compile.arg("-cp").arg(joined.join(":"));
        }
        compile.arg("-d").arg(&classes_dir).arg(at_file(&argfile));
        run_tool(&mut compile, "javac", &self.javac)?;

        let _ = fs::remove_file(jar_path);
        let mut pack = Command::new(&self.jar);
        pack.arg("--create")
            .arg("--file")
            .arg(jar_path)
            .arg("-C")
            .arg(&classes_dir)
            .arg(".");
        run_tool(&mut pack, "jar", &self.jar)
    }
}

fn collect_java_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_java_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "java") {
            out.push(path);
        }
    }
    Ok(())
}

/// `$JAVAC`, then `$JAVA_HOME/bin/javac`, then `javac` on `PATH`.
fn find_javac() -> Result<PathBuf, String> {
    if let Some(javac) = env::var_os("JAVAC").filter(|v| !v.is_empty()) {
        let javac = PathBuf::from(javac);
        return if is_executable(&javac) || find_on_path(javac.as_os_str()).is_some() {
            Ok(javac)
        } else {
            Err(format!(
                "$JAVAC is set to {} but that is not an executable javac; {INSTALL_HINT}",
                javac.display()
            ))
        };
    }
    if let Some(home) = env::var_os("JAVA_HOME").filter(|v| !v.is_empty()) {
        let javac = Path::new(&home).join("bin").join(exe("javac"));
        if is_executable(&javac) {
            return Ok(javac);
        }
        println!(
            "cargo:warning=$JAVA_HOME ({}) has no bin/javac (a JRE?); looking for javac on PATH",
            Path::new(&home).display()
        );
    }
    find_on_path(exe("javac").as_ref()).ok_or_else(|| {
        format!("javac (the Java compiler, JDK 11 or newer) not found; {INSTALL_HINT}")
    })
}

/// The `jar` tool of the same JDK as javac, else `jar` on `PATH`.
fn find_jar(javac: &Path) -> Result<PathBuf, String> {
    // Resolve symlinks (/usr/bin/javac -> /usr/lib/jvm/.../bin/javac) so
    // that the sibling is the same JDK's jar.
    let resolved = fs::canonicalize(javac)
        .ok()
        .or_else(|| find_on_path(javac.as_os_str()).and_then(|p| fs::canonicalize(p).ok()));
    for candidate in [resolved.as_deref(), Some(javac)].into_iter().flatten() {
        if let Some(dir) = candidate.parent() {
            let jar = dir.join(exe("jar"));
            if is_executable(&jar) {
                return Ok(jar);
            }
        }
    }
    find_on_path(exe("jar").as_ref()).ok_or_else(|| {
        format!(
            "the `jar` tool was not found next to {} nor on PATH (a full JDK ships it); {INSTALL_HINT}",
            javac.display()
        )
    })
}

fn run_tool(cmd: &mut Command, name: &str, path: &Path) -> Result<(), String> {
    let output = cmd.output().map_err(|e| {
        format!(
            "cannot run {name} ({}): {e}; {INSTALL_HINT}",
            path.display()
        )
    })?;
    if !output.status.success() {
        return Err(format!(
            "{name} ({}) failed with {}:\n{}{}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

fn find_on_path(name: &std::ffi::OsStr) -> Option<PathBuf> {
    let name_path = Path::new(name);
    if name_path.components().count() > 1 {
        return is_executable(name_path).then(|| name_path.to_path_buf());
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

fn exe(name: &str) -> String {
    format!("{name}{}", env::consts::EXE_SUFFIX)
}

fn at_file(path: &Path) -> OsString {
    let mut arg = OsString::from("@");
    arg.push(path.as_os_str());
    arg
}

/// javac @argfiles treat backslash as an escape inside quotes.
fn java_arg_escape(path: &Path) -> String {
    path.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}
