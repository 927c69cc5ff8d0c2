//! Keyspace commands that work on keys of any type: existence, deletion,
//! renaming, iteration, expiry, and moving keys between databases.

use bytes::Bytes;

use super::{
    cmd, container, int_arg, is, Command, Keys, C_KEYSPACE, DENYOOM, FAST, KEY1, LOADING, NO_KEYS,
    READONLY, STALE, WRITE,
};
use crate::config::D;
use crate::db::Db;
use crate::errors::{self, CmdResult, Error};
use crate::server::notify;
use crate::server::Ctx;
use crate::util::glob::glob_match;

const G: &str = "generic";
const ALL_KEYS: Keys = Keys {
    first: 1,
    last: -1,
    step: 1,
};
const TWO_KEYS: Keys = Keys {
    first: 1,
    last: 2,
    step: 1,
};

pub static COMMANDS: &[Command] = &[
    cmd("del", -2, WRITE, ALL_KEYS, C_KEYSPACE, del, G, "1.0.0", "Deletes one or more keys."),
    cmd("unlink", -2, WRITE | FAST, ALL_KEYS, C_KEYSPACE, unlink, G, "4.0.0", "Asynchronously deletes one or more keys."),
    cmd("exists", -2, READONLY | FAST, ALL_KEYS, C_KEYSPACE, exists, G, "1.0.0", "Determines whether one or more keys exist."),
    cmd("touch", -2, READONLY | FAST, ALL_KEYS, C_KEYSPACE, touch, G, "3.2.1", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    cmd("type", 2, READONLY | FAST, KEY1, C_KEYSPACE, type_, G, "1.0.0", "Determines the type of value stored at a key."),
    cmd("rename", 3, WRITE, TWO_KEYS, C_KEYSPACE, rename, G, "1.0.0", "Renames a key and overwrites the destination."),
    cmd("renamenx", 3, WRITE | FAST, TWO_KEYS, C_KEYSPACE, renamenx, G, "1.0.0", "Renames a key only when the target key name doesn't exist."),
    cmd("keys", 2, READONLY, NO_KEYS, C_KEYSPACE | super::C_DANGEROUS, keys, G, "1.0.0", "Returns all key names that match a pattern."),
    cmd("scan", -2, READONLY, NO_KEYS, C_KEYSPACE, scan, G, "2.8.0", "Iterates over the key names in the database."),
    cmd("randomkey", 1, READONLY, NO_KEYS, C_KEYSPACE, randomkey, G, "1.0.0", "Returns a random key name from the database."),
    cmd("dbsize", 1, READONLY | FAST, NO_KEYS, C_KEYSPACE, dbsize, "server", "1.0.0", "Returns the number of keys in the database."),
    cmd("expire", -3, WRITE | FAST, KEY1, C_KEYSPACE, expire, G, "1.0.0", "Sets the expiration time of a key in seconds."),
    cmd("pexpire", -3, WRITE | FAST, KEY1, C_KEYSPACE, pexpire, G, "2.6.0", "Sets the expiration time of a key in milliseconds."),
    cmd("expireat", -3, WRITE | FAST, KEY1, C_KEYSPACE, expireat, G, "1.2.0", "Sets the expiration time of a key to a Unix timestamp."),
    cmd("pexpireat", -3, WRITE | FAST, KEY1, C_KEYSPACE, pexpireat, G, "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    cmd("ttl", 2, READONLY | FAST, KEY1, C_KEYSPACE, ttl, G, "1.0.0", "Returns the expiration time in seconds of a key."),
    cmd("pttl", 2, READONLY | FAST, KEY1, C_KEYSPACE, pttl, G, "2.6.0", "Returns the expiration time in milliseconds of a key."),
    cmd("expiretime", 2, READONLY | FAST, KEY1, C_KEYSPACE, expiretime, G, "7.0.0", "Returns the expiration time of a key as a Unix timestamp."),
    cmd("pexpiretime", 2, READONLY | FAST, KEY1, C_KEYSPACE, pexpiretime, G, "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    cmd("persist", 2, WRITE | FAST, KEY1, C_KEYSPACE, persist, G, "2.2.0", "Removes the expiration time of a key."),
    cmd("move", 3, WRITE | FAST, KEY1, C_KEYSPACE, move_, G, "1.0.0", "Moves a key to another database."),
    cmd("copy", -3, WRITE | DENYOOM, TWO_KEYS, C_KEYSPACE, copy, G, "6.2.0", "Copies the value of a key to a new key."),
    cmd("swapdb", 3, WRITE | FAST, NO_KEYS, C_KEYSPACE | super::C_DANGEROUS, swapdb, "server", "4.0.0", "Swaps two Redis databases."),
    cmd("flushdb", -1, WRITE, NO_KEYS, C_KEYSPACE | super::C_DANGEROUS, flushdb, "server", "1.0.0", "Remove all keys from the current database."),
    cmd("flushall", -1, WRITE, NO_KEYS, C_KEYSPACE | super::C_DANGEROUS, flushall, "server", "1.0.0", "Removes all keys from all databases."),
    container("object", C_KEYSPACE, G, "2.2.3", "A container for object introspection commands.", OBJECT_SUBS),
];

static OBJECT_SUBS: &[Command] = &[
    cmd(
        "object|encoding",
        3,
        READONLY,
        Keys {
            first: 2,
            last: 2,
            step: 1,
        },
        C_KEYSPACE,
        object_encoding,
        G,
        "2.2.3",
        "Returns the internal encoding of a Redis object.",
    ),
    cmd(
        "object|idletime",
        3,
        READONLY,
        Keys {
            first: 2,
            last: 2,
            step: 1,
        },
        C_KEYSPACE,
        object_idletime,
        G,
        "2.2.3",
        "Returns the time since the last access to a Redis object.",
    ),
    cmd(
        "object|freq",
        3,
        READONLY,
        Keys {
            first: 2,
            last: 2,
            step: 1,
        },
        C_KEYSPACE,
        object_freq,
        G,
        "4.0.0",
        "Returns the logarithmic access frequency counter of a Redis object.",
    ),
    cmd(
        "object|refcount",
        3,
        READONLY,
        Keys {
            first: 2,
            last: 2,
            step: 1,
        },
        C_KEYSPACE,
        object_refcount,
        G,
        "2.2.3",
        "Returns the reference count of a value of a key.",
    ),
    cmd(
        "object|help",
        2,
        LOADING | STALE,
        NO_KEYS,
        C_KEYSPACE,
        object_help,
        G,
        "6.2.0",
        "Returns helpful text about the different subcommands.",
    ),
];

fn del(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lazy = ctx.srv.cfg.bool(D::LAZYFREE_LAZY_USER_DEL);
    del_generic(ctx, a, lazy)
}

/// UNLINK: big values are freed on the lazyfree thread.
fn unlink(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    del_generic(ctx, a, true)
}

fn del_generic(ctx: &mut Ctx, a: &[Bytes], lazy: bool) -> CmdResult {
    let now = ctx.now_ms;
    let notifying = ctx.srv.notify_flags & notify::GENERIC != 0;
    let db = ctx.db();
    let mut n = 0;
    let mut removed = Vec::new();
    for k in &a[1..] {
        db.expire_if_needed(k, now);
        if let Some(e) = db.remove(k) {
            n += 1;
            crate::db::free_entry(e, lazy);
            if notifying {
                removed.push(k);
            }
        }
    }
    ctx.dirty(n);
    for k in removed {
        ctx.notify(notify::GENERIC, "del", k);
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// EXISTS does not count as an access (OBJECT IDLETIME goes on); TOUCH is
/// the same count, as an access.
fn exists(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let n = a[1..].iter().filter(|k| db.peek(k, now).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let n = a[1..]
        .iter()
        .filter(|k| db.lookup(k, now).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let t = ctx
        .db()
        .peek(&a[1], now)
        .map(|e| e.val.type_name())
        .unwrap_or("none");
    ctx.out.simple(t);
    Ok(())
}

/// RENAME / RENAMENX: moves the value and its TTL. Returns false when NX
/// and the destination exists. Both keys count as accessed.
fn rename_generic(ctx: &mut Ctx, a: &[Bytes], nx: bool) -> Result<bool, Error> {
    let now = ctx.now_ms;
    let db = ctx.db();
    if db.lookup(&a[1], now).is_none() {
        return Err(Error::NoSuchKey);
    }
    if a[1] == a[2] {
        return Ok(!nx);
    }
    if nx && db.lookup(&a[2], now).is_some() {
        return Ok(false);
    }
    let ttl = db.expire_at(&a[1]);
    let Some(e) = db.remove(&a[1]) else {
        return Err(Error::NoSuchKey);
    };
    if let Some(old) = db.remove(&a[2]) {
        drop(old);
    }
    db.add(&a[2], e.val, now);
    if let Some(t) = ttl {
        db.set_expire(&a[2], t);
    }
    ctx.dirty(1);
    ctx.notify(notify::GENERIC, "rename_from", &a[1]);
    ctx.notify(notify::GENERIC, "rename_to", &a[2]);
    Ok(true)
}

fn rename(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    rename_generic(ctx, a, false)?;
    ctx.out.ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let done = rename_generic(ctx, a, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

fn keys(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let pat = &a[1];
    let all = &pat[..] == b"*";
    let db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    for (k, _) in db.dict().iter() {
        if (all || glob_match(pat, k, false)) && db.expire_at(k).is_none_or(|t| t > now) {
            found.push(k.to_vec());
        }
    }
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// Parses a SCAN-family cursor as Redis does (C `strtoul`, but no leading
/// space): an optional sign then decimal digits, the empty string is 0, a
/// minus sign negates modulo 2^64, values past u64 are errors.
pub fn parse_cursor(b: &[u8]) -> Result<u64, Error> {
    let bad = || Error::msg("ERR invalid cursor");
    let (neg, digits) = match b.first() {
        None => return Ok(0),
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        Some(_) => (false, b),
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((c - b'0') as u64))
            .ok_or_else(bad)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses the options of SCAN and its family (COUNT, MATCH, and TYPE when
/// `allow_type`) from `a[start..]`: (count, pattern, type). A MATCH of
/// plain `*` is dropped since it matches everything.
pub fn scan_options(
    a: &[Bytes],
    start: usize,
    allow_type: bool,
) -> Result<(usize, Option<&[u8]>, Option<&[u8]>), Error> {
    let mut count = 10i64;
    let mut pattern: Option<&[u8]> = None;
    let mut typ: Option<&[u8]> = None;
    let mut j = start;
    while j < a.len() {
        if j + 1 >= a.len() {
            return Err(Error::Syntax);
        }
        if is(&a[j], "count") {
            count = int_arg(&a[j + 1])?;
            if count < 1 {
                return Err(Error::Syntax);
            }
        } else if is(&a[j], "match") {
            pattern = Some(&a[j + 1]);
        } else if allow_type && is(&a[j], "type") {
            typ = Some(&a[j + 1]);
        } else {
            return Err(Error::Syntax);
        }
        j += 2;
    }
    Ok((count as usize, pattern.filter(|p| *p != b"*"), typ))
}

fn scan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[1])?;
    let (count, pattern, typ) = scan_options(a, 2, true)?;
    let now = ctx.now_ms;
    let db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = db.dict().scan(cursor, count, |k, e| {
        if let Some(t) = typ {
            if !t.eq_ignore_ascii_case(e.val.type_name().as_bytes()) {
                return;
            }
        }
        if let Some(p) = pattern {
            if !glob_match(p, k, false) {
                return;
            }
        }
        found.push(k.to_vec());
    });
    found.retain(|k| !db.expire_if_needed(k, now));
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len());
    for k in &found {
        out.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let i = ctx.db_index();
    let ks = &mut ctx.srv.ks;
    let db = &mut ks.dbs[i];
    // Keys that turn out to be expired are deleted and another is drawn;
    // bounded so a database of only expired keys cannot loop forever.
    for _ in 0..100 {
        let Some((k, _)) = db.dict().random(&mut ks.rng) else {
            break;
        };
        let k = k.to_vec();
        if !db.expire_if_needed(&k, now) {
            ctx.out.bulk(&k);
            return Ok(());
        }
    }
    ctx.out.null();
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

/// EXPIRE family. `unit_ms` converts the argument to ms; `absolute` means
/// it is a unix time rather than a delay.
fn expire_generic(
    ctx: &mut Ctx,
    a: &[Bytes],
    unit_ms: i64,
    absolute: bool,
    name: &str,
) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in &a[3..] {
        if is(o, "nx") {
            nx = true;
        } else if is(o, "xx") {
            xx = true;
        } else if is(o, "gt") {
            gt = true;
        } else if is(o, "lt") {
            lt = true;
        } else {
            return Err(errors::quoting("Unsupported option ", o, ""));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Error::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Error::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let mut when = int_arg(&a[2])?;
    if unit_ms == 1000 {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Err(errors::invalid_expire(name));
        }
        when *= 1000;
    }
    let base = if absolute { 0 } else { ctx.now_ms };
    if when > i64::MAX - base {
        return Err(errors::invalid_expire(name));
    }
    when += base;
    let now = ctx.now_ms;
    let key = &a[1];
    let db = ctx.db();
    if db.lookup(key, now).is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let cur = db.expire_at(key);
    let refuse = (nx && cur.is_some())
        || (xx && cur.is_none())
        || (gt && cur.is_none_or(|c| when <= c))
        || (lt && cur.is_some_and(|c| when >= c));
    if refuse {
        ctx.out.int(0);
        return Ok(());
    }
    let event = if when <= now {
        if let Some(e) = db.remove(key) {
            drop(e);
        }
        "del"
    } else {
        db.set_expire(key, when);
        "expire"
    };
    ctx.dirty(1);
    ctx.notify(notify::GENERIC, event, key);
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1000, false, "expire")
}

fn pexpire(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1, false, "pexpire")
}

fn expireat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1000, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    expire_generic(ctx, a, 1, true, "pexpireat")
}

/// TTL family: -2 no key, -1 no expiry. Not an access of the key.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    if db.peek(key, now).is_none() {
        ctx.out.int(-2);
        return Ok(());
    }
    let reply = match db.expire_at(key) {
        None => -1,
        Some(at) => {
            let v = if absolute { at } else { (at - now).max(0) };
            if ms {
                v
            } else {
                // Rounded to the nearest second; v >= 0, and v + 500 could
                // overflow (PXAT 9223372036854775807).
                v / 1000 + (v % 1000 >= 500) as i64
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &a[1], false, false)
}

fn pttl(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &a[1], true, false)
}

fn expiretime(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &a[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &a[1], true, true)
}

fn persist(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let db = ctx.db();
    let done = db.lookup(&a[1], now).is_some() && db.persist(&a[1]);
    if done {
        ctx.dirty(1);
        ctx.notify(notify::GENERIC, "persist", &a[1]);
    }
    ctx.out.int(done as i64);
    Ok(())
}

/// Parses a database index argument against `databases`: an integer
/// that fits a C int, then in range.
pub fn db_arg(ctx: &Ctx, b: &[u8]) -> Result<usize, Error> {
    let i = int_arg(b)?;
    if i32::try_from(i).is_err() {
        return Err(Error::msg(errors::INT32_RANGE));
    }
    if i < 0 || i >= ctx.srv.ks.dbs.len() as i64 {
        return Err(Error::msg(errors::DB_INDEX));
    }
    Ok(i as usize)
}

/// Copies or moves `key` from db `src` to db `dst`; false if the source is
/// missing or the destination exists (and not `replace`).
fn transfer(
    ctx: &mut Ctx,
    src: usize,
    key: &[u8],
    dst: usize,
    dkey: &[u8],
    replace: bool,
    remove: bool,
) -> bool {
    let now = ctx.now_ms;
    let dbs = &mut ctx.srv.ks.dbs;
    let Some(e) = dbs[src].lookup(key, now) else {
        return false;
    };
    let val = if remove { e.val.clone() } else { e.val.copy() };
    let ttl = dbs[src].expire_at(key);
    if dbs[dst].lookup(dkey, now).is_some() {
        if !replace {
            return false;
        }
        dbs[dst].remove(dkey);
    }
    if remove {
        dbs[src].remove(key);
    }
    let d: &mut Db = &mut dbs[dst];
    d.add(dkey, val, now);
    if let Some(t) = ttl {
        d.set_expire(dkey, t);
    }
    ctx.dirty(1);
    if remove {
        ctx.srv.notify(notify::GENERIC, "move_from", key, src);
        ctx.srv.notify(notify::GENERIC, "move_to", dkey, dst);
    } else {
        ctx.srv.notify(notify::GENERIC, "copy_to", dkey, dst);
    }
    true
}

fn move_(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let dst = db_arg(ctx, &a[2])?;
    let src = ctx.db_index();
    if src == dst {
        return Err(Error::msg(
            "ERR source and destination objects are the same",
        ));
    }
    let done = transfer(ctx, src, &a[1], dst, &a[1], false, true);
    ctx.out.int(done as i64);
    Ok(())
}

fn copy(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let src = ctx.db_index();
    let mut dst = src;
    let mut replace = false;
    let mut j = 3;
    while j < a.len() {
        if is(&a[j], "replace") {
            replace = true;
        } else if is(&a[j], "db") && j + 1 < a.len() {
            dst = db_arg(ctx, &a[j + 1])?;
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if src == dst && a[1] == a[2] {
        return Err(Error::msg(
            "ERR source and destination objects are the same",
        ));
    }
    let done = transfer(ctx, src, &a[1], dst, &a[2], replace, false);
    ctx.out.int(done as i64);
    Ok(())
}

fn swapdb(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let index = |b: &[u8], msg: &'static str| {
        crate::util::num::parse_i64(b)
            .filter(|&i| i32::try_from(i).is_ok())
            .ok_or(Error::msg(msg))
    };
    let i = index(&a[1], "ERR invalid first DB index")?;
    let j = index(&a[2], "ERR invalid second DB index")?;
    let n = ctx.srv.ks.dbs.len() as i64;
    if i < 0 || i >= n || j < 0 || j >= n {
        return Err(Error::msg(errors::DB_INDEX));
    }
    ctx.srv.ks.dbs.swap(i as usize, j as usize);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// FLUSHDB/FLUSHALL option: ASYNC frees in the background.
fn flush_mode(ctx: &Ctx, a: &[Bytes]) -> Result<bool, Error> {
    match a.len() {
        1 => Ok(ctx.srv.cfg.bool(D::LAZYFREE_LAZY_USER_FLUSH)),
        2 if is(&a[1], "async") => Ok(true),
        2 if is(&a[1], "sync") => Ok(false),
        _ => Err(Error::Syntax),
    }
}

fn flush_db(db: &mut Db, lazy: bool) -> u64 {
    let n = db.len() as u64;
    // A running snapshot keeps the old contents (it still has to save them).
    if let Some(old) = db.take_contents() {
        if lazy && n > 64 {
            std::thread::spawn(move || drop(old));
        }
    }
    n
}

fn flushdb(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(ctx, a)?;
    let n = flush_db(ctx.db(), lazy);
    ctx.dirty(n);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lazy = flush_mode(ctx, a)?;
    let before = ctx.srv.dirty;
    let mut n = 0;
    for db in ctx.srv.ks.dbs.iter_mut() {
        n += flush_db(db, lazy);
    }
    // FLUSHALL always counts as a change, even on an empty dataset.
    ctx.dirty(n + 1);
    if ctx.srv.flushall_reset_rdb() {
        // Saved: no changes left to count (as Redis shows), but FLUSHALL
        // still reaches watchers, the AOF and replicas, which the
        // executor only does when the counter moved.
        ctx.srv.dirty = 0;
        if before == 0 {
            ctx.srv.touch_all_watched(None);
            ctx.srv.invalidate_all_tracked();
            ctx.propagate(a.to_vec());
        }
    }
    ctx.out.ok();
    Ok(())
}

fn object_entry<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Option<&'a crate::db::Entry> {
    let now = ctx.now_ms;
    ctx.db().peek(key, now)
}

fn object_encoding(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match object_entry(ctx, &a[2]).map(|e| e.val.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.srv.cfg.str(D::MAXMEMORY_POLICY).ends_with("lfu")
}

fn object_idletime(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if lfu_policy(ctx) {
        if object_entry(ctx, &a[2]).is_none() {
            ctx.out.null();
            return Ok(());
        }
        return Err(Error::msg("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    let now = crate::db::lru_clock(ctx.now_ms);
    match object_entry(ctx, &a[2]).map(|e| now.saturating_sub(e.lru)) {
        Some(idle) => ctx.out.int(idle as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn object_freq(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let Some(word) = object_entry(ctx, &a[2]).map(|e| e.lru) else {
        ctx.out.null();
        return Ok(());
    };
    if !lfu_policy(ctx) {
        return Err(Error::msg("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    ctx.out.int(crate::db::access::lfu_count(word, now) as i64);
    Ok(())
}

fn object_refcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    // Redis shares the objects of small integers; it reports them with
    // the "shared" refcount.
    let rc = match object_entry(ctx, &a[2]).map(|e| &e.val) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(crate::db::Value::Str(crate::db::StrVal::Int(i))) if (0..10000).contains(i) => {
            i32::MAX as i64
        }
        Some(_) => 1,
    };
    ctx.out.int(rc);
    Ok(())
}

fn object_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
