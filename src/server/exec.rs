//! Running one command: table lookup, authentication, arity, the handler
//! (isolated so that a panic becomes an error reply, not a dead server), and
//! statistics. Errors become replies here and nowhere else.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use bytes::Bytes;

use super::blocking::BlockRequest;
use super::client::ReplyMode;
use super::{Client, Ctx, Server};
use crate::commands::{self, find_sub, Command};
use crate::config::D;
use crate::errors::{self, Error};
use crate::resp::Out;

/// An argument as Redis's "%.*s" prints it: up to the first NUL, at most
/// `max` bytes.
fn c_str(b: &[u8], max: usize) -> &[u8] {
    let end = memchr::memchr(0, b).unwrap_or(b.len()).min(max);
    &b[..end]
}

fn unknown_command(args: &[Bytes]) -> Error {
    let mut rest: Vec<u8> = Vec::new();
    for a in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        rest.push(b'\'');
        rest.extend_from_slice(c_str(a, 128 - rest.len() + 1));
        rest.extend_from_slice(b"' ");
    }
    let mut e = b"ERR unknown command '".to_vec();
    e.extend_from_slice(c_str(&args[0], 128));
    e.extend_from_slice(b"', with args beginning with: ");
    e.extend_from_slice(&rest);
    Error::Bytes(e)
}

fn unknown_subcommand(args: &[Bytes]) -> Error {
    let mut e = b"ERR unknown subcommand '".to_vec();
    e.extend_from_slice(c_str(&args[1], 128));
    e.extend_from_slice(b"'. Try ");
    e.extend(
        c_str(&args[0], usize::MAX)
            .iter()
            .map(|c| c.to_ascii_uppercase()),
    );
    e.extend_from_slice(b" HELP.");
    Error::Bytes(e)
}

/// Resolves the command (or subcommand) for `args`, checking arity.
pub fn resolve(args: &[Bytes]) -> Result<&'static Command, Error> {
    let cmd = commands::table()
        .find(&args[0])
        .ok_or_else(|| unknown_command(args))?;
    let cmd = if cmd.subs.is_empty() {
        cmd
    } else {
        if args.len() < 2 {
            return Err(errors::wrong_arity(cmd.name));
        }
        match find_sub(cmd, &args[1]) {
            Some(s) => s,
            None => return Err(unknown_subcommand(args)),
        }
    };
    let argc = args.len() as i32;
    if (cmd.arity > 0 && argc != cmd.arity) || argc < -cmd.arity {
        return Err(errors::wrong_arity(cmd.name));
    }
    Ok(cmd)
}

/// Counts an error reply in INFO errorstats under its code.
fn count_error(srv: &mut Server, text: &[u8]) {
    srv.stats.total_error_replies += 1;
    let code = text.split(|&c| c == b' ').next().unwrap_or(b"ERR");
    *srv.error_stats
        .entry(String::from_utf8_lossy(code).into_owned())
        .or_insert(0) += 1;
}

/// Runs one command and writes its reply (unless CLIENT REPLY says not
/// to). `now_ms` is the command's notion of the current time, read once per
/// batch of pipelined commands. Returns the block request of a command
/// that wants to park the client (see `blocking`).
pub fn execute(
    srv: &mut Server,
    client: &Rc<Client>,
    out: &mut Out,
    args: &[Bytes],
    now_ms: i64,
) -> Option<BlockRequest> {
    // CLIENT REPLY SKIP silences the command after it; OFF silences all
    // until CLIENT REPLY ON. Whether a reply is kept is decided by the mode
    // once the command has run, so that ON's own +OK is sent.
    if client.reply_mode.get() == ReplyMode::SkipNext {
        client.reply_mode.set(ReplyMode::Skip);
    }
    let mark = out.buf.len();
    let block = run(srv, client, out, args, now_ms, false);
    // A replica's commands (REPLCONF ACK) are never answered: its
    // connection carries the replication stream.
    if client.replica.get() {
        out.buf.truncate(mark);
        return block;
    }
    match client.reply_mode.get() {
        ReplyMode::Off => out.buf.truncate(mark),
        ReplyMode::Skip => {
            out.buf.truncate(mark);
            client.reply_mode.set(ReplyMode::On);
        }
        ReplyMode::On | ReplyMode::SkipNext => {}
    }
    block
}

/// Runs a command queued by MULTI, as part of EXEC: it may not block.
pub fn run_queued(
    srv: &mut Server,
    client: &Rc<Client>,
    out: &mut Out,
    args: &[Bytes],
    now_ms: i64,
) {
    run(srv, client, out, args, now_ms, true);
}

/// What a RESP2 client may run while it has subscriptions.
fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" | "ping" | "quit" | "reset"
    )
}

/// Commands that act on the transaction itself rather than being queued.
fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

fn run(
    srv: &mut Server,
    client: &Rc<Client>,
    out: &mut Out,
    args: &[Bytes],
    now_ms: i64,
    no_block: bool,
) -> Option<BlockRequest> {
    srv.stats.total_commands += 1;
    client.tot_cmds.set(client.tot_cmds.get() + 1);
    let in_multi = client.multi.borrow().is_some();
    let cmd = match resolve(args) {
        Ok(c) => c,
        Err(e) => {
            if in_multi {
                client.multi_error.set(true);
            }
            count_error(srv, e.text());
            out.error_bytes(e.text());
            return None;
        }
    };
    client.last_cmd.set(cmd.name);
    if srv.requires_auth() && !client.authenticated.get() && cmd.flags & commands::NO_AUTH == 0 {
        count_error(srv, errors::NOAUTH.as_bytes());
        out.error(errors::NOAUTH);
        srv.cmd_stats.get_mut(cmd).rejected += 1;
        return None;
    }
    let context = if no_block { "multi" } else { "toplevel" };
    if let Err(e) = srv.acl_check(client, cmd, args, context, now_ms) {
        reject_noperm(srv, client, out, cmd, in_multi, e);
        return None;
    }
    // Start-up loading; the AOF replay's own client is internal.
    if srv.is_loading() && cmd.flags & commands::LOADING == 0 && !client.internal() {
        count_error(srv, errors::LOADING.as_bytes());
        out.error(errors::LOADING);
        srv.cmd_stats.get_mut(cmd).rejected += 1;
        return None;
    }
    if client.resp.get() == 2 && client.in_pubsub() && !allowed_when_subscribed(cmd.name) {
        let mut e = b"ERR Can't execute '".to_vec();
        e.extend_from_slice(cmd.name.as_bytes());
        e.extend_from_slice(
            b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        );
        count_error(srv, &e);
        out.error_bytes(&e);
        return None;
    }
    // A MONITOR client is a replica of sorts: it may not touch the data.
    if client.monitor.get() && cmd.flags & (commands::WRITE | commands::READONLY | commands::MAY_REPLICATE) != 0 {
        let e = b"ERR Replica can't interact with the keyspace";
        count_error(srv, e);
        out.error_bytes(e);
        srv.cmd_stats.get_mut(cmd).rejected += 1;
        return None;
    }
    // maxmemory: evict first; commands that may grow memory are refused
    // when that is not enough.
    // (Scripts decide for their commands once, when they start.)
    let in_script = srv.scripting.running.is_some();
    if !in_script && !srv.loading && !client.internal() && !srv.evict_to_fit(now_ms) && cmd.flags & commands::DENYOOM != 0 && !in_multi {
        let e = errors::OOM.as_bytes();
        count_error(srv, e);
        out.error_bytes(e);
        srv.cmd_stats.get_mut(cmd).rejected += 1;
        return None;
    }
    if (cmd.flags & commands::WRITE != 0 || cmd.name == "ping") && !client.internal() && srv.writes_refused() {
        let e = errors::MISCONF.as_bytes();
        count_error(srv, e);
        out.error_bytes(e);
        return None;
    }
    if cmd.flags & commands::WRITE != 0 && !srv.repl_enough_replicas() {
        if in_multi {
            client.multi_error.set(true);
        }
        count_error(srv, errors::NOREPLICAS.as_bytes());
        out.error(errors::NOREPLICAS);
        srv.cmd_stats.get_mut(cmd).rejected += 1;
        return None;
    }
    if cmd.flags & commands::WRITE != 0 {
        if let Some(why) = &srv.aof.last_write_err {
            let e = format!("MISCONF Errors writing to the AOF file: {why}");
            count_error(srv, e.as_bytes());
            out.error(&e);
            return None;
        }
    }
    if let Some(e) = srv.replica_refuses(client, cmd.flags) {
        if in_multi {
            client.multi_error.set(true);
        }
        count_error(srv, e.as_bytes());
        out.error(e);
        return None;
    }
    if in_multi && !runs_inside_multi(cmd.name) {
        if cmd.flags & commands::NO_MULTI != 0 {
            client.multi_error.set(true);
            let e = b"ERR Command not allowed inside a transaction";
            count_error(srv, e);
            out.error_bytes(e);
            return None;
        }
        if let Some(q) = client.multi.borrow_mut().as_mut() {
            q.push(args.to_vec());
        }
        out.simple("QUEUED");
        return None;
    }
    let dirty_before = srv.dirty;
    srv.current_client = Some(client.id);
    let prop = srv.prop_begin(client.db.get());
    let repl_off = srv.repl.master_repl_offset;
    if !srv.monitors.is_empty() {
        srv.before_command(cmd, client, args);
    }
    let no_touch = client.no_touch.get();
    if no_touch {
        // TOUCH is how a NO-TOUCH client still marks keys as used.
        crate::db::access::set_no_touch(cmd.name != "touch");
    }
    let start = crate::util::mono_us();
    let mark = out.buf.len();
    let block;
    let result = {
        let mut ctx = Ctx {
            srv: &mut *srv,
            client,
            out: &mut *out,
            now_ms,
            block: None,
            no_block,
        };
        let r = catch_unwind(AssertUnwindSafe(|| (cmd.handler)(&mut ctx, args)));
        block = ctx.block.take();
        r
    };
    if srv.dirty != dirty_before && (!srv.watched_keys.is_empty() || srv.tracking.active()) {
        touch_keys(srv, client, cmd, args);
    }
    if srv.dirty != dirty_before && !srv.blocking.is_empty() {
        commands::streams::after_write(srv, client, cmd, args);
    }
    srv.prop_end(prop, cmd.name, args);
    if srv.dirty != dirty_before && !client.internal() && srv.is_replica() {
        srv.replica_note_write(client, cmd, args);
    }
    // (WAIT's REPLCONF GETACK is not a write of the client's.)
    if srv.repl.master_repl_offset != repl_off && cmd.name != "wait" {
        client.woff.set(srv.repl.master_repl_offset);
    }
    if srv.notify_flags != 0 || srv.tracking.active() {
        srv.publish_logged_key_events();
    }
    if srv.tracking.active() {
        let read: Vec<&[u8]> = if cmd.flags & commands::READONLY != 0 && matches!(result, Ok(Ok(()))) {
            cmd.keys_in(args).into_iter().map(|p| &args[p][..]).collect()
        } else {
            Vec::new()
        };
        // CLIENT CACHING is about the command after it.
        let keep_caching = cmd.name == "client|caching" || no_block;
        srv.tracking_after_command(client, &read, out, keep_caching);
    }
    srv.current_client = None;
    let usec = crate::util::mono_us().saturating_sub(start);
    if no_touch {
        crate::db::access::set_no_touch(false);
    }
    let latency_tracking = srv.cfg.bool(D::LATENCY_TRACKING);
    let stat = srv.cmd_stats.get_mut(cmd);
    stat.calls += 1;
    stat.usec += usec;
    if latency_tracking {
        // Microseconds, as Redis measures them, recorded in nanoseconds.
        stat.hist.get_or_insert_with(Default::default).record(usec * 1000);
    }
    if !matches!(result, Ok(Ok(()))) {
        stat.failed += 1;
    }
    if block.is_none() {
        srv.after_command(cmd, client, args, usec);
    }
    match result {
        Ok(Ok(())) => return block,
        Ok(Err(e)) => {
            out.buf.truncate(mark);
            count_error(srv, e.text());
            out.error_bytes(e.text());
        }
        Err(_) => {
            out.buf.truncate(mark);
            tracing::warn!("command '{}' panicked; the server keeps running", cmd.name);
            let msg = format!("ERR internal error while running '{}'", cmd.name);
            count_error(srv, msg.as_bytes());
            out.error(&msg);
        }
    }
    None
}

/// A call refused by ACL. Queued in MULTI, it dooms the transaction; an
/// EXEC refused aborts it with the reason.
fn reject_noperm(srv: &mut Server, client: &Client, out: &mut Out, cmd: &'static Command, in_multi: bool, e: Vec<u8>) {
    count_error(srv, &e);
    srv.cmd_stats.get_mut(cmd).rejected += 1;
    if in_multi {
        client.multi_error.set(true);
        if cmd.name == "exec" {
            *client.multi.borrow_mut() = None;
            client.multi_error.set(false);
            srv.unwatch_all(client);
            let mut m = b"EXECABORT Transaction discarded because of: ".to_vec();
            m.extend_from_slice(&e);
            out.error_bytes(&m);
            return;
        }
    }
    out.error_bytes(&e);
}

/// A write changed the dataset: the watchers of the keys it names are told.
fn touch_keys(srv: &mut Server, client: &Client, cmd: &Command, args: &[Bytes]) {
    let db = client.db.get();
    match cmd.name {
        "flushall" => {
            srv.touch_all_watched(None);
            srv.invalidate_all_tracked();
        }
        // SWAPDB changes the contents of two databases; be conservative.
        "swapdb" => srv.touch_all_watched(None),
        "flushdb" => {
            srv.touch_all_watched(Some(db));
            srv.invalidate_all_tracked();
        }
        _ => {
            // Keys the command only reads (ZUNIONSTORE's sources) are
            // not changed by it.
            for (i, p) in cmd.keys_in(args).into_iter().enumerate() {
                if commands::keyspecs::key_flags(cmd, i, args).first() == Some(&"RO") {
                    continue;
                }
                srv.touch_watched(db, &args[p]);
            }
        }
    }
}
