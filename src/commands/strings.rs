//! String commands: SET and its variants, GET family, counters, ranges, LCS.
//!
//! A string is stored as an integer when it is the canonical text of one (so
//! INCR does not reparse and OBJECT ENCODING says "int"), as a short embedded
//! string when created by a write of at most 44 bytes, and as a raw growable
//! buffer otherwise or once modified in place (APPEND, SETRANGE).

use bytes::Bytes;

use super::{cmd, int_arg, is, Command, Keys, C_STRING, DENYOOM, FAST, KEY1, READONLY, WRITE};
use crate::config::D;
use crate::db::{StrVal, Value};
use crate::errors::{self, CmdResult, Error};
use crate::server::notify;
use crate::server::Ctx;
use crate::util::num;

const G: &str = "string";

pub static COMMANDS: &[Command] = &[
    cmd("get", 2, READONLY | FAST, KEY1, C_STRING, get, G, "1.0.0", "Returns the string value of a key."),
    cmd("set", -3, WRITE | DENYOOM, KEY1, C_STRING, set, G, "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    cmd("setnx", 3, WRITE | DENYOOM | FAST, KEY1, C_STRING, setnx, G, "1.0.0", "Set the string value of a key only when the key doesn't exist."),
    cmd("setex", 4, WRITE | DENYOOM, KEY1, C_STRING, setex, G, "2.0.0", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    cmd("psetex", 4, WRITE | DENYOOM, KEY1, C_STRING, psetex, G, "2.6.0", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    cmd("getex", -2, WRITE | FAST, KEY1, C_STRING, getex, G, "6.2.0", "Returns the string value of a key after setting its expiration time."),
    cmd("getdel", 2, WRITE | FAST, KEY1, C_STRING, getdel, G, "6.2.0", "Returns the string value of a key after deleting the key."),
    cmd("getset", 3, WRITE | DENYOOM | FAST, KEY1, C_STRING, getset, G, "1.0.0", "Returns the previous string value of a key after setting it to a new value."),
    cmd("mget", -2, READONLY | FAST, Keys { first: 1, last: -1, step: 1 }, C_STRING, mget, G, "1.0.0", "Atomically returns the string values of one or more keys."),
    cmd("mset", -3, WRITE | DENYOOM, Keys { first: 1, last: -1, step: 2 }, C_STRING, mset, G, "1.0.1", "Atomically creates or modifies the string values of one or more keys."),
    cmd("msetnx", -3, WRITE | DENYOOM, Keys { first: 1, last: -1, step: 2 }, C_STRING, msetnx, G, "1.0.1", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    cmd("append", 3, WRITE | DENYOOM | FAST, KEY1, C_STRING, append, G, "2.0.0", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    cmd("strlen", 2, READONLY | FAST, KEY1, C_STRING, strlen, G, "2.2.0", "Returns the length of a string value."),
    cmd("incr", 2, WRITE | DENYOOM | FAST, KEY1, C_STRING, incr, G, "1.0.0", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd("decr", 2, WRITE | DENYOOM | FAST, KEY1, C_STRING, decr, G, "1.0.0", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    cmd("incrby", 3, WRITE | DENYOOM | FAST, KEY1, C_STRING, incrby, G, "1.0.0", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd("decrby", 3, WRITE | DENYOOM | FAST, KEY1, C_STRING, decrby, G, "1.0.0", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    cmd("incrbyfloat", 3, WRITE | DENYOOM | FAST, KEY1, C_STRING, incrbyfloat, G, "2.6.0", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    cmd("getrange", 4, READONLY, KEY1, C_STRING, getrange, G, "2.4.0", "Returns a substring of the string stored at a key."),
    cmd("substr", 4, READONLY, KEY1, C_STRING, getrange, G, "1.0.0", "Returns a substring from a string value."),
    cmd("setrange", 4, WRITE | DENYOOM, KEY1, C_STRING, setrange, G, "2.2.0", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    cmd("lcs", -3, READONLY, Keys { first: 1, last: 2, step: 1 }, C_STRING, lcs, G, "7.0.0", "Finds the longest common substring."),
];

/// The string at `key`, if any; WRONGTYPE for other types.
pub(crate) fn read_str<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut StrVal>, Error> {
    super::typed(ctx.lookup_with_out(key, true).0, Value::as_str_mut)
}

/// Looks up a key for writing (no hit/miss accounting).
pub(crate) fn write_str<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut StrVal>, Error> {
    super::typed(ctx.lookup_with_out(key, false).0, Value::as_str_mut)
}

fn get(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (e, out) = ctx.lookup_with_out(&a[1], true);
    match super::typed(e, Value::as_str_mut)? {
        Some(s) => reply_str(out, s),
        None => out.null(),
    }
    Ok(())
}

/// Writes a string value as a bulk reply without copying it first.
fn reply_str(out: &mut crate::resp::Out, s: &StrVal) {
    match s {
        StrVal::Int(i) | StrVal::IntCopy(i) => out.bulk_int(*i),
        StrVal::Tiny(t) => out.bulk(t.as_slice()),
        StrVal::Emb(b) | StrVal::Raw(b) => out.bulk(b.as_slice()),
    }
}

/// Expiry options shared by SET and GETEX.
#[derive(Default, Clone, Copy, PartialEq)]
enum Ttl {
    #[default]
    None,
    Keep,
    Persist,
    /// Absolute unix time in ms.
    At(i64),
}

struct SetOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    ttl: Ttl,
    /// EX/PX/EXAT/PXAT (1..=4) and its argument, not yet validated:
    /// GETEX checks it only once the key is found.
    expire: Option<(i32, &'a Bytes)>,
}

/// Parses SET/GETEX options (from `a[start..]`) with Redis's conflict rules.
fn parse_set_opts(a: &[Bytes], start: usize, is_set: bool) -> Result<SetOpts<'_>, Error> {
    let mut o = SetOpts {
        nx: false,
        xx: false,
        get: false,
        ttl: Ttl::None,
        expire: None,
    };
    // Which expiry form was given: 0 none, 1 EX, 2 PX, 3 EXAT, 4 PXAT.
    let mut form = 0;
    let mut keep = false;
    let mut persist = false;
    let mut j = start;
    while j < a.len() {
        let opt = &a[j];
        let has_next = j + 1 < a.len();
        let other_form = |f: i32| form != 0 && form != f;
        if is_set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if is_set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if is_set && is(opt, "get") {
            o.get = true;
        } else if is_set && is(opt, "keepttl") && form == 0 {
            keep = true;
        } else if !is_set && is(opt, "persist") && form == 0 {
            persist = true;
        } else if let Some(f) = ["ex", "px", "exat", "pxat"].iter().position(|n| is(opt, n)) {
            let f = f as i32 + 1;
            if keep || persist || other_form(f) || !has_next {
                return Err(Error::Syntax);
            }
            form = f;
            o.expire = Some((f, &a[j + 1]));
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if keep {
        o.ttl = Ttl::Keep;
    }
    if persist {
        o.ttl = Ttl::Persist;
    }
    Ok(o)
}

/// Validates the EX/PX/EXAT/PXAT argument into `o.ttl`.
fn resolve_expire(now_ms: i64, o: &mut SetOpts, name: &str) -> CmdResult {
    let Some((form, arg)) = o.expire else {
        return Ok(());
    };
    let v = int_arg(arg)?;
    let seconds = form == 1 || form == 3;
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(errors::invalid_expire(name));
    }
    let mut ms = if seconds { v * 1000 } else { v };
    if form == 1 || form == 2 {
        ms = ms
            .checked_add(now_ms)
            .ok_or_else(|| errors::invalid_expire(name))?;
    }
    o.ttl = Ttl::At(ms);
    Ok(())
}

fn set(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut o = parse_set_opts(a, 3, true)?;
    resolve_expire(ctx.now_ms, &mut o, "set")?;
    let key = &a[1];
    let now = ctx.now_ms;
    let exists = if o.get {
        let old = write_str(ctx, key)?.map(|s| s.as_bytes().into_owned());
        let exists = old.is_some();
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
        exists
    } else {
        ctx.db().lookup(key, now).is_some()
    };
    if (o.nx && exists) || (o.xx && !exists) {
        if !o.get {
            ctx.out.null();
        }
        return Ok(());
    }
    let db = ctx.db();
    db.set(key, Value::bytes(&a[2]), o.ttl == Ttl::Keep, now);
    if let Ttl::At(at) = o.ttl {
        db.set_expire(key, at);
    }
    ctx.dirty(1);
    ctx.notify(notify::STRING, "set", key);
    if let Ttl::At(_) = o.ttl {
        ctx.notify(notify::GENERIC, "expire", key);
    }
    if !o.get {
        ctx.out.ok();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    if db.lookup(&a[1], now).is_some() {
        ctx.out.int(0);
    } else {
        db.add(&a[1], Value::bytes(&a[2]), now);
        ctx.dirty(1);
        ctx.notify(notify::STRING, "set", &a[1]);
        ctx.out.int(1);
    }
    Ok(())
}

fn setex_generic(ctx: &mut Ctx, a: &[Bytes], unit_ms: i64, name: &str) -> CmdResult {
    let v = int_arg(&a[2])?;
    if v <= 0 || v > i64::MAX / unit_ms {
        return Err(errors::invalid_expire(name));
    }
    let at = (v * unit_ms)
        .checked_add(ctx.now_ms)
        .ok_or_else(|| errors::invalid_expire(name))?;
    let now = ctx.now_ms;
    let db = ctx.db();
    db.set(&a[1], Value::bytes(&a[3]), false, now);
    db.set_expire(&a[1], at);
    ctx.dirty(1);
    ctx.notify(notify::STRING, "set", &a[1]);
    ctx.notify(notify::GENERIC, "expire", &a[1]);
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    setex_generic(ctx, a, 1000, "setex")
}

fn psetex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    setex_generic(ctx, a, 1, "psetex")
}

fn getex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut o = parse_set_opts(a, 2, false)?;
    let key = &a[1];
    let Some(v) = read_str(ctx, key)?.map(|s| s.as_bytes().into_owned()) else {
        ctx.out.null();
        return Ok(());
    };
    let now = ctx.now_ms;
    resolve_expire(now, &mut o, "getex")?;
    match o.ttl {
        Ttl::At(at) if at <= now => {
            ctx.db().remove(key);
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "del", key);
        }
        Ttl::At(at) => {
            ctx.db().set_expire(key, at);
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "expire", key);
        }
        Ttl::Persist if ctx.db().persist(key) => {
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "persist", key);
        }
        _ => {}
    }
    ctx.out.bulk(&v);
    Ok(())
}

fn getdel(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(v) = read_str(ctx, &a[1])?.map(|s| s.as_bytes().into_owned()) else {
        ctx.out.null();
        return Ok(());
    };
    ctx.db().remove(&a[1]);
    ctx.dirty(1);
    ctx.notify(notify::GENERIC, "del", &a[1]);
    ctx.out.bulk(&v);
    Ok(())
}

fn getset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let old = write_str(ctx, &a[1])?.map(|s| s.as_bytes().into_owned());
    let now = ctx.now_ms;
    ctx.db().set(&a[1], Value::bytes(&a[2]), false, now);
    ctx.dirty(1);
    ctx.notify(notify::STRING, "set", &a[1]);
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn mget(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ctx.out.array(a.len() - 1);
    let now = ctx.now_ms;
    for k in &a[1..] {
        let i = ctx.client.db.get();
        let (db, out, stats) = (&mut ctx.srv.ks.dbs[i], &mut *ctx.out, &mut ctx.srv.stats);
        match db.lookup(k, now) {
            Some(e) => {
                stats.keyspace_hits += 1;
                match &e.val {
                    Value::Str(s) => reply_str(out, s),
                    #[allow(unreachable_patterns)]
                    _ => out.null(),
                }
            }
            None => {
                stats.keyspace_misses += 1;
                out.null()
            }
        }
    }
    Ok(())
}

fn mset_generic(ctx: &mut Ctx, a: &[Bytes], nx: bool) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return Err(errors::wrong_arity(if nx { "msetnx" } else { "mset" }));
    }
    let now = ctx.now_ms;
    if nx {
        let db = ctx.db();
        // Keys count as accessed up to the first one that exists.
        if a[1..].chunks(2).any(|p| db.lookup(&p[0], now).is_some()) {
            ctx.out.int(0);
            return Ok(());
        }
    }
    let db = ctx.db();
    for p in a[1..].chunks(2) {
        db.set(&p[0], Value::bytes(&p[1]), false, now);
    }
    ctx.dirty((a.len() / 2) as u64);
    for p in a[1..].chunks(2) {
        ctx.notify(notify::STRING, "set", &p[0]);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn mset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    mset_generic(ctx, a, false)
}

fn msetnx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    mset_generic(ctx, a, true)
}

pub(crate) fn max_len(ctx: &Ctx) -> usize {
    // A string's length also has to fit its 32-bit header.
    (ctx.srv.cfg.int(D::PROTO_MAX_BULK_LEN) as usize).min(crate::db::thin::MAX_LEN)
}

fn append(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let limit = max_len(ctx);
    let now = ctx.now_ms;
    let len = match write_str(ctx, &a[1])? {
        Some(s) => {
            if s.len() + a[2].len() > limit {
                return Err(Error::msg(errors::STRING_TOO_LONG));
            }
            let v = s.make_raw();
            v.extend_from_slice(&a[2]);
            v.len()
        }
        None => {
            ctx.db().add(&a[1], Value::bytes(&a[2]), now);
            a[2].len()
        }
    };
    ctx.dirty(1);
    ctx.notify(notify::STRING, "append", &a[1]);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = read_str(ctx, &a[1])?.map(|s| s.len()).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let now = ctx.now_ms;
    let n = match write_str(ctx, key)? {
        Some(s) => {
            let cur = s.as_int().ok_or(Error::NotInteger)?;
            let n = cur.checked_add(by).ok_or(Error::Overflow)?;
            *s = StrVal::Int(n);
            n
        }
        None => {
            ctx.db().add(key, Value::Str(StrVal::Int(by)), now);
            by
        }
    };
    ctx.dirty(1);
    ctx.notify(notify::STRING, "incrby", key);
    ctx.out.int(n);
    Ok(())
}

fn incr(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &a[1], 1)
}

fn decr(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    incr_generic(ctx, &a[1], -1)
}

fn incrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let by = int_arg(&a[2])?;
    incr_generic(ctx, &a[1], by)
}

fn decrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let by = int_arg(&a[2])?;
    if by == i64::MIN {
        return Err(Error::msg("ERR decrement would overflow"));
    }
    incr_generic(ctx, &a[1], -by)
}

fn incrbyfloat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let cur = write_str(ctx, &a[1])?.map(|s| s.as_bytes().into_owned());
    let exists = cur.is_some();
    let cur = cur.unwrap_or_else(|| b"0".to_vec());
    let new = num::incr_by_float(&cur, &a[2]).map_err(|e| match e {
        num::IncrFloatError::NotFloat => Error::NotFloat,
        num::IncrFloatError::NanOrInf => Error::msg(errors::NAN_OR_INF),
    })?;
    ctx.out.bulk(&new);
    let val = Value::Str(StrVal::text(new));
    let db = ctx.db();
    if exists {
        db.set(&a[1], val, true, now);
    } else {
        db.add(&a[1], val, now);
    }
    ctx.dirty(1);
    ctx.notify(notify::STRING, "incrbyfloat", &a[1]);
    Ok(())
}

fn getrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut start = int_arg(&a[2])?;
    let mut end = int_arg(&a[3])?;
    let Some(s) = read_str(ctx, &a[1])? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let v = s.as_bytes().into_owned();
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&v[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let offset = int_arg(&a[2])?;
    if offset < 0 {
        return Err(Error::msg(errors::OFFSET_RANGE));
    }
    let limit = max_len(ctx) as i64;
    let val = &a[3];
    let now = ctx.now_ms;
    let too_long = || Error::msg(errors::STRING_TOO_LONG);
    let len = match write_str(ctx, &a[1])? {
        Some(s) => {
            if val.is_empty() {
                s.len()
            } else {
                if offset.saturating_add(val.len() as i64) > limit {
                    return Err(too_long());
                }
                let v = s.make_raw();
                let end = offset as usize + val.len();
                v.zero_extend(end);
                v.as_mut_slice()[offset as usize..end].copy_from_slice(val);
                v.len()
            }
        }
        None => {
            if val.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            if offset.saturating_add(val.len() as i64) > limit {
                return Err(too_long());
            }
            let mut v = crate::db::thin::ThinBuf::with_capacity(offset as usize + val.len());
            v.zero_extend(offset as usize);
            v.extend_from_slice(val);
            let n = v.len();
            ctx.db().add(&a[1], Value::Str(StrVal::Raw(v)), now);
            n
        }
    };
    if !val.is_empty() {
        ctx.dirty(1);
        ctx.notify(notify::STRING, "setrange", &a[1]);
    }
    ctx.out.int(len as i64);
    Ok(())
}

fn lcs(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (mut want_len, mut idx, mut withlen) = (false, false, false);
    let mut minlen: i64 = 0;
    let mut j = 3;
    while j < a.len() {
        if is(&a[j], "len") {
            want_len = true;
        } else if is(&a[j], "idx") {
            idx = true;
        } else if is(&a[j], "withmatchlen") {
            withlen = true;
        } else if is(&a[j], "minmatchlen") && j + 1 < a.len() {
            minlen = int_arg(&a[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    let sa = read_str(ctx, &a[1])
        .map_err(|_| Error::msg("ERR The specified keys must contain string values"))?;
    let sa = sa.map(|s| s.as_bytes().into_owned()).unwrap_or_default();
    let sb = read_str(ctx, &a[2])
        .map_err(|_| Error::msg("ERR The specified keys must contain string values"))?;
    let sb = sb.map(|s| s.as_bytes().into_owned()).unwrap_or_default();
    if want_len && idx {
        return Err(Error::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (n, m) = (sa.len(), sb.len());
    if (n as u64 + 1) * (m as u64 + 1) * 4 > max_len(ctx) as u64 {
        return Err(Error::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    // table[i][j] = LCS length of sa[..i] and sb[..j].
    let w = m + 1;
    let mut t = vec![0u32; (n + 1) * w];
    for i in 1..=n {
        for jj in 1..=m {
            t[i * w + jj] = if sa[i - 1] == sb[jj - 1] {
                t[(i - 1) * w + jj - 1] + 1
            } else {
                t[(i - 1) * w + jj].max(t[i * w + jj - 1])
            };
        }
    }
    let total = t[n * w + m] as usize;
    if want_len {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the common string and the runs of
    // consecutive matches (reported last to first, as Redis does).
    let mut common = vec![0u8; total];
    let mut k = total;
    let mut runs: Vec<((usize, usize), (usize, usize))> = Vec::new();
    let mut cur: Option<((usize, usize), (usize, usize))> = None;
    let (mut i, mut jj) = (n, m);
    while i > 0 && jj > 0 {
        if sa[i - 1] == sb[jj - 1] {
            k -= 1;
            common[k] = sa[i - 1];
            let (ai, bj) = (i - 1, jj - 1);
            cur = match cur {
                Some(((s, e), (bs, be))) if s == ai + 1 && bs == bj + 1 => {
                    Some(((ai, e), (bj, be)))
                }
                Some(r) => {
                    runs.push(r);
                    Some(((ai, ai), (bj, bj)))
                }
                None => Some(((ai, ai), (bj, bj))),
            };
            i -= 1;
            jj -= 1;
        } else {
            if let Some(r) = cur.take() {
                runs.push(r);
            }
            if t[(i - 1) * w + jj] > t[i * w + jj - 1] {
                i -= 1;
            } else {
                jj -= 1;
            }
        }
    }
    if let Some(r) = cur {
        runs.push(r);
    }
    if !idx {
        ctx.out.bulk(&common);
        return Ok(());
    }
    let runs: Vec<_> = runs
        .into_iter()
        .filter(|((s, e), _)| (e - s + 1) as i64 >= minlen)
        .collect();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(runs.len());
    for ((s, e), (bs, be)) in runs {
        out.array(if withlen { 3 } else { 2 });
        out.array(2);
        out.int(s as i64);
        out.int(e as i64);
        out.array(2);
        out.int(bs as i64);
        out.int(be as i64);
        if withlen {
            out.int((e - s + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(total as i64);
    Ok(())
}
