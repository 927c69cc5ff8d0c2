//! Set commands. Values live in `db::set::Set` ("intset", "listpack" or
//! "hashtable"; see there for the conversion rules).

use bytes::Bytes;
use rand::Rng;

use super::generic::parse_cursor;
use super::hashes::count_arg;
use super::{cmd, int_arg, is, Command, Keys, C_SET, DENYOOM, FAST, KEY1, MOVABLE_KEYS, NO_KEYS, READONLY, WRITE};
use crate::config::D;
use crate::db::set::{Elem, Set, SetLimits};
use crate::db::{Db, Value};
use crate::errors::{CmdResult, Error};
use crate::resp::Out;
use crate::server::notify;
use crate::server::Ctx;
use crate::util::glob::glob_match;

const G: &str = "set";
const ALL_KEYS: Keys = Keys { first: 1, last: -1, step: 1 };
const STORE_KEYS: Keys = Keys { first: 1, last: -1, step: 1 };

pub static COMMANDS: &[Command] = &[
    cmd("sadd", -3, WRITE | DENYOOM | FAST, KEY1, C_SET, sadd, G, "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    cmd("srem", -3, WRITE | FAST, KEY1, C_SET, srem, G, "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    cmd("scard", 2, READONLY | FAST, KEY1, C_SET, scard, G, "1.0.0", "Returns the number of members in a set."),
    cmd("sismember", 3, READONLY | FAST, KEY1, C_SET, sismember, G, "1.0.0", "Determines whether a member belongs to a set."),
    cmd("smismember", -3, READONLY | FAST, KEY1, C_SET, smismember, G, "6.2.0", "Determines whether multiple members belong to a set."),
    cmd("smembers", 2, READONLY, KEY1, C_SET, smembers, G, "1.0.0", "Returns all members of a set."),
    cmd("srandmember", -2, READONLY, KEY1, C_SET, srandmember, G, "1.0.0", "Get one or multiple random members from a set"),
    cmd("spop", -2, WRITE | FAST, KEY1, C_SET, spop, G, "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    cmd("smove", 4, WRITE | FAST, Keys { first: 1, last: 2, step: 1 }, C_SET, smove, G, "1.0.0", "Moves a member from one set to another."),
    cmd("sinter", -2, READONLY, ALL_KEYS, C_SET, sinter, G, "1.0.0", "Returns the intersect of multiple sets."),
    cmd("sintercard", -3, READONLY | MOVABLE_KEYS, NO_KEYS, C_SET, sintercard, G, "7.0.0", "Returns the number of members of the intersect of multiple sets.").find_keys(super::KeyFind::Numkeys { at: 1 }),
    cmd("sinterstore", -3, WRITE | DENYOOM, STORE_KEYS, C_SET, sinterstore, G, "1.0.0", "Stores the intersect of multiple sets in a key."),
    cmd("sunion", -2, READONLY, ALL_KEYS, C_SET, sunion, G, "1.0.0", "Returns the union of multiple sets."),
    cmd("sunionstore", -3, WRITE | DENYOOM, STORE_KEYS, C_SET, sunionstore, G, "1.0.0", "Stores the union of multiple sets in a key."),
    cmd("sdiff", -2, READONLY, ALL_KEYS, C_SET, sdiff, G, "1.0.0", "Returns the difference of multiple sets."),
    cmd("sdiffstore", -3, WRITE | DENYOOM, STORE_KEYS, C_SET, sdiffstore, G, "1.0.0", "Stores the difference of multiple sets in a key."),
    cmd("sscan", -3, READONLY, KEY1, C_SET, sscan, G, "2.6.0", "Iterates over members of a set."),
];

pub fn limits(ctx: &Ctx) -> SetLimits {
    let c = &ctx.srv.cfg;
    SetLimits {
        intset: c.int(D::SET_MAX_INTSET_ENTRIES).max(0) as usize,
        lp_entries: c.int(D::SET_MAX_LISTPACK_ENTRIES).max(0) as usize,
        lp_value: c.int(D::SET_MAX_LISTPACK_VALUE).max(0) as usize,
    }
}

/// The set at `key`; `read` counts a keyspace hit or miss (read commands).
fn get_set<'a>(ctx: &'a mut Ctx, key: &[u8], read: bool) -> Result<Option<&'a mut Set>, Error> {
    super::typed(ctx.lookup_with_out(key, read).0, Value::as_set_mut)
}

fn elem(out: &mut Out, e: &Elem) {
    match *e {
        Elem::Int(i) => out.bulk_int(i),
        Elem::Str(s) => out.bulk(s),
    }
}

fn sadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lim = limits(ctx);
    let now = ctx.now_ms;
    // One keyspace lookup when the set exists.
    let s = match get_set(ctx, &a[1], false)? {
        Some(s) => s,
        None => {
            let s = Set::create(&a[2], a.len() - 2, lim);
            let db = ctx.db();
            db.add(&a[1], Value::Set(Box::new(s)), now);
            match db.entry_mut(&a[1]).map(|e| &mut e.val) {
                Some(Value::Set(s)) => s,
                _ => return Err(Error::WrongType),
            }
        }
    };
    let mut n = 0;
    for m in &a[2..] {
        if s.add(m, lim) {
            n += 1;
        }
    }
    ctx.dirty(n);
    if n > 0 {
        ctx.notify(notify::SET, "sadd", &a[1]);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(s) = get_set(ctx, &a[1], false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for m in &a[2..] {
        if s.remove(m) {
            n += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        ctx.notify(notify::SET, "srem", &a[1]);
        ctx.remove_if_empty(&a[1]);
        ctx.dirty(n);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn scard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = get_set(ctx, &a[1], true)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let b = get_set(ctx, &a[1], true)?.is_some_and(|s| s.contains(&a[2]));
    ctx.out.int(b as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let v: Vec<bool> = match get_set(ctx, &a[1], true)? {
        Some(s) => a[2..].iter().map(|m| s.contains(m)).collect(),
        None => vec![false; a.len() - 2],
    };
    ctx.out.array(v.len());
    for b in v {
        ctx.out.int(b as i64);
    }
    Ok(())
}

fn reply_set(out: &mut Out, s: &Set) {
    out.set(s.len());
    for e in s.iter() {
        elem(out, &e);
    }
}

fn smembers(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let hit = ctx.db().lookup(&a[1], now).is_some();
    ctx.hit(&a[1], hit);
    let i = ctx.client.db.get();
    let (db, out) = (&mut ctx.srv.ks.dbs[i], &mut *ctx.out);
    match db.dict().get(&a[1]).map(|e| &e.val) {
        None => out.set(0),
        Some(Value::Set(s)) => reply_set(out, s),
        Some(_) => return Err(Error::WrongType),
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = if a.len() == 3 { Some(count_arg(&a[2])?) } else { None };
    let now = ctx.now_ms;
    let hit = ctx.db().lookup(&a[1], now).is_some();
    ctx.hit(&a[1], hit);
    let i = ctx.client.db.get();
    let srv = &mut *ctx.srv;
    let (db, rng, out) = (&srv.ks.dbs[i], &mut srv.ks.rng, &mut *ctx.out);
    let s = match db.dict().get(&a[1]).map(|e| &e.val) {
        None => {
            match count {
                None => out.null(),
                Some(_) => out.array(0),
            }
            return Ok(());
        }
        Some(Value::Set(s)) => s,
        Some(_) => return Err(Error::WrongType),
    };
    let Some(count) = count else {
        match s.random(rng) {
            Some(e) => elem(out, &e),
            None => out.null(),
        }
        return Ok(());
    };
    let size = s.len();
    if count == 0 {
        out.array(0);
    } else if count < 0 {
        let n = count.unsigned_abs() as usize;
        let small = (!matches!(&**s, Set::Ht(_))).then(|| s.members());
        out.array(n);
        for _ in 0..n {
            let e = match &small {
                Some(m) => m[rng.gen_range(0..m.len())],
                None => s.random(rng).unwrap_or(Elem::Str(b"")),
            };
            elem(out, &e);
        }
    } else if count as usize >= size {
        out.array(size);
        for e in s.iter() {
            elem(out, &e);
        }
    } else {
        let picked = pick_distinct(s, count as usize, rng);
        out.array(picked.len());
        for e in &picked {
            elem(out, e);
        }
    }
    Ok(())
}

/// `count` (< size) distinct random members.
fn pick_distinct<'a, R: Rng>(s: &'a Set, count: usize, rng: &mut R) -> Vec<Elem<'a>> {
    let size = s.len();
    if !matches!(s, Set::Ht(_)) || count * 3 > size {
        let mut all = s.members();
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
            if let Some(e @ Elem::Str(k)) = s.random(rng) {
                if seen.insert(k) {
                    v.push(e);
                }
            }
        }
        v
    }
}

fn spop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = if a.len() == 3 {
        match int_arg(&a[2]) {
            Ok(c) if c >= 0 => Some(c as u64),
            _ => return Err(Error::msg("ERR value is out of range, must be positive")),
        }
    } else {
        None
    };
    let propagating = ctx.srv.prop.enabled;
    let now = ctx.now_ms;
    let i = ctx.client.db.get();
    let srv = &mut *ctx.srv;
    let (db, rng, out) = (&mut srv.ks.dbs[i], &mut srv.ks.rng, &mut *ctx.out);
    let Some(s) = super::typed(db.lookup(&a[1], now), Value::as_set_mut)? else {
        match count {
            None => out.null(),
            Some(_) => out.set(0),
        }
        return Ok(());
    };
    let size = s.len();
    // What was popped at random, for propagation as SREM (or DEL).
    let mut removed: Vec<Bytes> = Vec::new();
    let mut whole = false;
    let popped: u64 = match count {
        None => {
            match s.pop_random(rng) {
                Some(m) => {
                    out.bulk(&m);
                    if propagating {
                        removed.push(Bytes::from(m));
                    }
                }
                None => out.null(),
            }
            1
        }
        Some(0) => {
            out.set(0);
            0
        }
        Some(c) if c as usize >= size => {
            reply_set(out, s);
            whole = true;
            size as u64
        }
        Some(c) => {
            let c = c as usize;
            let picked: Vec<Vec<u8>> = if matches!(s, Set::Ht(_)) {
                (0..c).filter_map(|_| s.pop_random(rng)).collect()
            } else {
                let v: Vec<Vec<u8>> = pick_distinct(s, c, rng).iter().map(|e| e.to_vec()).collect();
                for m in &v {
                    s.remove(m);
                }
                v
            };
            out.set(picked.len());
            for m in &picked {
                out.bulk(m);
            }
            removed.extend(picked.into_iter().map(Bytes::from));
            c as u64
        }
    };
    let emptied = whole || s.is_empty();
    if emptied {
        db.remove(&a[1]);
    }
    if whole {
        ctx.propagate(vec![Bytes::from_static(b"DEL"), a[1].clone()]);
    } else if !removed.is_empty() {
        let mut argv = vec![Bytes::from_static(b"SREM"), a[1].clone()];
        argv.extend(removed);
        ctx.propagate(argv);
    }
    if popped > 0 {
        ctx.notify(notify::SET, "spop", &a[1]);
        if emptied {
            ctx.notify(notify::GENERIC, "del", &a[1]);
        }
    }
    ctx.dirty(popped);
    Ok(())
}

fn smove(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&a[1], &a[2], &a[3]);
    let now = ctx.now_ms;
    let lim = limits(ctx);
    let db = ctx.db();
    let src_kind = db.lookup(src, now).map(|e| matches!(e.val, Value::Set(_)));
    let dst_kind = db.lookup(dst, now).map(|e| matches!(e.val, Value::Set(_)));
    let Some(src_ok) = src_kind else {
        ctx.out.int(0);
        return Ok(());
    };
    if !src_ok || dst_kind == Some(false) {
        return Err(Error::WrongType);
    }
    if src == dst {
        let b = get_set(ctx, src, false)?.is_some_and(|s| s.contains(m));
        ctx.out.int(b as i64);
        return Ok(());
    }
    let removed = get_set(ctx, src, false)?.is_some_and(|s| s.remove(m));
    if !removed {
        ctx.out.int(0);
        return Ok(());
    }
    ctx.notify(notify::SET, "srem", src);
    ctx.remove_if_empty(src);
    let db = ctx.db();
    if dst_kind.is_none() {
        db.add(dst, Value::Set(Box::new(Set::create(m, 1, lim))), now);
    }
    let added = match db.entry_mut(dst).map(|e| &mut e.val) {
        Some(Value::Set(s)) => s.add(m, lim),
        _ => false,
    };
    if added {
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.dirty(1);
    ctx.out.int(1);
    Ok(())
}

/// Expires and touches `keys` (counting hits and misses for reads) so
/// that `gather` can then borrow the database immutably.
fn prepare(ctx: &mut Ctx, keys: &[Bytes], read: bool) {
    let now = ctx.now_ms;
    for k in keys {
        let found = ctx.db().lookup(k, now).is_some();
        if read {
            ctx.hit(k, found);
        }
    }
}

/// All `keys` as sets: WRONGTYPE if any is another type; missing keys are
/// None.
fn gather<'a>(db: &'a Db, keys: &[Bytes]) -> Result<Vec<Option<&'a Set>>, Error> {
    let mut v = Vec::with_capacity(keys.len());
    for k in keys {
        match db.dict().get(k).map(|e| &e.val) {
            None => v.push(None),
            Some(Value::Set(s)) => v.push(Some(&**s)),
            Some(_) => return Err(Error::WrongType),
        }
    }
    Ok(v)
}

/// Members of the intersection, smallest set first; `limit` 0 = all.
fn intersect<'a>(sets: &[Option<&'a Set>], limit: usize) -> Vec<Elem<'a>> {
    if sets.iter().any(|s| s.is_none()) {
        return Vec::new();
    }
    let mut sets: Vec<&Set> = sets.iter().flatten().copied().collect();
    sets.sort_by_key(|s| s.len());
    let mut res = Vec::new();
    for e in sets[0].iter() {
        if sets[1..].iter().all(|o| o.contains_elem(&e)) {
            res.push(e);
            if limit != 0 && res.len() >= limit {
                break;
            }
        }
    }
    res
}

fn sinter(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    prepare(ctx, &a[1..], true);
    let i = ctx.client.db.get();
    let (db, out) = (&ctx.srv.ks.dbs[i], &mut *ctx.out);
    let sets = gather(db, &a[1..])?;
    let res = intersect(&sets, 0);
    out.set(res.len());
    for e in &res {
        elem(out, e);
    }
    Ok(())
}

fn sintercard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let numkeys = match int_arg(&a[1]) {
        Ok(n) if n > 0 => n as usize,
        _ => return Err(Error::msg("ERR numkeys should be greater than 0")),
    };
    if numkeys > a.len() - 2 {
        return Err(Error::msg("ERR Number of keys can't be greater than number of args"));
    }
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while j < a.len() {
        if is(&a[j], "limit") && j + 1 < a.len() {
            limit = match int_arg(&a[j + 1]) {
                Ok(l) if l >= 0 => l as usize,
                _ => return Err(Error::msg("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    prepare(ctx, &a[2..2 + numkeys], true);
    let i = ctx.client.db.get();
    let sets = gather(&ctx.srv.ks.dbs[i], &a[2..2 + numkeys])?;
    let n = intersect(&sets, limit).len();
    ctx.out.int(n as i64);
    Ok(())
}

/// Stores `res` at `dst` (deleting it when empty) and replies its size.
fn store(ctx: &mut Ctx, dst: &[u8], res: Set, event: &str) {
    let now = ctx.now_ms;
    let n = res.len();
    let db = ctx.db();
    if n == 0 {
        if db.remove(dst).is_some() {
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "del", dst);
        }
    } else {
        db.set(dst, Value::Set(Box::new(res)), false, now);
        ctx.dirty(1);
        ctx.notify(notify::SET, event, dst);
    }
    ctx.out.int(n as i64);
}

fn sinterstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lim = limits(ctx);
    prepare(ctx, &a[2..], false);
    let i = ctx.client.db.get();
    let sets = gather(&ctx.srv.ks.dbs[i], &a[2..])?;
    let set = from_elems(&intersect(&sets, 0), lim);
    store(ctx, &a[1], set, "sinterstore");
    Ok(())
}

fn from_elems(v: &[Elem], lim: SetLimits) -> Set {
    let mut s = Set::default();
    for e in v {
        s.add(&e.bytes(), lim);
    }
    s
}

/// SUNION (diff false) or SDIFF (diff true) as a new set.
fn union_diff(sets: &[Option<&Set>], diff: bool, lim: SetLimits) -> Set {
    let mut res = Set::default();
    if diff {
        let Some(Some(first)) = sets.first() else {
            return res;
        };
        let others: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
        for e in first.iter() {
            if !others.iter().any(|o| o.contains_elem(&e)) {
                res.add(&e.bytes(), lim);
            }
        }
    } else {
        for s in sets.iter().flatten() {
            for e in s.iter() {
                res.add(&e.bytes(), lim);
            }
        }
    }
    res
}

fn union_diff_cmd(ctx: &mut Ctx, a: &[Bytes], diff: bool, store_to: Option<&[u8]>) -> CmdResult {
    let lim = limits(ctx);
    let first = if store_to.is_some() { 2 } else { 1 };
    prepare(ctx, &a[first..], store_to.is_none());
    let i = ctx.client.db.get();
    let sets = gather(&ctx.srv.ks.dbs[i], &a[first..])?;
    let res = union_diff(&sets, diff, lim);
    match store_to {
        Some(dst) => store(ctx, dst, res, if diff { "sdiffstore" } else { "sunionstore" }),
        None => reply_set(ctx.out, &res),
    }
    Ok(())
}

fn sunion(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, a, false, None)
}

fn sunionstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, a, false, Some(&a[1]))
}

fn sdiff(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, a, true, None)
}

fn sdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    union_diff_cmd(ctx, a, true, Some(&a[1]))
}

fn sscan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    let Some(s) = get_set(ctx, &a[1], true)? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let s: &Set = s;
    let (count, pattern, _) = super::generic::scan_options(a, 3, false)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let next = s.scan(cursor, count, |e| {
        let b = e.bytes();
        if pattern.is_none_or(|p| glob_match(p, &b, false)) {
            found.push(b.into_owned());
        }
    });
    let out = &mut *ctx.out;
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len());
    for m in &found {
        out.bulk(m);
    }
    Ok(())
}
