//! Replication commands a primary answers: PSYNC, SYNC, REPLCONF, WAIT,
//! ROLE. The work is in `repl::master`; REPLICAOF and the replica side live
//! with `repl::replica`.

use bytes::Bytes;

use super::{
    cmd, int_arg, is, Command, ADMIN, ALLOW_BUSY, C_ADMIN, C_CONNECTION, C_DANGEROUS, FAST,
    LOADING, NOSCRIPT, NO_KEYS, NO_MULTI, STALE,
};
use crate::errors::{CmdResult, Error};
use crate::repl::failover::Request;
use crate::repl::master::SyncRequest;
use crate::repl::ReplicaState;
use crate::server::blocking::TimeoutReply;
use crate::server::Ctx;

const G: &str = "server";

pub static COMMANDS: &[Command] = &[
    cmd("psync", -3, ADMIN | NOSCRIPT | NO_MULTI, NO_KEYS, 0, psync, G, "2.8.0", "An internal command used in replication."),
    cmd("sync", 1, ADMIN | NOSCRIPT | NO_MULTI, NO_KEYS, 0, sync, G, "1.0.0", "An internal command used in replication."),
    cmd(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        NO_KEYS,
        0,
        replconf,
        G,
        "3.0.0",
        "An internal command for configuring the replication stream.",
    ),
    cmd(
        "wait",
        3,
        NOSCRIPT,
        NO_KEYS,
        C_CONNECTION,
        wait,
        "generic",
        "3.0.0",
        "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
    ),
    cmd(
        "failover",
        -1,
        ADMIN | NOSCRIPT | STALE,
        NO_KEYS,
        0,
        failover,
        G,
        "6.2.0",
        "Starts a coordinated failover from a server to one of its replicas.",
    ),
    cmd("role", 1, NOSCRIPT | LOADING | STALE | FAST, NO_KEYS, C_ADMIN | C_DANGEROUS, role, G, "2.8.12", "Returns the replication role."),
];

fn psync(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.client.replica.get() {
        return Ok(());
    }
    let offset = int_arg(&a[2])?;
    // PSYNC <replid> <offset> FAILOVER: our primary hands over to us.
    if a.len() > 3 && is(&a[3], "failover") {
        let by = ctx.client.info_line();
        ctx.srv.psync_failover(&a[1], &by)?;
    }
    refuse_without_master_link(ctx)?;
    let client = ctx.client.clone();
    ctx.srv.repl_sync(
        &client,
        SyncRequest::Psync {
            replid: &a[1],
            offset,
        },
    );
    Ok(())
}

fn sync(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.client.replica.get() {
        return Ok(());
    }
    refuse_without_master_link(ctx)?;
    let client = ctx.client.clone();
    ctx.srv.repl_sync(&client, SyncRequest::Sync);
    Ok(())
}

/// A replica whose own link is down has no stream to offer (and during
/// a failover handoff it must not take its target as a sub-replica).
fn refuse_without_master_link(ctx: &Ctx) -> CmdResult {
    if ctx.srv.is_replica() && !ctx.srv.master_link_up() {
        return Err(Error::msg(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    Ok(())
}

fn replconf(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() % 2 == 0 {
        return Err(Error::Syntax);
    }
    let id = ctx.client.id;
    for pair in a[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "listening-port") {
            let port = int_arg(val)?;
            ctx.srv
                .repl
                .handshakes
                .entry(id)
                .or_default()
                .listening_port = port as u16;
        } else if is(opt, "ip-address") {
            let ip = String::from_utf8_lossy(val).into_owned();
            ctx.srv.repl.handshakes.entry(id).or_default().ip = Some(ip);
        } else if is(opt, "capa") {
            let hs = ctx.srv.repl.handshakes.entry(id).or_default();
            if is(val, "eof") {
                hs.capa_eof = true;
            } else if is(val, "psync2") {
                hs.capa_psync2 = true;
            }
        } else if is(opt, "ack") {
            // Only replicas ack, and acks get no reply.
            if ctx.client.replica.get() {
                if let Some(off) = crate::util::num::parse_i64(val) {
                    let client = ctx.client.clone();
                    // REPLCONF ACK <offset> FACK <aof offset> (Redis 7.2).
                    if let (Some(k), Some(v)) = (a.get(3), a.get(4)) {
                        if let Some(f) = crate::util::num::parse_i64(v).filter(|_| is(k, "fack")) {
                            if let Some(r) = ctx.srv.repl.replica_mut(client.id) {
                                r.fack_off = r.fack_off.max(f);
                            }
                        }
                    }
                    ctx.srv.repl_ack(&client, off);
                }
            }
            return Ok(());
        } else if is(opt, "getack") {
            // A primary has no offset to report; the replica side answers
            // GETACK where it applies its primary's stream.
            return Ok(());
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
            // Accepted (redis-cli --rdb asks for them).
        } else {
            let mut e = b"ERR Unrecognized REPLCONF option: ".to_vec();
            e.extend_from_slice(opt);
            return Err(Error::Bytes(e));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn wait(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.srv.is_replica() {
        return Err(Error::msg("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated."));
    }
    let n = int_arg(&a[1])?;
    let ms = crate::util::num::parse_i64(&a[2])
        .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let client = ctx.client.clone();
    let may_block = !ctx.no_block && n > 0;
    match ctx.srv.repl_wait(&client, n.max(0) as usize, may_block) {
        Some(acked) => ctx.out.int(acked as i64),
        None => {
            let timeout = (ms > 0).then(|| std::time::Duration::from_millis(ms as u64));
            ctx.block_on(Vec::new(), timeout, TimeoutReply::Wait);
        }
    }
    Ok(())
}

fn role(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.srv.is_replica() {
        crate::repl::replica::role(ctx.srv, ctx.out);
        return Ok(());
    }
    let r = &ctx.srv.repl;
    let out = &mut *ctx.out;
    out.array(3);
    out.bulk(b"master");
    out.int(r.master_repl_offset);
    let online: Vec<_> = r
        .replicas
        .iter()
        .filter(|r| r.state == ReplicaState::Online)
        .collect();
    out.array(online.len());
    for s in online {
        out.array(3);
        out.bulk(s.ip().as_bytes());
        out.bulk(s.hs.listening_port.to_string().as_bytes());
        out.bulk(s.ack_off.to_string().as_bytes());
    }
    Ok(())
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] (see
/// `repl::failover`).
fn failover(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut req = Request {
        to: None,
        force: false,
        timeout_ms: None,
    };
    let mut abort = false;
    let mut i = 1;
    while i < a.len() {
        if is(&a[i], "to") && i + 2 < a.len() && req.to.is_none() {
            let port = int_arg(&a[i + 2])?;
            req.to = Some((String::from_utf8_lossy(&a[i + 1]).into_owned(), port));
            i += 3;
        } else if is(&a[i], "timeout") && i + 1 < a.len() && req.timeout_ms.is_none() {
            req.timeout_ms = Some(int_arg(&a[i + 1])?);
            i += 2;
        } else if is(&a[i], "force") && !req.force {
            req.force = true;
            i += 1;
        } else if is(&a[i], "abort") && !abort {
            abort = true;
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
    }
    if abort {
        if req.to.is_some() || req.force || req.timeout_ms.is_some() {
            return Err(Error::Syntax);
        }
        if !ctx.srv.failover_active() {
            return Err(Error::msg("ERR No failover in progress."));
        }
        ctx.srv.failover_abort("Failover manually aborted");
    } else {
        ctx.srv.failover_start(req)?;
    }
    ctx.out.ok();
    Ok(())
}
