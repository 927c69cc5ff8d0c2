//! RDB encodings of the collection types.
//!
//! Written in the plain forms every Redis since 2.x loads (list, set,
//! hash: a count then strings; sorted set: members with binary doubles);
//! read in those and in the compact forms Redis 7.x writes (intset,
//! listpack, quicklist of listpacks).

use crate::db::{hash, list, set, stream, zset, Value};

pub const TYPE_LIST: u8 = 1;
pub const TYPE_SET: u8 = 2;
pub const TYPE_ZSET: u8 = 3;
pub const TYPE_HASH: u8 = 4;
pub const TYPE_ZSET_2: u8 = 5;
pub const TYPE_SET_INTSET: u8 = 11;
pub const TYPE_HASH_LISTPACK: u8 = 16;
pub const TYPE_ZSET_LISTPACK: u8 = 17;
pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS: u8 = 15;
pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

/// Encoding thresholds that decide how loaded collections are stored.
#[derive(Debug, Clone, Copy)]
pub struct TypeLimits {
    pub hash: hash::HashLimits,
    pub set: set::SetLimits,
    pub zset: zset::Limits,
    pub list: list::Limits,
}

impl TypeLimits {
    /// Redis's default thresholds (for tools that run without a config).
    pub fn redis_defaults() -> TypeLimits {
        TypeLimits {
            hash: hash::HashLimits {
                entries: 128,
                value: 64,
            },
            set: set::SetLimits {
                intset: 512,
                lp_entries: 128,
                lp_value: 64,
            },
            zset: zset::Limits {
                entries: 128,
                value: 64,
            },
            list: list::Limits::from_fill(-2),
        }
    }
}

/// Type byte and payload writer for collections; None for strings.
pub fn type_byte(v: &Value) -> Option<u8> {
    match v {
        Value::Str(_) => None,
        Value::List(_) => Some(TYPE_LIST),
        Value::Set(_) => Some(TYPE_SET),
        Value::Hash(_) => Some(TYPE_HASH),
        Value::ZSet(_) => Some(TYPE_ZSET_2),
        // Version 10 files (what Redis 7.0 reads) carry streams as type 19.
        Value::Stream(_) => Some(TYPE_STREAM_LISTPACKS_2),
    }
}

pub fn write_payload(
    out: &mut Vec<u8>,
    v: &Value,
    compress: bool,
    write_len: fn(&mut Vec<u8>, u64),
) {
    let ws = super::rdb::write_string;
    match v {
        Value::Str(_) => {}
        Value::List(l) => {
            write_len(out, l.len() as u64);
            for e in l.iter() {
                ws(out, &e.to_vec(), compress);
            }
        }
        Value::Set(s) => {
            write_len(out, s.len() as u64);
            for e in s.iter() {
                ws(out, &e.bytes(), compress);
            }
        }
        Value::Hash(h) => {
            write_len(out, h.len() as u64);
            for (f, val) in h.iter() {
                ws(out, f, compress);
                ws(out, val, compress);
            }
        }
        Value::ZSet(z) => {
            write_len(out, z.len() as u64);
            for r in 0..z.len() {
                if let Some((m, score)) = z.select(r) {
                    ws(out, m, compress);
                    out.extend_from_slice(&score.to_le_bytes());
                }
            }
        }
        Value::Stream(st) => write_stream(out, st, compress, write_len),
    }
}

/// A stream as RDB type 19: its nodes (16-byte big-endian master ID,
/// listpack), length, last ID, first ID, max deleted ID, entries added,
/// then each group with its position, read counter, PEL (raw ID, delivery
/// time in ms, delivery count) and consumers (name, seen time, own PEL).
fn write_stream(
    out: &mut Vec<u8>,
    st: &stream::Stream,
    compress: bool,
    write_len: fn(&mut Vec<u8>, u64),
) {
    let ws = super::rdb::write_string;
    let nodes = st.listpacks();
    write_len(out, nodes.len() as u64);
    for (master, lp) in &nodes {
        ws(out, &master.to_be(), false);
        ws(out, lp, compress);
    }
    write_len(out, st.len() as u64);
    for id in [st.last_id, st.first_id, st.max_deleted] {
        write_len(out, id.ms);
        write_len(out, id.seq);
    }
    write_len(out, st.entries_added);
    write_len(out, st.groups.len() as u64);
    for (name, g) in &st.groups {
        ws(out, name, compress);
        write_len(out, g.last_id.ms);
        write_len(out, g.last_id.seq);
        write_len(out, g.entries_read as u64);
        write_len(out, g.pel.len() as u64);
        for (id, n) in &g.pel {
            out.extend_from_slice(&id.to_be());
            out.extend_from_slice(&n.delivery_time.to_le_bytes());
            write_len(out, n.delivery_count);
        }
        write_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            ws(out, cname, compress);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            write_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.to_be());
            }
        }
    }
}

/// The elements of a listpack blob, as strings. The blob is checked as
/// Redis's deep sanitisation does: the header's total size and count, each
/// entry's back-length and the terminator must all agree.
pub fn listpack_entries(lp: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = || "Invalid listpack in RDB".to_string();
    if lp.len() < 7 || u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize != lp.len() {
        return Err(bad());
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    let mut p = 6;
    // Each entry takes at least two bytes, so the blob bounds the count.
    let mut out = Vec::with_capacity(count.min(lp.len() / 2));
    loop {
        let b = *lp.get(p).ok_or_else(bad)?;
        if b == 0xFF {
            break;
        }
        let take = |from: usize, n: usize| {
            lp.get(from..from.checked_add(n).ok_or_else(bad)?)
                .ok_or_else(bad)
        };
        let (val, size): (Vec<u8>, usize) = if b & 0x80 == 0 {
            ((b & 0x7f).to_string().into_bytes(), 1)
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (take(p + 1, n)?.to_vec(), 1 + n)
        } else if b & 0xE0 == 0xC0 {
            let v = (((b & 0x1f) as i64) << 8) | *lp.get(p + 1).ok_or_else(bad)? as i64;
            let v = if v >= 1 << 12 { v - (1 << 13) } else { v };
            (v.to_string().into_bytes(), 2)
        } else if b & 0xF0 == 0xE0 {
            let n = (((b & 0x0f) as usize) << 8) | *lp.get(p + 1).ok_or_else(bad)? as usize;
            (take(p + 2, n)?.to_vec(), 2 + n)
        } else {
            match b {
                0xF0 => {
                    let n =
                        u32::from_le_bytes(take(p + 1, 4)?.try_into().map_err(|_| bad())?) as usize;
                    (take(p + 5, n)?.to_vec(), 5 + n)
                }
                0xF1 => (
                    i16::from_le_bytes(take(p + 1, 2)?.try_into().map_err(|_| bad())?)
                        .to_string()
                        .into_bytes(),
                    3,
                ),
                0xF2 => {
                    let t = take(p + 1, 3)?;
                    let v = ((t[0] as i32) | (t[1] as i32) << 8 | (t[2] as i32) << 16) << 8 >> 8;
                    (v.to_string().into_bytes(), 4)
                }
                0xF3 => (
                    i32::from_le_bytes(take(p + 1, 4)?.try_into().map_err(|_| bad())?)
                        .to_string()
                        .into_bytes(),
                    5,
                ),
                0xF4 => (
                    i64::from_le_bytes(take(p + 1, 8)?.try_into().map_err(|_| bad())?)
                        .to_string()
                        .into_bytes(),
                    9,
                ),
                _ => return Err(bad()),
            }
        };
        let backlen = match size {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        // The back-length: 7 bits a byte, most significant first, every
        // byte after the first with its top bit set.
        let bl = take(p + size, backlen)?;
        let mut stored = 0usize;
        for (i, x) in bl.iter().enumerate() {
            if (i == 0) == (x & 0x80 != 0) {
                return Err(bad());
            }
            stored = stored << 7 | (x & 0x7f) as usize;
        }
        if stored != size {
            return Err(bad());
        }
        out.push(val);
        p += size + backlen;
    }
    if p + 1 != lp.len() || (count != u16::MAX as usize && count != out.len()) {
        return Err(bad());
    }
    Ok(out)
}

/// The members of an intset blob, which must be sorted and unique.
pub fn intset_members(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = || "Invalid intset in RDB".to_string();
    let word = |at: usize| -> Result<usize, String> {
        let w = b.get(at..at + 4).ok_or_else(bad)?;
        Ok(u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize)
    };
    let (width, n) = (word(0)?, word(4)?);
    if !matches!(width, 2 | 4 | 8) || (b.len() - 8) / width != n || (b.len() - 8) % width != 0 {
        return Err(bad());
    }
    let mut prev = None;
    let mut out = Vec::with_capacity(n);
    for c in b[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes([c[0], c[1]]) as i64,
            4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
            _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
        };
        if prev.is_some_and(|p| p >= v) {
            return Err(bad());
        }
        prev = Some(v);
        out.push(v.to_string().into_bytes());
    }
    Ok(out)
}

pub fn build_list(items: Vec<Vec<u8>>, lim: &TypeLimits) -> Value {
    let mut l = list::List::new();
    l.push(&items, false, &lim.list);
    Value::List(Box::new(l))
}

/// A set of `items`; a repeated member is an error, as in Redis.
pub fn build_set(items: Vec<Vec<u8>>, lim: &TypeLimits) -> Result<Value, String> {
    let s = set::Set::from_members(items.iter().map(|v| &v[..]), lim.set);
    if s.len() != items.len() {
        return Err("Duplicate set members detected".into());
    }
    Ok(Value::Set(Box::new(s)))
}

/// A hash of field, value pairs; an odd count or a repeated field is an
/// error, as in Redis.
pub fn build_hash(pairs: Vec<Vec<u8>>, lim: &TypeLimits) -> Result<Value, String> {
    if pairs.len() % 2 != 0 {
        return Err("Hash with an odd number of elements in RDB".into());
    }
    let mut h = hash::Hash::new();
    for p in pairs.chunks_exact(2) {
        if !h.set(&p[0], &p[1], lim.hash) {
            return Err("Duplicate hash fields detected".into());
        }
    }
    Ok(Value::Hash(Box::new(h)))
}

/// A sorted set; a repeated member or a NaN score is an error.
pub fn build_zset(items: Vec<(Vec<u8>, f64)>, lim: &TypeLimits) -> Result<Value, String> {
    let size: usize = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = zset::ZSet::with_hint(size, items.len(), lim.zset);
    let n = items.len();
    for (m, s) in items {
        if s.is_nan() {
            return Err("Invalid sorted set score in RDB".into());
        }
        z.insert(&m, s, lim.zset);
    }
    if z.len() != n {
        return Err("Duplicate zset fields detected".into());
    }
    Ok(Value::ZSet(Box::new(z)))
}
