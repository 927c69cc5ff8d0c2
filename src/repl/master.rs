//! The primary side of replication: replicas attach with PSYNC (or the old
//! SYNC), get either the backlog from their offset (+CONTINUE) or a
//! snapshot (+FULLRESYNC and an RDB transfer) followed by the live stream,
//! and acknowledge their offset with REPLCONF ACK every second.
//!
//! A full sync streams a point-in-time snapshot (`persist::snapshot`: the
//! executor walks the keyspace in slices between command batches, so other
//! clients are not paused) into memory; the stream fed from the moment it
//! started waits in each replica's `held` buffer, and once the image is
//! complete it goes out followed by that stream. Replicas that ask while
//! one is being taken join it. With `repl-diskless-sync` (and a replica
//! that has capa eof) the snapshot waits `repl-diskless-sync-delay` seconds
//! so that replicas arriving together share it, and goes out in the
//! `$EOF:<mark>` format; otherwise as `$<len>`.

use std::rc::Rc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{random_hex, Replica, ReplicaState, Waiter};
use crate::config::D;
use crate::server::{Client, Server};

/// A full sync's snapshot being taken.
pub struct SyncSnapshot {
    done: Receiver<Result<(), String>>,
    image: Arc<Mutex<Vec<u8>>>,
}

/// Collects the image in memory: a `$<len>` transfer needs its length
/// before the first byte.
struct MemSink {
    buf: Vec<u8>,
    image: Arc<Mutex<Vec<u8>>>,
}

impl crate::persist::snapshot::SnapshotSink for MemSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        let mut img = self.image.lock().map_err(|_| std::io::ErrorKind::Other)?;
        *img = self.buf;
        Ok(())
    }
}

/// How a replica asked to synchronise.
pub enum SyncRequest<'a> {
    Psync {
        replid: &'a [u8],
        offset: i64,
    },
    /// The old SYNC: no +FULLRESYNC line, no ACKs.
    Sync,
}

impl Server {
    /// PSYNC / SYNC from `client`: it becomes a replica.
    pub fn repl_sync(&mut self, client: &Rc<Client>, req: SyncRequest) {
        let hs = self.repl.handshakes.remove(&client.id).unwrap_or_default();
        let old_sync = matches!(req, SyncRequest::Sync);
        let mut r = Replica {
            client: client.clone(),
            state: ReplicaState::WaitBgsave,
            hs,
            ack_off: 0,
            ack_time: Instant::now(),
            fack_off: 0,
            old_sync,
            since: Instant::now(),
            bulk_len: 0,
            in_flight: 0,
            held: None,
            held_soft_since: Default::default(),
        };
        tracing::info!(
            "Replica {}:{} asks for synchronization",
            r.ip(),
            r.hs.listening_port
        );
        client.replica.set(true);
        if let SyncRequest::Psync { replid, offset } = req {
            if self.try_partial(&mut r, replid, offset) {
                self.repl.stats.partial_ok += 1;
                self.repl.replicas.push(r);
                return;
            }
            if replid != b"?" {
                self.repl.stats.partial_err += 1;
            }
        }
        self.repl.stats.full += 1;
        if self.repl.backlog.is_none() {
            // Offsets before now cannot be served: a new history.
            self.repl.change_replid();
            self.repl_create_backlog();
            tracing::info!(
                "Replication backlog created, my new replication IDs are '{}' and '{}'",
                self.repl.replid,
                self.repl.replid2
            );
        }
        let diskless = self.cfg.bool(D::REPL_DISKLESS_SYNC) && r.hs.capa_eof && !old_sync;
        self.repl.replicas.push(r);
        if !diskless || self.cfg.int(D::REPL_DISKLESS_SYNC_DELAY) == 0 {
            self.repl_start_full_syncs();
        }
    }

    /// Serves PSYNC from the backlog if the history matches.
    fn try_partial(&mut self, r: &mut Replica, replid: &[u8], offset: i64) -> bool {
        let st = &self.repl;
        let id = String::from_utf8_lossy(replid);
        let who = format!("{}:{}", r.ip(), r.hs.listening_port);
        if id != st.replid && !(id == st.replid2 && offset <= st.second_replid_offset) {
            if id != "?" {
                if id != st.replid2 {
                    tracing::info!(
                        "Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '{id}', my replication IDs are '{}' and '{}')",
                        st.replid,
                        st.replid2
                    );
                } else {
                    tracing::info!(
                        "Partial resynchronization not accepted: Requested offset for second ID was {offset}, but I can reply up to {}",
                        st.second_replid_offset
                    );
                }
            } else {
                tracing::info!("Full resync requested by replica {who}");
            }
            return false;
        }
        let Some(data) = st.backlog.as_ref().and_then(|b| b.since(offset)) else {
            tracing::info!(
                "Unable to partial resync with replica {who} for lack of backlog (Replica request was: {offset})."
            );
            return false;
        };
        let line = if r.hs.capa_psync2 {
            format!("+CONTINUE {}\r\n", st.replid)
        } else {
            "+CONTINUE\r\n".to_string()
        };
        {
            let mut p = r.client.pending.borrow_mut();
            p.extend_from_slice(line.as_bytes());
            p.extend_from_slice(&data);
        }
        r.client.wake.notify_one();
        r.state = ReplicaState::Online;
        r.ack_off = offset - 1;
        tracing::info!(
            "Partial resynchronization request from {who} accepted. Sending {} bytes of backlog starting from offset {offset}.",
            data.len()
        );
        true
    }

    /// Starts the snapshot for the replicas waiting for one, or lets them
    /// join the one being taken (the stream since its start is what the
    /// replicas already in it hold). A BGSAVE or AOF rewrite walking the
    /// keyspace is waited for (`repl_cron` comes back).
    pub fn repl_start_full_syncs(&mut self) {
        let waiting = |r: &Replica| r.state == ReplicaState::WaitBgsave;
        if !self.repl.replicas.iter().any(waiting) {
            return;
        }
        let (id, off) = (self.repl.replid.clone(), self.repl.master_repl_offset);
        if self.repl.sync.is_some() {
            let Some(joined) = self
                .repl
                .replicas
                .iter()
                // (One dropped for its output limit stopped holding.)
                .find(|r| r.state == ReplicaState::WaitBgsaveEnd && !r.client.close_asap.get())
                .map(|r| (r.ack_off, r.held.clone()))
            else {
                return;
            };
            for r in self.repl.replicas.iter_mut().filter(|r| waiting(r)) {
                r.state = ReplicaState::WaitBgsaveEnd;
                (r.ack_off, r.held) = joined.clone();
                tracing::info!(
                    "Waiting for end of BGSAVE for SYNC, replica {}:{} joins the one in progress",
                    r.ip(),
                    r.hs.listening_port
                );
            }
            return;
        }
        if self.snapshot_running() {
            return;
        }
        let image = Arc::new(Mutex::new(Vec::new()));
        let sink = MemSink {
            buf: Vec::new(),
            image: image.clone(),
        };
        let done = match self.start_snapshot(false, Box::new(sink)) {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!("Can't produce the RDB for replica synchronization: {e}");
                self.repl_drop_syncing(ReplicaState::WaitBgsave);
                return;
            }
        };
        // The replicas load the snapshot, then the stream must say which
        // database comes next.
        self.repl.sel_db = None;
        for r in self.repl.replicas.iter_mut().filter(|r| waiting(r)) {
            r.state = ReplicaState::WaitBgsaveEnd;
            r.held = Some(Vec::new());
            r.ack_off = off;
            tracing::info!(
                "Starting BGSAVE for SYNC with target: replica {}:{} (replication id {id}, offset {off})",
                r.ip(),
                r.hs.listening_port
            );
        }
        self.repl.sync = Some(SyncSnapshot { done, image });
    }

    /// Disconnects the replicas in `state` (their sync failed; they retry).
    fn repl_drop_syncing(&mut self, state: ReplicaState) {
        for r in self.repl.replicas.iter().filter(|r| r.state == state) {
            r.client.kill();
        }
    }

    /// The full sync snapshot, once complete: the transfer, then the
    /// stream held since the snapshot started, to every replica in it.
    fn repl_collect_sync(&mut self) {
        let Some(sync) = &self.repl.sync else {
            return;
        };
        let res = match sync.done.try_recv() {
            Err(TryRecvError::Empty) => return,
            Ok(r) => r,
            Err(TryRecvError::Disconnected) => Err("the snapshot was abandoned".into()),
        };
        let image = sync.image.clone();
        self.repl.sync = None;
        let img = match res {
            Ok(()) => image
                .lock()
                .map(|mut i| std::mem::take(&mut *i))
                .unwrap_or_default(),
            Err(e) => {
                tracing::warn!("Can't produce the RDB for replica synchronization: {e}");
                self.repl_drop_syncing(ReplicaState::WaitBgsaveEnd);
                return;
            }
        };
        let diskless = self.cfg.bool(D::REPL_DISKLESS_SYNC);
        let id = self.repl.replid.clone();
        for r in self
            .repl
            .replicas
            .iter_mut()
            .filter(|r| r.state == ReplicaState::WaitBgsaveEnd)
        {
            let mut head = String::new();
            if !r.old_sync {
                head = format!("+FULLRESYNC {id} {}\r\n", r.ack_off);
            }
            let eof = diskless && r.hs.capa_eof && !r.old_sync;
            let mark = random_hex(40);
            if eof {
                head.push_str(&format!("$EOF:{mark}\r\n"));
            } else {
                head.push_str(&format!("${}\r\n", img.len()));
            }
            let how = if eof { "diskless" } else { "disk" };
            tracing::info!(
                "Streaming {} bytes of snapshot ({how}) to replica {}:{}",
                img.len(),
                r.ip(),
                r.hs.listening_port
            );
            // (Keep-alive newlines may precede: the replica skips them.)
            let mut p = r.client.pending.borrow_mut();
            p.extend_from_slice(head.as_bytes());
            p.extend_from_slice(&img);
            if eof {
                p.extend_from_slice(mark.as_bytes());
            }
            r.bulk_len = p.len();
            // After a `$EOF:` transfer the stream waits for the first ACK.
            if !eof {
                if let Some(held) = r.held.take() {
                    p.extend_from_slice(&held);
                }
            }
            drop(p);
            r.state = ReplicaState::SendBulk;
            r.client.wake.notify_one();
        }
        // Replicas that could not join it get the next one.
        self.repl_start_due_syncs();
    }

    /// The connection task took the replica's pending output to write it:
    /// from now on only the stream behind it counts against the limit.
    pub fn repl_output_taken(&mut self, client: &Client, len: usize) {
        if let Some(r) = self.repl.replica_mut(client.id) {
            r.bulk_len = 0;
            r.in_flight = len;
        }
    }

    /// The connection task finished a write: a transfer in flight is done.
    pub fn repl_output_written(&mut self, client: &Client) {
        if let Some(r) = self.repl.replica_mut(client.id) {
            r.in_flight = 0;
            if r.state == ReplicaState::SendBulk && r.bulk_len == 0 {
                r.state = ReplicaState::Online;
                r.ack_time = Instant::now();
                // Fewer, bigger packets for the stream, at the cost of
                // latency (repl-disable-tcp-nodelay).
                if self.cfg.bool(D::REPL_DISABLE_TCP_NODELAY) && !r.client.unix && r.client.fd >= 0
                {
                    // SAFETY: the fd belongs to the connection whose task
                    // is calling us, so it is open.
                    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(r.client.fd) };
                    let _ = socket2::SockRef::from(&fd).set_nodelay(false);
                }
                tracing::info!(
                    "Synchronization with replica {}:{} succeeded",
                    r.ip(),
                    r.hs.listening_port
                );
            }
        }
    }

    /// A connection closed: forget what replication knew about it.
    pub fn repl_forget(&mut self, client: &Client) {
        self.repl.handshakes.remove(&client.id);
        self.repl.waiters.retain(|w| w.client != client.id);
        if let Some(i) = self
            .repl
            .replicas
            .iter()
            .position(|r| r.client.id == client.id)
        {
            let r = self.repl.replicas.remove(i);
            tracing::info!(
                "Connection with replica {}:{} lost.",
                r.ip(),
                r.hs.listening_port
            );
            if self.repl.replicas.is_empty() {
                self.repl.no_replicas_since = Instant::now();
            }
        }
    }

    /// Output waiting for replicas (RDB transfers, stream): like Redis,
    /// maxmemory does not count it, or a full sync would evict the data
    /// it is sending.
    pub fn repl_output_mem(&self) -> u64 {
        let waiting = |r: &Replica| {
            r.client.pending.borrow().len() + r.in_flight + r.held.as_ref().map_or(0, |h| h.len())
        };
        self.repl.replicas.iter().map(|r| waiting(r) as u64).sum()
    }

    /// REPLCONF ACK <offset> from a replica.
    pub fn repl_ack(&mut self, client: &Client, offset: i64) {
        let Some(r) = self.repl.replica_mut(client.id) else {
            return;
        };
        if offset > r.ack_off {
            r.ack_off = offset;
        }
        r.ack_time = Instant::now();
        if let Some(held) = r.held.take() {
            let limit = self.out_limits.replica;
            super::deliver(r, &held, limit);
        }
        self.repl_serve_waiters();
        self.waitaof_serve();
        self.failover_progress();
    }

    /// Answers the WAITs that enough replicas acknowledged.
    fn repl_serve_waiters(&mut self) {
        if self.repl.waiters.is_empty() {
            return;
        }
        let mut i = 0;
        while i < self.repl.waiters.len() {
            let w = &self.repl.waiters[i];
            let n = self.repl.acked(w.offset);
            if n < w.numreplicas {
                i += 1;
                continue;
            }
            let w = self.repl.waiters.remove(i);
            let Some(c) = self.clients.get(&w.client).cloned() else {
                continue;
            };
            // (CLIENT UNBLOCK may have answered it already.)
            if self.unblock(&c).is_some() {
                let mut out = crate::resp::Out::new(c.resp.get() == 3);
                out.int(n as i64);
                c.pending.borrow_mut().extend_from_slice(&out.buf);
                c.wake.notify_one();
            }
        }
    }

    /// WAIT numreplicas: how many acknowledged the client's writes,
    /// or None when the client must block (then `repl_wait_timeout` gives
    /// the reply).
    pub fn repl_wait(
        &mut self,
        client: &Client,
        numreplicas: usize,
        may_block: bool,
    ) -> Option<usize> {
        let offset = client.woff.get();
        let n = self.repl.acked(offset);
        if n >= numreplicas || !may_block {
            return Some(n);
        }
        self.repl.waiters.push(Waiter {
            client: client.id,
            offset,
            numreplicas,
        });
        self.repl_getack();
        None
    }

    /// A WAIT timed out: the number of replicas that acknowledged.
    pub fn repl_wait_timeout(&mut self, client: &Client) -> usize {
        let Some(i) = self.repl.waiters.iter().position(|w| w.client == client.id) else {
            return 0;
        };
        let w = self.repl.waiters.remove(i);
        self.repl.acked(w.offset)
    }

    /// Asks every replica for its offset now (REPLCONF GETACK * in the
    /// stream), once per stream position.
    pub(crate) fn repl_getack(&mut self) {
        if self.repl.getack_at == self.repl.master_repl_offset || self.repl.replicas.is_empty() {
            return;
        }
        let mut buf = Vec::new();
        super::encode(
            &mut buf,
            &[
                Bytes::from_static(b"REPLCONF"),
                Bytes::from_static(b"GETACK"),
                Bytes::from_static(b"*"),
            ],
        );
        self.repl_feed_raw(&buf);
        self.repl.getack_at = self.repl.master_repl_offset;
    }

    /// Whether min-replicas-to-write lets writes through.
    pub fn repl_enough_replicas(&self) -> bool {
        let min = self.cfg.int(D::MIN_REPLICAS_TO_WRITE);
        let lag = self.cfg.int(D::MIN_REPLICAS_MAX_LAG);
        if min <= 0 || lag <= 0 || self.is_replica() {
            return true;
        }
        self.repl.good_replicas(lag as u64) >= min as usize
    }

    /// Replication's share of the cron: once a second, PING replicas,
    /// drop silent ones, start due diskless syncs, free an unused backlog.
    pub fn repl_cron(&mut self) {
        self.failover_progress();
        self.replica_expire_own_keys();
        self.shutdown_wait_cron();
        if let Some(b) = self.repl.backlog.as_mut() {
            let size = self.cfg.int(D::REPL_BACKLOG_SIZE).max(0) as usize;
            b.resize(size);
        }
        self.repl_collect_sync();
        self.repl_start_due_syncs();
        let limit = self.out_limits.replica;
        for r in self.repl.replicas.iter().filter(|r| r.held.is_some()) {
            super::check_held(r, limit);
        }
        if self.repl.last_cron.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.repl.last_cron = Instant::now();
        let period = self.cfg.int(D::REPL_PING_REPLICA_PERIOD).max(1) as u64;
        if !self.repl.replicas.is_empty()
            && !self.is_replica()
            && self.repl.last_ping.elapsed() >= Duration::from_secs(period)
        {
            self.repl.last_ping = Instant::now();
            let mut buf = Vec::new();
            super::encode(&mut buf, &[Bytes::from_static(b"PING")]);
            self.repl_feed_raw(&buf);
        }
        let timeout = Duration::from_secs(self.cfg.int(D::REPL_TIMEOUT).max(1) as u64);
        for r in &self.repl.replicas {
            match r.state {
                // Keeps the connection alive until the transfer starts.
                ReplicaState::WaitBgsave | ReplicaState::WaitBgsaveEnd => {
                    r.client.pending.borrow_mut().push(b'\n');
                    r.client.wake.notify_one();
                }
                ReplicaState::Online if !r.old_sync && r.ack_time.elapsed() > timeout => {
                    tracing::warn!(
                        "Disconnecting timedout replica (streaming sync): {}:{}",
                        r.ip(),
                        r.hs.listening_port
                    );
                    r.client.kill();
                }
                _ => {}
            }
        }
        let ttl = self.cfg.int(D::REPL_BACKLOG_TTL);
        if self.repl.replicas.is_empty()
            && !self.is_replica()
            && self.repl.backlog.is_some()
            && ttl > 0
            && self.repl.no_replicas_since.elapsed() >= Duration::from_secs(ttl as u64)
        {
            self.repl.change_replid();
            self.repl_free_backlog();
            tracing::info!(
                "Replication backlog freed after {ttl} seconds without connected replicas."
            );
        }
    }

    /// Diskless syncs start once the delay has passed for the earliest
    /// waiting replica, or when enough replicas wait; others at once.
    fn repl_start_due_syncs(&mut self) {
        let diskless = self.cfg.bool(D::REPL_DISKLESS_SYNC);
        let waiting: Vec<&Replica> = self
            .repl
            .replicas
            .iter()
            .filter(|r| r.state == ReplicaState::WaitBgsave)
            .collect();
        let Some(oldest) = waiting.iter().map(|r| r.since).min() else {
            return;
        };
        let disk = waiting
            .iter()
            .any(|r| !(diskless && r.hs.capa_eof && !r.old_sync));
        let delay = Duration::from_secs(self.cfg.int(D::REPL_DISKLESS_SYNC_DELAY).max(0) as u64);
        let max = self.cfg.int(D::REPL_DISKLESS_SYNC_MAX_REPLICAS);
        if disk || oldest.elapsed() >= delay || (max > 0 && waiting.len() as i64 >= max) {
            self.repl_start_full_syncs();
        }
    }
}
