//! A chained hash table keyed by byte strings, with the properties Redis's
//! dict gives and `hashbrown` cannot: a stateless SCAN cursor that returns
//! every element present for the whole scan at least once even when the table
//! grows or shrinks between calls, cheap random sampling for RANDOMKEY,
//! eviction and active expiry, and resizes that never stall the server.
//!
//! Buckets are a power of two; the cursor walks bucket indexes with their bits
//! reversed, so after a resize the buckets already visited map onto a prefix of
//! the new walk (the classic reverse-binary iteration).
//!
//! Resizes are incremental, as in Redis: a resize allocates the new table
//! and from then on each write (and each `get_mut`) moves one bucket of the
//! old table over, and the cron (`rehash_for`, `activerehashing`) moves more
//! while the server is idle. Meanwhile elements live in either table:
//! lookups try both, inserts go to the new one, SCAN and sampling read both.
//! Growing a million-key table this way costs no client more than a bucket's
//! worth of work, where moving every node at once took ~100 ms.
//!
//! Memory: each element is ONE allocation holding the chain pointer, the value
//! and then the key bytes (prefixed by their length as a LEB128 varint). With
//! a 24-byte value and keys up to 15 bytes that is a 48-byte block; a separate
//! key allocation would cost another 16-32 bytes per key.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::hash::BuildHasher;
use std::marker::PhantomData;
use std::mem::{align_of, size_of, MaybeUninit};
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
    /// Every element's table when no rehash runs; during one, the target
    /// that inserts and moved chains go to.
    table: Box<[*mut Node<V>]>,
    /// The table a rehash is draining (empty when none runs). Its buckets
    /// below `moved` are empty: their chains are in `table`.
    old: Box<[*mut Node<V>]>,
    moved: usize,
    /// Elements still in `old`: the rehash ends when it reaches 0, without
    /// walking the empty buckets left.
    old_len: usize,
    /// A big table being cleared before a rehash into it starts, `zeroed`
    /// buckets so far. Allocating it zeroed would touch every page at once
    /// (30 ms for 4M buckets, as long as the stall the incremental rehash
    /// avoids), so the writes that would start the rehash clear a page each.
    next: Box<[MaybeUninit<*mut Node<V>>]>,
    zeroed: usize,
    len: usize,
    /// Grows only within the grow budget while not too full (`capped`).
    capped: bool,
    hasher: hashbrown::DefaultHashBuilder,
    _owns: PhantomData<V>,
}

// Safety: the dict owns its nodes exclusively, like a Vec<Box<(K, V)>>.
unsafe impl<V: Send> Send for Dict<V> {}
unsafe impl<V: Sync> Sync for Dict<V> {}

const MIN_BUCKETS: usize = 4;
/// Tables this big are cleared a page per write (`Dict::next`); smaller
/// ones are allocated zeroed at once (2 MiB at most, well under 1 ms).
/// Unit tests use small tables, so the clearing runs in them.
const CLEAR_FROM: usize = if cfg!(test) { 1 << 12 } else { 1 << 18 };
/// Buckets cleared per write: one 4 KiB page.
const CLEAR_STEP: usize = 512;
/// Empty buckets one rehash step may skip per bucket it was asked to move,
/// so that a step over a sparse table stays short.
const EMPTY_VISITS: usize = 10;
/// Elements per bucket (in thousandths) up to which a capped table waits
/// for grow budget rather than grow; fuller, it grows regardless, since
/// long chains would slow every lookup (Redis uses the same ratio).
const CAPPED_MAX_LOAD_PERMILLE: usize = 1618;

thread_local! {
    /// Bytes a capped table may add by growing: what is left under
    /// maxmemory (the executor sets it before each command), unlimited
    /// without maxmemory.
    static GROW_BUDGET: std::cell::Cell<u64> = const { std::cell::Cell::new(u64::MAX) };
}

/// Sets the bytes capped tables may grow by (see `Dict::capped`).
pub fn set_grow_budget(bytes: u64) {
    GROW_BUDGET.with(|b| b.set(bytes));
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

/// Safety: `head` is null or a live chain.
#[inline]
unsafe fn chain_find<V>(mut cur: *mut Node<V>, k: &[u8]) -> *mut Node<V> {
    while !cur.is_null() {
        if key_of(cur) == k {
            return cur;
        }
        cur = (*cur).next;
    }
    cur
}

/// Unlinks the node holding `k` from the chain starting at `*link`.
/// Safety: `link` points at a bucket whose chain is live.
unsafe fn chain_unlink<V>(mut link: *mut *mut Node<V>, k: &[u8]) -> *mut Node<V> {
    while !(*link).is_null() {
        let n = *link;
        if key_of(n) == k {
            *link = (*n).next;
            return n;
        }
        link = &mut (*n).next;
    }
    ptr::null_mut()
}

/// Calls `f` on each node of a chain; `f` may not unlink them.
/// Safety: `cur` is null or a live chain.
unsafe fn chain_each<V>(mut cur: *mut Node<V>, f: &mut impl FnMut(*mut Node<V>)) -> usize {
    let mut n = 0;
    while !cur.is_null() {
        let next = (*cur).next;
        f(cur);
        n += 1;
        cur = next;
    }
    n
}

impl<V> Dict<V> {
    pub fn new() -> Self {
        Dict {
            table: Box::default(),
            old: Box::default(),
            moved: 0,
            old_len: 0,
            next: Box::default(),
            zeroed: 0,
            len: 0,
            capped: false,
            hasher: Default::default(),
            _owns: PhantomData,
        }
    }

    /// A table (the keyspace's) that does not double its bucket array past
    /// maxmemory while it is at most 1.618 full: near the limit, a
    /// million-key table's 8 MiB -> 16 MiB step would otherwise evict a
    /// burst of keys to pay for buckets it does not yet need.
    pub fn capped() -> Self {
        let mut d = Self::new();
        d.capped = true;
        d
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets allocated, in every table (memory figures).
    pub fn buckets(&self) -> usize {
        self.table.len() + self.old.len() + self.next.len()
    }

    pub fn is_rehashing(&self) -> bool {
        !self.old.is_empty()
    }

    /// (buckets, elements) of Redis's two tables: the main one and, while
    /// a rehash runs, its target (0, 0 otherwise). DEBUG HTSTATS.
    pub fn tables(&self) -> [(usize, usize); 2] {
        if self.is_rehashing() {
            [
                (self.old.len(), self.old_len),
                (self.table.len(), self.len - self.old_len),
            ]
        } else {
            [(self.table.len(), self.len), (0, 0)]
        }
    }

    fn hash(&self, k: &[u8]) -> usize {
        self.hasher.hash_one(k) as usize
    }

    /// The hot path: one branch for "no rehash runs", then one chain. An
    /// empty table has no bucket, which `get` turns into a miss.
    #[inline]
    fn find(&self, k: &[u8]) -> *mut Node<V> {
        let h = self.hash(k);
        if self.is_rehashing() {
            return self.find_rehashing(h, k);
        }
        match self.table.get(h & self.table.len().wrapping_sub(1)) {
            // Safety: buckets hold live chains or null.
            Some(&head) => unsafe { chain_find(head, k) },
            None => ptr::null_mut(),
        }
    }

    /// `find` for callers that may change the dict: they also move the
    /// rehash on by a step, as every write does.
    #[inline]
    fn find_mut(&mut self, k: &[u8]) -> *mut Node<V> {
        let h = self.hash(k);
        if self.is_rehashing() {
            self.rehash(1);
            return self.find_rehashing(h, k);
        }
        match self.table.get(h & self.table.len().wrapping_sub(1)) {
            // Safety: as in find.
            Some(&head) => unsafe { chain_find(head, k) },
            None => ptr::null_mut(),
        }
    }

    /// Both tables (the rehash may have ended since the caller checked).
    #[cold]
    #[inline(never)]
    fn find_rehashing(&self, h: usize, k: &[u8]) -> *mut Node<V> {
        for t in [&self.table, &self.old] {
            if let Some(&head) = t.get(h & t.len().wrapping_sub(1)) {
                // Safety: buckets hold live chains or null.
                let n = unsafe { chain_find(head, k) };
                if !n.is_null() {
                    return n;
                }
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
        let n = self.find_mut(k);
        // Safety: as in get, with exclusive access through &mut self.
        (!n.is_null()).then(|| unsafe { &mut (*n).val })
    }

    pub fn get_key_value_mut(&mut self, k: &[u8]) -> Option<(&[u8], &mut V)> {
        let n = self.find_mut(k);
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
    /// until the key is removed, rehashes only relink it), for structures
    /// that point at it.
    pub fn insert_new_key(&mut self, k: &[u8], v: V) -> &[u8] {
        if self.len >= self.table.len() || self.is_rehashing() {
            self.grow_or_step();
        }
        let s = self.hash(k) & (self.table.len() - 1);
        let n = new_node(k, v, self.table[s]);
        self.table[s] = n;
        self.len += 1;
        // Safety: `n` was just linked and lives as long as &self.
        unsafe { key_of(n) }
    }

    #[cold]
    #[inline(never)]
    fn grow_or_step(&mut self) {
        if !self.is_rehashing() {
            let size = (self.table.len() * 2).max(MIN_BUCKETS);
            if self.capped && !self.may_grow(size) {
                return;
            }
            self.resize_to(size);
        } else if self.len > 2 * self.table.len() {
            // Inserts outran a rehash (a shrink over a big sparse table):
            // catch up faster than chains grow.
            self.rehash(64);
        } else {
            self.rehash(1);
        }
    }

    /// A capped table's check before it allocates `size` buckets: an
    /// empty table must get some, and one already cleared in part is paid.
    fn may_grow(&self, size: usize) -> bool {
        self.table.is_empty()
            || !self.next.is_empty()
            || self.len * 1000 > self.table.len() * CAPPED_MAX_LOAD_PERMILLE
            || (size * size_of::<*mut Node<V>>()) as u64 <= GROW_BUDGET.with(|b| b.get())
    }

    pub fn remove(&mut self, k: &[u8]) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        let h = self.hash(k);
        let n = if self.is_rehashing() {
            self.unlink_rehashing(h, k)
        } else {
            // Safety: the bucket holds a live chain.
            unsafe { chain_unlink(&mut self.table[h & (self.table.len() - 1)], k) }
        };
        if n.is_null() {
            return None;
        }
        self.len -= 1;
        // Safety: `n` was just unlinked, so nothing else frees it.
        let v = unsafe { free_node(n) };
        self.maybe_shrink();
        Some(v)
    }

    #[cold]
    #[inline(never)]
    fn unlink_rehashing(&mut self, h: usize, k: &[u8]) -> *mut Node<V> {
        self.rehash(1);
        // Safety: buckets hold live chains.
        unsafe {
            let n = chain_unlink(&mut self.table[h & (self.table.len() - 1)], k);
            if !n.is_null() || !self.is_rehashing() {
                return n;
            }
            let n = chain_unlink(&mut self.old[h & (self.old.len() - 1)], k);
            if !n.is_null() {
                self.old_len -= 1;
                self.end_rehash_if_drained();
            }
            n
        }
    }

    /// Starts shrinking a table that became mostly empty (no rehash may
    /// run); the keyspace's cron calls it too, for tables that a rehash
    /// left sparse.
    #[inline]
    pub fn maybe_shrink(&mut self) {
        let b = self.table.len();
        if b > MIN_BUCKETS && self.len * 8 < b && !self.is_rehashing() {
            self.shrink();
        }
    }

    #[cold]
    #[inline(never)]
    fn shrink(&mut self) {
        self.resize_to((self.len * 2).next_power_of_two().max(MIN_BUCKETS));
    }

    /// Starts or continues a resize to `new_size` buckets (no rehash may
    /// run): a small table is allocated zeroed and the rehash starts; a big
    /// one is allocated as it is and cleared a page per call first. A
    /// table being cleared for a resize the other way is dropped.
    fn resize_to(&mut self, new_size: usize) {
        debug_assert!(!self.is_rehashing());
        if new_size < CLEAR_FROM {
            self.next = Box::default();
            self.start_rehash(vec![ptr::null_mut(); new_size].into_boxed_slice());
            return;
        }
        let grow = new_size > self.table.len();
        if self.next.is_empty() || (self.next.len() > self.table.len()) != grow {
            self.next = Box::new_uninit_slice(new_size);
            self.zeroed = 0;
        }
        self.clear_next(CLEAR_STEP);
    }

    /// Clears up to `n` more buckets of `next` and starts the rehash into
    /// it once all are.
    fn clear_next(&mut self, n: usize) {
        let end = (self.zeroed + n).min(self.next.len());
        // Safety: in bounds; a null pointer is all zero bits.
        unsafe {
            ptr::write_bytes(
                self.next.as_mut_ptr().add(self.zeroed),
                0,
                end - self.zeroed,
            );
        }
        self.zeroed = end;
        if end == self.next.len() {
            let next = std::mem::take(&mut self.next);
            // A shrink that inserts made pointless since it was decided
            // is dropped.
            if next.len() > self.table.len() || self.len * 2 <= next.len() {
                // Safety: every bucket was written, in this call or earlier.
                self.start_rehash(unsafe { next.assume_init() });
            }
        }
    }

    /// Makes `new` the table and the current one the rehash's source.
    fn start_rehash(&mut self, new: Box<[*mut Node<V>]>) {
        let old = std::mem::replace(&mut self.table, new);
        if self.len > 0 {
            self.old = old;
            self.moved = 0;
            self.old_len = self.len;
        }
    }

    /// Moves up to `buckets` chains from the old table to the new one,
    /// skipping at most `EMPTY_VISITS` empty buckets for each; true when
    /// the rehash is over (or none ran).
    fn rehash(&mut self, buckets: usize) -> bool {
        if !self.is_rehashing() {
            return true;
        }
        let mask = self.table.len() - 1;
        let (mut left, mut empty) = (buckets, buckets * EMPTY_VISITS);
        while left > 0 && self.old_len > 0 {
            let Some(b) = self.old.get_mut(self.moved) else {
                break;
            };
            let mut n = std::mem::replace(b, ptr::null_mut());
            self.moved += 1;
            if n.is_null() {
                empty -= 1;
                if empty == 0 {
                    break;
                }
                continue;
            }
            // Safety: the chain was just detached from the old table; each
            // node is linked into exactly one new bucket.
            unsafe {
                while !n.is_null() {
                    let next = (*n).next;
                    let s = self.hasher.hash_one(key_of(n)) as usize & mask;
                    (*n).next = self.table[s];
                    self.table[s] = n;
                    self.old_len -= 1;
                    n = next;
                }
            }
            left -= 1;
        }
        self.end_rehash_if_drained()
    }

    fn end_rehash_if_drained(&mut self) -> bool {
        if self.old_len == 0 {
            self.old = Box::default();
            self.moved = 0;
            return true;
        }
        false
    }

    /// Rehashes for about `budget` (the cron's active rehashing); true if
    /// there was a rehash to work on.
    pub fn rehash_for(&mut self, budget: std::time::Duration) -> bool {
        if !self.is_rehashing() && self.next.is_empty() {
            return false;
        }
        let start = std::time::Instant::now();
        while !self.next.is_empty() && start.elapsed() < budget {
            self.clear_next(32 * CLEAR_STEP);
        }
        while !self.rehash(100) && start.elapsed() < budget {}
        true
    }

    pub fn clear(&mut self) {
        // Safety: every node is freed exactly once; the tables are dropped.
        unsafe {
            for head in self.old.iter_mut().chain(self.table.iter_mut()) {
                let mut cur = std::mem::replace(head, ptr::null_mut());
                while !cur.is_null() {
                    let next = (*cur).next;
                    drop(free_node(cur));
                    cur = next;
                }
            }
        }
        self.table = Box::default();
        self.old = Box::default();
        self.next = Box::default();
        self.moved = 0;
        self.old_len = 0;
        self.len = 0;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.old.iter().chain(self.table.iter()).flat_map(|&head| {
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

    /// The cursor counts over the smaller table's buckets in reverse-binary
    /// order. During a rehash, one step visits the smaller table's bucket
    /// `i` and every bucket of the larger one that folds onto it (`i`,
    /// `i + small`, `i + 2 small`, ...): together they hold every element
    /// whose hash ends in `i`, wherever the rehash has put it, so the walk
    /// is the one over a table of the smaller size, whose guarantee across
    /// resizes between calls is the plain one.
    fn scan_nodes(
        &self,
        mut cursor: u64,
        min_items: usize,
        mut f: impl FnMut(*mut Node<V>),
    ) -> u64 {
        if self.len == 0 {
            return 0;
        }
        let (small, large): (&[*mut Node<V>], &[*mut Node<V>]) = if self.old.is_empty() {
            (&self.table, &[])
        } else if self.old.len() < self.table.len() {
            (&self.old, &self.table)
        } else {
            (&self.table, &self.old)
        };
        let mask = (small.len() - 1) as u64;
        let mut seen = 0;
        let mut steps = 0;
        loop {
            let i = (cursor & mask) as usize;
            // Safety: buckets hold live chains or null.
            unsafe {
                seen += chain_each(small[i], &mut f);
                let mut j = i;
                while j < large.len() {
                    seen += chain_each(large[j], &mut f);
                    j += small.len();
                    steps += 1;
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

    /// A random element: a random non-empty bucket (of both tables during
    /// a rehash, as in Redis), then a random node of its chain. Not
    /// perfectly uniform; good for sampling.
    pub fn random<R: Rng>(&self, rng: &mut R) -> Option<(&[u8], &V)> {
        if self.len == 0 {
            return None;
        }
        let live_old = self.old.len() - self.moved;
        loop {
            let head = if live_old == 0 {
                self.table[rng.gen::<usize>() & (self.table.len() - 1)]
            } else {
                let r = rng.gen_range(0..live_old + self.table.len());
                match r.checked_sub(live_old) {
                    Some(t) => self.table[t],
                    None => self.old[self.moved + r],
                }
            };
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
    /// During a rehash, position `i` is bucket `i` of both tables (where
    /// it exists and was not moved yet). Looks at no more than `count * 10`
    /// positions and jumps elsewhere after a run of empty ones, so a
    /// sparse table stays cheap. Returns how many elements `f` saw.
    pub fn sample<R: Rng>(&self, rng: &mut R, count: usize, mut f: impl FnMut(&[u8], &V)) -> usize {
        let count = count.min(self.len);
        if count == 0 {
            return 0;
        }
        let size = self.table.len().max(self.old.len());
        let mask = size - 1;
        let mut i = rng.gen::<usize>() & mask;
        let (mut seen, mut empty_run) = (0, 0);
        for _ in 0..count * 10 {
            // Positions below `moved` that only the old table has hold
            // nothing any more.
            if i < self.moved && i >= self.table.len() {
                i = self.moved;
            }
            let old = if i >= self.moved {
                self.old.get(i)
            } else {
                None
            };
            let mut any = false;
            for &head in old.into_iter().chain(self.table.get(i)) {
                let mut c = head;
                any |= !c.is_null();
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
            }
            if any {
                empty_run = 0;
            } else {
                empty_run += 1;
                if empty_run >= 5 && empty_run > count {
                    i = rng.gen::<usize>() & mask;
                    empty_run = 0;
                    continue;
                }
            }
            i = (i + 1) & mask;
        }
        seen
    }

    /// DEBUG HTSTATS's text for this dict: each table's size and element
    /// count and, with `full`, its chain lengths, in Redis's format.
    pub fn stats(&self, full: bool) -> String {
        let mut s = String::new();
        let tables: [(&[*mut Node<V>], usize); 2] = if self.is_rehashing() {
            [
                (&self.old, self.old_len),
                (&self.table, self.len - self.old_len),
            ]
        } else {
            [(&self.table, self.len), (&[], 0)]
        };
        for (idx, (t, used)) in tables.into_iter().enumerate() {
            if idx == 1 && !self.is_rehashing() {
                break;
            }
            table_stats(&mut s, idx, t, used, full);
        }
        s
    }
}

fn table_stats<V>(s: &mut String, idx: usize, t: &[*mut Node<V>], used: usize, full: bool) {
    use std::fmt::Write;
    let name = if idx == 0 {
        "main hash table"
    } else {
        "rehashing target"
    };
    let _ = writeln!(s, "Hash table {idx} stats ({name}):");
    if used == 0 {
        s.push_str("No stats available for empty dictionaries\n");
        return;
    }
    let _ = write!(s, " table size: {}\n number of elements: {used}\n", t.len());
    if !full {
        return;
    }
    const LENGTHS: usize = 50;
    let mut dist = [0usize; LENGTHS];
    let (mut slots, mut max, mut total) = (0usize, 0usize, 0usize);
    for &head in t {
        let mut n = 0;
        let mut c = head;
        while !c.is_null() {
            n += 1;
            // Safety: live chain.
            c = unsafe { (*c).next };
        }
        dist[n.min(LENGTHS - 1)] += 1;
        if n > 0 {
            slots += 1;
            max = max.max(n);
            total += n;
        }
    }
    let _ = write!(
        s,
        " different slots: {slots}\n max chain length: {max}\n avg chain length (counted): {:.2}\n avg chain length (computed): {:.2}\n Chain length distribution:\n",
        total as f64 / slots as f64,
        used as f64 / slots as f64
    );
    for (i, &c) in dist.iter().enumerate().filter(|(_, &c)| c > 0) {
        let ge = if i == LENGTHS - 1 { ">= " } else { "" };
        let _ = writeln!(
            s,
            "   {ge}{i}: {c} ({:.2}%)",
            c as f64 * 100.0 / t.len() as f64
        );
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
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
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
        settle(&mut d);
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

    /// What the cron does to an idle dict.
    fn settle<V>(d: &mut Dict<V>) {
        loop {
            d.maybe_shrink();
            if !d.rehash_for(std::time::Duration::from_secs(5)) {
                break;
            }
        }
    }

    fn max_chain<V>(d: &Dict<V>) -> usize {
        let mut max = 0;
        for &head in d.old.iter().chain(d.table.iter()) {
            let mut n = 0;
            let mut c = head;
            while !c.is_null() {
                n += 1;
                c = unsafe { (*c).next };
            }
            max = max.max(n);
        }
        max
    }

    #[test]
    fn chains_stay_short() {
        let mut d = Dict::new();
        for i in 0..100_000 {
            d.insert(format!("key:{i:012}").as_bytes(), ());
        }
        let max = max_chain(&d);
        assert!(max < 12, "max chain {max}");
    }

    /// A dict in the middle of growing from 64 to 128 buckets, with
    /// elements in both tables.
    fn mid_grow() -> Dict<usize> {
        let mut d = Dict::new();
        for i in 0..=64 {
            d.insert_new(&k(i), i);
        }
        assert!(d.is_rehashing());
        d.rehash(8);
        let [(ob, on), (nb, nn)] = d.tables();
        assert_eq!((ob, nb), (64, 128));
        assert!(on > 0 && nn > 0, "{on} {nn}");
        d
    }

    #[test]
    fn resizes_are_incremental_and_lookups_see_both_tables() {
        let mut d = Dict::new();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut model = std::collections::HashMap::new();
        let (mut during, mut shrinks) = (0, 0);
        for op in 0..200_000usize {
            let i = rng.gen_range(0..5000usize);
            // Phases of growth and of decline, so that both directions
            // of rehash run under lookups, inserts and deletes.
            let grow = (op / 25_000) % 2 == 0;
            if rng.gen_bool(if grow { 0.7 } else { 0.05 }) {
                assert_eq!(d.insert(&k(i), op), model.insert(i, op));
            } else if rng.gen_bool(0.5) {
                assert_eq!(d.remove(&k(i)), model.remove(&i));
            } else {
                assert_eq!(d.get(&k(i)), model.get(&i));
                assert_eq!(d.get_mut(&k(i)).copied(), model.get(&i).copied());
            }
            if d.is_rehashing() {
                during += 1;
                let [(old, _), (new, _)] = d.tables();
                shrinks += (new < old) as usize;
                // Never more than one bucket's worth of work per call:
                // the old table is still there, partly moved.
                assert_eq!(d.buckets(), old + new);
            }
            assert_eq!(d.len(), model.len());
        }
        assert!(during > 1000 && shrinks > 100, "{during} {shrinks}");
        assert_eq!(d.iter().count(), model.len());
        for (i, v) in &model {
            assert_eq!(d.get(&k(*i)), Some(v));
        }
    }

    #[test]
    fn a_rehash_moves_one_bucket_per_write_and_the_cron_finishes_it() {
        let mut d = Dict::new();
        for i in 0..=1024 {
            d.insert_new(&k(i), ());
        }
        assert!(d.is_rehashing());
        let before = d.tables()[0].1;
        d.insert_new(&k(5000), ());
        let after = d.tables()[0].1;
        assert!(before - after <= max_chain(&d), "{before} -> {after}");
        assert!(d.rehash_for(std::time::Duration::from_secs(5)));
        assert!(!d.is_rehashing());
        assert_eq!(d.tables(), [(2048, 1026), (0, 0)]);
        assert!(!d.rehash_for(std::time::Duration::from_secs(5)));
    }

    #[test]
    fn emptied_tables_shrink_at_once_and_inserts_never_outrun_a_shrink() {
        let mut d = Dict::new();
        for i in 0..100_000 {
            d.insert_new(&k(i), ());
        }
        // Down to a few keys: shrinks start while others run.
        for i in 100..100_000 {
            d.remove(&k(i));
        }
        for i in 0..100 {
            d.remove(&k(i));
        }
        // No element left: no rehash lingers over empty buckets.
        assert!(!d.is_rehashing());
        assert!(d.buckets() <= 64, "{}", d.buckets());
        // A shrink of a big sparse table, then a flood of inserts.
        for i in 0..200_000 {
            d.insert_new(&k(i), ());
        }
        for i in 1000..200_000 {
            d.remove(&k(i));
        }
        let mut worst = 0;
        for i in 200_000..400_000 {
            d.insert_new(&k(i), ());
            if i % 1000 == 0 {
                worst = worst.max(max_chain(&d));
            }
        }
        assert!(worst < 24, "max chain {worst}");
    }

    #[test]
    fn big_tables_are_cleared_a_page_per_write_before_their_rehash() {
        let mut d = Dict::new();
        for i in 0..CLEAR_FROM {
            d.insert_new(&k(i), i);
        }
        assert!(!d.is_rehashing() && d.next.is_empty());
        let mut writes = 0;
        while !d.is_rehashing() {
            d.insert_new(&k(CLEAR_FROM + writes), CLEAR_FROM + writes);
            writes += 1;
            assert!(d.is_rehashing() || d.zeroed == writes * CLEAR_STEP);
        }
        assert_eq!(writes, 2 * CLEAR_FROM / CLEAR_STEP);
        assert_eq!(d.tables()[1].0, 2 * CLEAR_FROM);
        for i in 0..CLEAR_FROM + writes {
            assert_eq!(d.get(&k(i)), Some(&i));
        }
        // A shrink decided, then made pointless by inserts, is dropped.
        for i in 0..4 * CLEAR_FROM {
            d.insert(&k(i), i);
        }
        settle(&mut d);
        for i in 0..4 * CLEAR_FROM {
            d.remove(&k(i));
            if !d.next.is_empty() {
                break;
            }
        }
        assert!(!d.next.is_empty());
        let len = d.len();
        for i in 0..2 * len {
            d.insert(&k(i), i);
        }
        settle(&mut d);
        assert!(d.next.is_empty() && d.tables()[0].0 >= d.len());
    }

    #[test]
    fn stored_keys_stay_put_across_rehashes() {
        let mut d = Dict::new();
        let p = d.insert_new_key(b"pinned", 0).as_ptr();
        for i in 0..50_000 {
            d.insert_new(&k(i), i);
            if i % 997 == 0 {
                assert_eq!(d.get_key_value(b"pinned").map(|(k, _)| k.as_ptr()), Some(p));
            }
        }
        for i in 0..50_000 {
            d.remove(&k(i));
        }
        assert_eq!(d.get_key_value(b"pinned").map(|(k, _)| k.as_ptr()), Some(p));
    }

    #[test]
    fn random_and_sample_draw_from_both_tables_during_a_rehash() {
        let mut rng = SmallRng::seed_from_u64(1);
        let grow = mid_grow();
        let mut shrink = Dict::new();
        for i in 0..4096 {
            shrink.insert_new(&k(i), i);
        }
        for i in 40..4096 {
            shrink.remove(&k(i));
        }
        // The remove that started the shrink moved nothing yet; few did.
        assert!(shrink.is_rehashing());
        let [(ob, on), (nb, nn)] = shrink.tables();
        assert!(nb < ob && on > 0 && nn > 0, "{ob} {on} {nb} {nn}");
        for (d, n) in [(&grow, 65), (&shrink, 40)] {
            let mut hit = HashSet::new();
            for _ in 0..5000 {
                hit.insert(*d.random(&mut rng).unwrap().1);
            }
            assert_eq!(hit, (0..n).collect(), "random");
            let mut hit = HashSet::new();
            for _ in 0..5000 {
                // Enough per call that no element is always behind others
                // at its position (as in Redis, a chain's tail is only
                // reached through its head).
                let got = d.sample(&mut rng, 10, |key, &v| {
                    assert_eq!(key, &k(v)[..]);
                    hit.insert(v);
                });
                assert!(got <= 10);
            }
            assert_eq!(hit, (0..n).collect(), "sample");
            assert!(d.is_rehashing());
        }
    }

    #[test]
    fn a_scan_during_a_growing_rehash_sees_each_key_once() {
        let mut d = mid_grow();
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = d.scan(cursor, 3, |_, &v| seen.push(v));
            // Only the rehash moves between calls, until it ends.
            d.rehash(2);
            if cursor == 0 {
                break;
            }
        }
        assert!(!d.is_rehashing());
        seen.sort();
        assert_eq!(seen, (0..65).collect::<Vec<_>>());
    }

    /// SCAN's guarantee, property-style: keys present for the whole scan
    /// are all returned while, between calls, the dict grows, shrinks,
    /// starts and finishes rehashes or moves a rehash on.
    #[test]
    fn scan_guarantee_holds_across_incremental_resizes() {
        let (mut mid_calls, mut resized_calls) = (0, 0);
        for seed in 0..60u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut d = Dict::new();
            let base = rng.gen_range(1..3000);
            for i in 0..base {
                d.insert_new(&k(i), ());
            }
            // Keys i % 4 == 0 stay for the whole scan; the others and the
            // extras come and go.
            let stable = |i: usize| i < base && i % 4 == 0;
            let mut extra = base..base;
            let mut seen = HashSet::new();
            let mut cursor = 0;
            let mut calls = 0;
            loop {
                let shape = d.tables();
                cursor = d.scan(cursor, rng.gen_range(1..16), |key, _| {
                    seen.insert(key.to_vec());
                });
                mid_calls += d.is_rehashing() as usize;
                calls += 1;
                if cursor == 0 || calls > 100_000 {
                    break;
                }
                match rng.gen_range(0..10) {
                    0..=2 => {
                        let n = rng.gen_range(0..(d.len() + 50).min(4000));
                        for i in extra.end..extra.end + n {
                            d.insert_new(&k(i), ());
                        }
                        extra.end += n;
                    }
                    3..=5 => {
                        let n = rng.gen_range(0..extra.len() + 1);
                        for i in extra.start..extra.start + n {
                            d.remove(&k(i));
                        }
                        extra.start += n;
                    }
                    6 => {
                        for i in (0..base).filter(|&i| !stable(i)) {
                            d.remove(&k(i));
                        }
                    }
                    7 => {
                        d.rehash(rng.gen_range(1..40));
                    }
                    _ => {}
                }
                resized_calls += (d.tables() != shape && d.is_rehashing()) as usize;
            }
            assert_eq!(cursor, 0, "seed {seed}: the scan never ended");
            for i in (0..base).filter(|&i| stable(i)) {
                assert!(seen.contains(&k(i)), "seed {seed}: missed {i}");
            }
        }
        assert!(
            mid_calls > 1000 && resized_calls > 100,
            "{mid_calls} {resized_calls}"
        );
    }

    #[test]
    fn capped_table_waits_for_budget_until_too_full() {
        let buckets = |d: &Dict<()>| d.tables()[0].0;
        set_grow_budget(0);
        let mut d: Dict<()> = Dict::capped();
        let mut free = Dict::new();
        for i in 0..64u32 {
            d.insert(&i.to_be_bytes(), ());
            free.insert(&i.to_be_bytes(), ());
        }
        assert_eq!(buckets(&free), 64);
        // 64 -> 128 buckets is refused, up to 1.618 elements per bucket.
        for i in 64..104u32 {
            d.insert(&i.to_be_bytes(), ());
        }
        assert_eq!((buckets(&d), d.is_rehashing()), (64, false));
        d.insert(&104u32.to_be_bytes(), ());
        assert!(d.is_rehashing() || buckets(&d) == 128);
        // A budget that covers the new table lets it grow at 1.0.
        set_grow_budget(128 * 8);
        let mut d: Dict<()> = Dict::capped();
        for i in 0..65u32 {
            d.insert(&i.to_be_bytes(), ());
        }
        assert!(d.is_rehashing() || buckets(&d) == 128);
        set_grow_budget(u64::MAX);
    }

    #[test]
    fn htstats_text_shows_both_tables_during_a_rehash() {
        let d: Dict<()> = Dict::new();
        assert_eq!(
            d.stats(false),
            "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
        );
        let d = mid_grow();
        let [(ob, on), (nb, nn)] = d.tables();
        let s = d.stats(false);
        assert_eq!(
            s,
            format!("Hash table 0 stats (main hash table):\n table size: {ob}\n number of elements: {on}\nHash table 1 stats (rehashing target):\n table size: {nb}\n number of elements: {nn}\n")
        );
        let full = d.stats(true);
        assert!(
            full.contains(" Chain length distribution:\n   0: "),
            "{full}"
        );
        assert_eq!(full.matches("max chain length").count(), 2);
    }
}
