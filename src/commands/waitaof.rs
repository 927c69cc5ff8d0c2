//! WAITAOF numlocal numreplicas timeout (Redis 7.2): blocks the client
//! until its writes so far are fsynced to the local AOF (numlocal 1) and
//! to the AOF of `numreplicas` replicas, then replies [local, replicas].
//!
//! Offsets are replication offsets: the client's last write is at
//! `Client::woff`; the AOF records up to which offset its bytes are
//! fsynced (`Aof::fsynced_offset`, advanced by `appendfsync always` at the
//! write and by the everysec thread, noticed here from the cron), and each
//! replica reports its own in `REPLCONF ACK <off> FACK <aof off>`.

use bytes::Bytes;

use super::{cmd, Command, C_CONNECTION, NOSCRIPT, NO_KEYS};
use crate::errors::{CmdResult, Error};
use crate::repl::ReplicaState;
use crate::resp::Out;
use crate::server::blocking::TimeoutReply;
use crate::server::{Client, Ctx, Server};

pub static COMMANDS: &[Command] = &[cmd(
    "waitaof",
    4,
    NOSCRIPT,
    NO_KEYS,
    C_CONNECTION,
    waitaof,
    "generic",
    "7.2.0",
    "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.",
)];

const NO_AOF: &str = "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.";

pub struct Waiter {
    client: u64,
    offset: i64,
    numlocal: i64,
    numreplicas: i64,
}

fn waitaof(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let numlocal = super::int_arg(&a[1])?;
    if !(0..=1).contains(&numlocal) {
        return Err(Error::msg(
            "ERR value is out of range, value must between 0 and 1",
        ));
    }
    let numreplicas = super::int_arg(&a[2])?;
    if numreplicas < 0 {
        return Err(Error::msg("ERR value is out of range, must be positive"));
    }
    let ms = crate::util::num::parse_i64(&a[3])
        .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    if ctx.srv.is_replica() {
        return Err(Error::msg("ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated."));
    }
    if numlocal > 0 && !ctx.srv.aof.on {
        return Err(Error::msg(NO_AOF));
    }
    let offset = ctx.client.woff.get();
    let (local, replicas) = ctx.srv.waitaof_acks(offset);
    if (local >= numlocal && replicas >= numreplicas) || ctx.no_block {
        reply(ctx.out, local, replicas);
        return Ok(());
    }
    // A waiter left from an earlier WAITAOF that something else unblocked
    // (CLIENT UNBLOCK, a role change) must not answer this one.
    let id = ctx.client.id;
    ctx.srv.repl.aof_waiters.retain(|w| w.client != id);
    ctx.srv.repl.aof_waiters.push(Waiter {
        client: ctx.client.id,
        offset,
        numlocal,
        numreplicas,
    });
    if numreplicas > 0 {
        ctx.srv.repl_getack();
    }
    let timeout = (ms > 0).then(|| std::time::Duration::from_millis(ms as u64));
    ctx.block_on(Vec::new(), timeout, TimeoutReply::WaitAof);
    Ok(())
}

fn reply(out: &mut Out, local: i64, replicas: i64) {
    out.array(2);
    out.int(local);
    out.int(replicas);
}

impl Server {
    /// Whether the local AOF (0 or 1) and how many online replicas have
    /// fsynced everything up to `offset`.
    fn waitaof_acks(&self, offset: i64) -> (i64, i64) {
        let local = (self.aof.fsynced_offset() >= offset) as i64;
        let replicas = self
            .repl
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.fack_off >= offset)
            .count() as i64;
        (local, replicas)
    }

    /// Answers the blocked WAITAOFs whose fsyncs are now done (after an
    /// AOF write, a replica's ACK, and from the cron for the everysec
    /// thread's fsyncs).
    pub fn waitaof_serve(&mut self) {
        if self.repl.aof_waiters.is_empty() {
            return;
        }
        let waiters = std::mem::take(&mut self.repl.aof_waiters);
        for w in waiters {
            let Some(c) = self.clients.get(&w.client).cloned() else {
                continue;
            };
            // (Unblocked meanwhile by CLIENT UNBLOCK or a role change, and
            // maybe blocked in another command since.)
            let in_waitaof = c.blocked.borrow().as_ref().is_some_and(|b| {
                b.args
                    .first()
                    .is_some_and(|n| n.eq_ignore_ascii_case(b"waitaof"))
            });
            if !in_waitaof {
                continue;
            }
            let (local, replicas) = self.waitaof_acks(w.offset);
            if local < w.numlocal || replicas < w.numreplicas {
                self.repl.aof_waiters.push(w);
                continue;
            }
            self.unblock(&c);
            send(&c, |out| reply(out, local, replicas));
        }
    }

    /// A WAITAOF's timeout passed: what is fsynced so far.
    pub fn waitaof_timeout(&mut self, client: &Client, out: &mut Out) {
        let i = self
            .repl
            .aof_waiters
            .iter()
            .position(|w| w.client == client.id);
        let offset = i.map_or(client.woff.get(), |i| {
            self.repl.aof_waiters.remove(i).offset
        });
        let (local, replicas) = self.waitaof_acks(offset);
        reply(out, local, replicas);
    }

    /// appendonly was switched off: waits for a local fsync can never end.
    pub fn waitaof_fail_local(&mut self) {
        let waiters = std::mem::take(&mut self.repl.aof_waiters);
        for w in waiters {
            if w.numlocal == 0 {
                self.repl.aof_waiters.push(w);
                continue;
            }
            if let Some(c) = self.clients.get(&w.client).cloned() {
                if self.unblock(&c).is_some() {
                    send(&c, |out| out.error(NO_AOF));
                }
            }
        }
    }
}

/// A reply to a parked client, sent by its connection task.
fn send(c: &Client, f: impl FnOnce(&mut Out)) {
    let mut out = Out::new(c.resp.get() == 3);
    f(&mut out);
    c.pending.borrow_mut().extend_from_slice(&out.buf);
    c.wake.notify_one();
}
