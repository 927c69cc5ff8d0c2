//! AOF rewrite (BGREWRITEAOF, automatic rewrites, switching the AOF on).
//!
//! The new base is a point-in-time snapshot of the dataset at the rewrite
//! point, streamed by the same forkless mechanism as BGSAVE
//! (`persist::snapshot`; a base without the RDB preamble is built at once
//! and written by a background thread). At that same point a new incremental file is opened
//! and every later write goes there, so base + new incr is the whole
//! dataset and nothing is lost. Until the base is safely on disk the
//! manifest lists old base + old incrs + new incr (also complete); once it
//! is, the manifest is replaced atomically by new base + new incr and the
//! old files are deleted.

use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::time::Instant;

use bytes::Bytes;

use super::argv::encode;
use super::manifest::{self, FileEntry, Manifest};
use crate::config::D;
use crate::db::{Keyspace, StrVal, Value};
use crate::server::{now_ms, Server};

pub struct Rewrite {
    rx: Receiver<Result<(), String>>,
    pub started: Instant,
    /// The AOF was switched off meanwhile: the result is discarded.
    pub cancelled: bool,
    base: FileEntry,
    /// The incremental file opened at the rewrite point (AOF on).
    incr: Option<FileEntry>,
}

/// Elements per command when a collection is written as commands.
const ITEMS_PER_CMD: usize = 64;

/// The dataset as commands (a base without the RDB preamble), after a
/// `#TS:` annotation of the time it shows when `annotate`
/// (aof-timestamp-enabled), as Redis 7 starts such a base.
pub fn commands_image(ks: &Keyspace, now: i64, annotate: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if annotate {
        out.extend_from_slice(format!("#TS:{}\r\n", now / 1000).as_bytes());
    }
    let bs = |s: &'static str| Bytes::from_static(s.as_bytes());
    for (i, db) in ks.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        encode(&mut out, &[bs("SELECT"), Bytes::from(i.to_string())]);
        for (key, e) in db.dict().iter() {
            let exp = db.expire_at(key);
            if exp.is_some_and(|t| t <= now) {
                continue;
            }
            let k = Bytes::copy_from_slice(key);
            let mut batched = |cmd: &'static str, items: Vec<Bytes>, per: usize| {
                for chunk in items.chunks(ITEMS_PER_CMD * per) {
                    let mut argv = vec![bs(cmd), k.clone()];
                    argv.extend(chunk.iter().cloned());
                    encode(&mut out, &argv);
                }
            };
            match &e.val {
                Value::Str(StrVal::Int(i)) | Value::Str(StrVal::IntCopy(i)) => {
                    batched("SET", vec![Bytes::from(i.to_string())], 1)
                }
                Value::Str(s) => batched("SET", vec![Bytes::from(s.as_bytes().into_owned())], 1),
                Value::List(l) => batched(
                    "RPUSH",
                    l.iter().map(|e| Bytes::from(e.to_vec())).collect(),
                    1,
                ),
                Value::Set(s) => batched(
                    "SADD",
                    s.iter().map(|e| Bytes::from(e.bytes().to_vec())).collect(),
                    1,
                ),
                Value::Hash(h) => batched(
                    "HSET",
                    h.iter()
                        .flat_map(|(f, v)| [Bytes::copy_from_slice(f), Bytes::copy_from_slice(v)])
                        .collect(),
                    2,
                ),
                Value::ZSet(z) => batched(
                    "ZADD",
                    (0..z.len())
                        .filter_map(|r| z.select(r))
                        .flat_map(|(m, s)| [Bytes::from(s.to_string()), Bytes::copy_from_slice(m)])
                        .collect(),
                    2,
                ),
                Value::Stream(s) => {
                    for argv in stream_commands(&k, s) {
                        encode(&mut out, &argv);
                    }
                }
            }
            if let Some(t) = exp {
                encode(&mut out, &[bs("PEXPIREAT"), k, Bytes::from(t.to_string())]);
            }
        }
    }
    out
}

/// A stream as the commands that rebuild it: its entries (XADD), its
/// position and counters (XSETID), then per group XGROUP CREATE with the
/// read counter, its consumers (CREATECONSUMER) and each pending entry as
/// the XCLAIM that puts it back with its owner, time and count.
fn stream_commands(k: &Bytes, s: &crate::db::stream::Stream) -> Vec<Vec<Bytes>> {
    let bs = |s: &'static str| Bytes::from_static(s.as_bytes());
    let id = |i: crate::db::stream::StreamId| Bytes::from(i.to_bytes());
    let mut v = Vec::new();
    if s.is_empty() {
        // An empty stream: an entry trimmed away at once (XSETID below
        // restores the counters).
        v.push(vec![
            bs("XADD"),
            k.clone(),
            bs("MAXLEN"),
            bs("0"),
            bs("0-1"),
            bs("x"),
            bs("y"),
        ]);
    }
    for (i, fields) in &s.entries {
        let mut a = vec![bs("XADD"), k.clone(), id(*i)];
        a.extend(fields.iter().map(|f| Bytes::copy_from_slice(f)));
        v.push(a);
    }
    v.push(vec![
        bs("XSETID"),
        k.clone(),
        id(s.last_id),
        bs("ENTRIESADDED"),
        Bytes::from(s.entries_added.to_string()),
        bs("MAXDELETEDID"),
        id(s.max_deleted),
    ]);
    for (name, g) in &s.groups {
        let name = Bytes::copy_from_slice(name);
        v.push(vec![
            bs("XGROUP"),
            bs("CREATE"),
            k.clone(),
            name.clone(),
            id(g.last_id),
            bs("ENTRIESREAD"),
            Bytes::from(g.entries_read.to_string()),
        ]);
        for (cname, c) in &g.consumers {
            let cname = Bytes::copy_from_slice(cname);
            v.push(vec![
                bs("XGROUP"),
                bs("CREATECONSUMER"),
                k.clone(),
                name.clone(),
                cname.clone(),
            ]);
            for pid in &c.pel {
                let Some(n) = g.pel.get(pid) else { continue };
                v.push(vec![
                    bs("XCLAIM"),
                    k.clone(),
                    name.clone(),
                    cname.clone(),
                    bs("0"),
                    id(*pid),
                    bs("TIME"),
                    Bytes::from(n.delivery_time.to_string()),
                    bs("RETRYCOUNT"),
                    Bytes::from(n.delivery_count.to_string()),
                    bs("JUSTID"),
                    bs("FORCE"),
                ]);
            }
        }
    }
    v
}

impl Server {
    /// A base file's contents: an RDB image (aof-use-rdb-preamble) or
    /// commands.
    pub fn aof_base_image(&self) -> Result<Vec<u8>, String> {
        if self.cfg.bool(D::AOF_USE_RDB_PREAMBLE) {
            self.rdb_image(true)
        } else {
            Ok(commands_image(
                &self.ks,
                now_ms(),
                self.cfg.bool(D::AOF_TIMESTAMP_ENABLED),
            ))
        }
    }

    /// CONFIG SET appendonly yes: writes go to a new incremental file at
    /// once; the manifest names it when the first base is written.
    pub fn aof_enable(&mut self) -> Result<(), String> {
        // The base needs the one snapshot slot; rare enough to wait here.
        self.finish_snapshot_now();
        std::fs::create_dir_all(self.aof_dir())
            .map_err(|e| format!("Can't create the append-only dir: {e}"))?;
        self.aof.on = true;
        self.aof.waiting_base = true;
        self.aof.last_rewrite_ok = true;
        self.aof.start_fsync_thread();
        self.set_propagation(true);
        if let Err(e) = self.aof_rewrite_start() {
            self.aof.on = false;
            self.aof.waiting_base = false;
            self.aof.stop_fsync_thread();
            self.set_propagation(false);
            return Err(e);
        }
        Ok(())
    }

    /// BGREWRITEAOF.
    pub fn aof_rewrite_start(&mut self) -> Result<(), String> {
        if self.aof.rewrite.is_some() {
            return Err("Background append only file rewriting already in progress".into());
        }
        std::fs::create_dir_all(self.aof_dir())
            .map_err(|e| format!("Can't create the append-only dir: {e}"))?;
        self.aof_flush();
        let prefix = self.aof_prefix();
        let rdb = self.cfg.bool(D::AOF_USE_RDB_PREAMBLE);
        let base = FileEntry {
            name: manifest::base_name(&prefix, self.aof.manifest.next_base_seq(), rdb),
            seq: self.aof.manifest.next_base_seq(),
        };
        if rdb && self.snapshot_running() {
            return Err(crate::errors::BGSAVE_BUSY.replace("BGSAVE", "BGREWRITEAOF"));
        }
        let path = self.aof_dir().join(&base.name);
        // Taken at this point, before any write goes to the new incr file.
        let rx = if rdb {
            let incremental = self.cfg.bool(D::AOF_REWRITE_INCREMENTAL_FSYNC);
            let sink = crate::persist::snapshot::FileSink::create(&path, incremental)
                .map_err(|e| format!("Can't open the append-only base file: {e}"))?;
            self.start_snapshot(true, Box::new(sink))?
        } else {
            let img = self.aof_base_image()?;
            let (tx, rx) = channel();
            std::thread::Builder::new()
                .name("aof-rewrite".into())
                .spawn(move || {
                    let r =
                        crate::persist::write_atomically(&path, &img).map_err(|e| e.to_string());
                    let _ = tx.send(r);
                })
                .map_err(|e| format!("Can't rewrite append only file in background: {e}"))?;
            rx
        };
        let incr = match self.rewrite_switch_incr(&prefix) {
            Ok(i) => i,
            Err(e) => {
                if rdb {
                    self.abandon_snapshot();
                }
                return Err(e);
            }
        };
        tracing::info!("Background append only file rewriting started");
        self.aof.scheduled = false;
        self.aof.rewrite = Some(Rewrite {
            rx,
            started: Instant::now(),
            cancelled: false,
            base,
            incr,
        });
        Ok(())
    }

    /// With the AOF on, writes go to a new incremental file from here on.
    fn rewrite_switch_incr(&mut self, prefix: &str) -> Result<Option<FileEntry>, String> {
        if !self.aof.on {
            return Ok(None);
        }
        let seq = self.aof.manifest.next_incr_seq();
        let e = FileEntry {
            name: manifest::incr_name(prefix, seq),
            seq,
        };
        let f = self.open_incr(&e.name)?;
        if !self.aof.waiting_base {
            let mut m = self.aof.manifest.clone();
            m.incrs.push(e.clone());
            self.write_manifest(&m)?;
            self.aof.manifest = m;
        }
        self.aof.fsync_now();
        self.aof.set_file(Some(f));
        tracing::info!("Creating AOF incr file {} on background rewrite", e.name);
        Ok(Some(e))
    }

    /// Collects a finished rewrite; starts a scheduled or automatic one.
    pub fn rewrite_cron(&mut self) {
        if let Some(rw) = &self.aof.rewrite {
            let r = match rw.rx.try_recv() {
                Err(TryRecvError::Empty) => return,
                Ok(r) => r,
                Err(TryRecvError::Disconnected) => Err("the rewrite thread died".into()),
            };
            if let Some(rw) = self.aof.rewrite.take() {
                self.rewrite_done(rw, r);
            }
        }
        let a = &self.aof;
        let perc = self.cfg.int(D::AUTO_AOF_REWRITE_PERCENTAGE) as u64;
        let min = self.cfg.int(D::AUTO_AOF_REWRITE_MIN_SIZE) as u64;
        let base = a.base_size.max(1);
        let auto = a.on
            && perc > 0
            && a.current_size > min
            && a.current_size.saturating_sub(base) * 100 / base >= perc;
        // One snapshot at a time: a scheduled rewrite waits for a BGSAVE.
        if (a.scheduled || auto) && !self.snapshot_running() {
            if auto {
                tracing::info!("Starting automatic rewriting of AOF on {}% growth", perc);
            }
            if let Err(e) = self.aof_rewrite_start() {
                tracing::warn!("Can't rewrite the append only file: {e}");
                self.aof.scheduled = false;
            }
        }
    }

    fn rewrite_done(&mut self, rw: Rewrite, r: Result<(), String>) {
        let dir = self.aof_dir();
        self.aof.last_rewrite_secs = Some(rw.started.elapsed().as_secs() as i64);
        if rw.cancelled {
            let _ = std::fs::remove_file(dir.join(&rw.base.name));
            return;
        }
        if let Err(e) = r {
            tracing::warn!("Background AOF rewrite failed: {e}");
            self.aof.last_rewrite_ok = false;
            self.aof.consecutive_failures += 1;
            return;
        }
        let old = self.aof.manifest.clone();
        let m = Manifest {
            base: Some(rw.base.clone()),
            incrs: match &rw.incr {
                Some(i) => old
                    .incrs
                    .iter()
                    .filter(|e| e.seq >= i.seq)
                    .cloned()
                    .chain(
                        // Switching on: the new incr is not in the manifest yet.
                        (!old.incrs.iter().any(|e| e.seq >= i.seq)).then(|| i.clone()),
                    )
                    .collect(),
                None => Vec::new(),
            },
            history: Vec::new(),
        };
        if let Err(e) = self.write_manifest(&m) {
            tracing::warn!("{e}");
            let _ = std::fs::remove_file(dir.join(&rw.base.name));
            self.aof.last_rewrite_ok = false;
            self.aof.consecutive_failures += 1;
            return;
        }
        for f in old.files().chain(old.history.iter()) {
            if !m.files().any(|n| n.name == f.name) {
                tracing::info!("Removing the history file {} in the background", f.name);
                let _ = std::fs::remove_file(dir.join(&f.name));
            }
        }
        self.aof.manifest = m;
        self.aof.waiting_base = false;
        self.aof.last_rewrite_ok = true;
        self.aof.consecutive_failures = 0;
        self.aof.rewrites += 1;
        self.aof.current_size = self.aof_files_size();
        self.aof.base_size = self.aof.current_size;
        tracing::info!("Background AOF rewrite finished successfully");
    }
}
