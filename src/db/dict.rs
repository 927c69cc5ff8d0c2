//! A chained hash table keyed by byte strings, with the properties Redis's
//! dict gives and `hashbrown` cannot: a stateless SCAN cursor that returns
//! every element present for the whole scan at least once even when the table
//! grows or shrinks between calls, and cheap random sampling for RANDOMKEY,
//! eviction and active expiry.
//!
//! Buckets are a power of two; the cursor walks bucket indexes with their bits
//! reversed, so after a resize the buckets already visited map onto a prefix of
//! the new walk (the classic reverse-binary iteration). Resizes are done at
//! once rather than incrementally.
//!
//! Memory: each element is ONE allocation holding the chain pointer, the value
//! and then the key bytes (prefixed by their length as a LEB128 varint). With
//! a 24-byte value and keys up to 15 bytes that is a 48-byte block; a separate
//! key allocation would cost another 16-32 bytes per key.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ptr;

use rand::Rng;

/// An owned key, for callers that need to keep one.
pub type Key = Box<[u8]>;

#[repr(C)]
struct Node<V> {
    next: *mut Node<V>,
    val: V,
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

fn node_layout<V>(klen: usize) -> Layout {
    let size = size_of::<Node<V>>() + varint_len(klen) + klen;
    // Keys are bounded by the protocol's bulk limit, so this cannot fail.
    Layout::from_size_align(size, align_of::<Node<V>>())
        .unwrap_or_else(|_| Layout::new::<Node<V>>())
}

/// Safety: `n` must point to a live node.
unsafe fn key_of<'a, V>(n: *const Node<V>) -> &'a [u8] {
    let mut p = (n as *const u8).add(size_of::<Node<V>>());
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = *p;
        p = p.add(1);
        len |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    std::slice::from_raw_parts(p, len)
}

fn new_node<V>(key: &[u8], val: V, next: *mut Node<V>) -> *mut Node<V> {
    let l = node_layout::<V>(key.len());
    // Safety: the layout is non-zero sized; we initialise every field and
    // the key bytes before the node is reachable.
    unsafe {
        let p = alloc(l) as *mut Node<V>;
        if p.is_null() {
            handle_alloc_error(l);
        }
        ptr::write(p, Node { next, val });
        let mut kp = (p as *mut u8).add(size_of::<Node<V>>());
        let mut n = key.len();
        while n >= 0x80 {
            *kp = (n as u8) | 0x80;
            kp = kp.add(1);
            n >>= 7;
        }
        *kp = n as u8;
        ptr::copy_nonoverlapping(key.as_ptr(), kp.add(1), key.len());
        p
    }
}

/// Frees a node and returns its value. Safety: `n` is live and unlinked.
unsafe fn free_node<V>(n: *mut Node<V>) -> V {
    let klen = key_of(n).len();
    let v = ptr::read(&(*n).val);
    dealloc(n as *mut u8, node_layout::<V>(klen));
    v
}

pub struct Dict<V> {
    table: Vec<*mut Node<V>>,
    len: usize,
    hasher: hashbrown::DefaultHashBuilder,
    _owns: PhantomData<V>,
}

// Safety: the dict owns its nodes exclusively, like a Vec<Box<(K, V)>>.
unsafe impl<V: Send> Send for Dict<V> {}
unsafe impl<V: Sync> Sync for Dict<V> {}

const MIN_BUCKETS: usize = 4;

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Dict {
            table: Vec::new(),
            len: 0,
            hasher: Default::default(),
            _owns: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn buckets(&self) -> usize {
        self.table.len()
    }

    fn slot(&self, k: &[u8]) -> usize {
        (self.hasher.hash_one(k) as usize) & (self.table.len() - 1)
    }

    fn find(&self, k: &[u8]) -> *mut Node<V> {
        if self.len == 0 {
            return ptr::null_mut();
        }
        let mut cur = self.table[self.slot(k)];
        // Safety: chain pointers are live nodes or null.
        unsafe {
            while !cur.is_null() {
                if key_of(cur) == k {
                    return cur;
                }
                cur = (*cur).next;
            }
        }
        ptr::null_mut()
    }

    pub fn get(&self, k: &[u8]) -> Option<&V> {
        let n = self.find(k);
        // Safety: a found node lives as long as &self.
        (!n.is_null()).then(|| unsafe { &(*n).val })
    }

    pub fn get_key_value(&self, k: &[u8]) -> Option<(&[u8], &V)> {
        let n = self.find(k);
        // Safety: as in get.
        (!n.is_null()).then(|| unsafe { (key_of(n), &(*n).val) })
    }

    pub fn get_mut(&mut self, k: &[u8]) -> Option<&mut V> {
        let n = self.find(k);
        // Safety: as in get, with exclusive access through &mut self.
        (!n.is_null()).then(|| unsafe { &mut (*n).val })
    }

    pub fn get_key_value_mut(&mut self, k: &[u8]) -> Option<(&[u8], &mut V)> {
        let n = self.find(k);
        // Safety: as in get_mut; the key bytes and the value are disjoint.
        (!n.is_null()).then(|| unsafe { (key_of(n), &mut (*n).val) })
    }

    pub fn contains_key(&self, k: &[u8]) -> bool {
        !self.find(k).is_null()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, k: &[u8], v: V) -> Option<V> {
        if let Some(slot) = self.get_mut(k) {
            return Some(std::mem::replace(slot, v));
        }
        self.insert_new(k, v);
        None
    }

    /// Inserts a key known to be absent.
    pub fn insert_new(&mut self, k: &[u8], v: V) {
        self.insert_new_key(k, v);
    }

    /// `insert_new`, returning the stored copy of the key (it stays put
    /// until the key is removed), for structures that point at it.
    pub fn insert_new_key(&mut self, k: &[u8], v: V) -> &[u8] {
        if self.len >= self.table.len() {
            self.resize((self.table.len() * 2).max(MIN_BUCKETS));
        }
        let s = self.slot(k);
        let n = new_node(k, v, self.table[s]);
        self.table[s] = n;
        self.len += 1;
        // Safety: `n` was just linked and lives as long as &self.
        unsafe { key_of(n) }
    }

    pub fn remove(&mut self, k: &[u8]) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        let s = self.slot(k);
        // Safety: we walk live nodes and unlink the match before freeing it.
        unsafe {
            let mut link: *mut *mut Node<V> = &mut self.table[s];
            while !(*link).is_null() {
                let n = *link;
                if key_of(n) == k {
                    *link = (*n).next;
                    self.len -= 1;
                    let v = free_node(n);
                    self.maybe_shrink();
                    return Some(v);
                }
                link = &mut (*n).next;
            }
        }
        None
    }

    fn maybe_shrink(&mut self) {
        let b = self.table.len();
        if b > MIN_BUCKETS && self.len * 8 < b {
            self.resize((self.len * 2).next_power_of_two().max(MIN_BUCKETS));
        }
    }

    fn resize(&mut self, new_size: usize) {
        let old = std::mem::replace(&mut self.table, vec![ptr::null_mut(); new_size]);
        let mask = new_size - 1;
        // Safety: every node is moved exactly once from the old chains.
        unsafe {
            for mut head in old {
                while !head.is_null() {
                    let n = head;
                    head = (*n).next;
                    let s = (self.hasher.hash_one(key_of(n)) as usize) & mask;
                    (*n).next = self.table[s];
                    self.table[s] = n;
                }
            }
        }
    }

    pub fn clear(&mut self) {
        // Safety: every node is freed exactly once; the table is dropped.
        unsafe {
            for head in self.table.iter_mut() {
                let mut cur = std::mem::replace(head, ptr::null_mut());
                while !cur.is_null() {
                    let next = (*cur).next;
                    drop(free_node(cur));
                    cur = next;
                }
            }
        }
        self.table = Vec::new();
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.table.iter().flat_map(|&head| {
            let mut cur = head;
            std::iter::from_fn(move || {
                if cur.is_null() {
                    return None;
                }
                // Safety: live nodes, borrowed for the life of &self.
                unsafe {
                    let n = cur;
                    cur = (*n).next;
                    Some((key_of(n), &(*n).val))
                }
            })
        })
    }

    /// Visits bucket chains from `cursor` until at least `min_items` were
    /// seen (or 10x that many buckets) and returns the next cursor; 0 when
    /// the walk is complete.
    pub fn scan(&self, cursor: u64, min_items: usize, mut f: impl FnMut(&[u8], &V)) -> u64 {
        // Safety: live nodes, only read, for the duration of &self.
        self.scan_nodes(cursor, min_items, |n| unsafe { f(key_of(n), &(*n).val) })
    }

    /// `scan` with mutable values (the snapshot marks what it saved).
    pub fn scan_mut(
        &mut self,
        cursor: u64,
        min_items: usize,
        mut f: impl FnMut(&[u8], &mut V),
    ) -> u64 {
        // Safety: live nodes, exclusively borrowed through &mut self.
        self.scan_nodes(cursor, min_items, |n| unsafe {
            f(key_of(n), &mut (*n).val)
        })
    }

    fn scan_nodes(
        &self,
        mut cursor: u64,
        min_items: usize,
        mut f: impl FnMut(*mut Node<V>),
    ) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let mask = (self.table.len() - 1) as u64;
        let mut seen = 0;
        let mut steps = 0;
        loop {
            let mut cur = self.table[(cursor & mask) as usize];
            // Safety: live nodes.
            unsafe {
                while !cur.is_null() {
                    let next = (*cur).next;
                    f(cur);
                    seen += 1;
                    cur = next;
                }
            }
            cursor |= !mask;
            cursor = cursor.reverse_bits().wrapping_add(1).reverse_bits();
            steps += 1;
            if cursor == 0 || seen >= min_items || steps >= min_items * 10 {
                return cursor;
            }
        }
    }

    /// A random element: a random non-empty bucket, then a random node of
    /// its chain. Not perfectly uniform, as in Redis; good for sampling.
    pub fn random<R: Rng>(&self, rng: &mut R) -> Option<(&[u8], &V)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.table.len() - 1;
        loop {
            let head = self.table[rng.gen::<usize>() & mask];
            if head.is_null() {
                continue;
            }
            // Safety: live nodes.
            unsafe {
                let mut chain = 0;
                let mut c = head;
                while !c.is_null() {
                    chain += 1;
                    c = (*c).next;
                }
                let mut c = head;
                for _ in 0..rng.gen_range(0..chain) {
                    c = (*c).next;
                }
                return Some((key_of(c), &(*c).val));
            }
        }
    }

    /// Calls `f` on up to `count` elements taken from consecutive buckets
    /// after a random one (whole chains), as Redis's dictGetSomeKeys does
    /// for eviction: one random position per call and the table read in
    /// order, rather than a random bucket and its cache miss per element.
    /// Looks at no more than `count * 10` buckets and jumps elsewhere after
    /// a run of empty ones, so a sparse table stays cheap. Returns how
    /// many elements `f` saw.
    pub fn sample<R: Rng>(&self, rng: &mut R, count: usize, mut f: impl FnMut(&[u8], &V)) -> usize {
        let count = count.min(self.len);
        if count == 0 {
            return 0;
        }
        let mask = self.table.len() - 1;
        let mut i = rng.gen::<usize>() & mask;
        let (mut seen, mut empty_run) = (0, 0);
        for _ in 0..count * 10 {
            let mut c = self.table[i];
            if c.is_null() {
                empty_run += 1;
                if empty_run >= 5 && empty_run > count {
                    i = rng.gen::<usize>() & mask;
                    empty_run = 0;
                    continue;
                }
            }
            empty_run = if c.is_null() { empty_run } else { 0 };
            // Safety: chain pointers are live nodes or null.
            unsafe {
                while !c.is_null() {
                    f(key_of(c), &(*c).val);
                    seen += 1;
                    if seen == count {
                        return seen;
                    }
                    c = (*c).next;
                }
            }
            i = (i + 1) & mask;
        }
        seen
    }
}

impl<V> Drop for Dict<V> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn k(i: usize) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::new();
        for i in 0..1000 {
            assert!(d.insert(&k(i), i).is_none());
        }
        assert_eq!(d.len(), 1000);
        assert_eq!(d.get(&k(7)), Some(&7));
        assert_eq!(d.insert(&k(7), 70), Some(7));
        for i in 0..990 {
            assert!(d.remove(&k(i)).is_some());
        }
        assert!(d.remove(&k(1)).is_none());
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 64);
        assert_eq!(d.get(&k(995)), Some(&995));
        assert_eq!(
            d.get_key_value(&k(995)).map(|(k, _)| k.to_vec()),
            Some(k(995))
        );
    }

    #[test]
    fn long_and_empty_keys_and_owned_values() {
        let mut d: Dict<String> = Dict::new();
        let long = vec![7u8; 100_000];
        d.insert(&long, "long".into());
        d.insert(b"", "empty".into());
        d.insert(&[0, 255, 13, 10], "bin".into());
        assert_eq!(d.get(&long).map(|s| s.as_str()), Some("long"));
        assert_eq!(d.get(b"").map(|s| s.as_str()), Some("empty"));
        assert_eq!(d.iter().count(), 3);
        assert_eq!(d.remove(&long).as_deref(), Some("long"));
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d = Dict::new();
        for i in 0..500 {
            d.insert(&k(i), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, 10, |key, _| {
                seen.insert(key.to_vec());
            });
            round += 1;
            // Grow, then shrink, in the middle of the walk.
            if round == 5 {
                for i in 500..3000 {
                    d.insert(&k(i), ());
                }
            }
            if round == 20 {
                for i in 500..3000 {
                    d.remove(&k(i));
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(&k(i)), "missed {i}");
        }
    }

    #[test]
    fn random_finds_elements() {
        let mut d = Dict::new();
        let mut rng = rand::thread_rng();
        assert!(d.random(&mut rng).is_none());
        for i in 0..10 {
            d.insert(&k(i), i);
        }
        let mut hit = HashSet::new();
        for _ in 0..1000 {
            hit.insert(*d.random(&mut rng).unwrap().1);
        }
        assert_eq!(hit.len(), 10);
    }

    #[test]
    fn sample_sees_live_elements_everywhere() {
        let mut d = Dict::new();
        let mut rng = rand::thread_rng();
        assert_eq!(d.sample(&mut rng, 5, |_, _| panic!("empty")), 0);
        for i in 0..1000 {
            d.insert(&k(i), i);
        }
        // Leave the table sparse: the sampler must still fill its quota.
        for i in 0..990 {
            d.remove(&k(i));
        }
        let mut hit = HashSet::new();
        for _ in 0..2000 {
            let n = d.sample(&mut rng, 3, |key, &v| {
                assert_eq!(key, &k(v)[..]);
                hit.insert(v);
            });
            assert!(n <= 3);
        }
        assert_eq!(hit, (990..1000).collect());
    }

    #[test]
    fn chains_stay_short() {
        let mut d = Dict::new();
        for i in 0..100_000 {
            d.insert(format!("key:{i:012}").as_bytes(), ());
        }
        let mut max = 0;
        for &head in &d.table {
            let mut n = 0;
            let mut c = head;
            while !c.is_null() {
                n += 1;
                c = unsafe { (*c).next };
            }
            max = max.max(n);
        }
        assert!(max < 12, "max chain {max}");
    }
}
