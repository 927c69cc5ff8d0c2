//! maxmemory: a cheap running estimate of used memory and the eviction of
//! keys by `maxmemory-policy` before commands run, as Redis does.
//!
//! The estimate is jemalloc's allocated total, refreshed by the cron, plus
//! what the executor thread allocated (net) since: reading the thread's
//! own counters is a memory load, so it can be done before every command.

use tikv_jemalloc_ctl::thread::{allocatedp, deallocatedp, ThreadLocal};

use super::{now_ms, Server};
use crate::config::D;
use crate::db::access;

pub struct MemTracker {
    alloc: Option<(ThreadLocal<u64>, ThreadLocal<u64>)>,
    base_global: u64,
    base_thread: i64,
}

impl MemTracker {
    /// Must be created on the executor thread.
    pub fn new() -> Self {
        let alloc = allocatedp::read().ok().zip(deallocatedp::read().ok());
        let mut t = MemTracker {
            alloc,
            base_global: 0,
            base_thread: 0,
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
    /// Applies the policy-dependent parts of the config to key metadata.
    pub fn apply_access_config(&self) {
        access::configure(
            self.cfg.str(D::MAXMEMORY_POLICY).ends_with("lfu"),
            self.cfg.int(D::LFU_LOG_FACTOR),
            self.cfg.int(D::LFU_DECAY_TIME),
        );
    }

    /// Evicts keys until memory is under maxmemory. False when it cannot
    /// get there (noeviction, or nothing left the policy may evict).
    pub fn evict_to_fit(&mut self) -> bool {
        let max = self.cfg.int(D::MAXMEMORY) as u64;
        if max == 0 || self.mem.used().saturating_sub(self.repl_output_mem()) <= max {
            return true;
        }
        // CLIENT PAUSE holds evictions too, as in Redis; a replica leaves
        // eviction to its primary (replica-ignore-maxmemory).
        let replica_ignores = self.is_replica() && self.cfg.bool(D::REPLICA_IGNORE_MAXMEMORY);
        if self.writes_paused() || replica_ignores {
            return true;
        }
        let policy = self.cfg.str(D::MAXMEMORY_POLICY).to_string();
        if policy == "noeviction" {
            return false;
        }
        let volatile = policy.starts_with("volatile");
        let samples = self.cfg.int(D::MAXMEMORY_SAMPLES).max(1) as usize;
        let lazy = self.cfg.bool(D::LAZYFREE_LAZY_EVICTION);
        let now = now_ms();
        let mut evicted = 0u64;
        let started = std::time::Instant::now();
        while self.mem.used() > max {
            // Sample every database and keep the best candidate overall.
            let mut best: Option<(u64, usize, Vec<u8>)> = None;
            let crate::db::Keyspace { dbs, rng } = &mut self.ks;
            for (i, db) in dbs.iter().enumerate() {
                let pool = if volatile {
                    db.expires().len()
                } else {
                    db.len()
                };
                if pool == 0 {
                    continue;
                }
                for _ in 0..samples {
                    // Score the sample where it lies; only a new best
                    // candidate pays for a copy of its key.
                    let (key, score) = if volatile {
                        let Some((k, &at)) = db.expires().random(rng) else {
                            break;
                        };
                        let score = if policy.ends_with("random") {
                            rand::Rng::gen::<u64>(rng)
                        } else if policy == "volatile-ttl" {
                            u64::MAX - at.max(0) as u64
                        } else {
                            db.dict()
                                .get(k)
                                .map_or(0, |e| access::eviction_score(e.lru, now))
                        };
                        (k, score)
                    } else {
                        let Some((k, e)) = db.dict().random(rng) else {
                            break;
                        };
                        let score = if policy.ends_with("random") {
                            rand::Rng::gen::<u64>(rng)
                        } else {
                            access::eviction_score(e.lru, now)
                        };
                        (k, score)
                    };
                    if best.as_ref().map_or(true, |b| score > b.0) {
                        best = Some((score, i, key.to_vec()));
                    }
                }
            }
            let Some((_, db, key)) = best else {
                break;
            };
            if let Some(e) = self.ks.dbs[db].remove(&key) {
                self.ks.dbs[db].note_deleted(&key);
                crate::db::free_entry(e, lazy);
                self.touch_watched(db, &key);
                self.notify(super::notify::EVICTED, "evicted", &key, db);
                self.stats.evicted_keys += 1;
                evicted += 1;
            }
            if lazy && evicted % 16 == 0 {
                self.mem.refresh();
            }
        }
        self.latency_event("eviction-cycle", started.elapsed().as_millis() as u64);
        self.mem.used() <= max
    }
}
