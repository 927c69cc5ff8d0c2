//! The Pub/Sub registry: channel, pattern and shard-channel subscriptions,
//! message delivery to subscribers' pending output, and the pubsub class of
//! `client-output-buffer-limit` that disconnects subscribers which do not
//! keep up instead of letting server memory grow.

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use super::{Client, Server};
use crate::config::D;
use crate::resp::Out;
use crate::util::glob::glob_match;

#[derive(Default)]
pub struct PubSub {
    pub channels: HashMap<Vec<u8>, Vec<u64>>,
    /// In subscription order, as Redis delivers pattern messages.
    pub patterns: Vec<(Vec<u8>, u64)>,
    pub shard_channels: HashMap<Vec<u8>, Vec<u64>>,
}

/// Which kind of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

/// hard, soft limits (bytes) and soft seconds for pubsub clients.
fn pubsub_limits(srv: &Server) -> (usize, usize, u64) {
    let v: Vec<&str> = srv.cfg.str(D::CLIENT_OUTPUT_BUFFER_LIMIT).split_whitespace().collect();
    for c in v.chunks(4) {
        if c.len() == 4 && c[0] == "pubsub" {
            let n = |s: &str| crate::config::parse_memory(s).unwrap_or(0).max(0) as usize;
            return (n(c[1]), n(c[2]), c[3].parse().unwrap_or(0));
        }
    }
    (0, 0, 0)
}

impl Server {
    pub fn subscriptions(&self, c: &Client, kind: Kind) -> usize {
        match kind {
            Kind::Shard => c.ssubs.borrow().len(),
            _ => c.subs.borrow().len() + c.psubs.borrow().len(),
        }
    }

    /// Adds a subscription; false if the client already had it.
    pub fn subscribe(&mut self, c: &Client, kind: Kind, name: &[u8]) -> bool {
        let (mine, id) = match kind {
            Kind::Channel => (&c.subs, c.id),
            Kind::Pattern => (&c.psubs, c.id),
            Kind::Shard => (&c.ssubs, c.id),
        };
        if mine.borrow().iter().any(|n| n == name) {
            return false;
        }
        mine.borrow_mut().push(name.to_vec());
        match kind {
            Kind::Channel => self.pubsub.channels.entry(name.to_vec()).or_default().push(id),
            Kind::Shard => self.pubsub.shard_channels.entry(name.to_vec()).or_default().push(id),
            Kind::Pattern => self.pubsub.patterns.push((name.to_vec(), id)),
        }
        true
    }

    /// Removes a subscription; false if the client did not have it.
    pub fn unsubscribe(&mut self, c: &Client, kind: Kind, name: &[u8]) -> bool {
        let mine = match kind {
            Kind::Channel => &c.subs,
            Kind::Pattern => &c.psubs,
            Kind::Shard => &c.ssubs,
        };
        let before = mine.borrow().len();
        mine.borrow_mut().retain(|n| n != name);
        if mine.borrow().len() == before {
            return false;
        }
        let drop_from = |m: &mut HashMap<Vec<u8>, Vec<u64>>| {
            if let Some(v) = m.get_mut(name) {
                v.retain(|&i| i != c.id);
                if v.is_empty() {
                    m.remove(name);
                }
            }
        };
        match kind {
            Kind::Channel => drop_from(&mut self.pubsub.channels),
            Kind::Shard => drop_from(&mut self.pubsub.shard_channels),
            Kind::Pattern => self.pubsub.patterns.retain(|(p, i)| !(p == name && *i == c.id)),
        }
        true
    }

    /// Drops every subscription of a client (disconnect, RESET).
    pub fn unsubscribe_all(&mut self, c: &Client) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            let names: Vec<Vec<u8>> = match kind {
                Kind::Channel => c.subs.borrow().clone(),
                Kind::Pattern => c.psubs.borrow().clone(),
                Kind::Shard => c.ssubs.borrow().clone(),
            };
            for n in names {
                self.unsubscribe(c, kind, &n);
            }
        }
    }

    /// Delivers a message; returns the number of receivers.
    pub fn publish(&mut self, channel: &[u8], msg: &[u8], shard: bool) -> usize {
        let limits = pubsub_limits(self);
        let mut n = 0;
        let ids: Vec<u64> = if shard {
            self.pubsub.shard_channels.get(channel).cloned().unwrap_or_default()
        } else {
            self.pubsub.channels.get(channel).cloned().unwrap_or_default()
        };
        for id in ids {
            if let Some(c) = self.clients.get(&id).cloned() {
                let mut out = Out::new(c.resp.get() == 3);
                out.push(3);
                out.bulk(if shard { b"smessage" } else { b"message" });
                out.bulk(channel);
                out.bulk(msg);
                deliver(&c, &out.buf, limits);
                n += 1;
            }
        }
        if !shard {
            let matches: Vec<(Vec<u8>, u64)> = self
                .pubsub
                .patterns
                .iter()
                .filter(|(p, _)| glob_match(p, channel, false))
                .cloned()
                .collect();
            for (p, id) in matches {
                if let Some(c) = self.clients.get(&id).cloned() {
                    let mut out = Out::new(c.resp.get() == 3);
                    out.push(4);
                    out.bulk(b"pmessage");
                    out.bulk(&p);
                    out.bulk(channel);
                    out.bulk(msg);
                    deliver(&c, &out.buf, limits);
                    n += 1;
                }
            }
        }
        n
    }
}

/// Appends to a subscriber's pending output, enforcing the pubsub output
/// buffer limits (hard: at once; soft: when exceeded for `soft_secs`).
fn deliver(c: &Rc<Client>, bytes: &[u8], (hard, soft, soft_secs): (usize, usize, u64)) {
    if c.close_asap.get() {
        return;
    }
    let len = {
        let mut p = c.pending.borrow_mut();
        p.extend_from_slice(bytes);
        p.len()
    };
    let over_hard = hard > 0 && len > hard;
    let over_soft = soft > 0 && len > soft;
    if !over_soft {
        c.soft_limit_since.set(None);
    }
    let soft_expired = over_soft && {
        let since = c.soft_limit_since.get().unwrap_or_else(Instant::now);
        c.soft_limit_since.set(Some(since));
        since.elapsed().as_secs() >= soft_secs
    };
    if over_hard || soft_expired {
        tracing::warn!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            c.id,
            c.addr
        );
        c.pending.borrow_mut().clear();
        c.kill();
    } else {
        c.wake.notify_one();
    }
}
