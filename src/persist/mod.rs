//! Persistence: RDB snapshots (SAVE, BGSAVE, save rules, load at start-up,
//! save at shutdown) and the append-only file (`aof`).
//!
//! BGSAVE is a forkless point-in-time snapshot (`snapshot`): the executor
//! serialises the dataset in slices between command batches and a
//! background thread compresses and writes it; the cron collects the
//! result. A crash mid-save never leaves a broken dump: the file is written
//! under a temporary name and renamed over the old one only once complete
//! and synced.

pub mod aof;
pub mod check;
pub mod loading;
pub mod lzf;
pub mod rdb;
pub mod rdb_types;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Instant;

use tokio::sync::Notify;

use crate::config::D;
use crate::server::{now_ms, Server};

/// A BGSAVE under way.
pub struct BgSave {
    rx: Receiver<Result<(), String>>,
    started: Instant,
    /// Changes included in the snapshot.
    dirty_at_start: u64,
    started_unix: i64,
}

#[derive(Default)]
pub struct PersistState {
    pub bgsave: Option<BgSave>,
    pub last_bgsave_ok: bool,
    pub last_bgsave_secs: i64,
    pub saves: u64,
    /// BGSAVE SCHEDULE asked for one while another was running.
    pub scheduled: bool,
    /// The snapshot being walked (BGSAVE, AOF rewrite, ...).
    pub walk: Option<snapshot::Walk>,
    /// Wakes the snapshot driver.
    pub wake: Rc<Notify>,
    /// Peak bytes the last snapshot held for its writer.
    pub last_cow_size: u64,
    /// Start-up loading under way.
    pub loading: Option<loading::Loading>,
}

impl PersistState {
    pub fn new() -> Self {
        PersistState {
            last_bgsave_ok: true,
            last_bgsave_secs: -1,
            ..Default::default()
        }
    }
}

/// A temporary file name next to `path`, unique in this process (a
/// snapshot's file may be open while the manifest is replaced).
fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    dir_of(path).join(format!("temp-{}-{}-{n}.rdb", std::process::id(), now_ms()))
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Renames a complete, synced temporary file over `path` and syncs the
/// directory; the temporary file is removed on failure.
fn rename_synced(tmp: &Path, path: &Path) -> std::io::Result<()> {
    let r = std::fs::rename(tmp, path);
    if r.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    r?;
    if let Ok(d) = std::fs::File::open(dir_of(path)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync dir.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = temp_path(path);
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res?;
    rename_synced(&tmp, path)
}

impl Server {
    pub fn rdb_path(&self) -> PathBuf {
        Path::new(self.cfg.str(D::DIR)).join(self.cfg.str(D::DBFILENAME))
    }

    /// The AUX fields of an image; `aof_base` marks it as an AOF base.
    fn rdb_aux(&self, aof_base: bool) -> Vec<(&'static str, String)> {
        let mut aux = vec![
            ("redis-ver", crate::REDIS_VERSION.to_string()),
            ("redis-bits", "64".to_string()),
            ("ctime", (now_ms() / 1000).to_string()),
            ("used-mem", crate::server::info::used_memory().to_string()),
        ];
        // Replication ids and offset, as Redis saves them (not in AOF bases).
        if !aof_base {
            aux.extend(self.repl_aux());
        }
        aux.push(("aof-base", (aof_base as u8).to_string()));
        aux
    }

    /// An RDB image of the dataset, built at once (SAVE, DEBUG RELOAD);
    /// `start_snapshot` streams one without stopping clients.
    pub fn rdb_image(&self, aof_base: bool) -> Result<Vec<u8>, String> {
        rdb::snapshot(
            &self.ks,
            now_ms(),
            self.cfg.bool(D::RDBCOMPRESSION),
            self.cfg.bool(D::RDBCHECKSUM),
            &self.rdb_aux(aof_base),
            &self.scripting.functions.rdb_records(),
        )
    }

    /// SAVE: a synchronous snapshot.
    pub fn save_now(&mut self) -> Result<(), String> {
        let start = Instant::now();
        let img = self.rdb_image(false)?;
        write_atomically(&self.rdb_path(), &img)
            .map_err(|e| format!("Failed opening the temp RDB file for saving: {e}"))?;
        self.dirty = 0;
        self.last_save = now_ms() / 1000;
        self.persist.saves += 1;
        self.persist.last_bgsave_ok = true;
        tracing::info!("DB saved on disk ({} ms)", start.elapsed().as_millis());
        Ok(())
    }

    /// BGSAVE: a point-in-time snapshot written while clients are served.
    pub fn bgsave(&mut self) -> Result<(), String> {
        if self.persist.bgsave.is_some() {
            return Err("Background save already in progress".into());
        }
        if self.snapshot_running() {
            return Err(crate::errors::BGSAVE_BUSY.into());
        }
        let started = (|| {
            let incremental = self.cfg.bool(D::RDB_SAVE_INCREMENTAL_FSYNC);
            let sink = snapshot::FileSink::create(&self.rdb_path(), incremental)
                .map_err(|e| format!("Failed opening the temp RDB file for saving: {e}"))?;
            self.start_snapshot(false, Box::new(sink))
        })();
        let rx = match started {
            Ok(rx) => rx,
            Err(e) => {
                self.persist.last_bgsave_ok = false;
                tracing::warn!("Background saving error: {e}");
                return Err(e);
            }
        };
        tracing::info!("Background saving started");
        self.persist.bgsave = Some(BgSave {
            rx,
            started: Instant::now(),
            dirty_at_start: self.dirty,
            started_unix: now_ms() / 1000,
        });
        Ok(())
    }

    /// FLUSHALL: the dump follows the dataset, as in Redis. A running
    /// BGSAVE is aborted (it would save data that no longer exists; like
    /// a child killed on purpose, that is not a failed save), and with
    /// save rules the now empty dataset is saved at once. True when that
    /// save left no changes to count.
    pub fn flushall_reset_rdb(&mut self) -> bool {
        if self.persist.bgsave.take().is_some() {
            tracing::info!("Background saving aborted: FLUSHALL emptied the dataset");
            self.cancel_snapshot();
        }
        if self.cfg.save_rules().is_empty() {
            return false;
        }
        match self.save_now() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("Saving the flushed dataset failed: {e}");
                false
            }
        }
    }

    /// Seconds the running BGSAVE has taken so far, or -1.
    pub fn bgsave_secs(&self) -> i64 {
        self.persist
            .bgsave
            .as_ref()
            .map_or(-1, |b| b.started.elapsed().as_secs() as i64)
    }

    /// Cron: collect a finished BGSAVE, start one when a save rule is due.
    pub fn persist_cron(&mut self) {
        if let Some(bg) = &self.persist.bgsave {
            match bg.rx.try_recv() {
                Err(TryRecvError::Empty) => return,
                Ok(Ok(())) => {
                    self.dirty = self.dirty.saturating_sub(bg.dirty_at_start);
                    self.last_save = bg.started_unix;
                    self.persist.last_bgsave_ok = true;
                    self.persist.saves += 1;
                    tracing::info!("Background saving terminated with success");
                }
                Ok(Err(e)) => {
                    self.persist.last_bgsave_ok = false;
                    tracing::warn!("Background saving error: {e}");
                }
                Err(TryRecvError::Disconnected) => {
                    self.persist.last_bgsave_ok = false;
                    tracing::warn!("Background saving terminated by an unexpected error");
                }
            }
            self.persist.last_bgsave_secs = bg.started.elapsed().as_secs() as i64;
            self.persist.bgsave = None;
        }
        let now = now_ms() / 1000;
        let due = self.persist.scheduled
            || self.cfg.save_rules().iter().any(|&(secs, changes)| {
                self.dirty >= changes && now - self.last_save >= secs as i64
            });
        // After a failed save, retry no more often than every 5 seconds.
        if due
            && !self.snapshot_running()
            && (self.persist.last_bgsave_ok || now - self.last_save >= 5)
        {
            self.persist.scheduled = false;
            if self.bgsave().is_err() {
                self.last_save = now;
            }
        }
    }

    /// Whether writes are refused because the last background save failed
    /// (stop-writes-on-bgsave-error).
    pub fn writes_refused(&self) -> bool {
        !self.persist.last_bgsave_ok
            && self.cfg.bool(D::STOP_WRITES_ON_BGSAVE_ERROR)
            && !self.cfg.save_rules().is_empty()
    }

    /// The encoding thresholds from the configuration.
    pub fn type_limits(&self) -> rdb_types::TypeLimits {
        let c = &self.cfg;
        let u = |d: D| c.int(d).max(0) as usize;
        rdb_types::TypeLimits {
            hash: crate::db::hash::HashLimits {
                entries: u(D::HASH_MAX_LISTPACK_ENTRIES),
                value: u(D::HASH_MAX_LISTPACK_VALUE),
            },
            set: crate::db::set::SetLimits {
                intset: u(D::SET_MAX_INTSET_ENTRIES),
                lp_entries: u(D::SET_MAX_LISTPACK_ENTRIES),
                lp_value: u(D::SET_MAX_LISTPACK_VALUE),
            },
            zset: crate::db::zset::Limits {
                entries: u(D::ZSET_MAX_LISTPACK_ENTRIES),
                value: u(D::ZSET_MAX_LISTPACK_VALUE),
            },
            list: crate::db::list::Limits::from_fill(c.int(D::LIST_MAX_LISTPACK_SIZE)),
        }
    }

    /// Loads the RDB file at once, if there is one (DEBUG RELOAD; start-up
    /// loads it in slices, see `loading`).
    pub fn load_rdb(&mut self) -> Result<(), String> {
        let path = self.rdb_path();
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
        };
        let start = Instant::now();
        let lim = self.type_limits();
        let saved = self.events_off();
        let st = rdb::load(&data, &mut self.ks, now_ms(), &lim);
        self.events_on(saved);
        self.rdb_loaded(st?, start)
    }
}
