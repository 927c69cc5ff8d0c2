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
fn write_stream(out: &mut Vec<u8>, st: &stream::Stream, compress: bool, write_len: fn(&mut Vec<u8>, u64)) {
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

/// The elements of a listpack blob, as strings.
pub fn listpack_entries(lp: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = || "Invalid listpack in RDB".to_string();
    if lp.len() < 7 {
        return Err(bad());
    }
    let mut p = 6;
    let mut out = Vec::new();
    loop {
        let b = *lp.get(p).ok_or_else(bad)?;
        if b == 0xFF {
            break;
        }
        let take = |from: usize, n: usize| lp.get(from..from + n).ok_or_else(bad);
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
        out.push(val);
        p += size + backlen;
    }
    Ok(out)
}

/// The members of an intset blob.
pub fn intset_members(b: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = || "Invalid intset in RDB".to_string();
    let width =
        u32::from_le_bytes(b.get(0..4).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize;
    let n =
        u32::from_le_bytes(b.get(4..8).ok_or_else(bad)?.try_into().map_err(|_| bad())?) as usize;
    if !matches!(width, 2 | 4 | 8) || b.len() < 8 + n * width {
        return Err(bad());
    }
    Ok((0..n)
        .map(|i| {
            let c = &b[8 + i * width..8 + (i + 1) * width];
            let v = match width {
                2 => i16::from_le_bytes([c[0], c[1]]) as i64,
                4 => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64,
                _ => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            };
            v.to_string().into_bytes()
        })
        .collect())
}

pub fn build_list(items: Vec<Vec<u8>>, lim: &TypeLimits) -> Value {
    let mut l = list::List::new();
    l.push(&items, false, &lim.list);
    Value::List(Box::new(l))
}

pub fn build_set(items: Vec<Vec<u8>>, lim: &TypeLimits) -> Value {
    Value::Set(Box::new(set::Set::from_members(
        items.iter().map(|v| &v[..]),
        lim.set,
    )))
}

pub fn build_hash(pairs: Vec<Vec<u8>>, lim: &TypeLimits) -> Value {
    let mut h = hash::Hash::new();
    for p in pairs.chunks(2) {
        if let [f, v] = p {
            h.set(f, v, lim.hash);
        }
    }
    Value::Hash(Box::new(h))
}

pub fn build_zset(items: Vec<(Vec<u8>, f64)>, lim: &TypeLimits) -> Value {
    let size: usize = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut z = zset::ZSet::with_hint(size, items.len(), lim.zset);
    for (m, s) in items {
        z.insert(&m, s, lim.zset);
    }
    Value::ZSet(Box::new(z))
}
