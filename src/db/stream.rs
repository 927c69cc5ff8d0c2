//! The stream type: entries ordered by ID, consumer groups with their
//! pending entries lists (PELs) and consumers.
//!
//! Entries live in a `BTreeMap`. Next to them the stream keeps a model of
//! how Redis would pack the same entries into macro nodes (listpacks of at
//! most `stream-node-max-entries` entries and `stream-node-max-bytes`
//! bytes, keyed by their first ID), because several observable behaviours
//! are defined in terms of those nodes: approximate trimming (`~`) only
//! drops whole nodes, LIMIT counts the entries of whole nodes, and XINFO
//! STREAM reports radix-tree keys and nodes. A node records only what those
//! rules need: its master fields (the first entry's fields, which later
//! entries with the same fields do not repeat), its live and deleted
//! counts, its encoded size and the last ID it ever held. Deleting an entry
//! only flags it inside its node, as in Redis; a node whose entries are all
//! deleted goes away. The same packing is what the RDB writer produces.

use std::collections::{BTreeMap, BTreeSet};

/// A stream entry ID: milliseconds and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        *self == StreamId::MIN
    }

    /// The next ID, None past the last possible one.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, None before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    pub fn to_bytes(self) -> Vec<u8> {
        self.text().to_vec()
    }

    /// `ms-seq` as text, without going through the heap: every XADD
    /// replies with its ID and most propagate it.
    pub fn text(self) -> IdText {
        let mut t = IdText {
            buf: [0; 41],
            len: 0,
        };
        let seq_at = put_u64(&mut t.buf, 0, self.ms);
        t.buf[seq_at] = b'-';
        t.len = put_u64(&mut t.buf, seq_at + 1, self.seq) as u8;
        t
    }

    /// The big-endian form Redis uses as a radix-tree key (RDB node keys).
    pub fn to_be(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }

    pub fn from_be(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        Some(StreamId::new(
            u64::from_be_bytes(b[..8].try_into().ok()?),
            u64::from_be_bytes(b[8..].try_into().ok()?),
        ))
    }

    /// Parses `ms[-seq]`; a missing sequence is `missing_seq`. `-` and `+`
    /// are the smallest and largest IDs unless `strict`.
    pub fn parse(b: &[u8], missing_seq: u64, strict: bool) -> Option<StreamId> {
        if !strict && b == b"-" {
            return Some(StreamId::MIN);
        }
        if !strict && b == b"+" {
            return Some(StreamId::MAX);
        }
        match memchr::memchr(b'-', b) {
            None => Some(StreamId::new(parse_u64(b)?, missing_seq)),
            Some(d) => Some(StreamId::new(parse_u64(&b[..d])?, parse_u64(&b[d + 1..])?)),
        }
    }
}

/// A formatted ID (`StreamId::text`): two u64s of at most 20 digits and
/// the dash.
pub struct IdText {
    buf: [u8; 41],
    len: u8,
}

impl std::ops::Deref for IdText {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// Writes `v` in decimal at `buf[at..]`; returns the end.
fn put_u64(buf: &mut [u8; 41], at: usize, mut v: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let n = digits.len() - i;
    buf[at..at + n].copy_from_slice(&digits[i..]);
    at + n
}

/// An unsigned decimal as Redis's string2ull reads it (digits only).
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Sizes of listpack elements (with their back-length), to follow how
/// full Redis's nodes are.
pub mod lp {
    fn backlen(n: usize) -> usize {
        match n {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        }
    }

    fn int_enc(v: i64) -> usize {
        if (0..=127).contains(&v) {
            1
        } else if (-4096..=4095).contains(&v) {
            2
        } else if (-32768..=32767).contains(&v) {
            3
        } else if (-8388608..=8388607).contains(&v) {
            4
        } else if (-2147483648..=2147483647).contains(&v) {
            5
        } else {
            9
        }
    }

    /// A string that a listpack stores as an integer.
    pub fn as_int(s: &[u8]) -> Option<i64> {
        if s.is_empty() || s.len() > 20 {
            return None;
        }
        crate::util::num::parse_i64(s)
    }

    pub fn int_size(v: i64) -> usize {
        let n = int_enc(v);
        n + backlen(n)
    }

    pub fn str_size(s: &[u8]) -> usize {
        if let Some(v) = as_int(s) {
            return int_size(v);
        }
        let n = s.len()
            + match s.len() {
                0..=63 => 1,
                64..=4095 => 2,
                _ => 5,
            };
        n + backlen(n)
    }

    fn push_backlen(out: &mut Vec<u8>, n: usize) {
        let mut v = n;
        let mut bytes = Vec::with_capacity(5);
        loop {
            bytes.push((v & 127) as u8);
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        // Stored so that it reads right to left: the last byte holds the
        // lowest 7 bits, earlier bytes have the continuation bit.
        for (i, b) in bytes.iter().rev().enumerate() {
            out.push(*b | if i > 0 { 128 } else { 0 });
        }
    }

    pub fn push_int(out: &mut Vec<u8>, v: i64) {
        let start = out.len();
        match int_enc(v) {
            1 => out.push(v as u8),
            2 => {
                let u = (v as u64 & 0x1fff) as u16;
                out.push(0xC0 | (u >> 8) as u8);
                out.push(u as u8);
            }
            3 => {
                out.push(0xF1);
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            4 => {
                out.push(0xF2);
                out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            5 => {
                out.push(0xF3);
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                out.push(0xF4);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let n = out.len() - start;
        push_backlen(out, n);
    }

    pub fn push_str(out: &mut Vec<u8>, s: &[u8]) {
        if let Some(v) = as_int(s) {
            return push_int(out, v);
        }
        let start = out.len();
        let l = s.len();
        if l < 64 {
            out.push(0x80 | l as u8);
        } else if l < 4096 {
            out.push(0xE0 | (l >> 8) as u8);
            out.push(l as u8);
        } else {
            out.push(0xF0);
            out.extend_from_slice(&(l as u32).to_le_bytes());
        }
        out.extend_from_slice(s);
        let n = out.len() - start;
        push_backlen(out, n);
    }

    /// Frames listpack elements already encoded in `body` (`count`
    /// elements): header with total bytes and count, then the end byte.
    pub fn seal(body: &[u8], count: usize) -> Vec<u8> {
        let total = body.len() + 7;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(body);
        out.push(0xFF);
        out
    }
}

// Entry flags in a node (Redis's stream listpack layout).
const FLAG_DELETED: i64 = 1;
const FLAG_SAMEFIELDS: i64 = 2;

/// The largest listpack Redis lets a node grow to, whatever the config.
const NODE_MAX_SIZE: usize = 1 << 30;

pub type Fields = Vec<Box<[u8]>>;

/// One macro node of the packing model (see module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    pub master_fields: Vec<Box<[u8]>>,
    pub live: u64,
    pub deleted: u64,
    /// Encoded bytes of the master fields, their terminator and every
    /// entry; the two counters and the listpack framing are added on
    /// demand since their sizes change.
    body: usize,
    pub last: StreamId,
}

impl Node {
    fn bytes(&self) -> usize {
        6 + 1 + lp::int_size(self.live as i64) + lp::int_size(self.deleted as i64) + self.body
    }

    fn same_fields(&self, fields: &[Box<[u8]>]) -> bool {
        self.master_fields.len() * 2 == fields.len()
            && self
                .master_fields
                .iter()
                .zip(fields.iter().step_by(2))
                .all(|(a, b)| a == b)
    }

    fn entry_size(&self, master: StreamId, id: StreamId, fields: &[Box<[u8]>]) -> usize {
        let n = fields.len() / 2;
        let mut s = lp::int_size(0)
            + lp::int_size(id.ms.wrapping_sub(master.ms) as i64)
            + lp::int_size(id.seq.wrapping_sub(master.seq) as i64);
        if self.same_fields(fields) {
            s += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| lp::str_size(v))
                .sum::<usize>();
            s += lp::int_size(n as i64 + 3);
        } else {
            s += lp::int_size(n as i64);
            s += fields.iter().map(|v| lp::str_size(v)).sum::<usize>();
            s += lp::int_size(2 * n as i64 + 4);
        }
        s
    }

    fn new_with_master(fields: &[Box<[u8]>]) -> Node {
        let master_fields: Vec<Box<[u8]>> = fields.iter().step_by(2).cloned().collect();
        let body = lp::int_size(master_fields.len() as i64)
            + master_fields.iter().map(|f| lp::str_size(f)).sum::<usize>()
            + lp::int_size(0);
        Node {
            master_fields,
            live: 0,
            deleted: 0,
            body,
            last: StreamId::MIN,
        }
    }
}

/// A pending entry: delivered to a consumer of a group and not yet acked.
#[derive(Debug, Clone, PartialEq)]
pub struct Nack {
    pub delivery_time: i64,
    pub delivery_count: u64,
    pub consumer: Box<[u8]>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consumer {
    /// Last time it tried to read or claim (XINFO "idle").
    pub seen_time: i64,
    /// Last time it actually got or claimed entries (7.2 "inactive").
    pub active_time: i64,
    pub pel: BTreeSet<StreamId>,
}

/// `entries_read` of a group whose read counter is unknown.
pub const ENTRIES_READ_INVALID: i64 = -1;

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Hands pending entry `id` to `consumer` (XCLAIM, XAUTOCLAIM): off the
    /// previous owner's PEL, onto the new one's with the delivery time and
    /// count the claim decided. True when the consumer had to be created.
    pub fn assign(
        &mut self,
        id: StreamId,
        consumer: &[u8],
        delivery_time: i64,
        delivery_count: u64,
        now: i64,
    ) -> bool {
        let nack = Nack {
            delivery_time,
            delivery_count,
            consumer: consumer.into(),
        };
        if let Some(old) = self.pel.insert(id, nack) {
            if old.consumer[..] != consumer[..] {
                if let Some(c) = self.consumers.get_mut(&old.consumer) {
                    c.pel.remove(&id);
                }
            }
        }
        let (c, created) = self.consumer(consumer, now);
        c.pel.insert(id);
        c.active_time = now;
        created
    }

    /// The consumer named `name`, created if missing (true when created).
    pub fn consumer(&mut self, name: &[u8], now: i64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        let c = self
            .consumers
            .entry(name.into())
            .or_insert_with(|| Consumer {
                seen_time: now,
                active_time: -1,
                pel: BTreeSet::new(),
            });
        (c, created)
    }

    /// Removes `id` from the PEL and from its consumer's.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }
}

/// Node sizing, from stream-node-max-bytes / -entries.
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    pub bytes: usize,
    pub entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            bytes: 4096,
            entries: 100,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stream {
    pub entries: BTreeMap<StreamId, Fields>,
    pub nodes: BTreeMap<StreamId, Node>,
    pub last_id: StreamId,
    /// Redis's "recorded first entry ID": the first entry, 0-0 if empty.
    pub first_id: StreamId,
    pub max_deleted: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

/// How a trim is bounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// Why an entry could not be added.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddError {
    /// Not above the last ID.
    TooSmall,
    /// No ID is left after the last one.
    Exhausted,
}

impl Stream {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ID an XADD would get: `ms` None for `*` (time `now`), `seq` None
    /// for `ms-*`.
    pub fn next_id(
        &self,
        ms: Option<u64>,
        seq: Option<u64>,
        now: u64,
    ) -> Result<StreamId, AddError> {
        let last = self.last_id;
        match (ms, seq) {
            (None, _) => {
                if now > last.ms {
                    Ok(StreamId::new(now, 0))
                } else {
                    last.next().ok_or(AddError::Exhausted)
                }
            }
            (Some(ms), None) => {
                if ms == last.ms {
                    if last.seq == u64::MAX {
                        return Err(AddError::TooSmall);
                    }
                    Ok(StreamId::new(ms, last.seq + 1))
                } else if ms > last.ms {
                    Ok(StreamId::new(ms, 0))
                } else {
                    Err(AddError::TooSmall)
                }
            }
            (Some(ms), Some(seq)) => {
                let id = StreamId::new(ms, seq);
                if id > last {
                    Ok(id)
                } else {
                    Err(AddError::TooSmall)
                }
            }
        }
    }

    /// Appends an entry whose ID is above the last one (`next_id`).
    pub fn append(&mut self, id: StreamId, fields: Fields, lim: NodeLimits) {
        let raw: usize = fields.iter().map(|f| f.len()).sum();
        let max_bytes = if lim.bytes == 0 || lim.bytes > NODE_MAX_SIZE {
            NODE_MAX_SIZE
        } else {
            lim.bytes
        };
        let fits = match self.nodes.last_key_value() {
            Some((_, n)) => {
                n.bytes() + raw < max_bytes
                    && (lim.entries == 0 || ((n.live + n.deleted) as usize) < lim.entries)
            }
            None => false,
        };
        if !fits {
            self.nodes.insert(id, Node::new_with_master(&fields));
        }
        if let Some(mut last) = self.nodes.last_entry() {
            let master = *last.key();
            let node = last.get_mut();
            node.body += node.entry_size(master, id, &fields);
            node.live += 1;
            node.last = id;
        }
        if self.entries.is_empty() {
            self.first_id = id;
        }
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    fn node_of(&self, id: StreamId) -> Option<StreamId> {
        self.nodes.range(..=id).next_back().map(|(k, _)| *k)
    }

    /// Deletes entries (XDEL); returns how many existed.
    pub fn delete(&mut self, ids: &[StreamId]) -> usize {
        let mut n = 0;
        for id in ids {
            if self.entries.remove(id).is_none() {
                continue;
            }
            n += 1;
            self.flag_deleted(*id);
            if *id > self.max_deleted {
                self.max_deleted = *id;
            }
        }
        if n > 0 {
            self.refresh_first();
        }
        n
    }

    fn flag_deleted(&mut self, id: StreamId) {
        if let Some(k) = self.node_of(id) {
            if let Some(node) = self.nodes.get_mut(&k) {
                node.live -= 1;
                node.deleted += 1;
                if node.live == 0 {
                    self.nodes.remove(&k);
                }
            }
        }
    }

    fn refresh_first(&mut self) {
        self.first_id = self.entries.keys().next().copied().unwrap_or(StreamId::MIN);
    }

    /// Trims from the head: whole nodes while the bound allows, then (not
    /// approximate) single entries. `limit` caps the entries removed in
    /// approximate mode (0: none). Returns the number removed.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        loop {
            let Some((&master, node)) = self.nodes.iter().next() else {
                break;
            };
            if limit > 0 && removed + node.live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.entries.len() as u64 - node.live >= max,
                Trim::MinId(min) => node.last < min,
            };
            if whole {
                let next = self.nodes.range(master..).nth(1).map(|(k, _)| *k);
                let live = node.live;
                match next {
                    Some(nk) => {
                        let rest = self.entries.split_off(&nk);
                        self.entries = rest;
                    }
                    None => self.entries.clear(),
                }
                self.nodes.remove(&master);
                removed += live;
                continue;
            }
            if approx {
                break;
            }
            // Entry by entry within this node.
            loop {
                let Some((&id, _)) = self.entries.iter().next() else {
                    break;
                };
                let stop = match how {
                    Trim::MaxLen(max) => self.entries.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                self.flag_deleted(id);
                removed += 1;
            }
            break;
        }
        if removed > 0 {
            self.refresh_first();
        }
        removed
    }

    /// The effective bound an approximate trim reached, for propagation
    /// as an exact one (MAXLEN = the length, MINID = the first ID).
    pub fn trim_reached(&self, how: Trim) -> Trim {
        match how {
            Trim::MaxLen(_) => Trim::MaxLen(self.entries.len() as u64),
            Trim::MinId(_) => Trim::MinId(self.first_id),
        }
    }

    /// Number of entries that would be read counting from the first one
    /// ever added up to `id` (Redis's logical read counter), if knowable.
    pub fn estimate_read_counter(&self, id: StreamId) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.entries.is_empty() && id <= self.last_id {
            return Some(self.entries_added as i64);
        }
        if id == self.last_id {
            return Some(self.entries_added as i64);
        }
        if id > self.last_id {
            return None;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            let base = self.entries_added as i64 - self.entries.len() as i64;
            if id < self.first_id {
                return Some(base);
            }
            if id == self.first_id {
                return Some(base + 1);
            }
        }
        None
    }

    /// Whether a deleted entry may lie in [start, end] (tombstones that
    /// make read counters unreliable).
    pub fn has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && end >= self.max_deleted
    }

    /// A group's lag, None when it cannot be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        self.estimate_read_counter(g.last_id)
            .map(|r| self.entries_added as i64 - r)
    }

    /// A group's counter after delivering `id` beyond its last ID.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_INVALID && !self.has_tombstones(id, StreamId::MAX) {
            g.entries_read += 1;
        } else if self.entries_added > 0 {
            g.entries_read = self
                .estimate_read_counter(id)
                .unwrap_or(ENTRIES_READ_INVALID);
        }
        g.last_id = id;
    }

    /// Radix-tree figures for XINFO: (keys, nodes). Redis keeps the nodes
    /// in a compressed radix tree of 16-byte big-endian IDs; its node count
    /// is that of the canonical compressed trie of the keys.
    pub fn radix_stats(&self) -> (usize, usize) {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.to_be()).collect();
        let mut nodes: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        nodes.insert(&[]);
        for (i, k) in keys.iter().enumerate() {
            nodes.insert(&k[..]);
            if i > 0 {
                let p = &keys[i - 1];
                let l = p.iter().zip(k.iter()).take_while(|(a, b)| a == b).count();
                // A branching point and the two children that start there.
                nodes.insert(&k[..l]);
                nodes.insert(&k[..l + 1]);
                nodes.insert(&p[..l + 1]);
            }
        }
        (keys.len(), nodes.len())
    }

    /// Encodes the stream as Redis's nodes: (master ID, listpack) pairs,
    /// one per node of the model, holding its live entries.
    pub fn listpacks(&self) -> Vec<(StreamId, Vec<u8>)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let masters: Vec<StreamId> = self.nodes.keys().copied().collect();
        for (i, m) in masters.iter().enumerate() {
            let node = &self.nodes[m];
            let mut body = Vec::new();
            lp::push_int(&mut body, node.live as i64);
            lp::push_int(&mut body, 0);
            lp::push_int(&mut body, node.master_fields.len() as i64);
            for f in &node.master_fields {
                lp::push_str(&mut body, f);
            }
            lp::push_int(&mut body, 0);
            let mut count = 4 + node.master_fields.len();
            let range = match masters.get(i + 1) {
                Some(next) => self.entries.range(*m..*next),
                None => self.entries.range(*m..),
            };
            for (id, fields) in range {
                let same = node.same_fields(fields);
                lp::push_int(&mut body, if same { FLAG_SAMEFIELDS } else { 0 });
                lp::push_int(&mut body, id.ms.wrapping_sub(m.ms) as i64);
                lp::push_int(&mut body, id.seq.wrapping_sub(m.seq) as i64);
                let n = fields.len() / 2;
                if same {
                    for v in fields.iter().skip(1).step_by(2) {
                        lp::push_str(&mut body, v);
                    }
                    lp::push_int(&mut body, n as i64 + 3);
                    count += n + 4;
                } else {
                    lp::push_int(&mut body, n as i64);
                    for v in fields {
                        lp::push_str(&mut body, v);
                    }
                    lp::push_int(&mut body, 2 * n as i64 + 4);
                    count += 2 * n + 5;
                }
            }
            out.push((*m, lp::seal(&body, count)));
        }
        out
    }

    /// Adds one node read from an RDB file (`master` and its listpack
    /// elements) as it was: its entries, deleted ones counted but dropped.
    /// IDs must ascend across calls.
    pub fn load_node(&mut self, master: StreamId, elems: &[Vec<u8>]) -> Result<(), String> {
        let bad = || "Invalid stream listpack in RDB".to_string();
        let int = |e: &Vec<u8>| crate::util::num::parse_i64(e).ok_or_else(bad);
        let mut it = elems.iter();
        let count = int(it.next().ok_or_else(bad)?)?;
        let deleted = int(it.next().ok_or_else(bad)?)?;
        let nf = int(it.next().ok_or_else(bad)?)?;
        if nf < 0 || nf as usize > elems.len() {
            return Err(bad());
        }
        let mut fields0: Fields = Vec::with_capacity(nf as usize * 2);
        for _ in 0..nf {
            fields0.push(it.next().ok_or_else(bad)?.clone().into_boxed_slice());
            fields0.push(Box::default());
        }
        if int(it.next().ok_or_else(bad)?)? != 0 {
            return Err(bad());
        }
        if self.nodes.keys().next_back().is_some_and(|m| *m >= master) {
            return Err(bad());
        }
        let mut node = Node::new_with_master(&fields0);
        let mut take = || it.next().ok_or_else(bad);
        loop {
            let flags = match take() {
                Ok(f) => int(f)?,
                Err(_) => break,
            };
            let ms = master.ms.wrapping_add(int(take()?)? as u64);
            let seq = master.seq.wrapping_add(int(take()?)? as u64);
            let id = StreamId::new(ms, seq);
            let mut fields: Fields = Vec::new();
            if flags & FLAG_SAMEFIELDS != 0 {
                for f in &node.master_fields {
                    fields.push(f.clone());
                    fields.push(take()?.clone().into_boxed_slice());
                }
            } else {
                let n = int(take()?)?;
                if n < 0 || n as usize > elems.len() {
                    return Err(bad());
                }
                for _ in 0..n * 2 {
                    fields.push(take()?.clone().into_boxed_slice());
                }
            }
            // lp-count: the entry's elements before it (flags, ID, fields).
            let own = if flags & FLAG_SAMEFIELDS != 0 {
                3 + fields.len() / 2
            } else {
                4 + fields.len()
            };
            if int(take()?)? != own as i64 {
                return Err(bad());
            }
            if id < master || (id <= node.last && node.live + node.deleted > 0) {
                return Err(bad());
            }
            if self.entries.keys().next_back().is_some_and(|l| *l >= id) {
                return Err(bad());
            }
            node.body += node.entry_size(master, id, &fields);
            node.last = id;
            if flags & FLAG_DELETED != 0 {
                node.deleted += 1;
            } else {
                node.live += 1;
                self.entries.insert(id, fields);
            }
        }
        if node.live == 0 {
            return Err("Empty listpack inside stream".into());
        }
        if count != node.live as i64 || deleted != node.deleted as i64 {
            return Err(bad());
        }
        self.nodes.insert(master, node);
        Ok(())
    }

    /// Approximate heap bytes, for MEMORY USAGE.
    pub fn memory(&self) -> usize {
        let nodes: usize = self.nodes.values().map(|n| n.bytes() + 32).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(k, g)| {
                k.len()
                    + 64
                    + g.pel.len() * 64
                    + g.consumers
                        .iter()
                        .map(|(n, c)| n.len() + 64 + c.pel.len() * 24)
                        .sum::<usize>()
            })
            .sum();
        64 + nodes + groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[&str]) -> Fields {
        v.iter()
            .map(|s| s.as_bytes().to_vec().into_boxed_slice())
            .collect()
    }

    #[test]
    fn ids_parse_and_step() {
        assert_eq!(StreamId::parse(b"5", 0, true), Some(StreamId::new(5, 0)));
        assert_eq!(StreamId::parse(b"5-7", 0, true), Some(StreamId::new(5, 7)));
        assert_eq!(StreamId::parse(b"-", 0, true), None);
        assert_eq!(StreamId::parse(b"+", 0, false), Some(StreamId::MAX));
        assert_eq!(StreamId::parse(b"5-", 0, true), None);
        assert_eq!(StreamId::parse(b"-5", 0, true), None);
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(1, 0).prev(), Some(StreamId::new(0, u64::MAX)));
        assert_eq!(
            &StreamId::MAX.text()[..],
            b"18446744073709551615-18446744073709551615"
        );
        assert_eq!(&StreamId::MIN.text()[..], b"0-0");
        assert_eq!(
            StreamId::new(1700000000123, 42).to_bytes(),
            b"1700000000123-42"
        );
    }

    #[test]
    fn approximate_trim_drops_whole_nodes() {
        let mut s = Stream::default();
        for i in 1..=300 {
            s.append(StreamId::new(i, 1), f(&["f", "v"]), NodeLimits::default());
        }
        assert_eq!(s.nodes.len(), 3);
        assert_eq!(s.trim(Trim::MaxLen(0), true, 50), 0);
        assert_eq!(s.trim(Trim::MaxLen(0), true, 100), 100);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), false, 0), 50);
        assert_eq!(s.len(), 150);
        assert_eq!(s.first_id, StreamId::new(151, 1));
        assert_eq!(s.radix_stats().0, 2);
    }

    #[test]
    fn listpacks_round_trip() {
        let mut s = Stream::default();
        for i in 1..=250u64 {
            let v = i.to_string();
            let fl = if i % 7 == 0 {
                f(&["x", &v])
            } else {
                f(&["a", &v, "b", "text"])
            };
            s.append(StreamId::new(1000 + i, i), fl, NodeLimits::default());
        }
        s.delete(&[StreamId::new(1003, 3)]);
        let nodes = s.listpacks();
        assert_eq!(nodes.len(), 3);
        let mut back = Stream::default();
        for (m, lp) in &nodes {
            let e = crate::persist::rdb_types::listpack_entries(lp).unwrap();
            back.load_node(*m, &e).unwrap();
        }
        assert_eq!(back.entries, s.entries);
        assert_eq!(
            back.nodes.keys().collect::<Vec<_>>(),
            s.nodes.keys().collect::<Vec<_>>()
        );
    }
}
