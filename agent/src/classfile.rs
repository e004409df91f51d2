//! Just enough of the class-file format (JVMS chapter 4) to read a class's
//! own name from its bytes (ClassFileLoadHook passes a null name for some
//! definitions), to say which member a reflection accessor invokes, and to
//! fingerprint generated code independently of the generated class's name.
//!
//! Everything here runs inside the JVM on the loading thread: safe Rust
//! only, malformed bytes give `None` (never a panic), every loop is bounded
//! by the input's length, and allocations are proportional to the input.

use std::borrow::Cow;
use std::fmt;

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// Skips an `attributes_count` and that many attributes.
    fn skip_attributes(&mut self) -> Option<()> {
        for _ in 0..self.u16()? {
            self.u16()?; // name
            let len = self.u32()? as usize;
            self.take(len)?;
        }
        Some(())
    }
}

#[derive(Clone, Copy)]
enum Constant<'a> {
    Utf8(&'a [u8]),
    Class {
        name: u16,
    },
    String {
        utf8: u16,
    },
    NameAndType {
        name: u16,
        descriptor: u16,
    },
    /// Fieldref, Methodref or InterfaceMethodref.
    MemberRef {
        class: u16,
        name_and_type: u16,
    },
    Other,
}

/// One constant-pool entry, as offsets into the class bytes (16 bytes:
/// the writer indexes the pool of every class it decodes).
#[derive(Clone, Copy, Default)]
struct Entry {
    /// The entry's bytes after its tag, `start..end` (empty for the
    /// unused slots).
    start: u32,
    end: u32,
    /// The entry's one or two indices (Class, String, NameAndType, refs).
    a: u16,
    b: u16,
    tag: u8,
}

/// The index of a constant pool, kept across classes by whoever decodes
/// many (the writer) instead of allocated for each.
#[derive(Default)]
pub struct PoolBuffer(Vec<Entry>);

impl PoolBuffer {
    /// Entries kept between classes at most (a class may have 65,535).
    const KEEP: usize = 4096;
}

/// The parsed constant pool of `bytes` and where the bytes after it start.
struct Pool<'a, 'p> {
    bytes: &'a [u8],
    entries: &'p [Entry],
    /// Offset of `access_flags`, just past the pool.
    end: usize,
}

impl<'a> Pool<'a, '_> {
    fn constant(&self, entry: &Entry) -> Constant<'a> {
        match entry.tag {
            // The bytes after a Utf8 entry's two length bytes.
            1 => Constant::Utf8(
                self.bytes
                    .get(entry.start as usize + 2..entry.end as usize)
                    .unwrap_or_default(),
            ),
            7 => Constant::Class { name: entry.a },
            8 => Constant::String { utf8: entry.a },
            9..=11 => Constant::MemberRef {
                class: entry.a,
                name_and_type: entry.b,
            },
            12 => Constant::NameAndType {
                name: entry.a,
                descriptor: entry.b,
            },
            _ => Constant::Other,
        }
    }
    /// The entry's bytes after its tag.
    fn raw(&self, entry: &Entry) -> &'a [u8] {
        self.bytes
            .get(entry.start as usize..entry.end as usize)
            .unwrap_or_default()
    }
    fn get(&self, index: u16) -> Option<Constant<'a>> {
        Some(self.constant(self.entries.get(index as usize)?))
    }
    fn utf8(&self, index: u16) -> Option<&'a [u8]> {
        match self.get(index)? {
            Constant::Utf8(bytes) => Some(bytes),
            _ => None,
        }
    }
    /// The internal name of a CONSTANT_Class entry.
    fn class_name(&self, index: u16) -> Option<&'a [u8]> {
        match self.get(index)? {
            Constant::Class { name } => self.utf8(name),
            _ => None,
        }
    }
    /// (class, name, descriptor) of a Fieldref/Methodref/InterfaceMethodref.
    fn member(&self, index: u16) -> Option<(&'a [u8], &'a [u8], &'a [u8])> {
        let Constant::MemberRef {
            class,
            name_and_type,
        } = self.get(index)?
        else {
            return None;
        };
        let Constant::NameAndType { name, descriptor } = self.get(name_and_type)? else {
            return None;
        };
        Some((
            self.class_name(class)?,
            self.utf8(name)?,
            self.utf8(descriptor)?,
        ))
    }
}

/// Checks the magic number and parses the constant pool into `buffer`.
fn parse_pool<'a, 'p>(bytes: &'a [u8], buffer: &'p mut PoolBuffer) -> Option<Pool<'a, 'p>> {
    let entries = &mut buffer.0;
    entries.clear();
    if entries.capacity() > PoolBuffer::KEEP {
        entries.shrink_to(PoolBuffer::KEEP);
    }
    let mut r = Reader::new(bytes);
    if r.u32()? != 0xCAFE_BABE {
        return None;
    }
    r.u16()?; // minor
    r.u16()?; // major
    let count = r.u16()? as usize;
    // Every entry takes at least 3 bytes, so a lying count cannot make us
    // reserve more than the input justifies.
    entries.reserve(count.min(bytes.len() / 3 + 1));
    entries.push(Entry::default()); // index 0 is unused
    while entries.len() < count {
        let tag = r.u8()?;
        let start = r.pos;
        let ((a, b), wide) = match tag {
            1 => {
                let len = r.u16()? as usize;
                r.take(len)?;
                ((0, 0), false)
            }
            7 | 8 | 16 | 19 | 20 => ((r.u16()?, 0), false),
            15 => {
                r.take(3)?;
                ((0, 0), false)
            }
            9..=12 => ((r.u16()?, r.u16()?), false),
            3 | 4 | 17 | 18 => {
                r.u32()?;
                ((0, 0), false)
            }
            5 | 6 => {
                r.take(8)?;
                ((0, 0), true)
            }
            _ => return None,
        };
        // Class files come from a jint length: offsets fit in a u32.
        entries.push(Entry {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(r.pos).ok()?,
            a,
            b,
            tag,
        });
        if wide {
            // Longs and doubles take two slots.
            entries.push(Entry::default());
        }
    }
    Some(Pool {
        bytes,
        entries,
        end: r.pos,
    })
}

/// The internal name (`com/acme/Foo`) in `this_class`, if the bytes parse.
pub fn this_class_name(bytes: &[u8]) -> Option<&str> {
    let mut buffer = PoolBuffer::default();
    let pool = parse_pool(bytes, &mut buffer)?;
    let mut r = Reader {
        bytes,
        pos: pool.end,
    };
    r.u16()?; // access flags
    let name = pool.class_name(r.u16()?)?;
    std::str::from_utf8(name).ok()
}

/// The member a reflection accessor invokes, decoded from the bytes of a
/// class made by the JDK's `MethodAccessorGenerator` or
/// `SerializationConstructorAccessorGenerator`
/// (`jdk/internal/reflect/Generated{Method,Constructor,SerializationConstructor}AccessorN`,
/// `sun/reflect/...` on JDK 8).
///
/// Names are internal names and JVM descriptors as the class file spells
/// them (`com/acme/Order`, `(JLjava/lang/String;)V`); `Display` turns class
/// names into binary names with dots and keeps descriptors as they are:
///
/// | variant | `Display` |
/// |---|---|
/// | `Method` | `com.acme.Order.getId()J` (class `.` name descriptor) |
/// | `Constructor` | `new com.acme.Money(JLjava/lang/String;)` (`new ` class, then the descriptor's parameter part) |
/// | `SerializationConstructor` | `new com.acme.Order() via com.acme.Base()` |
///
/// A serialization constructor accessor allocates `class` and runs the
/// constructor of `via` (the first superclass that is not `Serializable`)
/// on it: none of `class`'s own constructors runs, so the `()` after it is
/// literal, and the parameter part after `via` is that constructor's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessorTarget<'a> {
    /// `Method.invoke` of `class.name descriptor`.
    Method {
        class: Cow<'a, str>,
        name: Cow<'a, str>,
        descriptor: Cow<'a, str>,
    },
    /// `Constructor.newInstance` of `class.<init> descriptor`.
    Constructor {
        class: Cow<'a, str>,
        descriptor: Cow<'a, str>,
    },
    /// Deserialization: allocate `class`, run `via.<init> descriptor`.
    SerializationConstructor {
        class: Cow<'a, str>,
        via: Cow<'a, str>,
        descriptor: Cow<'a, str>,
    },
}

/// Writes an internal class name as a binary name (`/` becomes `.`).
fn write_binary_name(f: &mut fmt::Formatter<'_>, internal: &str) -> fmt::Result {
    for (i, part) in internal.split('/').enumerate() {
        if i > 0 {
            f.write_str(".")?;
        }
        f.write_str(part)?;
    }
    Ok(())
}

/// `(JLjava/lang/String;)` of `(JLjava/lang/String;)V`.
fn parameter_part(descriptor: &str) -> &str {
    match descriptor.find(')') {
        Some(close) => &descriptor[..=close],
        None => descriptor,
    }
}

impl fmt::Display for AccessorTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessorTarget::Method {
                class,
                name,
                descriptor,
            } => {
                write_binary_name(f, class)?;
                write!(f, ".{name}{descriptor}")
            }
            AccessorTarget::Constructor { class, descriptor } => {
                f.write_str("new ")?;
                write_binary_name(f, class)?;
                f.write_str(parameter_part(descriptor))
            }
            AccessorTarget::SerializationConstructor {
                class,
                via,
                descriptor,
            } => {
                f.write_str("new ")?;
                write_binary_name(f, class)?;
                f.write_str("() via ")?;
                write_binary_name(f, via)?;
                f.write_str(parameter_part(descriptor))
            }
        }
    }
}

const OP_NEW: u8 = 0xbb;
const OP_INVOKEVIRTUAL: u8 = 0xb6;
const OP_INVOKESPECIAL: u8 = 0xb7;
const OP_INVOKESTATIC: u8 = 0xb8;
const OP_INVOKEINTERFACE: u8 = 0xb9;

/// Length of the instruction at `pc`, `None` for an unknown opcode or one
/// that runs past the end of `code`.
fn instruction_len(code: &[u8], pc: usize) -> Option<usize> {
    let op = *code.get(pc)?;
    let len = match op {
        0x00..=0x0f | 0x1a..=0x35 | 0x3b..=0x83 | 0x85..=0x98 | 0xac..=0xb1 => 1,
        0xbe | 0xbf | 0xc2 | 0xc3 | 0xca => 1,
        0x10 | 0x12 | 0x15..=0x19 | 0x36..=0x3a | 0xa9 | 0xbc => 2,
        0x11 | 0x13 | 0x14 | 0x84 | 0x99..=0xa8 | 0xb2..=0xb8 => 3,
        0xbb | 0xbd | 0xc0 | 0xc1 | 0xc6 | 0xc7 => 3,
        0xc5 => 4,
        0xb9 | 0xba | 0xc8 | 0xc9 => 5,
        0xc4 => match *code.get(pc + 1)? {
            0x84 => 6, // wide iinc
            _ => 4,
        },
        0xaa | 0xab => {
            // Operands start at the next multiple of 4 from the code start.
            let operands = (pc + 4) & !3;
            let word = |i: usize| -> Option<i64> {
                let at = operands.checked_add(i.checked_mul(4)?)?;
                let b = code.get(at..at.checked_add(4)?)?;
                Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as i64)
            };
            // Words after the padding: default, low, high and one offset
            // per case; or default, npairs and two words per pair.
            let (count, words) = if op == 0xaa {
                let count = word(2)? - word(1)? + 1;
                (count, 3 + count)
            } else {
                let count = word(1)?;
                (count + 1, 2 + 2 * count)
            };
            // Empty or negative ranges are malformed, and the bound keeps
            // the arithmetic below in range.
            if count < 1 || words > code.len() as i64 {
                return None;
            }
            operands - pc + 4 * words as usize
        }
        _ => return None,
    };
    if pc.checked_add(len)? > code.len() {
        return None;
    }
    Some(len)
}

/// Whether an instruction starts at `target` (walking from 0).
fn starts_instruction(code: &[u8], target: usize) -> bool {
    let mut pc = 0;
    while pc < target {
        match instruction_len(code, pc) {
            Some(len) => pc += len,
            None => return false,
        }
    }
    pc == target
}

/// A method's name, descriptor and Code attribute body.
struct Method<'a> {
    name: &'a [u8],
    descriptor: &'a [u8],
    code: Option<&'a [u8]>,
}

/// The class's methods, after skipping everything before them.
fn methods<'a>(bytes: &'a [u8], pool: &Pool<'a, '_>) -> Option<Vec<Method<'a>>> {
    let mut r = Reader {
        bytes,
        pos: pool.end,
    };
    r.take(6)?; // access flags, this_class, super_class
    let interfaces = r.u16()? as usize;
    r.take(interfaces.checked_mul(2)?)?;
    for _ in 0..r.u16()? {
        r.take(6)?; // access flags, name, descriptor
        r.skip_attributes()?;
    }
    let count = r.u16()? as usize;
    // A method takes at least 8 bytes.
    let mut methods = Vec::with_capacity(count.min(bytes.len() / 8 + 1));
    for _ in 0..count {
        r.u16()?; // access flags
        let name = pool.utf8(r.u16()?)?;
        let descriptor = pool.utf8(r.u16()?)?;
        let mut code = None;
        for _ in 0..r.u16()? {
            let attribute = pool.utf8(r.u16()?)?;
            let len = r.u32()? as usize;
            let body = r.take(len)?;
            if attribute == b"Code" {
                code = Some(body);
            }
        }
        methods.push(Method {
            name,
            descriptor,
            code,
        });
    }
    Some(methods)
}

/// The accessor's entry point: `invoke(Object, Object[])` of a method
/// accessor, `newInstance(Object[])` of a constructor accessor.
fn is_entry_point(method: &Method<'_>) -> bool {
    matches!(
        (method.name, method.descriptor),
        (
            b"invoke",
            b"(Ljava/lang/Object;[Ljava/lang/Object;)Ljava/lang/Object;"
        ) | (b"newInstance", b"([Ljava/lang/Object;)Ljava/lang/Object;")
    )
}

/// What a reflection accessor invokes (see [`AccessorTarget`]), `None` for
/// bytes that are not such an accessor or do not parse.
///
/// The generator wraps exactly the call of the reflected member in a
/// `catch (Throwable)` that rethrows it as an InvocationTargetException
/// (every other call in the accessor, like the boxing helpers
/// `Integer.valueOf` / `intValue` or the exception constructors, is
/// outside that range). So this reads the entry point's Code attribute,
/// takes the exception-table entry whose catch type is
/// `java/lang/Throwable` and decodes the invoke instruction its range
/// starts with, after checking that an instruction starts there. For a
/// constructor the instantiated class is the `new` at offset 0; if it is
/// not the class whose `<init>` is invoked, the accessor is a
/// serialization constructor accessor.
pub fn accessor_target(bytes: &[u8]) -> Option<AccessorTarget<'_>> {
    accessor_target_in(bytes, &mut PoolBuffer::default())
}

/// [`accessor_target`], indexing the pool in `buffer`.
pub fn accessor_target_in<'a>(
    bytes: &'a [u8],
    buffer: &mut PoolBuffer,
) -> Option<AccessorTarget<'a>> {
    let pool = parse_pool(bytes, buffer)?;
    let methods = methods(bytes, &pool)?;
    methods
        .iter()
        .filter(|m| is_entry_point(m))
        .find_map(|m| decode_entry_point(&pool, m))
}

fn decode_entry_point<'a>(pool: &Pool<'a, '_>, method: &Method<'a>) -> Option<AccessorTarget<'a>> {
    let mut r = Reader::new(method.code?);
    r.take(4)?; // max_stack, max_locals
    let code_len = r.u32()? as usize;
    let code = r.take(code_len)?;
    let mut invoke_at = None;
    for _ in 0..r.u16()? {
        let (start, end, _handler) = (r.u16()?, r.u16()?, r.u16()?);
        let catch_type = r.u16()?;
        if catch_type != 0 && pool.class_name(catch_type)? == b"java/lang/Throwable" {
            invoke_at = Some((start as usize, end as usize));
            break;
        }
    }
    let (start, end) = invoke_at?;
    if !starts_instruction(code, start) {
        return None;
    }
    let op = code[start];
    let len = instruction_len(code, start)?;
    if start + len > end {
        return None;
    }
    if !matches!(
        op,
        OP_INVOKEVIRTUAL | OP_INVOKESPECIAL | OP_INVOKESTATIC | OP_INVOKEINTERFACE
    ) {
        return None;
    }
    let (class, name, descriptor) =
        pool.member(u16::from_be_bytes([code[start + 1], code[start + 2]]))?;
    if !descriptor.starts_with(b"(") || !descriptor.contains(&b')') {
        return None;
    }
    let text = String::from_utf8_lossy;
    if method.name == b"invoke" {
        if name.starts_with(b"<") {
            return None;
        }
        return Some(AccessorTarget::Method {
            class: text(class),
            name: text(name),
            descriptor: text(descriptor),
        });
    }
    if op != OP_INVOKESPECIAL || name != b"<init>" || code.first() != Some(&OP_NEW) {
        return None;
    }
    let made = pool.class_name(u16::from_be_bytes([*code.get(1)?, *code.get(2)?]))?;
    Some(if made == class {
        AccessorTarget::Constructor {
            class: text(class),
            descriptor: text(descriptor),
        }
    } else {
        AccessorTarget::SerializationConstructor {
            class: text(made),
            via: text(class),
            descriptor: text(descriptor),
        }
    })
}

/// 64-bit FNV-1a of `bytes`.
pub fn fnv64(bytes: &[u8]) -> u64 {
    let mut hash = Fnv::new();
    hash.write(bytes);
    hash.0
}

/// 64-bit FNV-1a: deterministic across runs and processes (no seed).
struct Fnv(u64);

impl Fnv {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }
}

/// Stands for the class's own name. NUL never occurs in a class file's
/// (modified UTF-8) strings, so it cannot collide with real content.
const THIS: &str = "\0this\0";

/// Shortest own name that is replaced where it occurs inside a longer
/// string; shorter names are replaced only where they are a whole entry.
const MIN_EMBEDDED_NAME: usize = 3;

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// Replaces `simple` where it stands as its own token: not preceded by an
/// identifier character nor followed by a letter, digit or `_` (so
/// `Gen12.java` and `Gen12$Inner` match, `MyGen12` and `Gen123` do not).
fn replace_token(text: &str, simple: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices(simple) {
        if at < copied {
            continue; // overlaps the previous replacement
        }
        let after = at + simple.len();
        let before_ok = at == 0 || !is_identifier_byte(bytes[at - 1]);
        let after_ok = after == bytes.len() || {
            let b = bytes[after];
            !(b.is_ascii_alphanumeric() || b == b'_')
        };
        if before_ok && after_ok {
            out.push_str(&text[copied..at]);
            out.push_str(THIS);
            copied = after;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Replaces every run of ASCII digits with a single `#`.
fn collapse_digits(text: &str, out: &mut String) {
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
}

/// Collapses digit runs inside the class names of a descriptor or
/// signature (`(Lcom/acme/Gen12;I)V` -> `(Lcom/acme/Gen#;I)V`): an `L` at
/// the start or after one of `([);<>:^+-*` up to the next `;` or `<`.
/// Text outside such names (member names like `m3`) is kept.
fn collapse_digits_in_descriptor(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let type_start = i == 0 || b"([);<>:^+-*".contains(&bytes[i - 1]);
        if bytes[i] == b'L' && type_start {
            match text[i + 1..].find([';', '<']) {
                Some(len) => {
                    let end = i + 1 + len;
                    out.push_str(&text[copied..=i]);
                    collapse_digits(&text[i + 1..end], &mut out);
                    copied = end;
                    i = end;
                    continue;
                }
                // No name ends after here, so none starts here either:
                // stop rather than scan the rest again for every `L`
                // (quadratic on crafted input like `(L(L(L...`).
                None => break,
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// A content hash of a class file that is the same for the same generated
/// code under another name: two `$Proxy12` / `$Proxy13` for one interface,
/// `Serializer_17` / `Serializer_18` for one bean, `Script3` / `Script4`
/// of one script, `GeneratedMethodAccessor5` / `6` for one method. `None`
/// if the constant pool or `this_class` does not parse.
///
/// The hash (64-bit FNV-1a, no seed, so stable across runs and processes)
/// covers the whole class file (version, every constant, access flags,
/// super class, interfaces, fields, methods and their code, attributes)
/// with only the constant pool's Utf8 entries normalized, in this order:
///
/// 1. The class's own internal name (`com/acme/$Proxy12`) and binary name
///    (`com.acme.$Proxy12`) are replaced by a placeholder wherever they
///    occur (so nested `$Proxy12$1`, descriptors `Lcom/acme/$Proxy12;` and
///    a `Script3.groovy` SourceFile are covered); names shorter than 3
///    bytes only where they are the whole entry.
/// 2. For a class in a package, its simple name (`$Proxy12`) is replaced
///    where it stands as a token (e.g. a SourceFile `Gen12.java`).
/// 3. Runs of digits in other class names collapse to one `#`: in entries
///    named by a CONSTANT_Class, and inside the `L...;` class names of
///    descriptors and signatures (`Lcom/acme/Gen12$Inner;`).
///
/// Utf8 entries used as string literals (CONSTANT_String) get step 1 and 2
/// only: their digits count (`"1 + 2"` and `"1 + 3"` differ). Member names
/// keep their digits too (`m3`, `field1`). Invalid (modified) UTF-8 is
/// read lossily. Hence two classes that differ only in other classes'
/// numeric suffixes (`Lcom/acme/Gen1;` vs `Lcom/acme/Gen2;`) share a
/// fingerprint; random non-digit suffixes (ByteBuddy's `$ByteBuddy$aB3x`,
/// CGLIB's hex key hash) of classes other than this one are not removed.
pub fn fingerprint(bytes: &[u8]) -> Option<u64> {
    fingerprint_in(bytes, &mut PoolBuffer::default())
}

/// [`fingerprint`], indexing the pool in `buffer`.
pub fn fingerprint_in(bytes: &[u8], buffer: &mut PoolBuffer) -> Option<u64> {
    let pool = parse_pool(bytes, buffer)?;
    let this = {
        let mut r = Reader {
            bytes,
            pos: pool.end,
        };
        r.u16()?; // access flags
        pool.class_name(r.u16()?)?
    };
    let this = String::from_utf8_lossy(this);
    let binary = this.replace('/', ".");
    let simple = this.rsplit('/').next().unwrap_or_default();
    let packaged = simple.len() < this.len();

    // How each Utf8 entry is used (one allocation for both marks).
    const CLASS_NAME: u8 = 1;
    const LITERAL: u8 = 2;
    let mut used_as = vec![0u8; pool.entries.len()];
    for entry in pool.entries {
        let (index, mark) = match pool.constant(entry) {
            Constant::Class { name } => (name, CLASS_NAME),
            Constant::String { utf8 } => (utf8, LITERAL),
            _ => continue,
        };
        if let Some(slot) = used_as.get_mut(index as usize) {
            *slot |= mark;
        }
    }

    let mut hash = Fnv::new();
    hash.write(bytes.get(..10)?); // magic, version, constant_pool_count
    for (i, entry) in pool.entries.iter().enumerate().skip(1) {
        hash.write(&[entry.tag]);
        let Constant::Utf8(raw) = pool.constant(entry) else {
            hash.write(pool.raw(entry));
            continue;
        };
        let text = String::from_utf8_lossy(raw);
        // Each search is linear in the entry plus the needle, so it is
        // only started when the entry can hold the needle: a crafted class
        // with a huge own name and thousands of short entries would
        // otherwise cost entries x name length.
        let holds = |text: &str, needle: &str| text.len() >= needle.len() && text.contains(needle);
        let mut text: Cow<'_, str> = if text == this {
            Cow::Borrowed(THIS)
        } else if this.len() >= MIN_EMBEDDED_NAME && holds(&text, &this) {
            Cow::Owned(text.replace(&*this, THIS))
        } else {
            text
        };
        if packaged && binary.len() >= MIN_EMBEDDED_NAME && holds(&text, &binary) {
            text = Cow::Owned(text.replace(&binary, THIS));
        }
        if packaged && !simple.is_empty() && holds(&text, simple) {
            text = Cow::Owned(replace_token(&text, simple));
        }
        if used_as[i] & LITERAL == 0 {
            if used_as[i] & CLASS_NAME != 0 {
                let mut out = String::with_capacity(text.len());
                collapse_digits(&text, &mut out);
                text = Cow::Owned(out);
            } else if text.contains(|c: char| c.is_ascii_digit()) {
                text = Cow::Owned(collapse_digits_in_descriptor(&text));
            }
        }
        hash.write(&(text.len() as u32).to_be_bytes());
        hash.write(text.as_bytes());
    }
    hash.write(&bytes[pool.end..]);
    Some(hash.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal class file: `this_class` named `name`, extending Object.
    pub(crate) fn class_bytes(name: &str) -> Vec<u8> {
        let mut b = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 55];
        b.extend_from_slice(&6u16.to_be_bytes()); // 5 entries + 1
        b.push(1);
        b.extend_from_slice(&(name.len() as u16).to_be_bytes());
        b.extend_from_slice(name.as_bytes());
        b.extend_from_slice(&[7, 0, 1]); // #2 Class #1
        b.push(5); // #3-#4 a long
        b.extend_from_slice(&[0; 8]);
        b.push(1); // #5 Utf8 java/lang/Object
        b.extend_from_slice(&16u16.to_be_bytes());
        b.extend_from_slice(b"java/lang/Object");
        b.extend_from_slice(&[0, 0x21, 0, 2, 0, 0]); // flags, this=#2, super=0
        b
    }

    /// A class with a String constant `literal` and a Utf8 `other`, no
    /// members.
    fn class_with(name: &str, literal: &str, other: &str) -> Vec<u8> {
        let utf8 = |b: &mut Vec<u8>, s: &str| {
            b.push(1);
            b.extend_from_slice(&(s.len() as u16).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        };
        let mut b = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 55];
        b.extend_from_slice(&6u16.to_be_bytes());
        utf8(&mut b, name); // #1
        b.extend_from_slice(&[7, 0, 1]); // #2 Class #1
        utf8(&mut b, literal); // #3
        b.extend_from_slice(&[8, 0, 3]); // #4 String #3
        utf8(&mut b, other); // #5
        b.extend_from_slice(&[0, 0x21, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    const GET_ID: &[u8] = include_bytes!("../tests/fixtures/jdk17/method_getId.class");
    const VALUE_OF: &[u8] = include_bytes!("../tests/fixtures/jdk17/static_Integer_valueOf.class");
    const SERIAL: &[u8] = include_bytes!("../tests/fixtures/jdk17/serial_Order.class");

    #[test]
    fn reads_this_class() {
        assert_eq!(
            this_class_name(&class_bytes("com/acme/Gen_1")),
            Some("com/acme/Gen_1")
        );
        assert_eq!(
            this_class_name(GET_ID),
            Some("jdk/internal/reflect/GeneratedMethodAccessor1")
        );
    }

    #[test]
    fn malformed_bytes_give_none() {
        let good = class_bytes("com/acme/Gen_1");
        for len in 0..good.len() - 4 {
            assert_eq!(this_class_name(&good[..len]), None, "truncated at {len}");
        }
        assert_eq!(this_class_name(b"not a class"), None);
        let mut bad_tag = good.clone();
        bad_tag[10] = 99;
        assert_eq!(this_class_name(&bad_tag), None);
        // A pseudo-random walk over mutations must never panic.
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut m = good.clone();
            let i = (seed as usize) % m.len();
            m[i] = (seed >> 32) as u8;
            let _ = this_class_name(&m);
            let _ = fingerprint(&m);
        }
    }

    #[test]
    fn display_forms() {
        let method = AccessorTarget::Method {
            class: "com/acme/Order".into(),
            name: "getId".into(),
            descriptor: "()J".into(),
        };
        assert_eq!(method.to_string(), "com.acme.Order.getId()J");
        let constructor = AccessorTarget::Constructor {
            class: "com/acme/Money".into(),
            descriptor: "(JLjava/lang/String;)V".into(),
        };
        assert_eq!(
            constructor.to_string(),
            "new com.acme.Money(JLjava/lang/String;)"
        );
        let serial = AccessorTarget::SerializationConstructor {
            class: "com/acme/Order".into(),
            via: "java/lang/Object".into(),
            descriptor: "()V".into(),
        };
        assert_eq!(
            serial.to_string(),
            "new com.acme.Order() via java.lang.Object()"
        );
    }

    #[test]
    fn decodes_accessors_not_their_helpers() {
        assert_eq!(
            accessor_target(GET_ID).unwrap().to_string(),
            "com.acme.Order.getId()J"
        );
        // The accessor boxes with Integer.valueOf too: the target is the
        // call inside the Throwable handler's range.
        assert_eq!(
            accessor_target(VALUE_OF).unwrap().to_string(),
            "java.lang.Integer.valueOf(I)Ljava/lang/Integer;"
        );
        assert_eq!(
            accessor_target(SERIAL).unwrap().to_string(),
            "new com.acme.Order() via com.acme.Base()"
        );
        assert_eq!(accessor_target(&class_bytes("com/acme/Gen_1")), None);
        assert_eq!(accessor_target(b""), None);
    }

    /// Offset of the (only) `Class java/lang/Throwable` catch type index in
    /// the exception table, found by its constant index.
    fn throwable_entry(bytes: &[u8]) -> usize {
        let mut buffer = PoolBuffer::default();
        let pool = parse_pool(bytes, &mut buffer).unwrap();
        let index = (1..pool.entries.len() as u16)
            .find(|&i| pool.class_name(i) == Some(b"java/lang/Throwable".as_slice()))
            .unwrap();
        let needle = index.to_be_bytes();
        // start, end, handler, catch type: the catch type is the last u16.
        (pool.end..bytes.len() - 1)
            .rev()
            .find(|&i| bytes[i..i + 2] == needle)
            .unwrap()
            - 6
    }

    #[test]
    fn rejects_a_handler_that_does_not_start_at_an_invoke() {
        let at = throwable_entry(GET_ID);
        let start = u16::from_be_bytes([GET_ID[at], GET_ID[at + 1]]);
        for delta in [1u16, 2, 3] {
            let mut bad = GET_ID.to_vec();
            bad[at..at + 2].copy_from_slice(&(start + delta).to_be_bytes());
            let decoded = accessor_target(&bad).map(|t| t.to_string());
            assert_ne!(decoded.as_deref(), Some("com.acme.Order.getId()J"));
        }
        let mut bad = GET_ID.to_vec();
        bad[at..at + 2].copy_from_slice(&0u16.to_be_bytes()); // aload_1 at 0
        assert_eq!(accessor_target(&bad), None);
    }

    #[test]
    fn instruction_lengths() {
        assert_eq!(instruction_len(&[0x2a], 0), Some(1)); // aload_0
        assert_eq!(instruction_len(&[0xb9, 0, 1, 1, 0], 0), Some(5));
        assert_eq!(instruction_len(&[0xb9, 0, 1], 0), None); // truncated
        assert_eq!(instruction_len(&[0xc4, 0x84, 0, 1, 0, 1], 0), Some(6));
        assert_eq!(instruction_len(&[0xc4, 0x15, 0, 1], 0), Some(4));
        assert_eq!(instruction_len(&[0xfe], 0), None);
        // tableswitch at 1: pad 2, default, low 0, high 1, two offsets.
        let mut table = vec![0x00, 0xaa, 0, 0];
        table.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1]);
        table.extend_from_slice(&[0; 8]);
        assert_eq!(instruction_len(&table, 1), Some(table.len() - 1));
        assert!(starts_instruction(&table, table.len()));
        // high < low is malformed.
        let mut bad = table.clone();
        bad[11] = 1;
        bad[15] = 0;
        assert_eq!(instruction_len(&bad, 1), None);
        // lookupswitch at 0: pad 3, default, npairs 1, one pair.
        let mut lookup = vec![0xab, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1];
        lookup.extend_from_slice(&[0; 8]);
        assert_eq!(instruction_len(&lookup, 0), Some(lookup.len()));
        lookup[11] = 0x7f; // npairs far beyond the code
        assert_eq!(instruction_len(&lookup, 0), None);
    }

    #[test]
    fn descriptor_digits() {
        assert_eq!(
            collapse_digits_in_descriptor("(Lcom/acme/Gen12;I)Lfoo/Bar3$4;"),
            "(Lcom/acme/Gen#;I)Lfoo/Bar#$#;"
        );
        assert_eq!(
            collapse_digits_in_descriptor("Ljava/util/List<Lx/Y9;>;"),
            "Ljava/util/List<Lx/Y#;>;"
        );
        assert_eq!(collapse_digits_in_descriptor("m3"), "m3");
        assert_eq!(collapse_digits_in_descriptor("L1"), "L1");
        assert_eq!(collapse_digits_in_descriptor("field12"), "field12");
    }

    #[test]
    fn token_replacement() {
        assert_eq!(replace_token("Gen12.java", "Gen12"), "\0this\0.java");
        assert_eq!(replace_token("Gen12$Inner", "Gen12"), "\0this\0$Inner");
        assert_eq!(replace_token("MyGen12 Gen123", "Gen12"), "MyGen12 Gen123");
    }

    #[test]
    fn fingerprint_ignores_own_name_and_suffixes() {
        let a = class_with("com/acme/$Proxy12", "x", "Lcom/acme/$Proxy12;");
        let b = class_with("com/acme/$Proxy13", "x", "Lcom/acme/$Proxy13;");
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert!(fingerprint(&a).is_some());
        // Another class's numeric suffix in a descriptor.
        let c = class_with("Gen1", "x", "(Lcom/acme/Ser_17;)V");
        let d = class_with("Gen2", "x", "(Lcom/acme/Ser_18;)V");
        assert_eq!(fingerprint(&c), fingerprint(&d));
        // The own name in a string literal (binary and simple forms).
        let e = class_with("com/acme/Gen_17", "com.acme.Gen_17", "Gen_17.java");
        let f = class_with("com/acme/Gen_18", "com.acme.Gen_18", "Gen_18.java");
        assert_eq!(fingerprint(&e), fingerprint(&f));
    }

    #[test]
    fn fingerprint_keeps_literals_and_member_names() {
        let a = class_with("Script3", "1 + 2", "m1");
        assert_ne!(
            fingerprint(&a),
            fingerprint(&class_with("Script4", "1 + 3", "m1"))
        );
        assert_ne!(
            fingerprint(&a),
            fingerprint(&class_with("Script4", "1 + 2", "m2"))
        );
        assert_eq!(
            fingerprint(&a),
            fingerprint(&class_with("Script4", "1 + 2", "m1"))
        );
        // Deterministic: a fixed value, the same in every process.
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        assert_eq!(fingerprint(b"\xCA\xFE\xBA\xBE"), None);
    }

    /// A class whose constant pool is built to make naive normalisation
    /// quadratic: a 60 KiB own name, many 60 KiB `(L(L(L...` descriptors
    /// with no `;`, and thousands of short entries. Fingerprinting it must
    /// stay linear (this test would take minutes otherwise).
    pub(crate) fn crafted_class() -> Vec<u8> {
        let utf8 = |b: &mut Vec<u8>, s: &str| {
            b.push(1);
            b.extend_from_slice(&(s.len() as u16).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        };
        let own = format!("p/{}", "N".repeat(60_000));
        let descriptor = "(L".repeat(30_000);
        let (long, short) = (40usize, 20_000usize);
        let mut b = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 55];
        b.extend_from_slice(&((3 + long + short) as u16).to_be_bytes());
        utf8(&mut b, &own); // #1
        b.extend_from_slice(&[7, 0, 1]); // #2 Class #1
        for _ in 0..long {
            utf8(&mut b, &descriptor);
        }
        for i in 0..short {
            utf8(&mut b, &format!("m{i}"));
        }
        b.extend_from_slice(&[0, 0x21, 0, 2, 0, 0]);
        b
    }

    #[test]
    fn crafted_constant_pools_fingerprint_in_linear_time() {
        let crafted = crafted_class();
        assert!(crafted.len() > 2_000_000);
        assert!(fingerprint(&crafted).is_some());
        assert_eq!(collapse_digits_in_descriptor("(L(L(L1"), "(L(L(L1");
        assert_eq!(collapse_digits_in_descriptor("(L(La/B2;"), "(L(La/B#;");
    }
}
