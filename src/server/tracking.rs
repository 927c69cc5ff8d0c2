//! Client-side caching: CLIENT TRACKING and its invalidation messages.
//!
//! Default mode: the server remembers which clients read which keys (the
//! keys of read-only commands) and, when such a key changes, tells each of
//! them once (`invalidate` push in RESP3, or a `__redis__:invalidate`
//! message to the REDIRECT client) and forgets the pair. BCAST mode keeps
//! no per-key memory: every change to a key under one of the client's
//! prefixes is announced, in one message per prefix after the command.
//! As in Redis, keys are tracked by name across databases.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use super::{Client, Server};
use crate::resp::Out;

pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// One client's CLIENT TRACKING settings (absent when tracking is off).
#[derive(Debug, Clone, Default)]
pub struct Tracking {
    pub redirect: u64,
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
    pub prefixes: Vec<Vec<u8>>,
    /// CLIENT CACHING yes/no, for the next command only.
    pub caching: Option<bool>,
    /// The REDIRECT client went away.
    pub broken_redirect: bool,
}

#[derive(Default)]
pub struct TrackingTable {
    /// Key -> clients that read it (default mode).
    pub keys: HashMap<Vec<u8>, HashSet<u64>>,
    /// Prefix -> BCAST clients, and the keys changed under it since the
    /// last flush.
    pub prefixes: BTreeMap<Vec<u8>, (HashSet<u64>, Vec<Vec<u8>>)>,
    /// Clients with tracking on.
    pub clients: usize,
    /// Invalidations for the client running the current command, sent
    /// after its reply (Redis 7 never splits a reply with them).
    pub for_caller: Vec<Vec<u8>>,
}

impl TrackingTable {
    pub fn active(&self) -> bool {
        self.clients > 0
    }

    /// The items tracked in default mode (INFO tracking_total_items).
    pub fn items(&self) -> usize {
        self.keys.values().map(|s| s.len()).sum()
    }
}

/// Sends an invalidation of `keys` (None: everything, after a flush) to the
/// client that receives `c`'s invalidations. `caller` is the client
/// running the command with its reply buffer, where its own messages go.
fn send(
    srv: &mut Server,
    c: &Rc<Client>,
    keys: Option<&[Vec<u8>]>,
    caller: Option<(&Rc<Client>, &mut Out)>,
) {
    let redirect = match c.tracking.borrow().as_ref() {
        Some(t) => t.redirect,
        None => return,
    };
    let target = if redirect == 0 {
        c.clone()
    } else {
        match srv.clients.get(&redirect) {
            Some(t) => t.clone(),
            None => {
                let newly_broken = c
                    .tracking
                    .borrow_mut()
                    .as_mut()
                    .is_some_and(|t| !std::mem::replace(&mut t.broken_redirect, true));
                if newly_broken && c.resp.get() == 3 {
                    let mut o = Out::new(true);
                    o.push(2);
                    o.bulk(b"tracking-redir-broken");
                    o.int(redirect as i64);
                    queue(c, &o.buf);
                }
                return;
            }
        }
    };
    let resp3 = target.resp.get() == 3;
    if !resp3 && !target.subs.borrow().iter().any(|s| s == INVALIDATE_CHANNEL) {
        // A RESP2 connection can only get them as Pub/Sub messages.
        return;
    }
    let mut o = Out::new(resp3);
    if resp3 {
        o.push(2);
        o.bulk(b"invalidate");
    } else {
        o.push(3);
        o.bulk(b"message");
        o.bulk(INVALIDATE_CHANNEL);
    }
    match keys {
        Some(keys) => {
            o.array(keys.len());
            for k in keys {
                o.bulk(k);
            }
        }
        None => o.null_array(),
    }
    match caller {
        Some((me, out)) if Rc::ptr_eq(&target, me) => out.buf.extend_from_slice(&o.buf),
        _ => queue(&target, &o.buf),
    }
}

fn queue(c: &Client, bytes: &[u8]) {
    c.pending.borrow_mut().extend_from_slice(bytes);
    c.wake.notify_one();
}

impl Server {
    /// `key` changed (by `by`, the client running the command): tell the
    /// clients that cached it.
    pub fn invalidate_tracked(&mut self, key: &[u8], by: Option<u64>) {
        if !self.tracking.active() {
            return;
        }
        if let Some(ids) = self.tracking.keys.remove(key) {
            for id in ids {
                let Some(c) = self.clients.get(&id).cloned() else {
                    continue;
                };
                let (on, noloop) = match c.tracking.borrow().as_ref() {
                    Some(t) => (!t.bcast, t.noloop),
                    None => (false, false),
                };
                if !on || (noloop && by == Some(id)) {
                    continue;
                }
                if by == Some(id) {
                    self.tracking.for_caller.push(key.to_vec());
                } else {
                    send(self, &c, Some(&[key.to_vec()]), None);
                }
            }
        }
        for (prefix, (_, changed)) in self.tracking.prefixes.iter_mut() {
            if key.starts_with(prefix) {
                changed.push(key.to_vec());
            }
        }
    }

    /// FLUSHALL/FLUSHDB: every tracking client drops its whole cache.
    pub fn invalidate_all_tracked(&mut self) {
        if !self.tracking.active() {
            return;
        }
        self.tracking.keys.clear();
        let clients: Vec<Rc<Client>> = self
            .clients
            .values()
            .filter(|c| c.tracking.borrow().is_some())
            .cloned()
            .collect();
        for c in clients {
            send(self, &c, None, None);
        }
    }

    /// After each command of a tracking-enabled server: remember what a
    /// caching client read, send the BCAST batches and the caller's own
    /// invalidations.
    pub fn tracking_after_command(
        &mut self,
        client: &Rc<Client>,
        read_keys: &[&[u8]],
        out: &mut Out,
        keep_caching: bool,
    ) {
        let remember = match client.tracking.borrow().as_ref() {
            Some(t) if !t.bcast => {
                if t.optin {
                    t.caching == Some(true)
                } else if t.optout {
                    t.caching != Some(false)
                } else {
                    true
                }
            }
            _ => false,
        };
        if remember {
            for k in read_keys {
                self.tracking
                    .keys
                    .entry(k.to_vec())
                    .or_default()
                    .insert(client.id);
            }
        }
        if !keep_caching {
            if let Some(t) = client.tracking.borrow_mut().as_mut() {
                t.caching = None;
            }
        }
        let mut batches: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
        for (ids, changed) in self.tracking.prefixes.values_mut() {
            if changed.is_empty() {
                continue;
            }
            let keys = std::mem::take(changed);
            for &id in ids.iter() {
                batches.push((id, keys.clone()));
            }
        }
        for (id, keys) in batches {
            let Some(c) = self.clients.get(&id).cloned() else {
                continue;
            };
            let noloop = c.tracking.borrow().as_ref().is_some_and(|t| t.noloop);
            if noloop && id == client.id {
                continue;
            }
            send(self, &c, Some(&keys), Some((client, &mut *out)));
        }
        if !self.tracking.for_caller.is_empty() {
            let keys = std::mem::take(&mut self.tracking.for_caller);
            for k in keys {
                send(self, client, Some(&[k]), Some((client, &mut *out)));
            }
        }
    }

    /// Turns tracking on for `c` with `t` (already validated).
    pub fn tracking_on(&mut self, c: &Client, t: Tracking) {
        if c.tracking.borrow().is_none() {
            self.tracking.clients += 1;
        }
        for p in &t.prefixes {
            self.tracking
                .prefixes
                .entry(p.clone())
                .or_default()
                .0
                .insert(c.id);
        }
        *c.tracking.borrow_mut() = Some(t);
        self.apply_notify_config();
    }

    /// Turns tracking off for `c` (also when it disconnects). Its entries in
    /// the key table go lazily, when those keys change.
    pub fn tracking_off(&mut self, c: &Client) {
        let Some(t) = c.tracking.borrow_mut().take() else {
            return;
        };
        self.tracking.clients -= 1;
        for p in &t.prefixes {
            if let Some((ids, _)) = self.tracking.prefixes.get_mut(p) {
                ids.remove(&c.id);
                if ids.is_empty() {
                    self.tracking.prefixes.remove(p);
                }
            }
        }
        self.apply_notify_config();
    }
}
