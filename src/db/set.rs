//! The Set value type, with Redis 7.2's three encodings:
//!
//! * "intset": a sorted array of fixed-width integers (2, 4 or 8 bytes,
//!   widened when a bigger value arrives, never narrowed), used while every
//!   member is the canonical text of a 64-bit integer and there are at most
//!   `set-max-intset-entries` of them. Iteration is in numeric order.
//! * "listpack": a compact byte buffer of length-prefixed members in
//!   insertion order, while there are at most `set-max-listpack-entries`
//!   members none longer than `set-max-listpack-value`.
//! * "hashtable": a [`Dict`], for SSCAN's guarantees and cheap sampling.
//!
//! Conversions only go towards "hashtable", as in Redis.

use std::borrow::Cow;

use rand::Rng;

use super::dict::Dict;
use super::hash::{Packed, PACKED_MAX};
use crate::util::num::{fmt_i64, parse_i64};

/// Conversion thresholds.
#[derive(Debug, Clone, Copy)]
pub struct SetLimits {
    pub intset: usize,
    pub lp_entries: usize,
    pub lp_value: usize,
}

impl SetLimits {
    fn intset_max(&self) -> usize {
        // Redis caps intsets at 1G entries whatever the setting.
        self.intset.min(1 << 30)
    }
}

/// A member as stored: an integer of an intset or bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match *self {
            Elem::Int(i) => {
                let mut v = Vec::with_capacity(20);
                fmt_i64(i, &mut v);
                Cow::Owned(v)
            }
            Elem::Str(s) => Cow::Borrowed(s),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes().into_owned()
    }
}

// ---------------------------------------------------------------------------
// IntSet
// ---------------------------------------------------------------------------

/// Sorted fixed-width integers in a [`Packed`] buffer; the count is the
/// number of integers and the width is bytes / count.
#[derive(Clone, PartialEq, Default)]
pub struct IntSet(Packed);

fn width_for(v: i64) -> usize {
    if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
        2
    } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn len(&self) -> usize {
        self.0.count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn width(&self) -> usize {
        let n = self.len();
        if n == 0 {
            2
        } else {
            self.0.len() / n
        }
    }

    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let d = &self.0.data()[i * w..i * w + w];
        match w {
            2 => i16::from_le_bytes([d[0], d[1]]) as i64,
            4 => i32::from_le_bytes([d[0], d[1], d[2], d[3]]) as i64,
            _ => i64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]]),
        }
    }

    fn enc(v: i64, w: usize, out: &mut Vec<u8>) {
        match w {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }

    pub fn search(&self, v: i64) -> Result<usize, usize> {
        let n = self.len();
        if n == 0 || width_for(v) > self.width() {
            // Out of this width's range: before all or after all.
            return Err(if v < 0 { 0 } else { n });
        }
        let (mut lo, mut hi) = (0usize, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let x = self.get(mid);
            if x == v {
                return Ok(mid);
            } else if x < v {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Inserts; false if present.
    pub fn insert(&mut self, v: i64) -> bool {
        let w = self.width();
        let need = width_for(v);
        if need > w || self.is_empty() {
            if self.is_empty() {
                let mut b = Vec::with_capacity(need);
                Self::enc(v, need, &mut b);
                self.0 = Packed::from_parts(&b, 1);
                return true;
            }
            // Widen: v is beyond every element, at one end.
            let n = self.len();
            let mut b = Vec::with_capacity((n + 1) * need);
            if v < 0 {
                Self::enc(v, need, &mut b);
            }
            for i in 0..n {
                Self::enc(self.get(i), need, &mut b);
            }
            if v >= 0 {
                Self::enc(v, need, &mut b);
            }
            self.0 = Packed::from_parts(&b, n + 1);
            return true;
        }
        match self.search(v) {
            Ok(_) => false,
            Err(i) => {
                let mut b = Vec::with_capacity(8);
                Self::enc(v, w, &mut b);
                let c = self.len();
                self.0.splice(i * w, i * w, &b);
                self.0.set_count(c + 1);
                true
            }
        }
    }

    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(i) => {
                let w = self.width();
                let c = self.len();
                self.0.splice(i * w, i * w + w, &[]);
                // Keep the width derivable: an emptied set has no bytes.
                self.0.set_count(c - 1);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }

    /// Bytes of its memory block (for tests).
    pub fn blob_len(&self) -> usize {
        self.0.len()
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// ---------------------------------------------------------------------------
// Set
// ---------------------------------------------------------------------------

pub enum Set {
    Int(IntSet),
    /// Members in insertion order; the count is the number of members.
    Lp(Packed),
    Ht(Box<Dict<()>>),
}

impl Default for Set {
    fn default() -> Self {
        Set::Int(IntSet::default())
    }
}

fn lp_find(p: &Packed, m: &[u8]) -> Option<(usize, usize)> {
    let mut it = p.entries();
    while let Some((s, e, end)) = it.next_pos() {
        if e == m {
            return Some((s, end));
        }
    }
    None
}

impl Set {
    /// An empty set of the encoding Redis picks for a set about to receive
    /// `hint` members, the first being `first`.
    pub fn create(first: &[u8], hint: usize, lim: SetLimits) -> Set {
        if parse_i64(first).is_some() && hint <= lim.intset_max() {
            Set::Int(IntSet::default())
        } else if hint <= lim.lp_entries {
            Set::Lp(Packed::new())
        } else {
            Set::Ht(Box::default())
        }
    }

    /// A set built from `members` as Redis builds command results: starting
    /// as an intset and converting as members are added.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>, lim: SetLimits) -> Set {
        let mut s = Set::default();
        for m in members {
            s.add(m, lim);
        }
        s
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Int(_) => "intset",
            Set::Lp(_) => "listpack",
            Set::Ht(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Int(i) => i.len(),
            Set::Lp(p) => p.count(),
            Set::Ht(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            Set::Int(i) => parse_i64(m).is_some_and(|v| i.contains(v)),
            Set::Lp(p) => lp_find(p, m).is_some(),
            Set::Ht(d) => d.contains_key(m),
        }
    }

    pub fn contains_elem(&self, e: &Elem) -> bool {
        match (self, e) {
            (Set::Int(i), Elem::Int(v)) => i.contains(*v),
            (_, e) => self.contains(&e.bytes()),
        }
    }

    fn to_table(&mut self) {
        let mut d: Dict<()> = Dict::new();
        for e in self.iter() {
            d.insert_new(&e.bytes(), ());
        }
        *self = Set::Ht(Box::new(d));
    }

    /// Adds a member; true if it was new.
    pub fn add(&mut self, m: &[u8], lim: SetLimits) -> bool {
        match self {
            Set::Int(is) => {
                if let Some(v) = parse_i64(m) {
                    if !is.insert(v) {
                        return false;
                    }
                    if is.len() > lim.intset_max() {
                        self.to_table();
                    }
                    return true;
                }
                // A non-integer: a listpack if all would fit one.
                let n = is.len();
                let max_digits = if n == 0 {
                    0
                } else {
                    let (lo, hi) = (is.get(0), is.get(n - 1));
                    Elem::Int(lo).bytes().len().max(Elem::Int(hi).bytes().len())
                };
                if n < lim.lp_entries && m.len() <= lim.lp_value && max_digits <= lim.lp_value {
                    let mut p = Packed::new();
                    let mut buf = Vec::new();
                    for v in is.iter() {
                        Packed::encode_entry(&Elem::Int(v).bytes(), &mut buf);
                    }
                    Packed::encode_entry(m, &mut buf);
                    p.append(&buf);
                    p.set_count(n + 1);
                    *self = Set::Lp(p);
                } else {
                    self.to_table();
                    self.add(m, lim);
                }
                true
            }
            Set::Lp(p) => {
                if lp_find(p, m).is_some() {
                    return false;
                }
                if p.count() < lim.lp_entries
                    && m.len() <= lim.lp_value
                    && p.len() + m.len() + 10 <= PACKED_MAX
                {
                    p.push_entry(m);
                } else {
                    self.to_table();
                    self.add(m, lim);
                }
                true
            }
            Set::Ht(d) => {
                if d.contains_key(m) {
                    false
                } else {
                    d.insert_new(m, ());
                    true
                }
            }
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            Set::Int(is) => parse_i64(m).is_some_and(|v| is.remove(v)),
            Set::Lp(p) => match lp_find(p, m) {
                Some((s, e)) => {
                    p.splice(s, e, &[]);
                    let c = p.count();
                    p.set_count(c - 1);
                    true
                }
                None => false,
            },
            Set::Ht(d) => d.remove(m).is_some(),
        }
    }

    pub fn iter(&self) -> SetIter<'_> {
        match self {
            Set::Int(is) => SetIter::Int(is, 0),
            Set::Lp(p) => SetIter::Lp(p.entries()),
            Set::Ht(d) => SetIter::Ht(Box::new(d.iter().map(|(k, _)| k))),
        }
    }

    /// A random member.
    pub fn random<R: Rng>(&self, rng: &mut R) -> Option<Elem<'_>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        match self {
            Set::Int(is) => Some(Elem::Int(is.get(rng.gen_range(0..n)))),
            Set::Lp(p) => p.entries().nth(rng.gen_range(0..n)).map(Elem::Str),
            Set::Ht(d) => d.random(rng).map(|(k, _)| Elem::Str(k)),
        }
    }

    /// All members (small encodings, for sampling without replacement).
    pub fn members(&self) -> Vec<Elem<'_>> {
        self.iter().collect()
    }

    /// Removes and returns a random member.
    pub fn pop_random<R: Rng>(&mut self, rng: &mut R) -> Option<Vec<u8>> {
        let m = self.random(rng)?.to_vec();
        self.remove(&m);
        Some(m)
    }

    /// SCAN step: small encodings return everything with cursor 0.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Elem)) -> u64 {
        match self {
            Set::Ht(d) => d.scan(cursor, count, |k, _| f(Elem::Str(k))),
            _ => {
                for e in self.iter() {
                    f(e);
                }
                0
            }
        }
    }
}

pub enum SetIter<'a> {
    Int(&'a IntSet, usize),
    Lp(super::hash::Entries<'a>),
    Ht(Box<dyn Iterator<Item = &'a [u8]> + 'a>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            SetIter::Int(is, i) => {
                if *i < is.len() {
                    *i += 1;
                    Some(Elem::Int(is.get(*i - 1)))
                } else {
                    None
                }
            }
            SetIter::Lp(e) => e.next().map(Elem::Str),
            SetIter::Ht(it) => it.next().map(Elem::Str),
        }
    }
}

impl Clone for Set {
    fn clone(&self) -> Self {
        match self {
            Set::Int(i) => Set::Int(i.clone()),
            Set::Lp(p) => Set::Lp(p.clone()),
            Set::Ht(d) => {
                let mut n: Dict<()> = Dict::new();
                for (k, _) in d.iter() {
                    n.insert_new(k, ());
                }
                Set::Ht(Box::new(n))
            }
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.iter().all(|e| o.contains_elem(&e))
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|e| String::from_utf8_lossy(&e.bytes()).into_owned()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: SetLimits = SetLimits { intset: 5, lp_entries: 4, lp_value: 8 };

    #[test]
    fn intset_widths_and_order() {
        assert_eq!(std::mem::size_of::<Set>(), 16);
        let mut s = IntSet::default();
        for v in [5, -3, 70000, 1, i64::MIN, i64::MAX, 0] {
            assert!(s.insert(v));
        }
        assert!(!s.insert(70000));
        let all: Vec<i64> = s.iter().collect();
        assert_eq!(all, vec![i64::MIN, -3, 0, 1, 5, 70000, i64::MAX]);
        assert_eq!(s.blob_len(), 7 * 8);
        assert!(s.remove(i64::MIN));
        assert!(!s.contains(i64::MIN));
        assert!(s.contains(70000));
        let mut t = IntSet::default();
        t.insert(1);
        t.insert(2);
        assert_eq!(t.blob_len(), 4);
        t.insert(-40000);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![-40000, 1, 2]);
        assert_eq!(t.blob_len(), 12);
    }

    #[test]
    fn conversions() {
        let mut s = Set::create(b"1", 1, LIM);
        for m in ["1", "2", "3"] {
            s.add(m.as_bytes(), LIM);
        }
        assert_eq!(s.encoding(), "intset");
        s.add(b"abc", LIM);
        assert_eq!(s.encoding(), "listpack");
        assert!(s.contains(b"2") && s.contains(b"abc"));
        s.add(b"x", LIM);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 5);
        let mut t = Set::create(b"1", 1, LIM);
        for i in 0..6 {
            t.add(i.to_string().as_bytes(), LIM);
        }
        assert_eq!(t.encoding(), "hashtable");
        let mut u = Set::create(b"a", 1, LIM);
        u.add(b"a", LIM);
        u.add(b"123456789", LIM);
        assert_eq!(u.encoding(), "hashtable");
        assert_eq!(Set::create(b"a", 5, LIM).encoding(), "hashtable");
        assert_eq!(Set::create(b"1", 5, LIM).encoding(), "intset");
        assert_eq!(Set::create(b"01", 1, LIM).encoding(), "listpack");
    }
}
