//! RDB files: writing version 10 (loadable by Redis 7.0 and later) and
//! reading versions 1 to 11, with LZF-compressed strings and the CRC-64
//! (Jones, "CRC-64/REDIS") footer.
//!
//! Values are encoded by type; a type this module cannot encode yet makes
//! the save fail loudly rather than silently dropping keys.

use crate::db::stream::{Group, Nack, Stream, StreamId, ENTRIES_READ_INVALID};
use crate::db::{Keyspace, StrVal, Value};

use super::lzf;
use super::rdb_types::{self as types, TypeLimits};

pub const WRITE_VERSION: u32 = 10;
const MAX_READ_VERSION: u32 = 11;

const OP_FUNCTION2: u8 = 0xF5;
const OP_FUNCTION: u8 = 0xF6;
const OP_MODULE_AUX: u8 = 0xF7;
const OP_FREQ: u8 = 0xF8;
const OP_IDLE: u8 = 0xF9;
const OP_AUX: u8 = 0xFA;
const OP_RESIZEDB: u8 = 0xFB;
const OP_EXPIRETIME_MS: u8 = 0xFC;
const OP_EXPIRETIME: u8 = 0xFD;
const OP_SELECTDB: u8 = 0xFE;
pub const OP_EOF: u8 = 0xFF;

const TYPE_STRING: u8 = 0;

const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

const QUICKLIST_PLAIN: u64 = 1;
const QUICKLIST_PACKED: u64 = 2;

pub fn crc64(data: &[u8]) -> u64 {
    const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);
    CRC.checksum(data)
}

fn write_len(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if n <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes an integer in the special string encodings when it fits 32 bits.
fn write_int(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(x) = i8::try_from(v) {
        out.push(0xC0 | ENC_INT8);
        out.push(x as u8);
    } else if let Ok(x) = i16::try_from(v) {
        out.push(0xC0 | ENC_INT16);
        out.extend_from_slice(&x.to_le_bytes());
    } else if let Ok(x) = i32::try_from(v) {
        out.push(0xC0 | ENC_INT32);
        out.extend_from_slice(&x.to_le_bytes());
    } else {
        return false;
    }
    true
}

pub fn write_string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    // Strings that are the canonical form of a small integer are stored as
    // integers, like Redis does.
    if s.len() <= 11 {
        if let Some(v) = crate::util::num::parse_i64(s) {
            if write_int(out, v) {
                return;
            }
        }
    }
    if compress && s.len() > 20 {
        if let Some(z) = lzf::compress(s, s.len().saturating_sub(4)) {
            out.push(0xC0 | ENC_LZF);
            write_len(out, z.len() as u64);
            write_len(out, s.len() as u64);
            out.extend_from_slice(&z);
            return;
        }
    }
    write_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// The RDB type byte of a value, or why it cannot be saved yet.
fn type_byte(v: &Value) -> Result<u8, String> {
    Ok(types::type_byte(v).unwrap_or(TYPE_STRING))
}

/// Appends a value's payload (after its type byte and key).
pub fn write_payload(out: &mut Vec<u8>, v: &Value, compress: bool) {
    match v {
        Value::Str(StrVal::Int(i)) | Value::Str(StrVal::IntCopy(i)) => {
            if !write_int(out, *i) {
                write_string(out, i.to_string().as_bytes(), compress);
            }
        }
        Value::Str(s) => write_string(out, &s.as_bytes(), compress),
        other => types::write_payload(out, other, compress, write_len),
    }
}

/// The start of an image: signature, AUX fields and the function
/// libraries (already as OP_FUNCTION2 records).
pub fn header(aux: &[(&str, String)], functions: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(format!("REDIS{WRITE_VERSION:04}").as_bytes());
    for (k, v) in aux {
        out.push(OP_AUX);
        write_string(&mut out, k.as_bytes(), false);
        write_string(&mut out, v.as_bytes(), false);
    }
    out.extend_from_slice(functions);
    out
}

/// SELECTDB, then RESIZEDB with the hinted sizes.
pub fn write_select(out: &mut Vec<u8>, db: usize, sizes: Option<(u64, u64)>) {
    out.push(OP_SELECTDB);
    write_len(out, db as u64);
    if let Some((keys, expires)) = sizes {
        out.push(OP_RESIZEDB);
        write_len(out, keys);
        write_len(out, expires);
    }
}

/// A key record up to its value's payload: expiry, type byte and key.
pub fn write_key_header(
    out: &mut Vec<u8>,
    key: &[u8],
    v: &Value,
    exp: Option<i64>,
    compress: bool,
) {
    if let Some(t) = exp {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&t.to_le_bytes());
    }
    out.push(types::type_byte(v).unwrap_or(TYPE_STRING));
    write_string(out, key, compress);
}

/// Serialises the whole dataset. Keys already expired are left out.
pub fn snapshot(
    ks: &Keyspace,
    now_ms: i64,
    compress: bool,
    checksum: bool,
    aux: &[(&str, String)],
    functions: &[u8],
) -> Result<Vec<u8>, String> {
    let mut out = header(aux, functions);
    for (i, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        write_select(
            &mut out,
            i,
            Some((db.len() as u64, db.expires().len() as u64)),
        );
        for (key, e) in db.dict().iter() {
            let exp = db.expire_at(key);
            if exp.is_some_and(|t| t <= now_ms) {
                continue;
            }
            write_key_header(&mut out, key, &e.val, exp, compress);
            write_payload(&mut out, &e.val, compress);
        }
    }
    out.push(OP_EOF);
    let sum = if checksum { crc64(&out) } else { 0 };
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// A reader over an RDB image with Redis's primitive decoders.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

fn short() -> String {
    "Short read or OOM loading DB. Unrecoverable error, aborting now.".into()
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.pos).ok_or_else(short)?;
        self.pos += 1;
        Ok(v)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).ok_or_else(short)?;
        let s = self.b.get(self.pos..end).ok_or_else(short)?;
        self.pos = end;
        Ok(s)
    }

    /// A length, or the special-encoding marker (Err side carried in Ok).
    fn len_or_enc(&mut self) -> Result<(u64, bool), String> {
        let first = self.byte()?;
        match first >> 6 {
            0 => Ok(((first & 0x3f) as u64, false)),
            1 => Ok(((((first & 0x3f) as u64) << 8) | self.byte()? as u64, false)),
            2 => match first {
                0x80 => Ok((
                    u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| short())?) as u64,
                    false,
                )),
                0x81 => Ok((
                    u64::from_be_bytes(self.take(8)?.try_into().map_err(|_| short())?),
                    false,
                )),
                _ => Err(format!("Unknown length encoding {first} in rdbLoadLen()")),
            },
            _ => Ok(((first & 0x3f) as u64, true)),
        }
    }

    fn len(&mut self) -> Result<u64, String> {
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            _ => Err("Unexpected encoded length".into()),
        }
    }

    fn string(&mut self) -> Result<Vec<u8>, String> {
        let (n, enc) = self.len_or_enc()?;
        if !enc {
            return Ok(self.take(n as usize)?.to_vec());
        }
        match n as u8 {
            ENC_INT8 => Ok((self.byte()? as i8).to_string().into_bytes()),
            ENC_INT16 => Ok(
                i16::from_le_bytes(self.take(2)?.try_into().map_err(|_| short())?)
                    .to_string()
                    .into_bytes(),
            ),
            ENC_INT32 => Ok(
                i32::from_le_bytes(self.take(4)?.try_into().map_err(|_| short())?)
                    .to_string()
                    .into_bytes(),
            ),
            ENC_LZF => {
                let clen = self.len()? as usize;
                let len = self.len()? as usize;
                let z = self.take(clen)?;
                lzf::decompress(z, len).ok_or_else(|| "Invalid LZF compressed string".to_string())
            }
            other => Err(format!("Unknown RDB string encoding type {other}")),
        }
    }
}

impl Reader<'_> {
    /// Bytes not read yet: every element takes at least one, so a count
    /// read from the data never reserves more than this.
    fn left(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }

    fn strings(&mut self, n: u64) -> Result<Vec<Vec<u8>>, String> {
        let mut v = Vec::with_capacity(n.min(self.left() as u64) as usize);
        for _ in 0..n {
            v.push(self.string()?);
        }
        Ok(v)
    }

    /// A value of RDB type `t`. Collections are checked as Redis's
    /// `sanitize-dump-payload yes` does (no repeated members or fields, no
    /// damaged listpack or intset), so what loads is a sound value; an
    /// empty collection is returned for the caller to refuse or skip.
    fn value(&mut self, t: u8, lim: &TypeLimits) -> Result<Value, String> {
        let bad_score = || "Invalid sorted set score in RDB".to_string();
        Ok(match t {
            TYPE_STRING => Value::bytes(&self.string()?),
            types::TYPE_LIST => {
                let n = self.len()?;
                types::build_list(self.strings(n)?, lim)
            }
            types::TYPE_SET => {
                let n = self.len()?;
                types::build_set(self.strings(n)?, lim)?
            }
            types::TYPE_HASH => {
                let n = self.len()?;
                types::build_hash(self.strings(n.saturating_mul(2))?, lim)?
            }
            types::TYPE_ZSET | types::TYPE_ZSET_2 => {
                let n = self.len()?;
                let mut items = Vec::with_capacity(n.min(self.left() as u64) as usize);
                for _ in 0..n {
                    let m = self.string()?;
                    let score = if t == types::TYPE_ZSET_2 {
                        f64::from_le_bytes(self.take(8)?.try_into().map_err(|_| short())?)
                    } else {
                        match self.byte()? {
                            253 => f64::NAN,
                            254 => f64::INFINITY,
                            255 => f64::NEG_INFINITY,
                            l => {
                                let s = self.take(l as usize)?;
                                crate::util::num::parse_f64(s).ok_or_else(bad_score)?
                            }
                        }
                    };
                    items.push((m, score));
                }
                types::build_zset(items, lim)?
            }
            types::TYPE_SET_INTSET => {
                types::build_set(types::intset_members(&self.string()?)?, lim)?
            }
            types::TYPE_SET_LISTPACK => {
                types::build_set(types::listpack_entries(&self.string()?)?, lim)?
            }
            types::TYPE_HASH_LISTPACK => {
                types::build_hash(types::listpack_entries(&self.string()?)?, lim)?
            }
            types::TYPE_ZSET_LISTPACK => {
                let e = types::listpack_entries(&self.string()?)?;
                if e.len() % 2 != 0 {
                    return Err("Sorted set with an odd number of elements in RDB".into());
                }
                let mut items = Vec::with_capacity(e.len() / 2);
                for p in e.chunks_exact(2) {
                    let score = crate::util::num::parse_f64(&p[1]).ok_or_else(bad_score)?;
                    items.push((p[0].clone(), score));
                }
                types::build_zset(items, lim)?
            }
            types::TYPE_LIST_QUICKLIST_2 => {
                let nodes = self.len()?;
                let mut items = Vec::new();
                for _ in 0..nodes {
                    let container = self.len()?;
                    let blob = self.string()?;
                    match container {
                        QUICKLIST_PLAIN => items.push(blob),
                        // Empty nodes are skipped, as Redis does.
                        QUICKLIST_PACKED => items.extend(types::listpack_entries(&blob)?),
                        _ => return Err(format!("Unknown quicklist node container {container}")),
                    }
                }
                types::build_list(items, lim)
            }
            types::TYPE_STREAM_LISTPACKS
            | types::TYPE_STREAM_LISTPACKS_2
            | types::TYPE_STREAM_LISTPACKS_3 => Value::Stream(Box::new(self.stream(t)?)),
            other => {
                return Err(format!(
                    "Loading values of RDB type {other} is not supported yet"
                ))
            }
        })
    }

    fn millis(&mut self) -> Result<i64, String> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| short())?,
        ))
    }

    fn raw_id(&mut self) -> Result<StreamId, String> {
        StreamId::from_be(self.take(16)?).ok_or_else(short)
    }

    /// A stream of RDB type 15, 19 or 21 (see `rdb_types::write_stream`;
    /// 15 lacks the first/max-deleted IDs, entries added and read
    /// counters, 21 adds each consumer's active time).
    fn stream(&mut self, t: u8) -> Result<Stream, String> {
        let bad = |what: &str| format!("Invalid stream in RDB: {what}");
        let mut s = Stream::default();
        let nodes = self.len()?;
        for _ in 0..nodes {
            let key = self.string()?;
            let master = StreamId::from_be(&key).ok_or_else(|| bad("node key"))?;
            let lp = self.string()?;
            s.load_node(master, &types::listpack_entries(&lp)?)?;
        }
        let length = self.len()?;
        s.last_id = StreamId::new(self.len()?, self.len()?);
        if t == types::TYPE_STREAM_LISTPACKS {
            s.first_id = s.entries.keys().next().copied().unwrap_or_default();
            s.entries_added = length;
        } else {
            s.first_id = StreamId::new(self.len()?, self.len()?);
            s.max_deleted = StreamId::new(self.len()?, self.len()?);
            s.entries_added = self.len()?;
        }
        if length != s.len() as u64 {
            return Err(bad("length"));
        }
        // XADD * must find the last ID above every entry.
        if s.entries.keys().next_back().is_some_and(|l| *l > s.last_id) {
            return Err(bad("last ID below an entry"));
        }
        let groups = self.len()?;
        for _ in 0..groups {
            let name = self.string()?;
            let last = StreamId::new(self.len()?, self.len()?);
            let entries_read = if t == types::TYPE_STREAM_LISTPACKS {
                s.estimate_read_counter(last)
                    .unwrap_or(ENTRIES_READ_INVALID)
            } else {
                self.len()? as i64
            };
            let mut g = Group::new(last, entries_read);
            for _ in 0..self.len()? {
                let id = self.raw_id()?;
                let delivery_time = self.millis()?;
                let delivery_count = self.len()?;
                let nack = Nack {
                    delivery_time,
                    delivery_count,
                    consumer: Box::default(),
                };
                if g.pel.insert(id, nack).is_some() {
                    return Err(bad("duplicated group PEL entry"));
                }
            }
            for _ in 0..self.len()? {
                let cname = self.string()?;
                if g.consumers.contains_key(&cname[..]) {
                    return Err(bad("duplicated consumer name"));
                }
                let seen_time = self.millis()?;
                let active_time = if t == types::TYPE_STREAM_LISTPACKS_3 {
                    self.millis()?
                } else {
                    seen_time
                };
                let (c, _) = g.consumer(&cname, seen_time);
                c.seen_time = seen_time;
                c.active_time = active_time;
                for _ in 0..self.len()? {
                    let id = self.raw_id()?;
                    let n = g
                        .pel
                        .get_mut(&id)
                        .ok_or_else(|| bad("consumer PEL entry not in the group PEL"))?;
                    // One owner per pending entry, or the consumers' PELs
                    // and the group's disagree.
                    if !n.consumer.is_empty() {
                        return Err(bad("pending entry owned by two consumers"));
                    }
                    n.consumer = cname.clone().into_boxed_slice();
                    if let Some(c) = g.consumers.get_mut(&cname[..]) {
                        c.pel.insert(id);
                    }
                }
            }
            if g.pel.values().any(|n| n.consumer.is_empty()) {
                return Err(bad("group PEL entry without a consumer"));
            }
            if s.groups.insert(name.into_boxed_slice(), g).is_some() {
                return Err(bad("duplicated consumer group name"));
            }
        }
        Ok(s)
    }
}

#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    pub keys: usize,
    pub expired_skipped: usize,
    /// Bytes of `data` the image took (an AOF base may go on with commands).
    pub consumed: usize,
    /// Code of each function library in the image, for the caller to load.
    pub functions: Vec<Vec<u8>>,
    /// The auxiliary fields (repl-id, repl-offset, ...).
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Loads an RDB image into `ks` (which should be empty).
pub fn load(
    data: &[u8],
    ks: &mut Keyspace,
    now_ms: i64,
    lim: &TypeLimits,
) -> Result<LoadStats, String> {
    let mut l = Loader::new(data)?;
    loop {
        if let Some(st) = l.step(ks, now_ms, lim, usize::MAX)? {
            return Ok(st);
        }
    }
}

/// An RDB load that can be done a slice at a time (start-up serves
/// clients with LOADING in between).
pub struct Loader<'a> {
    r: Reader<'a>,
    version: u32,
    stats: LoadStats,
    db: usize,
    expire: Option<i64>,
}

impl<'a> Loader<'a> {
    pub fn new(data: &'a [u8]) -> Result<Loader<'a>, String> {
        if data.len() < 9 || &data[..5] != b"REDIS" {
            return Err("Wrong signature trying to load DB from file".into());
        }
        let version: u32 = std::str::from_utf8(&data[5..9])
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or("Wrong signature trying to load DB from file")?;
        if !(1..=MAX_READ_VERSION).contains(&version) {
            return Err(format!("Can't handle RDB format version {version}"));
        }
        Ok(Loader {
            r: Reader { b: data, pos: 9 },
            version,
            stats: LoadStats::default(),
            db: 0,
            expire: None,
        })
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.r.pos
    }

    /// An AUX field read so far.
    pub fn aux(&self, key: &[u8]) -> Option<&[u8]> {
        self.stats
            .aux
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Loads up to `records` more records; the totals once the image ends.
    pub fn step(
        &mut self,
        ks: &mut Keyspace,
        now_ms: i64,
        lim: &TypeLimits,
        records: usize,
    ) -> Result<Option<LoadStats>, String> {
        for _ in 0..records {
            if let Some(st) = self.record(ks, now_ms, lim)? {
                return Ok(Some(st));
            }
        }
        Ok(None)
    }

    fn record(
        &mut self,
        ks: &mut Keyspace,
        now_ms: i64,
        lim: &TypeLimits,
    ) -> Result<Option<LoadStats>, String> {
        let op = self.r.byte()?;
        match op {
            OP_EOF => return self.finish().map(Some),
            OP_SELECTDB => {
                self.db = self.r.len()? as usize;
                if self.db >= ks.dbs.len() {
                    return Err(format!(
                            "FATAL: Data file was created with a Redis server configured to handle more than {} databases. Exiting",
                            ks.dbs.len()
                        ));
                }
            }
            OP_RESIZEDB => {
                self.r.len()?;
                self.r.len()?;
            }
            OP_EXPIRETIME_MS => {
                self.expire = Some(i64::from_le_bytes(
                    self.r.take(8)?.try_into().map_err(|_| short())?,
                ));
            }
            OP_EXPIRETIME => {
                self.expire = Some(
                    i32::from_le_bytes(self.r.take(4)?.try_into().map_err(|_| short())?) as i64
                        * 1000,
                );
            }
            OP_AUX => {
                let k = self.r.string()?;
                let v = self.r.string()?;
                tracing::debug!(
                    "RDB aux {}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                );
                self.stats.aux.push((k, v));
            }
            OP_IDLE => {
                self.r.len()?;
            }
            OP_FREQ => {
                self.r.byte()?;
            }
            OP_FUNCTION2 => self.stats.functions.push(self.r.string()?),
            OP_MODULE_AUX | OP_FUNCTION => {
                return Err(format!("The RDB file contains opcode {op:#x} (modules/functions), which Redust cannot load"));
            }
            TYPE_STRING
            | types::TYPE_LIST..=types::TYPE_ZSET_2
            | types::TYPE_SET_INTSET
            | types::TYPE_HASH_LISTPACK
            | types::TYPE_ZSET_LISTPACK
            | types::TYPE_LIST_QUICKLIST_2
            | types::TYPE_SET_LISTPACK
            | types::TYPE_STREAM_LISTPACKS
            | types::TYPE_STREAM_LISTPACKS_2
            | types::TYPE_STREAM_LISTPACKS_3 => {
                let key = self.r.string()?;
                let val = self.r.value(op, lim)?;
                let exp = self.expire.take();
                if is_empty_collection(&val) {
                    // Redis writes no empty collection; it skips one found
                    // in a file rather than refusing the whole dataset.
                    tracing::warn!(
                        "RDB: skipping empty key '{}'",
                        String::from_utf8_lossy(&key)
                    );
                    return Ok(None);
                }
                if exp.is_some_and(|t| t <= now_ms) {
                    self.stats.expired_skipped += 1;
                    return Ok(None);
                }
                let d = &mut ks.dbs[self.db];
                d.set(&key, val, false, now_ms);
                if let Some(t) = exp {
                    d.set_expire(&key, t);
                }
                self.stats.keys += 1;
            }
            other => {
                return Err(format!(
                    "Loading values of RDB type {other} is not supported yet"
                ));
            }
        }
        Ok(None)
    }

    fn finish(&mut self) -> Result<LoadStats, String> {
        let end = self.r.pos;
        let mut stats = std::mem::take(&mut self.stats);
        stats.consumed = end;
        // Version 5 on ends with the CRC-64 (zero when rdbchecksum is off).
        if self.version >= 5 {
            let stored = u64::from_le_bytes(self.r.take(8)?.try_into().map_err(|_| short())?);
            if stored != 0 && stored != crc64(&self.r.b[..end]) {
                return Err("Wrong RDB checksum. Aborting now.".into());
            }
            stats.consumed = end + 8;
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cuts and flipped bytes over an image holding each
    /// type in both encodings: always an error, never a panic.
    #[test]
    fn damaged_images_fail_without_panicking() {
        let lim = test_limits();
        let now = 1_700_000_000_000;
        let items = |n: usize| {
            (0..n)
                .map(|i| format!("item-{i}").into_bytes())
                .collect::<Vec<_>>()
        };
        let scores = |n: usize| {
            (0..n)
                .map(|i| (format!("m{i}").into_bytes(), i as f64 / 3.0))
                .collect::<Vec<_>>()
        };
        let mut ks = Keyspace::new(16);
        let d = &mut ks.dbs[0];
        d.set(b"s", Value::bytes(&b"xyz".repeat(100)), false, now);
        d.set(b"n", Value::bytes(b"-12345"), false, now);
        d.set(b"l", types::build_list(items(5), &lim), false, now);
        d.set(b"L", types::build_list(items(400), &lim), false, now);
        d.set(
            b"set",
            types::build_set(items(5), &lim).unwrap(),
            false,
            now,
        );
        d.set(
            b"SET",
            types::build_set(items(300), &lim).unwrap(),
            false,
            now,
        );
        let ints = (0..50).map(|i: i32| i.to_string().into_bytes()).collect();
        d.set(b"iset", types::build_set(ints, &lim).unwrap(), false, now);
        let d = &mut ks.dbs[2];
        d.set(
            b"h",
            types::build_hash(items(10), &lim).unwrap(),
            false,
            now,
        );
        d.set(
            b"H",
            types::build_hash(items(600), &lim).unwrap(),
            false,
            now,
        );
        d.set(
            b"z",
            types::build_zset(scores(10), &lim).unwrap(),
            false,
            now,
        );
        d.set(
            b"Z",
            types::build_zset(scores(300), &lim).unwrap(),
            false,
            now,
        );
        d.set_expire(b"z", now + 1000);
        let img = snapshot(&ks, now, true, true, &[("redis-ver", "7.2.4".into())], &[]).unwrap();
        let load_into = |b: &[u8]| load(b, &mut Keyspace::new(16), now, &lim);
        assert_eq!(load_into(&img).map(|s| s.keys).ok(), Some(11));
        // A spread of cuts, and every cut in the EOF and checksum.
        let step = img.len() / 1000 + 1;
        for cut in (0..img.len())
            .step_by(step)
            .chain(img.len() - 12..img.len())
        {
            assert!(load_into(&img[..cut]).is_err(), "cut at {cut} loaded");
        }
        for at in (0..img.len()).step_by(step) {
            for x in [0x01, 0x80, 0xff] {
                let mut bad = img.clone();
                bad[at] ^= x;
                assert!(load_into(&bad).is_err(), "flip {x:#x} at {at} loaded");
            }
        }
    }

    /// A listpack of short strings, as Redis writes them.
    fn listpack(items: &[&[u8]]) -> Vec<u8> {
        let mut lp = vec![0u8; 6];
        for i in items {
            lp.push(0x80 | i.len() as u8);
            lp.extend_from_slice(i);
            lp.push(1 + i.len() as u8);
        }
        lp.push(0xFF);
        let total = (lp.len() as u32).to_le_bytes();
        lp[..4].copy_from_slice(&total);
        lp[4..6].copy_from_slice(&(items.len() as u16).to_le_bytes());
        lp
    }

    fn restore(body: &[u8]) -> Result<Value, String> {
        restore_value(body, &test_limits())
    }

    /// A type byte followed by one RDB string.
    fn blob(t: u8, b: &[u8]) -> Vec<u8> {
        let mut out = vec![t];
        write_string(&mut out, b, false);
        out
    }

    #[test]
    fn huge_counts_fail_without_reserving_them() {
        // 0xFFFFFFFF elements claimed, three present.
        for t in [1u8, 2, 3, 4, 5] {
            let body = [&[t, 0x80, 0xFF, 0xFF, 0xFF, 0xFF][..], b"\x01a\x01b\x01c"].concat();
            assert!(restore(&body).is_err(), "type {t}");
        }
        let mut r = Reader {
            b: b"\x01a",
            pos: 0,
        };
        assert!(r.strings(u64::MAX).is_err());
    }

    #[test]
    fn empty_collections_are_refused_or_skipped() {
        for t in [1u8, 2, 3, 4, 5] {
            assert!(restore(&[t, 0]).is_err(), "type {t}");
        }
        assert!(restore(&blob(types::TYPE_HASH_LISTPACK, &listpack(&[]))).is_err());
        assert!(restore(&[
            types::TYPE_LIST_QUICKLIST_2,
            1,
            2,
            0x07,
            7,
            0,
            0,
            0,
            0,
            0,
            0xFF
        ])
        .is_err());
        // In a file the empty key is left out and the rest loads.
        let mut img = header(&[], &[]);
        write_select(&mut img, 0, None);
        img.extend_from_slice(&[
            types::TYPE_SET,
            1,
            b'e',
            0,
            TYPE_STRING,
            1,
            b'k',
            1,
            b'v',
            OP_EOF,
        ]);
        img.extend_from_slice(&crc64(&img).to_le_bytes());
        let mut ks = Keyspace::new(16);
        assert_eq!(
            load(&img, &mut ks, 0, &test_limits()).map(|s| s.keys),
            Ok(1)
        );
        assert!(ks.dbs[0].dict().get(b"e").is_none());
    }

    #[test]
    fn repeated_members_and_fields_are_refused() {
        // Plain encodings.
        assert!(restore(b"\x02\x02\x01a\x01a").is_err());
        assert!(restore(b"\x04\x02\x01f\x01v\x01f\x01w").is_err());
        let mut z = vec![types::TYPE_ZSET_2, 2];
        for _ in 0..2 {
            z.extend_from_slice(b"\x01m");
            z.extend_from_slice(&1f64.to_le_bytes());
        }
        assert!(restore(&z).is_err());
        // Listpack encodings.
        let ok = |t, items: &[&[u8]]| restore(&blob(t, &listpack(items))).is_ok();
        assert!(ok(types::TYPE_SET_LISTPACK, &[b"a", b"b"]));
        assert!(!ok(types::TYPE_SET_LISTPACK, &[b"a", b"a"]));
        assert!(ok(types::TYPE_HASH_LISTPACK, &[b"f", b"1", b"g", b"2"]));
        assert!(!ok(types::TYPE_HASH_LISTPACK, &[b"f", b"1", b"f", b"2"]));
        assert!(!ok(types::TYPE_HASH_LISTPACK, &[b"f", b"1", b"g"]));
        assert!(ok(types::TYPE_ZSET_LISTPACK, &[b"a", b"1", b"b", b"2"]));
        assert!(!ok(types::TYPE_ZSET_LISTPACK, &[b"a", b"1", b"a", b"2"]));
        assert!(!ok(types::TYPE_ZSET_LISTPACK, &[b"a", b"1", b"b"]));
        assert!(!ok(types::TYPE_ZSET_LISTPACK, &[b"a", b"nan"]));
    }

    #[test]
    fn damaged_listpacks_and_intsets_are_refused() {
        let good = listpack(&[b"a", b"bc"]);
        assert!(types::listpack_entries(&good).is_ok());
        let with = |at: usize, v: u8| {
            let mut b = good.clone();
            b[at] = v;
            types::listpack_entries(&b)
        };
        assert!(with(0, 99).is_err(), "total size");
        assert!(with(4, 3).is_err(), "element count");
        assert!(with(8, 7).is_err(), "back-length");
        assert!(
            types::listpack_entries(&[&good[..], b"x"].concat()).is_err(),
            "after the end"
        );
        let mut all = good.clone();
        all[4..6].copy_from_slice(&[0xFF, 0xFF]);
        assert!(
            types::listpack_entries(&all).is_ok(),
            "count unknown (65535)"
        );
        let intset = |w: u32, vals: &[i16]| {
            let mut b = w.to_le_bytes().to_vec();
            b.extend_from_slice(&(vals.len() as u32).to_le_bytes());
            vals.iter()
                .for_each(|v| b.extend_from_slice(&v.to_le_bytes()));
            b
        };
        assert!(types::intset_members(&intset(2, &[1, 5, 9])).is_ok());
        assert!(
            types::intset_members(&intset(2, &[5, 1])).is_err(),
            "unsorted"
        );
        assert!(
            types::intset_members(&intset(2, &[1, 1])).is_err(),
            "repeated"
        );
        assert!(
            types::intset_members(&[&intset(2, &[1])[..], b"x"].concat()).is_err(),
            "longer"
        );
        let mut huge = intset(2, &[1]);
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(types::intset_members(&huge).is_err(), "count");
        // A quicklist node must be plain (1) or packed (2).
        let mut q = vec![types::TYPE_LIST_QUICKLIST_2, 1, 3];
        write_string(&mut q, &good, false);
        assert!(restore(&q).is_err());
        q[2] = 2;
        assert!(restore(&q).is_ok());
    }

    /// A type 19 stream with entry 1-1 {f: v}, last ID `last`, and group
    /// "g" whose PEL holds 1-1, listed by each consumer in `consumers`.
    fn stream_body(last: (u64, u64), lp_count: &[u8], consumers: &[&[u8]]) -> Vec<u8> {
        let id = StreamId::new(1, 1);
        let mut b = vec![types::TYPE_STREAM_LISTPACKS_2, 1];
        write_string(&mut b, &id.to_be(), false);
        let lp = listpack(&[
            b"1", b"0", b"1", b"f", b"0", b"2", b"0", b"0", b"v", lp_count,
        ]);
        write_string(&mut b, &lp, false);
        for n in [1, last.0, last.1, 1, 1, 0, 0, 1, 1] {
            write_len(&mut b, n);
        }
        write_string(&mut b, b"g", false);
        for n in [1, 1, 1, 1] {
            write_len(&mut b, n);
        }
        b.extend_from_slice(&id.to_be());
        b.extend_from_slice(&5i64.to_le_bytes());
        write_len(&mut b, 1);
        write_len(&mut b, consumers.len() as u64);
        for c in consumers {
            write_string(&mut b, c, false);
            b.extend_from_slice(&5i64.to_le_bytes());
            write_len(&mut b, 1);
            b.extend_from_slice(&id.to_be());
        }
        b
    }

    #[test]
    fn inconsistent_streams_are_refused() {
        assert!(restore(&stream_body((1, 1), b"4", &[b"alice"])).is_ok());
        assert!(
            restore(&stream_body((1, 1), b"5", &[b"alice"])).is_err(),
            "lp-count"
        );
        assert!(
            restore(&stream_body((1, 0), b"4", &[b"alice"])).is_err(),
            "last ID"
        );
        let two = stream_body((1, 1), b"4", &[b"alice", b"bob"]);
        assert!(restore(&two).is_err(), "two owners");
        let dup = stream_body((1, 1), b"4", &[b"alice", b"alice"]);
        assert!(restore(&dup).is_err(), "consumer twice");
    }

    fn test_limits() -> TypeLimits {
        TypeLimits::redis_defaults()
    }

    #[test]
    fn crc_is_jones() {
        // The check value of CRC-64/REDIS ("123456789").
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn round_trip_strings_and_ttls() {
        let mut ks = Keyspace::new(16);
        let now = 1_700_000_000_000;
        ks.dbs[0].set(b"int", Value::bytes(b"12345"), false, now);
        ks.dbs[0].set(b"big", Value::bytes(&b"abc".repeat(1000)), false, now);
        ks.dbs[3].set(b"ttl", Value::bytes(b"v"), false, now);
        ks.dbs[3].set_expire(b"ttl", now + 60_000);
        ks.dbs[3].set(b"gone", Value::bytes(b"v"), false, now);
        ks.dbs[3].set_expire(b"gone", now - 1);
        let img = snapshot(&ks, now, true, true, &[("redis-ver", "7.2.4".into())], &[]).unwrap();
        let mut back = Keyspace::new(16);
        let st = load(&img, &mut back, now, &test_limits()).unwrap();
        assert_eq!(st.keys, 3);
        assert_eq!(
            back.dbs[0].dict().get(b"big").map(|e| e.val.clone()),
            Some(Value::bytes(&b"abc".repeat(1000)))
        );
        assert_eq!(back.dbs[3].expire_at(b"ttl"), Some(now + 60_000));
        assert!(back.dbs[3].dict().get(b"gone").is_none());
        // A flipped byte is caught by the checksum; a cut file is a short read.
        let mut bad = img.clone();
        let k = bad.len() / 2;
        bad[k] ^= 0x55;
        assert!(load(&bad, &mut Keyspace::new(16), now, &test_limits()).is_err());
        assert!(load(
            &img[..img.len() - 12],
            &mut Keyspace::new(16),
            now,
            &test_limits()
        )
        .is_err());
    }
}

/// DUMP payload framing: the body, then the RDB version (2 bytes) and the
/// CRC-64 of everything before it (8 bytes), both little endian.
pub fn seal_payload(out: &mut Vec<u8>) {
    out.extend_from_slice(&(WRITE_VERSION as u16).to_le_bytes());
    let crc = crc64(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The body of a DUMP payload whose version this server reads and whose
/// checksum is right.
pub fn payload_body(p: &[u8]) -> Option<&[u8]> {
    let end = p.len().checked_sub(10)?;
    let version = u16::from_le_bytes([p[end], p[end + 1]]) as u32;
    let crc = u64::from_le_bytes(p[end + 2..].try_into().ok()?);
    (version <= MAX_READ_VERSION && crc == crc64(&p[..end + 2])).then_some(&p[..end])
}

/// DUMP: a value's type byte and encoding, sealed.
pub fn dump_value(v: &Value) -> Result<Vec<u8>, String> {
    let mut out = vec![type_byte(v)?];
    write_payload(&mut out, v, true);
    seal_payload(&mut out);
    Ok(out)
}

/// RESTORE: the value in a payload body (see `payload_body`); the body
/// must hold exactly one value.
pub fn restore_value(body: &[u8], lim: &TypeLimits) -> Result<Value, String> {
    let mut r = Reader { b: body, pos: 0 };
    let t = r.byte()?;
    let v = r.value(t, lim)?;
    if r.pos != body.len() {
        return Err("trailing bytes in the payload".into());
    }
    if is_empty_collection(&v) {
        return Err("empty keys are not restored".into());
    }
    Ok(v)
}

/// A list, set, sorted set or hash without elements (an empty stream is a
/// valid value).
fn is_empty_collection(v: &Value) -> bool {
    match v {
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
        Value::Str(_) | Value::Stream(_) => false,
    }
}

/// Reads one RDB-encoded string at `*pos` (for payloads embedding RDB
/// strings, like FUNCTION DUMP).
pub fn read_string(b: &[u8], pos: &mut usize) -> Result<Vec<u8>, String> {
    let mut r = Reader { b, pos: *pos };
    let s = r.string()?;
    *pos = r.pos;
    Ok(s)
}
