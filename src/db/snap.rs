//! A database's side of a forkless point-in-time snapshot (BGSAVE, the
//! RDB base of an AOF rewrite, replication).
//!
//! The snapshot is the dataset at the moment it starts. The executor walks
//! each database in slices between command batches (SCAN order, which sees
//! every key present for the whole walk at least once, across resizes and
//! in the middle of incremental rehashes), and
//! any change to a key the walk has not reached yet first saves the key's
//! old value and TTL (its "pre-image"). Each entry carries a one-byte mark:
//! starting a snapshot moves the database's `epoch` on, so every existing
//! entry is unsaved; saving one (by the walk or as a pre-image) gives it the
//! new mark, and keys created during the snapshot are born with it, so no
//! key is saved twice or saved when it is not part of the snapshot. A
//! finished walk leaves every entry marked with the epoch, which is what
//! makes the next snapshot's move valid. Whether a key was saved is read
//! from its mark, never from where the cursor stands: a rehash moves keys
//! between buckets and tables behind the cursor and ahead of it, so a
//! position test would save some keys twice and miss others.
//!
//! FLUSHDB/FLUSHALL during a walk hand the old contents to the snapshot
//! (`detach`), which saves their unsaved entries and then frees them.

use super::{Db, Dict, Entry};
use crate::persist::snapshot::Chunk;

/// A database's snapshot state. SWAPDB moves it with the database.
pub struct DbSnap {
    /// Records saved and not yet handed to the writer (tagged with the
    /// index the database had when the snapshot started).
    pub out: Chunk,
    /// Keys that expire at or before this time are not part of it.
    start_ms: i64,
    cursor: u64,
    /// Contents flushed away during the walk, and the cursor in the first.
    detached: Vec<(Dict<Entry>, Dict<i64>)>,
    detached_cursor: u64,
}

impl DbSnap {
    pub fn detach(&mut self, old: (Dict<Entry>, Dict<i64>)) {
        if !old.0.is_empty() {
            self.detached.push(old);
        }
    }

    fn save(&mut self, key: &[u8], e: &Entry, exp: Option<i64>) {
        if exp.is_some_and(|t| t <= self.start_ms) {
            return;
        }
        self.out.record(key, &e.val, exp);
    }
}

impl Db {
    #[cold]
    pub(super) fn save_pre_image(&mut self, key: &[u8]) {
        let Db {
            dict,
            expires,
            snap,
            epoch,
            ..
        } = self;
        let (Some(s), Some(e)) = (snap, dict.get_mut(key)) else {
            return;
        };
        if e.snap != *epoch {
            e.snap = *epoch;
            s.save(key, e, expires.get(key).copied());
        }
    }

    /// Starts a snapshot of this database as database `id`.
    pub fn snapshot_start(&mut self, id: usize, start_ms: i64, compress: bool) {
        debug_assert!(self.snap.is_none());
        self.epoch = self.epoch.wrapping_add(1);
        if self.dict.is_empty() {
            return;
        }
        self.snap = Some(Box::new(DbSnap {
            out: Chunk::new(id, compress),
            start_ms,
            cursor: 0,
            detached: Vec::new(),
            detached_cursor: 0,
        }));
    }

    /// Drops this database's part of a cancelled snapshot (the database
    /// was just emptied, so every entry left in it is born marked).
    pub fn snapshot_cancel(&mut self) {
        debug_assert!(self.dict.is_empty());
        let Some(s) = self.snap.take() else {
            return;
        };
        if !s.detached.is_empty() && std::thread::Builder::new().spawn(move || drop(s)).is_err() {
            tracing::warn!("could not free flushed keys in the background");
        }
    }

    /// Saves about `n` more keys of the walk; true when the walk over this
    /// database is complete (its records may still be in `snap.out`).
    pub fn snapshot_slice(&mut self, n: usize) -> bool {
        let Db {
            dict,
            expires,
            snap,
            epoch,
            ..
        } = self;
        let Some(s) = snap else {
            return true;
        };
        let epoch = *epoch;
        if let Some((d, x)) = s.detached.first() {
            let (out, start) = (&mut s.out, s.start_ms);
            s.detached_cursor = d.scan(s.detached_cursor, n, |k, e| {
                let exp = x.get(k).copied();
                if e.snap != epoch && !exp.is_some_and(|t| t <= start) {
                    out.record(k, &e.val, exp);
                }
            });
            if s.detached_cursor == 0 {
                let old = s.detached.remove(0);
                // Freeing millions of keys takes a while; not on the executor.
                if std::thread::Builder::new()
                    .spawn(move || drop(old))
                    .is_err()
                {
                    tracing::warn!("could not free flushed keys in the background");
                }
            }
            return false;
        }
        if dict.is_empty() {
            return true;
        }
        let (out, start) = (&mut s.out, s.start_ms);
        s.cursor = dict.scan_mut(s.cursor, n, |k, e| {
            if e.snap != epoch {
                e.snap = epoch;
                let exp = expires.get(k).copied();
                if !exp.is_some_and(|t| t <= start) {
                    out.record(k, &e.val, exp);
                }
            }
        });
        s.cursor == 0
    }
}
