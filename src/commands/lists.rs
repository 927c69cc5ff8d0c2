//! List commands: pushes and pops at both ends, positional access, LINSERT,
//! LREM, LTRIM, LPOS, the moves (LMOVE, RPOPLPUSH), LMPOP and the blocking
//! forms (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP).
//!
//! Argument checks follow Redis's order, since which error a bad command
//! gets is visible: counts, indexes and options are parsed before the key is
//! looked up, except LINDEX and LSET, which look the key up first.
//!
//! Every push or move into a list signals the key ready so that blocked
//! clients are served (see `server::blocking`); a list that loses its last
//! element is deleted.
//!
//! Flags are Redis 7.2's: the blocking commands have no `noscript` (7.2
//! lets scripts run them, non-blocking, as MULTI does).

use bytes::Bytes;

use super::{
    cmd, int_arg, is, Command, Keys, BLOCKING, C_LIST, DENYOOM, FAST, KEY1, MOVABLE_KEYS, NO_KEYS,
    READONLY, WRITE,
};
use crate::config::D;
use crate::db::list::{Elem, Limits, List};
use crate::db::Value;
use crate::errors::{self, CmdResult, Error};
use crate::resp::Out;
use crate::server::blocking::{parse_timeout, TimeoutReply};
use crate::server::notify;
use crate::server::Ctx;
use crate::util::num::parse_i64;

const G: &str = "list";
const SRC_DST: Keys = Keys {
    first: 1,
    last: 2,
    step: 1,
};
const BKEYS: Keys = Keys {
    first: 1,
    last: -2,
    step: 1,
};

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    cmd("lpush", -3, WRITE | DENYOOM | FAST, KEY1, C_LIST, lpush, G, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, KEY1, C_LIST, rpush, G, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    cmd("lpushx", -3, WRITE | DENYOOM | FAST, KEY1, C_LIST, lpushx, G, "2.2.0", "Prepends one or more elements to a list only when the list exists."),
    cmd("rpushx", -3, WRITE | DENYOOM | FAST, KEY1, C_LIST, rpushx, G, "2.2.0", "Appends an element to a list only when the list exists."),
    cmd("lpop", -2, WRITE | FAST, KEY1, C_LIST, lpop, G, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    cmd("rpop", -2, WRITE | FAST, KEY1, C_LIST, rpop, G, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    cmd("llen", 2, READONLY | FAST, KEY1, C_LIST, llen, G, "1.0.0", "Returns the length of a list."),
    cmd("lrange", 4, READONLY, KEY1, C_LIST, lrange, G, "1.0.0", "Returns a range of elements from a list."),
    cmd("lindex", 3, READONLY, KEY1, C_LIST, lindex, G, "1.0.0", "Returns an element from a list by its index."),
    cmd("lset", 4, WRITE | DENYOOM, KEY1, C_LIST, lset, G, "1.0.0", "Sets the value of an element in a list by its index."),
    cmd("linsert", 5, WRITE | DENYOOM, KEY1, C_LIST, linsert, G, "2.2.0", "Inserts an element before or after another element in a list."),
    cmd("lrem", 4, WRITE, KEY1, C_LIST, lrem, G, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed."),
    cmd("ltrim", 4, WRITE, KEY1, C_LIST, ltrim, G, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    cmd("lpos", -3, READONLY, KEY1, C_LIST, lpos, G, "6.0.6", "Returns the index of matching elements in a list."),
    cmd("lmove", 5, WRITE | DENYOOM, SRC_DST, C_LIST, lmove, G, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    cmd("rpoplpush", 3, WRITE | DENYOOM, SRC_DST, C_LIST, rpoplpush, G, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    cmd("lmpop", -4, WRITE | MOVABLE_KEYS, NO_KEYS, C_LIST, lmpop, G, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.").find_keys(super::KeyFind::Numkeys { at: 1 }),
    cmd("blpop", -3, WRITE | BLOCKING, BKEYS, C_LIST, blpop, G, "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("brpop", -3, WRITE | BLOCKING, BKEYS, C_LIST, brpop, G, "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("blmove", 6, WRITE | DENYOOM | BLOCKING, SRC_DST, C_LIST, blmove, G, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    cmd("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, SRC_DST, C_LIST, brpoplpush, G, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    cmd("blmpop", -5, WRITE | BLOCKING | MOVABLE_KEYS, NO_KEYS, C_LIST, blmpop, G, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.").find_keys(super::KeyFind::Numkeys { at: 2 }),
];

// ---------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------

fn limits(ctx: &Ctx) -> Limits {
    Limits::from_fill(ctx.srv.cfg.int(D::LIST_MAX_LISTPACK_SIZE))
}

/// The list at `key` (None if missing; WRONGTYPE for other types) and the
/// reply buffer, borrowed together. `read` counts a keyspace hit or miss.
fn list_and_out<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    read: bool,
) -> Result<(Option<&'a mut List>, &'a mut Out), Error> {
    let (e, out) = ctx.lookup_with_out(key, read);
    Ok((super::typed(e, Value::as_list_mut)?, out))
}

fn write_list<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut List>, Error> {
    list_and_out(ctx, key, false).map(|(l, _)| l)
}

#[inline]
fn reply_elem(out: &mut Out, e: Elem) {
    match e {
        Elem::Int(i) => out.bulk_int(i),
        Elem::Str(s) => out.bulk(s),
    }
}

/// A command not in the table's key positions (LMPOP, BLMPOP) changed
/// `key`: its watchers must know.
fn touched(ctx: &mut Ctx, key: &[u8]) {
    let db = ctx.db_index();
    ctx.srv.touch_watched(db, key);
}

/// Pushes `vals` to `key`, creating the list unless `only_existing`.
/// Returns the new length (0 when the key was missing and not created).
fn push_to(
    ctx: &mut Ctx,
    key: &[u8],
    vals: &[Bytes],
    front: bool,
    only_existing: bool,
) -> Result<usize, Error> {
    let lim = limits(ctx);
    let now = ctx.now_ms;
    let len = match write_list(ctx, key)? {
        Some(l) => {
            l.push(vals, front, &lim);
            l.len()
        }
        None if only_existing => return Ok(0),
        None => {
            let mut l = List::new();
            l.push(vals, front, &lim);
            let n = l.len();
            ctx.db().add(key, Value::List(Box::new(l)), now);
            n
        }
    };
    ctx.signal_ready(key);
    ctx.dirty(vals.len() as u64);
    ctx.notify(notify::LIST, if front { "lpush" } else { "rpush" }, key);
    Ok(len)
}

/// Normalises an inclusive LRANGE/LTRIM range; None if it is empty.
fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { start + len } else { start };
    let mut e = if end < 0 { end + len } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

/// LEFT / RIGHT: true for the head.
fn side(arg: &[u8]) -> Result<bool, Error> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

// ---------------------------------------------------------------------------
// Pushes.
// ---------------------------------------------------------------------------

fn push_cmd(ctx: &mut Ctx, a: &[Bytes], front: bool, only_existing: bool) -> CmdResult {
    let n = push_to(ctx, &a[1], &a[2..], front, only_existing)?;
    ctx.out.int(n as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    push_cmd(ctx, a, true, false)
}

fn rpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    push_cmd(ctx, a, false, false)
}

fn lpushx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    push_cmd(ctx, a, true, true)
}

fn rpushx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    push_cmd(ctx, a, false, true)
}

// ---------------------------------------------------------------------------
// Pops.
// ---------------------------------------------------------------------------

fn pop_cmd(ctx: &mut Ctx, a: &[Bytes], front: bool, name: &str) -> CmdResult {
    if a.len() > 3 {
        return Err(errors::wrong_arity(name));
    }
    let count = match a.get(2) {
        Some(c) => Some(
            parse_i64(c)
                .filter(|n| *n >= 0)
                .ok_or_else(|| Error::msg("ERR value is out of range, must be positive"))?
                as usize,
        ),
        None => None,
    };
    let lim = limits(ctx);
    let key = &a[1];
    let (l, out) = list_and_out(ctx, key, false)?;
    let Some(l) = l else {
        match count {
            Some(_) => out.null_array(),
            None => out.null(),
        }
        return Ok(());
    };
    let popped = match count {
        None => l.pop_with(front, 1, &lim, |e| reply_elem(out, e)),
        Some(n) => {
            let n = n.min(l.len());
            out.array(n);
            l.pop_with(front, n, &lim, |e| reply_elem(out, e))
        }
    };
    let emptied = l.is_empty();
    if popped > 0 {
        ctx.notify(notify::LIST, if front { "lpop" } else { "rpop" }, key);
        if emptied {
            ctx.remove_if_empty(key);
        }
        ctx.dirty(popped as u64);
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    pop_cmd(ctx, a, true, "lpop")
}

fn rpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    pop_cmd(ctx, a, false, "rpop")
}

// ---------------------------------------------------------------------------
// Reads.
// ---------------------------------------------------------------------------

fn llen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (l, out) = list_and_out(ctx, &a[1], true)?;
    out.int(l.map_or(0, |l| l.len() as i64));
    Ok(())
}

fn lrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let start = int_arg(&a[2])?;
    let end = int_arg(&a[3])?;
    let (l, out) = list_and_out(ctx, &a[1], true)?;
    let Some(l) = l else {
        out.array(0);
        return Ok(());
    };
    match range(start, end, l.len()) {
        None => out.array(0),
        Some((s, e)) => {
            out.array(e - s + 1);
            l.for_range(s, e, |x| reply_elem(out, x));
        }
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (l, out) = list_and_out(ctx, &a[1], true)?;
    let Some(l) = l else {
        out.null();
        return Ok(());
    };
    let i = int_arg(&a[2])?;
    let len = l.len() as i64;
    let i = if i < 0 { i + len } else { i };
    match (0..len).contains(&i).then(|| l.get(i as usize)).flatten() {
        Some(e) => reply_elem(out, e),
        None => out.null(),
    }
    Ok(())
}

fn lpos(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut j = 3;
    while j < a.len() {
        let opt = &a[j];
        let Some(val) = a.get(j + 1) else {
            return Err(Error::Syntax);
        };
        if is(opt, "rank") {
            rank = int_arg(val)?;
            if rank == i64::MIN {
                // Redis 7.2 keeps the rank negatable.
                return Err(Error::msg(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            if rank == 0 {
                return Err(Error::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(opt, "count") {
            count = Some(
                parse_i64(val)
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| Error::msg("ERR COUNT can't be negative"))?
                    as usize,
            );
        } else if is(opt, "maxlen") {
            maxlen = parse_i64(val)
                .filter(|n| *n >= 0)
                .ok_or_else(|| Error::msg("ERR MAXLEN can't be negative"))?
                as usize;
        } else {
            return Err(Error::Syntax);
        }
        j += 2;
    }
    let (l, out) = list_and_out(ctx, &a[1], true)?;
    let found = match l {
        Some(l) => l.positions(&a[2], rank, count.unwrap_or(1), maxlen),
        None => Vec::new(),
    };
    match count {
        Some(_) => {
            out.array(found.len());
            for p in found {
                out.int(p as i64);
            }
        }
        None => match found.first() {
            Some(&p) => out.int(p as i64),
            None => out.null(),
        },
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In-place writes.
// ---------------------------------------------------------------------------

fn lset(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lim = limits(ctx);
    let Some(l) = write_list(ctx, &a[1])? else {
        return Err(Error::NoSuchKey);
    };
    let i = int_arg(&a[2])?;
    let len = l.len() as i64;
    let i = if i < 0 { i + len } else { i };
    if !(0..len).contains(&i) {
        return Err(Error::msg("ERR index out of range"));
    }
    l.set(i as usize, &a[3], &lim);
    ctx.dirty(1);
    ctx.notify(notify::LIST, "lset", &a[1]);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let before = if is(&a[2], "before") {
        true
    } else if is(&a[2], "after") {
        false
    } else {
        return Err(Error::Syntax);
    };
    let lim = limits(ctx);
    let Some(l) = write_list(ctx, &a[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    if !l.insert(&a[3], &a[4], before, &lim) {
        ctx.out.int(-1);
        return Ok(());
    }
    let n = l.len();
    ctx.signal_ready(&a[1]);
    ctx.dirty(1);
    ctx.notify(notify::LIST, "linsert", &a[1]);
    ctx.out.int(n as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let count = int_arg(&a[2])?;
    let lim = limits(ctx);
    let Some(l) = write_list(ctx, &a[1])? else {
        ctx.out.int(0);
        return Ok(());
    };
    let removed = l.remove(&a[3], count, &lim);
    if removed > 0 {
        ctx.notify(notify::LIST, "lrem", &a[1]);
        ctx.remove_if_empty(&a[1]);
        ctx.dirty(removed as u64);
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let start = int_arg(&a[2])?;
    let end = int_arg(&a[3])?;
    let lim = limits(ctx);
    let Some(l) = write_list(ctx, &a[1])? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len();
    match range(start, end, len) {
        None => {
            ctx.db().remove(&a[1]);
            ctx.dirty(len as u64);
            ctx.notify(notify::LIST, "ltrim", &a[1]);
            ctx.notify(notify::GENERIC, "del", &a[1]);
        }
        Some((s, e)) => {
            if s > 0 || e + 1 < len {
                l.trim(s, e, &lim);
                ctx.dirty((len - (e - s + 1)) as u64);
            }
            ctx.notify(notify::LIST, "ltrim", &a[1]);
        }
    }
    ctx.out.ok();
    Ok(())
}

// ---------------------------------------------------------------------------
// Moves.
// ---------------------------------------------------------------------------

/// LMOVE's work: pops from `src`, pushes to `dst` and replies with the
/// element. Ok(false), with nothing replied, if `src` does not exist.
fn move_elem(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<bool, Error> {
    let lim = limits(ctx);
    if write_list(ctx, src)?.is_none() {
        return Ok(false);
    }
    // The destination's type is checked before anything changes.
    write_list(ctx, dst)?;
    let Some(l) = write_list(ctx, src)? else {
        return Ok(false);
    };
    let Some(v) = l.pop(from_left, &lim) else {
        return Ok(false);
    };
    let pop_event = if from_left { "lpop" } else { "rpop" };
    if src == dst {
        // A rotation: the list never becomes empty, nor loses its TTL.
        l.push(&[&v], to_left, &lim);
        ctx.signal_ready(dst);
        ctx.notify(notify::LIST, if to_left { "lpush" } else { "rpush" }, dst);
        ctx.notify(notify::LIST, pop_event, src);
    } else {
        // Redis announces the push before the pop that fed it.
        push_to(ctx, dst, &[Bytes::copy_from_slice(&v)], to_left, false)?;
        ctx.notify(notify::LIST, pop_event, src);
        ctx.remove_if_empty(src);
    }
    ctx.dirty(1);
    ctx.out.bulk(&v);
    Ok(true)
}

fn lmove(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let from = side(&a[3])?;
    let to = side(&a[4])?;
    if !move_elem(ctx, &a[1], &a[2], from, to)? {
        ctx.out.null();
    }
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if !move_elem(ctx, &a[1], &a[2], false, true)? {
        ctx.out.null();
    }
    Ok(())
}

fn blmove_generic(
    ctx: &mut Ctx,
    src: &Bytes,
    dst: &Bytes,
    from: bool,
    to: bool,
    timeout: &[u8],
) -> CmdResult {
    let timeout = parse_timeout(timeout)?;
    if !move_elem(ctx, src, dst, from, to)? {
        ctx.block_on(vec![src.to_vec()], timeout, TimeoutReply::NullArray);
    }
    Ok(())
}

fn blmove(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let from = side(&a[3])?;
    let to = side(&a[4])?;
    blmove_generic(ctx, &a[1], &a[2], from, to, &a[5])
}

fn brpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    blmove_generic(ctx, &a[1], &a[2], false, true, &a[3])
}

// ---------------------------------------------------------------------------
// Multi-key pops.
// ---------------------------------------------------------------------------

/// Pops from the first non-empty list among `keys`: up to `count`
/// elements, or one when `count` is None (BLPOP's reply shape). Replies and
/// returns the index of the key popped from, or None with nothing replied.
fn pop_first(
    ctx: &mut Ctx,
    keys: &[Bytes],
    front: bool,
    count: Option<usize>,
) -> Result<Option<usize>, Error> {
    let lim = limits(ctx);
    for (ki, key) in keys.iter().enumerate() {
        let (l, out) = list_and_out(ctx, key, false)?;
        let Some(l) = l else { continue };
        if l.is_empty() {
            continue;
        }
        out.array(2);
        out.bulk(key);
        let popped = match count {
            None => l.pop_with(front, 1, &lim, |e| reply_elem(out, e)),
            Some(n) => {
                let n = n.min(l.len());
                out.array(n);
                l.pop_with(front, n, &lim, |e| reply_elem(out, e))
            }
        };
        ctx.notify(notify::LIST, if front { "lpop" } else { "rpop" }, key);
        ctx.remove_if_empty(key);
        ctx.dirty(popped as u64);
        return Ok(Some(ki));
    }
    Ok(None)
}

fn bpop(ctx: &mut Ctx, a: &[Bytes], front: bool) -> CmdResult {
    let timeout = parse_timeout(&a[a.len() - 1])?;
    let keys = &a[1..a.len() - 1];
    if pop_first(ctx, keys, front, None)?.is_none() {
        let ks = keys.iter().map(|k| k.to_vec()).collect();
        ctx.block_on(ks, timeout, TimeoutReply::NullArray);
    }
    Ok(())
}

fn blpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bpop(ctx, a, true)
}

fn brpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bpop(ctx, a, false)
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` starting at `a[at]`:
/// (keys, front, count).
fn parse_mpop(a: &[Bytes], at: usize) -> Result<(&[Bytes], bool, usize), Error> {
    let numkeys = parse_i64(&a[at])
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::msg("ERR numkeys should be greater than 0"))?
        as u64;
    let where_at = (at as u64 + 1).saturating_add(numkeys);
    if where_at >= a.len() as u64 {
        return Err(Error::Syntax);
    }
    let where_at = where_at as usize;
    let keys = &a[at + 1..where_at];
    let front = side(&a[where_at])?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        if is(&a[j], "count") && j + 1 < a.len() && count.is_none() {
            count = Some(
                parse_i64(&a[j + 1])
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::msg("ERR count should be greater than 0"))?
                    as usize,
            );
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    Ok((keys, front, count.unwrap_or(1)))
}

/// LMPOP's work; the popped key's watchers are told here since the table
/// has no fixed key positions for it.
fn mpop(ctx: &mut Ctx, keys: &[Bytes], front: bool, count: usize) -> Result<bool, Error> {
    match pop_first(ctx, keys, front, Some(count))? {
        Some(ki) => {
            touched(ctx, &keys[ki]);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn lmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (keys, front, count) = parse_mpop(a, 1)?;
    if !mpop(ctx, keys, front, count)? {
        ctx.out.null_array();
    }
    Ok(())
}

fn blmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (keys, front, count) = parse_mpop(a, 2)?;
    let timeout = parse_timeout(&a[1])?;
    if !mpop(ctx, keys, front, count)? {
        let ks = keys.iter().map(|k| k.to_vec()).collect();
        ctx.block_on(ks, timeout, TimeoutReply::NullArray);
    }
    Ok(())
}
