//! Keyspace notifications (`notify-keyspace-events`): after a command
//! changes a key, a Pub/Sub message goes to `__keyspace@<db>__:<key>` (the
//! event name as payload, class K) and to `__keyevent@<db>__:<event>` (the
//! key as payload, class E), for the event classes the directive enables.
//!
//! Expiry and key creation happen deep in `db`, which knows nothing of
//! Pub/Sub, so a database logs those keys (only while someone asked for
//! them) and the log is published before the next event and after every
//! command; that keeps Redis's order, e.g. `expired` then `set` for a SET
//! over an expired key, and `new` before `set` for a fresh one.

use super::Server;
use crate::db::KeyEvent;

pub const GENERIC: u32 = 1 << 0;
pub const STRING: u32 = 1 << 1;
pub const LIST: u32 = 1 << 2;
pub const SET: u32 = 1 << 3;
pub const HASH: u32 = 1 << 4;
pub const ZSET: u32 = 1 << 5;
pub const EXPIRED: u32 = 1 << 6;
pub const EVICTED: u32 = 1 << 7;
pub const STREAM: u32 = 1 << 8;
pub const KEY_MISS: u32 = 1 << 9;
pub const MODULE: u32 = 1 << 10;
pub const NEW: u32 = 1 << 11;
pub const KEYSPACE: u32 = 1 << 12;
pub const KEYEVENT: u32 = 1 << 13;

const LETTERS: &[(char, u32)] = &[
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('m', KEY_MISS),
    ('d', MODULE),
    ('n', NEW),
    ('K', KEYSPACE),
    ('E', KEYEVENT),
];

/// `A` stands for every class except key-miss and new-key, as in Redis.
const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// The class bits of a (validated) directive value; nothing is sent unless
/// K or E is among them.
pub fn parse_flags(text: &str) -> u32 {
    let mut f = 0;
    for c in text.chars() {
        if c == 'A' {
            f |= ALL;
        } else if let Some((_, bit)) = LETTERS.iter().find(|(l, _)| *l == c) {
            f |= bit;
        }
    }
    if f & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        f
    }
}

impl Server {
    /// Re-reads notify-keyspace-events and tells the databases which key
    /// events to log.
    pub fn apply_notify_config(&mut self) {
        let f = parse_flags(self.cfg.str(crate::config::D::NOTIFY_KEYSPACE_EVENTS));
        self.notify_flags = f;
        let mut log = 0;
        // Client tracking invalidates expired keys too.
        if f & EXPIRED != 0 || self.tracking.active() {
            log |= KeyEvent::Expired as u8;
        }
        if f & NEW != 0 {
            log |= KeyEvent::New as u8;
        }
        for db in &mut self.ks.dbs {
            db.log_events = log;
            if log == 0 {
                db.key_events.clear();
            }
        }
    }

    /// Fires `event` on `key` in database `db` if its class is enabled.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        if self.notify_flags & class == 0 {
            return;
        }
        self.publish_logged_key_events();
        self.publish_key_event(event, key, db);
    }

    /// Publishes the expiries and key creations the databases logged.
    pub fn publish_logged_key_events(&mut self) {
        for db in 0..self.ks.dbs.len() {
            if self.ks.dbs[db].key_events.is_empty() {
                continue;
            }
            let events = std::mem::take(&mut self.ks.dbs[db].key_events);
            for (kind, key) in events {
                let (name, class) = match kind {
                    KeyEvent::Expired => ("expired", EXPIRED),
                    KeyEvent::New => ("new", NEW),
                };
                if kind == KeyEvent::Expired {
                    self.touch_watched(db, &key);
                }
                if self.notify_flags & class != 0 {
                    self.publish_key_event(name, &key, db);
                }
            }
        }
    }

    fn publish_key_event(&mut self, event: &str, key: &[u8], db: usize) {
        if self.notify_flags & KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{db}__:").into_bytes();
            ch.extend_from_slice(key);
            self.publish(&ch, event.as_bytes(), false);
        }
        if self.notify_flags & KEYEVENT != 0 {
            let ch = format!("__keyevent@{db}__:{event}");
            self.publish(ch.as_bytes(), key, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_need_k_or_e() {
        assert_eq!(parse_flags("g$"), 0);
        assert_eq!(parse_flags("Kg"), KEYSPACE | GENERIC);
        assert_eq!(parse_flags("AE") & (KEY_MISS | NEW), 0);
        assert_eq!(parse_flags("AE") & EXPIRED, EXPIRED);
        assert_eq!(parse_flags("Em"), KEYEVENT | KEY_MISS);
    }
}
