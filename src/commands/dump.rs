//! DUMP and RESTORE: a value serialised in its RDB encoding, followed by
//! the RDB version and a CRC-64 (see `persist::rdb::dump_value`), so that
//! payloads move between Redust and Redis in both directions.

use bytes::Bytes;

use super::{cmd, int_arg, is, Command, C_KEYSPACE, DENYOOM, KEY1, READONLY, WRITE};
use crate::db::{access, Value};
use crate::errors::{CmdResult, Error};
use crate::persist::rdb;
use crate::server::{notify, Ctx};

const G: &str = "generic";

pub static COMMANDS: &[Command] = &[
    cmd(
        "dump",
        2,
        READONLY,
        KEY1,
        C_KEYSPACE,
        dump,
        G,
        "2.6.0",
        "Returns a serialized representation of the value stored at a key.",
    ),
    cmd(
        "restore",
        -4,
        WRITE | DENYOOM,
        KEY1,
        C_KEYSPACE | super::C_DANGEROUS,
        restore,
        G,
        "2.6.0",
        "Creates a key from the serialized representation of a value.",
    ),
];

fn dump(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (e, out) = ctx.lookup_with_out(&a[1], true);
    match e {
        Some(e) => out.bulk(&rdb::dump_value(&e.val).map_err(Error::err)?),
        None => out.null(),
    }
    Ok(())
}

/// RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f].
pub(crate) fn restore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut i = 4;
    while i < a.len() {
        let more = i + 1 < a.len();
        if is(&a[i], "replace") {
            replace = true;
        } else if is(&a[i], "absttl") {
            absttl = true;
        } else if is(&a[i], "idletime") && more && freq.is_none() {
            let v = int_arg(&a[i + 1])?;
            if v < 0 {
                return Err(Error::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            i += 1;
        } else if is(&a[i], "freq") && more && idle.is_none() {
            let v = int_arg(&a[i + 1])?;
            if !(0..=255).contains(&v) {
                return Err(Error::msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v as u8);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    let ttl = int_arg(&a[2])?;
    let now = ctx.now_ms;
    let key = &a[1];
    if !replace && ctx.db().exists(key, now) {
        return Err(Error::msg("BUSYKEY Target key name already exists."));
    }
    if ttl < 0 {
        return Err(Error::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let body = rdb::payload_body(&a[3])
        .ok_or_else(|| Error::msg("ERR DUMP payload version or checksum are wrong"))?;
    let lim = ctx.srv.type_limits();
    let val = rdb::restore_value(body, &lim).map_err(|_| Error::msg("ERR Bad data format"))?;
    let at = match (ttl, absttl) {
        (0, _) => None,
        (t, true) => Some(t),
        (t, false) => Some(
            t.checked_add(now)
                .ok_or_else(|| Error::msg("ERR Invalid TTL value, must be >= 0"))?,
        ),
    };
    let blocking_kind = matches!(val, Value::List(_) | Value::ZSet(_) | Value::Stream(_));
    let db = ctx.db();
    let existed = db.remove(key).is_some();
    // Already expired (and not loading): the key is just gone.
    if at.is_some_and(|t| t <= now) {
        if existed {
            ctx.dirty(1);
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.out.ok();
        return Ok(());
    }
    db.add(key, val, now);
    if let Some(t) = at {
        db.set_expire(key, t);
    }
    if let Some(e) = db.entry_mut(key) {
        if let Some(s) = idle.filter(|_| !access::lfu_mode()) {
            e.lru = access::lru_clock(now.saturating_sub(s.saturating_mul(1000)));
        }
        if let Some(f) = freq.filter(|_| access::lfu_mode()) {
            e.lru = (access::fresh(now) & !0xFF) | f as u32;
        }
    }
    if blocking_kind {
        ctx.signal_ready(key);
    }
    ctx.dirty(1);
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.out.ok();
    Ok(())
}
