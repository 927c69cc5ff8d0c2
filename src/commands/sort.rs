//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted
//! numerically or as strings, by themselves or by values found through a
//! key pattern (`BY weight_*`, `BY h_*->field`), windowed by LIMIT, mapped
//! through GET patterns, and optionally stored as a list (STORE).
//!
//! Without sorting (`BY` a pattern with no `*`), lists and sorted sets keep
//! their own order (reversed by DESC) and sets their iteration order; a set
//! sorted for STORE or from a script is sorted as strings anyway, so that
//! what is stored (and replayed from the AOF) does not depend on hash-table
//! order.

use std::cmp::Ordering;

use bytes::Bytes;

use super::{
    cmd, is, Command, KeyFind, C_DANGEROUS, C_LIST, C_SET, C_SORTEDSET, DENYOOM, KEY1,
    MOVABLE_KEYS, READONLY, WRITE,
};
use crate::db::list::{Limits, List};
use crate::db::Value;
use crate::errors::{self, CmdResult, Error};
use crate::server::{notify, Ctx};
use crate::util::num::parse_f64;

const G: &str = "generic";
const CATS: u64 = C_SET | C_SORTEDSET | C_LIST | C_DANGEROUS;

pub static COMMANDS: &[Command] = &[
    cmd(
        "sort",
        -2,
        WRITE | DENYOOM | MOVABLE_KEYS,
        KEY1,
        CATS,
        sort,
        G,
        "1.0.0",
        "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
    )
    .find_keys(KeyFind::OneAfterWord { word: "store" }),
    cmd(
        "sort_ro",
        -2,
        READONLY | MOVABLE_KEYS,
        KEY1,
        CATS,
        sort_ro,
        G,
        "7.0.0",
        "Returns the sorted elements of a list, a set, or a sorted set.",
    ),
];

struct Opts<'a> {
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: keep the collection's order.
    dont_sort: bool,
    offset: i64,
    count: i64,
    gets: Vec<&'a [u8]>,
    desc: bool,
    alpha: bool,
    store: Option<&'a Bytes>,
}

fn parse(a: &[Bytes], read_only: bool) -> Result<Opts<'_>, Error> {
    let mut o = Opts {
        by: None,
        dont_sort: false,
        offset: 0,
        count: -1,
        gets: Vec::new(),
        desc: false,
        alpha: false,
        store: None,
    };
    let mut j = 2;
    while j < a.len() {
        let rest = a.len() - j - 1;
        let w = &a[j];
        if is(w, "asc") {
            o.desc = false;
        } else if is(w, "desc") {
            o.desc = true;
        } else if is(w, "alpha") {
            o.alpha = true;
        } else if is(w, "limit") && rest >= 2 {
            o.offset = super::int_arg(&a[j + 1])?;
            o.count = super::int_arg(&a[j + 2])?;
            j += 2;
        } else if is(w, "store") && rest >= 1 && !read_only {
            o.store = Some(&a[j + 1]);
            j += 1;
        } else if is(w, "by") && rest >= 1 {
            o.by = Some(&a[j + 1]);
            // Once a BY without `*` is seen, a later BY does not sort again.
            o.dont_sort |= !a[j + 1].contains(&b'*');
            j += 1;
        } else if is(w, "get") && rest >= 1 {
            o.gets.push(&a[j + 1]);
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

fn sort(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    sort_generic(ctx, a, false)
}

fn sort_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    sort_generic(ctx, a, true)
}

/// The value a BY or GET pattern names for element `elem`: `#` is the
/// element itself; otherwise the first `*` is replaced by the element and
/// the result names a string key, or with `->field` a hash field. Missing
/// keys, fields or other types give None.
fn lookup_pattern(ctx: &mut Ctx, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = memchr::memchr(b'*', pattern)?;
    let arrow = memchr::memmem::find(&pattern[star + 1..], b"->")
        .map(|i| star + 1 + i)
        .filter(|&i| i + 2 < pattern.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let key = [&pattern[..star], elem, &pattern[star + 1..key_end]].concat();
    let e = ctx.lookup_with_out(&key, true).0?;
    match (arrow, &e.val) {
        (Some(i), Value::Hash(h)) => h.get(&pattern[i + 2..]).map(<[u8]>::to_vec),
        (None, Value::Str(s)) => Some(s.as_bytes().into_owned()),
        _ => None,
    }
}

/// The elements to sort, in the collection's own order; None for a missing
/// key.
fn load(ctx: &mut Ctx, key: &[u8]) -> Result<Option<(Vec<Vec<u8>>, bool)>, Error> {
    let Some(e) = ctx.lookup_with_out(key, true).0 else {
        return Ok(None);
    };
    let mut v = Vec::new();
    let is_set = match &e.val {
        Value::List(l) => {
            v.extend(l.iter().map(|x| x.to_vec()));
            false
        }
        Value::Set(s) => {
            v.extend(s.iter().map(|x| x.to_vec()));
            true
        }
        Value::ZSet(z) => {
            z.walk(0, z.len(), false, |m, _| {
                v.push(m.to_vec());
                true
            });
            false
        }
        _ => return Err(Error::WrongType),
    };
    Ok(Some((v, is_set)))
}

/// A numeric sort weight as Redis reads it (`strtod`): leading spaces are
/// fine, the text ends at a NUL, an empty string is 0; NaN, overflow and
/// trailing garbage are errors.
fn weight(b: &[u8]) -> Option<f64> {
    let b = &b[..memchr::memchr(0, b).unwrap_or(b.len())];
    if b.is_empty() {
        return Some(0.0);
    }
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))?;
    parse_f64(&b[start..])
}

enum Key {
    Num(f64),
    Str(Option<Vec<u8>>),
}

fn sort_generic(ctx: &mut Ctx, a: &[Bytes], read_only: bool) -> CmdResult {
    let mut o = parse(a, read_only)?;
    let (mut elems, is_set) = load(ctx, &a[1])?.unwrap_or_default();
    if o.dont_sort && is_set && (o.store.is_some() || ctx.srv.scripting.running.is_some()) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let n = elems.len() as i64;
    // The LIMIT window, as indexes into the sorted elements.
    let start = o.offset.max(0);
    let mut end = if o.count < 0 {
        n - 1
    } else {
        start.saturating_add(o.count) - 1
    };
    let start = if start >= n {
        end = n - 2;
        n - 1
    } else {
        start
    };
    end = end.min(n - 1);

    if o.dont_sort {
        // Lists and sorted sets keep their order, reversed by DESC.
        if o.desc && !is_set {
            elems.reverse();
        }
    } else {
        let mut keyed = Vec::with_capacity(elems.len());
        let mut bad = false;
        for e in elems {
            let by = match o.by {
                Some(p) => lookup_pattern(ctx, p, &e),
                None => None,
            };
            let k = if o.alpha {
                Key::Str(by)
            } else {
                let src = if o.by.is_some() {
                    by.as_deref()
                } else {
                    Some(&e[..])
                };
                match src.map(weight) {
                    None => Key::Num(0.0),
                    Some(Some(w)) => Key::Num(w),
                    Some(None) => {
                        bad = true;
                        Key::Num(0.0)
                    }
                }
            };
            keyed.push((k, e));
        }
        if bad {
            return Err(Error::msg(errors::SORT_SCORE));
        }
        let by_pattern = o.by.is_some();
        keyed.sort_by(|(ka, ea), (kb, eb)| {
            let c = match (ka, kb) {
                (Key::Num(x), Key::Num(y)) => x
                    .partial_cmp(y)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| ea.cmp(eb)),
                // A missing BY value sorts first; equal values stay as they are.
                (Key::Str(x), Key::Str(y)) if by_pattern => x.cmp(y),
                _ => ea.cmp(eb),
            };
            if o.desc {
                c.reverse()
            } else {
                c
            }
        });
        elems = keyed.into_iter().map(|(_, e)| e).collect();
    }

    let window: &[Vec<u8>] = if start <= end && start >= 0 {
        &elems[start as usize..=end as usize]
    } else {
        &[]
    };
    // Each element gives one value per GET pattern (or itself).
    let mut out: Vec<Option<Vec<u8>>> = Vec::with_capacity(window.len() * o.gets.len().max(1));
    for e in window {
        if o.gets.is_empty() {
            out.push(Some(e.clone()));
        }
        for g in &o.gets {
            out.push(lookup_pattern(ctx, g, e));
        }
    }
    match o.store {
        None => {
            ctx.out.array(out.len());
            for v in &out {
                match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dest) => store(ctx, dest, out)?,
    }
    Ok(())
}

/// Stores the result as a list (missing values as empty strings); an
/// empty result deletes `dest`.
fn store(ctx: &mut Ctx, dest: &[u8], vals: Vec<Option<Vec<u8>>>) -> CmdResult {
    let n = vals.len();
    let now = ctx.now_ms;
    if n == 0 {
        if ctx.db().remove(dest).is_some() {
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "del", dest);
        }
    } else {
        let lim = Limits::from_fill(ctx.srv.cfg.int(crate::config::D::LIST_MAX_LISTPACK_SIZE));
        let vals: Vec<Vec<u8>> = vals.into_iter().map(Option::unwrap_or_default).collect();
        let mut list = List::new();
        list.push(&vals, false, &lim);
        ctx.db().set(dest, Value::List(Box::new(list)), false, now);
        ctx.dirty(n as u64);
        ctx.notify(notify::LIST, "sortstore", dest);
        ctx.signal_ready(dest);
    }
    ctx.out.int(n as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::weight;

    #[test]
    fn weights_read_like_strtod() {
        assert_eq!(weight(b""), Some(0.0));
        assert_eq!(weight(b" 1.5"), Some(1.5));
        assert_eq!(weight(b"2\0junk"), Some(2.0));
        assert_eq!(weight(b"0x10"), Some(16.0));
        assert_eq!(weight(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(weight(b"nan"), None);
        assert_eq!(weight(b"1e400"), None);
        assert_eq!(weight(b"1x"), None);
        assert_eq!(weight(b"  "), None);
    }
}
