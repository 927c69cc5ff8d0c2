//! Forkless point-in-time snapshots: BGSAVE, the RDB base of an AOF rewrite,
//! and `start_snapshot` for anything else that wants the dataset as an RDB
//! stream (a replication full sync).
//!
//! The executor serialises the keyspace in slices between command batches
//! (`driver`, a task that yields to the connections after each slice) and
//! saves a key's pre-image before a command changes it (see `db::snap`).
//! It only copies bytes: strings worth compressing travel uncompressed in a
//! `Chunk`, and the writer thread compresses them (LZF), computes the
//! CRC-64 and writes to the sink. Chunks go through a queue bounded in
//! bytes: when the writer falls behind, the walk waits (pre-images cannot
//! wait, so they are what the queue may hold beyond the bound; its peak is
//! reported as `rdb_last_cow_size`, the extra memory the snapshot held).

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::rdb;
use crate::config::D;
use crate::db::{StrVal, Value};
use crate::server::{now_ms, Server};

/// Executor time per slice of the walk; clients are served in between.
const SLICE: Duration = Duration::from_micros(150);
/// Keys per step of a slice (the clock is read between steps).
const STEP_KEYS: usize = 64;
/// Bytes the queue may hold before the walk waits for the writer.
const QUEUE_LIMIT: usize = 8 << 20;
/// A chunk this big is handed over at once.
const CHUNK_BYTES: usize = 256 << 10;
/// Longest run of the writer's CPU work between offers of its core to
/// whoever waits for it (see `Pacer`).
const BURST: Duration = Duration::from_micros(50);
/// Bytes checksummed and written per step, so one step fits in a burst.
const WRITE_PIECE: usize = 64 << 10;
/// Queued bytes past which the writer stops yielding until it has caught
/// up: pre-images queue without bound, so memory then comes before latency.
const BACKLOG_LIMIT: usize = 2 * QUEUE_LIMIT;

/// Serialised key records of one database, with long strings left for the
/// writer to compress: `marks` says where in `raw` each one goes and how
/// long it is in `big`.
pub struct Chunk {
    db: usize,
    compress: bool,
    raw: Vec<u8>,
    big: Vec<u8>,
    marks: Vec<(usize, usize)>,
    keys: u64,
}

impl Chunk {
    pub fn new(db: usize, compress: bool) -> Chunk {
        Chunk {
            db,
            compress,
            raw: Vec::new(),
            big: Vec::new(),
            marks: Vec::new(),
            keys: 0,
        }
    }

    pub fn bytes(&self) -> usize {
        self.raw.len() + self.big.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Appends one key's record.
    pub fn record(&mut self, key: &[u8], v: &Value, exp: Option<i64>) {
        rdb::write_key_header(&mut self.raw, key, v, exp, self.compress);
        match v {
            Value::Str(StrVal::Emb(b) | StrVal::Raw(b)) if self.compress && b.len() > 20 => {
                self.marks.push((self.raw.len(), b.len()));
                self.big.extend_from_slice(b.as_slice());
            }
            _ => rdb::write_payload(&mut self.raw, v, self.compress),
        }
        self.keys += 1;
    }

    /// An empty chunk for the same database, this one's contents returned.
    fn take(&mut self) -> Chunk {
        std::mem::replace(self, Chunk::new(self.db, self.compress))
    }
}

/// Where a snapshot's bytes go. `finish` is called after the last byte of
/// a complete image (a file syncs and renames itself into place there);
/// a failed or abandoned snapshot is simply dropped.
pub trait SnapshotSink: Send {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    fn finish(self: Box<Self>) -> std::io::Result<()>;
}

/// A file written under a temporary name in the target's directory and
/// renamed over it once complete and synced.
pub struct FileSink {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
    /// rdb-save-incremental-fsync / aof-rewrite-incremental-fsync.
    incremental_fsync: bool,
    unsynced: usize,
}

/// With incremental fsync, the file is fsynced every this many bytes (as
/// redis.conf documents), so that the kernel never holds gigabytes of dirty
/// pages for one final fsync that stalls other writers to the disk.
const AUTOSYNC_BYTES: usize = 4 << 20;

impl FileSink {
    pub fn create(path: &Path, incremental_fsync: bool) -> std::io::Result<FileSink> {
        let tmp = super::temp_path(path);
        let f = std::fs::File::create(&tmp)?;
        Ok(FileSink {
            path: path.to_path_buf(),
            tmp,
            file: Some(std::io::BufWriter::with_capacity(WRITE_PIECE, f)),
            incremental_fsync,
            unsynced: 0,
        })
    }
}

impl SnapshotSink for FileSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let Some(f) = &mut self.file else {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        };
        f.write_all(bytes)?;
        self.unsynced += bytes.len();
        if self.incremental_fsync && self.unsynced >= AUTOSYNC_BYTES {
            f.flush()?;
            f.get_ref().sync_data()?;
            self.unsynced = 0;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> std::io::Result<()> {
        let f = self.file.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        let synced = f
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all());
        if let Err(e) = synced {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        super::rename_synced(&self.tmp, &self.path)
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        // Not renamed into place: incomplete or failed.
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

enum Msg {
    Chunk(Chunk),
    End,
    Abort,
}

/// The executor → writer queue.
#[derive(Default)]
struct Queue {
    items: Mutex<VecDeque<Msg>>,
    ready: Condvar,
    bytes: AtomicUsize,
    failed: AtomicBool,
}

impl Queue {
    fn push(&self, m: Msg) {
        if let Msg::Chunk(c) = &m {
            self.bytes.fetch_add(c.bytes(), Relaxed);
        }
        if let Ok(mut q) = self.items.lock() {
            q.push_back(m);
        }
        self.ready.notify_one();
    }

    fn pop(&self) -> Msg {
        let Ok(mut q) = self.items.lock() else {
            return Msg::Abort;
        };
        loop {
            if let Some(m) = q.pop_front() {
                if let Msg::Chunk(c) = &m {
                    self.bytes.fetch_sub(c.bytes(), Relaxed);
                }
                return m;
            }
            q = match self.ready.wait(q) {
                Ok(q) => q,
                Err(_) => return Msg::Abort,
            };
        }
    }
}

/// The executor's side of the running snapshot.
pub struct Walk {
    queue: Arc<Queue>,
    started: Instant,
    ended: bool,
    /// Databases whose walk has not completed.
    pending_dbs: usize,
    pub keys_total: u64,
    pub keys_done: u64,
    /// Most bytes held for the writer at once.
    pub peak_bytes: usize,
}

impl Walk {
    fn send(&mut self, c: Chunk) {
        self.keys_done += c.keys;
        self.queue.push(Msg::Chunk(c));
        self.peak_bytes = self.peak_bytes.max(self.queue.bytes.load(Relaxed));
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        if !self.ended {
            self.queue.push(Msg::Abort);
        }
    }
}

/// What the snapshot driver does next.
pub enum Step {
    More,
    /// The writer is behind.
    Wait,
    Idle,
}

/// How much nicer than the server the writer thread runs. With fewer
/// cores than busy threads (the executor, the writer, the clients' load)
/// the scheduler would otherwise share a core between the executor and
/// the writer in turns of several milliseconds, and each turn the executor
/// sits out is latency for every client: measured with benches/bgsave.py
/// on 2 cores, p99 of writes during a save fell from ~31 ms to ~4.5 ms
/// with this, the save taking about as long (the writer still gets every
/// idle cycle). Any process may lower its own priority, so this works
/// unprivileged too.
const WRITER_NICER: i32 = 10;

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain syscalls; on Linux a thread id names one thread.
    let r = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + WRITER_NICER).min(19))
    };
    if r != 0 {
        tracing::debug!("could not lower the snapshot writer's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Hands the writer's core back every `BURST`. A lower priority alone
/// makes its turns rarer, not shorter: once picked, the scheduler lets it
/// run a whole slice (1.5 ms on 2 cores), and an executor or client woken
/// meanwhile on that core waits for it. benches/bgsave.py on 2 cores, p99
/// of writes during the save: 4.4-4.9 ms without any yield, 1.9-3.5 ms
/// with the walk's yield (`driver`) alone, 0.7-1.1 ms with both.
struct Pacer {
    since: Instant,
    queue: Arc<Queue>,
}

impl Pacer {
    fn new(queue: Arc<Queue>) -> Pacer {
        Pacer {
            since: Instant::now(),
            queue,
        }
    }

    fn tick(&mut self) {
        if self.since.elapsed() >= BURST && self.queue.bytes.load(Relaxed) < BACKLOG_LIMIT {
            crate::util::yield_cpu();
            self.since = Instant::now();
        }
    }
}

/// The writer thread: header, records (SELECTDB when the database
/// changes), EOF and checksum; the result goes to `done`.
fn writer(
    mut out: Vec<u8>,
    sizes: Vec<(u64, u64)>,
    checksum: bool,
    mut sink: Box<dyn SnapshotSink>,
    queue: Arc<Queue>,
    done: Sender<Result<(), String>>,
) {
    const CRC: crc::Crc<u64> = crc::Crc::<u64>::new(&crc::CRC_64_REDIS);
    lower_priority();
    let mut pacer = Pacer::new(queue.clone());
    let mut digest = CRC.digest();
    let mut err: Option<std::io::Error> = None;
    let mut flush = |out: &mut Vec<u8>, err: &mut Option<std::io::Error>, pacer: &mut Pacer| {
        for piece in out.chunks(WRITE_PIECE) {
            if err.is_some() {
                break;
            }
            if checksum {
                digest.update(piece);
            }
            if let Err(e) = sink.write(piece) {
                queue.failed.store(true, Relaxed);
                *err = Some(e);
            }
            pacer.tick();
        }
        out.clear();
    };
    let mut db = None;
    let mut selected = vec![false; sizes.len()];
    loop {
        match queue.pop() {
            Msg::Chunk(c) => {
                if err.is_some() || queue.failed.load(Relaxed) {
                    continue;
                }
                if db != Some(c.db) {
                    let first = !std::mem::replace(&mut selected[c.db], true);
                    rdb::write_select(&mut out, c.db, first.then(|| sizes[c.db]));
                    db = Some(c.db);
                }
                let mut at = 0;
                let mut off = 0;
                for &(pos, len) in &c.marks {
                    out.extend_from_slice(&c.raw[at..pos]);
                    rdb::write_string(&mut out, &c.big[off..off + len], true);
                    at = pos;
                    off += len;
                    pacer.tick();
                }
                out.extend_from_slice(&c.raw[at..]);
                if out.len() >= WRITE_PIECE {
                    flush(&mut out, &mut err, &mut pacer);
                }
            }
            Msg::End => break,
            Msg::Abort => return,
        }
    }
    if err.is_none() && queue.failed.load(Relaxed) {
        err = Some(std::io::Error::other("the snapshot was abandoned"));
    }
    out.push(rdb::OP_EOF);
    flush(&mut out, &mut err, &mut pacer);
    let sum = if checksum { digest.finalize() } else { 0 };
    out.extend_from_slice(&sum.to_le_bytes());
    if err.is_none() {
        if let Err(e) = sink.write(&out) {
            err = Some(e);
        }
    }
    let r = match err {
        Some(e) => Err(e.to_string()),
        None => sink.finish().map_err(|e| e.to_string()),
    };
    let _ = done.send(r);
}

impl Server {
    /// Starts a point-in-time snapshot of the dataset, streamed as an RDB
    /// image to `sink` while clients keep being served. The receiver gets
    /// the result once the sink has finished. One snapshot runs at a time
    /// (see `snapshot_running`).
    pub fn start_snapshot(
        &mut self,
        aof_base: bool,
        sink: Box<dyn SnapshotSink>,
    ) -> Result<Receiver<Result<(), String>>, String> {
        if self.persist.walk.is_some() {
            return Err("Another snapshot is already in progress".into());
        }
        let header = rdb::header(
            &self.rdb_aux(aof_base),
            &self.scripting.functions.rdb_records(),
        );
        let compress = self.cfg.bool(D::RDBCOMPRESSION);
        let checksum = self.cfg.bool(D::RDBCHECKSUM);
        let sizes: Vec<(u64, u64)> = self
            .ks
            .dbs
            .iter()
            .map(|d| (d.len() as u64, d.expires().len() as u64))
            .collect();
        let queue = Arc::new(Queue::default());
        let (tx, rx) = channel();
        let q = queue.clone();
        std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || writer(header, sizes, checksum, sink, q, tx))
            .map_err(|e| format!("Can't save in background: {e}"))?;
        let start = now_ms();
        for (i, db) in self.ks.dbs.iter_mut().enumerate() {
            db.snapshot_start(i, start, compress);
        }
        let pending_dbs = self.ks.dbs.iter().filter(|d| d.snap.is_some()).count();
        self.persist.walk = Some(Walk {
            queue,
            started: Instant::now(),
            ended: false,
            pending_dbs,
            keys_total: self.ks.total_keys() as u64,
            keys_done: 0,
            peak_bytes: 0,
        });
        self.persist.wake.notify_one();
        Ok(rx)
    }

    pub fn snapshot_running(&self) -> bool {
        self.persist.walk.is_some()
    }

    /// One slice of the running snapshot's walk, of about `budget`.
    pub fn snapshot_step(&mut self, budget: Duration) -> Step {
        let Some(w) = &mut self.persist.walk else {
            return Step::Idle;
        };
        // Pre-images first: they hold memory until handed over.
        for db in &mut self.ks.dbs {
            if let Some(s) = &mut db.snap {
                if !s.out.is_empty() {
                    w.send(s.out.take());
                }
            }
        }
        if w.queue.bytes.load(Relaxed) >= QUEUE_LIMIT && !w.queue.failed.load(Relaxed) {
            return Step::Wait;
        }
        let deadline = Instant::now() + budget;
        for db in &mut self.ks.dbs {
            loop {
                let done = db.snapshot_slice(STEP_KEYS);
                let Some(s) = &mut db.snap else { break };
                if done || s.out.bytes() >= CHUNK_BYTES {
                    if !s.out.is_empty() {
                        w.send(s.out.take());
                    }
                }
                if done {
                    db.snap = None;
                    w.pending_dbs -= 1;
                    break;
                }
                if Instant::now() >= deadline {
                    if !s.out.is_empty() {
                        w.send(s.out.take());
                    }
                    return Step::More;
                }
            }
        }
        // Every database is walked: the image is complete, unless the
        // keyspace was replaced under the walk (a new dataset loaded).
        if w.pending_dbs != 0 {
            tracing::warn!("The dataset was replaced during the snapshot; it is abandoned");
            w.queue.failed.store(true, Relaxed);
        }
        w.ended = true;
        w.queue.push(Msg::End);
        let w = self.persist.walk.take();
        if let Some(w) = w {
            self.persist.last_cow_size = w.peak_bytes as u64;
        }
        Step::Idle
    }

    /// The running snapshot's result is no longer wanted: the walk goes on
    /// (it must leave every key marked) but nothing more is written, and
    /// the sink is dropped unfinished.
    pub fn abandon_snapshot(&mut self) {
        if let Some(w) = &self.persist.walk {
            w.queue.failed.store(true, Relaxed);
        }
    }

    /// Ends the running walk now, its image abandoned. Only right after
    /// every database was emptied (FLUSHALL): no entry is left for the
    /// walk to mark, and the contents it still held are freed off the
    /// executor.
    pub fn cancel_snapshot(&mut self) {
        let Some(w) = self.persist.walk.take() else {
            return;
        };
        for db in &mut self.ks.dbs {
            db.snapshot_cancel();
        }
        w.queue.failed.store(true, Relaxed);
        self.persist.last_cow_size = w.peak_bytes as u64;
    }

    /// Runs the rest of the walk at once (shutdown).
    pub fn finish_snapshot_now(&mut self) {
        while self.persist.walk.is_some() {
            if let Step::Wait = self.snapshot_step(Duration::from_millis(50)) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Drives snapshots: a slice, then a yield so that every connection with
/// input runs its batch before the next slice. The walk keeps the executor
/// runnable for the whole save, so it also offers the core to other
/// threads: a client that the scheduler placed on the executor's core
/// would otherwise wait out the executor's slice (perf sched showed
/// redis-benchmark delayed 2-5 ms at a time there).
pub async fn driver(srv: std::rc::Rc<std::cell::RefCell<Server>>) {
    let wake = srv.borrow().persist.wake.clone();
    loop {
        wake.notified().await;
        loop {
            let step = srv.borrow_mut().snapshot_step(SLICE);
            match step {
                Step::More => {
                    crate::util::yield_cpu();
                    tokio::task::yield_now().await
                }
                Step::Wait => tokio::time::sleep(Duration::from_millis(1)).await,
                Step::Idle => break,
            }
        }
    }
}
