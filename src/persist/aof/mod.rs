//! The append-only file, in Redis 7's multi-part layout: in `appenddirname`
//! a manifest lists one base file (an RDB image, or commands without the
//! RDB preamble) and the incremental files of commands (RESP) written
//! since, in order.
//!
//! Durability contract: what a write command propagated (see
//! `server::propagate`) is appended to `buf`, and the buffer is written to
//! the incremental file (write(2), so it is in the page cache and survives
//! a crash of the process) at the end of the batch, before the batch's
//! replies are sent. `appendfsync always` also fsyncs there;
//! `everysec` leaves the fsync to a background thread that runs once a
//! second, so the executor never waits for the disk.

pub mod argv;
pub mod load;
pub mod manifest;
pub mod rewrite;

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::config::D;
use crate::server::Server;
use manifest::Manifest;

/// What the background fsync thread shares with the executor.
#[derive(Default)]
struct FsyncShared {
    file: Mutex<Option<Arc<File>>>,
    /// Bytes were written since the last fsync.
    pending: AtomicBool,
    /// The replication offset the file's written bytes reach.
    written: AtomicI64,
    /// no-appendfsync-on-rewrite while a save or rewrite runs: skip.
    hold: AtomicBool,
    stop: AtomicBool,
}

#[derive(Default)]
pub struct Aof {
    /// Propagated commands not yet written.
    pub buf: Vec<u8>,
    /// The database the last SELECT in the current file chose.
    sel_db: Option<usize>,
    /// The second of the last `#TS:` annotation in the current file.
    last_ts: i64,
    /// The incremental file being appended to.
    file: Option<Arc<File>>,
    pub manifest: Manifest,
    fsync: Option<Arc<FsyncShared>>,
    pub rewrite: Option<rewrite::Rewrite>,
    /// Writes go to a new incremental file, but the manifest waits for the
    /// first base (AOF just switched on at runtime).
    pub waiting_base: bool,
    pub on: bool,
    pub last_write_err: Option<String>,
    pub last_rewrite_ok: bool,
    pub rewrites: u64,
    pub consecutive_failures: u64,
    pub last_rewrite_secs: Option<i64>,
    pub current_size: u64,
    /// Size after the last rewrite (or at start-up): auto-rewrite's base.
    pub base_size: u64,
    pub scheduled: bool,
    /// Length of the incremental file, always at a command boundary.
    incr_boundary: u64,
    /// The replication offset (master_repl_offset) the bytes written so
    /// far reach, and the one the fsynced bytes reach (WAITAOF; the fsync
    /// thread advances the latter). -1: nothing known to be on disk.
    written_off: i64,
    fsynced_off: Arc<AtomicI64>,
}

impl Aof {
    /// Queues one propagated command, preceded by a SELECT when it runs in
    /// another database than the previous one in this file. `unix_secs`:
    /// the time, with aof-timestamp-enabled.
    pub fn feed(&mut self, db: usize, argv: &[Bytes], unix_secs: Option<i64>) {
        if !self.on {
            return;
        }
        // Redis 7's annotation: the unix time of the commands after it,
        // written when the second changes (point-in-time recovery).
        if let Some(now) = unix_secs.filter(|now| *now > self.last_ts) {
            self.buf
                .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            self.last_ts = now;
        }
        if self.sel_db != Some(db) {
            argv::encode(
                &mut self.buf,
                &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
            );
            self.sel_db = Some(db);
        }
        argv::encode(&mut self.buf, argv);
    }

    /// Commands queued and not yet written to the file.
    pub fn unwritten(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The replication offset up to which writes are fsynced to this AOF,
    /// -1 when off or while its first base is being written (Redis's
    /// fsynced_reploff).
    pub fn fsynced_offset(&self) -> i64 {
        if self.on && !self.waiting_base {
            self.fsynced_off.load(Ordering::Acquire)
        } else {
            -1
        }
    }

    /// Everything so far is on disk at replication offset `off` (start-up),
    /// or nothing is (`-1`: a full sync replaced the dataset and its
    /// offsets).
    pub fn set_synced_offset(&mut self, off: i64) {
        self.written_off = off;
        self.fsynced_off.store(off, Ordering::Release);
        if let Some(s) = &self.fsync {
            s.written.store(off, Ordering::Release);
        }
    }

    /// Writes the buffer (which reaches replication offset `off`) to the
    /// incremental file; fsyncs too with `always`. On failure the bytes
    /// stay buffered for the next try and the file is cut back so it never
    /// ends in half a command.
    pub fn write(&mut self, always: bool, off: i64) {
        if self.buf.is_empty() {
            return;
        }
        let Some(f) = self.file.clone() else { return };
        let res = (&*f).write_all(&self.buf);
        match res {
            Ok(()) => {
                self.current_size += self.buf.len() as u64;
                self.incr_boundary += self.buf.len() as u64;
                self.buf.clear();
                if self.buf.capacity() > 1 << 20 {
                    self.buf = Vec::new();
                }
                self.written_off = off;
                if always {
                    if let Err(e) = f.sync_data() {
                        self.write_failed(format!("fsync: {e}"));
                        return;
                    }
                    self.fsynced_off.store(off, Ordering::Release);
                } else if let Some(s) = &self.fsync {
                    s.written.store(off, Ordering::Release);
                    s.pending.store(true, Ordering::Release);
                }
                if self.last_write_err.take().is_some() {
                    tracing::warn!("AOF write error looks solved, Redis can write again.");
                }
            }
            Err(e) => {
                // A partial write would leave half a command: cut back.
                let _ = f.set_len(self.incr_boundary);
                self.write_failed(e.to_string());
            }
        }
    }

    fn write_failed(&mut self, e: String) {
        // As strerror() prints it, without Rust's " (os error N)".
        let e = match e.find(" (os error ") {
            Some(i) => e[..i].to_string(),
            None => e,
        };
        if self.last_write_err.is_none() {
            tracing::warn!("Error writing to the AOF file: {e}");
        }
        self.last_write_err = Some(e);
    }

    /// fsync now, on the calling thread (shutdown, switching files).
    pub fn fsync_now(&mut self) {
        if let Some(f) = &self.file {
            if f.sync_data().is_ok() {
                self.fsynced_off.store(self.written_off, Ordering::Release);
            }
        }
    }

    /// Starts appending to `f` (a new incremental file).
    fn set_file(&mut self, f: Option<File>) {
        self.incr_boundary = f
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        self.file = f.map(Arc::new);
        self.sel_db = None;
        self.last_ts = 0;
        if let Some(s) = &self.fsync {
            if let Ok(mut g) = s.file.lock() {
                *g = self.file.clone();
            }
        }
    }

    fn start_fsync_thread(&mut self) {
        if self.fsync.is_some() {
            return;
        }
        let shared = Arc::new(FsyncShared::default());
        if let Ok(mut g) = shared.file.lock() {
            *g = self.file.clone();
        }
        shared.written.store(self.written_off, Ordering::Release);
        let fsynced = self.fsynced_off.clone();
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("aof-fsync".into())
            .spawn(move || {
                while !s.stop.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(1000));
                    if s.hold.load(Ordering::Acquire) {
                        continue;
                    }
                    if s.pending.swap(false, Ordering::AcqRel) {
                        // Read before the fsync: it covers what was
                        // written up to here.
                        let off = s.written.load(Ordering::Acquire);
                        let f = s.file.lock().ok().and_then(|g| g.clone());
                        if let Some(f) = f {
                            match f.sync_data() {
                                Ok(()) => fsynced.fetch_max(off, Ordering::AcqRel),
                                Err(e) => {
                                    tracing::warn!("AOF fsync failed: {e}");
                                    0
                                }
                            };
                        }
                    }
                }
            });
        match spawned {
            Ok(_) => self.fsync = Some(shared),
            Err(e) => tracing::warn!("Can't start the AOF fsync thread: {e}"),
        }
    }

    /// Whether the fsync thread leaves the file alone for now.
    fn hold_fsync(&self, hold: bool) {
        if let Some(s) = &self.fsync {
            s.hold.store(hold, Ordering::Release);
        }
    }

    fn stop_fsync_thread(&mut self) {
        if let Some(s) = self.fsync.take() {
            s.stop.store(true, Ordering::Release);
        }
    }
}

impl Server {
    pub fn aof_dir(&self) -> PathBuf {
        PathBuf::from(self.cfg.str(D::APPENDDIRNAME))
    }

    pub fn aof_prefix(&self) -> String {
        self.cfg.str(D::APPENDFILENAME).to_string()
    }

    pub fn aof_manifest_path(&self) -> PathBuf {
        self.aof_dir()
            .join(format!("{}.manifest", self.aof_prefix()))
    }

    fn write_manifest(&self, m: &Manifest) -> Result<(), String> {
        super::write_atomically(&self.aof_manifest_path(), m.format().as_bytes())
            .map_err(|e| format!("Can't persist the AOF manifest: {e}"))
    }

    fn open_incr(&self, name: &str) -> Result<File, String> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.aof_dir().join(name))
            .map_err(|e| format!("Can't open the append-only file {name}: {e}"))
    }

    /// Sum of the sizes of the files the manifest lists.
    fn aof_files_size(&self) -> u64 {
        let dir = self.aof_dir();
        self.aof
            .manifest
            .files()
            .filter_map(|e| std::fs::metadata(dir.join(&e.name)).ok())
            .map(|m| m.len())
            .sum()
    }

    /// After start-up loading (or with nothing to load): opens the AOF for
    /// appending, creating the base and incremental files Redis 7 would.
    pub fn aof_open_at_start(&mut self) -> Result<(), String> {
        std::fs::create_dir_all(self.aof_dir()).map_err(|e| {
            format!(
                "Can't create the append-only dir {}: {e}",
                self.aof_dir().display()
            )
        })?;
        let prefix = self.aof_prefix();
        let mut m = self.aof.manifest.clone();
        if m.base.is_none() && m.incrs.is_empty() {
            let rdb = self.cfg.bool(D::AOF_USE_RDB_PREAMBLE);
            let name = manifest::base_name(&prefix, 1, rdb);
            let img = self.aof_base_image()?;
            super::write_atomically(&self.aof_dir().join(&name), &img)
                .map_err(|e| format!("Can't write the AOF base file {name}: {e}"))?;
            tracing::info!("Creating AOF base file {name} on server start");
            m.base = Some(manifest::FileEntry { name, seq: 1 });
        }
        if m.incrs.is_empty() {
            let seq = m.next_incr_seq();
            let name = manifest::incr_name(&prefix, seq);
            tracing::info!("Creating AOF incr file {name} on server start");
            m.incrs.push(manifest::FileEntry { name, seq });
            self.write_manifest(&m)?;
        }
        let last = m.incrs.last().map(|e| e.name.clone()).unwrap_or_default();
        let f = self.open_incr(&last)?;
        self.aof.manifest = m;
        self.aof.set_file(Some(f));
        self.aof.on = true;
        self.aof.current_size = self.aof_files_size();
        self.aof.base_size = self.aof.current_size;
        self.aof.last_rewrite_ok = true;
        self.aof.set_synced_offset(self.repl.master_repl_offset);
        self.aof.start_fsync_thread();
        self.set_propagation(true);
        Ok(())
    }

    /// Writes the propagated commands before the batch's replies go out.
    pub fn aof_flush(&mut self) {
        if !self.aof.buf.is_empty() {
            let hold = self.aof_fsync_held();
            self.aof.hold_fsync(hold);
            let always = !hold && self.cfg.str(D::APPENDFSYNC) == "always";
            self.aof.write(always, self.repl.master_repl_offset);
            self.waitaof_serve();
        }
    }

    /// no-appendfsync-on-rewrite: no fsync of the AOF while a snapshot
    /// (BGSAVE, a rewrite's base, a full sync) or a rewrite is under way,
    /// so the two do not compete for the disk. Writes still reach the
    /// file; a machine crash meanwhile may lose what was not fsynced, as
    /// the directive's users accept in Redis.
    fn aof_fsync_held(&self) -> bool {
        self.cfg.bool(D::NO_APPENDFSYNC_ON_REWRITE)
            && (self.snapshot_running() || self.aof.rewrite.is_some())
    }

    /// Shutdown: everything written and on disk.
    pub fn aof_shutdown(&mut self) {
        if self.aof.on {
            self.aof_flush();
            self.aof.fsync_now();
            self.aof.stop_fsync_thread();
        }
    }

    /// CONFIG SET appendonly: switching on starts a rewrite that writes
    /// the first base; switching off closes the file.
    pub fn aof_config_changed(&mut self) -> Result<(), String> {
        let want = self.cfg.bool(D::APPENDONLY);
        if want && !self.aof.on {
            self.aof_enable()?;
        } else if !want && self.aof.on {
            self.aof_flush();
            self.aof.fsync_now();
            self.aof.stop_fsync_thread();
            self.aof.set_file(None);
            self.aof.on = false;
            self.waitaof_fail_local();
            self.aof.waiting_base = false;
            if let Some(rw) = self.aof.rewrite.as_mut() {
                rw.cancelled = true;
            }
            self.set_propagation(false);
            tracing::info!("Background append only file rewriting stopped (appendonly no)");
        }
        Ok(())
    }

    /// Periodic AOF work: write what expiry propagated, retry failed
    /// writes, finish a rewrite, start an automatic one.
    pub fn aof_cron(&mut self) {
        self.aof.hold_fsync(self.aof_fsync_held());
        if self.prop.enabled {
            self.queue_deleted();
            self.flush_propagated();
        }
        self.aof_flush();
        // The fsync thread moved the fsynced offset on (everysec).
        self.waitaof_serve();
        self.rewrite_cron();
    }

    /// INFO persistence's aof_* fields.
    pub fn aof_info(&self, o: &mut String) {
        use std::fmt::Write as _;
        let a = &self.aof;
        let rw = a.rewrite.as_ref();
        let _ = write!(
            o,
            "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
            a.on as u8,
            rw.is_some() as u8,
            a.scheduled as u8,
            a.last_rewrite_secs.unwrap_or(-1),
            rw.map_or(-1, |r| r.started.elapsed().as_secs() as i64),
            if a.last_rewrite_ok || a.rewrites == 0 { "ok" } else { "err" },
            a.rewrites,
            a.consecutive_failures,
            if a.last_write_err.is_none() { "ok" } else { "err" },
        );
        if a.on {
            let _ = write!(
                o,
                "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
                a.current_size,
                a.base_size,
                a.scheduled as u8,
                a.buf.len(),
            );
        }
    }
}
