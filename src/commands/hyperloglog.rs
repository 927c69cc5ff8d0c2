//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE and the PFDEBUG /
//! PFSELFTEST diagnostics. A sketch is an ordinary string value in Redis's
//! byte layout (see `db::hll`), so every string command works on it too.
//!
//! As in Redis, PFCOUNT of one key stores the estimate in the sketch's header
//! (a write to a read-only command, counted as a change), PFCOUNT of several
//! keys merges them into scratch registers without touching any, and PFMERGE
//! merges the destination's own registers with the sources'.

use bytes::Bytes;

use super::{
    cmd, is, Command, Keys, ADMIN, C_HYPERLOGLOG, DENYOOM, FAST, KEY1, NO_KEYS, READONLY, WRITE,
};
use crate::config::D;
use crate::db::hll::{self, Corrupt, REGISTERS};
use crate::db::thin::ThinBuf;
use crate::db::{StrVal, Value};
use crate::errors::{self, CmdResult, Error};
use crate::server::{notify, Ctx};

const G: &str = "hyperloglog";
const ALL: Keys = Keys {
    first: 1,
    last: -1,
    step: 1,
};

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    cmd("pfadd", -2, WRITE | DENYOOM | FAST, KEY1, C_HYPERLOGLOG, pfadd, G, "2.8.9", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist."),
    cmd("pfcount", -2, READONLY, ALL, C_HYPERLOGLOG, pfcount, G, "2.8.9", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)."),
    cmd("pfmerge", -2, WRITE | DENYOOM, ALL, C_HYPERLOGLOG, pfmerge, G, "2.8.9", "Merges one or more HyperLogLog values into a single key."),
    cmd("pfdebug", 3, WRITE | DENYOOM | ADMIN, Keys { first: 2, last: 2, step: 1 }, C_HYPERLOGLOG, pfdebug, G, "2.8.9", "Internal commands for debugging HyperLogLog values."),
    cmd("pfselftest", 1, ADMIN, NO_KEYS, C_HYPERLOGLOG, pfselftest, G, "2.8.9", "An internal command for testing HyperLogLog values."),
];

fn invalid(_: Corrupt) -> Error {
    Error::msg(errors::HLL_CORRUPT)
}

/// The sketch at `key`: None if missing, WRONGTYPE for other types and for
/// strings that are not sketches. `read` counts a keyspace hit or miss.
fn sketch<'a>(ctx: &'a mut Ctx, key: &[u8], read: bool) -> Result<Option<&'a mut StrVal>, Error> {
    let Some(s) = super::typed(ctx.lookup_with_out(key, read).0, Value::as_str_mut)? else {
        return Ok(None);
    };
    let ok = match s {
        StrVal::Emb(b) | StrVal::Raw(b) => hll::is_valid(b.as_slice()),
        // A sketch's header alone is longer than any Tiny string.
        StrVal::Int(_) | StrVal::IntCopy(_) | StrVal::Tiny(_) => false,
    };
    if !ok {
        return Err(Error::msg(errors::HLL_WRONGTYPE));
    }
    Ok(Some(s))
}

/// Runs `f` on a copy of the sketch's bytes (sparse edits change its size)
/// and stores the result back, even when `f` fails half-way, as Redis keeps
/// the registers it already changed.
fn edit<R>(s: &mut StrVal, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let raw = s.make_raw();
    let mut v = raw.as_slice().to_vec();
    let r = f(&mut v);
    *raw = ThinBuf::from_slice(&v);
    r
}

fn sparse_max(ctx: &Ctx) -> usize {
    ctx.srv.cfg.int(D::HLL_SPARSE_MAX_BYTES).max(0) as usize
}

/// Adds elements; the number of registers changed.
fn add_all(b: &mut Vec<u8>, elems: &[Bytes], sparse_max: usize) -> Result<u64, Corrupt> {
    let mut changed = 0;
    for e in elems {
        changed += hll::add(b, e, sparse_max)? as u64;
    }
    Ok(changed)
}

fn pfadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let max = sparse_max(ctx);
    let (key, elems) = (&a[1], &a[2..]);
    let (mut updated, res) = match sketch(ctx, key, false)? {
        Some(s) => {
            let dense = matches!(s, StrVal::Raw(b) if !hll::is_sparse(b.as_slice()));
            let res = if dense {
                // Dense sketches have a fixed size: edit them in place.
                let b = s.make_raw().as_mut_slice();
                Ok(elems
                    .iter()
                    .map(|e| {
                        let (i, c) = hll::pattern(e);
                        hll::dense_set(b, i, c) as u64
                    })
                    .sum())
            } else {
                edit(s, |b| add_all(b, elems, max))
            };
            (0, res)
        }
        None => {
            let mut b = hll::new_sparse();
            let res = add_all(&mut b, elems, max);
            let now = ctx.now_ms;
            ctx.db()
                .add(key, Value::Str(StrVal::Raw(ThinBuf::from_slice(&b))), now);
            (1, res)
        }
    };
    updated += res.map_err(invalid)?;
    if updated > 0 {
        if let Some(s) = sketch(ctx, key, false)? {
            hll::invalidate(s.make_raw().as_mut_slice());
        }
        ctx.notify(notify::STRING, "pfadd", key);
        ctx.dirty(updated);
    }
    ctx.out.int((updated > 0) as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 2 {
        let mut max = Box::new([0u8; REGISTERS]);
        for k in &a[1..] {
            if let Some(s) = sketch(ctx, k, true)? {
                hll::merge_into(&s.as_bytes(), &mut max).map_err(invalid)?;
            }
        }
        ctx.out.int(hll::count_registers(&max) as i64);
        return Ok(());
    }
    let Some(s) = sketch(ctx, &a[1], false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let b = s.make_raw().as_mut_slice();
    let card = match hll::cached(b) {
        Some(c) => c,
        None => {
            let c = hll::count(b).map_err(invalid)?;
            hll::set_cache(b, c);
            ctx.dirty(1);
            c
        }
    };
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut any_dense = false;
    // The destination's registers take part too.
    for k in &a[1..] {
        if let Some(s) = sketch(ctx, k, true)? {
            let b = s.as_bytes();
            any_dense |= !hll::is_sparse(&b);
            hll::merge_into(&b, &mut max).map_err(invalid)?;
        }
    }
    let sparse_max = sparse_max(ctx);
    let dst = &a[1];
    if sketch(ctx, dst, false)?.is_none() {
        let now = ctx.now_ms;
        let v = Value::Str(StrVal::Raw(ThinBuf::from_slice(&hll::new_sparse())));
        ctx.db().add(dst, v, now);
    }
    if let Some(s) = sketch(ctx, dst, false)? {
        edit(s, |b| -> Result<(), Corrupt> {
            if any_dense {
                hll::to_dense(b)?;
            }
            for (i, &m) in max.iter().enumerate() {
                if m > 0 {
                    hll::set(b, i, m, sparse_max)?;
                }
            }
            hll::invalidate(b);
            Ok(())
        })
        .map_err(invalid)?;
    }
    ctx.notify(notify::STRING, "pfadd", dst);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    let Some(s) = sketch(ctx, &a[2], false)? else {
        return Err(Error::msg("ERR The specified key does not exist"));
    };
    let sparse = hll::is_sparse(&s.as_bytes());
    if is(sub, "getreg") || is(sub, "todense") {
        if sparse {
            edit(s, hll::to_dense).map_err(invalid)?;
        }
        if is(sub, "todense") {
            ctx.out.int(sparse as i64);
        } else {
            let b = s.as_bytes().into_owned();
            ctx.out.array(REGISTERS);
            for r in hll::dense_registers(&b) {
                ctx.out.int(r as i64);
            }
        }
        if sparse {
            ctx.dirty(1);
        }
    } else if is(sub, "decode") {
        if !sparse {
            return Err(Error::msg("ERR HLL encoding is not sparse"));
        }
        let text = hll::describe_sparse(&s.as_bytes());
        ctx.out.bulk(text.as_bytes());
    } else if is(sub, "encoding") {
        ctx.out.simple(if sparse { "sparse" } else { "dense" });
    } else {
        return Err(errors::quoting("Unknown PFDEBUG subcommand '", sub, "'"));
    }
    Ok(())
}

/// A quick consistency check of the sketch code: the same elements give
/// the same registers and estimate sparse and dense, and the estimate is
/// within a few standard errors of the truth.
fn pfselftest(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let mut sparse = hll::new_sparse();
    let mut dense = hll::new_sparse();
    let mut failed = hll::to_dense(&mut dense).is_err();
    let n = 10_000u64;
    for i in 0..n {
        let e = i.to_le_bytes();
        failed |=
            hll::add(&mut sparse, &e, usize::MAX).is_err() || hll::add(&mut dense, &e, 0).is_err();
    }
    let (cs, cd) = (hll::count(&sparse), hll::count(&dense));
    failed |= cs != cd || hll::is_sparse(&dense);
    if let Ok(c) = cd {
        // Standard error 1.04 / sqrt(16384) = 0.81%; allow five of them.
        failed |= (c as f64 - n as f64).abs() > n as f64 * 0.0406;
    }
    if failed {
        return Err(Error::msg("ERR TESTFAILED HyperLogLog self test failed"));
    }
    ctx.out.ok();
    Ok(())
}
