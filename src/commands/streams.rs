//! Stream commands (XADD ... XSETID). The structure is `db::stream::Stream`.
//!
//! What these commands leave in the AOF follows Redis: XADD with an
//! automatic or partial ID is propagated with the ID it got, and an
//! approximate trim (`~`) as the exact one it turned into; XREADGROUP,
//! XCLAIM and XAUTOCLAIM propagate their effect on the group as XCLAIM ...
//! FORCE JUSTID LASTID per delivered entry, XGROUP SETID for the group's
//! position and XGROUP CREATECONSUMER where no XCLAIM would create the
//! consumer. Additions signal blocked readers; deleting a stream or a group
//! they wait on wakes XREADGROUP readers with Redis's errors.

use std::time::Duration;

use bytes::Bytes;

use super::{
    cmd, container, int_arg, is, Command, Keys, C_STREAM, DENYOOM, FAST, KEY1, LOADING, READONLY,
    STALE, WRITE,
};
use crate::config::D;
use crate::db::stream::{
    parse_u64, AddError, Consumer, Fields, Group, NodeLimits, Stream, StreamId, Trim,
    ENTRIES_READ_INVALID,
};
use crate::db::Value;
use crate::errors::{self, CmdResult, Error};
use crate::resp::Out;
use crate::server::blocking::TimeoutReply;
use crate::server::notify;
use crate::server::Ctx;

const G: &str = "stream";

const KEY2: Keys = Keys {
    first: 2,
    last: 2,
    step: 1,
};

const STREAMS: super::KeyFind = super::KeyFind::AfterWord {
    word: "streams",
    half: true,
};

pub static COMMANDS: &[Command] = &[
    cmd("xadd", -5, WRITE | DENYOOM | FAST, KEY1, C_STREAM, xadd, G, "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist."),
    cmd("xlen", 2, READONLY | FAST, KEY1, C_STREAM, xlen, G, "5.0.0", "Return the number of messages in a stream."),
    cmd("xrange", -4, READONLY, KEY1, C_STREAM, xrange, G, "5.0.0", "Returns the messages from a stream within a range of IDs."),
    cmd("xrevrange", -4, READONLY, KEY1, C_STREAM, xrevrange, G, "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order."),
    cmd("xdel", -3, WRITE | FAST, KEY1, C_STREAM, xdel, G, "5.0.0", "Returns the number of messages after removing them from a stream."),
    cmd("xtrim", -4, WRITE, KEY1, C_STREAM, xtrim, G, "5.0.0", "Deletes messages from the beginning of a stream."),
    cmd("xread", -4, READONLY | super::BLOCKING | super::MOVABLE_KEYS, super::NO_KEYS, C_STREAM, xread, G, "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.").find_keys(STREAMS),
    cmd("xreadgroup", -7, WRITE | super::BLOCKING | super::MOVABLE_KEYS, super::NO_KEYS, C_STREAM, xreadgroup, G, "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.").find_keys(STREAMS),
    cmd("xack", -4, WRITE | FAST, KEY1, C_STREAM, xack, G, "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."),
    cmd("xpending", -3, READONLY, KEY1, C_STREAM, xpending, G, "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list."),
    cmd("xclaim", -6, WRITE | FAST, KEY1, C_STREAM, xclaim, G, "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member."),
    cmd("xautoclaim", -6, WRITE | FAST, KEY1, C_STREAM, xautoclaim, G, "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member."),
    cmd("xsetid", -3, WRITE | DENYOOM | FAST, KEY1, C_STREAM, xsetid, G, "5.0.0", "An internal command for replicating stream values."),
    container("xgroup", 0, G, "5.0.0", "A container for consumer groups commands.", XGROUP_SUBS),
    container("xinfo", 0, G, "5.0.0", "A container for stream introspection commands.", XINFO_SUBS),
];

static XGROUP_SUBS: &[Command] = &[
    cmd(
        "xgroup|create",
        -5,
        WRITE | DENYOOM,
        KEY2,
        C_STREAM,
        xgroup_create,
        G,
        "5.0.0",
        "Creates a consumer group.",
    ),
    cmd(
        "xgroup|setid",
        -5,
        WRITE,
        KEY2,
        C_STREAM,
        xgroup_setid,
        G,
        "5.0.0",
        "Sets the last-delivered ID of a consumer group.",
    ),
    cmd(
        "xgroup|destroy",
        4,
        WRITE,
        KEY2,
        C_STREAM,
        xgroup_destroy,
        G,
        "5.0.0",
        "Destroys a consumer group.",
    ),
    cmd(
        "xgroup|createconsumer",
        5,
        WRITE | DENYOOM,
        KEY2,
        C_STREAM,
        xgroup_createconsumer,
        G,
        "6.2.0",
        "Creates a consumer in a consumer group.",
    ),
    cmd(
        "xgroup|delconsumer",
        5,
        WRITE,
        KEY2,
        C_STREAM,
        xgroup_delconsumer,
        G,
        "5.0.0",
        "Deletes a consumer from a consumer group.",
    ),
    cmd(
        "xgroup|help",
        2,
        LOADING | STALE,
        super::NO_KEYS,
        C_STREAM,
        xgroup_help,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

static XINFO_SUBS: &[Command] = &[
    cmd(
        "xinfo|stream",
        -3,
        READONLY,
        KEY2,
        C_STREAM,
        xinfo_stream,
        G,
        "5.0.0",
        "Returns information about a stream.",
    ),
    cmd(
        "xinfo|groups",
        3,
        READONLY,
        KEY2,
        C_STREAM,
        xinfo_groups,
        G,
        "5.0.0",
        "Returns a list of the consumer groups of a stream.",
    ),
    cmd(
        "xinfo|consumers",
        4,
        READONLY,
        KEY2,
        C_STREAM,
        xinfo_consumers,
        G,
        "5.0.0",
        "Returns a list of the consumers in a consumer group.",
    ),
    cmd(
        "xinfo|help",
        2,
        LOADING | STALE,
        super::NO_KEYS,
        C_STREAM,
        xinfo_help,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const NO_KEY_XGROUP: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

fn invalid_id() -> Error {
    Error::msg(INVALID_ID)
}

/// A strict ID (no `-` / `+`), a missing sequence read as `missing_seq`.
fn strict_id(b: &[u8], missing_seq: u64) -> Result<StreamId, Error> {
    StreamId::parse(b, missing_seq, true).ok_or_else(invalid_id)
}

fn id_bytes(id: StreamId) -> Bytes {
    Bytes::copy_from_slice(&id.text())
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

fn num(n: impl ToString) -> Bytes {
    Bytes::from(n.to_string())
}

/// `NOGROUP No such key '<k>' or consumer group '<g>'<tail>`.
fn nogroup(key: &[u8], group: &[u8], tail: &str) -> Error {
    Error::Bytes(
        [
            &b"NOGROUP No such key '"[..],
            key,
            b"' or consumer group '",
            group,
            b"'",
            tail.as_bytes(),
        ]
        .concat(),
    )
}

/// `NOGROUP No such consumer group '<g>' for key name '<k>'`.
fn nogroup_for_key(key: &[u8], group: &[u8]) -> Error {
    Error::Bytes(
        [
            &b"NOGROUP No such consumer group '"[..],
            group,
            b"' for key name '",
            key,
            b"'",
        ]
        .concat(),
    )
}

pub fn node_limits(ctx: &Ctx) -> NodeLimits {
    NodeLimits {
        bytes: ctx.srv.cfg.int(D::STREAM_NODE_MAX_BYTES).max(0) as usize,
        entries: ctx.srv.cfg.int(D::STREAM_NODE_MAX_ENTRIES).max(0) as usize,
    }
}

/// The stream at `key`; `read` counts a keyspace hit or miss.
fn get<'a>(ctx: &'a mut Ctx, key: &[u8], read: bool) -> Result<Option<&'a mut Stream>, Error> {
    super::typed(ctx.lookup_with_out(key, read).0, Value::as_stream_mut)
}

fn get_with_out<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
    read: bool,
) -> Result<(Option<&'a mut Stream>, &'a mut Out), Error> {
    let (e, out) = ctx.lookup_with_out(key, read);
    Ok((super::typed(e, Value::as_stream_mut)?, out))
}

/// The stream at `key`, created empty if missing.
fn get_or_create<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<&'a mut Stream, Error> {
    let now = ctx.now_ms;
    let db = ctx.db();
    match db
        .lookup(key, now)
        .map(|e| matches!(e.val, Value::Stream(_)))
    {
        Some(false) => return Err(Error::WrongType),
        Some(true) => {}
        None => db.add(key, Value::Stream(Box::default()), now),
    }
    match db.entry_mut(key).map(|e| &mut e.val) {
        Some(Value::Stream(s)) => Ok(s),
        _ => Err(Error::WrongType),
    }
}

/// XREAD's reply: a map in RESP3, an array of [key, entries] pairs in
/// RESP2.
trait KeyedReply {
    fn map_of_pairs(&mut self, n: usize);
    fn pair_key(&mut self, k: &[u8]);
}

impl KeyedReply for Out {
    fn map_of_pairs(&mut self, n: usize) {
        if self.resp3 {
            self.map(n);
        } else {
            self.array(n);
        }
    }

    fn pair_key(&mut self, k: &[u8]) {
        if !self.resp3 {
            self.array(2);
        }
        self.bulk(k);
    }
}

pub fn reply_entry(out: &mut Out, id: StreamId, fields: &Fields) {
    out.array(2);
    out.bulk(&id.text());
    out.array(fields.len());
    for f in fields {
        out.bulk(f);
    }
}

fn reply_id(out: &mut Out, id: StreamId) {
    out.bulk(&id.text());
}

// ---------------------------------------------------------------------------
// XADD / XTRIM
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum IdSpec {
    Auto,
    Partial(u64),
    Explicit(StreamId),
}

#[derive(Debug, Default)]
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Positions of the `~`, the threshold and LIMIT, for propagation.
    approx_at: Option<usize>,
    threshold_at: usize,
    limit_at: Option<usize>,
}

/// Parses XADD's options up to its ID (`xadd`) or XTRIM's arguments.
/// Returns the trim, NOMKSTREAM and the ID with its position.
fn parse_add_trim(
    ctx: &Ctx,
    a: &[Bytes],
    xadd: bool,
) -> Result<(TrimArgs, bool, Option<(IdSpec, usize)>), Error> {
    let mut t = TrimArgs::default();
    let mut nomk = false;
    let mut limit_given = None;
    let mut id = None;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = &a[i];
        if xadd && is(opt, "nomkstream") {
            nomk = true;
        } else if more >= 1 && (is(opt, "maxlen") || is(opt, "minid")) {
            let maxlen = is(opt, "maxlen");
            match (t.how, maxlen) {
                (Some(Trim::MinId(_)), true) | (Some(Trim::MaxLen(_)), false) => {
                    return Err(Error::msg(
                        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                    ))
                }
                _ => {}
            }
            if more >= 2 && (a[i + 1][..] == b"~"[..] || a[i + 1][..] == b"="[..]) {
                t.approx = a[i + 1][..] == b"~"[..];
                t.approx_at = Some(i + 1);
                i += 1;
            }
            let v = &a[i + 1];
            t.how = Some(if maxlen {
                let n = int_arg(v)?;
                if n < 0 {
                    return Err(Error::msg("ERR The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(strict_id(v, 0)?)
            });
            t.threshold_at = i + 1;
            i += 1;
        } else if more >= 1 && is(opt, "limit") {
            let n = int_arg(&a[i + 1])?;
            if n < 0 {
                return Err(Error::msg("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = Some(n as u64);
            t.limit_at = Some(i);
            i += 1;
        } else if xadd {
            let spec = if &opt[..] == b"*" {
                IdSpec::Auto
            } else if opt.len() > 2 && opt.ends_with(b"-*") {
                IdSpec::Partial(parse_u64(&opt[..opt.len() - 2]).ok_or_else(invalid_id)?)
            } else {
                IdSpec::Explicit(strict_id(opt, 0)?)
            };
            id = Some((spec, i));
            break;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    match limit_given {
        // What a replica or the AOF gets after an approximate trim is exact
        // with the LIMIT kept; it must be obeyed without the limit.
        Some(_) if !t.approx && ctx.srv.loading => t.limit = 0,
        Some(_) if !t.approx => {
            return Err(Error::msg(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ))
        }
        Some(n) => t.limit = n,
        None if t.approx => {
            let n = 100 * ctx.srv.cfg.int(D::STREAM_NODE_MAX_ENTRIES);
            t.limit = if n <= 0 || n > 10000 { 10000 } else { n as u64 };
        }
        None => t.limit = 0,
    }
    if ctx.srv.loading {
        t.limit = 0;
    }
    Ok((t, nomk, id))
}

/// Trims per `t`; returns the entries removed.
fn apply_trim(s: &mut Stream, t: &TrimArgs) -> u64 {
    match t.how {
        Some(how) => s.trim(how, t.approx, if t.approx { t.limit } else { 0 }),
        None => 0,
    }
}

/// The arguments to propagate after an approximate trim: `=` and the
/// bound actually reached, so that replay trims exactly as much.
fn exact_trim_args(a: &[Bytes], t: &TrimArgs, s: &Stream) -> Vec<Bytes> {
    let mut v = a.to_vec();
    if let (true, Some(at), Some(how)) = (t.approx, t.approx_at, t.how) {
        v[at] = b("=");
        v[t.threshold_at] = match s.trim_reached(how) {
            Trim::MaxLen(n) => num(n),
            Trim::MinId(id) => id_bytes(id),
        };
    }
    v
}

fn xadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (t, nomk, id) = parse_add_trim(ctx, a, true)?;
    let (spec, id_at) = id.unwrap_or((IdSpec::Auto, a.len()));
    let nf = a.len() - (id_at + 1).min(a.len());
    if nf < 2 || nf % 2 == 1 {
        return Err(errors::wrong_arity("xadd"));
    }
    if spec == IdSpec::Explicit(StreamId::MIN) {
        return Err(Error::msg(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    if nomk && get(ctx, &a[1], false)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let lim = node_limits(ctx);
    let now = ctx.now_ms.max(0) as u64;
    let propagating = ctx.srv.prop.enabled;
    // One keyspace lookup when the stream exists (the usual case).
    let s = match get(ctx, &a[1], false)? {
        Some(s) => s,
        None => get_or_create(ctx, &a[1])?,
    };
    if s.last_id == StreamId::MAX {
        return Err(Error::msg(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let r = match spec {
        IdSpec::Auto => s.next_id(None, None, now),
        IdSpec::Partial(ms) => s.next_id(Some(ms), None, now),
        IdSpec::Explicit(id) => s.next_id(Some(id.ms), Some(id.seq), now),
    };
    let new_id =
        match r {
            Ok(id) => id,
            Err(AddError::TooSmall) => return Err(Error::msg(
                "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            )),
            Err(AddError::Exhausted) => {
                return Err(Error::msg(
                    "ERR The stream has exhausted the last possible ID, unable to add more items",
                ))
            }
        };
    let fields: Fields = a[id_at + 1..]
        .iter()
        .map(|f| f.to_vec().into_boxed_slice())
        .collect();
    s.append(new_id, fields, lim);
    let trimmed = apply_trim(s, &t);
    // Built only when something consumes it (AOF, replicas).
    let prop = propagating.then(|| {
        let mut prop = exact_trim_args(a, &t, s);
        prop[id_at] = id_bytes(new_id);
        prop
    });
    reply_id(ctx.out, new_id);
    ctx.dirty(1);
    ctx.notify(notify::STREAM, "xadd", &a[1]);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", &a[1]);
    }
    if let Some(prop) = prop {
        ctx.propagate(prop);
    }
    ctx.signal_ready(&a[1]);
    Ok(())
}

fn xtrim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (t, _, _) = parse_add_trim(ctx, a, false)?;
    if t.how.is_none() {
        return Err(Error::Syntax);
    }
    let Some(s) = get(ctx, &a[1], false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let n = apply_trim(s, &t);
    let prop = exact_trim_args(a, &t, s);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.dirty(n);
        ctx.notify(notify::STREAM, "xtrim", &a[1]);
        ctx.propagate(prop);
    }
    Ok(())
}

fn xlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = get(ctx, &a[1], true)?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// XRANGE / XREVRANGE
// ---------------------------------------------------------------------------

/// A range bound: `-`, `+`, an ID, or `(` and an ID (exclusive).
fn range_bound(arg: &[u8], start: bool) -> Result<StreamId, Error> {
    let missing = if start { 0 } else { u64::MAX };
    if let Some(rest) = arg.strip_prefix(b"(") {
        let id = StreamId::parse(rest, missing, true).ok_or_else(invalid_id)?;
        return if start {
            id.next()
                .ok_or_else(|| Error::msg("ERR invalid start ID for the interval"))
        } else {
            id.prev()
                .ok_or_else(|| Error::msg("ERR invalid end ID for the interval"))
        };
    }
    StreamId::parse(arg, missing, false).ok_or_else(invalid_id)
}

fn range_generic(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> CmdResult {
    let (sa, ea) = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
    let start = range_bound(sa, true)?;
    let end = range_bound(ea, false)?;
    let mut count: Option<usize> = None;
    let mut j = 4;
    while j < a.len() {
        if is(&a[j], "count") && j + 1 < a.len() {
            count = Some(int_arg(&a[j + 1])?.max(0) as usize);
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let (s, out) = get_with_out(ctx, &a[1], true)?;
    let Some(s) = s else {
        out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        out.null_array();
        return Ok(());
    }
    if start > end {
        out.array(0);
        return Ok(());
    }
    let limit = count.unwrap_or(usize::MAX);
    let r = s.entries.range(start..=end);
    let items: Vec<(&StreamId, &Fields)> = if rev {
        r.rev().take(limit).collect()
    } else {
        r.take(limit).collect()
    };
    out.array(items.len());
    for (id, f) in items {
        reply_entry(out, *id, f);
    }
    Ok(())
}

fn xrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, false)
}

fn xrevrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    range_generic(ctx, a, true)
}

// ---------------------------------------------------------------------------
// XDEL
// ---------------------------------------------------------------------------

fn xdel(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let ids = a[2..]
        .iter()
        .map(|x| strict_id(x, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(s) = get(ctx, &a[1], false)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let n = s.delete(&ids);
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.dirty(n as u64);
        ctx.notify(notify::STREAM, "xdel", &a[1]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum ReadFrom {
    /// Entries after this ID.
    After(StreamId),
    /// XREADGROUP `>`: entries never delivered to the group.
    New,
}

struct ReadArgs<'a> {
    count: usize,
    block: Option<Option<Duration>>,
    noack: bool,
    group: Option<(&'a Bytes, &'a Bytes)>,
    keys: &'a [Bytes],
    ids: &'a [Bytes],
    streams_at: usize,
}

fn parse_read(a: &[Bytes], group_cmd: bool) -> Result<ReadArgs<'_>, Error> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        noack: false,
        group: None,
        keys: &[],
        ids: &[],
        streams_at: 0,
    };
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let o = &a[i];
        if is(o, "block") && more >= 1 {
            let ms = crate::util::num::parse_i64(&a[i + 1])
                .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Error::msg("ERR timeout is negative"));
            }
            r.block = Some((ms > 0).then(|| Duration::from_millis(ms as u64)));
            i += 1;
        } else if is(o, "count") && more >= 1 {
            r.count = int_arg(&a[i + 1])?.max(0) as usize;
            i += 1;
        } else if is(o, "streams") && more >= 1 {
            let n = a.len() - (i + 1);
            if n % 2 != 0 {
                let name = if group_cmd { "XREADGROUP" } else { "XREAD" };
                return Err(Error::err(format!(
                    "Unbalanced {name} list of streams: for each stream key an ID or '$' must be specified."
                )));
            }
            r.streams_at = i + 1;
            r.keys = &a[i + 1..i + 1 + n / 2];
            r.ids = &a[i + 1 + n / 2..];
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(Error::msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((&a[i + 1], &a[i + 2]));
            i += 2;
        } else if is(o, "noack") {
            if !group_cmd {
                return Err(Error::msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(Error::Syntax);
    }
    if group_cmd && r.group.is_none() {
        return Err(Error::msg("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

fn xread(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    read_generic(ctx, a, false)
}

fn xreadgroup(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    read_generic(ctx, a, true)
}

/// Whether this run re-runs a parked command (see `server::blocking`).
fn rerun(ctx: &Ctx) -> bool {
    ctx.client.blocked.borrow().is_some()
}

fn read_generic(ctx: &mut Ctx, a: &[Bytes], group_cmd: bool) -> CmdResult {
    let r = parse_read(a, group_cmd)?;
    let resumed = rerun(ctx);
    // Resolve every key's starting point first: errors win over data.
    let mut from = Vec::with_capacity(r.keys.len());
    let mut rewritten: Option<Vec<Bytes>> = None;
    for (k, idarg) in r.keys.iter().zip(r.ids) {
        let now = ctx.now_ms;
        let s = match ctx.db().lookup(k, now).map(|e| &e.val) {
            Some(Value::Stream(s)) => Some(s),
            Some(_) if resumed && !group_cmd => None,
            Some(_) => return Err(Error::WrongType),
            None => None,
        };
        if let Some((g, _)) = r.group {
            if s.map_or(true, |s| !s.groups.contains_key(&g[..])) {
                return Err(nogroup(k, g, " in XREADGROUP with GROUP option"));
            }
        }
        let f = if &idarg[..] == b"$" {
            if group_cmd {
                return Err(Error::msg("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            let last = s.map_or(StreamId::MIN, |s| s.last_id);
            // A parked XREAD waits for what comes after the last ID at the
            // time it was called.
            let v = rewritten.get_or_insert_with(|| a.to_vec());
            let pos = r.streams_at + r.keys.len() + from.len();
            v[pos] = id_bytes(last);
            ReadFrom::After(last)
        } else if &idarg[..] == b">" {
            if !group_cmd {
                return Err(Error::msg("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            ReadFrom::New
        } else {
            ReadFrom::After(strict_id(idarg, 0)?)
        };
        from.push(f);
    }
    let now = ctx.now_ms;
    let served = match r.group {
        Some((g, c)) => serve_group(ctx, &r, g, c, &from, now),
        None => serve_plain(ctx, &r, &from),
    };
    if served {
        return Ok(());
    }
    match r.block {
        Some(timeout) => {
            let keys = r.keys.iter().map(|k| k.to_vec()).collect();
            ctx.block_on(keys, timeout, TimeoutReply::NullArray);
            if let (Some(req), Some(v)) = (ctx.block.as_mut(), rewritten) {
                req.rewritten = Some(v);
            }
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// XREAD: replies and returns true if any stream has entries to give.
fn serve_plain(ctx: &mut Ctx, r: &ReadArgs, from: &[ReadFrom]) -> bool {
    let now = ctx.now_ms;
    let i = ctx.db_index();
    let (db, out) = (&mut ctx.srv.ks.dbs[i], &mut *ctx.out);
    let mut ready = Vec::new();
    for (k, f) in r.keys.iter().zip(from) {
        let ReadFrom::After(after) = *f else { continue };
        if let Some(Value::Stream(s)) = db.lookup(k, now).map(|e| &e.val) {
            if s.entries
                .keys()
                .next_back()
                .is_some_and(|last| *last > after)
            {
                ready.push((k, after));
            }
        }
    }
    if ready.is_empty() {
        return false;
    }
    out.map_of_pairs(ready.len());
    let limit = if r.count == 0 { usize::MAX } else { r.count };
    for (k, after) in ready {
        out.pair_key(k);
        if let Some(Value::Stream(s)) = db.dict().get(&k[..]).map(|e| &e.val) {
            let items: Vec<_> = s
                .entries
                .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                .take(limit)
                .collect();
            out.array(items.len());
            for (id, fl) in items {
                reply_entry(out, *id, fl);
            }
        } else {
            out.array(0);
        }
    }
    true
}

/// XREADGROUP: serves history requests always and `>` when the group has
/// undelivered entries; returns true if it replied.
fn serve_group(
    ctx: &mut Ctx,
    r: &ReadArgs,
    group: &Bytes,
    consumer: &Bytes,
    from: &[ReadFrom],
    now: i64,
) -> bool {
    let i = ctx.db_index();
    let limit = if r.count == 0 { usize::MAX } else { r.count };
    let mut props: Vec<Vec<Bytes>> = Vec::new();
    let mut dirty = 0u64;
    let mut new_consumer_in: Vec<Bytes> = Vec::new();
    // Whether a key has something to give is decided when its turn comes
    // (the same key twice: the first `>` takes what the second would
    // get), so the reply's length is known only at the end.
    let mut body = Out::new(ctx.out.resp3);
    let mut served = 0;
    {
        let out = &mut body;
        for (n, k) in r.keys.iter().enumerate() {
            let Some(Value::Stream(s)) = ctx.srv.ks.dbs[i].entry_mut(&k[..]).map(|e| &mut e.val)
            else {
                continue;
            };
            let s: &mut Stream = s;
            let Some(g) = s.groups.get(&group[..]) else {
                continue;
            };
            if from[n] == ReadFrom::New
                && !s
                    .entries
                    .keys()
                    .next_back()
                    .is_some_and(|last| *last > g.last_id)
            {
                continue;
            }
            let Some(mut g) = s.groups.remove(&group[..]) else {
                continue;
            };
            served += 1;
            out.pair_key(k);
            let (c, created) = g.consumer(consumer, now);
            c.seen_time = now;
            if created {
                dirty += 1;
                new_consumer_in.push(k.clone());
                if r.noack {
                    props.push(vec![
                        b("XGROUP"),
                        b("CREATECONSUMER"),
                        k.clone(),
                        group.clone(),
                        consumer.clone(),
                    ]);
                }
            }
            match from[n] {
                ReadFrom::After(after) => {
                    // The consumer's own pending entries after `after`.
                    let ids: Vec<StreamId> = g.consumers[&consumer[..]]
                        .pel
                        .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                        .take(limit)
                        .copied()
                        .collect();
                    out.array(ids.len());
                    for id in ids {
                        match s.entries.get(&id) {
                            Some(fl) => {
                                reply_entry(out, id, fl);
                                if let Some(nack) = g.pel.get_mut(&id) {
                                    nack.delivery_time = now;
                                    nack.delivery_count += 1;
                                }
                            }
                            None => {
                                out.array(2);
                                reply_id(out, id);
                                out.null_array();
                            }
                        }
                    }
                }
                ReadFrom::New => {
                    let start = g.last_id;
                    let ids: Vec<StreamId> = s
                        .entries
                        .range((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
                        .take(limit)
                        .map(|(id, _)| *id)
                        .collect();
                    out.array(ids.len());
                    for id in &ids {
                        if let Some(fl) = s.entries.get(id) {
                            reply_entry(out, *id, fl);
                        }
                        s.advance_group(&mut g, *id);
                        if !r.noack {
                            deliver(&mut g, *id, consumer, now);
                            let nack = &g.pel[id];
                            props.push(xclaim_argv(
                                k,
                                group,
                                &nack.consumer,
                                *id,
                                nack.delivery_time,
                                nack.delivery_count,
                                g.last_id,
                            ));
                        }
                        dirty += 1;
                    }
                    if !ids.is_empty() {
                        if let Some(c) = g.consumers.get_mut(&consumer[..]) {
                            c.active_time = now;
                        }
                        if r.noack {
                            props.push(setid_argv(k, group, &g));
                        }
                    }
                }
            }
            s.groups.insert(group[..].into(), g);
        }
    }
    if served == 0 {
        return false;
    }
    ctx.out.map_of_pairs(served);
    ctx.out.buf.extend_from_slice(&body.buf);
    ctx.dirty(dirty);
    for k in new_consumer_in {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", &k);
    }
    for p in props {
        ctx.propagate(p);
    }
    true
}

/// Records `id` as delivered to `consumer` (taking it from whoever had it).
fn deliver(g: &mut Group, id: StreamId, consumer: &[u8], now: i64) {
    if let Some(old) = g.pel.get(&id).map(|n| n.consumer.clone()) {
        if let Some(c) = g.consumers.get_mut(&old) {
            c.pel.remove(&id);
        }
    }
    g.pel.insert(
        id,
        crate::db::stream::Nack {
            delivery_time: now,
            delivery_count: 1,
            consumer: consumer.into(),
        },
    );
    g.consumer(consumer, now).0.pel.insert(id);
}

#[allow(clippy::too_many_arguments)]
fn xclaim_argv(
    key: &Bytes,
    group: &Bytes,
    consumer: &[u8],
    id: StreamId,
    time: i64,
    count: u64,
    last: StreamId,
) -> Vec<Bytes> {
    vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        Bytes::copy_from_slice(consumer),
        b("0"),
        id_bytes(id),
        b("TIME"),
        num(time),
        b("RETRYCOUNT"),
        num(count),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        id_bytes(last),
    ]
}

fn setid_argv(key: &Bytes, group: &Bytes, g: &Group) -> Vec<Bytes> {
    vec![
        b("XGROUP"),
        b("SETID"),
        key.clone(),
        group.clone(),
        id_bytes(g.last_id),
        b("ENTRIESREAD"),
        num(g.entries_read),
    ]
}

/// After a write while clients are parked: a stream key it deleted or
/// replaced sends its XREADGROUP readers away with an error.
pub fn after_write(
    srv: &mut crate::server::Server,
    client: &crate::server::Client,
    cmd: &Command,
    args: &[Bytes],
) {
    let db = client.db.get();
    let keys: Vec<(usize, Vec<u8>)> = match cmd.name {
        "flushall" | "flushdb" | "swapdb" => srv.blocking.keys().cloned().collect(),
        _ => cmd
            .keys_in(args)
            .into_iter()
            .map(|p| (db, args[p].to_vec()))
            .collect(),
    };
    for (d, k) in keys {
        key_vanished(srv, d, &k);
    }
}

/// A key whose stream (or group) readers wait on was deleted or replaced:
/// XREADGROUP readers parked on it get Redis's error; others wait on.
pub fn key_vanished(srv: &mut crate::server::Server, db: usize, key: &[u8]) {
    let k = (db, key.to_vec());
    let Some(q) = srv.blocking.get(&k).cloned() else {
        return;
    };
    if matches!(
        srv.ks.dbs[db].dict().get(key).map(|e| &e.val),
        Some(Value::Stream(_))
    ) {
        return;
    }
    for id in q {
        let Some(client) = srv.clients.get(&id).cloned() else {
            continue;
        };
        let is_group = client
            .blocked
            .borrow()
            .as_ref()
            .is_some_and(|b| b.db == db && b.args.first().is_some_and(|a| is(a, "xreadgroup")));
        if is_group {
            srv.unblock(&client);
            let mut out = Out::new(client.resp.get() == 3);
            out.error("UNBLOCKED the stream key no longer exists");
            client.pending.borrow_mut().extend_from_slice(&out.buf);
            client.wake.notify_one();
        }
    }
}

// ---------------------------------------------------------------------------
// XACK / XPENDING / XCLAIM / XAUTOCLAIM
// ---------------------------------------------------------------------------

fn xack(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let ids = a[3..]
        .iter()
        .map(|x| strict_id(x, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let n = match get(ctx, &a[1], false)?.and_then(|s| s.groups.get_mut(&a[2][..])) {
        Some(g) => ids.iter().filter(|id| g.ack(**id)).count(),
        None => 0,
    };
    ctx.dirty(n as u64);
    ctx.out.int(n as i64);
    Ok(())
}

fn xpending(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let argc = a.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Error::Syntax);
    }
    let mut ext = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if is(&a[3], "idle") {
            min_idle = int_arg(&a[4])?;
            if argc < 8 {
                return Err(Error::Syntax);
            }
            at += 2;
        }
        let count = int_arg(&a[at + 2])?.max(0) as usize;
        let start = range_bound(&a[at], true)?;
        let end = range_bound(&a[at + 1], false)?;
        let consumer = a.get(at + 3);
        ext = Some((min_idle, start, end, count, consumer));
    }
    let now = ctx.now_ms;
    let (s, out) = get_with_out(ctx, &a[1], true)?;
    let Some(g) = s.and_then(|s| s.groups.get(&a[2][..])) else {
        return Err(nogroup(&a[1], &a[2], ""));
    };
    match ext {
        None => {
            out.array(4);
            out.int(g.pel.len() as i64);
            match (g.pel.keys().next(), g.pel.keys().next_back()) {
                (Some(lo), Some(hi)) => {
                    reply_id(out, *lo);
                    reply_id(out, *hi);
                    let busy: Vec<_> = g
                        .consumers
                        .iter()
                        .filter(|(_, c)| !c.pel.is_empty())
                        .collect();
                    out.array(busy.len());
                    for (name, c) in busy {
                        out.array(2);
                        out.bulk(name);
                        out.bulk_int(c.pel.len() as i64);
                    }
                }
                _ => {
                    out.null();
                    out.null();
                    out.null_array();
                }
            }
        }
        Some((min_idle, start, end, count, consumer)) => {
            let mut rows = Vec::new();
            if start <= end && count > 0 {
                let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
                    Some(c) => match g.consumers.get(&c[..]) {
                        Some(c) => Box::new(c.pel.range(start..=end).copied()),
                        None => Box::new(std::iter::empty()),
                    },
                    None => Box::new(g.pel.range(start..=end).map(|(id, _)| *id)),
                };
                for id in ids {
                    if rows.len() >= count {
                        break;
                    }
                    let Some(n) = g.pel.get(&id) else { continue };
                    let idle = (now - n.delivery_time).max(0);
                    if min_idle > 0 && idle < min_idle {
                        continue;
                    }
                    rows.push((id, n.consumer.clone(), idle, n.delivery_count));
                }
            }
            out.array(rows.len());
            for (id, c, idle, cnt) in rows {
                out.array(4);
                reply_id(out, id);
                out.bulk(&c);
                out.int(idle);
                out.int(cnt as i64);
            }
        }
    }
    Ok(())
}

fn xclaim_int(arg: &[u8], opt: &str) -> Result<i64, Error> {
    crate::util::num::parse_i64(arg)
        .ok_or_else(|| Error::err(format!("Invalid {opt} option argument for XCLAIM")))
}

fn xclaim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    {
        let s = get(ctx, &a[1], false)?;
        if s.and_then(|s| s.groups.get(&a[2][..])).is_none() {
            return Err(nogroup(&a[1], &a[2], ""));
        }
    }
    let min_idle = crate::util::num::parse_i64(&a[4])
        .ok_or_else(|| Error::msg("ERR Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < a.len() {
        match StreamId::parse(&a[j], 0, true) {
            Some(id) => ids.push((id, a[j].clone())),
            None => break,
        }
        j += 1;
    }
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let (mut force, mut justid) = (false, false);
    let mut lastid: Option<StreamId> = None;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let o = &a[j];
        if is(o, "force") {
            force = true;
        } else if is(o, "justid") {
            justid = true;
        } else if is(o, "idle") && more >= 1 {
            j += 1;
            delivery = Some(now - xclaim_int(&a[j], "IDLE")?);
        } else if is(o, "time") && more >= 1 {
            j += 1;
            delivery = Some(xclaim_int(&a[j], "TIME")?);
        } else if is(o, "retrycount") && more >= 1 {
            j += 1;
            retry = Some(xclaim_int(&a[j], "RETRYCOUNT")?);
        } else if is(o, "lastid") && more >= 1 {
            j += 1;
            lastid = Some(strict_id(&a[j], 0)?);
        } else {
            return Err(Error::Bytes(
                [&b"ERR Unrecognized XCLAIM option '"[..], &o[..], b"'"].concat(),
            ));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(t) if t < 0 || t > now => now,
        Some(t) => t,
        None => now,
    };
    let (key, group, consumer) = (a[1].clone(), a[2].clone(), &a[3]);
    let i = ctx.db_index();
    let (s, mut g) = claim_start(ctx.srv, i, a, now)?;
    let mut dirty = 0u64;
    let mut props = Vec::new();
    let mut moved_last = false;
    if let Some(l) = lastid {
        if l > g.last_id {
            g.last_id = l;
            moved_last = true;
        }
    }
    let mut claimed: Vec<StreamId> = Vec::new();
    let mut new_consumer = false;
    for (id, _) in &ids {
        let id = *id;
        let exists = s.entries.contains_key(&id);
        if !exists {
            if let Some(n) = g.pel.get(&id).cloned() {
                props.push(xclaim_argv(
                    &key,
                    &group,
                    &n.consumer,
                    id,
                    n.delivery_time,
                    n.delivery_count,
                    g.last_id,
                ));
                g.ack(id);
                dirty += 1;
            }
            continue;
        }
        let forced_new = force && !g.pel.contains_key(&id);
        if !forced_new {
            let Some(n) = g.pel.get(&id) else { continue };
            if min_idle > 0 && now - n.delivery_time < min_idle {
                continue;
            }
        }
        let prev = g.pel.get(&id).map(|n| n.delivery_count);
        let count = match (retry, prev) {
            (Some(r), _) => r as u64,
            (None, Some(n)) if justid => n,
            (None, Some(n)) => n + 1,
            // A NACK made by FORCE starts at one delivery.
            (None, None) if justid => 1,
            (None, None) => 2,
        };
        new_consumer |= g.assign(id, consumer, delivery, count, now);
        claimed.push(id);
        props.push(xclaim_argv(
            &key, &group, consumer, id, delivery, count, g.last_id,
        ));
        dirty += 1;
    }
    if moved_last && props.is_empty() {
        props.push(setid_argv(&key, &group, &g));
        dirty += 1;
    }
    reply_claimed(ctx.out, s, &claimed, justid);
    s.groups.insert(group[..].into(), g);
    claim_effects(ctx, &key, dirty, new_consumer, props);
    Ok(())
}

/// XCLAIM's and XAUTOCLAIM's start: the stream, with the group (`a[2]`)
/// taken out of it while claiming, and the claiming consumer (`a[3]`)
/// marked as seen.
fn claim_start<'a>(
    srv: &'a mut crate::server::Server,
    db: usize,
    a: &[Bytes],
    now: i64,
) -> Result<(&'a mut Stream, Group), Error> {
    let Some(Value::Stream(s)) = srv.ks.dbs[db].entry_mut(&a[1][..]).map(|e| &mut e.val) else {
        return Err(nogroup(&a[1], &a[2], ""));
    };
    let s: &mut Stream = s;
    let Some(mut g) = s.groups.remove(&a[2][..]) else {
        return Err(nogroup(&a[1], &a[2], ""));
    };
    if let Some(c) = g.consumers.get_mut(&a[3][..]) {
        c.seen_time = now;
    }
    Ok((s, g))
}

/// The claimed entries, or only their IDs with JUSTID.
fn reply_claimed(out: &mut Out, s: &Stream, claimed: &[StreamId], justid: bool) {
    out.array(claimed.len());
    for id in claimed {
        if justid {
            reply_id(out, *id);
        } else if let Some(fl) = s.entries.get(id) {
            reply_entry(out, *id, fl);
        }
    }
}

/// What a claim leaves behind: dirty count, the event of a consumer it
/// created, and the XCLAIMs that replicate it.
fn claim_effects(
    ctx: &mut Ctx,
    key: &[u8],
    dirty: u64,
    new_consumer: bool,
    props: Vec<Vec<Bytes>>,
) {
    ctx.dirty(dirty);
    if new_consumer {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    for p in props {
        ctx.propagate(p);
    }
}

fn xautoclaim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let min_idle = crate::util::num::parse_i64(&a[4])
        .ok_or_else(|| Error::msg("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = range_bound(&a[5], true)?;
    let mut count = 100i64;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "count") && more >= 1 {
            count = crate::util::num::parse_i64(&a[j + 1])
                .filter(|n| *n >= 1 && *n <= i64::MAX / 10)
                .ok_or_else(|| Error::msg("ERR COUNT must be > 0"))?;
            j += 2;
        } else if is(&a[j], "justid") {
            justid = true;
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
    }
    // As in Redis: every argument is parsed before the key's type and the
    // group are checked.
    let has_group = get(ctx, &a[1], false)?.is_some_and(|s| s.groups.contains_key(&a[2][..]));
    if !has_group {
        return Err(nogroup(&a[1], &a[2], ""));
    }
    let (key, group, consumer) = (a[1].clone(), a[2].clone(), &a[3]);
    let i = ctx.db_index();
    let (s, mut g) = claim_start(ctx.srv, i, a, now)?;
    let mut new_consumer = false;
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut props = Vec::new();
    let mut next = StreamId::MIN;
    let pel_ids: Vec<StreamId> = g.pel.range(start..).map(|(id, _)| *id).collect();
    let mut it = pel_ids.into_iter().peekable();
    while attempts > 0 && left > 0 {
        let Some(id) = it.next() else { break };
        attempts -= 1;
        let Some(n) = g.pel.get(&id).cloned() else {
            continue;
        };
        if !s.entries.contains_key(&id) {
            props.push(xclaim_argv(
                &key,
                &group,
                &n.consumer,
                id,
                n.delivery_time,
                n.delivery_count,
                g.last_id,
            ));
            g.ack(id);
            deleted.push(id);
            left -= 1;
            continue;
        }
        if min_idle > 0 && now - n.delivery_time < min_idle {
            continue;
        }
        let cnt = if justid {
            n.delivery_count
        } else {
            n.delivery_count + 1
        };
        new_consumer |= g.assign(id, consumer, now, cnt, now);
        claimed.push(id);
        props.push(xclaim_argv(&key, &group, consumer, id, now, cnt, g.last_id));
        left -= 1;
    }
    if let Some(id) = it.next() {
        next = id;
    }
    let out = &mut *ctx.out;
    out.array(3);
    reply_id(out, next);
    reply_claimed(out, s, &claimed, justid);
    out.array(deleted.len());
    for id in &deleted {
        reply_id(out, *id);
    }
    s.groups.insert(group[..].into(), g);
    claim_effects(ctx, &key, props.len() as u64, new_consumer, props);
    Ok(())
}

// ---------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------

fn bad_sub_args(sub: &[u8]) -> Error {
    sub_syntax(sub, "XGROUP")
}

/// Redis's reply to a subcommand given the wrong arguments (the
/// subcommand quoted as typed).
fn sub_syntax(sub: &[u8], container: &str) -> Error {
    Error::Bytes(
        [
            &b"ERR unknown subcommand or wrong number of arguments for '"[..],
            sub,
            b"'. Try ",
            container.as_bytes(),
            b" HELP.",
        ]
        .concat(),
    )
}

/// What every XGROUP subcommand checks first, in Redis's order: options
/// (MKSTREAM / ENTRIESREAD), the key, then the group where the subcommand
/// needs one. Returns (ENTRIESREAD, MKSTREAM).
fn xgroup_prelude(ctx: &mut Ctx, a: &[Bytes], needs_group: bool) -> Result<(i64, bool), Error> {
    let mut er = ENTRIES_READ_INVALID;
    let mut mk = false;
    let create = is(&a[1], "create");
    let setid = is(&a[1], "setid");
    if (create && a.len() >= 6) || (setid && a.len() == 7) {
        let mut j = 5;
        while j < a.len() {
            if create && is(&a[j], "mkstream") {
                mk = true;
                j += 1;
            } else if is(&a[j], "entriesread") && j + 1 < a.len() {
                er = int_arg(&a[j + 1])?;
                if er < 0 && er != ENTRIES_READ_INVALID {
                    return Err(Error::msg(
                        "ERR value for ENTRIESREAD must be positive or -1",
                    ));
                }
                j += 2;
            } else {
                return Err(bad_sub_args(&a[1]));
            }
        }
    }
    let s = get(ctx, &a[2], false)?;
    if !mk {
        let Some(s) = s else {
            return Err(Error::msg(NO_KEY_XGROUP));
        };
        if needs_group && !s.groups.contains_key(&a[3][..]) {
            return Err(nogroup_for_key(&a[2], &a[3]));
        }
    }
    Ok((er, mk))
}

/// The group position argument: an ID or `$` (the stream's last ID).
fn group_id(arg: &[u8], s: Option<&Stream>) -> Result<StreamId, Error> {
    if arg == b"$" {
        Ok(s.map_or(StreamId::MIN, |s| s.last_id))
    } else {
        strict_id(arg, 0)
    }
}

fn xgroup_create(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (er, _) = xgroup_prelude(ctx, a, false)?;
    if a.len() > 8 {
        return Err(bad_sub_args(&a[1]));
    }
    let id = group_id(&a[4], get(ctx, &a[2], false)?.as_deref())?;
    let s = get_or_create(ctx, &a[2])?;
    if s.groups.contains_key(&a[3][..]) {
        return Err(Error::msg("BUSYGROUP Consumer Group name already exists"));
    }
    s.groups.insert(a[3][..].into(), Group::new(id, er));
    ctx.dirty(1);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xgroup-create", &a[2]);
    Ok(())
}

fn xgroup_setid(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (er, _) = xgroup_prelude(ctx, a, true)?;
    if a.len() != 5 && a.len() != 7 {
        return Err(bad_sub_args(&a[1]));
    }
    let Some(s) = get(ctx, &a[2], false)? else {
        return Err(Error::msg(NO_KEY_XGROUP));
    };
    let id = group_id(&a[4], Some(s))?;
    let Some(g) = s.groups.get_mut(&a[3][..]) else {
        return Err(nogroup_for_key(&a[2], &a[3]));
    };
    g.last_id = id;
    g.entries_read = er;
    ctx.dirty(1);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xgroup-setid", &a[2]);
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    xgroup_prelude(ctx, a, false)?;
    let Some(s) = get(ctx, &a[2], false)? else {
        return Err(Error::msg(NO_KEY_XGROUP));
    };
    if s.groups.remove(&a[3][..]).is_some() {
        ctx.dirty(1);
        ctx.out.int(1);
        ctx.notify(notify::STREAM, "xgroup-destroy", &a[2]);
        // Readers parked on the group re-run and get NOGROUP.
        ctx.signal_ready(&a[2]);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    xgroup_prelude(ctx, a, true)?;
    let now = ctx.now_ms;
    let created = match get(ctx, &a[2], false)?.and_then(|s| s.groups.get_mut(&a[3][..])) {
        Some(g) => g.consumer(&a[4], now).1,
        None => return Err(nogroup_for_key(&a[2], &a[3])),
    };
    ctx.out.int(created as i64);
    if created {
        ctx.dirty(1);
        ctx.notify(notify::STREAM, "xgroup-createconsumer", &a[2]);
    }
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    xgroup_prelude(ctx, a, true)?;
    let Some(g) = get(ctx, &a[2], false)?.and_then(|s| s.groups.get_mut(&a[3][..])) else {
        return Err(nogroup_for_key(&a[2], &a[3]));
    };
    match g.consumers.remove(&a[4][..]) {
        Some(c) => {
            for id in &c.pel {
                g.pel.remove(id);
            }
            ctx.out.int(c.pel.len() as i64);
            ctx.dirty(1);
            ctx.notify(notify::STREAM, "xgroup-delconsumer", &a[2]);
        }
        None => ctx.out.int(0),
    }
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// XSETID
// ---------------------------------------------------------------------------

fn xsetid(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let id = strict_id(&a[2], 0)?;
    let mut added: Option<i64> = None;
    let mut maxdel: Option<StreamId> = None;
    let mut j = 3;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "entriesadded") && more >= 1 {
            let n = int_arg(&a[j + 1])?;
            if n < 0 {
                return Err(Error::msg("ERR entries_added must be positive"));
            }
            added = Some(n);
            j += 2;
        } else if is(&a[j], "maxdeletedid") && more >= 1 {
            let m = strict_id(&a[j + 1], 0)?;
            if id < m {
                return Err(Error::msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            maxdel = Some(m);
            j += 2;
        } else {
            return Err(Error::Syntax);
        }
    }
    let Some(s) = get(ctx, &a[1], false)? else {
        return Err(Error::NoSuchKey);
    };
    if let Some((last, _)) = s.entries.iter().next_back() {
        if id < *last {
            return Err(Error::msg(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
    }
    if let Some(n) = added {
        if (s.len() as i64) > n {
            return Err(Error::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = added {
        s.entries_added = n as u64;
    }
    if let Some(m) = maxdel {
        s.max_deleted = m;
    }
    ctx.dirty(1);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xsetid", &a[1]);
    Ok(())
}

// ---------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------

fn xinfo_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

fn info_stream<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<(&'a mut Stream, &'a mut Out), Error> {
    let (s, out) = get_with_out(ctx, key, true)?;
    match s {
        Some(s) => Ok((s, out)),
        None => Err(Error::NoSuchKey),
    }
}

fn lag_reply(out: &mut Out, s: &Stream, g: &Group) {
    match s.lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn entries_read_reply(out: &mut Out, g: &Group) {
    if g.entries_read != ENTRIES_READ_INVALID {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

fn xinfo_stream(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut full = false;
    let mut count = 10usize;
    if a.len() > 3 {
        if !is(&a[3], "full") || a.len() == 5 || a.len() > 6 {
            return Err(sub_syntax(&a[1], "XINFO"));
        }
        full = true;
        if a.len() == 6 {
            if !is(&a[4], "count") {
                return Err(sub_syntax(&a[1], "XINFO"));
            }
            let n = int_arg(&a[5])?;
            count = if n <= 0 { usize::MAX } else { n as usize };
        }
    }
    let (s, out) = info_stream(ctx, &a[2])?;
    let (rkeys, rnodes) = s.radix_stats();
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(rkeys as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(rnodes as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, e) in [
            ("first-entry", s.entries.iter().next()),
            ("last-entry", s.entries.iter().next_back()),
        ] {
            out.bulk(name.as_bytes());
            match e {
                Some((id, f)) => reply_entry(out, *id, f),
                None => out.null(),
            }
        }
        return Ok(());
    }
    out.bulk(b"entries");
    let items: Vec<_> = s.entries.iter().take(count).collect();
    out.array(items.len());
    for (id, f) in items {
        reply_entry(out, *id, f);
    }
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        entries_read_reply(out, g);
        out.bulk(b"lag");
        lag_reply(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let pend: Vec<_> = g.pel.iter().take(count).collect();
        out.array(pend.len());
        for (id, n) in pend {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&n.consumer);
            out.int(n.delivery_time);
            out.int(n.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(5);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time);
            out.bulk(b"active-time");
            out.int(c.active_time);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let pend: Vec<_> = c.pel.iter().take(count).collect();
            out.array(pend.len());
            for id in pend {
                out.array(3);
                reply_id(out, *id);
                let n = g.pel.get(id);
                out.int(n.map_or(0, |n| n.delivery_time));
                out.int(n.map_or(0, |n| n.delivery_count as i64));
            }
        }
    }
    Ok(())
}

fn xinfo_groups(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (s, out) = info_stream(ctx, &a[2])?;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        entries_read_reply(out, g);
        out.bulk(b"lag");
        lag_reply(out, s, g);
    }
    Ok(())
}

fn xinfo_consumers(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    let (s, out) = info_stream(ctx, &a[2])?;
    let Some(g) = s.groups.get(&a[3][..]) else {
        return Err(nogroup_for_key(&a[2], &a[3]));
    };
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        let c: &Consumer = c;
        out.map(4);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int((now - c.seen_time).max(0));
        out.bulk(b"inactive");
        out.int(if c.active_time < 0 {
            -1
        } else {
            (now - c.active_time).max(0)
        });
    }
    Ok(())
}
