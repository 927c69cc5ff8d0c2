//! The sorted set value: members with double scores, ordered by
//! (score, member bytes).
//!
//! Two encodings, as in Redis (OBJECT ENCODING reports them by name):
//!
//! * `listpack` ([`Pack`]): one byte buffer of `[varint len][member][score
//!   as 8 little-endian bytes]` entries kept in order. Small sets only
//!   (zset-max-listpack-entries / -value), so linear scans are cheap and the
//!   whole set costs a few bytes per element.
//! * `skiplist` ([`Big`]): a [`Dict`] member -> score (O(1) ZSCORE, and the
//!   reverse-binary cursor that gives ZSCAN Redis's guarantees) plus a
//!   counted B+tree of (score, member) items giving O(log n) insert, delete,
//!   rank, select-by-rank and range bounds. Tree items do not copy the member:
//!   they point at the key bytes inside the dict's node, which never moves
//!   while the member is in the set (dict resizes relink nodes; they are not
//!   reallocated). Per element that is ~24 B in a leaf (at the fill factor),
//!   one dict node and a bucket pointer, less than Redis's skiplist node +
//!   sds + dictEntry.
//!
//! Scores are never NaN. A score of -0 is kept as -0 by the skiplist
//! encoding; the listpack encoding stores it as 0, as Redis does (its
//! listpack keeps scores as text and `-0` comes back as `0`).

use std::cmp::Ordering;

use super::dict::Dict;

/// Limits that decide the encoding (zset-max-listpack-entries / -value).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

fn cmp_items(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    match s1.partial_cmp(&s2) {
        Some(Ordering::Equal) | None => m1.cmp(m2),
        Some(o) => o,
    }
}

// ---------------------------------------------------------------------------
// listpack
// ---------------------------------------------------------------------------

/// The compact encoding: entries in order in one buffer.
#[derive(Clone, Default, PartialEq)]
pub struct Pack {
    buf: Vec<u8>,
    n: usize,
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl Pack {
    /// Decodes the entry at byte offset `off`: (member, score, next offset).
    fn at(&self, off: usize) -> (&[u8], f64, usize) {
        let b = &self.buf;
        let mut p = off;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let c = b[p];
            p += 1;
            len |= ((c & 0x7f) as usize) << shift;
            if c & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let m = &b[p..p + len];
        let mut sb = [0u8; 8];
        sb.copy_from_slice(&b[p + len..p + len + 8]);
        (m, f64::from_le_bytes(sb), p + len + 8)
    }

    /// (offset, member, score) of every entry, in order.
    fn iter(&self) -> impl Iterator<Item = (usize, &[u8], f64)> + '_ {
        let mut off = 0;
        std::iter::from_fn(move || {
            if off >= self.buf.len() {
                return None;
            }
            let (m, s, next) = self.at(off);
            let o = off;
            off = next;
            Some((o, m, s))
        })
    }

    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        self.iter()
            .enumerate()
            .find(|(_, (_, m, _))| *m == member)
            .map(|(i, (off, _, s))| (i, off, s))
    }

    fn remove_at(&mut self, off: usize) {
        let (_, _, next) = self.at(off);
        self.buf.drain(off..next);
        self.n -= 1;
    }

    fn insert_sorted(&mut self, member: &[u8], score: f64) {
        // The listpack keeps scores as text; -0 reads back as 0.
        let score = if score == 0.0 { 0.0 } else { score };
        let off = self
            .iter()
            .find(|(_, m, s)| cmp_items(*s, m, score, member) == Ordering::Greater)
            .map(|(o, _, _)| o)
            .unwrap_or(self.buf.len());
        let mut e = Vec::with_capacity(member.len() + 10);
        put_varint(&mut e, member.len());
        e.extend_from_slice(member);
        e.extend_from_slice(&score.to_le_bytes());
        self.buf.splice(off..off, e);
        self.n += 1;
    }
}

// ---------------------------------------------------------------------------
// counted B+tree
// ---------------------------------------------------------------------------

/// A tree item: a score and the member bytes, which live in the dict node.
#[derive(Clone, Copy)]
struct Item {
    score: f64,
    ptr: *const u8,
    len: usize,
}

impl Item {
    fn of(score: f64, m: &[u8]) -> Item {
        Item {
            score,
            ptr: m.as_ptr(),
            len: m.len(),
        }
    }

    fn member<'a>(&self) -> &'a [u8] {
        // Safety: items point at key bytes of live dict nodes (or, for
        // probes, at a slice that outlives the call).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn cmp(&self, o: &Item) -> Ordering {
        cmp_items(self.score, self.member(), o.score, o.member())
    }

    fn lt(&self, o: &Item) -> bool {
        self.cmp(o) == Ordering::Less
    }
}

const LEAF_CAP: usize = 128;
const INNER_CAP: usize = 64;

enum Node {
    Leaf(Vec<Item>),
    Inner(Inner),
}

struct Inner {
    /// The first item of each child (its lower separator).
    firsts: Vec<Item>,
    sizes: Vec<usize>,
    kids: Vec<Node>,
}

impl Node {
    fn count(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.sizes.iter().sum(),
        }
    }

    fn first(&self) -> Item {
        match self {
            Node::Leaf(v) => v[0],
            Node::Inner(n) => n.firsts[0],
        }
    }

    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.kids.len(),
        }
    }

    /// Inserts; returns the right half if the node split.
    fn insert(&mut self, it: Item) -> Option<Node> {
        match self {
            Node::Leaf(v) => {
                let pos = v.partition_point(|x| x.lt(&it));
                if v.len() < LEAF_CAP {
                    if v.len() == v.capacity() {
                        let want = (v.capacity() * 2).clamp(4, LEAF_CAP);
                        v.reserve_exact(want - v.len());
                    }
                    v.insert(pos, it);
                    return None;
                }
                // Full. Appending at the end (ascending loads) starts a new
                // leaf so leaves stay full; otherwise split in halves.
                if pos == v.len() {
                    let mut r = Vec::with_capacity(4);
                    r.push(it);
                    return Some(Node::Leaf(r));
                }
                let mut r = Vec::with_capacity(LEAF_CAP);
                r.extend_from_slice(&v[LEAF_CAP / 2..]);
                v.truncate(LEAF_CAP / 2);
                if pos <= LEAF_CAP / 2 {
                    v.insert(pos, it);
                } else {
                    r.insert(pos - LEAF_CAP / 2, it);
                }
                Some(Node::Leaf(r))
            }
            Node::Inner(n) => {
                let i = n.firsts.partition_point(|f| !it.lt(f)).saturating_sub(1);
                let split = n.kids[i].insert(it);
                n.firsts[i] = n.kids[i].first();
                match split {
                    None => n.sizes[i] += 1,
                    Some(r) => {
                        n.sizes[i] = n.kids[i].count();
                        n.firsts.insert(i + 1, r.first());
                        n.sizes.insert(i + 1, r.count());
                        n.kids.insert(i + 1, r);
                    }
                }
                if n.kids.len() <= INNER_CAP {
                    return None;
                }
                let h = n.kids.len() / 2;
                let right = Inner {
                    firsts: n.firsts.split_off(h),
                    sizes: n.sizes.split_off(h),
                    kids: n.kids.split_off(h),
                };
                Some(Node::Inner(right))
            }
        }
    }

    /// Removes the item equal to `it`; true if found.
    fn remove(&mut self, it: &Item) -> bool {
        match self {
            Node::Leaf(v) => match v.binary_search_by(|x| x.cmp(it)) {
                Ok(p) => {
                    v.remove(p);
                    if v.capacity() > 16 && v.len() * 4 < v.capacity() {
                        v.shrink_to(v.len() * 2);
                    }
                    true
                }
                Err(_) => false,
            },
            Node::Inner(n) => {
                let i = n.firsts.partition_point(|f| !it.lt(f)).saturating_sub(1);
                if !n.kids[i].remove(it) {
                    return false;
                }
                n.sizes[i] -= 1;
                if n.sizes[i] == 0 {
                    n.kids.remove(i);
                    n.sizes.remove(i);
                    n.firsts.remove(i);
                    return true;
                }
                n.firsts[i] = n.kids[i].first();
                n.rebalance(i);
                true
            }
        }
    }
}

impl Inner {
    /// Merges child `i` with a neighbour when it became small.
    fn rebalance(&mut self, i: usize) {
        let cap = match self.kids[i] {
            Node::Leaf(_) => LEAF_CAP,
            Node::Inner(_) => INNER_CAP,
        };
        if self.kids[i].width() * 4 >= cap || self.kids.len() < 2 {
            return;
        }
        let (a, b) = if i + 1 < self.kids.len() { (i, i + 1) } else { (i - 1, i) };
        if self.kids[a].width() + self.kids[b].width() > cap * 3 / 4 {
            return;
        }
        let right = self.kids.remove(b);
        let rs = self.sizes.remove(b);
        self.firsts.remove(b);
        match (&mut self.kids[a], right) {
            (Node::Leaf(l), Node::Leaf(r)) => l.extend_from_slice(&r),
            (Node::Inner(l), Node::Inner(r)) => {
                l.firsts.extend(r.firsts);
                l.sizes.extend(r.sizes);
                l.kids.extend(r.kids);
            }
            _ => unreachable!("siblings are at the same level"),
        }
        self.sizes[a] += rs;
    }
}

struct Tree {
    root: Node,
    len: usize,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }

    fn insert(&mut self, it: Item) {
        if let Some(r) = self.root.insert(it) {
            let l = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Inner(Inner {
                firsts: vec![l.first(), r.first()],
                sizes: vec![l.count(), r.count()],
                kids: vec![l, r],
            });
        }
        self.len += 1;
    }

    fn remove(&mut self, it: &Item) -> bool {
        if !self.root.remove(it) {
            return false;
        }
        self.len -= 1;
        loop {
            match &mut self.root {
                Node::Inner(n) if n.kids.len() == 1 => {
                    let k = n.kids.pop().expect("one child");
                    self.root = k;
                }
                Node::Inner(n) if n.kids.is_empty() => self.root = Node::Leaf(Vec::new()),
                _ => break,
            }
        }
        true
    }

    /// Number of items for which `before` holds (a prefix of the order).
    fn count_before(&self, before: impl Fn(&Item) -> bool) -> usize {
        let mut acc = 0;
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(v) => return acc + v.partition_point(|x| before(x)),
                Node::Inner(n) => {
                    let i = n.firsts.partition_point(|f| before(f));
                    if i == 0 {
                        return acc;
                    }
                    acc += n.sizes[..i - 1].iter().sum::<usize>();
                    node = &n.kids[i - 1];
                }
            }
        }
    }

    fn select(&self, mut r: usize) -> Option<Item> {
        if r >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(v) => return v.get(r).copied(),
                Node::Inner(n) => {
                    let mut i = 0;
                    while r >= n.sizes[i] {
                        r -= n.sizes[i];
                        i += 1;
                    }
                    node = &n.kids[i];
                }
            }
        }
    }

    /// Visits ranks `start..end` in order (or in reverse order); stops when
    /// `f` returns false.
    fn walk(&self, start: usize, end: usize, rev: bool, f: &mut dyn FnMut(&Item) -> bool) {
        fn go(
            node: &Node,
            start: usize,
            end: usize,
            rev: bool,
            f: &mut dyn FnMut(&Item) -> bool,
        ) -> bool {
            match node {
                Node::Leaf(v) => {
                    let s = &v[start..end];
                    if rev {
                        s.iter().rev().all(f)
                    } else {
                        s.iter().all(f)
                    }
                }
                Node::Inner(n) => {
                    let mut spans = Vec::with_capacity(4);
                    let mut base = 0;
                    for (i, &sz) in n.sizes.iter().enumerate() {
                        let (lo, hi) = (base, base + sz);
                        base = hi;
                        if hi <= start || lo >= end {
                            continue;
                        }
                        spans.push((i, start.max(lo) - lo, end.min(hi) - lo));
                    }
                    if rev {
                        spans.reverse();
                    }
                    spans
                        .into_iter()
                        .all(|(i, s, e)| go(&n.kids[i], s, e, rev, f))
                }
            }
        }
        let end = end.min(self.len);
        if start < end {
            go(&self.root, start, end, rev, f);
        }
    }
}

// ---------------------------------------------------------------------------
// skiplist (dict + tree)
// ---------------------------------------------------------------------------

pub struct Big {
    dict: Dict<f64>,
    tree: Tree,
}

// Safety: the tree's raw pointers point into nodes the same value owns.
unsafe impl Send for Big {}
unsafe impl Sync for Big {}

impl Big {
    fn new() -> Big {
        Big {
            dict: Dict::new(),
            tree: Tree::new(),
        }
    }

    fn insert_new(&mut self, m: &[u8], score: f64) {
        let k = self.dict.insert_new_key(m, score);
        self.tree.insert(Item::of(score, k));
    }

    fn set_score(&mut self, m: &[u8], old: f64, score: f64) {
        let Some((k, s)) = self.dict.get_key_value_mut(m) else {
            return;
        };
        *s = score;
        self.tree.remove(&Item::of(old, k));
        self.tree.insert(Item::of(score, k));
    }

    fn remove(&mut self, m: &[u8]) -> Option<f64> {
        let s = *self.dict.get(m)?;
        self.tree.remove(&Item::of(s, m));
        self.dict.remove(m);
        Some(s)
    }
}

// ---------------------------------------------------------------------------
// ZSet
// ---------------------------------------------------------------------------

pub enum ZSet {
    Pack(Pack),
    Big(Box<Big>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Pack(Pack::default())
    }
}

/// A lexicographic range bound (`-`, `+`, `[x`, `(x`).
#[derive(Debug, Clone, PartialEq)]
pub enum Lex {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl ZSet {
    /// An empty set whose encoding Redis would choose for `size_hint`
    /// elements of up to `len_hint` bytes.
    pub fn with_hint(size_hint: usize, len_hint: usize, lim: Limits) -> ZSet {
        if size_hint <= lim.entries && len_hint <= lim.value {
            ZSet::Pack(Pack::default())
        } else {
            ZSet::Big(Box::new(Big::new()))
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Pack(_) => "listpack",
            ZSet::Big(_) => "skiplist",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Pack(p) => p.n,
            ZSet::Big(b) => b.tree.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => p.find(m).map(|(_, _, s)| s),
            ZSet::Big(b) => b.dict.get(m).copied(),
        }
    }

    fn to_big(&mut self) {
        if let ZSet::Pack(p) = self {
            let mut b = Big::new();
            for (_, m, s) in p.iter() {
                b.insert_new(m, s);
            }
            *self = ZSet::Big(Box::new(b));
        }
    }

    /// Converts a skiplist back to a listpack if it fits (what Redis does
    /// for the results of ZUNIONSTORE and friends).
    pub fn compact(&mut self, lim: Limits) {
        if let ZSet::Big(b) = self {
            if b.tree.len > lim.entries || b.dict.iter().any(|(m, _)| m.len() > lim.value) {
                return;
            }
            let mut p = Pack::default();
            let mut items = Vec::with_capacity(b.tree.len);
            b.tree.walk(0, usize::MAX, false, &mut |it| {
                items.push(*it);
                true
            });
            for it in items {
                let score = if it.score == 0.0 { 0.0 } else { it.score };
                put_varint(&mut p.buf, it.len);
                p.buf.extend_from_slice(it.member());
                p.buf.extend_from_slice(&score.to_le_bytes());
                p.n += 1;
            }
            *self = ZSet::Pack(p);
        }
    }

    /// Adds or updates a member; returns its previous score.
    pub fn insert(&mut self, m: &[u8], score: f64, lim: Limits) -> Option<f64> {
        match self {
            ZSet::Pack(p) => {
                if let Some((_, off, old)) = p.find(m) {
                    if old != score || (old.is_sign_negative() != score.is_sign_negative()) {
                        p.remove_at(off);
                        p.insert_sorted(m, score);
                    }
                    return Some(old);
                }
                if p.n + 1 > lim.entries || m.len() > lim.value {
                    self.to_big();
                    return self.insert(m, score, lim);
                }
                p.insert_sorted(m, score);
                None
            }
            ZSet::Big(b) => match b.dict.get(m).copied() {
                Some(old) => {
                    if old.to_bits() != score.to_bits() {
                        b.set_score(m, old, score);
                    }
                    Some(old)
                }
                None => {
                    b.insert_new(m, score);
                    None
                }
            },
        }
    }

    /// `insert` for a member whose current score (None: absent) the caller
    /// has just read with `score`, so the big encoding need not find it
    /// again.
    pub fn put(&mut self, m: &[u8], current: Option<f64>, score: f64, lim: Limits) {
        match (&mut *self, current) {
            (ZSet::Big(b), Some(old)) => {
                if old.to_bits() != score.to_bits() {
                    b.set_score(m, old, score);
                }
            }
            (ZSet::Big(b), None) => b.insert_new(m, score),
            _ => {
                self.insert(m, score, lim);
            }
        }
    }

    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match self {
            ZSet::Pack(p) => {
                let (_, off, s) = p.find(m)?;
                p.remove_at(off);
                Some(s)
            }
            ZSet::Big(b) => b.remove(m),
        }
    }

    /// 0-based ascending rank and score of a member.
    pub fn rank(&self, m: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSet::Pack(p) => p.find(m).map(|(i, _, s)| (i, s)),
            ZSet::Big(b) => {
                let (k, &s) = b.dict.get_key_value(m)?;
                let it = Item::of(s, k);
                Some((b.tree.count_before(|x| x.lt(&it)), s))
            }
        }
    }

    /// The element at an ascending rank.
    pub fn select(&self, r: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Pack(p) => p.iter().nth(r).map(|(_, m, s)| (m, s)),
            ZSet::Big(b) => b.tree.select(r).map(|it| (it.member(), it.score)),
        }
    }

    /// How many elements have a score below `bound` (or at most `bound`
    /// when `inclusive`): the rank where a score range starts or ends.
    pub fn score_rank(&self, bound: f64, inclusive: bool) -> usize {
        let before = |s: f64| if inclusive { s <= bound } else { s < bound };
        match self {
            ZSet::Pack(p) => p.iter().take_while(|(_, _, s)| before(*s)).count(),
            ZSet::Big(b) => b.tree.count_before(|it| before(it.score)),
        }
    }

    /// Like `score_rank` for members: elements before the lex bound
    /// (meaningful when all scores are equal, as Redis documents).
    pub fn lex_rank(&self, bound: &Lex, is_max: bool) -> usize {
        let before = |m: &[u8]| match bound {
            Lex::Min => false,
            Lex::Max => true,
            Lex::Incl(x) => {
                if is_max {
                    m <= &x[..]
                } else {
                    m < &x[..]
                }
            }
            Lex::Excl(x) => {
                if is_max {
                    m < &x[..]
                } else {
                    m <= &x[..]
                }
            }
        };
        match self {
            ZSet::Pack(p) => p.iter().take_while(|(_, m, _)| before(m)).count(),
            ZSet::Big(b) => b.tree.count_before(|it| before(it.member())),
        }
    }

    /// Visits ranks `start..end` ascending, or descending with `rev`
    /// (still ranks `start..end`, from `end - 1` down); `f` returns false
    /// to stop.
    pub fn walk(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(&[u8], f64) -> bool) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match self {
            ZSet::Pack(p) => {
                let items: Vec<(&[u8], f64)> =
                    p.iter().skip(start).take(end - start).map(|(_, m, s)| (m, s)).collect();
                if rev {
                    for (m, s) in items.into_iter().rev() {
                        if !f(m, s) {
                            return;
                        }
                    }
                } else {
                    for (m, s) in items {
                        if !f(m, s) {
                            return;
                        }
                    }
                }
            }
            ZSet::Big(b) => b.tree.walk(start, end, rev, &mut |it| f(it.member(), it.score)),
        }
    }

    /// Every element in order, copied.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::with_capacity(self.len());
        self.walk(0, usize::MAX, false, |m, s| {
            v.push((m.to_vec(), s));
            true
        });
        v
    }

    /// Elements in no particular order (cheaper than `walk` for lookups).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            ZSet::Pack(p) => p.iter().for_each(|(_, m, s)| f(m, s)),
            ZSet::Big(b) => b.dict.iter().for_each(|(m, s)| f(m, *s)),
        }
    }

    /// Removes ranks `start..end`; returns how many were removed.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSet::Pack(p) => {
                let offs: Vec<usize> = p.iter().map(|(o, _, _)| o).collect();
                let from = offs[start];
                let to = offs.get(end).copied().unwrap_or(p.buf.len());
                p.buf.drain(from..to);
                p.n -= end - start;
            }
            ZSet::Big(_) => {
                let mut doomed = Vec::with_capacity(end - start);
                self.walk(start, end, false, |m, _| {
                    doomed.push(m.to_vec());
                    true
                });
                for m in doomed {
                    self.remove(&m);
                }
            }
        }
        end - start
    }

    /// SCAN step: a listpack is returned whole (cursor 0), as Redis does;
    /// a skiplist is walked with the dict's cursor.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Pack(p) => {
                p.iter().for_each(|(_, m, s)| f(m, s));
                0
            }
            ZSet::Big(b) => b.dict.scan(cursor, count, |m, s| f(m, *s)),
        }
    }

    /// A random element (for ZRANDMEMBER).
    pub fn random<R: rand::Rng>(&self, rng: &mut R) -> Option<(&[u8], f64)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.select(rng.gen_range(0..n))
    }

    /// Builds a set from elements sorted by (score, member), distinct.
    pub fn from_sorted(items: &[(&[u8], f64)], lim: Limits) -> ZSet {
        let maxlen = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let mut z = ZSet::with_hint(items.len(), maxlen, lim);
        match &mut z {
            ZSet::Pack(p) => {
                for (m, s) in items {
                    let s = if *s == 0.0 { 0.0 } else { *s };
                    put_varint(&mut p.buf, m.len());
                    p.buf.extend_from_slice(m);
                    p.buf.extend_from_slice(&s.to_le_bytes());
                    p.n += 1;
                }
            }
            ZSet::Big(b) => {
                for (m, s) in items {
                    b.insert_new(m, *s);
                }
            }
        }
        z
    }
}

impl Clone for ZSet {
    fn clone(&self) -> Self {
        match self {
            ZSet::Pack(p) => ZSet::Pack(p.clone()),
            ZSet::Big(b) => {
                let mut items: Vec<(&[u8], f64)> = Vec::with_capacity(b.tree.len);
                b.tree.walk(0, usize::MAX, false, &mut |it| {
                    items.push((it.member(), it.score));
                    true
                });
                let lim = Limits {
                    entries: 0,
                    value: 0,
                };
                ZSet::from_sorted(&items, lim)
            }
        }
    }
}

impl PartialEq for ZSet {
    fn eq(&self, o: &Self) -> bool {
        self.len() == o.len() && self.to_vec() == o.to_vec()
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZSet({}, {} elements)", self.encoding(), self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeSet;

    const BIG: Limits = Limits {
        entries: 0,
        value: 0,
    };
    const SMALL: Limits = Limits {
        entries: 1 << 30,
        value: 1 << 30,
    };

    /// Reference model: ordered (score bits made orderable, member).
    fn key(s: f64, m: &[u8]) -> (i64, Vec<u8>) {
        let s = if s == 0.0 { 0.0 } else { s };
        let b = s.to_bits() as i64;
        (if b < 0 { b ^ i64::MAX } else { b }, m.to_vec())
    }

    fn check(z: &ZSet, model: &BTreeSet<(i64, Vec<u8>)>) {
        assert_eq!(z.len(), model.len());
        let got: Vec<(i64, Vec<u8>)> = z.to_vec().iter().map(|(m, s)| key(*s, m)).collect();
        let want: Vec<_> = model.iter().cloned().collect();
        assert_eq!(got, want);
        for (r, (_, m)) in model.iter().enumerate().step_by(7) {
            assert_eq!(z.rank(m).map(|x| x.0), Some(r));
            assert_eq!(z.select(r).map(|x| x.0.to_vec()), Some(m.clone()));
        }
    }

    fn random_ops(lim: Limits, n: usize, seed: u64) {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut z = ZSet::with_hint(0, 0, lim);
        let mut model = BTreeSet::new();
        let mut scores = std::collections::HashMap::new();
        for step in 0..n {
            let m = format!("m{}", rng.gen_range(0..2000)).into_bytes();
            let s = rng.gen_range(0..50) as f64;
            if rng.gen_bool(0.6) {
                let old = z.insert(&m, s, lim);
                assert_eq!(old, scores.get(&m).copied());
                if let Some(o) = old {
                    model.remove(&key(o, &m));
                }
                model.insert(key(s, &m));
                scores.insert(m, s);
            } else {
                let old = z.remove(&m);
                assert_eq!(old, scores.remove(&m));
                if let Some(o) = old {
                    model.remove(&key(o, &m));
                }
            }
            if step % 997 == 0 {
                check(&z, &model);
            }
        }
        check(&z, &model);
        let c = z.clone();
        assert_eq!(c, z);
        check(&c, &model);
        // Bounds.
        let below: usize = model.iter().filter(|(s, _)| *s < key(10.0, b"").0).count();
        assert_eq!(z.score_rank(10.0, false), below);
    }

    #[test]
    fn tree_matches_model() {
        random_ops(BIG, 60_000, 1);
        random_ops(SMALL, 3_000, 2);
    }

    #[test]
    fn ascending_load_and_drain() {
        let mut z = ZSet::with_hint(0, 0, BIG);
        for i in 0..10_000 {
            z.insert(format!("{i:08}").as_bytes(), i as f64, BIG);
        }
        assert_eq!(z.rank(b"00005000"), Some((5000, 5000.0)));
        let mut seen = 0;
        z.walk(100, 200, true, |m, _| {
            assert_eq!(m, format!("{:08}", 199 - seen).as_bytes());
            seen += 1;
            true
        });
        assert_eq!(seen, 100);
        assert_eq!(z.remove_range(0, 9_990), 9_990);
        assert_eq!(z.len(), 10);
        assert_eq!(z.select(0).map(|x| x.1), Some(9990.0));
    }
}
