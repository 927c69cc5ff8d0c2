//! Hash commands. Values live in `db::hash::Hash` ("listpack" while small,
//! "hashtable" after a threshold is crossed; see there).

use bytes::Bytes;
use rand::Rng;

use super::generic::parse_cursor;
use super::{cmd, int_arg, is, Command, C_HASH, DENYOOM, FAST, KEY1, READONLY, WRITE};
use crate::config::D;
use crate::db::hash::{Hash, HashLimits};
use crate::db::Value;
use crate::errors::{self, CmdResult, Error};
use crate::server::notify;
use crate::server::Ctx;
use crate::util::glob::glob_match;
use crate::util::num::{self, LongDoubleKind};

const G: &str = "hash";

pub static COMMANDS: &[Command] = &[
    cmd("hset", -4, WRITE | DENYOOM | FAST, KEY1, C_HASH, hset, G, "2.0.0", "Creates or modifies the value of a field in a hash."),
    cmd("hsetnx", 4, WRITE | DENYOOM | FAST, KEY1, C_HASH, hsetnx, G, "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist."),
    cmd("hmset", -4, WRITE | DENYOOM | FAST, KEY1, C_HASH, hmset, G, "2.0.0", "Sets the values of multiple fields."),
    cmd("hget", 3, READONLY | FAST, KEY1, C_HASH, hget, G, "2.0.0", "Returns the value of a field in a hash."),
    cmd("hmget", -3, READONLY | FAST, KEY1, C_HASH, hmget, G, "2.0.0", "Returns the values of all fields in a hash."),
    cmd("hdel", -3, WRITE | FAST, KEY1, C_HASH, hdel, G, "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    cmd("hlen", 2, READONLY | FAST, KEY1, C_HASH, hlen, G, "2.0.0", "Returns the number of fields in a hash."),
    cmd("hstrlen", 3, READONLY | FAST, KEY1, C_HASH, hstrlen, G, "3.2.0", "Returns the length of the value of a field."),
    cmd("hexists", 3, READONLY | FAST, KEY1, C_HASH, hexists, G, "2.0.0", "Determines whether a field exists in a hash."),
    cmd("hkeys", 2, READONLY, KEY1, C_HASH, hkeys, G, "2.0.0", "Returns all fields in a hash."),
    cmd("hvals", 2, READONLY, KEY1, C_HASH, hvals, G, "2.0.0", "Returns all values in a hash."),
    cmd("hgetall", 2, READONLY, KEY1, C_HASH, hgetall, G, "2.0.0", "Returns all fields and values in a hash."),
    cmd("hincrby", 4, WRITE | DENYOOM | FAST, KEY1, C_HASH, hincrby, G, "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd("hincrbyfloat", 4, WRITE | DENYOOM | FAST, KEY1, C_HASH, hincrbyfloat, G, "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    cmd("hrandfield", -2, READONLY, KEY1, C_HASH, hrandfield, G, "6.2.0", "Returns one or more random fields from a hash."),
    cmd("hscan", -3, READONLY, KEY1, C_HASH, hscan, G, "2.8.0", "Iterates over fields and values of a hash."),
];

pub fn limits(ctx: &Ctx) -> HashLimits {
    HashLimits {
        entries: ctx.srv.cfg.int(D::HASH_MAX_LISTPACK_ENTRIES).max(0) as usize,
        value: ctx.srv.cfg.int(D::HASH_MAX_LISTPACK_VALUE).max(0) as usize,
    }
}

/// The hash at `key` for a read command (counts a keyspace hit or miss).
fn read_hash<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Hash>, Error> {
    super::typed(ctx.lookup_with_out(key, true).0, Value::as_hash_mut)
}

/// The hash at `key` for a write command (no hit/miss accounting).
fn write_hash<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut Hash>, Error> {
    super::typed(ctx.lookup_with_out(key, false).0, Value::as_hash_mut)
}

/// The hash at `key`, created empty if missing, with one keyspace lookup
/// when it exists (the usual case). A macro because a function returning
/// the first lookup's borrow could not fall back to creating the key.
macro_rules! hash_or_create {
    ($ctx:expr, $key:expr) => {
        match write_hash($ctx, $key)? {
            Some(h) => h,
            None => write_hash_or_create($ctx, $key)?,
        }
    };
}

/// The hash at `key`, created empty if missing.
fn write_hash_or_create<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<&'a mut Hash, Error> {
    let now = ctx.now_ms;
    let db = ctx.db();
    match db.lookup(key, now).map(|e| matches!(e.val, Value::Hash(_))) {
        Some(false) => return Err(Error::WrongType),
        Some(true) => {}
        None => db.add(key, Value::Hash(Box::default()), now),
    }
    match db.entry_mut(key).map(|e| &mut e.val) {
        Some(Value::Hash(h)) => Ok(h),
        _ => Err(Error::WrongType),
    }
}

fn hset_generic(ctx: &mut Ctx, a: &[Bytes], name: &str) -> Result<usize, Error> {
    if !a.len().is_multiple_of(2) {
        return Err(errors::wrong_arity(name));
    }
    let lim = limits(ctx);
    let h = hash_or_create!(ctx, &a[1]);
    let mut added = 0;
    for p in a[2..].chunks(2) {
        if h.set(&p[0], &p[1], lim) {
            added += 1;
        }
    }
    ctx.dirty(((a.len() - 2) / 2) as u64);
    ctx.notify(notify::HASH, "hset", &a[1]);
    Ok(added)
}

fn hset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = hset_generic(ctx, a, "hset")?;
    ctx.out.int(n as i64);
    Ok(())
}

fn hmset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    hset_generic(ctx, a, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lim = limits(ctx);
    let h = hash_or_create!(ctx, &a[1]);
    if h.contains(&a[2]) {
        ctx.out.int(0);
        return Ok(());
    }
    h.set(&a[2], &a[3], lim);
    ctx.dirty(1);
    ctx.notify(notify::HASH, "hset", &a[1]);
    ctx.out.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (e, out) = ctx.lookup_with_out(&a[1], true);
    match super::typed(e, Value::as_hash_mut)?.and_then(|h| h.get(&a[2])) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (e, out) = ctx.lookup_with_out(&a[1], true);
    let h = super::typed(e, Value::as_hash_mut)?;
    out.array(a.len() - 2);
    for f in &a[2..] {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(h) = write_hash(ctx, &a[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for f in &a[2..] {
        if h.remove(f) {
            n += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        ctx.notify(notify::HASH, "hdel", &a[1]);
        ctx.remove_if_empty(&a[1]);
        ctx.dirty(n);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = read_hash(ctx, &a[1])?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = read_hash(ctx, &a[1])?.and_then(|h| h.get(&a[2]).map(|v| v.len())).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let b = read_hash(ctx, &a[1])?.is_some_and(|h| h.contains(&a[2]));
    ctx.out.int(b as i64);
    Ok(())
}

/// HKEYS / HVALS / HGETALL: `what` 1 = fields, 2 = values, 3 = both.
fn getall_generic(ctx: &mut Ctx, a: &[Bytes], what: u8) -> CmdResult {
    let i = ctx.client.db.get();
    let now = ctx.now_ms;
    let (db, stats, out) = (&mut ctx.srv.ks.dbs[i], &mut ctx.srv.stats, &mut *ctx.out);
    let h = match db.lookup(&a[1], now) {
        None => {
            stats.keyspace_misses += 1;
            None
        }
        Some(e) => {
            stats.keyspace_hits += 1;
            match &e.val {
                Value::Hash(h) => Some(h),
                _ => return Err(Error::WrongType),
            }
        }
    };
    let n = h.map_or(0, |h| h.len());
    if what == 3 {
        out.map(n);
    } else {
        out.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if what & 1 != 0 {
                out.bulk(f);
            }
            if what & 2 != 0 {
                out.bulk(v);
            }
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    getall_generic(ctx, a, 1)
}

fn hvals(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    getall_generic(ctx, a, 2)
}

fn hgetall(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    getall_generic(ctx, a, 3)
}

fn hincrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let incr = int_arg(&a[3])?;
    let lim = limits(ctx);
    let h = hash_or_create!(ctx, &a[1]);
    let cur = match h.get(&a[2]) {
        Some(v) => num::parse_i64(v).ok_or_else(|| Error::msg("ERR hash value is not an integer"))?,
        None => 0,
    };
    let Some(new) = cur.checked_add(incr) else {
        ctx.db().remove_if_empty(&a[1]);
        return Err(Error::Overflow);
    };
    let mut s = Vec::with_capacity(20);
    num::fmt_i64(new, &mut s);
    h.set(&a[2], &s, lim);
    ctx.dirty(1);
    ctx.notify(notify::HASH, "hincrby", &a[1]);
    ctx.out.int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match num::long_double_kind(&a[3]) {
        LongDoubleKind::Invalid => return Err(Error::NotFloat),
        LongDoubleKind::Infinite => return Err(Error::msg("ERR value is NaN or Infinity")),
        LongDoubleKind::Finite => {}
    }
    let lim = limits(ctx);
    let h = hash_or_create!(ctx, &a[1]);
    let cur = match h.get(&a[2]) {
        Some(v) => {
            if num::long_double_kind(v) == LongDoubleKind::Invalid {
                let e = Error::msg("ERR hash value is not a float");
                ctx.db().remove_if_empty(&a[1]);
                return Err(e);
            }
            v.to_vec()
        }
        None => b"0".to_vec(),
    };
    let new = match num::incr_by_float(&cur, &a[3]) {
        Ok(v) => v,
        Err(e) => {
            ctx.db().remove_if_empty(&a[1]);
            return Err(match e {
                num::IncrFloatError::NotFloat => Error::msg("ERR hash value is not a float"),
                num::IncrFloatError::NanOrInf => Error::msg(errors::NAN_OR_INF),
            });
        }
    };
    h.set(&a[2], &new, lim);
    ctx.dirty(1);
    ctx.notify(notify::HASH, "hincrbyfloat", &a[1]);
    ctx.out.bulk(&new);
    Ok(())
}

pub const RANGE_LONG: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// A count argument of SRANDMEMBER / HRANDFIELD.
pub fn count_arg(b: &[u8]) -> Result<i64, Error> {
    let c = int_arg(b)?;
    if c == i64::MIN {
        return Err(Error::msg(RANGE_LONG));
    }
    Ok(c)
}

fn hrandfield(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        let i = ctx.client.db.get();
        let now = ctx.now_ms;
        let srv = &mut *ctx.srv;
        let (db, rng) = (&mut srv.ks.dbs[i], &mut srv.ks.rng);
        let found = db.lookup(&a[1], now);
        if found.is_some() {
            srv.stats.keyspace_hits += 1;
        } else {
            srv.stats.keyspace_misses += 1;
        }
        match found.map(|e| &e.val) {
            None => ctx.out.null(),
            Some(Value::Hash(h)) => match h.random(rng) {
                Some((f, _)) => ctx.out.bulk(f),
                None => ctx.out.null(),
            },
            Some(_) => return Err(Error::WrongType),
        }
        return Ok(());
    }
    let count = count_arg(&a[2])?;
    let withvalues = if a.len() == 4 && is(&a[3], "withvalues") {
        true
    } else if a.len() >= 4 {
        return Err(Error::Syntax);
    } else {
        false
    };
    if withvalues && (count > i64::MAX / 2 || count < -(i64::MAX / 2)) {
        return Err(Error::msg("ERR value is out of range"));
    }
    let resp3 = ctx.out.resp3;
    let i = ctx.client.db.get();
    let now = ctx.now_ms;
    let srv = &mut *ctx.srv;
    let (db, rng) = (&mut srv.ks.dbs[i], &mut srv.ks.rng);
    let found = db.lookup(&a[1], now);
    if found.is_some() {
        srv.stats.keyspace_hits += 1;
    } else {
        srv.stats.keyspace_misses += 1;
    }
    let h = match found.map(|e| &e.val) {
        None => {
            ctx.out.array(0);
            return Ok(());
        }
        Some(Value::Hash(h)) => h,
        Some(_) => return Err(Error::WrongType),
    };
    let out = &mut *ctx.out;
    // Replies `picked` pairs in the requested shape.
    let emit = |out: &mut crate::resp::Out, picked: &[(&[u8], &[u8])]| {
        if withvalues && resp3 {
            out.array(picked.len());
            for (f, v) in picked {
                out.array(2);
                out.bulk(f);
                out.bulk(v);
            }
        } else if withvalues {
            out.array(picked.len() * 2);
            for (f, v) in picked {
                out.bulk(f);
                out.bulk(v);
            }
        } else {
            out.array(picked.len());
            for (f, _) in picked {
                out.bulk(f);
            }
        }
    };
    let size = h.len();
    if count == 0 {
        out.array(0);
    } else if count < 0 {
        // With repetitions; stream the reply for big counts.
        let n = count.unsigned_abs() as usize;
        let small = matches!(&**h, Hash::Lp(_)).then(|| h.pairs());
        let per = if withvalues && !resp3 { 2 } else { 1 };
        out.array(n * per);
        for _ in 0..n {
            let (f, v) = match &small {
                Some(p) => p[rng.gen_range(0..p.len())],
                None => h.random(rng).unwrap_or((b"", b"")),
            };
            if withvalues && resp3 {
                out.array(2);
            }
            out.bulk(f);
            if withvalues {
                out.bulk(v);
            }
        }
    } else if count as usize >= size {
        let all = h.pairs();
        emit(out, &all);
    } else {
        let count = count as usize;
        let picked: Vec<(&[u8], &[u8])> = if matches!(&**h, Hash::Lp(_)) || count * 3 > size {
            let mut all = h.pairs();
            for j in 0..count {
                let k = rng.gen_range(j..all.len());
                all.swap(j, k);
            }
            all.truncate(count);
            all
        } else {
            let mut seen = hashbrown::HashSet::with_capacity(count);
            let mut v = Vec::with_capacity(count);
            while v.len() < count {
                if let Some((f, val)) = h.random(rng) {
                    if seen.insert(f) {
                        v.push((f, val));
                    }
                }
            }
            v
        };
        emit(out, &picked);
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let Some(h) = read_hash(ctx, &a[1])? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let h: &Hash = h;
    let (count, pattern, _) = super::generic::scan_options(a, 3, false)?;
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| glob_match(p, f, false)) {
            found.push((f.to_vec(), v.to_vec()));
        }
    });
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len() * 2);
    for (f, v) in &found {
        out.bulk(f);
        out.bulk(v);
    }
    Ok(())
}
