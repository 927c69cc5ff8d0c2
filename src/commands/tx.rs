//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! While a client is in MULTI, `server::exec` queues its commands (after
//! checking that they exist and have a valid arity; a bad one poisons the
//! transaction so EXEC answers EXECABORT). EXEC runs the queue back to back
//! on the executor, so no other client's command can interleave, and blocking
//! commands inside it return their timeout reply at once.
//!
//! WATCH: a watched key is "touched" when a write command that changed the
//! dataset names it (see `Server::touch_watched`), when FLUSHDB/FLUSHALL/
//! SWAPDB run, or when it has expired by EXEC time; any of these makes EXEC
//! fail with a null reply.

use bytes::Bytes;

use super::{
    cmd, Command, Keys, ALLOW_BUSY, C_TRANSACTION, FAST, LOADING, NOSCRIPT, NO_KEYS, STALE,
};
use crate::errors::{CmdResult, Error};
use crate::server::{exec, Ctx};

const G: &str = "transactions";
const TXF: u32 = NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY;

pub static COMMANDS: &[Command] = &[
    cmd(
        "multi",
        1,
        TXF,
        NO_KEYS,
        C_TRANSACTION,
        multi,
        G,
        "1.2.0",
        "Starts a transaction.",
    ),
    cmd(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE,
        NO_KEYS,
        C_TRANSACTION,
        exec_,
        G,
        "1.2.0",
        "Executes all commands in a transaction.",
    ),
    cmd(
        "discard",
        1,
        TXF,
        NO_KEYS,
        C_TRANSACTION,
        discard,
        G,
        "2.0.0",
        "Discards a transaction.",
    ),
    cmd(
        "watch",
        -2,
        TXF,
        Keys {
            first: 1,
            last: -1,
            step: 1,
        },
        C_TRANSACTION,
        watch,
        G,
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
    ),
    cmd(
        "unwatch",
        1,
        TXF,
        NO_KEYS,
        C_TRANSACTION,
        unwatch,
        G,
        "2.2.0",
        "Forgets about watched keys of a transaction.",
    ),
];

fn multi(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.client.multi.borrow().is_some() {
        return Err(Error::msg("ERR MULTI calls can not be nested"));
    }
    *ctx.client.multi.borrow_mut() = Some(Vec::new());
    ctx.client.multi_error.set(false);
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.client.multi.borrow_mut().take().is_none() {
        return Err(Error::msg("ERR DISCARD without MULTI"));
    }
    ctx.srv.unwatch_all(ctx.client);
    ctx.out.ok();
    Ok(())
}

fn exec_(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let Some(queue) = ctx.client.multi.borrow_mut().take() else {
        return Err(Error::msg("ERR EXEC without MULTI"));
    };
    let poisoned = ctx.client.multi_error.replace(false);
    let now = ctx.now_ms;
    let aborted = ctx.srv.watch_broken(ctx.client, now);
    ctx.srv.unwatch_all(ctx.client);
    if poisoned {
        return Err(Error::msg(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    if aborted {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(queue.len());
    for args in &queue {
        exec::run_queued(ctx.srv, ctx.client, ctx.out, args, now);
    }
    Ok(())
}

fn watch(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.client.multi.borrow().is_some() {
        return Err(Error::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.db_index();
    for k in &a[1..] {
        ctx.srv.watch(ctx.client, db, k);
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.srv.unwatch_all(ctx.client);
    ctx.out.ok();
    Ok(())
}
