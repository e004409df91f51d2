//! Just enough of the class-file format to read a class's own name from
//! its bytes (ClassFileLoadHook passes a null name for some definitions).
//! Malformed bytes give `None`, never a panic: this runs inside the JVM.

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
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
}

#[derive(Clone, Copy)]
enum Constant<'a> {
    Utf8(&'a [u8]),
    Class { name_index: u16 },
    Other,
}

/// The internal name (`com/acme/Foo`) in `this_class`, if the bytes parse.
pub fn this_class_name(bytes: &[u8]) -> Option<&str> {
    let mut r = Reader { bytes, pos: 0 };
    if r.u32()? != 0xCAFE_BABE {
        return None;
    }
    r.u16()?; // minor
    r.u16()?; // major
    let count = r.u16()? as usize;
    // Bounded by the u16 count, so at most 64K small entries.
    let mut pool: Vec<Constant<'_>> = Vec::with_capacity(count);
    pool.push(Constant::Other); // index 0 is unused
    while pool.len() < count {
        let tag = r.u8()?;
        let (entry, wide) = match tag {
            1 => {
                let len = r.u16()? as usize;
                (Constant::Utf8(r.take(len)?), false)
            }
            7 => (
                Constant::Class {
                    name_index: r.u16()?,
                },
                false,
            ),
            8 | 16 | 19 | 20 => {
                r.u16()?;
                (Constant::Other, false)
            }
            15 => {
                r.take(3)?;
                (Constant::Other, false)
            }
            3 | 4 | 9 | 10 | 11 | 12 | 17 | 18 => {
                r.u32()?;
                (Constant::Other, false)
            }
            5 | 6 => {
                r.take(8)?;
                (Constant::Other, true)
            }
            _ => return None,
        };
        pool.push(entry);
        if wide {
            pool.push(Constant::Other); // longs and doubles take two slots
        }
    }
    r.u16()?; // access flags
    let this_class = r.u16()? as usize;
    let Constant::Class { name_index } = *pool.get(this_class)? else {
        return None;
    };
    let Constant::Utf8(name) = *pool.get(name_index as usize)? else {
        return None;
    };
    std::str::from_utf8(name).ok()
}

/// What a reflection accessor invokes. PLACEHOLDER until the decoder lands.
pub fn accessor_target(_bytes: &[u8]) -> Option<String> {
    None
}

/// A name-independent hash of a generated class. PLACEHOLDER until the decoder lands.
pub fn fingerprint(_bytes: &[u8]) -> Option<u64> {
    None
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

    #[test]
    fn reads_this_class() {
        assert_eq!(
            this_class_name(&class_bytes("com/acme/Gen_1")),
            Some("com/acme/Gen_1")
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
        }
    }
}
