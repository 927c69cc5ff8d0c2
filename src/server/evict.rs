//! maxmemory: a cheap running estimate of used memory and the eviction of
//! keys by `maxmemory-policy` before commands run, as Redis does.
//!
//! The estimate is jemalloc's allocated total, refreshed by the cron, plus
//! what the executor thread allocated (net) since: reading the thread's
//! own counters is a memory load, so it can be done before every command.
//!
//! LRU, LFU and TTL eviction work as Redis's: each round samples
//! `maxmemory-samples` keys per database (consecutive buckets from a random
//! point, see `Dict::sample`) into a pool of the 16 best candidates seen so
//! far, kept from one eviction to the next, and evicts the best one that
//! still exists. The pool is what makes the approximation close to true
//! LRU: a key that scored well once stays a candidate without having to be
//! sampled again. The random policies take one random key per eviction.

use tikv_jemalloc_ctl::thread::{allocatedp, deallocatedp, ThreadLocal};

use std::rc::Rc;

use super::{Client, Server};
use crate::config::D;
use crate::db::access;

pub struct MemTracker {
    alloc: Option<(ThreadLocal<u64>, ThreadLocal<u64>)>,
    base_global: u64,
    base_thread: i64,
    refreshed_at: std::time::Instant,
    /// maxmemory-policy, parsed when the config changes.
    policy: Policy,
    pool: Pool,
    /// Where the random policies look first (round robin over databases).
    next_db: usize,
    /// maxmemory-clients in bytes (0: no limit), and the memory of the
    /// normal and Pub/Sub clients (the sum of their `mem_counted`).
    client_limit: usize,
    clients_mem: usize,
    /// Biggest query buffer and unwritten output seen in each of the last
    /// 8 cron seconds (INFO's client_recent_max_*), as Redis keeps them.
    peaks: [(usize, usize); 8],
    peak_slot: usize,
    peak_since: std::time::Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(name: &str) -> Policy {
        match name {
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    /// Only keys with a time to live may go.
    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// Size of the eviction pool, as Redis's EVPOOL_SIZE.
const POOL_SIZE: usize = 16;

struct Candidate {
    /// Higher goes first: idle time, 255 - LFU counter, or time to expiry
    /// inverted.
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// The best eviction candidates seen, worst first. Key buffers are reused,
/// so filling the pool allocates nothing once it is warm.
#[derive(Default)]
struct Pool {
    best: Vec<Candidate>,
    spare: Vec<Vec<u8>>,
}

impl Pool {
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        let full = self.best.len() == POOL_SIZE;
        if full && score <= self.best[0].score {
            return;
        }
        let at = self.best.partition_point(|c| c.score < score);
        if full {
            // The worst goes; its slot (and key buffer) moves to `at - 1`.
            self.best[..at].rotate_left(1);
            let c = &mut self.best[at - 1];
            c.score = score;
            c.db = db;
            c.key.clear();
            c.key.extend_from_slice(key);
        } else {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            buf.extend_from_slice(key);
            self.best.insert(
                at,
                Candidate {
                    score,
                    db,
                    key: buf,
                },
            );
        }
    }

    fn clear(&mut self) {
        self.spare.extend(self.best.drain(..).map(|c| c.key));
    }
}

impl MemTracker {
    /// Must be created on the executor thread.
    pub fn new() -> Self {
        let alloc = allocatedp::read().ok().zip(deallocatedp::read().ok());
        let mut t = MemTracker {
            alloc,
            base_global: 0,
            base_thread: 0,
            refreshed_at: std::time::Instant::now(),
            policy: Policy::NoEviction,
            pool: Pool::default(),
            next_db: 0,
            client_limit: 0,
            clients_mem: 0,
            peaks: [(0, 0); 8],
            peak_slot: 0,
            peak_since: std::time::Instant::now(),
        };
        t.refresh();
        t
    }

    fn thread_net(&self) -> i64 {
        match self.alloc {
            Some((a, d)) => a.get() as i64 - d.get() as i64,
            None => 0,
        }
    }

    /// Re-reads the global figure (includes the other threads' work).
    pub fn refresh(&mut self) {
        self.base_global = super::info::used_memory();
        self.base_thread = self.thread_net();
        self.refreshed_at = std::time::Instant::now();
    }

    /// `refresh` unless the last one is more recent than `age`; true when
    /// it refreshed.
    pub fn refresh_if_older(&mut self, age: std::time::Duration) -> bool {
        let stale = self.refreshed_at.elapsed() > age;
        if stale {
            self.refresh();
        }
        stale
    }

    pub fn used(&self) -> u64 {
        (self.base_global as i64 + self.thread_net() - self.base_thread).max(0) as u64
    }
}

impl Default for MemTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// Applies the policy-dependent parts of the config to key metadata
    /// and to eviction.
    pub fn apply_access_config(&mut self) {
        let policy = Policy::parse(self.cfg.str(D::MAXMEMORY_POLICY));
        if policy != self.mem.policy {
            // Scores of another policy mean nothing under this one.
            self.mem.pool.clear();
            self.mem.policy = policy;
        }
        access::configure(
            matches!(policy, Policy::AllKeysLfu | Policy::VolatileLfu),
            self.cfg.int(D::LFU_LOG_FACTOR),
            self.cfg.int(D::LFU_DECAY_TIME),
        );
        let limit = client_limit(
            self.cfg.str(D::MAXMEMORY_CLIENTS),
            self.cfg.int(D::MAXMEMORY) as u64,
        );
        if limit != self.mem.client_limit {
            self.mem.client_limit = limit;
            // Client memory is only tracked while there is a limit, so a
            // new one starts from every client's current figure.
            self.mem.clients_mem = 0;
            for c in self.clients.values() {
                let m = if limit > 0 && c.counts_for_client_limit() && !c.close_asap.get() {
                    c.mem()
                } else {
                    0
                };
                c.mem_counted.set(m);
                self.mem.clients_mem += m;
            }
            self.evict_clients();
        }
    }

    /// The connection task changed a client's buffers (once per batch and
    /// after writing): records the recent peaks and, under
    /// maxmemory-clients, the client's share of the total, disconnecting
    /// the biggest clients when it is over. True when `c` itself was
    /// evicted just now.
    pub fn client_mem_changed(&mut self, c: &Client) -> bool {
        // A client already closing (QUIT, CLIENT KILL of itself) still gets
        // its reply: only an eviction here skips the write.
        let closing = c.close_asap.get();
        let m = &mut self.mem;
        let peak = &mut m.peaks[m.peak_slot];
        peak.0 = peak.0.max(c.qbuf.get());
        peak.1 = peak.1.max(c.out_pending());
        c.rbp.set(c.rbp.get().max(c.obuf.get()));
        if m.client_limit == 0 {
            return false;
        }
        let now = if c.counts_for_client_limit() && !c.close_asap.get() {
            c.mem()
        } else {
            0
        };
        m.clients_mem = m.clients_mem + now - c.mem_counted.replace(now);
        if m.clients_mem > m.client_limit {
            self.evict_clients();
        }
        !closing && c.close_asap.get()
    }

    /// A client is gone: its memory no longer counts.
    pub fn client_mem_forget(&mut self, c: &Client) {
        self.mem.clients_mem -= c.mem_counted.replace(0);
    }

    /// Disconnects the clients using the most memory until the total is
    /// under maxmemory-clients. CLIENT NO-EVICT clients count towards the
    /// total but stay, as in Redis: one of them alone over the limit
    /// costs every other client its connection.
    fn evict_clients(&mut self) {
        let limit = self.mem.client_limit;
        if limit == 0 || self.mem.clients_mem <= limit {
            return;
        }
        let mut big: Vec<Rc<Client>> = self
            .clients
            .values()
            .filter(|c| c.mem_counted.get() > 0 && c.evictable())
            .cloned()
            .collect();
        big.sort_unstable_by_key(|c| std::cmp::Reverse(c.mem_counted.get()));
        for c in big {
            if self.mem.clients_mem <= limit {
                return;
            }
            tracing::info!("Evicting client: {}", c.info_line());
            c.pending.borrow_mut().clear();
            c.kill();
            self.mem.clients_mem -= c.mem_counted.replace(0);
            self.stats.evicted_clients += 1;
        }
        if self.mem.clients_mem > limit {
            tracing::warn!("Over client maxmemory after evicting all evictable clients");
        }
    }

    /// Starts a new second of recent client buffer peaks, and for each
    /// client every 5 seconds a new reply buffer peak (from the cron).
    pub fn clients_cron(&mut self) {
        let m = &mut self.mem;
        if m.peak_since.elapsed().as_secs() >= 1 {
            m.peak_since = std::time::Instant::now();
            m.peak_slot = (m.peak_slot + 1) % m.peaks.len();
            m.peaks[m.peak_slot] = (0, 0);
            // Redis's rbp is the reply buffer's peak over the last 5
            // seconds of the client's life.
            for c in self.clients.values() {
                if c.rbp_since.get().elapsed().as_secs() >= 5 {
                    c.rbp_since.set(m.peak_since);
                    c.rbp.set(c.obuf.get());
                }
            }
        }
    }

    /// INFO's client_recent_max_input_buffer and _output_buffer: the
    /// biggest query buffer and unwritten output of the last 8 seconds.
    pub fn clients_recent_max(&self) -> (usize, usize) {
        let now = self
            .clients
            .values()
            .map(|c| (c.qbuf.get(), c.out_pending()));
        now.chain(self.mem.peaks.iter().copied())
            .fold((0, 0), |a, b| (a.0.max(b.0), a.1.max(b.1)))
    }

    /// Evicts keys until memory is under maxmemory. False when it cannot
    /// get there (noeviction, or nothing left the policy may evict).
    /// `now` is the caller's notion of the time (ms), for LRU/LFU scores.
    pub fn evict_to_fit(&mut self, now: i64) -> bool {
        let max = self.cfg.int(D::MAXMEMORY) as u64;
        if max == 0 {
            crate::db::dict::set_grow_budget(u64::MAX);
            return true;
        }
        let mut used = self.evictable_used();
        let mut fits = true;
        if used > max {
            fits = self.evict_keys(max, now);
            used = self.evictable_used();
        }
        // What the keyspace's tables may grow by (see `Dict::capped`).
        crate::db::dict::set_grow_budget(max.saturating_sub(used));
        fits
    }

    /// Used memory as maxmemory counts it: replicas' output buffers aside.
    fn evictable_used(&self) -> u64 {
        self.mem.used().saturating_sub(self.repl_output_mem())
    }

    /// Evicts for a server the running estimate puts over `max`.
    fn evict_keys(&mut self, max: u64, now: i64) -> bool {
        // The running estimate drifts from the allocator's own figure
        // between refreshes (650 KB over after a DEBUG POPULATE of 65,536
        // keys, which evicted 10,000 keys for nothing): ask the allocator
        // before evicting.
        if self.mem.refresh_if_older(std::time::Duration::from_millis(1)) && self.evictable_used() <= max {
            return true;
        }
        // CLIENT PAUSE holds evictions too, as in Redis; a replica leaves
        // eviction to its primary (replica-ignore-maxmemory).
        let replica_ignores = self.is_replica() && self.cfg.bool(D::REPLICA_IGNORE_MAXMEMORY);
        if self.writes_paused() || replica_ignores {
            return true;
        }
        if self.mem.policy == Policy::NoEviction {
            return false;
        }
        let lazy = self.cfg.bool(D::LAZYFREE_LAZY_EVICTION);
        // The clock is read only for the latency monitor.
        let started =
            (self.cfg.int(D::LATENCY_MONITOR_THRESHOLD) > 0).then(std::time::Instant::now);
        let mut evicted = 0u64;
        let mut key = self.mem.pool.spare.pop().unwrap_or_default();
        let fits = loop {
            if self.mem.used() <= max {
                break true;
            }
            let Some(db) = self.pick_victim(&mut key, now) else {
                break false;
            };
            // None: a pooled candidate deleted since; pick again.
            let Some(e) = self.ks.dbs[db].remove(&key) else {
                continue;
            };
            self.ks.dbs[db].note_deleted(&key);
            crate::db::free_entry(e, lazy);
            self.touch_watched(db, &key);
            self.notify(super::notify::EVICTED, "evicted", &key, db);
            self.stats.evicted_keys += 1;
            evicted += 1;
            // Lazily freed memory leaves from another thread: look at
            // the global figure now and then.
            if lazy && evicted % 16 == 0 {
                self.mem.refresh();
            }
        };
        self.mem.pool.spare.push(key);
        if let Some(t) = started {
            self.latency_event("eviction-cycle", t.elapsed().as_millis() as u64);
        }
        fits
    }

    /// Chooses the next key to evict, copied into `key`; its database, or
    /// None when the policy finds nothing to evict.
    fn pick_victim(&mut self, key: &mut Vec<u8>, now: i64) -> Option<usize> {
        let policy = self.mem.policy;
        let volatile = policy.volatile();
        let crate::db::Keyspace { dbs, rng } = &mut self.ks;
        if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            for _ in 0..dbs.len() {
                let i = self.mem.next_db % dbs.len();
                self.mem.next_db = i + 1;
                let db = &dbs[i];
                let k = if volatile {
                    db.expires().random(rng).map(|(k, _)| k)
                } else {
                    db.dict().random(rng).map(|(k, _)| k)
                };
                if let Some(k) = k {
                    key.clear();
                    key.extend_from_slice(k);
                    return Some(i);
                }
            }
            return None;
        }
        let in_scope = |db: &crate::db::Db| {
            if volatile {
                db.expires().len()
            } else {
                db.len()
            }
        };
        if dbs.iter().all(|db| in_scope(db) == 0) {
            return None;
        }
        let samples = self.cfg.int(D::MAXMEMORY_SAMPLES).max(1) as usize;
        let pool = &mut self.mem.pool;
        // Ends: there are keys to sample, and sampled keys are live.
        loop {
            for (i, db) in dbs.iter().enumerate() {
                if policy == Policy::VolatileTtl {
                    db.expires().sample(rng, samples, |k, &at| {
                        pool.offer(u64::MAX - at.max(0) as u64, i, k)
                    })
                } else if volatile {
                    let dict = db.dict();
                    db.expires().sample(rng, samples, |k, _| {
                        if let Some(e) = dict.get(k) {
                            pool.offer(access::eviction_score(e.lru, now), i, k);
                        }
                    })
                } else {
                    db.dict().sample(rng, samples, |k, e| {
                        pool.offer(access::eviction_score(e.lru, now), i, k)
                    })
                };
            }
            // Best first; candidates made persistent since they were
            // pooled are dropped here, deleted ones when the caller finds
            // nothing to remove (one lookup instead of two).
            while let Some(c) = pool.best.pop() {
                let live = !volatile || dbs[c.db].expires().contains_key(&c.key);
                let old = std::mem::replace(key, c.key);
                pool.spare.push(old);
                if live {
                    return Some(c.db);
                }
            }
        }
    }
}

/// maxmemory-clients in bytes: a size, or a percentage of maxmemory
/// (which means no limit while maxmemory is 0).
fn client_limit(v: &str, maxmemory: u64) -> usize {
    match v.strip_suffix('%') {
        Some(p) => (maxmemory as u128 * p.parse::<u128>().unwrap_or(0) / 100) as usize,
        None => v.parse().unwrap_or(0),
    }
}
