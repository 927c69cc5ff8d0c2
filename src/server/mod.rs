//! The server state owned by the single executor thread: the keyspace,
//! configuration, clients and statistics. Commands run one at a time on it,
//! so they are atomic without locks.

pub mod auth;
pub mod blocking;
pub mod client;
pub mod cmdstats;
pub mod evict;
pub mod exec;
pub mod info;
pub mod notify;
pub mod tracking;
pub mod propagate;
pub mod latency;
pub mod observe;
pub mod outlimit;
pub mod pause;
pub mod pubsub;
pub mod shutdown;
pub mod slowlog;
pub mod watch;

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use tokio::sync::Notify;

use crate::config::{Config, D};
use crate::db::{Db, Keyspace};
use crate::resp::Out;
pub use client::Client;
pub use cmdstats::CmdStats;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    Default,
    Save,
    NoSave,
}

#[derive(Default, Debug, Clone)]
pub struct Stats {
    pub total_connections: u64,
    pub rejected_connections: u64,
    pub total_commands: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    pub total_error_replies: u64,
    pub unexpected_error_replies: u64,
    pub expired_stale_perc: f64,
    pub expire_cycle_time_used_ms: u64,
    pub total_reads: u64,
    pub evicted_keys: u64,
    pub evicted_clients: u64,
    pub total_writes: u64,
}

/// Samples counters every cron tick to report instantaneous rates
/// (ops/sec, input and output bytes/sec) over the last ~1.6 seconds.
#[derive(Default)]
pub struct Sampler {
    samples: std::collections::VecDeque<(Instant, [u64; 3])>,
}

impl Sampler {
    pub fn record(&mut self, v: [u64; 3]) {
        self.samples.push_back((Instant::now(), v));
        if self.samples.len() > 16 {
            self.samples.pop_front();
        }
    }

    /// Per-second rate of counter `i`.
    pub fn rate(&self, i: usize) -> u64 {
        match (self.samples.front(), self.samples.back()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                let dt = b.0.duration_since(a.0).as_secs_f64();
                ((b.1[i] - a.1[i]) as f64 / dt) as u64
            }
            _ => 0,
        }
    }
}

pub struct Server {
    pub ks: Keyspace,
    pub cfg: Config,
    pub stats: Stats,
    pub cmd_stats: CmdStats,
    pub error_stats: BTreeMap<String, u64>,
    pub clients: BTreeMap<u64, Rc<Client>>,
    pub next_client_id: u64,
    pub started: Instant,
    pub run_id: String,
    /// Set by SHUTDOWN or a signal; the accept loop acts on it.
    pub shutdown: Option<ShutdownMode>,
    pub shutdown_notify: Rc<Notify>,
    /// SHUTDOWN (or a signal) waiting for lagging replicas.
    pub shutdown_wait: Option<shutdown::Wait>,
    /// Changes since the last save (rdb_changes_since_last_save).
    pub dirty: u64,
    pub active_expire: bool,
    pub executable: String,
    pub config_file: Option<String>,
    /// The port INFO reports as tcp_port: the plaintext one, else TLS's.
    pub bound_port: u16,
    /// The TLS configuration new TLS connections get (see `net::tls`).
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    pub last_save: i64,
    pub peak_memory: std::cell::Cell<u64>,
    /// Memory in use right after start-up (used_memory_startup).
    pub startup_memory: u64,
    pub ops_sampler: std::cell::RefCell<Sampler>,
    /// Clients waiting on each (db, key), in arrival order.
    pub blocking: std::collections::HashMap<(usize, Vec<u8>), std::collections::VecDeque<u64>>,
    /// Keys that got data blocked clients may want, to serve after the
    /// current command.
    pub ready_keys: std::collections::VecDeque<(usize, Vec<u8>)>,
    /// WATCHed keys and the clients watching each.
    pub watched_keys: std::collections::HashMap<(usize, Vec<u8>), Vec<u64>>,
    pub pubsub: pubsub::PubSub,
    pub persist: crate::persist::PersistState,
    pub mem: evict::MemTracker,
    /// notify-keyspace-events as class bits (0: notifications off).
    pub notify_flags: u32,
    pub tracking: tracking::TrackingTable,
    /// The client whose command is running (NOLOOP tracking).
    pub current_client: Option<u64>,
    pub scripting: crate::scripting::Scripting,
    pub prop: propagate::Propagation,
    pub aof: crate::persist::aof::Aof,
    /// Replaying the AOF at start-up (no eviction, no expiry).
    pub loading: bool,
    pub acl: crate::acl::Acl,
    pub slowlog: slowlog::SlowLog,
    pub latency: latency::Monitor,
    /// Ids of the clients in MONITOR mode.
    pub monitors: Vec<u64>,
    /// The pause clients see: the strongest of `pauses`.
    pub pause: Option<pause::Pause>,
    pub pauses: pause::Pauses,
    /// client-output-buffer-limit, parsed.
    pub out_limits: outlimit::Limits,
    /// Replication: ids, offsets, backlog, attached replicas (`repl`).
    pub repl: crate::repl::ReplState,
}

pub fn now_ms() -> i64 {
    // Read once per batch of requests: clock_gettime directly costs a
    // third of SystemTime::now() plus duration_since.
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as i64 * 1000 + ts.tv_nsec as i64 / 1_000_000
}

impl Server {
    pub fn new(cfg: Config) -> Self {
        let dbs = cfg.int(D::DATABASES).max(1) as usize;
        let run_id = crate::repl::random_hex(40);
        let acl = crate::acl::Acl::new(&cfg);
        let mut srv = Server {
            ks: Keyspace::new(dbs),
            cfg,
            stats: Stats::default(),
            cmd_stats: CmdStats::default(),
            error_stats: BTreeMap::new(),
            clients: BTreeMap::new(),
            next_client_id: 1,
            started: Instant::now(),
            run_id,
            shutdown: None,
            shutdown_notify: Rc::new(Notify::new()),
            shutdown_wait: None,
            dirty: 0,
            active_expire: true,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config_file: None,
            bound_port: 0,
            tls: None,
            last_save: now_ms() / 1000,
            peak_memory: std::cell::Cell::new(0),
            startup_memory: info::used_memory(),
            ops_sampler: Default::default(),
            blocking: Default::default(),
            ready_keys: Default::default(),
            watched_keys: Default::default(),
            pubsub: Default::default(),
            persist: crate::persist::PersistState::new(),
            mem: evict::MemTracker::new(),
            notify_flags: 0,
            tracking: Default::default(),
            current_client: None,
            scripting: Default::default(),
            prop: Default::default(),
            aof: Default::default(),
            loading: false,
            acl,
            slowlog: Default::default(),
            latency: Default::default(),
            monitors: Vec::new(),
            pause: None,
            pauses: [None; 3],
            out_limits: Default::default(),
            repl: Default::default(),
        };
        srv.apply_access_config();
        srv.apply_notify_config();
        srv.out_limits = outlimit::parse(&srv.cfg);
        info::set_allocator_bg_thread(srv.cfg.bool(D::JEMALLOC_BG_THREAD));
        srv
    }

    pub fn requires_auth(&self) -> bool {
        self.acl.auth_required()
    }

    /// Periodic work (serverCron): active expiry, active rehashing.
    pub fn cron(&mut self) {
        self.persist_cron();
        self.mem.refresh();
        self.clients_cron();
        self.apply_access_config();
        self.apply_notify_config();
        self.out_limits = outlimit::parse(&self.cfg);
        let st = &self.stats;
        self.ops_sampler.borrow_mut().record([
            st.total_commands,
            st.net_input_bytes,
            st.net_output_bytes,
        ]);
        // Paused writes pause the deletions of expiry too.
        if self.active_expire && !self.writes_paused() && crate::db::expiry_mode() == crate::db::ExpiryMode::Normal {
            let hz = self.cfg.int(D::HZ).clamp(1, 500) as u64;
            // Redis's slow cycle may use 25% of each cron period.
            let budget = std::time::Duration::from_micros(250_000 / hz);
            let effort = self.cfg.int(D::ACTIVE_EXPIRE_EFFORT);
            let t = Instant::now();
            self.ks.active_expire(now_ms(), budget, effort);
            let ms = t.elapsed().as_millis() as u64;
            self.stats.expire_cycle_time_used_ms += ms;
            self.latency_event("expire-cycle", ms);
            self.publish_logged_key_events();
        }
        if self.cfg.bool(D::ACTIVEREHASHING) {
            self.ks.active_rehash(std::time::Duration::from_millis(1));
        }
        self.aof_cron();
        self.repl_cron();
    }
}

/// What a command handler sees: the server, the calling client and the
/// buffer its reply goes to.
pub struct Ctx<'a> {
    pub srv: &'a mut Server,
    pub client: &'a Rc<Client>,
    pub out: &'a mut Out,
    pub now_ms: i64,
    /// Set by `block_on`: the command parks the client instead of replying.
    pub block: Option<blocking::BlockRequest>,
    /// True where blocking is not allowed (MULTI, scripts).
    pub no_block: bool,
}

impl Ctx<'_> {
    pub fn db(&mut self) -> &mut Db {
        let i = self.client.db.get();
        &mut self.srv.ks.dbs[i]
    }

    pub fn db_index(&self) -> usize {
        self.client.db.get()
    }

    /// Records a keyspace hit or miss of a read for INFO (and the keymiss
    /// event).
    pub fn hit(&mut self, key: &[u8], hit: bool) {
        if hit {
            self.srv.stats.keyspace_hits += 1;
        } else {
            self.srv.stats.keyspace_misses += 1;
            self.notify(notify::KEY_MISS, "keymiss", key);
        }
    }

    /// For read lookups that hold on to what they find: when keymiss
    /// events are on and `key` is missing, counts the miss, fires the event
    /// and returns true, so the caller returns early.
    pub fn missed_with_event(&mut self, key: &[u8]) -> bool {
        if self.srv.notify_flags & notify::KEY_MISS == 0 {
            return false;
        }
        let now = self.now_ms;
        if self.db().exists(key, now) {
            return false;
        }
        self.hit(key, false);
        true
    }

    /// Looks `key` up in the client's database (expiring it if due) and
    /// returns it together with the reply buffer, so a handler can write a
    /// value out without copying it. `read` counts a keyspace hit or miss,
    /// as Redis does for read commands.
    pub fn lookup_with_out(&mut self, key: &[u8], read: bool) -> (Option<&mut crate::db::Entry>, &mut Out) {
        let now = self.now_ms;
        let i = self.client.db.get();
        if read && self.missed_with_event(key) {
            return (None, &mut *self.out);
        }
        let (db, out, stats) = (&mut self.srv.ks.dbs[i], &mut *self.out, &mut self.srv.stats);
        let found = db.lookup(key, now);
        if read {
            if found.is_some() {
                stats.keyspace_hits += 1;
            } else {
                stats.keyspace_misses += 1;
            }
        }
        (found, out)
    }

    /// Fires a keyspace notification for `key` in the client's database.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        if self.srv.notify_flags & class != 0 {
            let db = self.client.db.get();
            self.srv.notify(class, event, key, db);
        }
    }

    /// Deletes `key` if its collection became empty, with the `del` event.
    pub fn remove_if_empty(&mut self, key: &[u8]) {
        if self.db().remove_if_empty(key) {
            self.notify(notify::GENERIC, "del", key);
        }
    }

    /// A write happened: counts towards save rules.
    pub fn dirty(&mut self, n: u64) {
        self.srv.dirty += n;
    }
}
