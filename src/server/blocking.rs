//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...).
//!
//! A handler that finds nothing to return calls `Ctx::block_on` instead of
//! replying. The client is then parked: its command is remembered, it is
//! queued (FIFO) on each key it waits for, and its connection stops
//! processing input. A write that may satisfy waiters calls
//! `Ctx::signal_ready(key)`; right after that command, before any other
//! command runs, the waiters of every ready key are served in order by
//! re-running their commands as themselves, as Redis does. A waiter whose
//! command would block again stays queued in place. A timeout is handled by
//! the connection task, which asks the server to unblock with the command's
//! timeout reply.

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{exec, Client, Ctx, Server};
use crate::errors::Error;
use crate::resp::Out;

/// What a blocked command replies when its timeout expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutReply {
    /// `*-1` (RESP2) / `_` (RESP3): BLPOP, BZPOPMIN, XREAD, BLMPOP, ...
    NullArray,
    /// `$-1` / `_`.
    NullBulk,
    /// WAIT: the number of replicas that acknowledged.
    Wait,
    /// WAITAOF: [local fsynced, replicas fsynced].
    WaitAof,
}

#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub keys: Vec<Vec<u8>>,
    /// None: wait forever (timeout 0).
    pub timeout: Option<Duration>,
    pub on_timeout: TimeoutReply,
    /// Arguments to re-run instead of the original ones, when the command
    /// must pin something at block time (XREAD's `$`).
    pub rewritten: Option<Vec<Bytes>>,
}

/// A parked client's state.
#[derive(Debug, Clone)]
pub struct Blocked {
    pub args: Vec<Bytes>,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    pub deadline: Option<Instant>,
    pub on_timeout: TimeoutReply,
}

/// Parses a blocking timeout in seconds (a double, as Redis 6+ accepts).
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Error> {
    let t = crate::util::num::parse_f64(arg)
        .ok_or_else(|| Error::msg("ERR timeout is not a float or out of range"))?;
    if t < 0.0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    // Redis works in whole milliseconds and rounds a positive fraction up.
    let ms = (t * 1000.0).ceil();
    if !ms.is_finite() || ms > (i64::MAX / 2) as f64 {
        return Err(Error::msg("ERR timeout is out of range"));
    }
    let ms = ms as u64;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

impl Ctx<'_> {
    /// Parks the calling client on `keys` instead of replying (see module
    /// docs). Inside MULTI or a script the command must not block: the
    /// timeout reply is given at once.
    pub fn block_on(
        &mut self,
        keys: Vec<Vec<u8>>,
        timeout: Option<Duration>,
        on_timeout: TimeoutReply,
    ) {
        if self.no_block {
            timeout_reply(self.out, on_timeout);
            return;
        }
        self.block = Some(BlockRequest {
            keys,
            timeout,
            on_timeout,
            rewritten: None,
        });
    }

    /// A command added data to `key` that blocked clients may be waiting
    /// for (a push to a list, an add to a sorted set, an entry to a stream).
    pub fn signal_ready(&mut self, key: &[u8]) {
        if self.srv.blocking.is_empty() {
            return;
        }
        let k = (self.client.db.get(), key.to_vec());
        if self.srv.blocking.contains_key(&k) && !self.srv.ready_keys.contains(&k) {
            self.srv.ready_keys.push_back(k);
        }
    }
}

fn timeout_reply(out: &mut Out, r: TimeoutReply) {
    match r {
        TimeoutReply::NullArray => out.null_array(),
        TimeoutReply::NullBulk => out.null(),
        TimeoutReply::Wait => out.int(0),
        TimeoutReply::WaitAof => {
            out.array(2);
            out.int(0);
            out.int(0);
        }
    }
}

impl Server {
    pub fn block(&mut self, client: &Rc<Client>, args: &[Bytes], req: BlockRequest) {
        let db = client.db.get();
        for k in &req.keys {
            let q = self.blocking.entry((db, k.clone())).or_default();
            if !q.contains(&client.id) {
                q.push_back(client.id);
            }
        }
        *client.blocked.borrow_mut() = Some(Blocked {
            args: req.rewritten.unwrap_or_else(|| args.to_vec()),
            db,
            keys: req.keys,
            deadline: req.timeout.map(|t| Instant::now() + t),
            on_timeout: req.on_timeout,
        });
    }

    /// Removes a client from every wait queue; returns its blocked state.
    pub fn unblock(&mut self, client: &Client) -> Option<Blocked> {
        let b = client.blocked.borrow_mut().take()?;
        for k in &b.keys {
            let key = (b.db, k.clone());
            if let Some(q) = self.blocking.get_mut(&key) {
                q.retain(|&id| id != client.id);
                if q.is_empty() {
                    self.blocking.remove(&key);
                }
            }
        }
        Some(b)
    }

    /// The connection task saw the deadline pass: reply with the timeout
    /// value into `out`.
    pub fn unblock_timeout(&mut self, client: &Client, out: &mut Out) {
        if let Some(b) = self.unblock(client) {
            match b.on_timeout {
                TimeoutReply::Wait => out.int(self.repl_wait_timeout(client) as i64),
                TimeoutReply::WaitAof => self.waitaof_timeout(client, out),
                r => timeout_reply(out, r),
            }
        }
    }

    /// Serves the waiters of every key signalled ready, in FIFO order, by
    /// re-running their commands. Replies go to each client's pending
    /// output and its connection task is woken to send them.
    pub fn serve_ready_keys(&mut self, now_ms: i64) {
        while let Some(key) = self.ready_keys.pop_front() {
            let waiters: VecDeque<u64> = match self.blocking.get(&key) {
                Some(q) => q.clone(),
                None => continue,
            };
            for id in waiters {
                let Some(client) = self.clients.get(&id).cloned() else {
                    continue;
                };
                let Some(b) = client.blocked.borrow().clone() else {
                    continue;
                };
                let mut out = Out::new(client.resp.get() == 3);
                let again = exec::execute(self, &client, &mut out, &b.args, now_ms);
                if again.is_none() {
                    self.unblock(&client);
                    client.pending.borrow_mut().extend_from_slice(&out.buf);
                    client.wake.notify_one();
                }
                // Blocked again: it keeps its place and its deadline.
            }
        }
    }
}
