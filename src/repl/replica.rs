//! The replica side of replication: REPLICAOF, the link to the primary and
//! everything a replica does differently from a primary.
//!
//! One supervisor task (`run`) owns the link. REPLICAOF changes
//! `Replica::master` and bumps `generation`; the supervisor drops the link
//! it was running (no borrow of the server is ever held across an await,
//! so dropping it anywhere is safe) and starts one to the new primary.
//!
//! A link goes: connect, handshake (PING, AUTH, REPLCONF listening-port /
//! ip-address / capa, PSYNC), then either +FULLRESYNC (read the RDB, in
//! the `$<len>` or the diskless `$EOF:<mark>` form, load it into a fresh
//! keyspace and swap it in) or +CONTINUE, then the command stream. The
//! stream runs on the executor as the master client (client id 0: no
//! replies, no ACL, no READONLY or OOM refusals), and what was applied is
//! passed on verbatim to this server's backlog and sub-replicas at each
//! transaction boundary, so that offsets agree along a chain. Any error
//! ends the link with a log line; the supervisor retries after a second,
//! with a partial resync from the applied offset.
//!
//! Offsets: `read_reploff` counts every byte read from the stream,
//! `reploff` the bytes applied (never inside a MULTI the master has not
//! finished, so a reconnect re-fetches a whole transaction).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use crate::config::D;
use crate::resp::parse::{parse_request, Limits, Parsed};
use crate::resp::Out;
use crate::server::{exec, now_ms, Client, Server};

/// Where the link to the primary is (Redis's repl_state, simplified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting to (re)connect.
    Connect,
    Connecting,
    /// PING ... PSYNC.
    Handshake,
    /// Receiving the RDB of a full resync.
    Transfer,
    Connected,
}

/// A primary's RDB transfer under way, for INFO.
#[derive(Debug, Clone, Copy, Default)]
pub struct Transfer {
    /// -1 for the diskless EOF-marked form, whose size is unknown.
    pub total: i64,
    pub read: i64,
    pub last_io: Option<Instant>,
}

pub struct Link {
    /// REPLICAOF host port; None on a primary.
    pub master: Option<(String, u16)>,
    pub state: LinkState,
    /// Bumped by every REPLICAOF, so a running link knows it is obsolete.
    pub generation: u64,
    pub changed: Rc<Notify>,
    /// The master client: kept across reconnections (its selected
    /// database must survive a partial resync), replaced by a full one.
    pub master_client: Option<Rc<Client>>,
    /// The replication id and offset of the stream we hold (PSYNC asks to
    /// continue it); None: nothing to continue, ask for a full resync.
    pub cached: Option<(String, i64)>,
    pub reploff: i64,
    pub read_reploff: i64,
    pub last_io: Instant,
    pub down_since: Option<Instant>,
    pub transfer: Option<Transfer>,
    /// The database of the stream, restored from an RDB at start-up.
    pub stream_db: usize,
    pub full_syncs: u64,
    pub partial_syncs: u64,
    /// repl-id, repl-offset and repl-stream-db of the RDB loaded at start.
    pub from_rdb: Option<(String, i64, usize)>,
    /// Bytes of RDB transfers and stream read from primaries
    /// (total_net_repl_input_bytes).
    pub net_in: u64,
    /// Keys with a TTL that this replica's own clients wrote (replica-read-only no).
    pub own_expires: hashbrown::HashSet<(usize, Vec<u8>)>,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            master: None,
            state: LinkState::Connect,
            generation: 0,
            changed: Rc::new(Notify::new()),
            master_client: None,
            cached: None,
            reploff: 0,
            read_reploff: 0,
            last_io: Instant::now(),
            down_since: None,
            transfer: None,
            stream_db: 0,
            full_syncs: 0,
            partial_syncs: 0,
            from_rdb: None,
            net_in: 0,
            own_expires: Default::default(),
        }
    }
}

pub const READONLY: &str = "READONLY You can't write against a read only replica.";
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// The master client: id 0, like the AOF loader's, which exempts it from
/// ACL, READONLY, OOM and MISCONF refusals.
fn new_master_client(db: usize) -> Rc<Client> {
    let c = Rc::new(Client::new(0, "master".into(), String::new(), -1, false));
    c.authenticated.set(true);
    c.db.set(db);
    c
}

impl Server {
    pub fn is_replica(&self) -> bool {
        self.repl.link.master.is_some()
    }

    /// master_link_status:up
    pub fn master_link_up(&self) -> bool {
        self.is_replica() && self.repl.link.state == LinkState::Connected
    }

    /// Why a command from a normal client is refused on a replica, if it is:
    /// writes on a read-only replica, and everything but STALE commands
    /// while the link is down and replica-serve-stale-data is off.
    pub fn replica_refuses(&self, client: &Client, flags: u32) -> Option<&'static str> {
        if client.internal() || !self.is_replica() {
            return None;
        }
        if flags & crate::commands::WRITE != 0 && self.cfg.bool(D::REPLICA_READ_ONLY) {
            return Some(READONLY);
        }
        if flags & crate::commands::STALE == 0
            && !self.master_link_up()
            && !self.cfg.bool(D::REPLICA_SERVE_STALE_DATA)
        {
            return Some(MASTERDOWN);
        }
        None
    }

    /// REPLICAOF host port. Returns false if already replicating from it.
    pub fn replicaof(&mut self, host: String, port: u16, by: &str) -> bool {
        if self.repl.link.master.as_ref() == Some(&(host.clone(), port)) {
            return false;
        }
        tracing::info!("REPLICAOF {host}:{port} enabled (user request from '{by}')");
        self.set_master(host, port);
        true
    }

    /// Starts following `host:port` (REPLICAOF, or a failover's handoff).
    pub fn set_master(&mut self, host: String, port: u16) {
        let was_master = !self.is_replica();
        if was_master {
            // Our own history is what we ask the new primary to continue.
            let (replid, off) = self.repl_id_offset();
            self.repl.link.cached = Some((replid, off));
            self.repl.link.reploff = off;
            self.repl.link.read_reploff = off;
            self.repl.link.master_client = Some(new_master_client(0));
        } else {
            self.replica_link_lost();
        }
        crate::db::set_expiry_mode(crate::db::ExpiryMode::Hide);
        self.unblock_all_for_role_change();
        self.repl_disconnect_replicas();
        self.cfg.set_index(
            D::REPLICAOF as usize,
            crate::config::Val::Str(format!("{host} {port}")),
        );
        self.repl.link.master = Some((host, port));
        self.repl.link.state = LinkState::Connect;
        self.repl.link.down_since.get_or_insert_with(Instant::now);
        self.repl.link.generation += 1;
        self.repl.link.changed.notify_one();
    }

    /// REPLICAOF NO ONE: become a primary, keeping the data; the stream's
    /// id becomes the secondary one, so replicas of the old primary can
    /// continue with us.
    pub fn replicaof_no_one(&mut self, by: &str) {
        self.replicaof_no_one_by(by, "user request");
    }

    /// REPLICAOF NO ONE, logged as done for `why` by client `by`.
    pub fn replicaof_no_one_by(&mut self, by: &str, why: &str) {
        if !self.is_replica() {
            return;
        }
        self.replica_link_lost();
        self.repl.link.master = None;
        self.repl.link.master_client = None;
        self.repl.link.cached = None;
        self.repl.link.transfer = None;
        self.repl.link.down_since = None;
        self.repl.link.generation += 1;
        self.repl.link.changed.notify_one();
        self.cfg.set_index(
            D::REPLICAOF as usize,
            crate::config::Val::Str(String::new()),
        );
        crate::db::set_expiry_mode(crate::db::ExpiryMode::Normal);
        self.repl_promote();
        tracing::info!("MASTER MODE enabled ({why} from '{by}')");
    }

    /// The link ended (error, REPLICAOF, shutdown): remember what to ask
    /// the next primary to continue.
    fn replica_link_lost(&mut self) {
        let replid = self.repl_id_offset().0;
        if let Some(c) = self
            .repl
            .link
            .master_client
            .as_ref()
            .filter(|c| c.master.get())
        {
            self.clients.remove(&c.id);
        }
        let r = &mut self.repl.link;
        if r.state == LinkState::Connected {
            tracing::info!("Connection with master lost.");
            tracing::info!("* Caching the disconnected master state.");
            r.down_since = Some(Instant::now());
        }
        if let Some(c) = &r.master_client {
            // A transaction the primary had not finished is sent again.
            *c.multi.borrow_mut() = None;
            c.multi_error.set(false);
            r.read_reploff = r.reploff;
            r.cached = Some((replid, r.reploff));
        }
        r.state = LinkState::Connect;
        r.transfer = None;
    }

    /// At start-up: `replicaof` from the configuration, and the stream an
    /// RDB saved by a replica says it holds.
    pub fn replica_init(&mut self) {
        let rdb_repl = self.repl.link.from_rdb.take();
        let conf = self.cfg.str(D::REPLICAOF).to_string();
        let mut it = conf.split_whitespace();
        let (Some(host), Some(port)) = (it.next(), it.next().and_then(|p| p.parse::<u16>().ok()))
        else {
            return;
        };
        self.repl.link.master = Some((host.to_string(), port));
        self.repl.link.down_since = Some(Instant::now());
        crate::db::set_expiry_mode(crate::db::ExpiryMode::Hide);
        if let Some((replid, off, db)) = rdb_repl {
            tracing::info!(
                "Restoring replication state from the RDB: replid {replid}, offset {off}"
            );
            self.repl_set_stream(&replid, off);
            self.repl.link.cached = Some((replid, off));
            self.repl.link.reploff = off;
            self.repl.link.read_reploff = off;
            self.repl.link.master_client = Some(new_master_client(db));
        }
    }

    pub fn replica_note_rdb_aux(&mut self, aux: &[(Vec<u8>, Vec<u8>)]) {
        let get = |k: &[u8]| {
            aux.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        let (Some(id), Some(off)) = (
            get(b"repl-id"),
            get(b"repl-offset").and_then(|o| o.parse().ok()),
        ) else {
            return;
        };
        let db = get(b"repl-stream-db")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0);
        if id.len() == 40 {
            self.repl.link.from_rdb = Some((id, off, db));
        }
    }

    /// The database the primary's stream is in, for the RDB's
    /// repl-stream-db (the stream may not repeat its SELECT after a
    /// restart).
    pub fn replica_stream_db(&self) -> Option<usize> {
        let c = self.repl.link.master_client.as_ref()?;
        self.is_replica().then(|| c.db.get())
    }

    /// The slave-specific lines of INFO replication (after role:slave).
    pub fn replica_info(&self, o: &mut String) {
        use std::fmt::Write;
        let r = &self.repl.link;
        let Some((host, port)) = &r.master else {
            return;
        };
        let up = self.master_link_up();
        let _ = writeln!(o, "master_host:{host}\r");
        let _ = writeln!(o, "master_port:{port}\r");
        let _ = writeln!(o, "master_link_status:{}\r", if up { "up" } else { "down" });
        let io = if up {
            r.last_io.elapsed().as_secs() as i64
        } else {
            -1
        };
        let _ = writeln!(o, "master_last_io_seconds_ago:{io}\r");
        let _ = writeln!(
            o,
            "master_sync_in_progress:{}\r",
            (r.state == LinkState::Transfer) as u8
        );
        let _ = writeln!(o, "slave_read_repl_offset:{}\r", r.read_reploff);
        let _ = writeln!(o, "slave_repl_offset:{}\r", r.reploff);
        if let (LinkState::Transfer, Some(t)) = (r.state, r.transfer) {
            let _ = writeln!(o, "master_sync_total_bytes:{}\r", t.total);
            let _ = writeln!(o, "master_sync_read_bytes:{}\r", t.read);
            let left = if t.total >= 0 { t.total - t.read } else { -1 };
            let _ = writeln!(o, "master_sync_left_bytes:{left}\r");
            let perc = if t.total > 0 {
                t.read as f64 * 100.0 / t.total as f64
            } else {
                0.0
            };
            let _ = writeln!(o, "master_sync_perc:{perc:.2}\r");
            let ago = t.last_io.map_or(0, |i| i.elapsed().as_secs());
            let _ = writeln!(o, "master_sync_last_io_seconds_ago:{ago}\r");
        }
        if !up {
            let since = r.down_since.map_or(-1, |t| t.elapsed().as_secs() as i64);
            let _ = writeln!(o, "master_link_down_since_seconds:{since}\r");
        }
        let _ = writeln!(o, "slave_priority:{}\r", self.cfg.int(D::REPLICA_PRIORITY));
        let _ = writeln!(
            o,
            "slave_read_only:{}\r",
            self.cfg.bool(D::REPLICA_READ_ONLY) as u8
        );
        let _ = writeln!(
            o,
            "replica_announced:{}\r",
            self.cfg.bool(D::REPLICA_ANNOUNCED) as u8
        );
    }

    /// ROLE of a replica: slave, host, port, state, offset.
    pub fn replica_role(&self, out: &mut Out) -> bool {
        let Some((host, port)) = &self.repl.link.master else {
            return false;
        };
        out.array(5);
        out.bulk(b"slave");
        out.bulk(host.as_bytes());
        out.int(*port as i64);
        out.bulk(match self.repl.link.state {
            LinkState::Connect => b"connect".as_slice(),
            LinkState::Connecting => b"connecting",
            LinkState::Handshake => b"handshake",
            LinkState::Transfer => b"sync",
            LinkState::Connected => b"connected",
        });
        let off = if self.repl.link.state == LinkState::Connected {
            self.repl.link.reploff
        } else {
            -1
        };
        out.int(off);
        true
    }

    /// The link is up: its master client (kept for its database across a
    /// partial resync) becomes a listed client of its own, as in Redis's
    /// CLIENT LIST (flags=M, type master), that CLIENT KILL can close.
    fn attach_master_client(&mut self, addr: &str, laddr: &str, fd: i32) -> Rc<Client> {
        let prev = self.repl.link.master_client.as_ref();
        let db = prev.map_or(0, |c| c.db.get());
        // A partial resync continues the same master client (same id, as
        // Redis resurrects its cached master); a full one starts anew.
        let (id, last_cmd) = match prev.filter(|c| c.master.get()) {
            Some(c) => (c.id, c.last_cmd.get()),
            None => {
                self.next_client_id += 1;
                (self.next_client_id - 1, "NULL")
            }
        };
        let c = Rc::new(Client::new(id, addr.into(), laddr.into(), fd, false));
        c.authenticated.set(true);
        c.master.set(true);
        c.db.set(db);
        c.last_cmd.set(last_cmd);
        self.clients.insert(id, c.clone());
        self.repl.link.master_client = Some(c.clone());
        c
    }

    /// A client of a writable replica wrote: keys it left with a TTL are
    /// this replica's to expire, as Redis 7 tracks them apart. Keys from
    /// the primary still only go with the primary's DELs.
    pub fn replica_note_write(
        &mut self,
        client: &Client,
        cmd: &crate::commands::Command,
        args: &[Bytes],
    ) {
        let db = client.db.get();
        for p in cmd.keys_in(args) {
            self.replica_note_key(db, &args[p]);
        }
        // MOVE and COPY ... DB take the TTL to another database.
        let to_db = match cmd.name {
            "move" => args.get(2).map(|d| (d, 1)),
            "copy" => args
                .iter()
                .skip(3)
                .position(|a| a.eq_ignore_ascii_case(b"db"))
                .and_then(|i| args.get(i + 4))
                .map(|d| (d, 2)),
            _ => None,
        };
        if let Some((d, key)) = to_db {
            if let Some(d) = crate::util::num::parse_i64(d).and_then(|d| usize::try_from(d).ok()) {
                self.replica_note_key(d, &args[key]);
            }
        }
    }

    fn replica_note_key(&mut self, db: usize, key: &[u8]) {
        if self
            .ks
            .dbs
            .get(db)
            .is_some_and(|d| d.expire_at(key).is_some())
        {
            self.repl.link.own_expires.insert((db, key.to_vec()));
        }
    }

    /// From the cron: deletes the replica's own keys whose time has come
    /// (and forgets those that lost their TTL or their key).
    pub fn replica_expire_own_keys(&mut self) {
        if self.repl.link.own_expires.is_empty() {
            return;
        }
        if !self.is_replica() {
            // A primary expires everything itself.
            self.repl.link.own_expires.clear();
            return;
        }
        if self.writes_paused() {
            return;
        }
        let now = now_ms();
        let mode = crate::db::expiry_mode();
        crate::db::set_expiry_mode(crate::db::ExpiryMode::Normal);
        let mut deleted = false;
        let dbs = &mut self.ks.dbs;
        self.repl.link.own_expires.retain(|(db, key)| {
            let Some(d) = dbs.get_mut(*db) else {
                return false;
            };
            match d.expire_at(key) {
                Some(at) if at <= now => {
                    deleted |= d.expire_if_needed(key, now);
                    false
                }
                Some(_) => true,
                None => false,
            }
        });
        crate::db::set_expiry_mode(mode);
        if deleted {
            self.queue_deleted();
            self.flush_propagated();
            self.publish_logged_key_events();
        }
    }

    /// Clients blocked in BLPOP & co. are told the role changed, as Redis
    /// does (a replica's lists only change through its primary).
    fn unblock_all_for_role_change(&mut self) {
        let ids: Vec<u64> = self
            .clients
            .values()
            .filter(|c| c.blocked.borrow().is_some())
            .map(|c| c.id)
            .collect();
        for id in ids {
            if let Some(c) = self.clients.get(&id).cloned() {
                self.unblock(&c);
                let mut reply = Out::new(c.resp.get() == 3);
                reply.error("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)");
                c.pending.borrow_mut().extend_from_slice(&reply.buf);
                c.wake.notify_one();
            }
        }
    }
}

/// Start-up: the task that keeps the link to the primary, for the whole
/// life of the server.
pub async fn run(srv: Rc<RefCell<Server>>) {
    let changed = srv.borrow().repl.link.changed.clone();
    loop {
        let (gen, master) = {
            let s = srv.borrow();
            (s.repl.link.generation, s.repl.link.master.clone())
        };
        let Some((host, port)) = master else {
            changed.notified().await;
            continue;
        };
        let attempts = async {
            loop {
                let res = link(&srv, &host, port).await;
                {
                    let mut s = srv.borrow_mut();
                    if s.repl.link.generation != gen {
                        return;
                    }
                    if let Err(e) = res {
                        tracing::warn!("{e}");
                        // The handoff failed: back to being a primary.
                        if s.failover_handing_off() {
                            s.failover_abort(&e);
                            return;
                        }
                    }
                    s.replica_link_lost();
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        };
        tokio::select! {
            _ = attempts => {}
            _ = async {
                loop {
                    changed.notified().await;
                    if srv.borrow().repl.link.generation != gen {
                        break;
                    }
                }
            } => {}
        }
    }
}

/// The primary's connection: TCP or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Stream for T {}

struct Conn {
    s: Box<dyn Stream>,
    buf: BytesMut,
    timeout: Duration,
}

impl Conn {
    async fn fill(&mut self) -> Result<usize, String> {
        if self.buf.capacity() - self.buf.len() < 8192 {
            self.buf.reserve(64 * 1024);
        }
        match tokio::time::timeout(self.timeout, self.s.read_buf(&mut self.buf)).await {
            Err(_) => Err("Timeout receiving from MASTER...".into()),
            Ok(Err(e)) => Err(format!("Error condition on socket for SYNC: {e}")),
            Ok(Ok(0)) => Err("Error condition on socket for SYNC: Connection lost".into()),
            Ok(Ok(n)) => Ok(n),
        }
    }

    /// One reply line, without its CRLF.
    async fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                let l = self.buf.split_to(i + 1);
                let t = l.strip_suffix(b"\r\n").unwrap_or(&l[..i]);
                return Ok(String::from_utf8_lossy(t).into_owned());
            }
            if self.buf.len() > 64 * 1024 {
                return Err("Protocol error: too long reply line from MASTER".into());
            }
            self.fill().await?;
        }
    }

    async fn send(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let mut v = Vec::new();
        let argv: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        crate::persist::aof::argv::encode(&mut v, &argv);
        match tokio::time::timeout(self.timeout, self.s.write_all(&v)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("Error writing to MASTER: {e}")),
            Err(_) => Err("Timeout writing to MASTER".into()),
        }
    }

    /// Sends a command and returns its reply line.
    async fn call(&mut self, args: &[&[u8]]) -> Result<String, String> {
        self.send(args).await?;
        self.line().await
    }
}

/// What the handshake needs from the configuration.
struct LinkCfg {
    timeout: Duration,
    user: String,
    pass: String,
    port: i64,
    ip: String,
    tls: bool,
    disk_load: bool,
}

fn link_cfg(s: &Server) -> LinkCfg {
    let tls = s.cfg.bool(D::TLS_REPLICATION);
    let own_port = if tls {
        s.cfg.int(D::TLS_PORT)
    } else {
        s.cfg.int(D::PORT)
    };
    let announce = s.cfg.int(D::REPLICA_ANNOUNCE_PORT);
    LinkCfg {
        timeout: Duration::from_secs(s.cfg.int(D::REPL_TIMEOUT).max(1) as u64),
        user: s.cfg.str(D::MASTERUSER).to_string(),
        pass: s.cfg.str(D::MASTERAUTH).to_string(),
        port: if announce != 0 { announce } else { own_port },
        ip: s.cfg.str(D::REPLICA_ANNOUNCE_IP).to_string(),
        tls,
        disk_load: s.cfg.str(D::REPL_DISKLESS_LOAD) == "disabled",
    }
}

/// The link's socket, as CLIENT LIST shows the master client.
struct Peer {
    addr: String,
    laddr: String,
    fd: i32,
}

async fn connect(
    srv: &Rc<RefCell<Server>>,
    host: &str,
    port: u16,
    lc: &LinkCfg,
) -> Result<(Box<dyn Stream>, Peer), String> {
    let tcp = tokio::time::timeout(lc.timeout, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let peer = Peer {
        addr: tcp
            .peer_addr()
            .map_or_else(|_| format!("{host}:{port}"), |a| a.to_string()),
        laddr: tcp.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        fd: std::os::fd::AsRawFd::as_raw_fd(&tcp),
    };
    if !lc.tls {
        return Ok((Box::new(tcp), peer));
    }
    let config = {
        let s = srv.borrow();
        crate::net::tls::client_config(&s.cfg)?
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("Invalid MASTER host name {host}: {e}"))?;
    let conn = tokio_rustls::TlsConnector::from(config);
    let tls = tokio::time::timeout(lc.timeout, conn.connect(name, tcp))
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| format!("Failed to connect to MASTER over TLS: {e}"))?;
    Ok((Box::new(tls), peer))
}

/// One life of the link: connect, sync, stream until an error.
async fn link(srv: &Rc<RefCell<Server>>, host: &str, port: u16) -> Result<(), String> {
    let lc = {
        let mut s = srv.borrow_mut();
        s.repl.link.state = LinkState::Connecting;
        link_cfg(&s)
    };
    tracing::info!("Connecting to MASTER {host}:{port}");
    let (io, peer) = connect(srv, host, port, &lc).await?;
    tracing::info!("MASTER <-> REPLICA sync started");
    let mut c = Conn {
        s: io,
        buf: BytesMut::with_capacity(64 * 1024),
        timeout: lc.timeout,
    };
    srv.borrow_mut().repl.link.state = LinkState::Handshake;
    let pong = c.call(&[b"PING"]).await?;
    // Without AUTH yet, a protected primary answers NOAUTH: that is fine.
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    tracing::info!("Master replied to PING, replication can continue...");
    if !lc.pass.is_empty() {
        let r = if lc.user.is_empty() {
            c.call(&[b"AUTH", lc.pass.as_bytes()]).await?
        } else {
            c.call(&[b"AUTH", lc.user.as_bytes(), lc.pass.as_bytes()])
                .await?
        };
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let r = c
        .call(&[
            b"REPLCONF",
            b"listening-port",
            lc.port.to_string().as_bytes(),
        ])
        .await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    if !lc.ip.is_empty() {
        let r = c
            .call(&[b"REPLCONF", b"ip-address", lc.ip.as_bytes()])
            .await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    let r = c
        .call(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    let (cached, failover) = {
        let s = srv.borrow();
        (s.repl.link.cached.clone(), s.failover_handing_off())
    };
    let mut reply = match &cached {
        Some((id, off)) => {
            tracing::info!(
                "Trying a partial resynchronization (request {id}:{}).",
                off + 1
            );
            let off = (off + 1).to_string();
            let mut args: Vec<&[u8]> = vec![b"PSYNC", id.as_bytes(), off.as_bytes()];
            if failover {
                args.push(b"FAILOVER");
            }
            c.call(&args).await?
        }
        None => {
            tracing::info!("Partial resynchronization not possible (no cached master)");
            c.call(&[b"PSYNC", b"?", b"-1"]).await?
        }
    };
    // Newlines keep the link alive while the primary prepares its reply.
    while reply.is_empty() {
        srv.borrow_mut().repl.link.last_io = Instant::now();
        reply = c.line().await?;
    }
    if failover {
        if reply.starts_with('-') {
            return Err(format!("Failover target rejected psync request: {reply}"));
        }
        srv.borrow_mut().failover_done();
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let (Some(id), Some(off)) = (it.next(), it.next().and_then(|o| o.parse::<i64>().ok()))
        else {
            return Err(format!("Bad +FULLRESYNC reply from master: '{reply}'"));
        };
        tracing::info!("Full resync from master: {id}:{off}");
        full_sync(srv, &mut c, &lc, id, off).await?;
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        tracing::info!("Successful partial resynchronization with master.");
        let mut s = srv.borrow_mut();
        let Some((old, off)) = cached else {
            return Err("Unexpected +CONTINUE from master".into());
        };
        let new = rest.trim();
        if !new.is_empty() && new != old {
            tracing::info!("Master replication ID changed to {new}");
            s.repl_new_master_id(new, off);
            s.repl.link.cached = Some((new.to_string(), off));
        }
        s.repl.link.partial_syncs += 1;
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
        return Err(format!(
            "Master is currently unable to PSYNC but should be in the future: {reply}"
        ));
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    let master = {
        let mut s = srv.borrow_mut();
        s.repl.link.state = LinkState::Connected;
        s.repl.link.down_since = None;
        s.repl.link.last_io = Instant::now();
        s.attach_master_client(&peer.addr, &peer.laddr, peer.fd)
    };
    let _listed = Listed(srv.clone(), master.id);
    stream(srv, &mut c, &master).await
}

/// Takes the master client off the client list when the link ends in
/// any way, including the task being dropped (REPLICAOF, shutdown).
struct Listed(Rc<RefCell<Server>>, u64);

impl Drop for Listed {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.try_borrow_mut() {
            s.clients.remove(&self.1);
        }
    }
}

/// Reads the RDB of a full resync and swaps it in.
async fn full_sync(
    srv: &Rc<RefCell<Server>>,
    c: &mut Conn,
    lc: &LinkCfg,
    replid: &str,
    off: i64,
) -> Result<(), String> {
    srv.borrow_mut().repl.link.state = LinkState::Transfer;
    // The primary sends newlines while it prepares the RDB.
    let header = loop {
        let l = c.line().await?;
        if !l.is_empty() {
            break l;
        }
        srv.borrow_mut().repl.link.last_io = Instant::now();
    };
    if let Some(e) = header.strip_prefix('-') {
        return Err(format!("MASTER aborted replication with an error: {e}"));
    }
    let Some(spec) = header.strip_prefix('$') else {
        return Err(format!("Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"));
    };
    let mark = spec.strip_prefix("EOF:").map(|m| m.as_bytes().to_vec());
    let total: i64 = match &mark {
        Some(m) if m.len() == 40 => -1,
        Some(_) => return Err(format!("Bad EOF mark from MASTER: '{header}'")),
        None => spec
            .parse()
            .map_err(|_| format!("Bad RDB length from MASTER: '{header}'"))?,
    };
    let dest = if lc.disk_load { "disk" } else { "memory" };
    match total {
        -1 => tracing::info!(
            "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to {dest}"
        ),
        n => tracing::info!("MASTER <-> REPLICA sync: receiving {n} bytes from master to {dest}"),
    }
    srv.borrow_mut().repl.link.transfer = Some(Transfer {
        total,
        read: 0,
        last_io: Some(Instant::now()),
    });
    let mut data: Vec<u8> = Vec::with_capacity(total.max(0) as usize);
    loop {
        let want = if total >= 0 {
            (total as usize).saturating_sub(data.len())
        } else {
            usize::MAX
        };
        let old = data.len();
        let take = want.min(c.buf.len());
        data.extend_from_slice(&c.buf[..take]);
        c.buf.advance(take);
        let done = match &mark {
            // The stream may follow the mark in the same read: what comes
            // after it goes back to the buffer.
            Some(m) => {
                let from = old.saturating_sub(m.len());
                match memchr::memmem::find(&data[from..], m) {
                    Some(i) => {
                        let rest = data.split_off(from + i);
                        let mut buf = BytesMut::from(&rest[m.len()..]);
                        buf.extend_from_slice(&c.buf);
                        c.buf = buf;
                        true
                    }
                    None => false,
                }
            }
            None => data.len() as i64 == total,
        };
        {
            let mut s = srv.borrow_mut();
            s.repl.link.last_io = Instant::now();
            s.repl.link.transfer = Some(Transfer {
                total,
                read: data.len() as i64,
                last_io: Some(Instant::now()),
            });
        }
        if done {
            break;
        }
        c.fill()
            .await
            .map_err(|e| format!("I/O error trying to sync with MASTER: {e}"))?;
    }
    let mut s = srv.borrow_mut();
    if lc.disk_load {
        let path = s.rdb_path();
        let dir = path.parent().map(|p| p.to_path_buf()).unwrap_or_default();
        let tmp = dir.join(format!(
            "temp-{}.{}.rdb",
            now_ms() / 1000,
            std::process::id()
        ));
        let res = (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = res {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("Failed trying to rename the temp DB into {} in MASTER <-> REPLICA synchronization: {e}", path.display()));
        }
    }
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    s.replica_load(&data)?;
    if lc.disk_load
        && s.cfg.bool(D::RDB_DEL_SYNC_FILES)
        && s.cfg.save_rules().is_empty()
        && !s.aof.on
    {
        // Kept only for the sync: with persistence off nothing would ever
        // replace it, and a restart would load this stale copy.
        tracing::info!(
            "Removing the RDB file obtained from the master. This replica has persistence disabled"
        );
        let _ = std::fs::remove_file(s.rdb_path());
    }
    let db = 0;
    s.repl.link.master_client = Some(new_master_client(db));
    s.repl.link.reploff = off;
    s.repl.link.read_reploff = off;
    s.repl.link.cached = Some((replid.to_string(), off));
    s.repl.link.full_syncs += 1;
    s.repl.link.net_in += data.len() as u64;
    s.repl.link.transfer = None;
    s.repl_set_stream(replid, off);
    // Offsets now count another stream: nothing of it is fsynced yet.
    s.aof.set_synced_offset(-1);
    s.aof_after_full_sync();
    tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    Ok(())
}

impl Server {
    /// The dataset was replaced: the AOF starts again from a rewrite, as
    /// Redis restarts it after a full resync.
    fn aof_after_full_sync(&mut self) {
        if self.aof.on {
            if let Err(e) = self.aof_rewrite_start() {
                tracing::warn!("Failed to restart the AOF after a full resync: {e}");
            }
        }
    }

    /// Loads the primary's RDB into a fresh keyspace and swaps it in; the
    /// old data stays if the image is bad.
    fn replica_load(&mut self, data: &[u8]) -> Result<(), String> {
        let lim = self.type_limits();
        let mut ks = crate::db::Keyspace::new(self.ks.dbs.len());
        // Time zero: a replica keeps keys that are already expired, the
        // primary's DELs remove them.
        let st = crate::persist::rdb::load(data, &mut ks, 0, &lim)
            .map_err(|e| format!("Failed trying to load the MASTER synchronization DB from disk, check server logs. ({e})"))?;
        let now = now_ms();
        for (new, old) in ks.dbs.iter_mut().zip(self.ks.dbs.iter()) {
            new.deleted_log = old.deleted_log.as_ref().map(|_| Vec::new());
            new.log_events = old.log_events;
            new.expired = old.expired;
            let keys: Vec<Vec<u8>> = new.dict().iter().map(|(k, _)| k.to_vec()).collect();
            for k in keys {
                if let Some(e) = new.entry_mut(&k) {
                    e.lru = crate::db::access::fresh(now);
                }
            }
        }
        self.repl.link.own_expires.clear();
        // A snapshot walking the old dataset completes first, so that its
        // image stays one point in time.
        self.finish_snapshot_now();
        let old = std::mem::replace(&mut self.ks.dbs, std::mem::take(&mut ks.dbs));
        if self.cfg.bool(D::REPLICA_LAZY_FLUSH) {
            std::thread::spawn(move || drop(old));
        } else {
            drop(old);
        }
        self.scripting.functions.flush();
        self.scripting.functions.load_all(&st.functions)?;
        self.touch_all_watched(None);
        self.invalidate_all_tracked();
        self.dirty += 1;
        tracing::info!(
            "Done loading RDB, keys loaded: {}, keys expired: 0.",
            st.keys
        );
        Ok(())
    }
}

/// The command stream, until the link fails.
async fn stream(srv: &Rc<RefCell<Server>>, c: &mut Conn, master: &Client) -> Result<(), String> {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ranges = Vec::new();
    let mut out = Out::new(false);
    // The start of the stream may have come with the RDB.
    let mut ack = apply(srv, &mut c.buf, &mut ranges, &mut out)?;
    loop {
        if ack {
            let (off, fack) = {
                let s = srv.borrow();
                (s.repl.link.reploff, s.aof.fsynced_offset())
            };
            // FACK as Redis 7.2 replicas send it: only with an AOF.
            let (off, fack) = (off.to_string(), fack.to_string());
            if fack != "-1" {
                c.send(&[&b"REPLCONF"[..], b"ACK", off.as_bytes(), b"FACK", fack.as_bytes()])
                    .await?;
            } else {
                c.send(&[b"REPLCONF", b"ACK", off.as_bytes()]).await?;
            }
        }
        if c.buf.capacity() - c.buf.len() < 8192 {
            c.buf.reserve(64 * 1024);
        }
        ack = tokio::select! {
            r = tokio::time::timeout(c.timeout, c.s.read_buf(&mut c.buf)) => match r {
                Err(_) => return Err("MASTER timeout: no data nor PING received...".into()),
                Ok(Ok(0)) => return Err("Connection with master lost.".into()),
                Ok(Err(e)) => return Err(format!("Connection with master lost: {e}")),
                Ok(Ok(n)) => {
                    srv.borrow_mut().repl.link.net_in += n as u64;
                    apply(srv, &mut c.buf, &mut ranges, &mut out)?
                }
            },
            _ = tick.tick() => true,
            _ = master.wake.notified() => {
                if master.close_asap.get() {
                    return Err("Connection with master closed by CLIENT KILL.".into());
                }
                false
            }
        };
    }
}

/// Applies every complete command in `buf`; true if the primary asked for
/// an ACK (REPLCONF GETACK).
fn apply(
    srv: &Rc<RefCell<Server>>,
    buf: &mut BytesMut,
    ranges: &mut Vec<(usize, usize)>,
    out: &mut Out,
) -> Result<bool, String> {
    let mut s = srv.borrow_mut();
    s.repl.link.last_io = Instant::now();
    let Some(client) = s.repl.link.master_client.clone() else {
        return Err("No master client".into());
    };
    client.last_interaction.set(Instant::now());
    let lim = Limits {
        max_bulk: s.cfg.int(D::PROTO_MAX_BULK_LEN),
        authenticated: true,
    };
    let mut ack = false;
    // Applied but not yet passed on (inside a transaction).
    let mut pos = 0usize;
    let mut fed = 0usize;
    let now = now_ms();
    crate::db::set_expiry_mode(crate::db::ExpiryMode::Keep);
    let res = loop {
        match parse_request(&buf[pos..], &lim, ranges) {
            Ok(Parsed::Incomplete { .. }) => break Ok(()),
            Err(e) => {
                break Err(format!(
                    "Protocol error from MASTER: {}",
                    String::from_utf8_lossy(&e.0)
                ))
            }
            Ok(Parsed::Complete { consumed }) => {
                let frame = Bytes::copy_from_slice(&buf[pos..pos + consumed]);
                pos += consumed;
                s.repl.link.read_reploff += consumed as i64;
                if ranges.is_empty() {
                    continue;
                }
                let args: Vec<Bytes> = ranges.iter().map(|&(a, b)| frame.slice(a..b)).collect();
                if args.len() >= 2
                    && args[0].eq_ignore_ascii_case(b"replconf")
                    && args[1].eq_ignore_ascii_case(b"getack")
                {
                    ack = true;
                } else {
                    exec::execute(&mut s, &client, out, &args, now);
                    out.buf.clear();
                    if !s.ready_keys.is_empty() {
                        s.serve_ready_keys(now);
                    }
                }
                if client.multi.borrow().is_none() {
                    s.repl.link.reploff = s.repl.link.read_reploff;
                    s.repl_feed_from_master(&buf[fed..pos]);
                    fed = pos;
                }
            }
        }
    };
    crate::db::set_expiry_mode(crate::db::ExpiryMode::Hide);
    // Bytes of an unfinished transaction stay buffered (and unconsumed),
    // so they are applied and passed on together with its EXEC.
    buf.advance(fed);
    if fed < pos {
        // They were counted as read; the rest will be parsed again.
        s.repl.link.read_reploff -= (pos - fed) as i64;
        *client.multi.borrow_mut() = None;
        client.multi_error.set(false);
    }
    s.aof_flush();
    res.map(|()| ack)
}

// Glue to the primary side's state (`repl::ReplState`).
impl Server {
    /// This server's replication id and offset.
    pub fn repl_id_offset(&self) -> (String, i64) {
        (self.repl.replid.clone(), self.repl.master_repl_offset)
    }

    /// Promotion: a new history continuing the old one (PSYNC2); the
    /// replicas reconnect to learn the new id, and the stream starts with
    /// a SELECT.
    fn repl_promote(&mut self) {
        self.repl_create_backlog();
        self.repl.shift_replid();
        self.repl_disconnect_replicas();
        self.repl.sel_db = None;
    }

    /// After a full resync (or at start-up from an RDB): the primary's id
    /// and offset, no secondary id, a backlog starting there.
    fn repl_set_stream(&mut self, replid: &str, off: i64) {
        self.repl_create_backlog();
        self.repl.set_replid(replid, off);
        self.repl.replid2 = super::NO_REPLID.into();
        self.repl.second_replid_offset = -1;
    }

    /// +CONTINUE <new id>: the primary was promoted; our old id stays
    /// valid up to `off`, and our own replicas must learn the new one.
    fn repl_new_master_id(&mut self, new: &str, off: i64) {
        self.repl_create_backlog();
        self.repl.replid2 = std::mem::replace(&mut self.repl.replid, new.to_string());
        self.repl.second_replid_offset = off + 1;
        self.repl_disconnect_replicas();
    }

    fn repl_feed_from_master(&mut self, bytes: &[u8]) {
        self.repl_feed_raw(bytes);
    }
}

use crate::commands::{cmd, is, Command, ADMIN, NOSCRIPT, NO_KEYS, STALE};
use crate::errors::{CmdResult, Error};
use crate::server::Ctx;

pub static COMMANDS: &[Command] = &[
    cmd(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE,
        NO_KEYS,
        0,
        replicaof,
        "server",
        "5.0.0",
        "Configures a server as replica of another, or promotes it to a master.",
    ),
    cmd(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE,
        NO_KEYS,
        0,
        replicaof,
        "server",
        "1.0.0",
        "Sets a Redis server as a replica of another, or promotes it to being a master.",
    ),
];

fn replicaof(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.srv.failover_active() {
        return Err(Error::msg("ERR REPLICAOF not allowed while failing over."));
    }
    let by = ctx.client.info_line();
    if is(&a[1], "no") && is(&a[2], "one") {
        ctx.srv.replicaof_no_one(&by);
        ctx.out.ok();
        return Ok(());
    }
    let port = crate::commands::int_arg(&a[2])?;
    let port = u16::try_from(port).map_err(|_| Error::msg("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(&a[1]).into_owned();
    if ctx.srv.replicaof(host, port, &by) {
        ctx.out.ok();
    } else {
        ctx.out.simple("OK Already connected to specified master");
    }
    Ok(())
}

/// INFO replication's first fields on a replica (role:slave, master_host,
/// master_port, master_link_status, ...).
pub fn info(srv: &Server, o: &mut String) {
    o.push_str("role:slave\r\n");
    srv.replica_info(o);
}

/// ROLE on a replica: ["slave", host, port, state, offset].
pub fn role(srv: &Server, out: &mut Out) {
    srv.replica_role(out);
}
