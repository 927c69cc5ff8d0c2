//! Replication, the state both sides share.
//!
//! The replication stream is the RESP encoding of what `server::propagate`
//! queues (the same commands the AOF gets, MULTI/EXEC around transactions
//! and scripts, DELs for expiry and eviction), with a SELECT whenever the
//! database changes, plus PINGs and `REPLCONF GETACK *` from the primary's
//! cron and WAIT. `master_repl_offset` counts every byte of it. The newest
//! bytes stay in the backlog (`backlog.rs`) for partial resynchronisation.
//!
//! What to call (for the replica side, src/repl/replica.rs):
//! - `Server::repl_feed(db, argv)`: a command into the stream (propagate.rs
//!   calls it for every propagated command).
//! - `Server::repl_feed_raw(bytes)`: bytes that already are stream, e.g.
//!   what a replica received from its primary and applied, so that its own
//!   backlog and its sub-replicas (replicas of replicas) get exactly the
//!   primary's stream and offsets stay equal along the chain.
//! - `Server::repl_create_backlog()`: a replica creates its backlog when it
//!   starts replicating (offset = the primary's), so it can later serve
//!   PSYNC after a failover.
//! - `ReplState::shift_replid()`: on REPLICAOF NO ONE (promotion) the old id
//!   becomes replid2, valid up to the current offset (PSYNC2), and a fresh
//!   id starts; set `sel_db = None` then too, so the first own command is
//!   preceded by a SELECT. `ReplState::set_replid(id, offset)` adopts a
//!   primary's id.
//! - `Server::repl_disconnect_replicas()`: when this server becomes a
//!   replica of someone, its own replicas must resync (Redis drops them;
//!   they come back with PSYNC and may continue partially).
//! - A replica serves PSYNC from sub-replicas with the same code as a
//!   primary (`master.rs`), answering with its primary's replid/offsets;
//!   `Server::is_replica()` turns off what only a primary does (PINGs into the
//!   stream, freeing the backlog, min-replicas-to-write, WAIT).
//! - `Server::set_propagation(..)` keeps propagation on while a backlog
//!   exists, so the stream is produced even with the AOF off.
//!
//! The primary side (PSYNC/SYNC, REPLCONF, WAIT, the replicas' states,
//! timeouts and pings) is in `master.rs`.

pub mod backlog;
pub mod failover;
pub mod master;
pub mod replica;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use crate::config::D;
use crate::server::{Client, Server};
use backlog::Backlog;

/// A 40-character id of random hex digits (run ids, replication ids).
pub fn random_hex(n: usize) -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    (0..n)
        .map(|_| std::char::from_digit(r.gen_range(0..16), 16).unwrap_or('0'))
        .collect()
}

pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// Where an attached replica is in its synchronisation, as INFO names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaState {
    /// Waiting for the snapshot to start (diskless sync delay).
    WaitBgsave,
    /// The snapshot is being taken (`master::SyncSnapshot`); the stream
    /// since its start waits in `held`.
    WaitBgsaveEnd,
    /// The RDB transfer is being written.
    SendBulk,
    /// Receiving the live stream.
    Online,
}

impl ReplicaState {
    pub fn name(self) -> &'static str {
        match self {
            ReplicaState::WaitBgsave | ReplicaState::WaitBgsaveEnd => "wait_bgsave",
            ReplicaState::SendBulk => "send_bulk",
            ReplicaState::Online => "online",
        }
    }
}

/// What a connection said about itself with REPLCONF before PSYNC.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    pub listening_port: u16,
    pub ip: Option<String>,
    /// Understands the diskless `$EOF:<mark>` transfer format.
    pub capa_eof: bool,
    /// Understands `+CONTINUE <new replid>`.
    pub capa_psync2: bool,
}

/// A replica attached to this server.
pub struct Replica {
    pub client: Rc<Client>,
    pub state: ReplicaState,
    pub hs: Handshake,
    /// The offset it last acknowledged (REPLCONF ACK), and when.
    pub ack_off: i64,
    pub ack_time: Instant,
    /// The offset it last reported fsynced to its AOF (REPLCONF ACK ...
    /// FACK, Redis 7.2; replicas without AOF or older ones send none).
    pub fack_off: i64,
    /// Attached with SYNC: sends no ACKs, so no timeout applies.
    pub old_sync: bool,
    /// Since when it waits (WaitBgsave).
    pub since: Instant,
    /// Bytes of RDB transfer at the head of the client's pending output;
    /// they do not count against the replica output limit (the stream
    /// that piles up behind them does).
    pub bulk_len: usize,
    /// Bytes its connection task is writing now.
    pub in_flight: usize,
    /// After a `$EOF:<mark>` transfer the stream waits here until the
    /// replica's first ACK: a replica detects the end of such a transfer
    /// by the mark being the last bytes it read, so nothing may follow
    /// before it has finished (Redis waits for that ACK too).
    pub held: Option<Vec<u8>>,
    /// Since when `held` (with any stream queued behind the transfer) is
    /// over the replica class's soft output limit. Not the client's own
    /// clock: the keep-alive newlines its connection task writes reset that.
    pub held_soft_since: Cell<Option<Instant>>,
}

impl Replica {
    /// The address INFO and ROLE show: what it announced, else its peer IP.
    pub fn ip(&self) -> String {
        if let Some(ip) = &self.hs.ip {
            return ip.clone();
        }
        let a = &self.client.addr;
        let host = a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h);
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string()
    }

    pub fn lag_secs(&self) -> u64 {
        self.ack_time.elapsed().as_secs()
    }
}

/// A client blocked in WAIT.
pub struct Waiter {
    pub client: u64,
    pub offset: i64,
    pub numreplicas: usize,
}

#[derive(Default, Debug, Clone, Copy)]
pub struct SyncStats {
    pub full: u64,
    pub partial_ok: u64,
    pub partial_err: u64,
}

pub struct ReplState {
    pub replid: String,
    /// The previous id (PSYNC2) and the first offset it is no longer valid
    /// for; NO_REPLID and -1 when there is none.
    pub replid2: String,
    pub second_replid_offset: i64,
    pub master_repl_offset: i64,
    pub backlog: Option<Backlog>,
    pub replicas: Vec<Replica>,
    /// REPLCONF settings of connections that have not asked to sync yet.
    pub handshakes: hashbrown::HashMap<u64, Handshake>,
    /// The database the stream's last SELECT chose; None forces a SELECT
    /// before the next command (after a full sync starts).
    pub sel_db: Option<usize>,
    /// Since when no replica is attached (for repl-backlog-ttl).
    pub no_replicas_since: Instant,
    pub waiters: Vec<Waiter>,
    pub aof_waiters: Vec<crate::commands::waitaof::Waiter>,
    /// Offset right after the last GETACK sent, so WAITs in a row send one.
    pub getack_at: i64,
    pub stats: SyncStats,
    pub last_cron: Instant,
    pub last_ping: Instant,
    /// The replica side (REPLICAOF); its `master` is None on a primary.
    pub link: replica::Link,
    /// FAILOVER's progress.
    pub failover: failover::Failover,
    /// Encoding scratch for `repl_feed`.
    scratch: Vec<u8>,
    /// The full sync snapshot being taken.
    pub sync: Option<master::SyncSnapshot>,
}

impl Default for ReplState {
    fn default() -> Self {
        let now = Instant::now();
        ReplState {
            replid: random_hex(40),
            replid2: NO_REPLID.into(),
            second_replid_offset: -1,
            master_repl_offset: 0,
            backlog: None,
            replicas: Vec::new(),
            handshakes: Default::default(),
            sel_db: None,
            no_replicas_since: now,
            waiters: Vec::new(),
            aof_waiters: Vec::new(),
            getack_at: -1,
            stats: SyncStats::default(),
            last_cron: now,
            last_ping: now,
            link: Default::default(),
            failover: Default::default(),
            scratch: Vec::new(),
            sync: None,
        }
    }
}

impl ReplState {
    /// Promotion (REPLICAOF NO ONE): the old id stays valid as replid2 up
    /// to the current offset, so replicas of the old primary can continue
    /// with PSYNC; a new history starts under a fresh id.
    pub fn shift_replid(&mut self) {
        self.replid2 = std::mem::replace(&mut self.replid, random_hex(40));
        self.second_replid_offset = self.master_repl_offset + 1;
        tracing::info!(
            "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
            self.replid2,
            self.second_replid_offset,
            self.replid
        );
    }

    /// A new history that no earlier offset belongs to.
    pub fn change_replid(&mut self) {
        self.replid = random_hex(40);
        self.replid2 = NO_REPLID.into();
        self.second_replid_offset = -1;
    }

    /// Adopts the primary's id and offset (after +FULLRESYNC / +CONTINUE
    /// on a replica); the backlog restarts at that offset.
    pub fn set_replid(&mut self, id: &str, offset: i64) {
        self.replid = id.to_string();
        self.master_repl_offset = offset;
        if let Some(b) = self.backlog.as_mut() {
            *b = Backlog::new(b.size(), offset);
        }
    }

    /// Replicas that count for min-replicas-to-write: online and acked
    /// within `max_lag` seconds.
    pub fn good_replicas(&self, max_lag: u64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.lag_secs() <= max_lag)
            .count()
    }

    pub fn replica_mut(&mut self, client: u64) -> Option<&mut Replica> {
        self.replicas.iter_mut().find(|r| r.client.id == client)
    }

    /// Online replicas that acknowledged `offset`.
    pub fn acked(&self, offset: i64) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.state == ReplicaState::Online && r.ack_off >= offset)
            .count()
    }
}

/// Appends `argv` as a RESP multibulk.
pub fn encode(out: &mut Vec<u8>, argv: &[Bytes]) {
    crate::persist::aof::argv::encode(out, argv)
}

impl Server {
    /// Whether propagated commands must be turned into stream.
    pub fn repl_active(&self) -> bool {
        self.repl.backlog.is_some()
    }

    /// Appends one propagated command (run in database `db`) to the
    /// stream: backlog and every replica that has its snapshot.
    pub fn repl_feed(&mut self, db: usize, argv: &[Bytes]) {
        if !self.repl_active() {
            // As in Redis 7.2, the offset counts writes without replicas
            // too while the AOF is on: WAITAOF compares it with what was
            // fsynced.
            if self.aof.on {
                self.repl.master_repl_offset += 1;
            }
            return;
        }
        let mut buf = std::mem::take(&mut self.repl.scratch);
        buf.clear();
        if self.repl.sel_db != Some(db) {
            encode(
                &mut buf,
                &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
            );
            self.repl.sel_db = Some(db);
        }
        encode(&mut buf, argv);
        self.repl_feed_raw(&buf);
        self.repl.scratch = buf;
    }

    /// Appends bytes that already are replication stream (see module docs).
    pub fn repl_feed_raw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let Some(b) = self.repl.backlog.as_mut() else {
            return;
        };
        b.append(bytes);
        self.repl.master_repl_offset += bytes.len() as i64;
        let limit = self.out_limits.replica;
        for r in &mut self.repl.replicas {
            match (r.state, r.held.as_mut()) {
                (ReplicaState::WaitBgsave, _) => {}
                (_, Some(_)) => hold(r, bytes, limit),
                (_, None) => deliver(r, bytes, limit),
            }
        }
    }

    /// Starts the backlog (the first replica attaches, or this server
    /// starts replicating); propagation runs from now on.
    pub fn repl_create_backlog(&mut self) {
        if self.repl.backlog.is_none() {
            let size = self.cfg.int(D::REPL_BACKLOG_SIZE).max(0) as usize;
            self.repl.backlog = Some(Backlog::new(size, self.repl.master_repl_offset));
            self.repl.sel_db = None;
            let aof = self.aof.on;
            self.set_propagation(aof);
        }
    }

    pub fn repl_free_backlog(&mut self) {
        self.repl.backlog = None;
        let aof = self.aof.on;
        self.set_propagation(aof);
    }

    /// Drops every attached replica (this server is becoming a replica).
    pub fn repl_disconnect_replicas(&mut self) {
        for r in self.repl.replicas.drain(..) {
            r.client.kill();
        }
    }

    /// RDB aux fields that let a replica (or this server after a restart)
    /// continue the stream: saved whenever a backlog exists.
    pub fn repl_aux(&self) -> Vec<(&'static str, String)> {
        if self.repl.backlog.is_none() {
            return Vec::new();
        }
        vec![
            ("repl-stream-db", self.replica_stream_db().or(self.repl.sel_db).unwrap_or(0).to_string()),
            ("repl-id", self.repl.replid.clone()),
            ("repl-offset", self.repl.master_repl_offset.to_string()),
        ]
    }

    /// INFO replication.
    pub fn repl_info(&self, o: &mut String) {
        use std::fmt::Write as _;
        let r = &self.repl;
        if self.is_replica() {
            replica::info(self, o);
        } else {
            o.push_str("role:master\r\n");
        }
        let _ = write!(o, "connected_slaves:{}\r\n", r.replicas.len());
        for (i, s) in r.replicas.iter().enumerate() {
            let _ = write!(
                o,
                "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
                s.ip(),
                s.hs.listening_port,
                s.state.name(),
                s.ack_off,
                s.lag_secs()
            );
        }
        let b = r.backlog.as_ref();
        let _ = write!(
            o,
            "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
            self.failover_state_name(),
            r.replid,
            r.replid2,
            r.master_repl_offset,
            r.second_replid_offset,
            b.is_some() as u8,
            self.cfg.int(D::REPL_BACKLOG_SIZE),
            b.map_or(0, |b| b.first()),
            b.map_or(0, |b| b.histlen),
        );
    }
}

/// Appends stream to a replica's output, or disconnects it when that
/// breaks the replica output limit.
/// Adds stream to what a replica holds during its full sync. It counts
/// against the replica output limit, as in Redis, where such a replica
/// references the shared replication buffer from where its sync started.
fn hold(r: &mut Replica, bytes: &[u8], limit: crate::server::outlimit::Limit) {
    let c = &r.client;
    let Some(held) = r.held.as_mut() else {
        return;
    };
    if c.close_asap.get() {
        return;
    }
    held.extend_from_slice(bytes);
    if held_over_limit(r, limit) {
        crate::server::outlimit::close(c);
    }
}

/// From the cron: a replica whose held stream stopped growing still goes
/// once it has been over the soft limit for the soft seconds (Redis checks
/// every client's limits from its cron too, and says so differently).
pub(crate) fn check_held(r: &Replica, limit: crate::server::outlimit::Limit) {
    let c = &r.client;
    if !c.close_asap.get() && held_over_limit(r, limit) {
        tracing::warn!(
            "Client {} closed for overcoming of output buffer limits.",
            c.info_line()
        );
        c.pending.borrow_mut().clear();
        c.kill();
    }
}

fn held_over_limit(r: &Replica, limit: crate::server::outlimit::Limit) -> bool {
    let held = r.held.as_ref().map_or(0, |h| h.len());
    let len = held + r.client.pending.borrow().len().saturating_sub(r.bulk_len);
    len >= limit.floor() && limit.exceeded_since(&r.held_soft_since, len)
}

pub(crate) fn deliver(r: &mut Replica, bytes: &[u8], limit: crate::server::outlimit::Limit) {
    let c = &r.client;
    if c.close_asap.get() {
        return;
    }
    let len = {
        let mut p = c.pending.borrow_mut();
        p.extend_from_slice(bytes);
        p.len() - r.bulk_len.min(p.len())
    };
    if len >= limit.floor() && limit.exceeded(c, len) {
        crate::server::outlimit::close(c);
    } else {
        c.wake.notify_one();
    }
}
