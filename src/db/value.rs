//! Values stored in the keyspace and their encodings. Each data type is one
//! variant; its encoding is part of the representation so OBJECT ENCODING
//! reports what is really stored.

use std::borrow::Cow;

use super::thin::ThinBuf;
use crate::util::num::{fmt_i64, parse_i64};

/// Redis stores strings of up to 44 bytes in one allocation with their
/// object header ("embstr"); we report the same boundary.
pub const EMBSTR_MAX: usize = 44;

/// Longest string kept inside the value itself (`StrVal::Tiny`).
pub const TINY_MAX: usize = 14;

/// A string of up to `TINY_MAX` bytes stored in the 16 bytes a value takes
/// anyway: reading or overwriting it costs no pointer chase (a cache miss
/// per command on a large keyspace) and no allocation.
#[derive(Clone, Copy, PartialEq)]
pub struct TinyStr {
    len: u8,
    buf: [u8; TINY_MAX],
}

impl TinyStr {
    fn new(b: &[u8]) -> Option<TinyStr> {
        if b.len() > TINY_MAX {
            return None;
        }
        let mut buf = [0; TINY_MAX];
        buf[..b.len()].copy_from_slice(b);
        Some(TinyStr {
            len: b.len() as u8,
            buf,
        })
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.buf[..(self.len as usize).min(TINY_MAX)]
    }
}

/// A byte string kept inline up to `TINY_MAX` bytes, else in a `ThinBuf`:
/// a hashtable hash's values, where it saves a 32-byte block and a cache
/// miss per field for values such as `value:0000001`.
#[derive(Clone, PartialEq)]
pub enum SmallBuf {
    Tiny(TinyStr),
    Heap(ThinBuf),
}

impl SmallBuf {
    pub fn from_slice(b: &[u8]) -> SmallBuf {
        match TinyStr::new(b) {
            Some(t) => SmallBuf::Tiny(t),
            None => SmallBuf::Heap(ThinBuf::from_slice(b)),
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            SmallBuf::Tiny(t) => t.as_slice(),
            SmallBuf::Heap(b) => b.as_slice(),
        }
    }
}

impl std::fmt::Debug for SmallBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

impl std::fmt::Debug for TinyStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_slice()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrVal {
    /// A string that is the canonical form of a 64-bit integer.
    Int(i64),
    /// An integer copied by COPY: Redis duplicates the object, so even a
    /// small value is not the shared one (OBJECT REFCOUNT says 1).
    IntCopy(i64),
    /// A short string as SET created it (OBJECT ENCODING says embstr).
    Tiny(TinyStr),
    /// A short string as SET created it, too long for `Tiny`.
    Emb(ThinBuf),
    /// A longer string, or one changed in place (APPEND, SETRANGE).
    Raw(ThinBuf),
}

impl StrVal {
    /// The encoding Redis would choose for a freshly written string.
    pub fn from_bytes(b: &[u8]) -> StrVal {
        if b.len() <= 20 {
            if let Some(i) = parse_i64(b) {
                return StrVal::Int(i);
            }
        }
        StrVal::text_of(b)
    }

    pub fn from_vec(v: Vec<u8>) -> StrVal {
        StrVal::from_bytes(&v)
    }

    /// Text kept as text even when it reads as an integer: Redis does not
    /// integer-encode the result of INCRBYFLOAT (OBJECT ENCODING says
    /// embstr), only values that come from arguments.
    pub fn text(v: Vec<u8>) -> StrVal {
        StrVal::text_of(&v)
    }

    fn text_of(b: &[u8]) -> StrVal {
        if let Some(t) = TinyStr::new(b) {
            StrVal::Tiny(t)
        } else if b.len() <= EMBSTR_MAX {
            StrVal::Emb(ThinBuf::from_slice(b))
        } else {
            StrVal::Raw(ThinBuf::from_slice(b))
        }
    }

    pub fn as_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            StrVal::Int(i) | StrVal::IntCopy(i) => {
                let mut v = Vec::with_capacity(20);
                fmt_i64(*i, &mut v);
                Cow::Owned(v)
            }
            StrVal::Tiny(t) => Cow::Borrowed(t.as_slice()),
            StrVal::Emb(b) | StrVal::Raw(b) => Cow::Borrowed(b.as_slice()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StrVal::Int(i) | StrVal::IntCopy(i) => {
                let mut n = if *i < 0 { 2 } else { 1 };
                let mut x = i.unsigned_abs();
                while x >= 10 {
                    x /= 10;
                    n += 1;
                }
                n
            }
            StrVal::Tiny(t) => t.as_slice().len(),
            StrVal::Emb(b) | StrVal::Raw(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The string as an integer, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            StrVal::Int(i) | StrVal::IntCopy(i) => Some(*i),
            StrVal::Tiny(t) => parse_i64(t.as_slice()),
            StrVal::Emb(b) | StrVal::Raw(b) => parse_i64(b.as_slice()),
        }
    }

    /// Converts to the mutable raw form for in-place edits.
    pub fn make_raw(&mut self) -> &mut ThinBuf {
        if !matches!(self, StrVal::Raw(_)) {
            *self = StrVal::Raw(ThinBuf::from_slice(&self.as_bytes()));
        }
        match self {
            StrVal::Raw(v) => v,
            _ => unreachable!("converted to Raw above"),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrVal::Int(_) | StrVal::IntCopy(_) => "int",
            StrVal::Tiny(_) | StrVal::Emb(_) => "embstr",
            StrVal::Raw(_) => "raw",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(StrVal),
    List(Box<super::list::List>),
    Hash(Box<super::hash::Hash>),
    Set(Box<super::set::Set>),
    ZSet(Box<super::zset::ZSet>),
    Stream(Box<super::stream::Stream>),
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// The value a COPY of this one holds (see `StrVal::IntCopy`).
    pub fn copy(&self) -> Value {
        match self {
            Value::Str(StrVal::Int(i)) => Value::Str(StrVal::IntCopy(*i)),
            v => v.clone(),
        }
    }

    pub fn as_str_mut(&mut self) -> Option<&mut StrVal> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list_mut(&mut self) -> Option<&mut super::list::List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut super::hash::Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    pub fn as_set_mut(&mut self) -> Option<&mut super::set::Set> {
        match self {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_stream_mut(&mut self) -> Option<&mut super::stream::Stream> {
        match self {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_zset_mut(&mut self) -> Option<&mut super::zset::ZSet> {
        match self {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }

    /// Number of elements (1 for a string): what freeing costs.
    pub fn elements(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(l) => l.len(),
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Stream(s) => s.len(),
        }
    }

    pub fn bytes(b: &[u8]) -> Value {
        Value::Str(StrVal::from_bytes(b))
    }
}

/// A keyspace slot: the value and its access metadata.
#[derive(Debug, Clone)]
pub struct Entry {
    pub val: Value,
    /// Last access, in seconds of the LRU clock (see `db::lru_clock`).
    pub lru: u32,
    /// The snapshot epoch that has saved this entry (see `db::snap`).
    pub snap: u8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_small() {
        // A keyspace node is next pointer + Entry + key; these sizes keep it
        // in a 48-byte allocation for keys up to 15 bytes.
        assert_eq!(std::mem::size_of::<StrVal>(), 16);
        assert_eq!(std::mem::size_of::<SmallBuf>(), 16);
        assert_eq!(std::mem::size_of::<Value>(), 16);
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }

    #[test]
    fn encodings() {
        assert_eq!(StrVal::from_bytes(b"123").encoding(), "int");
        assert_eq!(StrVal::from_bytes(b"0123").encoding(), "embstr");
        assert!(matches!(StrVal::from_bytes(b"0123"), StrVal::Tiny(_)));
        for n in [0, 1, TINY_MAX, TINY_MAX + 1, EMBSTR_MAX] {
            let v = vec![b'v'; n];
            let s = StrVal::from_bytes(&v);
            assert_eq!(s.encoding(), "embstr", "{n} bytes");
            assert_eq!(&*s.as_bytes(), &v[..]);
            assert_eq!(s.len(), n);
        }
        assert_eq!(StrVal::from_bytes(&[b'x'; 45]).encoding(), "raw");
        let mut s = StrVal::from_bytes(b"ab");
        s.make_raw().extend_from_slice(b"cd");
        assert_eq!(&*s.as_bytes(), b"abcd");
        assert_eq!(s.encoding(), "raw");
    }
}
