//! Values as the metadata describes them: skipping any value, and decoding
//! the few we keep into a small tree.

use crate::input::{Cursor, Decoded, Fault, RawString};
use crate::metadata::{Encoding, Field, Metadata, Primitive};

/// Structs nested deeper than this are corrupt metadata (a type that
/// contains itself inline would otherwise recurse until the stack ends).
const MAX_DEPTH: u32 = 32;

/// A decoded value. Constant-pool references stay references; the resolver
/// looks them up when it needs them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An inline string (`None` for null).
    Str(Option<Box<str>>),
    /// A key into the constant pool of type `ty` (a metadata type index).
    Ref {
        ty: usize,
        key: u64,
    },
    Struct(Vec<Value>),
    Array(Vec<Value>),
}

/// A key into the constant pool of type `ty` (a metadata type index): what
/// most event fields hold, passed around without building a [`Value`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PoolRef {
    pub ty: usize,
    pub key: u64,
}

impl Value {
    pub(crate) fn pool_ref(&self) -> Option<PoolRef> {
        match *self {
            Value::Ref { ty, key } => Some(PoolRef { ty, key }),
            _ => None,
        }
    }

    pub(crate) fn int(&self) -> Option<i64> {
        match *self {
            Value::Int(v) => Some(v),
            Value::Bool(b) => Some(i64::from(b)),
            _ => None,
        }
    }

    pub(crate) fn float(&self) -> Option<f64> {
        match *self {
            Value::Float(v) => Some(v),
            Value::Int(v) => Some(v as f64),
            _ => None,
        }
    }

    pub(crate) fn bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// Skips one value of field `f`.
pub(crate) fn skip_field(meta: &Metadata, c: &mut Cursor<'_>, f: &Field) -> Decoded<()> {
    if f.array {
        let n = c.count()?;
        for _ in 0..n {
            skip_one(meta, c, f.ty, f.pooled, 0)?;
        }
        Ok(())
    } else {
        skip_one(meta, c, f.ty, f.pooled, 0)
    }
}

/// Skips one primitive.
#[inline]
pub(crate) fn skip_primitive(c: &mut Cursor<'_>, p: Primitive) -> Decoded<()> {
    match p {
        Primitive::Byte => c.u8().map(drop),
        Primitive::Short => c.skip_integer(2),
        Primitive::Int => c.skip_integer(4),
        Primitive::Long => c.skip_integer(8),
        Primitive::Float => c.float().map(drop),
        Primitive::Double => c.double().map(drop),
        Primitive::String => c.skip_string(),
    }
}

/// Skips one value of type `ty` (written as a pool key when `pooled`).
pub(crate) fn skip_one(
    meta: &Metadata,
    c: &mut Cursor<'_>,
    ty: usize,
    pooled: bool,
    depth: u32,
) -> Decoded<()> {
    if pooled {
        return c.skip_integer(8);
    }
    if let Some(flat) = meta.flat(ty) {
        for &p in flat {
            skip_primitive(c, p)?;
        }
        return Ok(());
    }
    let t = meta.types.get(ty).ok_or(Fault::Invalid("unknown type"))?;
    match t.encoding {
        Encoding::Boolean | Encoding::Byte => c.u8().map(drop),
        Encoding::Char | Encoding::Short | Encoding::Int | Encoding::Long => c.long().map(drop),
        Encoding::Float => c.float().map(drop),
        Encoding::Double => c.double().map(drop),
        Encoding::String => c.skip_string(),
        Encoding::Struct => {
            if depth > MAX_DEPTH {
                return Err(Fault::Invalid("types nested too deeply"));
            }
            for f in &t.fields {
                if f.array {
                    let n = c.count()?;
                    for _ in 0..n {
                        skip_one(meta, c, f.ty, f.pooled, depth + 1)?;
                    }
                } else {
                    skip_one(meta, c, f.ty, f.pooled, depth + 1)?;
                }
            }
            Ok(())
        }
    }
}

/// Decodes one value of field `f`.
pub(crate) fn read_field(meta: &Metadata, c: &mut Cursor<'_>, f: &Field) -> Decoded<Value> {
    if f.array {
        let n = c.count()?;
        let mut items = Vec::with_capacity(n.min(256));
        for _ in 0..n {
            items.push(read_one(meta, c, f.ty, f.pooled, 0)?);
        }
        Ok(Value::Array(items))
    } else {
        read_one(meta, c, f.ty, f.pooled, 0)
    }
}

/// Decodes one value of type `ty`.
pub(crate) fn read_one(
    meta: &Metadata,
    c: &mut Cursor<'_>,
    ty: usize,
    pooled: bool,
    depth: u32,
) -> Decoded<Value> {
    if pooled {
        return Ok(Value::Ref {
            ty,
            key: c.long()? as u64,
        });
    }
    let t = meta.types.get(ty).ok_or(Fault::Invalid("unknown type"))?;
    Ok(match t.encoding {
        Encoding::Boolean => Value::Bool(c.u8()? != 0),
        Encoding::Byte => Value::Int(i64::from(c.u8()? as i8)),
        Encoding::Char => Value::Int(i64::from(c.char()?)),
        Encoding::Short => Value::Int(i64::from(c.short()?)),
        Encoding::Int => Value::Int(i64::from(c.int()?)),
        Encoding::Long => Value::Int(c.long()?),
        Encoding::Float => Value::Float(f64::from(c.float()?)),
        Encoding::Double => Value::Float(c.double()?),
        Encoding::String => match c.string()? {
            RawString::Pool(key) => Value::Ref { ty, key },
            s => Value::Str(s.text().map(String::into_boxed_str)),
        },
        Encoding::Struct => {
            if depth > MAX_DEPTH {
                return Err(Fault::Invalid("types nested too deeply"));
            }
            let mut fields = Vec::with_capacity(t.fields.len());
            for f in &t.fields {
                if f.array {
                    let n = c.count()?;
                    let mut items = Vec::with_capacity(n.min(256));
                    for _ in 0..n {
                        items.push(read_one(meta, c, f.ty, f.pooled, depth + 1)?);
                    }
                    fields.push(Value::Array(items));
                } else {
                    fields.push(read_one(meta, c, f.ty, f.pooled, depth + 1)?);
                }
            }
            Value::Struct(fields)
        }
    })
}

/// How a field is read: most are one integer or pool key, decoded without
/// a look at the type tree.
pub(crate) enum Read {
    /// A pool key of the metadata type.
    Key(usize),
    /// An integer of this encoding.
    Integer(Encoding),
    /// Anything else (strings, floats, structs, arrays), by its type.
    Value(Field),
}

impl Read {
    pub(crate) fn of(f: &Field, meta: &Metadata) -> Read {
        if f.array {
            return Read::Value(f.clone());
        }
        if f.pooled {
            return Read::Key(f.ty);
        }
        match meta.types[f.ty].encoding {
            e @ (Encoding::Boolean
            | Encoding::Byte
            | Encoding::Char
            | Encoding::Short
            | Encoding::Int
            | Encoding::Long) => Read::Integer(e),
            _ => Read::Value(f.clone()),
        }
    }

    /// Decodes the field's value.
    #[inline]
    pub(crate) fn read(&self, meta: &Metadata, c: &mut Cursor<'_>) -> Decoded<Value> {
        Ok(match self {
            Read::Key(ty) => Value::Ref {
                ty: *ty,
                key: c.long()? as u64,
            },
            Read::Integer(Encoding::Boolean) => Value::Bool(c.u8()? != 0),
            Read::Integer(Encoding::Byte) => Value::Int(i64::from(c.u8()? as i8)),
            Read::Integer(Encoding::Char) => Value::Int(i64::from(c.char()?)),
            Read::Integer(Encoding::Short) => Value::Int(i64::from(c.short()?)),
            Read::Integer(Encoding::Int) => Value::Int(i64::from(c.int()?)),
            Read::Integer(_) => Value::Int(c.long()?),
            Read::Value(f) => read_field(meta, c, f)?,
        })
    }

    /// Skips the field's value.
    #[inline]
    pub(crate) fn skip(&self, meta: &Metadata, c: &mut Cursor<'_>) -> Decoded<()> {
        match self {
            Read::Key(_) => c.skip_integer(8),
            Read::Integer(Encoding::Boolean | Encoding::Byte) => c.u8().map(drop),
            Read::Integer(Encoding::Char | Encoding::Short) => c.skip_integer(2),
            Read::Integer(Encoding::Int) => c.skip_integer(4),
            Read::Integer(_) => c.skip_integer(8),
            Read::Value(f) => skip_field(meta, c, f),
        }
    }
}
