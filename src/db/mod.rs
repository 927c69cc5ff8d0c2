//! The keyspace: numbered databases, each a dict of keys plus a dict of
//! expiry times (only for keys that have one, as in Redis, so that active
//! expiry samples only volatile keys).
//!
//! Invariant: a key is in `expires` only if it is in `dict`. An expired key
//! is never returned: every lookup goes through `expire_if_needed`.

pub mod access;
pub mod dict;
pub mod digest;
pub mod hash;
pub mod hll;
pub mod list;
pub mod set;
pub mod snap;
pub mod stream;
pub mod thin;
pub mod value;
pub mod zset;

use rand::rngs::SmallRng;
use rand::SeedableRng;

pub use dict::{Dict, Key};

pub use value::{Entry, StrVal, Value};

pub use access::lru_clock;

pub struct Db {
    /// Private so that every change passes the snapshot hook (`snap`).
    dict: Dict<Entry>,
    expires: Dict<i64>,
    /// Keys removed because they expired (lazily or actively).
    pub expired: u64,
    /// Keys deleted behind the commands' backs (expired, evicted), kept
    /// while something (the AOF) must propagate them as DELs.
    pub deleted_log: Option<Vec<Vec<u8>>>,
    /// Which `KeyEvent`s to log (bits), for keyspace notifications.
    pub log_events: u8,
    /// Expiries and creations not yet published (see server::notify).
    pub key_events: Vec<(KeyEvent, Key)>,
    /// The mark new entries get; a running snapshot has saved exactly the
    /// entries that carry it (see `snap`).
    epoch: u8,
    /// The snapshot under way over this database, if any.
    pub snap: Option<Box<snap::DbSnap>>,
}

/// Key events that happen inside the database layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeyEvent {
    Expired = 1,
    New = 2,
}

/// How expired keys are treated. A replica never deletes them itself (its
/// primary's DELs do) but hides them from its clients' reads; the
/// primary's own commands still see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryMode {
    Normal,
    Hide,
    Keep,
}

thread_local! {
    static EXPIRY_MODE: std::cell::Cell<ExpiryMode> = const { std::cell::Cell::new(ExpiryMode::Normal) };
}

pub fn set_expiry_mode(m: ExpiryMode) {
    EXPIRY_MODE.with(|c| c.set(m));
}

pub fn expiry_mode() -> ExpiryMode {
    EXPIRY_MODE.with(|c| c.get())
}

impl Default for Db {
    fn default() -> Self {
        Db {
            dict: Dict::capped(),
            expires: Dict::capped(),
            expired: 0,
            deleted_log: None,
            log_events: 0,
            key_events: Vec::new(),
            epoch: 0,
            snap: None,
        }
    }
}

impl Db {
    pub fn dict(&self) -> &Dict<Entry> {
        &self.dict
    }

    pub fn expires(&self) -> &Dict<i64> {
        &self.expires
    }

    /// Saves `key`'s value into the running snapshot before it changes, if
    /// the snapshot has not saved it yet. Free (one branch) when no
    /// snapshot runs.
    #[inline]
    fn pre_image(&mut self, key: &[u8]) {
        if self.snap.is_some() {
            self.save_pre_image(key);
        }
    }

    /// Mutable access to an entry, without expiring or touching it. Every
    /// `&mut Entry` the keyspace hands out comes from here or `lookup`.
    pub fn entry_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.pre_image(key);
        self.dict.get_mut(key)
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    pub fn expire_at(&self, key: &[u8]) -> Option<i64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Deletes `key` if its time has come; true if it was deleted (or,
    /// on a replica, is to be treated as missing).
    #[inline]
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: i64) -> bool {
        // Every lookup passes here: keep the no-TTL case inline and small.
        !self.expires.is_empty() && self.expire_volatile(key, now_ms)
    }

    fn expire_volatile(&mut self, key: &[u8], now_ms: i64) -> bool {
        match self.expire_at(key) {
            Some(at) if at <= now_ms && expiry_mode() != ExpiryMode::Normal => expiry_mode() == ExpiryMode::Hide,
            Some(at) if at <= now_ms => {
                self.remove(key);
                self.note_deleted(key);
                self.expired += 1;
                self.log(KeyEvent::Expired, key);
                true
            }
            _ => false,
        }
    }

    /// Looks a key up for reading or writing, expiring it first if due, and
    /// updates its access time.
    pub fn lookup(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Entry> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.pre_image(key);
        let e = self.dict.get_mut(key)?;
        access::touch(&mut e.lru, now_ms);
        Some(e)
    }

    /// Looks a key up without touching its access time (OBJECT IDLETIME,
    /// TYPE... use the touching version in Redis too, except OBJECT).
    pub fn peek(&mut self, key: &[u8], now_ms: i64) -> Option<&Entry> {
        if self.expire_if_needed(key, now_ms) {
            return None;
        }
        self.dict.get(key)
    }

    pub fn exists(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.peek(key, now_ms).is_some()
    }

    /// Writes a value; the key loses any TTL unless `keep_ttl`.
    pub fn set(&mut self, key: &[u8], val: Value, keep_ttl: bool, now_ms: i64) {
        self.pre_image(key);
        match self.dict.get_mut(key) {
            Some(e) => {
                e.val = val;
                access::touch(&mut e.lru, now_ms);
                if !keep_ttl {
                    self.expires.remove(key);
                }
            }
            None => self.add(key, val, now_ms),
        }
    }

    fn log(&mut self, ev: KeyEvent, key: &[u8]) {
        if self.log_events & ev as u8 != 0 {
            self.key_events.push((ev, key.into()));
        }
    }

    /// Adds a key known to be absent (after a lookup said so).
    pub fn add(&mut self, key: &[u8], val: Value, now_ms: i64) {
        // A key born during a snapshot is not part of it: it carries the
        // mark of the saved ones.
        let e = Entry { val, lru: access::fresh(now_ms), snap: self.epoch };
        self.dict.insert_new(key, e);
        self.log(KeyEvent::New, key);
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.pre_image(key);
        let e = self.dict.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(e)
    }

    /// Deletes `key` if it holds a collection that has become empty:
    /// Redis never keeps empty lists, hashes, sets or sorted sets.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = self.dict.get(key).is_some_and(|e| !matches!(e.val, Value::Str(_) | Value::Stream(_)) && e.val.elements() == 0);
        if empty {
            self.remove(key);
        }
        empty
    }

    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) {
        self.pre_image(key);
        if let Some(slot) = self.expires.get_mut(key) {
            *slot = at_ms;
        } else if self.dict.contains_key(key) {
            self.expires.insert_new(key, at_ms);
        }
    }

    /// Records a deletion no command asked for (see `deleted_log`).
    pub fn note_deleted(&mut self, key: &[u8]) {
        if let Some(log) = &mut self.deleted_log {
            log.push(key.to_vec());
        }
    }

    pub fn persist(&mut self, key: &[u8]) -> bool {
        self.pre_image(key);
        self.expires.remove(key).is_some()
    }

    /// Empties the database and returns the old contents for the caller to
    /// free, or None when a running snapshot keeps them to save later.
    pub fn take_contents(&mut self) -> Option<(Dict<Entry>, Dict<i64>)> {
        let old = (
            std::mem::replace(&mut self.dict, Dict::capped()),
            std::mem::replace(&mut self.expires, Dict::capped()),
        );
        match &mut self.snap {
            Some(s) => {
                s.detach(old);
                None
            }
            None => Some(old),
        }
    }

    /// One round of active expiry: samples up to `samples` volatile keys and
    /// deletes the expired ones. Returns (sampled, expired).
    pub fn expire_sample(&mut self, rng: &mut SmallRng, samples: usize, now_ms: i64) -> (usize, usize) {
        let mut sampled = 0;
        let mut doomed: Vec<Key> = Vec::new();
        for _ in 0..samples.min(self.expires.len()) {
            if let Some((k, &at)) = self.expires.random(rng) {
                sampled += 1;
                if at <= now_ms && !doomed.iter().any(|d| &d[..] == k) {
                    doomed.push(k.into());
                }
            }
        }
        let n = doomed.len();
        for k in doomed {
            self.remove(&k);
            self.note_deleted(&k);
            self.expired += 1;
            self.log(KeyEvent::Expired, &k);
        }
        (sampled, n)
    }
}

pub struct Keyspace {
    pub dbs: Vec<Db>,
    pub rng: SmallRng,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases).map(|_| Db::default()).collect(),
            rng: SmallRng::from_entropy(),
        }
    }

    pub fn expired_keys(&self) -> u64 {
        self.dbs.iter().map(|d| d.expired).sum()
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }

    /// Redis's active rehashing (`activerehashing yes`): about `budget` of
    /// moving buckets for the first database with a rehash under way (its
    /// keys, then its expiry times), and a shrink started for tables that
    /// deletes during a rehash left sparse. Reads alone never move a
    /// rehash on, so this is what finishes one on a read-mostly server.
    pub fn active_rehash(&mut self, budget: std::time::Duration) {
        for db in &mut self.dbs {
            db.dict.maybe_shrink();
            db.expires.maybe_shrink();
        }
        for db in &mut self.dbs {
            if db.dict.rehash_for(budget) || db.expires.rehash_for(budget) {
                return;
            }
        }
    }

    /// The active expiry cycle: like Redis's slow cycle, it keeps sampling a
    /// database while more than a quarter of the sample was expired, and
    /// stops when the time budget is spent so clients are not starved.
    pub fn active_expire(&mut self, now_ms: i64, budget: std::time::Duration, effort: i64) -> usize {
        let start = std::time::Instant::now();
        let samples = 20 + 5 * (effort.clamp(1, 10) as usize - 1);
        let mut total = 0;
        let Keyspace { dbs, rng } = self;
        for db in dbs.iter_mut() {
            loop {
                if db.expires.is_empty() {
                    break;
                }
                let (sampled, expired) = db.expire_sample(rng, samples, now_ms);
                total += expired;
                if sampled == 0 || expired * 4 <= sampled || start.elapsed() >= budget {
                    break;
                }
            }
            if start.elapsed() >= budget {
                break;
            }
        }
        total
    }
}

/// Values with more elements than this are freed on the lazyfree thread
/// when freeing is lazy (Redis uses the same threshold).
const LAZYFREE_THRESHOLD: usize = 64;

/// Frees a removed entry. With `lazy`, a big collection is handed to a
/// background thread so that deleting millions of elements does not stall
/// the executor (UNLINK, lazyfree-lazy-* settings).
pub fn free_entry(e: Entry, lazy: bool) {
    use std::sync::mpsc::{channel, Sender};
    use std::sync::{Mutex, OnceLock};
    static LAZY: OnceLock<Mutex<Sender<Entry>>> = OnceLock::new();
    if !lazy || e.val.elements() <= LAZYFREE_THRESHOLD {
        return drop(e);
    }
    let tx = LAZY.get_or_init(|| {
        let (tx, rx) = channel::<Entry>();
        let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
            for e in rx {
                drop(e);
            }
        });
        if spawned.is_err() {
            tracing::warn!("could not start the lazyfree thread; freeing synchronously");
        }
        Mutex::new(tx)
    });
    // If the thread is gone the entry comes back in the error and is
    // dropped here, synchronously.
    if let Ok(tx) = tx.lock() {
        let _ = tx.send(e);
    }
}
