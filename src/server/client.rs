//! Server-side state of one connection. Shared (Rc) between its connection
//! task and the server's registry, so CLIENT LIST/KILL can see and act on
//! other clients; all fields are cells because everything runs on one thread.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use crate::util::wake::Wake;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Set by CLIENT REPLY SKIP; becomes Skip when the next command starts.
    SkipNext,
}

pub struct Client {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub created: Instant,
    pub db: Cell<usize>,
    pub resp: Cell<u8>,
    pub name: RefCell<Option<Vec<u8>>>,
    pub lib_name: RefCell<Option<Vec<u8>>>,
    pub lib_ver: RefCell<Option<Vec<u8>>>,
    pub authenticated: Cell<bool>,
    pub user: RefCell<String>,
    pub last_interaction: Cell<Instant>,
    pub last_cmd: Cell<&'static str>,
    pub reply_mode: Cell<ReplyMode>,
    /// Close the connection once pending output is written.
    pub close_asap: Cell<bool>,
    /// Wakes the connection task (kill, pushed output).
    pub wake: Wake,
    /// Output produced for this client outside its own commands (pushes).
    pub pending: RefCell<Vec<u8>>,
    /// Bytes in the query buffer (all of them: the busy-script path
    /// relies on it being non-zero while any input waits).
    pub qbuf: Cell<usize>,
    /// Of a partially received command: the bytes at the front of the
    /// query buffer that Redis would already have parsed out (its header
    /// and complete arguments), and those arguments' length (argv-mem).
    pub qbuf_parsed: Cell<usize>,
    pub argv_mem: Cell<usize>,
    /// Peak of the reply buffer since the cron last reset it (rbp), and
    /// when that was.
    pub rbp: Cell<usize>,
    pub rbp_since: Cell<Instant>,
    /// Memory the connection task holds for this client, kept up to date
    /// by it once per batch and per write (CLIENT LIST, INFO,
    /// maxmemory-clients): capacity of the query buffer, capacity of the
    /// reply buffer, and reply bytes the socket has not taken yet.
    pub qbuf_cap: Cell<usize>,
    pub obuf_cap: Cell<usize>,
    pub obuf: Cell<usize>,
    /// What `mem()` was when last added to the server's total of client
    /// memory under maxmemory-clients (0 while not counted).
    pub mem_counted: Cell<usize>,
    pub unix: bool,
    pub tot_net_in: Cell<u64>,
    pub tot_net_out: Cell<u64>,
    pub tot_cmds: Cell<u64>,
    /// Set while the client waits in a blocking command.
    pub blocked: RefCell<Option<super::blocking::Blocked>>,
    /// Commands queued since MULTI (None outside a transaction).
    pub multi: RefCell<Option<Vec<Vec<bytes::Bytes>>>>,
    /// A command was refused while queuing: EXEC must answer EXECABORT.
    pub multi_error: Cell<bool>,
    /// Keys this client WATCHes, and whether one was touched since.
    /// Each with its expiry time when WATCH ran.
    pub watched: RefCell<Vec<((usize, Vec<u8>), Option<i64>)>>,
    pub watch_touched: Cell<bool>,
    /// Pub/Sub subscriptions, in subscription order.
    pub subs: RefCell<Vec<Vec<u8>>>,
    pub psubs: RefCell<Vec<Vec<u8>>>,
    pub ssubs: RefCell<Vec<Vec<u8>>>,
    /// Since when pending output has been over the soft output limit.
    pub soft_limit_since: Cell<Option<Instant>>,
    /// CLIENT TRACKING settings, when on.
    pub tracking: RefCell<Option<super::tracking::Tracking>>,
    /// In MONITOR mode: gets every command others run.
    pub monitor: Cell<bool>,
    /// CLIENT NO-TOUCH: its commands leave keys' LRU/LFU data alone.
    pub no_touch: Cell<bool>,
    /// CLIENT NO-EVICT.
    pub no_evict: Cell<bool>,
    /// Waiting for a CLIENT PAUSE to end.
    pub paused: Cell<bool>,
    /// A replica attached with PSYNC/SYNC: gets the replication stream,
    /// and no replies to its own commands.
    pub replica: Cell<bool>,
    /// The replication offset right after its last command that
    /// propagated something (what WAIT waits for).
    pub woff: Cell<i64>,
    /// A replica's link to its primary (flag M, type master).
    pub master: Cell<bool>,
}

impl Client {
    pub fn new(id: u64, addr: String, laddr: String, fd: i32, unix: bool) -> Self {
        let now = Instant::now();
        Client {
            id,
            addr,
            laddr,
            fd,
            created: now,
            db: Cell::new(0),
            resp: Cell::new(2),
            name: RefCell::new(None),
            lib_name: RefCell::new(None),
            lib_ver: RefCell::new(None),
            authenticated: Cell::new(false),
            user: RefCell::new("default".into()),
            last_interaction: Cell::new(now),
            last_cmd: Cell::new("NULL"),
            reply_mode: Cell::new(ReplyMode::On),
            close_asap: Cell::new(false),
            wake: Wake::new(),
            pending: RefCell::new(Vec::new()),
            qbuf: Cell::new(0),
            qbuf_parsed: Cell::new(0),
            argv_mem: Cell::new(0),
            rbp: Cell::new(0),
            // Redis resets a new client's peak at the cron's first visit.
            rbp_since: Cell::new(now.checked_sub(Duration::from_secs(5)).unwrap_or(now)),
            qbuf_cap: Cell::new(0),
            obuf_cap: Cell::new(0),
            obuf: Cell::new(0),
            mem_counted: Cell::new(0),
            unix,
            tot_net_in: Cell::new(0),
            tot_net_out: Cell::new(0),
            tot_cmds: Cell::new(0),
            blocked: RefCell::new(None),
            multi: RefCell::new(None),
            multi_error: Cell::new(false),
            watched: RefCell::new(Vec::new()),
            watch_touched: Cell::new(false),
            subs: RefCell::new(Vec::new()),
            psubs: RefCell::new(Vec::new()),
            ssubs: RefCell::new(Vec::new()),
            soft_limit_since: Cell::new(None),
            tracking: RefCell::new(None),
            monitor: Cell::new(false),
            no_touch: Cell::new(false),
            no_evict: Cell::new(false),
            paused: Cell::new(false),
            replica: Cell::new(false),
            woff: Cell::new(0),
            master: Cell::new(false),
        }
    }

    /// Subscribed to anything (RESP2 clients are then restricted).
    pub fn in_pubsub(&self) -> bool {
        !self.subs.borrow().is_empty()
            || !self.psubs.borrow().is_empty()
            || !self.ssubs.borrow().is_empty()
    }

    /// The type CLIENT LIST/KILL TYPE filter on: "normal", "replica",
    /// "pubsub" (the replica side's link to its primary is "master").
    pub fn kind(&self) -> &'static str {
        if self.master.get() {
            "master"
        } else if self.replica.get() {
            "replica"
        } else if self.in_pubsub() {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// Internal clients run commands nobody sent over a connection (id 0:
    /// AOF loading) or that a primary already accepted (the master
    /// link): no ACL, READONLY, LOADING, OOM or MISCONF refusals.
    pub fn internal(&self) -> bool {
        self.id == 0 || self.master.get()
    }

    /// Reply bytes waiting for the socket: what the connection task is
    /// writing plus what was pushed to the client since.
    pub fn out_pending(&self) -> usize {
        self.obuf.get() + self.pending.borrow().len()
    }

    /// Everything this client costs (CLIENT LIST tot-mem): its buffers,
    /// the transaction queue and the fixed part (this struct and the
    /// connection task's state).
    pub fn mem(&self) -> usize {
        let multi = self.multi.borrow().as_ref().map_or(0, |q| multi_mem(q));
        FIXED_MEM
            + self.qbuf_cap.get()
            + self.obuf_cap.get()
            + self.pending.borrow().capacity()
            + multi
    }

    /// Whether its memory counts towards maxmemory-clients: normal and
    /// Pub/Sub clients (MONITOR ones too), as Redis counts them.
    pub fn counts_for_client_limit(&self) -> bool {
        !self.replica.get() && !self.master.get() && self.id != 0
    }

    /// Whether maxmemory-clients may disconnect it: a counted client
    /// without CLIENT NO-EVICT.
    pub fn evictable(&self) -> bool {
        self.counts_for_client_limit() && !self.no_evict.get()
    }

    /// Asks the connection task to close after flushing.
    pub fn kill(&self) {
        self.close_asap.set(true);
        self.wake.notify_one();
    }

    /// One line of CLIENT LIST / CLIENT INFO, fields as Redis 7.2 prints them.
    pub fn info_line(&self) -> String {
        let now = Instant::now();
        let name = self.name.borrow();
        let name = name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let lib_name = self.lib_name.borrow();
        let lib_name = lib_name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let lib_ver = self.lib_ver.borrow();
        let lib_ver = lib_ver
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        // In Redis's order.
        let mut flags = String::new();
        let tracking = self.tracking.borrow();
        let redir = tracking.as_ref().map_or(-1, |t| t.redirect as i64);
        let set = [
            (self.replica.get(), 'S'),
            (self.monitor.get(), 'O'),
            (self.master.get(), 'M'),
            (self.in_pubsub(), 'P'),
            (self.multi.borrow().is_some(), 'x'),
            (self.blocked.borrow().is_some() || self.paused.get(), 'b'),
            (tracking.is_some(), 't'),
            (tracking.as_ref().is_some_and(|t| t.broken_redirect), 'R'),
            (tracking.as_ref().is_some_and(|t| t.bcast), 'B'),
            (self.watch_touched.get(), 'd'),
            (self.close_asap.get(), 'A'),
            (self.unix, 'U'),
            (self.no_evict.get(), 'e'),
            (self.no_touch.get(), 'T'),
        ];
        flags.extend(set.iter().filter(|f| f.0).map(|f| f.1));
        if flags.is_empty() {
            flags.push('N');
        }
        // Redis keeps the first 16 KiB of output in the client's own
        // buffer (obl) and the rest in a list of blocks (oll); omem here is
        // every byte not yet written.
        let omem = self.out_pending();
        let obl = omem.min(REPLY_CHUNK);
        let oll = (omem - obl).div_ceil(REPLY_CHUNK);
        let multi_mem = self.multi.borrow().as_ref().map_or(0, |q| multi_mem(q));
        // A blocked client keeps its command's arguments, as in Redis.
        let argv_mem = match self.blocked.borrow().as_ref() {
            Some(b) => args_len(&b.args),
            None => self.argv_mem.get(),
        };
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events=r cmd={} user={} redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_interaction.get()).as_secs(),
            flags,
            self.db.get(),
            self.subs.borrow().len(),
            self.psubs.borrow().len(),
            self.ssubs.borrow().len(),
            self.multi.borrow().as_ref().map_or(-1, |q| q.len() as i64),
            self.qbuf.get().saturating_sub(self.qbuf_parsed.get()),
            self.qbuf_cap.get().saturating_sub(self.qbuf.get()),
            argv_mem,
            multi_mem,
            self.obuf_cap.get(),
            self.rbp.get().min(self.obuf_cap.get()),
            obl,
            oll,
            omem,
            self.mem(),
            self.last_cmd.get(),
            self.user.borrow(),
            redir,
            self.resp.get(),
            lib_name,
            lib_ver,
        )
    }
}

impl Client {
    /// The CLIENT LIST line of the client running `args`: Redis counts
    /// the running command's arguments in its argv-mem.
    pub fn info_line_running(&self, args: &[bytes::Bytes]) -> String {
        let saved = self.argv_mem.replace(args_len(args));
        let line = self.info_line();
        self.argv_mem.set(saved);
        line
    }
}

/// What Redis's argv-mem counts: the arguments' bytes.
pub fn args_len(args: &[bytes::Bytes]) -> usize {
    args.iter().map(|a| a.len()).sum()
}

/// Size of Redis's per-client reply buffer, the unit of obl/oll.
const REPLY_CHUNK: usize = 16 * 1024;

/// A client's fixed cost: this struct, its Rc, and the connection task
/// (the future with its scratch vectors and tokio's task header, about
/// 1 KiB).
const FIXED_MEM: usize = std::mem::size_of::<Client>() + 16 + 1024;

/// Memory of the commands queued since MULTI.
fn multi_mem(q: &[Vec<bytes::Bytes>]) -> usize {
    q.iter()
        .map(|c| {
            c.capacity() * std::mem::size_of::<bytes::Bytes>()
                + c.iter().map(|a| a.len()).sum::<usize>()
        })
        .sum()
}

/// A TYPE argument (already validated) as `Client::kind` names it.
pub fn kind_name(t: &[u8]) -> &'static str {
    match t.to_ascii_lowercase().as_slice() {
        b"replica" | b"slave" => "replica",
        b"master" => "master",
        b"pubsub" => "pubsub",
        _ => "normal",
    }
}
