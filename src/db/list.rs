//! The List value: a deque of compact byte nodes.
//!
//! Every node is one heap block (`Node`, a thin 8-byte pointer) holding its
//! elements back to back in the layout of the public listpack specification:
//! small integers take one or two bytes, other canonical integers at most
//! nine, strings a one-, two- or five-byte length header, and every entry
//! ends with its own length written backwards ("backlen") so a node can be
//! walked from either end.
//!
//! A small list is a single node (`List::Pack`, OBJECT ENCODING "listpack",
//! as in Redis 7.2). Once a push would take it beyond `list-max-listpack-size`
//! it becomes a `List::Quick`: a `VecDeque` of nodes each kept within that
//! limit (OBJECT ENCODING "quicklist"), so pushes and pops at both ends are
//! O(1) amortised (plus a memmove within one node for head inserts) and
//! positional access is O(nodes + node size). A quicklist that shrinks to
//! one node of at most half the limits becomes a listpack again.

use std::alloc::{alloc, dealloc, handle_alloc_error, realloc, Layout};
use std::collections::VecDeque;
use std::ptr::NonNull;

use crate::util::num::{fmt_i64, parse_i64};

// ---------------------------------------------------------------------------
// Limits from list-max-listpack-size.
// ---------------------------------------------------------------------------

/// Size limit of a node whose fill is a positive element count.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Listpack header (total bytes + count) plus its end byte: what a node
/// would weigh as a real listpack on top of its entries.
const LP_OVERHEAD: usize = 7;

/// How much one node may hold, from `list-max-listpack-size`: negative
/// values -1..-5 are 4, 8, 16, 32 or 64 KiB (smaller values count as -5),
/// positive values an element count (with an 8 KiB safety limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub bytes: usize,
    pub count: usize,
}

impl Limits {
    pub fn from_fill(fill: i64) -> Limits {
        if fill < 0 {
            let level = (-(fill.max(-5)) - 1) as u32;
            Limits {
                bytes: 4096usize << level,
                count: usize::MAX,
            }
        } else {
            Limits {
                bytes: SIZE_SAFETY_LIMIT,
                count: fill.max(1) as usize,
            }
        }
    }

    /// Whether a node of `bytes` listpack bytes and `count` entries is over.
    fn exceeded(&self, bytes: usize, count: usize) -> bool {
        bytes > self.bytes || count > self.count
    }

    /// The limits a quicklist must be under to turn back into a listpack:
    /// half of them, so that a list hovering around the limit does not
    /// convert back and forth.
    fn halved(&self) -> Limits {
        Limits {
            bytes: self.bytes / 2,
            count: if self.count == usize::MAX {
                usize::MAX
            } else {
                self.count / 2
            },
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::from_fill(-2)
    }
}

// ---------------------------------------------------------------------------
// Entry encoding.
// ---------------------------------------------------------------------------

/// One element as stored: a canonical integer or a byte string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// The element an argument is stored as: integers in their canonical
    /// text form are kept as numbers.
    pub fn of(v: &[u8]) -> Elem<'_> {
        if v.len() <= 20 {
            if let Some(i) = parse_i64(v) {
                return Elem::Int(i);
            }
        }
        Elem::Str(v)
    }

    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Elem::Int(i) => {
                let mut v = Vec::with_capacity(20);
                fmt_i64(i, &mut v);
                v
            }
            Elem::Str(s) => s.to_vec(),
        }
    }

    /// Equality with an element produced by `Elem::of` (an argument).
    #[inline]
    pub fn matches(&self, other: &Elem) -> bool {
        match (self, other) {
            (Elem::Int(a), Elem::Int(b)) => a == b,
            (Elem::Str(a), Elem::Str(b)) => a == b,
            _ => false,
        }
    }

    /// Bytes of encoding header plus data, without the backlen.
    fn enc_len(&self) -> usize {
        match *self {
            Elem::Int(i) => {
                if (0..=127).contains(&i) {
                    1
                } else if (-4096..=4095).contains(&i) {
                    2
                } else if (i16::MIN as i64..=i16::MAX as i64).contains(&i) {
                    3
                } else if (-(1 << 23)..(1 << 23)).contains(&i) {
                    4
                } else if (i32::MIN as i64..=i32::MAX as i64).contains(&i) {
                    5
                } else {
                    9
                }
            }
            Elem::Str(s) => {
                if s.len() < 64 {
                    1 + s.len()
                } else if s.len() < 4096 {
                    2 + s.len()
                } else {
                    5 + s.len()
                }
            }
        }
    }

    /// Whole entry size: encoding, data and backlen.
    fn entry_len(&self) -> usize {
        let l = self.enc_len();
        l + backlen_size(l)
    }

    /// Writes the entry into `dst`, which is exactly `entry_len()` long.
    fn write(&self, dst: &mut [u8]) {
        let l = self.enc_len();
        match *self {
            Elem::Int(i) => match l {
                1 => dst[0] = i as u8,
                2 => {
                    let u = (i as u16) & 0x1fff;
                    dst[0] = 0xc0 | (u >> 8) as u8;
                    dst[1] = u as u8;
                }
                3 => {
                    dst[0] = 0xf1;
                    dst[1..3].copy_from_slice(&(i as i16).to_le_bytes());
                }
                4 => {
                    dst[0] = 0xf2;
                    dst[1..4].copy_from_slice(&(i as i32).to_le_bytes()[..3]);
                }
                5 => {
                    dst[0] = 0xf3;
                    dst[1..5].copy_from_slice(&(i as i32).to_le_bytes());
                }
                _ => {
                    dst[0] = 0xf4;
                    dst[1..9].copy_from_slice(&i.to_le_bytes());
                }
            },
            Elem::Str(s) => {
                let n = s.len();
                let h = if n < 64 {
                    dst[0] = 0x80 | n as u8;
                    1
                } else if n < 4096 {
                    dst[0] = 0xe0 | (n >> 8) as u8;
                    dst[1] = n as u8;
                    2
                } else {
                    dst[0] = 0xf0;
                    dst[1..5].copy_from_slice(&(n as u32).to_le_bytes());
                    5
                };
                dst[h..h + n].copy_from_slice(s);
            }
        }
        write_backlen(l, &mut dst[l..]);
    }
}

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

/// 7-bit groups, most significant first; every byte but the first has the
/// high bit set, so reading backwards stops at the first byte without it.
fn write_backlen(l: usize, dst: &mut [u8]) {
    let n = backlen_size(l);
    for (k, b) in dst[..n].iter_mut().enumerate() {
        let shift = 7 * (n - 1 - k);
        let g = ((l >> shift) & 0x7f) as u8;
        *b = if k == 0 { g } else { g | 0x80 };
    }
}

/// Decodes the entry starting at `p`: the element and the entry's size.
#[inline]
fn decode(buf: &[u8], p: usize) -> (Elem<'_>, usize) {
    let b = buf[p];
    let (e, l) = if b & 0x80 == 0 {
        (Elem::Int(b as i64), 1)
    } else if b & 0xc0 == 0x80 {
        let n = (b & 0x3f) as usize;
        (Elem::Str(&buf[p + 1..p + 1 + n]), 1 + n)
    } else if b & 0xe0 == 0xc0 {
        let mut v = (((b & 0x1f) as i64) << 8) | buf[p + 1] as i64;
        if v >= 4096 {
            v -= 8192;
        }
        (Elem::Int(v), 2)
    } else if b & 0xf0 == 0xe0 {
        let n = (((b & 0x0f) as usize) << 8) | buf[p + 1] as usize;
        (Elem::Str(&buf[p + 2..p + 2 + n]), 2 + n)
    } else {
        match b {
            0xf0 => {
                let n =
                    u32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]) as usize;
                (Elem::Str(&buf[p + 5..p + 5 + n]), 5 + n)
            }
            0xf1 => (
                Elem::Int(i16::from_le_bytes([buf[p + 1], buf[p + 2]]) as i64),
                3,
            ),
            0xf2 => {
                let v = i32::from_le_bytes([0, buf[p + 1], buf[p + 2], buf[p + 3]]) >> 8;
                (Elem::Int(v as i64), 4)
            }
            0xf3 => {
                let v = i32::from_le_bytes([buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]]);
                (Elem::Int(v as i64), 5)
            }
            _ => {
                let mut a = [0u8; 8];
                a.copy_from_slice(&buf[p + 1..p + 9]);
                (Elem::Int(i64::from_le_bytes(a)), 9)
            }
        }
    };
    (e, l + backlen_size(l))
}

/// Start of the entry that ends (exclusive) at `end`.
#[inline]
fn entry_before(buf: &[u8], end: usize) -> usize {
    let mut e = end;
    let mut v = 0usize;
    let mut shift = 0;
    loop {
        e -= 1;
        let b = buf[e];
        v |= ((b & 0x7f) as usize) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    e - v
}

// ---------------------------------------------------------------------------
// Node: one heap block with a 12-byte header (len, cap, count).
// ---------------------------------------------------------------------------

const HDR: usize = 12;

pub struct Node {
    ptr: NonNull<u8>,
}

// Safety: a Node owns its block exclusively, like a Vec<u8>.
unsafe impl Send for Node {}
unsafe impl Sync for Node {}

fn node_layout(cap: usize) -> Layout {
    Layout::from_size_align(HDR + cap, 4).unwrap_or_else(|_| Layout::new::<[u32; 3]>())
}

impl Node {
    pub fn with_capacity(cap: usize) -> Node {
        let l = node_layout(cap);
        // Safety: the layout has a non-zero size.
        let p = unsafe { alloc(l) };
        let Some(ptr) = NonNull::new(p) else {
            handle_alloc_error(l)
        };
        let n = Node { ptr };
        n.set_hdr(0, 0);
        n.set_hdr(1, cap as u32);
        n.set_hdr(2, 0);
        n
    }

    #[inline]
    fn hdr(&self, i: usize) -> u32 {
        // Safety: the header is initialised and 4-aligned.
        unsafe { *(self.ptr.as_ptr() as *const u32).add(i) }
    }

    #[inline]
    fn set_hdr(&self, i: usize, v: u32) {
        // Safety: as in hdr().
        unsafe { *(self.ptr.as_ptr() as *mut u32).add(i) = v }
    }

    /// Bytes of entries.
    #[inline]
    pub fn bytes(&self) -> usize {
        self.hdr(0) as usize
    }

    #[inline]
    fn cap(&self) -> usize {
        self.hdr(1) as usize
    }

    #[inline]
    pub fn count(&self) -> usize {
        self.hdr(2) as usize
    }

    #[inline]
    fn set_count(&mut self, c: usize) {
        self.set_hdr(2, c as u32)
    }

    /// Size as a listpack (header and end byte included).
    #[inline]
    pub fn lp_bytes(&self) -> usize {
        self.bytes() + LP_OVERHEAD
    }

    #[inline]
    pub fn data(&self) -> &[u8] {
        // Safety: the first `bytes()` bytes after the header are initialised.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(HDR), self.bytes()) }
    }

    #[inline]
    fn data_ptr(&mut self) -> *mut u8 {
        // Safety: the block is at least HDR bytes.
        unsafe { self.ptr.as_ptr().add(HDR) }
    }

    fn resize(&mut self, new_cap: usize) {
        let old = self.cap();
        if new_cap == old {
            return;
        }
        // Safety: allocated with node_layout(old); new size is non-zero.
        let p = unsafe { realloc(self.ptr.as_ptr(), node_layout(old), HDR + new_cap) };
        let Some(ptr) = NonNull::new(p) else {
            handle_alloc_error(node_layout(new_cap))
        };
        self.ptr = ptr;
        self.set_hdr(1, new_cap as u32);
    }

    fn reserve(&mut self, extra: usize) {
        let need = self.bytes() + extra;
        let cap = self.cap();
        if need > cap {
            // Grow by a quarter: nodes are small and memory is what a list
            // is judged by; realloc usually extends in place.
            let grown = (cap + cap / 4 + 15) & !15;
            self.resize(need.max(grown));
        }
    }

    /// Gives back unused capacity (a node that will not grow soon).
    pub fn shrink_to_fit(&mut self) {
        let b = self.bytes();
        if self.cap() > b {
            self.resize(b);
        }
    }

    /// After deletions: give memory back once less than half is used.
    fn maybe_shrink(&mut self) {
        let b = self.bytes();
        if self.cap() > 64 && b * 2 < self.cap() {
            self.resize(b + b / 4);
        }
    }

    /// Opens a gap of `n` bytes at `at` and returns it.
    fn open(&mut self, at: usize, n: usize) -> &mut [u8] {
        self.reserve(n);
        let len = self.bytes();
        let p = self.data_ptr();
        // Safety: reserve made room for len + n bytes; ranges are in bounds.
        unsafe {
            std::ptr::copy(p.add(at), p.add(at + n), len - at);
            self.set_hdr(0, (len + n) as u32);
            std::slice::from_raw_parts_mut(p.add(at), n)
        }
    }

    /// Removes bytes `at..at + n` holding `entries` entries.
    fn cut(&mut self, at: usize, n: usize, entries: usize) {
        let len = self.bytes();
        let p = self.data_ptr();
        // Safety: at + n <= len.
        unsafe { std::ptr::copy(p.add(at + n), p.add(at), len - at - n) };
        self.set_hdr(0, (len - n) as u32);
        let c = self.count() - entries;
        self.set_count(c);
        self.maybe_shrink();
    }

    /// Inserts an element at byte offset `at` (an entry boundary).
    pub fn insert(&mut self, at: usize, e: &Elem) {
        let n = e.entry_len();
        e.write(self.open(at, n));
        let c = self.count() + 1;
        self.set_count(c);
    }

    pub fn push_back(&mut self, e: &Elem) {
        let at = self.bytes();
        self.insert(at, e);
    }

    pub fn push_front(&mut self, e: &Elem) {
        self.insert(0, e);
    }

    #[inline]
    pub fn get(&self, at: usize) -> (Elem<'_>, usize) {
        decode(self.data(), at)
    }

    /// Offset of the entry before the one at `at` (`at` > 0).
    #[inline]
    pub fn prev(&self, at: usize) -> usize {
        entry_before(self.data(), at)
    }

    /// Offset of the last entry (the node is not empty).
    pub fn last(&self) -> usize {
        entry_before(self.data(), self.bytes())
    }

    /// Removes the entry at `at`.
    pub fn delete(&mut self, at: usize) {
        let (_, l) = self.get(at);
        self.cut(at, l, 1);
    }

    /// Byte offset of entry `i` (< count), walking from the nearer end.
    pub fn offset_of(&self, i: usize) -> usize {
        let c = self.count();
        let d = self.data();
        if i <= c / 2 {
            let mut p = 0;
            for _ in 0..i {
                p += decode(d, p).1;
            }
            p
        } else {
            let mut p = d.len();
            for _ in i..c {
                p = entry_before(d, p);
            }
            p
        }
    }

    /// Removes the first `n` entries.
    fn delete_front(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let end = self.offset_of_end(n);
        self.cut(0, end, n);
    }

    /// Removes the last `n` entries.
    fn delete_back(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        let c = self.count();
        let start = if n == c { 0 } else { self.offset_of(c - n) };
        let len = self.bytes();
        self.cut(start, len - start, n);
    }

    /// Offset just past the first `n` entries.
    fn offset_of_end(&self, n: usize) -> usize {
        if n == self.count() {
            self.bytes()
        } else {
            self.offset_of(n)
        }
    }

    /// Splits off the entries from `i` on into a new node.
    fn split_off(&mut self, i: usize) -> Node {
        let at = self.offset_of(i);
        let c = self.count();
        let len = self.bytes();
        let mut right = Node::with_capacity(len - at);
        right.open(0, len - at).copy_from_slice(&self.data()[at..]);
        right.set_count(c - i);
        self.set_hdr(0, at as u32);
        self.set_count(i);
        self.shrink_to_fit();
        right
    }

    /// Appends all of `other`'s entries.
    fn append(&mut self, other: &Node) {
        let at = self.bytes();
        self.open(at, other.bytes()).copy_from_slice(other.data());
        let c = self.count() + other.count();
        self.set_count(c);
    }

    /// Whether one more entry of `n` bytes fits within the limits (an
    /// empty node takes anything). The whole block, header included, is
    /// measured so that a full node is exactly one allocator size class
    /// (8 KiB by default) rather than spilling just over it.
    #[inline]
    fn fits(&self, n: usize, lim: &Limits) -> bool {
        self.count() == 0 || !lim.exceeded(HDR + self.bytes() + n, self.count() + 1)
    }

    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            data: self.data(),
            p: 0,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Safety: allocated with node_layout(cap).
        unsafe { dealloc(self.ptr.as_ptr(), node_layout(self.cap())) }
    }
}

impl Clone for Node {
    fn clone(&self) -> Self {
        let mut n = Node::with_capacity(self.bytes());
        n.open(0, self.bytes()).copy_from_slice(self.data());
        n.set_count(self.count());
        n
    }
}

impl PartialEq for Node {
    fn eq(&self, o: &Self) -> bool {
        self.count() == o.count() && self.data() == o.data()
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

struct NodeIter<'a> {
    data: &'a [u8],
    p: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = Elem<'a>;
    #[inline]
    fn next(&mut self) -> Option<Elem<'a>> {
        if self.p >= self.data.len() {
            return None;
        }
        let (e, l) = decode(self.data, self.p);
        self.p += l;
        Some(e)
    }
}

// ---------------------------------------------------------------------------
// The list.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Quick {
    nodes: VecDeque<Node>,
    len: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum List {
    /// One compact node ("listpack").
    Pack(Node),
    /// A deque of nodes ("quicklist").
    Quick(Box<Quick>),
}

impl Default for List {
    fn default() -> Self {
        List::new()
    }
}

/// Where an element is: node index and byte offset in it.
#[derive(Debug, Clone, Copy)]
struct Pos {
    node: usize,
    off: usize,
}

impl List {
    pub fn new() -> List {
        List::Pack(Node::with_capacity(0))
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            List::Pack(_) => "listpack",
            List::Quick(_) => "quicklist",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            List::Pack(n) => n.count(),
            List::Quick(q) => q.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of nodes (1 for a listpack).
    pub fn node_count(&self) -> usize {
        match self {
            List::Pack(_) => 1,
            List::Quick(q) => q.nodes.len(),
        }
    }

    fn node(&self, i: usize) -> &Node {
        match self {
            List::Pack(n) => n,
            List::Quick(q) => &q.nodes[i],
        }
    }

    /// Redis 7.2's rule before adding elements to a listpack: if its size
    /// plus the new elements' lengths (or its count plus theirs) would
    /// exceed a node's limits, it becomes a quicklist first.
    fn grow_check(&mut self, add_bytes: usize, add_count: usize, lim: &Limits) {
        if let List::Pack(n) = self {
            if lim.exceeded(n.lp_bytes() + add_bytes, n.count() + add_count) {
                let node = std::mem::replace(n, Node::with_capacity(0));
                let mut nodes = VecDeque::with_capacity(4);
                let len = node.count();
                if len > 0 {
                    nodes.push_back(node);
                }
                *self = List::Quick(Box::new(Quick { nodes, len }));
            }
        }
    }

    /// After elements were removed or replaced: a quicklist of one node
    /// within half the limits becomes a listpack again.
    pub fn shrink_check(&mut self, lim: &Limits) {
        if let List::Quick(q) = self {
            let h = lim.halved();
            if q.nodes.len() <= 1 {
                let ok = match q.nodes.front() {
                    None => true,
                    Some(n) => !h.exceeded(n.lp_bytes(), n.count()),
                };
                if ok {
                    let mut n = q
                        .nodes
                        .pop_front()
                        .unwrap_or_else(|| Node::with_capacity(0));
                    n.maybe_shrink();
                    *self = List::Pack(n);
                }
            }
        }
    }

    /// Pushes `vals` one by one at the head (`front`) or tail.
    pub fn push<A: AsRef<[u8]>>(&mut self, vals: &[A], front: bool, lim: &Limits) {
        let add: usize = vals.iter().map(|v| v.as_ref().len()).sum();
        self.grow_check(add, vals.len(), lim);
        if let List::Pack(n) = self {
            if vals.len() > 1 {
                // One exact allocation for a batch.
                let need: usize = vals.iter().map(|v| Elem::of(v.as_ref()).entry_len()).sum();
                if n.bytes() + need > n.cap() {
                    n.resize(n.bytes() + need);
                }
            }
        }
        for v in vals {
            self.push_one(&Elem::of(v.as_ref()), front, lim);
        }
    }

    fn push_one(&mut self, e: &Elem, front: bool, lim: &Limits) {
        match self {
            List::Pack(n) => {
                if front {
                    n.push_front(e)
                } else {
                    n.push_back(e)
                }
            }
            List::Quick(q) => {
                let size = e.entry_len();
                let end = if front {
                    q.nodes.front_mut()
                } else {
                    q.nodes.back_mut()
                };
                match end {
                    Some(n) if n.fits(size, lim) => {
                        if front {
                            n.push_front(e)
                        } else {
                            n.push_back(e)
                        }
                    }
                    other => {
                        if let Some(full) = other {
                            full.shrink_to_fit();
                        }
                        let mut n = Node::with_capacity(size.max(64));
                        n.push_back(e);
                        if front {
                            q.nodes.push_front(n)
                        } else {
                            q.nodes.push_back(n)
                        }
                    }
                }
                q.len += 1;
            }
        }
    }

    /// Pops up to `n` elements from one end, handing each to `f` in pop
    /// order before removing them. Returns how many were popped.
    pub fn pop_with(
        &mut self,
        front: bool,
        n: usize,
        lim: &Limits,
        mut f: impl FnMut(Elem),
    ) -> usize {
        let n = n.min(self.len());
        if n == 0 {
            return 0;
        }
        if front {
            self.for_range(0, n - 1, &mut f);
            self.delete_front(n);
        } else {
            let len = self.len();
            self.for_range_rev(len - n, len - 1, &mut f);
            self.delete_back(n);
        }
        self.shrink_check(lim);
        n
    }

    /// Pops one element as owned bytes.
    pub fn pop(&mut self, front: bool, lim: &Limits) -> Option<Vec<u8>> {
        let mut v = None;
        self.pop_with(front, 1, lim, |e| v = Some(e.to_vec()));
        v
    }

    /// Node and offset of element `i` (< len).
    fn locate(&self, i: usize) -> Pos {
        match self {
            List::Pack(n) => Pos {
                node: 0,
                off: n.offset_of(i),
            },
            List::Quick(q) => {
                if i < q.len / 2 {
                    let mut rest = i;
                    for (k, n) in q.nodes.iter().enumerate() {
                        if rest < n.count() {
                            return Pos {
                                node: k,
                                off: n.offset_of(rest),
                            };
                        }
                        rest -= n.count();
                    }
                } else {
                    let mut rest = q.len - 1 - i; // from the tail
                    for (k, n) in q.nodes.iter().enumerate().rev() {
                        if rest < n.count() {
                            return Pos {
                                node: k,
                                off: n.offset_of(n.count() - 1 - rest),
                            };
                        }
                        rest -= n.count();
                    }
                }
                Pos { node: 0, off: 0 }
            }
        }
    }

    /// Element `i` (< len).
    pub fn get(&self, i: usize) -> Option<Elem<'_>> {
        if i >= self.len() {
            return None;
        }
        let p = self.locate(i);
        Some(self.node(p.node).get(p.off).0)
    }

    /// Calls `f` on elements `start..=end` (valid indexes) in order.
    pub fn for_range(&self, start: usize, end: usize, mut f: impl FnMut(Elem)) {
        if start > end || end >= self.len() {
            return;
        }
        let mut left = end - start + 1;
        let p = self.locate(start);
        let mut node = p.node;
        let mut off = p.off;
        while left > 0 {
            let n = self.node(node);
            let d = n.data();
            while off < d.len() && left > 0 {
                let (e, l) = decode(d, off);
                f(e);
                off += l;
                left -= 1;
            }
            node += 1;
            off = 0;
        }
    }

    /// Calls `f` on elements `end` down to `start` (valid indexes).
    pub fn for_range_rev(&self, start: usize, end: usize, mut f: impl FnMut(Elem)) {
        if start > end || end >= self.len() {
            return;
        }
        let mut left = end - start + 1;
        let p = self.locate(end);
        let mut node = p.node as isize;
        // `off` is the end of the next entry to visit.
        let mut off = p.off + self.node(p.node).get(p.off).1;
        while left > 0 && node >= 0 {
            let n = self.node(node as usize);
            let d = n.data();
            while off > 0 && left > 0 {
                let s = entry_before(d, off);
                f(decode(d, s).0);
                off = s;
                left -= 1;
            }
            node -= 1;
            if node >= 0 {
                off = self.node(node as usize).bytes();
            }
        }
    }

    /// Iterates over all elements from the head.
    pub fn iter(&self) -> impl Iterator<Item = Elem<'_>> + '_ {
        let nodes: Vec<&Node> = match self {
            List::Pack(n) => vec![n],
            List::Quick(q) => q.nodes.iter().collect(),
        };
        nodes.into_iter().flat_map(|n| n.iter())
    }

    /// Removes the first `n` elements (n <= len).
    pub fn delete_front(&mut self, mut n: usize) {
        match self {
            List::Pack(node) => node.delete_front(n),
            List::Quick(q) => {
                q.len -= n;
                while n > 0 {
                    let Some(first) = q.nodes.front_mut() else {
                        break;
                    };
                    if first.count() <= n {
                        n -= first.count();
                        q.nodes.pop_front();
                    } else {
                        first.delete_front(n);
                        n = 0;
                    }
                }
            }
        }
    }

    /// Removes the last `n` elements (n <= len).
    pub fn delete_back(&mut self, mut n: usize) {
        match self {
            List::Pack(node) => node.delete_back(n),
            List::Quick(q) => {
                q.len -= n;
                while n > 0 {
                    let Some(last) = q.nodes.back_mut() else {
                        break;
                    };
                    if last.count() <= n {
                        n -= last.count();
                        q.nodes.pop_back();
                    } else {
                        last.delete_back(n);
                        n = 0;
                    }
                }
            }
        }
    }

    /// Keeps elements `start..=end` (valid, start <= end).
    pub fn trim(&mut self, start: usize, end: usize, lim: &Limits) {
        let len = self.len();
        self.delete_back(len - 1 - end);
        self.delete_front(start);
        self.merge_small(lim);
        self.shrink_check(lim);
    }

    /// Replaces element `i` (< len).
    pub fn set(&mut self, i: usize, v: &[u8], lim: &Limits) {
        self.grow_check(v.len(), 1, lim);
        let e = Elem::of(v);
        let p = self.locate(i);
        let n = self.node_mut(p.node);
        n.delete(p.off);
        n.insert(p.off, &e);
        self.split_if_needed(p.node, lim);
        self.shrink_check(lim);
    }

    fn node_mut(&mut self, i: usize) -> &mut Node {
        match self {
            List::Pack(n) => n,
            List::Quick(q) => &mut q.nodes[i],
        }
    }

    /// A quicklist node that grew beyond the limits is cut in two halves.
    fn split_if_needed(&mut self, i: usize, lim: &Limits) {
        if let List::Quick(q) = self {
            let n = &mut q.nodes[i];
            if n.count() > 1 && lim.exceeded(n.lp_bytes(), n.count()) {
                let right = n.split_off(n.count() / 2);
                q.nodes.insert(i + 1, right);
                self.split_if_needed(i + 1, lim);
                self.split_if_needed(i, lim);
            }
        }
    }

    /// Inserts `v` before or after the first element equal to `pivot`;
    /// false if there is none.
    pub fn insert(&mut self, pivot: &[u8], v: &[u8], before: bool, lim: &Limits) -> bool {
        let pe = Elem::of(pivot);
        let mut found = None;
        'outer: for k in 0..self.node_count() {
            let d = self.node(k).data();
            let mut off = 0;
            while off < d.len() {
                let (e, l) = decode(d, off);
                if e.matches(&pe) {
                    found = Some(Pos {
                        node: k,
                        off: if before { off } else { off + l },
                    });
                    break 'outer;
                }
                off += l;
            }
        }
        let Some(mut p) = found else {
            return false;
        };
        let was_pack = matches!(self, List::Pack(_));
        self.grow_check(v.len(), 1, lim);
        if was_pack && matches!(self, List::Quick(_)) {
            // Converted: the single node kept its layout.
            p.node = 0;
        }
        let e = Elem::of(v);
        if let List::Quick(q) = self {
            q.len += 1;
        }
        self.node_mut(p.node).insert(p.off, &e);
        self.split_if_needed(p.node, lim);
        true
    }

    /// LREM: removes up to |count| elements equal to `v` from the head
    /// (count > 0), the tail (count < 0) or all (0). Returns how many.
    pub fn remove(&mut self, v: &[u8], count: i64, lim: &Limits) -> usize {
        let pe = Elem::of(v);
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        let nodes = self.node_count();
        if count >= 0 {
            for k in 0..nodes {
                if removed == limit {
                    break;
                }
                let n = self.node_mut(k);
                let mut off = 0;
                while off < n.bytes() && removed < limit {
                    let (e, l) = n.get(off);
                    if e.matches(&pe) {
                        n.cut(off, l, 1);
                        removed += 1;
                    } else {
                        off += l;
                    }
                }
            }
        } else {
            for k in (0..nodes).rev() {
                if removed == limit {
                    break;
                }
                let n = self.node_mut(k);
                let mut end = n.bytes();
                while end > 0 && removed < limit {
                    let s = n.prev(end);
                    let (e, l) = n.get(s);
                    if e.matches(&pe) {
                        n.cut(s, l, 1);
                        removed += 1;
                    }
                    end = s;
                }
            }
        }
        if removed > 0 {
            if let List::Quick(q) = self {
                q.len -= removed;
                q.nodes.retain(|n| n.count() > 0);
            }
            self.merge_small(lim);
            self.shrink_check(lim);
        }
        removed
    }

    /// Joins neighbouring quicklist nodes that together fit in one.
    fn merge_small(&mut self, lim: &Limits) {
        if let List::Quick(q) = self {
            q.nodes.retain(|n| n.count() > 0);
            let mut i = 0;
            while i + 1 < q.nodes.len() {
                let (a, b) = (&q.nodes[i], &q.nodes[i + 1]);
                if !lim.exceeded(a.lp_bytes() + b.bytes(), a.count() + b.count()) {
                    let b = q
                        .nodes
                        .remove(i + 1)
                        .unwrap_or_else(|| Node::with_capacity(0));
                    q.nodes[i].append(&b);
                } else {
                    i += 1;
                }
            }
        }
    }

    /// LPOS: indexes of elements equal to `v`. `rank` (non-zero) picks the
    /// first match (1), the second (2)... or from the tail when negative;
    /// at most `count` results (0: all); only the first `maxlen` elements
    /// looked at from the starting end (0: all).
    pub fn positions(&self, v: &[u8], rank: i64, count: usize, maxlen: usize) -> Vec<usize> {
        let pe = Elem::of(v);
        let mut skip = rank.unsigned_abs() - 1;
        let want = if count == 0 { usize::MAX } else { count };
        let limit = if maxlen == 0 { usize::MAX } else { maxlen };
        let mut res = Vec::new();
        let len = self.len();
        let mut seen = 0usize;
        let mut visit = |idx: usize, e: Elem| -> bool {
            if seen >= limit {
                return false;
            }
            seen += 1;
            if e.matches(&pe) {
                if skip > 0 {
                    skip -= 1;
                } else {
                    res.push(idx);
                    if res.len() >= want {
                        return false;
                    }
                }
            }
            true
        };
        if rank > 0 {
            let mut idx = 0;
            'fwd: for k in 0..self.node_count() {
                for e in self.node(k).iter() {
                    if !visit(idx, e) {
                        break 'fwd;
                    }
                    idx += 1;
                }
            }
        } else {
            let mut idx = len;
            'bwd: for k in (0..self.node_count()).rev() {
                let d = self.node(k).data();
                let mut end = d.len();
                while end > 0 {
                    let s = entry_before(d, end);
                    idx -= 1;
                    if !visit(idx, decode(d, s).0) {
                        break 'bwd;
                    }
                    end = s;
                }
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn encodings_round_trip() {
        let vals: Vec<Vec<u8>> = [
            "0",
            "1",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-4097",
            "32767",
            "-32768",
            "32768",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "01",
            "-0",
            "+1",
            "",
            "a",
            " 1",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 20000],
        ])
        .collect();
        let mut l = List::new();
        let lim = Limits::from_fill(-5);
        for v in &vals {
            l.push(&[v], false, &lim);
        }
        assert_eq!(items(&l), vals);
        // Backwards too.
        let mut back = Vec::new();
        l.for_range_rev(0, l.len() - 1, |e| back.push(e.to_vec()));
        back.reverse();
        assert_eq!(back, vals);
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(&l.get(i).map(|e| e.to_vec()).unwrap(), v);
        }
    }

    #[test]
    fn sizes_match_listpack() {
        assert_eq!(Elem::of(b"12").entry_len(), 2);
        assert_eq!(Elem::of(b"1000").entry_len(), 3);
        assert_eq!(Elem::of(b"abcdefghij").entry_len(), 12);
        assert_eq!(Elem::of(&[b'a'; 200]).entry_len(), 2 + 200 + 2);
        assert_eq!(std::mem::size_of::<List>(), 16);
    }

    #[test]
    fn quicklist_ops_against_vecdeque() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for fill in [-1i64, 3, 1, -2] {
            let lim = Limits::from_fill(fill);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..4000 {
                let v: Vec<u8> = match rng.gen_range(0..3) {
                    0 => rng.gen_range(-300i64..300).to_string().into_bytes(),
                    1 => vec![b'a' + rng.gen_range(0..3u8); rng.gen_range(0..200)],
                    _ => format!("v{}", rng.gen_range(0..10)).into_bytes(),
                };
                match rng.gen_range(0..10) {
                    0 | 1 => {
                        l.push(&[&v], true, &lim);
                        m.push_front(v);
                    }
                    2 | 3 => {
                        l.push(&[&v], false, &lim);
                        m.push_back(v);
                    }
                    4 => {
                        let front = rng.gen();
                        let n = rng.gen_range(0..5);
                        let mut got = Vec::new();
                        l.pop_with(front, n, &lim, |e| got.push(e.to_vec()));
                        let mut exp = Vec::new();
                        for _ in 0..n {
                            if let Some(x) = if front { m.pop_front() } else { m.pop_back() } {
                                exp.push(x);
                            }
                        }
                        assert_eq!(got, exp);
                    }
                    5 if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        l.set(i, &v, &lim);
                        m[i] = v;
                    }
                    6 if !m.is_empty() => {
                        let pivot = m[rng.gen_range(0..m.len())].clone();
                        let before = rng.gen();
                        assert!(l.insert(&pivot, &v, before, &lim));
                        let p = m.iter().position(|x| *x == pivot).unwrap();
                        m.insert(if before { p } else { p + 1 }, v);
                    }
                    7 => {
                        let c = rng.gen_range(-2..3);
                        let target = format!("v{}", rng.gen_range(0..10)).into_bytes();
                        let r = l.remove(&target, c, &lim);
                        let mut exp = 0;
                        let lim_n = if c == 0 {
                            usize::MAX
                        } else {
                            c.unsigned_abs() as usize
                        };
                        if c >= 0 {
                            let mut i = 0;
                            while i < m.len() && exp < lim_n {
                                if m[i] == target {
                                    m.remove(i);
                                    exp += 1;
                                } else {
                                    i += 1;
                                }
                            }
                        } else {
                            let mut i = m.len();
                            while i > 0 && exp < lim_n {
                                i -= 1;
                                if m[i] == target {
                                    m.remove(i);
                                    exp += 1;
                                }
                            }
                        }
                        assert_eq!(r, exp);
                    }
                    8 if m.len() > 2 && step % 50 == 0 => {
                        let s = rng.gen_range(0..m.len());
                        let e = rng.gen_range(s..m.len());
                        l.trim(s, e, &lim);
                        m = m.drain(s..=e).collect();
                    }
                    9 if !m.is_empty() => {
                        let target = format!("v{}", rng.gen_range(0..10)).into_bytes();
                        let rank: i64 = if rng.gen() {
                            rng.gen_range(1..3)
                        } else {
                            -rng.gen_range(1..3)
                        };
                        let got = l.positions(&target, rank, 0, 0);
                        let mut exp: Vec<usize> = m
                            .iter()
                            .enumerate()
                            .filter(|(_, x)| **x == target)
                            .map(|(i, _)| i)
                            .collect();
                        if rank < 0 {
                            exp.reverse();
                        }
                        let exp: Vec<usize> = exp
                            .into_iter()
                            .skip(rank.unsigned_abs() as usize - 1)
                            .collect();
                        assert_eq!(got, exp);
                    }
                    _ => {}
                }
                assert_eq!(l.len(), m.len());
                if step % 97 == 0 {
                    assert_eq!(
                        items(&l),
                        m.iter().cloned().collect::<Vec<_>>(),
                        "fill {fill} step {step}"
                    );
                    if let List::Quick(q) = &l {
                        assert_eq!(q.nodes.iter().map(|n| n.count()).sum::<usize>(), q.len);
                        assert!(q.nodes.iter().all(|n| n.count() > 0));
                    }
                }
            }
        }
    }
}
