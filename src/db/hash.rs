//! The Hash value type, with Redis's two encodings:
//!
//! * "listpack": a compact byte buffer of field, value, field, value...
//!   entries, each a LEB128 length then the bytes, kept in insertion order
//!   (so HGETALL on a small hash replies in the order Redis does). Used while
//!   the hash has at most `hash-max-listpack-entries` fields and no field or
//!   value longer than `hash-max-listpack-value`.
//! * "hashtable": a [`Dict`] from field to value, so HSCAN has the SCAN
//!   guarantees and random sampling is cheap.
//!
//! A listpack becomes a hashtable once a threshold is crossed and never goes
//! back, as in Redis.
//!
//! [`Packed`] (the compact buffer) is shared with the set type.

use std::alloc::{alloc, dealloc, handle_alloc_error, realloc, Layout};
use std::ptr::NonNull;

use rand::Rng;

use super::dict::Dict;
use super::value::SmallBuf;

// ---------------------------------------------------------------------------
// Packed: an exact-size byte buffer behind one thin pointer.
// ---------------------------------------------------------------------------

/// Header: total data bytes (u32) and an element count (u32) owned by the
/// user of the buffer.
const HDR: usize = 8;

/// Largest data a [`Packed`] holds; callers convert to a table long before
/// (Redis converts listpacks at 1 GB for safety).
pub const PACKED_MAX: usize = 1 << 30;

/// A byte buffer allocated to its exact length (jemalloc's size classes
/// absorb most reallocations), with a 32-bit element count, behind an 8-byte
/// pointer. Like a Redis listpack/intset blob, it is one allocation.
pub struct Packed {
    ptr: NonNull<u8>,
}

// Safety: Packed owns its block exclusively, like a Vec<u8>.
unsafe impl Send for Packed {}
unsafe impl Sync for Packed {}

fn packed_layout(len: usize) -> Layout {
    // len <= PACKED_MAX, so this cannot fail.
    Layout::from_size_align(HDR + len, 4).unwrap_or_else(|_| Layout::new::<u64>())
}

impl Default for Packed {
    fn default() -> Self {
        Self::new()
    }
}

impl Packed {
    pub fn new() -> Packed {
        Self::with_len(0)
    }

    /// A buffer of `len` zeroed data bytes and count 0.
    fn with_len(len: usize) -> Packed {
        let l = packed_layout(len);
        // Safety: non-zero size.
        let p = unsafe { alloc(l) };
        let Some(ptr) = NonNull::new(p) else {
            handle_alloc_error(l)
        };
        let mut b = Packed { ptr };
        b.set_len(len);
        b.set_count(0);
        b
    }

    /// A buffer holding `data` with count `count`.
    pub fn from_parts(data: &[u8], count: usize) -> Packed {
        let mut b = Self::with_len(data.len());
        b.data_mut().copy_from_slice(data);
        b.set_count(count);
        b
    }

    fn hdr(&self) -> *mut u32 {
        self.ptr.as_ptr() as *mut u32
    }

    /// Data bytes.
    pub fn len(&self) -> usize {
        // Safety: the header is initialised and 4-aligned.
        unsafe { *self.hdr() as usize }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn count(&self) -> usize {
        // Safety: as in len.
        unsafe { *self.hdr().add(1) as usize }
    }

    fn set_len(&self, n: usize) {
        // Safety: as in len.
        unsafe { *self.hdr() = n as u32 }
    }

    pub fn set_count(&mut self, n: usize) {
        // Safety: as in len.
        unsafe { *self.hdr().add(1) = n as u32 }
    }

    pub fn data(&self) -> &[u8] {
        // Safety: the len bytes after the header are initialised.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(HDR), self.len()) }
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        // Safety: as in data, with exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(HDR), self.len()) }
    }

    fn resize(&mut self, new_len: usize) {
        let old = self.len();
        if new_len == old {
            return;
        }
        // Safety: ptr was allocated with packed_layout(old).
        let p = unsafe { realloc(self.ptr.as_ptr(), packed_layout(old), HDR + new_len) };
        let Some(ptr) = NonNull::new(p) else {
            handle_alloc_error(packed_layout(new_len))
        };
        self.ptr = ptr;
        self.set_len(new_len);
    }

    /// Replaces data bytes `start..end` with `with`.
    pub fn splice(&mut self, start: usize, end: usize, with: &[u8]) {
        let old = self.len();
        debug_assert!(start <= end && end <= old);
        let new_len = old - (end - start) + with.len();
        if with.len() > end - start {
            self.resize(new_len);
        }
        let base = self.ptr.as_ptr();
        // Safety: both ranges are inside the (possibly grown) block; copy
        // handles overlap.
        unsafe {
            let d = base.add(HDR);
            std::ptr::copy(d.add(end), d.add(start + with.len()), old - end);
            std::ptr::copy_nonoverlapping(with.as_ptr(), d.add(start), with.len());
        }
        if with.len() < end - start {
            self.resize(new_len);
        }
    }

    /// Appends raw bytes.
    pub fn append(&mut self, b: &[u8]) {
        let l = self.len();
        self.splice(l, l, b);
    }

    /// Entries (LEB128 length + bytes) in order.
    pub fn entries(&self) -> Entries<'_> {
        Entries { d: self.data(), pos: 0 }
    }

    /// Bytes an entry of `len` takes.
    pub fn entry_size(len: usize) -> usize {
        varint_len(len) + len
    }

    pub fn encode_entry(s: &[u8], out: &mut Vec<u8>) {
        let mut n = s.len();
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(s);
    }

    /// Appends one entry and counts it.
    pub fn push_entry(&mut self, s: &[u8]) {
        let mut v = Vec::with_capacity(s.len() + 5);
        Self::encode_entry(s, &mut v);
        self.append(&v);
        let c = self.count();
        self.set_count(c + 1);
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Iterates entries, yielding (start offset, bytes, end offset).
pub struct Entries<'a> {
    d: &'a [u8],
    pos: usize,
}

impl<'a> Entries<'a> {
    pub fn next_pos(&mut self) -> Option<(usize, &'a [u8], usize)> {
        if self.pos >= self.d.len() {
            return None;
        }
        let start = self.pos;
        let mut p = self.pos;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let b = self.d[p];
            p += 1;
            len |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let s = &self.d[p..p + len];
        self.pos = p + len;
        Some((start, s, self.pos))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_pos().map(|(_, s, _)| s)
    }
}

impl Drop for Packed {
    fn drop(&mut self) {
        // Safety: allocated with packed_layout(len).
        unsafe { dealloc(self.ptr.as_ptr(), packed_layout(self.len())) }
    }
}

impl Clone for Packed {
    fn clone(&self) -> Self {
        Packed::from_parts(self.data(), self.count())
    }
}

impl PartialEq for Packed {
    fn eq(&self, o: &Self) -> bool {
        self.count() == o.count() && self.data() == o.data()
    }
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries().map(String::from_utf8_lossy))
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Hash
// ---------------------------------------------------------------------------

/// Conversion thresholds (hash-max-listpack-entries / -value).
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    pub entries: usize,
    pub value: usize,
}

pub enum Hash {
    /// Field/value entries; the count is the number of entries (2 per field).
    Lp(Packed),
    Ht(Box<Dict<SmallBuf>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Lp(Packed::new())
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Lp(_) => "listpack",
            Hash::Ht(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Lp(p) => p.count() / 2,
            Hash::Ht(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// In a listpack: (field start, value start, value bytes, value end).
    fn lp_find<'a>(p: &'a Packed, field: &[u8]) -> Option<(usize, usize, &'a [u8], usize)> {
        let mut it = p.entries();
        while let Some((fs, f, _)) = it.next_pos() {
            let (vs, v, ve) = it.next_pos()?;
            if f == field {
                return Some((fs, vs, v, ve));
            }
        }
        None
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Lp(p) => Self::lp_find(p, field).map(|(_, _, v, _)| v),
            Hash::Ht(d) => d.get(field).map(|v| v.as_slice()),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts a listpack to a hashtable (no-op for a hashtable).
    pub fn convert(&mut self) {
        if let Hash::Lp(p) = self {
            let mut d: Dict<SmallBuf> = Dict::new();
            let mut it = p.entries();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                d.insert(f, SmallBuf::from_slice(v));
            }
            *self = Hash::Ht(Box::new(d));
        }
    }

    /// Sets a field; true if it was new. Converts to a hashtable first when
    /// the field or value is too long for a listpack, and after inserting
    /// when there are too many fields.
    pub fn set(&mut self, field: &[u8], val: &[u8], lim: HashLimits) -> bool {
        if let Hash::Lp(p) = self {
            if field.len() > lim.value
                || val.len() > lim.value
                || p.len() + field.len() + val.len() + 20 > PACKED_MAX
            {
                self.convert();
            }
        }
        match self {
            Hash::Lp(p) => {
                if let Some((_, vs, _, ve)) = Self::lp_find(p, field) {
                    let mut e = Vec::with_capacity(val.len() + 5);
                    Packed::encode_entry(val, &mut e);
                    p.splice(vs, ve, &e);
                    false
                } else {
                    let mut e = Vec::with_capacity(field.len() + val.len() + 10);
                    Packed::encode_entry(field, &mut e);
                    Packed::encode_entry(val, &mut e);
                    p.append(&e);
                    let c = p.count();
                    p.set_count(c + 2);
                    if c / 2 + 1 > lim.entries {
                        self.convert();
                    }
                    true
                }
            }
            Hash::Ht(d) => {
                if let Some(v) = d.get_mut(field) {
                    *v = SmallBuf::from_slice(val);
                    false
                } else {
                    d.insert_new(field, SmallBuf::from_slice(val));
                    true
                }
            }
        }
    }

    /// Removes a field; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Lp(p) => match Self::lp_find(p, field) {
                Some((fs, _, _, ve)) => {
                    p.splice(fs, ve, &[]);
                    let c = p.count();
                    p.set_count(c - 2);
                    true
                }
                None => false,
            },
            Hash::Ht(d) => d.remove(field).is_some(),
        }
    }

    /// Fields and values, in listpack order for a listpack.
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Lp(p) => HashIter::Lp(p.entries()),
            Hash::Ht(d) => HashIter::Ht(Box::new(d.iter().map(|(k, v)| (k, v.as_slice())))),
        }
    }

    /// A random field and value.
    pub fn random<R: Rng>(&self, rng: &mut R) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Lp(p) => {
                let n = p.count() / 2;
                if n == 0 {
                    return None;
                }
                let i = rng.gen_range(0..n);
                let mut it = p.entries().skip(2 * i);
                Some((it.next()?, it.next()?))
            }
            Hash::Ht(d) => d.random(rng).map(|(k, v)| (k, v.as_slice())),
        }
    }

    /// All pairs (for random selection over small encodings).
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        self.iter().collect()
    }

    /// SCAN step: small encodings return everything with cursor 0.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            Hash::Lp(_) => {
                for (k, v) in self.iter() {
                    f(k, v);
                }
                0
            }
            Hash::Ht(d) => d.scan(cursor, count, |k, v| f(k, v.as_slice())),
        }
    }
}

pub enum HashIter<'a> {
    Lp(Entries<'a>),
    Ht(Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Lp(e) => Some((e.next()?, e.next()?)),
            HashIter::Ht(i) => i.next(),
        }
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match self {
            Hash::Lp(p) => Hash::Lp(p.clone()),
            Hash::Ht(d) => {
                let mut n: Dict<SmallBuf> = Dict::new();
                for (k, v) in d.iter() {
                    n.insert_new(k, v.clone());
                }
                Hash::Ht(Box::new(n))
            }
        }
    }
}

impl PartialEq for Hash {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.iter().all(|(k, v)| o.get(k) == Some(v))
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: HashLimits = HashLimits { entries: 4, value: 8 };

    #[test]
    fn listpack_ops_and_conversion() {
        assert_eq!(std::mem::size_of::<Hash>(), 16);
        let mut h = Hash::new();
        assert!(h.set(b"a", b"1", LIM));
        assert!(h.set(b"b", b"2", LIM));
        assert!(!h.set(b"a", b"111", LIM));
        assert_eq!(h.get(b"a"), Some(&b"111"[..]));
        assert_eq!(h.len(), 2);
        let order: Vec<_> = h.iter().map(|(k, _)| k.to_vec()).collect();
        assert_eq!(order, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 1);
        assert_eq!(h.encoding(), "listpack");
        for i in 0..4 {
            h.set(format!("f{i}").as_bytes(), b"v", LIM);
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        let mut h2 = Hash::new();
        h2.set(b"x", b"123456789", LIM);
        assert_eq!(h2.encoding(), "hashtable");
        let long = vec![b'z'; 300];
        let mut h3 = Hash::new();
        h3.set(&long, b"", HashLimits { entries: 10, value: 1000 });
        assert_eq!(h3.get(&long), Some(&b""[..]));
        assert_eq!(h3.clone(), h3);
    }
}
