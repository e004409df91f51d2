//! The jar of ordinary classes for workload (a), written as class files
//! directly (no javac: fast and byte-for-byte deterministic) and packed with
//! the JDK's `jar` tool. Cached under target/bench-cache/.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Package-qualified prefix of the generated classes (`bench.gen.C0` ...).
pub const PREFIX: &str = "bench.gen.C";

/// Which classes a jar holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A static field, a `<clinit>` and a static method each.
    Ordinary,
    /// Nothing but the class itself: no fields, no methods.
    Minimal,
}

/// Returns the cached jar with `count` classes, building it if missing.
pub fn ordinary_jar(cache: &Path, count: u32, jar_tool: &Path) -> Result<PathBuf> {
    jar_of(cache, count, jar_tool, Shape::Ordinary)
}

/// Returns the cached jar with `count` minimal classes (no members).
pub fn minimal_jar(cache: &Path, count: u32, jar_tool: &Path) -> Result<PathBuf> {
    jar_of(cache, count, jar_tool, Shape::Minimal)
}

fn jar_of(cache: &Path, count: u32, jar_tool: &Path, shape: Shape) -> Result<PathBuf> {
    let kind = match shape {
        Shape::Ordinary => "ordinary",
        Shape::Minimal => "minimal",
    };
    let jar = cache.join(format!("{kind}-{count}-v1.jar"));
    if jar.is_file() {
        return Ok(jar);
    }
    eprintln!("bench: generating {} ({count} classes)", jar.display());
    let staging = cache.join(format!("{kind}-{count}-staging"));
    let _ = fs::remove_dir_all(&staging);
    let package_dir = staging.join(PREFIX.rsplit_once('.').unwrap().0.replace('.', "/"));
    fs::create_dir_all(&package_dir)?;
    for i in 0..count {
        let internal = format!("{}{i}", PREFIX.replace('.', "/"));
        let simple = internal.rsplit('/').next().unwrap();
        let bytes = match shape {
            Shape::Ordinary => class_bytes(&internal, i as i32),
            Shape::Minimal => minimal_class_bytes(&internal),
        };
        fs::write(package_dir.join(format!("{simple}.class")), bytes)?;
    }
    let partial = cache.join(format!("{kind}-{count}-v1.jar.partial"));
    let _ = fs::remove_file(&partial);
    let out = Command::new(jar_tool)
        .arg("--create")
        .arg("--file")
        .arg(&partial)
        .arg("-C")
        .arg(&staging)
        .arg(".")
        .output()
        .with_context(|| format!("cannot run {}", jar_tool.display()))?;
    if !out.status.success() {
        bail!("jar failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    fs::rename(&partial, &jar)?;
    fs::remove_dir_all(&staging)?;
    Ok(jar)
}

/// Class file (version 52) for `public class NAME {}` without even a
/// constructor: the least a class can be.
pub fn minimal_class_bytes(internal_name: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    let u2 = |b: &mut Vec<u8>, v: u16| b.extend_from_slice(&v.to_be_bytes());
    let utf8 = |b: &mut Vec<u8>, s: &str| {
        b.push(1);
        b.extend_from_slice(&(s.len() as u16).to_be_bytes());
        b.extend_from_slice(s.as_bytes());
    };
    b.extend_from_slice(&0xCAFE_BABEu32.to_be_bytes());
    u2(&mut b, 0);
    u2(&mut b, 52);
    u2(&mut b, 5); // constant pool count: entries 1..4
    utf8(&mut b, internal_name); // #1
    b.push(7);
    u2(&mut b, 1); // #2 Class this
    utf8(&mut b, "java/lang/Object"); // #3
    b.push(7);
    u2(&mut b, 3); // #4 Class super
    u2(&mut b, 0x0021); // public super
    u2(&mut b, 2);
    u2(&mut b, 4);
    for _ in 0..4 {
        u2(&mut b, 0); // interfaces, fields, methods, attributes
    }
    b
}

/// Class file (version 52) for
/// `public class NAME { public static int F = value; public static int v() { return F; } }`.
pub fn class_bytes(internal_name: &str, value: i32) -> Vec<u8> {
    let mut b = Vec::with_capacity(256);
    let u2 = |b: &mut Vec<u8>, v: u16| b.extend_from_slice(&v.to_be_bytes());
    let utf8 = |b: &mut Vec<u8>, s: &str| {
        b.push(1);
        b.extend_from_slice(&(s.len() as u16).to_be_bytes());
        b.extend_from_slice(s.as_bytes());
    };
    b.extend_from_slice(&0xCAFE_BABEu32.to_be_bytes());
    u2(&mut b, 0); // minor
    u2(&mut b, 52); // major (Java 8: no StackMapTable needed, no branches anyway)
    u2(&mut b, 15); // constant pool count: entries 1..14
    utf8(&mut b, internal_name); // #1
    b.push(7);
    u2(&mut b, 1); // #2 Class this
    utf8(&mut b, "java/lang/Object"); // #3
    b.push(7);
    u2(&mut b, 3); // #4 Class super
    utf8(&mut b, "v"); // #5
    utf8(&mut b, "()I"); // #6
    utf8(&mut b, "Code"); // #7
    b.push(3);
    b.extend_from_slice(&value.to_be_bytes()); // #8 Integer
    utf8(&mut b, "F"); // #9
    utf8(&mut b, "I"); // #10
    b.push(12);
    u2(&mut b, 9);
    u2(&mut b, 10); // #11 NameAndType F:I
    b.push(9);
    u2(&mut b, 2);
    u2(&mut b, 11); // #12 Fieldref this.F
    utf8(&mut b, "<clinit>"); // #13
    utf8(&mut b, "()V"); // #14
    u2(&mut b, 0x0021); // public super
    u2(&mut b, 2);
    u2(&mut b, 4);
    u2(&mut b, 0); // interfaces
    u2(&mut b, 1); // fields
    u2(&mut b, 0x0009); // public static int F
    u2(&mut b, 9);
    u2(&mut b, 10);
    u2(&mut b, 0);
    u2(&mut b, 2); // methods
    let method = |b: &mut Vec<u8>, access: u16, name: u16, desc: u16, code: &[u8]| {
        u2(b, access);
        u2(b, name);
        u2(b, desc);
        u2(b, 1); // attributes: Code
        u2(b, 7);
        b.extend_from_slice(&(12 + code.len() as u32).to_be_bytes());
        u2(b, 1); // max_stack
        u2(b, 0); // max_locals
        b.extend_from_slice(&(code.len() as u32).to_be_bytes());
        b.extend_from_slice(code);
        u2(b, 0); // exception table
        u2(b, 0); // attributes
    };
    // v(): getstatic #12; ireturn
    method(&mut b, 0x0009, 5, 6, &[0xB2, 0, 12, 0xAC]);
    // <clinit>: ldc #8; putstatic #12; return
    method(&mut b, 0x0008, 13, 14, &[0x12, 8, 0xB3, 0, 12, 0xB1]);
    u2(&mut b, 0); // class attributes
    b
}
