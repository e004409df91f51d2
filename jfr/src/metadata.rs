//! The metadata event: every type the chunk's data uses (events, constant
//! pool types, primitives) with its fields in encoding order.
//!
//! Body after the event header: start time, duration, metadata id (longs),
//! a string table (count, then strings), then one element tree: each element
//! is its name (string-table index), attribute count, (key, value) index
//! pairs, child count and children. The root holds a `metadata` element
//! whose `class` children describe the types (attributes `id`, `name`,
//! `superType`, `simpleType`); their `field` children (attributes `name`,
//! `class` = field type id, `constantPool`, `dimension`) list the fields in
//! the order values are written, and `annotation` children carry units such
//! as `jdk.jfr.Timestamp` = `TICKS`.

use foldhash::HashMap;

use crate::input::{Cursor, Decoded, Fault};

/// How a value of a type is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Boolean,
    Byte,
    Char,
    Short,
    Int,
    Long,
    Float,
    Double,
    String,
    /// The fields, in order.
    Struct,
}

/// What a timestamp or timespan field counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    /// Not a time (or a unit we pass through unchanged).
    None,
    Ticks,
    Nanos,
    Millis,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: Box<str>,
    /// Index of the field's type in [`Metadata::types`].
    pub ty: usize,
    /// An array (`dimension="1"`): a count, then the elements.
    pub array: bool,
    /// Written as a key into the constant pool of its type.
    pub pooled: bool,
    pub unit: TimeUnit,
}

#[derive(Debug, Clone)]
pub(crate) struct Type {
    pub id: u64,
    pub name: Box<str>,
    pub encoding: Encoding,
    pub fields: Vec<Field>,
}

impl Type {
    pub(crate) fn field(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| &*f.name == name)
    }
}

/// One primitive of a value's encoding, in the order written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Primitive {
    /// `boolean`, `byte`.
    Byte,
    /// `char`, `short`, `int`, `long` and pool keys: one varint when
    /// compressed (else 2, 4 or 8 bytes).
    Short,
    Int,
    Long,
    Float,
    Double,
    String,
}

/// Structs flattened at most this deep (the JDK nests 2 levels), into at
/// most this many primitives (corrupt metadata could nest a wide type in
/// itself).
const MAX_FLAT_DEPTH: u32 = 8;
const MAX_FLAT_LEN: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct Metadata {
    pub types: Vec<Type>,
    by_id: HashMap<u64, usize>,
    /// By type index: the primitives a value is written as, when it has
    /// no array (`None` then): skipping or reading it is a flat loop, not
    /// a walk of the type tree.
    flat: Vec<Option<Box<[Primitive]>>>,
}

/// Deeper element trees than this are corrupt (the JDK writes 4 levels).
const MAX_ELEMENT_DEPTH: u32 = 16;

struct Element {
    name: u32,
    attributes: Vec<(u32, u32)>,
    children: Vec<Element>,
}

impl Metadata {
    pub(crate) fn type_index(&self, id: u64) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    /// The primitives a value of type `ty` is written as (see [`Metadata::flat`]).
    pub(crate) fn flat(&self, ty: usize) -> Option<&[Primitive]> {
        self.flat.get(ty)?.as_deref()
    }

    /// The primitive of a value of type `ty` that is one (pooled: a key).
    pub(crate) fn primitive(&self, ty: usize, pooled: bool) -> Option<Primitive> {
        if pooled {
            return Some(Primitive::Long);
        }
        Some(match self.types.get(ty)?.encoding {
            Encoding::Boolean | Encoding::Byte => Primitive::Byte,
            Encoding::Char | Encoding::Short => Primitive::Short,
            Encoding::Int => Primitive::Int,
            Encoding::Long => Primitive::Long,
            Encoding::Float => Primitive::Float,
            Encoding::Double => Primitive::Double,
            Encoding::String => Primitive::String,
            Encoding::Struct => return None,
        })
    }

    /// Appends the primitives of a value of type `ty` to `out`; `false`
    /// when it has an array or nests too deeply.
    fn flatten(&self, ty: usize, pooled: bool, depth: u32, out: &mut Vec<Primitive>) -> bool {
        if let Some(p) = self.primitive(ty, pooled) {
            out.push(p);
            return out.len() <= MAX_FLAT_LEN;
        }
        if depth > MAX_FLAT_DEPTH {
            return false;
        }
        self.types[ty]
            .fields
            .iter()
            .all(|f| !f.array && self.flatten(f.ty, f.pooled, depth + 1, out))
    }

    /// Parses the body of a metadata event (`c` is just after its type id).
    pub(crate) fn parse(c: &mut Cursor<'_>) -> Decoded<Metadata> {
        c.long()?; // start time
        c.long()?; // duration
        c.long()?; // metadata id
        let count = c.count()?;
        let mut strings = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            strings.push(c.string()?.text());
        }
        let root = read_element(c, 0)?;
        let text = |i: u32| -> Decoded<Option<&str>> {
            strings
                .get(i as usize)
                .map(|s| s.as_deref())
                .ok_or(Fault::Invalid("metadata string index out of range"))
        };
        let attr = |e: &Element, key: &str| -> Decoded<Option<&str>> {
            for &(k, v) in &e.attributes {
                if text(k)? == Some(key) {
                    return text(v);
                }
            }
            Ok(None)
        };
        let mut class_elements = Vec::new();
        for child in &root.children {
            if text(child.name)? == Some("metadata") {
                for class in &child.children {
                    if text(class.name)? == Some("class") {
                        class_elements.push(class);
                    }
                }
            }
        }

        let mut meta = Metadata::default();
        // Declare every type first: fields refer to types declared later.
        for e in &class_elements {
            let id = parse_id(attr(e, "id")?)?;
            let name: Box<str> = attr(e, "name")?
                .ok_or(Fault::Invalid("metadata class without a name"))?
                .into();
            let encoding = match &*name {
                "boolean" => Encoding::Boolean,
                "byte" => Encoding::Byte,
                "char" => Encoding::Char,
                "short" => Encoding::Short,
                "int" => Encoding::Int,
                "long" => Encoding::Long,
                "float" => Encoding::Float,
                "double" => Encoding::Double,
                "java.lang.String" => Encoding::String,
                _ => Encoding::Struct,
            };
            let index = meta.types.len();
            meta.by_id.insert(id, index);
            meta.types.push(Type {
                id,
                name,
                encoding,
                fields: Vec::new(),
            });
        }
        for (index, e) in class_elements.iter().enumerate() {
            let mut fields = Vec::new();
            for f in &e.children {
                if text(f.name)? != Some("field") {
                    continue;
                }
                let name: Box<str> = attr(f, "name")?
                    .ok_or(Fault::Invalid("metadata field without a name"))?
                    .into();
                let ty = meta
                    .type_index(parse_id(attr(f, "class")?)?)
                    .ok_or(Fault::Invalid("metadata field of an undeclared type"))?;
                let array = matches!(attr(f, "dimension")?, Some(d) if d != "0");
                let pooled = matches!(attr(f, "constantPool")?, Some("true"));
                let mut unit = TimeUnit::None;
                for a in &f.children {
                    if text(a.name)? != Some("annotation") {
                        continue;
                    }
                    let Some(annotation) = attr(a, "class")?
                        .and_then(|id| id.parse().ok())
                        .and_then(|id| meta.type_index(id))
                    else {
                        continue;
                    };
                    let kind = &*meta.types[annotation].name;
                    if kind == "jdk.jfr.Timestamp" || kind == "jdk.jfr.Timespan" {
                        unit = match attr(a, "value")? {
                            Some("TICKS") => TimeUnit::Ticks,
                            Some("NANOSECONDS") | Some("NANOSECONDS_SINCE_EPOCH") => {
                                TimeUnit::Nanos
                            }
                            Some("MILLISECONDS") | Some("MILLISECONDS_SINCE_EPOCH") => {
                                TimeUnit::Millis
                            }
                            _ => TimeUnit::None,
                        };
                    }
                }
                fields.push(Field {
                    name,
                    ty,
                    array,
                    pooled,
                    unit,
                });
            }
            meta.types[index].fields = fields;
        }
        let mut ops = Vec::new();
        meta.flat = (0..meta.types.len())
            .map(|ty| {
                ops.clear();
                meta.flatten(ty, false, 0, &mut ops)
                    .then(|| ops.as_slice().into())
            })
            .collect();
        Ok(meta)
    }
}

fn parse_id(s: Option<&str>) -> Decoded<u64> {
    s.and_then(|s| s.parse().ok())
        .ok_or(Fault::Invalid("metadata type id is not a number"))
}

fn read_element(c: &mut Cursor<'_>, depth: u32) -> Decoded<Element> {
    if depth > MAX_ELEMENT_DEPTH {
        return Err(Fault::Invalid("metadata elements nested too deeply"));
    }
    let name = c.int()? as u32;
    let n = c.count()?;
    let mut attributes = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        attributes.push((c.int()? as u32, c.int()? as u32));
    }
    let n = c.count()?;
    let mut children = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        children.push(read_element(c, depth + 1)?);
    }
    Ok(Element {
        name,
        attributes,
        children,
    })
}
