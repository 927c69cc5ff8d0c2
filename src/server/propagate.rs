//! Propagation: what a write command leaves behind for the AOF (and, later,
//! replicas), so that replaying it rebuilds exactly the same dataset.
//!
//! `exec::run` brackets every command with `begin`/`end`. When the command
//! changed the dataset (the dirty counter moved), its argv is queued, after
//! `persist::aof::argv::for_replay` turned anything that depends on the
//! clock, on randomness or on blocking into its exact, deterministic
//! equivalent (relative TTLs become PEXPIREAT / PXAT, INCRBYFLOAT becomes
//! SET, BLPOP becomes LMPOP...). A handler whose effect cannot be derived
//! from its arguments and the resulting dataset (SPOP picks at random)
//! calls `Ctx::propagate` with what to queue instead. Keys deleted behind
//! the commands' backs (lazy or active expiry, eviction) are queued as DELs
//! before the command that triggered them. EXEC and scripts wrap what their
//! commands queued in MULTI ... EXEC. When the outermost command finishes, the queue
//! goes to the consumers: the AOF buffer and the replication stream
//! (`repl`).

use bytes::Bytes;

use super::{now_ms, Ctx, Server};

#[derive(Default)]
pub struct Propagation {
    /// Whether anything consumes propagated commands (AOF on); when off,
    /// commands pay nothing.
    pub enabled: bool,
    /// Commands queued by the command being run, each with its database.
    pending: Vec<(usize, Vec<Bytes>)>,
    /// The running command chose what to propagate (`Ctx::propagate`).
    custom: bool,
    /// Nesting of commands (EXEC runs its queue inside itself).
    depth: u32,
}

/// State saved by `begin` for `end`.
pub struct Mark {
    pending: usize,
    custom: bool,
    dirty: u64,
    db: usize,
}

impl Server {
    /// Turns deletion logging in every database on or off with propagation
    /// (always on while a replication backlog exists).
    pub fn set_propagation(&mut self, on: bool) {
        let on = on || self.repl_active();
        self.prop.enabled = on;
        for db in self.ks.dbs.iter_mut() {
            db.deleted_log = on.then(Vec::new);
        }
    }

    pub fn prop_begin(&mut self, db: usize) -> Mark {
        self.prop.depth += 1;
        Mark {
            pending: self.prop.pending.len(),
            custom: std::mem::replace(&mut self.prop.custom, false),
            dirty: self.dirty,
            db,
        }
    }

    /// Queues what the command that just ran must propagate.
    pub fn prop_end(&mut self, m: Mark, name: &str, args: &[Bytes]) {
        self.prop.depth -= 1;
        let custom = std::mem::replace(&mut self.prop.custom, m.custom);
        if self.prop.enabled {
            self.queue_deleted();
            // EXEC and scripts propagate the effects of the commands they
            // ran, as one transaction, not themselves.
            if matches!(name, "exec" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro") {
                if self.prop.pending.len() > m.pending {
                    let multi = vec![Bytes::from_static(b"MULTI")];
                    self.prop.pending.insert(m.pending, (m.db, multi));
                    let db = self.prop.pending.last().map_or(m.db, |e| e.0);
                    self.prop
                        .pending
                        .push((db, vec![Bytes::from_static(b"EXEC")]));
                }
            } else if !custom && self.dirty != m.dirty {
                let argv = crate::persist::aof::argv::for_replay(self, m.db, name, args);
                self.prop
                    .pending
                    .extend(argv.into_iter().map(|a| (m.db, a)));
            }
        }
        if self.prop.depth == 0 {
            self.flush_propagated();
        }
    }

    /// Queues a DEL for each key deleted by expiry or eviction.
    pub fn queue_deleted(&mut self) {
        for (i, db) in self.ks.dbs.iter_mut().enumerate() {
            if let Some(log) = db.deleted_log.as_mut().filter(|l| !l.is_empty()) {
                for k in log.drain(..) {
                    self.prop
                        .pending
                        .push((i, vec![Bytes::from_static(b"DEL"), Bytes::from(k)]));
                }
            }
        }
    }

    /// Hands the queue to its consumers.
    pub fn flush_propagated(&mut self) {
        if self.prop.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.prop.pending);
        // A replica passes on its primary's stream verbatim instead
        // (`repl::replica`); its own clients' writes go nowhere else.
        let replica = self.is_replica();
        let unix_secs = (self.aof.on && self.cfg.bool(crate::config::D::AOF_TIMESTAMP_ENABLED))
            .then(|| now_ms() / 1000);
        for (db, argv) in &pending {
            self.aof.feed(*db, argv, unix_secs);
            if !replica {
                self.repl_feed(*db, argv);
            }
        }
        self.prop.pending = pending;
        self.prop.pending.clear();
    }
}

impl Ctx<'_> {
    /// Propagates `argv` (in the client's current database) in place of
    /// the command's own arguments; may be called several times.
    pub fn propagate(&mut self, argv: Vec<Bytes>) {
        if !self.srv.prop.enabled {
            return;
        }
        self.srv.queue_deleted();
        self.srv.prop.custom = true;
        let db = self.client.db.get();
        self.srv.prop.pending.push((db, argv));
    }
}
