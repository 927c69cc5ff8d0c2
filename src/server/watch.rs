//! The WATCH registry: which clients watch which (db, key), and marking
//! them when a key is touched. See `commands::tx` for the rules.

use std::rc::Rc;

use super::{Client, Server};

impl Server {
    pub fn watch(&mut self, client: &Rc<Client>, db: usize, key: &[u8]) {
        let k = (db, key.to_vec());
        if client.watched.borrow().iter().any(|(w, _)| *w == k) {
            return;
        }
        // Remember the expiry time: a key that expires before EXEC counts
        // as changed even if nothing touched it (it may be gone by then).
        let expire = self.ks.dbs[db].expire_at(key);
        self.watched_keys
            .entry(k.clone())
            .or_default()
            .push(client.id);
        client.watched.borrow_mut().push((k, expire));
    }

    pub fn unwatch_all(&mut self, client: &Client) {
        for (k, _) in client.watched.borrow_mut().drain(..) {
            if let Some(v) = self.watched_keys.get_mut(&k) {
                v.retain(|&id| id != client.id);
                if v.is_empty() {
                    self.watched_keys.remove(&k);
                }
            }
        }
        client.watch_touched.set(false);
    }

    /// Marks the watchers of `key` in `db`.
    /// Also where client-side caches hear of the change (Redis's
    /// signalModifiedKey).
    pub fn touch_watched(&mut self, db: usize, key: &[u8]) {
        self.invalidate_tracked(key, self.current_client);
        if self.watched_keys.is_empty() {
            return;
        }
        if let Some(ids) = self.watched_keys.get(&(db, key.to_vec())) {
            for id in ids {
                if let Some(c) = self.clients.get(id) {
                    c.watch_touched.set(true);
                }
            }
        }
    }

    /// Marks every watcher of a key in `db` (None: any db), for FLUSHDB,
    /// FLUSHALL and SWAPDB.
    pub fn touch_all_watched(&mut self, db: Option<usize>) {
        for ((d, _), ids) in &self.watched_keys {
            if db.map_or(true, |x| x == *d) {
                for id in ids {
                    if let Some(c) = self.clients.get(id) {
                        c.watch_touched.set(true);
                    }
                }
            }
        }
    }

    /// True if EXEC must fail: a watched key was touched, or has expired.
    pub fn watch_broken(&mut self, client: &Client, now_ms: i64) -> bool {
        if client.watch_touched.get() {
            return true;
        }
        client.watched.borrow().iter().any(|((db, k), at_watch)| {
            at_watch.is_some_and(|t| t <= now_ms)
                || self.ks.dbs[*db].expire_at(k).is_some_and(|t| t <= now_ms)
        })
    }
}
