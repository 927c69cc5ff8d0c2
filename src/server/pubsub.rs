//! The Pub/Sub registry: channel, pattern and shard-channel subscriptions,
//! and message delivery to subscribers' pending output, bounded by the
//! pubsub class of `client-output-buffer-limit` (see `outlimit`) so that
//! subscribers which do not keep up are disconnected.

use std::collections::HashMap;

use super::outlimit::deliver;
use super::{Client, Server};
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
            Kind::Channel => self
                .pubsub
                .channels
                .entry(name.to_vec())
                .or_default()
                .push(id),
            Kind::Shard => self
                .pubsub
                .shard_channels
                .entry(name.to_vec())
                .or_default()
                .push(id),
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
            Kind::Pattern => self
                .pubsub
                .patterns
                .retain(|(p, i)| !(p == name && *i == c.id)),
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

    /// Delivers a message; returns the number of receivers. Each message
    /// is encoded once per protocol and the bytes copied to every
    /// subscriber's pending output.
    pub fn publish(&mut self, channel: &[u8], msg: &[u8], shard: bool) -> usize {
        let limits = self.out_limits.pubsub;
        let mut n = 0;
        let (map, kind): (_, &[u8]) = if shard {
            (&self.pubsub.shard_channels, b"smessage")
        } else {
            (&self.pubsub.channels, b"message")
        };
        if let Some(ids) = map.get(channel) {
            let mut encoded = Encoded::default();
            for id in ids {
                if let Some(c) = self.clients.get(id) {
                    deliver(c, encoded.get(c, &[kind, channel, msg]), limits);
                    n += 1;
                }
            }
        }
        if !shard {
            for (p, id) in &self.pubsub.patterns {
                if !glob_match(p, channel, false) {
                    continue;
                }
                if let Some(c) = self.clients.get(id) {
                    let mut encoded = Encoded::default();
                    deliver(c, encoded.get(c, &[b"pmessage", p, channel, msg]), limits);
                    n += 1;
                }
            }
        }
        n
    }
}

/// One message as a RESP2 array and as a RESP3 push, each made on first use.
#[derive(Default)]
struct Encoded([Option<Vec<u8>>; 2]);

impl Encoded {
    fn get(&mut self, c: &Client, parts: &[&[u8]]) -> &[u8] {
        let resp3 = c.resp.get() == 3;
        self.0[resp3 as usize].get_or_insert_with(|| {
            let mut out = Out {
                buf: Vec::with_capacity(parts.iter().map(|p| p.len() + 16).sum::<usize>() + 8),
                resp3,
            };
            out.push(parts.len());
            for p in parts {
                out.bulk(p);
            }
            out.buf
        })
    }
}
