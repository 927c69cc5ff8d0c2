//! Sorted set commands: ZADD and friends, ranges by rank / score / lex,
//! removals, pops (and their blocking forms), random members, the
//! union / intersection / difference family and ZSCAN.
//!
//! Argument checks follow Redis's order, because which error a bad command
//! gets is visible: options are parsed before the key is looked up except
//! where Redis does otherwise (the ZUNION family checks the input keys'
//! types before it parses WEIGHTS / AGGREGATE).

use std::collections::HashSet;

use bytes::Bytes;

use super::generic::parse_cursor;
use super::{
    cmd, int_arg, is, Command, Keys, BLOCKING, C_SORTEDSET, DENYOOM, FAST, KEY1, MOVABLE_KEYS, NOSCRIPT,
    NO_KEYS, READONLY, WRITE,
};
use crate::config::D;
use crate::db::zset::{Lex, Limits, ZSet};
use crate::db::Value;
use crate::errors::{CmdResult, Error};
use crate::resp::Out;
use crate::server::blocking::{parse_timeout, TimeoutReply};
use crate::server::notify;
use crate::server::Ctx;
use crate::util::glob::glob_match;
use crate::util::num::parse_f64;

const G: &str = "sorted_set";
const MOVABLE1: Keys = KEY1;
const DST_SRC: Keys = Keys { first: 1, last: 2, step: 1 };
const BKEYS: Keys = Keys { first: 1, last: -2, step: 1 };

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    cmd("zadd", -4, WRITE | DENYOOM | FAST, KEY1, C_SORTEDSET, zadd, G, "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    cmd("zincrby", 4, WRITE | DENYOOM | FAST, KEY1, C_SORTEDSET, zincrby, G, "1.2.0", "Increments the score of a member in a sorted set."),
    cmd("zrem", -3, WRITE | FAST, KEY1, C_SORTEDSET, zrem, G, "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    cmd("zcard", 2, READONLY | FAST, KEY1, C_SORTEDSET, zcard, G, "1.2.0", "Returns the number of members in a sorted set."),
    cmd("zcount", 4, READONLY | FAST, KEY1, C_SORTEDSET, zcount, G, "2.0.0", "Returns the count of members in a sorted set that have scores within a range."),
    cmd("zlexcount", 4, READONLY | FAST, KEY1, C_SORTEDSET, zlexcount, G, "2.8.9", "Returns the number of members in a sorted set within a lexicographical range."),
    cmd("zscore", 3, READONLY | FAST, KEY1, C_SORTEDSET, zscore, G, "1.2.0", "Returns the score of a member in a sorted set."),
    cmd("zmscore", -3, READONLY | FAST, KEY1, C_SORTEDSET, zmscore, G, "6.2.0", "Returns the score of one or more members in a sorted set."),
    cmd("zrank", -3, READONLY | FAST, KEY1, C_SORTEDSET, zrank, G, "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores."),
    cmd("zrevrank", -3, READONLY | FAST, KEY1, C_SORTEDSET, zrevrank, G, "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores."),
    cmd("zrange", -4, READONLY, KEY1, C_SORTEDSET, zrange, G, "1.2.0", "Returns members in a sorted set within a range of indexes."),
    cmd("zrangestore", -5, WRITE | DENYOOM, DST_SRC, C_SORTEDSET, zrangestore, G, "6.2.0", "Stores a range of members from sorted set in a key."),
    cmd("zrevrange", -4, READONLY, KEY1, C_SORTEDSET, zrevrange, G, "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order."),
    cmd("zrangebyscore", -4, READONLY, KEY1, C_SORTEDSET, zrangebyscore, G, "1.0.5", "Returns members in a sorted set within a range of scores."),
    cmd("zrevrangebyscore", -4, READONLY, KEY1, C_SORTEDSET, zrevrangebyscore, G, "2.2.0", "Returns members in a sorted set within a range of scores in reverse order."),
    cmd("zrangebylex", -4, READONLY, KEY1, C_SORTEDSET, zrangebylex, G, "2.8.9", "Returns members in a sorted set within a lexicographical range."),
    cmd("zrevrangebylex", -4, READONLY, KEY1, C_SORTEDSET, zrevrangebylex, G, "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order."),
    cmd("zremrangebyrank", 4, WRITE, KEY1, C_SORTEDSET, zremrangebyrank, G, "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    cmd("zremrangebyscore", 4, WRITE, KEY1, C_SORTEDSET, zremrangebyscore, G, "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    cmd("zremrangebylex", 4, WRITE, KEY1, C_SORTEDSET, zremrangebylex, G, "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    cmd("zpopmin", -2, WRITE | FAST, KEY1, C_SORTEDSET, zpopmin, G, "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd("zpopmax", -2, WRITE | FAST, KEY1, C_SORTEDSET, zpopmax, G, "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    cmd("zmpop", -4, WRITE | MOVABLE_KEYS, NO_KEYS, C_SORTEDSET, zmpop, G, "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.").find_keys(super::KeyFind::Numkeys { at: 1 }),
    cmd("bzpopmin", -3, WRITE | NOSCRIPT | BLOCKING | FAST, BKEYS, C_SORTEDSET, bzpopmin, G, "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    cmd("bzpopmax", -3, WRITE | NOSCRIPT | BLOCKING | FAST, BKEYS, C_SORTEDSET, bzpopmax, G, "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    cmd("bzmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, NO_KEYS, C_SORTEDSET, bzmpop, G, "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.").find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd("zrandmember", -2, READONLY, KEY1, C_SORTEDSET, zrandmember, G, "6.2.0", "Returns one or more random members from a sorted set."),
    cmd("zunion", -3, READONLY | MOVABLE_KEYS, NO_KEYS, C_SORTEDSET, zunion, G, "6.2.0", "Returns the union of multiple sorted sets.").find_keys(super::KeyFind::Numkeys { at: 1 }),
    cmd("zinter", -3, READONLY | MOVABLE_KEYS, NO_KEYS, C_SORTEDSET, zinter, G, "6.2.0", "Returns the intersect of multiple sorted sets.").find_keys(super::KeyFind::Numkeys { at: 1 }),
    cmd("zdiff", -3, READONLY | MOVABLE_KEYS, NO_KEYS, C_SORTEDSET, zdiff, G, "6.2.0", "Returns the difference between multiple sorted sets.").find_keys(super::KeyFind::Numkeys { at: 1 }),
    cmd("zunionstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, MOVABLE1, C_SORTEDSET, zunionstore, G, "2.0.0", "Stores the union of multiple sorted sets in a key.").find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd("zinterstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, MOVABLE1, C_SORTEDSET, zinterstore, G, "2.0.0", "Stores the intersect of multiple sorted sets in a key.").find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd("zdiffstore", -4, WRITE | DENYOOM | MOVABLE_KEYS, MOVABLE1, C_SORTEDSET, zdiffstore, G, "6.2.0", "Stores the difference of multiple sorted sets in a key.").find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd("zintercard", -3, READONLY | MOVABLE_KEYS, NO_KEYS, C_SORTEDSET, zintercard, G, "7.0.0", "Returns the number of members of the intersect of multiple sorted sets.").find_keys(super::KeyFind::Numkeys { at: 1 }),
    cmd("zscan", -3, READONLY, KEY1, C_SORTEDSET, zscan, G, "2.8.0", "Iterates over members and scores of a sorted set."),
];

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn limits(ctx: &Ctx) -> Limits {
    Limits {
        entries: ctx.srv.cfg.int(D::ZSET_MAX_LISTPACK_ENTRIES).max(0) as usize,
        value: ctx.srv.cfg.int(D::ZSET_MAX_LISTPACK_VALUE).max(0) as usize,
    }
}

/// The sorted set at `key`; WRONGTYPE for other types. `read` counts a
/// keyspace hit or miss (Redis's lookupKeyRead).
fn zget<'a>(ctx: &'a mut Ctx, key: &[u8], read: bool) -> Result<Option<&'a mut ZSet>, Error> {
    if read && ctx.missed_with_event(key) {
        return Ok(None);
    }
    let now = ctx.now_ms;
    let i = ctx.client.db.get();
    let (db, stats) = (&mut ctx.srv.ks.dbs[i], &mut ctx.srv.stats);
    let found = db.lookup(key, now);
    if read {
        if found.is_some() {
            stats.keyspace_hits += 1;
        } else {
            stats.keyspace_misses += 1;
        }
    }
    match found {
        None => Ok(None),
        Some(e) => match &mut e.val {
            Value::ZSet(z) => Ok(Some(&mut **z)),
            _ => Err(Error::WrongType),
        },
    }
}

/// C `strtod` over the argument as Redis's range parsing uses it: leading
/// spaces are skipped, the empty string is 0, the text ends at a NUL byte,
/// overflow gives +/-inf; NaN is rejected.
fn range_double(b: &[u8]) -> Option<f64> {
    let end = memchr::memchr(0, b).unwrap_or(b.len());
    let mut c = Vec::with_capacity(end + 1);
    c.extend_from_slice(&b[..end]);
    c.push(0);
    let mut eptr: *mut libc::c_char = std::ptr::null_mut();
    // Safety: `c` is NUL-terminated; strtod reads up to the NUL.
    let v = unsafe { libc::strtod(c.as_ptr() as *const libc::c_char, &mut eptr) };
    let used = eptr as usize - c.as_ptr() as usize;
    (used == end && !v.is_nan()).then_some(v)
}

#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

fn parse_score_item(b: &[u8]) -> Option<(f64, bool)> {
    match b.first() {
        Some(b'(') => range_double(&b[1..]).map(|v| (v, true)),
        _ => range_double(b).map(|v| (v, false)),
    }
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Error> {
    let bad = || Error::msg("ERR min or max is not a float");
    let (min, minex) = parse_score_item(min).ok_or_else(bad)?;
    let (max, maxex) = parse_score_item(max).ok_or_else(bad)?;
    Ok(ScoreRange { min, minex, max, maxex })
}

fn parse_lex_item(b: &[u8]) -> Option<Lex> {
    let single = b.len() == 1 || b.get(1) == Some(&0);
    match b.first() {
        Some(b'+') if single => Some(Lex::Max),
        Some(b'-') if single => Some(Lex::Min),
        Some(b'(') => Some(Lex::Excl(b[1..].to_vec())),
        Some(b'[') => Some(Lex::Incl(b[1..].to_vec())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<(Lex, Lex), Error> {
    match (parse_lex_item(min), parse_lex_item(max)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Error::msg("ERR min or max not valid string range item")),
    }
}

/// Ascending ranks `[lo, hi)` in a score range.
fn score_span(z: &ZSet, r: &ScoreRange) -> (usize, usize) {
    let lo = z.score_rank(r.min, r.minex);
    let hi = z.score_rank(r.max, !r.maxex);
    (lo, hi.max(lo))
}

fn lex_span(z: &ZSet, min: &Lex, max: &Lex) -> (usize, usize) {
    let lo = z.lex_rank(min, false);
    let hi = z.lex_rank(max, true);
    (lo, hi.max(lo))
}

/// Sanitizes Redis rank arguments; `None` when the range is empty.
fn rank_span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize + 1))
}

/// Applies LIMIT offset count to an ascending span, walked forward or (with
/// `rev`) backward. Returns the ascending sub-span to emit.
fn apply_limit(lo: usize, hi: usize, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
    if offset < 0 {
        return (0, 0);
    }
    let n = hi - lo;
    let off = offset as u64;
    if off >= n as u64 {
        return (0, 0);
    }
    let off = off as usize;
    let avail = n - off;
    let take = if limit < 0 { avail } else { avail.min(limit as u64 as usize) };
    if rev {
        (hi - off - take, hi - off)
    } else {
        (lo + off, lo + off + take)
    }
}

/// Writes the header of a member list, with or without scores.
fn list_header(out: &mut Out, n: usize, withscores: bool) {
    if withscores && !out.resp3 {
        out.array(n * 2);
    } else {
        out.array(n);
    }
}

/// `out.double(s)` with a fast path for integral scores (the common case),
/// whose "%.17g" text is just the integer.
fn reply_score(out: &mut Out, s: f64) {
    if s.fract() == 0.0 && s.abs() < 1e15 && !(s == 0.0 && s.is_sign_negative()) {
        if out.resp3 {
            out.buf.push(b',');
            crate::util::num::fmt_i64(s as i64, &mut out.buf);
            out.buf.extend_from_slice(b"\r\n");
        } else {
            out.bulk_int(s as i64);
        }
    } else {
        out.double(s);
    }
}

fn list_item(out: &mut Out, m: &[u8], s: f64, withscores: bool) {
    if withscores {
        if out.resp3 {
            out.array(2);
        }
        out.bulk(m);
        reply_score(out, s);
    } else {
        out.bulk(m);
    }
}

/// Emits ascending ranks `[lo, hi)` of `z`, descending with `rev`.
fn emit_span(out: &mut Out, z: &ZSet, lo: usize, hi: usize, rev: bool, withscores: bool) {
    list_header(out, hi.saturating_sub(lo), withscores);
    z.walk(lo, hi, rev, |m, s| {
        list_item(out, m, s, withscores);
        true
    });
}

/// Stores a result (ascending, distinct) at `dst` or deletes `dst` when the
/// result is empty; replies with the count.
pub(crate) fn store_result(ctx: &mut Ctx, dst: &[u8], items: &[(&[u8], f64)], event: &str) {
    let now = ctx.now_ms;
    if items.is_empty() {
        if ctx.db().remove(dst).is_some() {
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "del", dst);
        }
        ctx.out.int(0);
        return;
    }
    let lim = limits(ctx);
    let z = ZSet::from_sorted(items, lim);
    ctx.db().set(dst, Value::ZSet(Box::new(z)), false, now);
    ctx.dirty(1);
    ctx.notify(notify::ZSET, event, dst);
    ctx.signal_ready(dst);
    ctx.out.int(items.len() as i64);
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK
// ---------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

/// What adding one element did.
enum AddOut {
    Added(f64),
    Updated(f64),
    /// Processed with no change (same score).
    Same(f64),
    Nop,
    Nan,
}

fn zadd_one(z: &mut ZSet, m: &[u8], score: f64, f: AddFlags, lim: Limits) -> AddOut {
    match z.score(m) {
        Some(cur) => {
            if f.nx {
                return AddOut::Nop;
            }
            let new = if f.incr { cur + score } else { score };
            if new.is_nan() {
                return AddOut::Nan;
            }
            if (f.lt && new >= cur) || (f.gt && new <= cur) {
                return AddOut::Nop;
            }
            if new != cur {
                z.put(m, Some(cur), new, lim);
                return AddOut::Updated(new);
            }
            AddOut::Same(new)
        }
        None => {
            if f.xx {
                return AddOut::Nop;
            }
            z.put(m, None, score, lim);
            AddOut::Added(score)
        }
    }
}

pub(crate) fn zadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut f = AddFlags::default();
    let mut ch = false;
    let mut idx = 2;
    while idx < a.len() {
        let o = &a[idx];
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let elements = a.len() - idx;
    if elements % 2 != 0 || elements == 0 {
        return Err(Error::Syntax);
    }
    let elements = elements / 2;
    if f.nx && f.xx {
        return Err(Error::msg("ERR XX and NX options at the same time are not compatible"));
    }
    if (f.gt && f.nx) || (f.lt && f.nx) || (f.gt && f.lt) {
        return Err(Error::msg("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if f.incr && elements > 1 {
        return Err(Error::msg("ERR INCR option supports a single increment-element pair"));
    }
    let mut scores = Vec::with_capacity(elements);
    for j in 0..elements {
        scores.push(parse_f64(&a[idx + 2 * j]).ok_or(Error::NotFloat)?);
    }
    zadd_generic(ctx, &a[1], f, ch, &scores, |j| &a[idx + 2 * j + 1])
}

fn zadd_generic<'b>(
    ctx: &mut Ctx,
    key: &[u8],
    f: AddFlags,
    ch: bool,
    scores: &[f64],
    member: impl Fn(usize) -> &'b Bytes,
) -> CmdResult {
    let lim = limits(ctx);
    let now = ctx.now_ms;
    let mut exists = true;
    // One keyspace lookup when the set exists.
    let z = match zget(ctx, key, false)? {
        Some(z) => z,
        None => {
            if f.xx {
                if f.incr {
                    ctx.out.null();
                } else {
                    ctx.out.int(0);
                }
                return Ok(());
            }
            exists = false;
            // Redis 7.0 picks the encoding by the first member only.
            let z = ZSet::with_hint(1, member(0).len(), lim);
            ctx.db().add(key, Value::ZSet(Box::new(z)), now);
            zget(ctx, key, false)?.ok_or(Error::WrongType)?
        }
    };
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0);
    let mut last = 0.0;
    let mut nan = false;
    {
        for (j, &score) in scores.iter().enumerate() {
            match zadd_one(z, member(j), score, f, lim) {
                AddOut::Added(s) => {
                    added += 1;
                    processed += 1;
                    last = s;
                }
                AddOut::Updated(s) => {
                    updated += 1;
                    processed += 1;
                    last = s;
                }
                AddOut::Same(s) => {
                    processed += 1;
                    last = s;
                }
                AddOut::Nop => {}
                AddOut::Nan => {
                    nan = true;
                    break;
                }
            }
        }
    }
    if added + updated > 0 {
        ctx.dirty((added + updated) as u64);
        ctx.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if added > 0 || !exists {
        ctx.signal_ready(key);
    }
    if nan {
        ctx.db().remove_if_empty(key);
        return Err(Error::msg("ERR resulting score is not a number (NaN)"));
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

fn zincrby(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let incr = parse_f64(&a[2]).ok_or(Error::NotFloat)?;
    let f = AddFlags {
        incr: true,
        ..Default::default()
    };
    zadd_generic(ctx, &a[1], f, false, &[incr], |_| &a[3])
}

fn zrem(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(z) = zget(ctx, &a[1], false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for m in &a[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if n > 0 {
        ctx.notify(notify::ZSET, "zrem", &a[1]);
        ctx.remove_if_empty(&a[1]);
        ctx.dirty(n);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn zcard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = zget(ctx, &a[1], true)?.map(|z| z.len()).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match zget(ctx, &a[1], true)?.and_then(|z| z.score(&a[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let scores: Vec<Option<f64>> = match zget(ctx, &a[1], true)? {
        Some(z) => a[2..].iter().map(|m| z.score(m)).collect(),
        None => vec![None; a.len() - 2],
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zrank_generic(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> CmdResult {
    if a.len() > 4 {
        return Err(crate::errors::wrong_arity(if rev { "zrevrank" } else { "zrank" }));
    }
    let withscore = match a.get(3) {
        Some(o) if is(o, "withscore") => true,
        Some(_) => return Err(Error::Syntax),
        None => false,
    };
    let found = match zget(ctx, &a[1], true)? {
        Some(z) => {
            let len = z.len();
            z.rank(&a[2]).map(|(r, s)| (if rev { len - 1 - r } else { r }, s))
        }
        None => None,
    };
    let out = &mut *ctx.out;
    match found {
        Some((r, s)) => {
            if withscore {
                out.array(2);
                out.int(r as i64);
                out.double(s);
            } else {
                out.int(r as i64);
            }
        }
        None if withscore => out.null_array(),
        None => out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrank_generic(ctx, a, false)
}

fn zrevrank(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrank_generic(ctx, a, true)
}

// ---------------------------------------------------------------------------
// Counting and ranges
// ---------------------------------------------------------------------------

fn zcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let r = parse_score_range(&a[2], &a[3])?;
    let n = match zget(ctx, &a[1], true)? {
        Some(z) => {
            let (lo, hi) = score_span(z, &r);
            hi - lo
        }
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (min, max) = parse_lex_range(&a[2], &a[3])?;
    let n = match zget(ctx, &a[1], true)? {
        Some(z) => {
            let (lo, hi) = lex_span(z, &min, &max);
            hi - lo
        }
        None => 0,
    };
    ctx.out.int(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq)]
enum Dir {
    Auto,
    Forward,
    Reverse,
}

/// The common engine of ZRANGE, ZRANGESTORE and the legacy range commands.
/// `argc_start` is the index of the source key.
fn zrange_generic(
    ctx: &mut Ctx,
    a: &[Bytes],
    argc_start: usize,
    store: Option<&Bytes>,
    mut rtype: RangeType,
    mut dir: Dir,
) -> CmdResult {
    let key = &a[argc_start];
    let mut minidx = argc_start + 1;
    let mut maxidx = argc_start + 2;
    let mut withscores = false;
    let mut offset = 0i64;
    let mut limit = -1i64;
    let mut j = argc_start + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = &a[j];
        if store.is_none() && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && left >= 2 {
            offset = int_arg(&a[j + 1])?;
            limit = int_arg(&a[j + 2])?;
            j += 2;
        } else if dir == Dir::Auto && is(o, "rev") {
            dir = Dir::Reverse;
        } else if rtype == RangeType::Auto && is(o, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && is(o, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if dir == Dir::Auto {
        dir = Dir::Forward;
    }
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(Error::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(Error::msg("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let rev = dir == Dir::Reverse;
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    enum Spec {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(Lex, Lex),
    }
    let spec = match rtype {
        RangeType::Score => Spec::Score(parse_score_range(&a[minidx], &a[maxidx])?),
        RangeType::Lex => {
            let (lo, hi) = parse_lex_range(&a[minidx], &a[maxidx])?;
            Spec::Lex(lo, hi)
        }
        _ => Spec::Rank(int_arg(&a[minidx])?, int_arg(&a[maxidx])?),
    };
    let i = ctx.client.db.get();
    let now = ctx.now_ms;
    // Resolve the span on the source.
    let span = {
        let z = zget(ctx, key, true)?;
        z.map(|z| {
            let (lo, hi) = match &spec {
                Spec::Rank(s, e) => match rank_span(*s, *e, z.len()) {
                    Some((s, e)) if rev => (z.len() - e, z.len() - s),
                    Some(x) => x,
                    None => (0, 0),
                },
                Spec::Score(r) => {
                    let (lo, hi) = score_span(z, r);
                    apply_limit(lo, hi, rev, offset, limit)
                }
                Spec::Lex(min, max) => {
                    let (lo, hi) = lex_span(z, min, max);
                    apply_limit(lo, hi, rev, offset, limit)
                }
            };
            (lo, hi.max(lo))
        })
    };
    match store {
        Some(dst) => {
            let items: Vec<(Vec<u8>, f64)> = match span {
                Some((lo, hi)) => {
                    let Some(Value::ZSet(z)) = ctx.srv.ks.dbs[i].peek(key, now).map(|e| &e.val) else {
                        unreachable!("looked up above")
                    };
                    let mut v = Vec::with_capacity(hi - lo);
                    z.walk(lo, hi, rev, |m, s| {
                        v.push((m.to_vec(), s));
                        true
                    });
                    v
                }
                None => Vec::new(),
            };
            if items.is_empty() {
                store_result(ctx, dst, &[], "zrangestore");
                return Ok(());
            }
            // Redis adds the elements one by one, in the order it emits them,
            // to a set created for the known length (rank ranges) or as a
            // listpack that converts once it outgrows the limits.
            let lim = limits(ctx);
            let hint = if rtype == RangeType::Rank { items.len() } else { 0 };
            let mut z = ZSet::with_hint(hint, 0, lim);
            for (m, s) in &items {
                z.insert(m, *s, lim);
            }
            ctx.db().set(dst, Value::ZSet(Box::new(z)), false, now);
            ctx.dirty(1);
            ctx.notify(notify::ZSET, "zrangestore", dst);
            ctx.signal_ready(dst);
            ctx.out.int(items.len() as i64);
        }
        None => match span {
            None => ctx.out.array(0),
            Some((lo, hi)) => {
                let (db, out) = (&mut ctx.srv.ks.dbs[i], &mut *ctx.out);
                let Some(Value::ZSet(z)) = db.peek(key, now).map(|e| &e.val) else {
                    unreachable!("looked up above")
                };
                emit_span(out, z, lo, hi, rev, withscores);
            }
        },
    }
    Ok(())
}

fn zrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Auto, Dir::Auto)
}

fn zrangestore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 2, Some(&a[1]), RangeType::Auto, Dir::Auto)
}

fn zrevrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Rank, Dir::Reverse)
}

fn zrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Score, Dir::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Score, Dir::Reverse)
}

fn zrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Lex, Dir::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Lex, Dir::Reverse)
}

fn zremrange_generic(ctx: &mut Ctx, a: &[Bytes], rtype: RangeType) -> CmdResult {
    enum Spec {
        Rank(i64, i64),
        Score(ScoreRange),
        Lex(Lex, Lex),
    }
    let spec = match rtype {
        RangeType::Score => Spec::Score(parse_score_range(&a[2], &a[3])?),
        RangeType::Lex => {
            let (lo, hi) = parse_lex_range(&a[2], &a[3])?;
            Spec::Lex(lo, hi)
        }
        _ => Spec::Rank(int_arg(&a[2])?, int_arg(&a[3])?),
    };
    let Some(z) = zget(ctx, &a[1], false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (lo, hi) = match &spec {
        Spec::Rank(s, e) => rank_span(*s, *e, z.len()).unwrap_or((0, 0)),
        Spec::Score(r) => score_span(z, r),
        Spec::Lex(min, max) => lex_span(z, min, max),
    };
    let n = z.remove_range(lo, hi);
    if n > 0 {
        let event = match spec {
            Spec::Rank(..) => "zremrangebyrank",
            Spec::Score(_) => "zremrangebyscore",
            Spec::Lex(..) => "zremrangebylex",
        };
        ctx.notify(notify::ZSET, event, &a[1]);
        ctx.remove_if_empty(&a[1]);
        ctx.dirty(n as u64);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, a, RangeType::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, a, RangeType::Score)
}

fn zremrangebylex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zremrange_generic(ctx, a, RangeType::Lex)
}

// ---------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------

/// Pops up to `count` elements from the first non-empty key of `keys`
/// (WRONGTYPE stops the search). Returns the key index and the elements, or
/// None when every key is missing.
#[allow(clippy::type_complexity)]
fn pop_from(
    ctx: &mut Ctx,
    keys: &[Bytes],
    max: bool,
    count: usize,
) -> Result<Option<(usize, Vec<(Vec<u8>, f64)>)>, Error> {
    for (ki, key) in keys.iter().enumerate() {
        let Some(z) = zget(ctx, key, false)? else {
            continue;
        };
        let n = count.min(z.len());
        let mut v = Vec::with_capacity(n);
        if max {
            let len = z.len();
            z.walk(len - n, len, true, |m, s| {
                v.push((m.to_vec(), s));
                true
            });
            z.remove_range(len - n, len);
        } else {
            z.walk(0, n, false, |m, s| {
                v.push((m.to_vec(), s));
                true
            });
            z.remove_range(0, n);
        }
        if n > 0 {
            ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
            ctx.remove_if_empty(key);
            ctx.dirty(n as u64);
            let db = ctx.db_index();
            ctx.srv.touch_watched(db, key);
        }
        return Ok(Some((ki, v)));
    }
    Ok(None)
}

fn zpop_generic(ctx: &mut Ctx, a: &[Bytes], max: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(Error::Syntax);
    }
    let count = match a.get(2) {
        Some(c) => {
            let n = int_arg(c)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| Error::msg("ERR value is out of range, must be positive"))?;
            Some(n as usize)
        }
        None => None,
    };
    if count == Some(0) {
        // Type still checked, as Redis does.
        zget(ctx, &a[1], false)?;
        ctx.out.array(0);
        return Ok(());
    }
    let got = pop_from(ctx, &a[1..2], max, count.unwrap_or(1))?;
    let items = got.map(|(_, v)| v).unwrap_or_default();
    let out = &mut *ctx.out;
    let nested = count.is_some() && out.resp3;
    if nested {
        out.array(items.len());
    } else {
        out.array(items.len() * 2);
    }
    for (m, s) in &items {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        out.double(*s);
    }
    Ok(())
}

fn zpopmin(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, a, false)
}

fn zpopmax(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, a, true)
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` from `a[idx..]`.
fn parse_mpop(a: &[Bytes], idx: usize) -> Result<(usize, bool, usize), Error> {
    let bad_numkeys = || Error::msg("ERR numkeys should be greater than 0");
    let numkeys = int_arg(&a[idx]).map_err(|_| bad_numkeys())?;
    if numkeys < 1 {
        return Err(bad_numkeys());
    }
    let where_idx = (numkeys as u64).saturating_add(idx as u64 + 1);
    if where_idx >= a.len() as u64 {
        return Err(Error::Syntax);
    }
    let where_idx = where_idx as usize;
    let max = if is(&a[where_idx], "min") {
        false
    } else if is(&a[where_idx], "max") {
        true
    } else {
        return Err(Error::Syntax);
    };
    let mut count: i64 = -1;
    let mut j = where_idx + 1;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if count == -1 && is(&a[j], "count") && more > 0 {
            j += 1;
            let bad = || Error::msg("ERR count should be greater than 0");
            count = int_arg(&a[j]).map_err(|_| bad())?;
            if count < 1 {
                return Err(bad());
            }
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok((numkeys as usize, max, if count == -1 { 1 } else { count as usize }))
}

fn reply_mpop(out: &mut Out, key: &[u8], items: &[(Vec<u8>, f64)]) {
    out.array(2);
    out.bulk(key);
    out.array(items.len());
    for (m, s) in items {
        out.array(2);
        out.bulk(m);
        out.double(*s);
    }
}

fn zmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (numkeys, max, count) = parse_mpop(a, 1)?;
    let keys = &a[2..2 + numkeys];
    match pop_from(ctx, keys, max, count)? {
        Some((ki, items)) => reply_mpop(ctx.out, &keys[ki], &items),
        None => ctx.out.null_array(),
    }
    Ok(())
}

fn bzpop_generic(ctx: &mut Ctx, a: &[Bytes], max: bool) -> CmdResult {
    let timeout = parse_timeout(&a[a.len() - 1])?;
    let keys = &a[1..a.len() - 1];
    match pop_from(ctx, keys, max, 1)? {
        Some((ki, items)) => {
            let out = &mut *ctx.out;
            out.array(3);
            out.bulk(&keys[ki]);
            out.bulk(&items[0].0);
            out.double(items[0].1);
        }
        None => {
            let ks = keys.iter().map(|k| k.to_vec()).collect();
            ctx.block_on(ks, timeout, TimeoutReply::NullArray);
        }
    }
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, a, false)
}

fn bzpopmax(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bzpop_generic(ctx, a, true)
}

fn bzmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&a[1])?;
    let (numkeys, max, count) = parse_mpop(a, 2)?;
    let keys = &a[3..3 + numkeys];
    match pop_from(ctx, keys, max, count)? {
        Some((ki, items)) => reply_mpop(ctx.out, &keys[ki], &items),
        None => {
            let ks = keys.iter().map(|k| k.to_vec()).collect();
            ctx.block_on(ks, timeout, TimeoutReply::NullArray);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        let i = ctx.client.db.get();
        zget(ctx, &a[1], true)?;
        let ks = &mut ctx.srv.ks;
        let pick = match ks.dbs[i].dict().get(&a[1]).map(|e| &e.val) {
            Some(Value::ZSet(z)) => z.random(&mut ks.rng).map(|(m, _)| m.to_vec()),
            _ => None,
        };
        match pick {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let l = int_arg(&a[2])?;
    if l == i64::MIN {
        return Err(Error::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if a.len() > 4 || (a.len() == 4 && !is(&a[3], "withscores")) {
        return Err(Error::Syntax);
    }
    let withscores = a.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(Error::msg("ERR value is out of range"));
    }
    let (count, uniq) = (l.unsigned_abs() as usize, l >= 0);
    let i = ctx.client.db.get();
    if zget(ctx, &a[1], true)?.is_none() {
        ctx.out.array(0);
        return Ok(());
    }
    let ks = &mut ctx.srv.ks;
    let Some(Value::ZSet(z)) = ks.dbs[i].dict().get(&a[1]).map(|e| &e.val) else {
        unreachable!("looked up above")
    };
    let out = &mut *ctx.out;
    let rng = &mut ks.rng;
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let size = z.len();
    if !uniq || count == 1 {
        list_header(out, count, withscores);
        for _ in 0..count {
            if let Some((m, s)) = z.random(rng) {
                list_item(out, m, s, withscores);
            }
        }
        return Ok(());
    }
    if count >= size {
        emit_span(out, z, 0, size, false, withscores);
        return Ok(());
    }
    // Distinct ranks, in random order.
    use rand::seq::index::sample;
    let picks = sample(rng, size, count);
    list_header(out, count, withscores);
    for r in picks.iter() {
        if let Some((m, s)) = z.select(r) {
            list_item(out, m, s, withscores);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF and the STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Agg {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Agg::Min => {
            if v < *target {
                *target = v;
            }
        }
        Agg::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// One input: its elements (member, score) or nothing for a missing key.
type Src = Vec<(Vec<u8>, f64)>;

/// The elements of an input key as (member, score); a plain set counts
/// with score 1, as in Redis.
fn source_elements(v: &Value) -> Result<Src, Error> {
    match v {
        Value::ZSet(z) => {
            let mut out = Vec::with_capacity(z.len());
            z.for_each(|m, s| out.push((m.to_vec(), s)));
            Ok(out)
        }
        Value::Set(s) => Ok(s.iter().map(|e| (e.to_vec(), 1.0)).collect()),
        _ => Err(Error::WrongType),
    }
}

fn zsetop(ctx: &mut Ctx, a: &[Bytes], dst: Option<&Bytes>, nk_idx: usize, op: SetOp, card: bool) -> CmdResult {
    let name = a[0].to_ascii_lowercase();
    let setnum = int_arg(&a[nk_idx])?;
    if setnum < 1 {
        return Err(Error::Bytes(
            [
                b"ERR at least 1 input key is needed for '".as_slice(),
                &name,
                b"' command",
            ]
            .concat(),
        ));
    }
    if setnum as u64 > (a.len() - nk_idx - 1) as u64 {
        return Err(Error::Syntax);
    }
    let setnum = setnum as usize;
    let now = ctx.now_ms;
    let i = ctx.client.db.get();
    // Read the inputs (types are checked before the options are parsed).
    let mut srcs: Vec<Option<Src>> = Vec::with_capacity(setnum);
    for k in &a[nk_idx + 1..nk_idx + 1 + setnum] {
        let found = ctx.srv.ks.dbs[i].lookup(k, now).is_some();
        ctx.hit(k, found);
        match ctx.srv.ks.dbs[i].dict().get(k) {
            Some(e) => srcs.push(Some(source_elements(&e.val)?)),
            None => srcs.push(None),
        }
    }
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Agg::Sum;
    let mut withscores = false;
    let mut limit: usize = 0;
    let mut j = nk_idx + 1 + setnum;
    while j < a.len() {
        let remaining = a.len() - j;
        let o = &a[j];
        if op != SetOp::Diff && !card && remaining > setnum && is(o, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w = parse_f64(&a[j]).ok_or_else(|| Error::msg("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card && remaining >= 2 && is(o, "aggregate") {
            let v = &a[j + 1];
            agg = if is(v, "sum") {
                Agg::Sum
            } else if is(v, "min") {
                Agg::Min
            } else if is(v, "max") {
                Agg::Max
            } else {
                return Err(Error::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card && is(o, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(o, "limit") {
            let l = int_arg(&a[j + 1])
                .ok()
                .filter(|l| *l >= 0)
                .ok_or_else(|| Error::msg("ERR LIMIT can't be negative"))?;
            limit = l as usize;
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }

    // Compute. Inputs are taken smallest first (Redis does the same, which
    // decides the order SUM adds in).
    let mut order: Vec<usize> = (0..setnum).collect();
    let len_of = |s: &Option<Src>| s.as_ref().map(|v| v.len()).unwrap_or(0);
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    match op {
        SetOp::Inter => {
            order.sort_by_key(|&k| len_of(&srcs[k]));
            if order.iter().all(|&k| len_of(&srcs[k]) > 0) {
                let lookups: Vec<hashbrown::HashMap<&[u8], f64>> = order[1..]
                    .iter()
                    .map(|&k| {
                        srcs[k]
                            .as_ref()
                            .map(|v| v.iter().map(|(m, s)| (&m[..], *s)).collect())
                            .unwrap_or_default()
                    })
                    .collect();
                let first = order[0];
                let mut count = 0usize;
                for (m, s) in srcs[first].as_ref().map(|v| &v[..]).unwrap_or(&[]) {
                    let mut score = weighted(*s, weights[first]);
                    let mut all = true;
                    for (li, &k) in order[1..].iter().enumerate() {
                        match lookups[li].get(&m[..]) {
                            // Only the first input's product is NaN-checked,
                            // as in Redis (the aggregate then is).
                            Some(&os) => aggregate(&mut score, os * weights[k], agg),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if all {
                        count += 1;
                        if card {
                            if limit > 0 && count >= limit {
                                break;
                            }
                            continue;
                        }
                        result.push((m.clone(), score));
                    }
                }
                if card {
                    ctx.out.int(count as i64);
                    return Ok(());
                }
            } else if card {
                ctx.out.int(0);
                return Ok(());
            }
        }
        SetOp::Union => {
            order.sort_by_key(|&k| len_of(&srcs[k]));
            let mut acc: hashbrown::HashMap<Vec<u8>, f64> = hashbrown::HashMap::new();
            for &k in &order {
                let Some(v) = srcs[k].take() else { continue };
                for (m, s) in v {
                    let w = weighted(s, weights[k]);
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, w, agg),
                        None => {
                            acc.insert(m, w);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            if let Some(first) = srcs[0].take() {
                let others: HashSet<&[u8]> = srcs[1..]
                    .iter()
                    .flatten()
                    .flat_map(|v| v.iter().map(|(m, _)| &m[..]))
                    .collect();
                result = first.into_iter().filter(|(m, _)| !others.contains(&m[..])).collect();
            }
        }
    }
    result.sort_by(|x, y| match x.1.partial_cmp(&y.1) {
        Some(std::cmp::Ordering::Equal) | None => x.0.cmp(&y.0),
        Some(o) => o,
    });
    match dst {
        Some(d) => {
            let refs: Vec<(&[u8], f64)> = result.iter().map(|(m, s)| (&m[..], *s)).collect();
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_result(ctx, d, &refs, event);
        }
        None => {
            let out = &mut *ctx.out;
            list_header(out, result.len(), withscores);
            for (m, s) in &result {
                list_item(out, m, *s, withscores);
            }
        }
    }
    Ok(())
}

fn zunion(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zsetop(ctx, a, None, 1, SetOp::Union, false)
}

fn zinter(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zsetop(ctx, a, None, 1, SetOp::Inter, false)
}

fn zdiff(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zsetop(ctx, a, None, 1, SetOp::Diff, false)
}

fn zunionstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zsetop(ctx, a, Some(&a[1]), 2, SetOp::Union, false)
}

fn zinterstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zsetop(ctx, a, Some(&a[1]), 2, SetOp::Inter, false)
}

fn zdiffstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zsetop(ctx, a, Some(&a[1]), 2, SetOp::Diff, false)
}

fn zintercard(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    zsetop(ctx, a, None, 1, SetOp::Inter, true)
}

// ---------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------

fn zscan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[2])?;
    if zget(ctx, &a[1], true)?.is_none() {
        let out = &mut *ctx.out;
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    }
    let (count, pattern, _) = super::generic::scan_options(a, 3, false)?;
    let now = ctx.now_ms;
    let i = ctx.client.db.get();
    let (db, out) = (&mut ctx.srv.ks.dbs[i], &mut *ctx.out);
    let Some(Value::ZSet(z)) = db.peek(&a[1], now).map(|e| &e.val) else {
        unreachable!("looked up above")
    };
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    // Redis counts members and scores against COUNT.
    let next = z.scan(cursor, count.div_ceil(2), |m, s| {
        if pattern.is_none_or(|p| glob_match(p, m, false)) {
            found.push((m.to_vec(), s));
        }
    });
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len() * 2);
    let mut buf = Vec::with_capacity(24);
    for (m, s) in &found {
        out.bulk(m);
        buf.clear();
        crate::util::num::fmt_double_into(*s, &mut buf);
        out.bulk(&buf);
    }
    Ok(())
}
