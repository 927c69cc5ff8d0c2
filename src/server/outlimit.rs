//! `client-output-buffer-limit`: how much output may wait for a client
//! before it is disconnected, per class (normal, replica, pubsub). The hard
//! limit disconnects at once; the soft one when it stays exceeded for its
//! number of seconds. Replies, Pub/Sub messages and MONITOR lines all
//! check here.

use std::cell::Cell;
use std::time::Instant;

use super::Client;
use crate::config::{Config, D};

#[derive(Debug, Clone, Copy, Default)]
pub struct Limit {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub normal: Limit,
    pub replica: Limit,
    pub pubsub: Limit,
}

/// Reads the directive (re-read by the cron and after CONFIG SET, so the
/// per-command check costs no parsing).
pub fn parse(cfg: &Config) -> Limits {
    let mut l = Limits::default();
    let v: Vec<&str> = cfg
        .str(D::CLIENT_OUTPUT_BUFFER_LIMIT)
        .split_whitespace()
        .collect();
    for c in v.chunks(4) {
        if c.len() != 4 {
            continue;
        }
        let n = |s: &str| crate::config::parse_memory(s).unwrap_or(0).max(0) as usize;
        let lim = Limit {
            hard: n(c[1]),
            soft: n(c[2]),
            soft_secs: c[3].parse().unwrap_or(0),
        };
        match c[0] {
            "normal" => l.normal = lim,
            "replica" | "slave" => l.replica = lim,
            "pubsub" => l.pubsub = lim,
            _ => {}
        }
    }
    l
}

impl Limits {
    /// The class a client's output counts against.
    pub fn for_client(&self, c: &Client) -> Limit {
        if c.replica.get() {
            self.replica
        } else if c.in_pubsub() {
            self.pubsub
        } else {
            self.normal
        }
    }
}

impl Limit {
    /// Smallest output size that can break a limit (usize::MAX when none
    /// is set), so callers can skip the check cheaply.
    pub fn floor(&self) -> usize {
        match (self.hard, self.soft) {
            (0, 0) => usize::MAX,
            (0, s) => s,
            (h, 0) => h,
            (h, s) => h.min(s),
        }
    }

    /// Whether a client with `len` bytes of output waiting must be
    /// disconnected; starts or clears its soft-limit clock.
    pub fn exceeded(&self, c: &Client, len: usize) -> bool {
        self.exceeded_since(&c.soft_limit_since, len)
    }

    /// `exceeded` with the soft-limit clock kept in `clock`.
    pub fn exceeded_since(&self, clock: &Cell<Option<Instant>>, len: usize) -> bool {
        let over_hard = self.hard > 0 && len > self.hard;
        let over_soft = self.soft > 0 && len > self.soft;
        if !over_soft {
            clock.set(None);
        }
        let soft_expired = over_soft && {
            let since = clock.get().unwrap_or_else(Instant::now);
            clock.set(Some(since));
            since.elapsed().as_secs() >= self.soft_secs
        };
        over_hard || soft_expired
    }
}

/// Disconnects a client that broke its output limit, as Redis logs it.
pub fn close(c: &Client) {
    tracing::warn!(
        "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
        c.id,
        c.addr
    );
    c.pending.borrow_mut().clear();
    c.kill();
}

/// Appends pushed output (messages, MONITOR lines) to a client's pending
/// buffer and wakes it, or disconnects it if that breaks its limit.
pub fn deliver(c: &Client, bytes: &[u8], limit: Limit) {
    if c.close_asap.get() {
        return;
    }
    let len = {
        let mut p = c.pending.borrow_mut();
        p.extend_from_slice(bytes);
        p.len()
    };
    if len >= limit.floor() && limit.exceeded(c, len) {
        close(c);
    } else {
        c.wake.notify_one();
    }
}
