//! The directive table: every redis.conf directive Redust knows, with its
//! aliases, type, default and whether CONFIG SET may change it at runtime.
//! Parsing redis.conf, the command line, CONFIG GET/SET/REWRITE and INFO all
//! read this one table.

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Bool,
    Int(i64, i64),
    /// An integer that also accepts memory units (1k, 5mb, 2gb).
    Mem(i64, i64),
    Enum(&'static [&'static str]),
    Str,
    /// `save <secs> <changes> ...` pairs; "" turns saving off.
    Save,
    /// A list of addresses.
    Bind,
    /// Accepted and stored, not interpreted (yet).
    Opaque,
    /// A value with its own syntax, validated and normalised by
    /// `config::parse_special`.
    Custom(Special),
}

/// Directives whose values have a syntax of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// notify-keyspace-events: event class letters.
    Events,
    /// maxmemory-clients: a memory value or a percentage.
    MemOrPercent,
    /// oom-score-adj-values: three integers.
    OomValues,
    /// latency-tracking-info-percentiles: doubles between 0 and 100.
    Percentiles,
    /// cluster-announce-hostname.
    Hostname,
    /// proc-title-template: text with {variables}.
    ProcTitle,
    /// ip-allowlist: CIDR ranges (see `net::allowlist`).
    Cidrs,
}

/// Cannot be changed with CONFIG SET.
pub const IMMUTABLE: u8 = 1;
/// Not shown in plain CONFIG GET * (kept for parity with Redis's protected configs).
pub const SENSITIVE: u8 = 2;
/// CONFIG SET refuses it unless enable-protected-configs allows it.
pub const PROTECTED: u8 = 4;

pub struct Directive {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
}

const M: i64 = i64::MAX;
const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const POLICIES: &[&str] = &[
    "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
    "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction",
];
const FSYNC: &[&str] = &["everysec", "always", "no"];
const SUPERVISED: &[&str] = &["upstart", "systemd", "auto", "no"];
const SHUTDOWN_ON: &[&str] = &["default", "save", "nosave", "now", "force"];
const ENDPOINT: &[&str] = &["ip", "hostname", "unknown-endpoint"];
const DISKLESS_LOAD: &[&str] = &["disabled", "on-empty-db", "swapdb"];
const PROP_ERR: &[&str] = &["ignore", "panic", "panic-on-replicas"];
const ENABLE_CMD: &[&str] = &["no", "yes", "local"];
const PUBSUB_DEFAULT: &[&str] = &["allchannels", "resetchannels"];
const OOM_ADJ: &[&str] = &["no", "yes", "relative", "absolute"];
const SYSLOG_FACILITY: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

macro_rules! directives {
    ($( $id:ident = $name:literal [$($alias:literal),*] $kind:expr, $default:literal, $flags:expr; )*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(usize)]
        pub enum D { $($id,)* }
        pub static TABLE: &[Directive] = &[
            $(Directive { name: $name, aliases: &[$($alias),*], kind: $kind, default: $default, flags: $flags },)*
        ];
    };
}

use Kind::*;

directives! {
    ACL_PUBSUB_DEFAULT = "acl-pubsub-default" [] Enum(PUBSUB_DEFAULT), "resetchannels", 0;
    ACLFILE = "aclfile" [] Str, "", IMMUTABLE;
    ACLLOG_MAX_LEN = "acllog-max-len" [] Int(0, M), "128", 0;
    ACTIVE_DEFRAG_CYCLE_MAX = "active-defrag-cycle-max" [] Int(1, 99), "25", 0;
    ACTIVE_DEFRAG_CYCLE_MIN = "active-defrag-cycle-min" [] Int(1, 99), "1", 0;
    ACTIVE_DEFRAG_IGNORE_BYTES = "active-defrag-ignore-bytes" [] Mem(1, M), "104857600", 0;
    ACTIVE_DEFRAG_MAX_SCAN_FIELDS = "active-defrag-max-scan-fields" [] Int(1, M), "1000", 0;
    ACTIVE_DEFRAG_THRESHOLD_LOWER = "active-defrag-threshold-lower" [] Int(0, 1000), "10", 0;
    ACTIVE_DEFRAG_THRESHOLD_UPPER = "active-defrag-threshold-upper" [] Int(0, 1000), "100", 0;
    ACTIVE_EXPIRE_EFFORT = "active-expire-effort" [] Int(1, 10), "1", 0;
    ACTIVEDEFRAG = "activedefrag" [] Bool, "no", 0;
    ACTIVEREHASHING = "activerehashing" [] Bool, "yes", 0;
    ALWAYS_SHOW_LOGO = "always-show-logo" [] Bool, "no", IMMUTABLE;
    AOF_DISABLE_AUTO_GC = "aof-disable-auto-gc" [] Bool, "no", 0;
    AOF_LOAD_TRUNCATED = "aof-load-truncated" [] Bool, "yes", 0;
    AOF_REWRITE_INCREMENTAL_FSYNC = "aof-rewrite-incremental-fsync" [] Bool, "yes", 0;
    AOF_TIMESTAMP_ENABLED = "aof-timestamp-enabled" [] Bool, "no", 0;
    AOF_USE_RDB_PREAMBLE = "aof-use-rdb-preamble" [] Bool, "yes", 0;
    AOF_REWRITE_CPULIST = "aof_rewrite_cpulist" [] Opaque, "", IMMUTABLE;
    APPENDDIRNAME = "appenddirname" [] Str, "appendonlydir", IMMUTABLE;
    APPENDFILENAME = "appendfilename" [] Str, "appendonly.aof", IMMUTABLE;
    APPENDFSYNC = "appendfsync" [] Enum(FSYNC), "everysec", 0;
    APPENDONLY = "appendonly" [] Bool, "no", 0;
    AUTO_AOF_REWRITE_MIN_SIZE = "auto-aof-rewrite-min-size" [] Mem(0, M), "67108864", 0;
    AUTO_AOF_REWRITE_PERCENTAGE = "auto-aof-rewrite-percentage" [] Int(0, i32::MAX as i64), "100", 0;
    BGSAVE_CPULIST = "bgsave_cpulist" [] Opaque, "", IMMUTABLE;
    BIND = "bind" [] Bind, "127.0.0.1 -::1", 0;
    BIND_SOURCE_ADDR = "bind-source-addr" [] Str, "", 0;
    BIO_CPULIST = "bio_cpulist" [] Opaque, "", IMMUTABLE;
    BUSY_POLL_USEC = "busy-poll-usec" [] Int(0, 1_000_000), "50", 0;
    BUSY_REPLY_THRESHOLD = "busy-reply-threshold" ["lua-time-limit"] Int(0, M), "5000", 0;
    CLIENT_OUTPUT_BUFFER_LIMIT = "client-output-buffer-limit" [] Opaque, "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0;
    CLIENT_QUERY_BUFFER_LIMIT = "client-query-buffer-limit" [] Mem(1024 * 1024, M), "1073741824", 0;
    CLUSTER_ALLOW_PUBSUBSHARD_WHEN_DOWN = "cluster-allow-pubsubshard-when-down" [] Bool, "yes", 0;
    CLUSTER_ALLOW_READS_WHEN_DOWN = "cluster-allow-reads-when-down" [] Bool, "no", 0;
    CLUSTER_ALLOW_REPLICA_MIGRATION = "cluster-allow-replica-migration" [] Bool, "yes", 0;
    CLUSTER_ANNOUNCE_BUS_PORT = "cluster-announce-bus-port" [] Int(0, 65535), "0", 0;
    CLUSTER_ANNOUNCE_HOSTNAME = "cluster-announce-hostname" [] Custom(Special::Hostname), "", 0;
    CLUSTER_ANNOUNCE_HUMAN_NODENAME = "cluster-announce-human-nodename" [] Str, "", 0;
    CLUSTER_ANNOUNCE_IP = "cluster-announce-ip" [] Str, "", 0;
    CLUSTER_ANNOUNCE_PORT = "cluster-announce-port" [] Int(0, 65535), "0", 0;
    CLUSTER_ANNOUNCE_TLS_PORT = "cluster-announce-tls-port" [] Int(0, 65535), "0", 0;
    CLUSTER_CONFIG_FILE = "cluster-config-file" [] Str, "nodes.conf", IMMUTABLE;
    CLUSTER_ENABLED = "cluster-enabled" [] Bool, "no", IMMUTABLE;
    CLUSTER_LINK_SENDBUF_LIMIT = "cluster-link-sendbuf-limit" [] Mem(0, M), "0", 0;
    CLUSTER_MIGRATION_BARRIER = "cluster-migration-barrier" [] Int(0, i32::MAX as i64), "1", 0;
    CLUSTER_NODE_TIMEOUT = "cluster-node-timeout" [] Int(0, M), "15000", 0;
    CLUSTER_PORT = "cluster-port" [] Int(0, 65535), "0", IMMUTABLE;
    CLUSTER_PREFERRED_ENDPOINT_TYPE = "cluster-preferred-endpoint-type" [] Enum(ENDPOINT), "ip", 0;
    CLUSTER_REPLICA_NO_FAILOVER = "cluster-replica-no-failover" ["cluster-slave-no-failover"] Bool, "no", 0;
    CLUSTER_REPLICA_VALIDITY_FACTOR = "cluster-replica-validity-factor" ["cluster-slave-validity-factor"] Int(0, i32::MAX as i64), "10", 0;
    CLUSTER_REQUIRE_FULL_COVERAGE = "cluster-require-full-coverage" [] Bool, "yes", 0;
    CRASH_LOG_ENABLED = "crash-log-enabled" [] Bool, "yes", 0;
    CRASH_MEMCHECK_ENABLED = "crash-memcheck-enabled" [] Bool, "yes", 0;
    DAEMONIZE = "daemonize" [] Bool, "no", IMMUTABLE;
    DATABASES = "databases" [] Int(1, i32::MAX as i64), "16", IMMUTABLE;
    DBFILENAME = "dbfilename" [] Str, "dump.rdb", PROTECTED;
    DIR = "dir" [] Str, "", PROTECTED;
    DISABLE_THP = "disable-thp" [] Bool, "yes", IMMUTABLE;
    DYNAMIC_HZ = "dynamic-hz" [] Bool, "yes", 0;
    ENABLE_DEBUG_COMMAND = "enable-debug-command" [] Enum(ENABLE_CMD), "no", IMMUTABLE;
    ENABLE_MODULE_COMMAND = "enable-module-command" [] Enum(ENABLE_CMD), "no", IMMUTABLE;
    ENABLE_PROTECTED_CONFIGS = "enable-protected-configs" [] Enum(ENABLE_CMD), "no", IMMUTABLE;
    HASH_MAX_LISTPACK_ENTRIES = "hash-max-listpack-entries" ["hash-max-ziplist-entries"] Int(0, M), "512", 0;
    HASH_MAX_LISTPACK_VALUE = "hash-max-listpack-value" ["hash-max-ziplist-value"] Mem(0, M), "64", 0;
    HLL_SPARSE_MAX_BYTES = "hll-sparse-max-bytes" [] Mem(0, M), "3000", 0;
    HZ = "hz" [] Int(0, i32::MAX as i64), "10", 0;
    IGNORE_WARNINGS = "ignore-warnings" [] Str, "", 0;
    IP_ALLOWLIST = "ip-allowlist" [] Custom(Special::Cidrs), "", 0;
    IO_THREADS = "io-threads" [] Int(1, 128), "1", IMMUTABLE;
    IO_THREADS_DO_READS = "io-threads-do-reads" [] Bool, "no", IMMUTABLE;
    JEMALLOC_BG_THREAD = "jemalloc-bg-thread" [] Bool, "yes", 0;
    LATENCY_MONITOR_THRESHOLD = "latency-monitor-threshold" [] Int(0, M), "0", 0;
    LATENCY_TRACKING = "latency-tracking" [] Bool, "yes", 0;
    LATENCY_TRACKING_INFO_PERCENTILES = "latency-tracking-info-percentiles" [] Custom(Special::Percentiles), "50 99 99.9", 0;
    LAZYFREE_LAZY_EVICTION = "lazyfree-lazy-eviction" [] Bool, "no", 0;
    LAZYFREE_LAZY_EXPIRE = "lazyfree-lazy-expire" [] Bool, "no", 0;
    LAZYFREE_LAZY_SERVER_DEL = "lazyfree-lazy-server-del" [] Bool, "no", 0;
    LAZYFREE_LAZY_USER_DEL = "lazyfree-lazy-user-del" [] Bool, "no", 0;
    LAZYFREE_LAZY_USER_FLUSH = "lazyfree-lazy-user-flush" [] Bool, "no", 0;
    LFU_DECAY_TIME = "lfu-decay-time" [] Int(0, i32::MAX as i64), "1", 0;
    LFU_LOG_FACTOR = "lfu-log-factor" [] Int(0, i32::MAX as i64), "10", 0;
    LIST_COMPRESS_DEPTH = "list-compress-depth" [] Int(0, i32::MAX as i64), "0", 0;
    LIST_MAX_LISTPACK_SIZE = "list-max-listpack-size" ["list-max-ziplist-size"] Int(i32::MIN as i64, i32::MAX as i64), "-2", 0;
    LOCALE_COLLATE = "locale-collate" [] Str, "", 0;
    LOGFILE = "logfile" [] Str, "", IMMUTABLE;
    LOGLEVEL = "loglevel" [] Enum(LOGLEVELS), "notice", 0;
    MASTERAUTH = "masterauth" [] Str, "", SENSITIVE;
    MASTERUSER = "masteruser" [] Str, "", 0;
    MAX_NEW_CONNECTIONS_PER_CYCLE = "max-new-connections-per-cycle" [] Int(1, 1000), "10", 0;
    MAX_NEW_TLS_CONNECTIONS_PER_CYCLE = "max-new-tls-connections-per-cycle" [] Int(1, 1000), "1", 0;
    MAXCLIENTS = "maxclients" [] Int(1, u32::MAX as i64), "10000", 0;
    MAXMEMORY = "maxmemory" [] Mem(0, M), "0", 0;
    MAXMEMORY_CLIENTS = "maxmemory-clients" [] Custom(Special::MemOrPercent), "0", 0;
    MAXMEMORY_EVICTION_TENACITY = "maxmemory-eviction-tenacity" [] Int(0, 100), "10", 0;
    MAXMEMORY_POLICY = "maxmemory-policy" [] Enum(POLICIES), "noeviction", 0;
    MAXMEMORY_SAMPLES = "maxmemory-samples" [] Int(1, i32::MAX as i64), "5", 0;
    METRICS_PORT = "metrics-port" [] Int(0, 65535), "0", IMMUTABLE;
    MIN_REPLICAS_MAX_LAG = "min-replicas-max-lag" ["min-slaves-max-lag"] Int(0, i32::MAX as i64), "10", 0;
    MIN_REPLICAS_TO_WRITE = "min-replicas-to-write" ["min-slaves-to-write"] Int(0, i32::MAX as i64), "0", 0;
    NO_APPENDFSYNC_ON_REWRITE = "no-appendfsync-on-rewrite" [] Bool, "no", 0;
    NOTIFY_KEYSPACE_EVENTS = "notify-keyspace-events" [] Custom(Special::Events), "", 0;
    OOM_SCORE_ADJ = "oom-score-adj" [] Enum(OOM_ADJ), "no", 0;
    OOM_SCORE_ADJ_VALUES = "oom-score-adj-values" [] Custom(Special::OomValues), "0 200 800", 0;
    PIDFILE = "pidfile" [] Str, "", IMMUTABLE;
    PORT = "port" [] Int(0, 65535), "6379", 0;
    PROC_TITLE_TEMPLATE = "proc-title-template" [] Custom(Special::ProcTitle), "{title} {listen-addr} {server-mode}", 0;
    PROPAGATION_ERROR_BEHAVIOR = "propagation-error-behavior" [] Enum(PROP_ERR), "ignore", 0;
    PROTECTED_MODE = "protected-mode" [] Bool, "yes", 0;
    PROTO_MAX_BULK_LEN = "proto-max-bulk-len" [] Mem(1024 * 1024, M), "536870912", 0;
    RDB_DEL_SYNC_FILES = "rdb-del-sync-files" [] Bool, "no", 0;
    RDB_SAVE_INCREMENTAL_FSYNC = "rdb-save-incremental-fsync" [] Bool, "yes", 0;
    RDBCHECKSUM = "rdbchecksum" [] Bool, "yes", IMMUTABLE;
    RDBCOMPRESSION = "rdbcompression" [] Bool, "yes", 0;
    REPL_BACKLOG_SIZE = "repl-backlog-size" [] Mem(1, M), "1048576", 0;
    REPL_BACKLOG_TTL = "repl-backlog-ttl" [] Int(0, M), "3600", 0;
    REPL_DISABLE_TCP_NODELAY = "repl-disable-tcp-nodelay" [] Bool, "no", 0;
    REPL_DISKLESS_LOAD = "repl-diskless-load" [] Enum(DISKLESS_LOAD), "disabled", 0;
    REPL_DISKLESS_SYNC = "repl-diskless-sync" [] Bool, "yes", 0;
    REPL_DISKLESS_SYNC_DELAY = "repl-diskless-sync-delay" [] Int(0, i32::MAX as i64), "5", 0;
    REPL_DISKLESS_SYNC_MAX_REPLICAS = "repl-diskless-sync-max-replicas" [] Int(0, i32::MAX as i64), "0", 0;
    REPL_PING_REPLICA_PERIOD = "repl-ping-replica-period" ["repl-ping-slave-period"] Int(1, i32::MAX as i64), "10", 0;
    REPL_TIMEOUT = "repl-timeout" [] Int(1, i32::MAX as i64), "60", 0;
    REPLICA_ANNOUNCE_IP = "replica-announce-ip" ["slave-announce-ip"] Str, "", 0;
    REPLICA_ANNOUNCE_PORT = "replica-announce-port" ["slave-announce-port"] Int(0, 65535), "0", 0;
    REPLICA_ANNOUNCED = "replica-announced" [] Bool, "yes", 0;
    REPLICA_IGNORE_DISK_WRITE_ERRORS = "replica-ignore-disk-write-errors" [] Bool, "no", 0;
    REPLICA_IGNORE_MAXMEMORY = "replica-ignore-maxmemory" ["slave-ignore-maxmemory"] Bool, "yes", 0;
    REPLICA_LAZY_FLUSH = "replica-lazy-flush" ["slave-lazy-flush"] Bool, "no", 0;
    REPLICA_PRIORITY = "replica-priority" ["slave-priority"] Int(0, i32::MAX as i64), "100", 0;
    REPLICA_READ_ONLY = "replica-read-only" ["slave-read-only"] Bool, "yes", 0;
    REPLICA_SERVE_STALE_DATA = "replica-serve-stale-data" ["slave-serve-stale-data"] Bool, "yes", 0;
    REPLICAOF = "replicaof" ["slaveof"] Opaque, "", IMMUTABLE;
    REQUIREPASS = "requirepass" [] Str, "", SENSITIVE;
    SANITIZE_DUMP_PAYLOAD = "sanitize-dump-payload" [] Enum(&["no", "yes", "clients"]), "no", 0;
    SAVE = "save" [] Save, "3600 1 300 100 60 10000", 0;
    SERVER_CPULIST = "server_cpulist" [] Opaque, "", IMMUTABLE;
    SET_MAX_INTSET_ENTRIES = "set-max-intset-entries" [] Int(0, M), "512", 0;
    SET_MAX_LISTPACK_ENTRIES = "set-max-listpack-entries" [] Int(0, M), "128", 0;
    SET_MAX_LISTPACK_VALUE = "set-max-listpack-value" [] Mem(0, M), "64", 0;
    SET_PROC_TITLE = "set-proc-title" [] Bool, "yes", IMMUTABLE;
    SHUTDOWN_ON_SIGINT = "shutdown-on-sigint" [] Enum(SHUTDOWN_ON), "default", 0;
    SHUTDOWN_ON_SIGTERM = "shutdown-on-sigterm" [] Enum(SHUTDOWN_ON), "default", 0;
    SHUTDOWN_TIMEOUT = "shutdown-timeout" [] Int(0, i32::MAX as i64), "10", 0;
    SLOWLOG_LOG_SLOWER_THAN = "slowlog-log-slower-than" [] Int(-1, M), "10000", 0;
    SLOWLOG_MAX_LEN = "slowlog-max-len" [] Int(0, M), "128", 0;
    SOCKET_MARK_ID = "socket-mark-id" [] Int(0, M), "0", IMMUTABLE;
    STOP_WRITES_ON_BGSAVE_ERROR = "stop-writes-on-bgsave-error" [] Bool, "yes", 0;
    STREAM_NODE_MAX_BYTES = "stream-node-max-bytes" [] Mem(0, M), "4096", 0;
    STREAM_NODE_MAX_ENTRIES = "stream-node-max-entries" [] Int(0, M), "100", 0;
    SUPERVISED = "supervised" [] Enum(SUPERVISED), "no", IMMUTABLE;
    SYSLOG_ENABLED = "syslog-enabled" [] Bool, "no", IMMUTABLE;
    SYSLOG_FACILITY = "syslog-facility" [] Enum(SYSLOG_FACILITY), "local0", IMMUTABLE;
    SYSLOG_IDENT = "syslog-ident" [] Str, "redis", IMMUTABLE;
    TCP_BACKLOG = "tcp-backlog" [] Int(0, M), "511", IMMUTABLE;
    TCP_KEEPALIVE = "tcp-keepalive" [] Int(0, i32::MAX as i64), "300", 0;
    TIMEOUT = "timeout" [] Int(0, i32::MAX as i64), "0", 0;
    TLS_AUTH_CLIENTS = "tls-auth-clients" [] Enum(&["no", "yes", "optional"]), "yes", 0;
    TLS_CA_CERT_DIR = "tls-ca-cert-dir" [] Str, "", 0;
    TLS_CA_CERT_FILE = "tls-ca-cert-file" [] Str, "", 0;
    TLS_CERT_FILE = "tls-cert-file" [] Str, "", 0;
    TLS_CIPHERS = "tls-ciphers" [] Str, "", 0;
    TLS_CIPHERSUITES = "tls-ciphersuites" [] Str, "", 0;
    TLS_CLIENT_CERT_FILE = "tls-client-cert-file" [] Str, "", 0;
    TLS_CLIENT_KEY_FILE = "tls-client-key-file" [] Str, "", 0;
    TLS_CLIENT_KEY_FILE_PASS = "tls-client-key-file-pass" [] Str, "", SENSITIVE;
    TLS_CLUSTER = "tls-cluster" [] Bool, "no", 0;
    TLS_DH_PARAMS_FILE = "tls-dh-params-file" [] Str, "", 0;
    TLS_KEY_FILE = "tls-key-file" [] Str, "", 0;
    TLS_KEY_FILE_PASS = "tls-key-file-pass" [] Str, "", SENSITIVE;
    TLS_PORT = "tls-port" [] Int(0, 65535), "0", 0;
    TLS_PREFER_SERVER_CIPHERS = "tls-prefer-server-ciphers" [] Bool, "no", 0;
    TLS_PROTOCOLS = "tls-protocols" [] Str, "", 0;
    TLS_REPLICATION = "tls-replication" [] Bool, "no", 0;
    TLS_SESSION_CACHE_SIZE = "tls-session-cache-size" [] Int(0, i32::MAX as i64), "20480", 0;
    TLS_SESSION_CACHE_TIMEOUT = "tls-session-cache-timeout" [] Int(0, i32::MAX as i64), "300", 0;
    TLS_SESSION_CACHING = "tls-session-caching" [] Bool, "yes", 0;
    TRACKING_TABLE_MAX_KEYS = "tracking-table-max-keys" [] Int(0, M), "1000000", 0;
    UNIXSOCKET = "unixsocket" [] Str, "", IMMUTABLE;
    UNIXSOCKETPERM = "unixsocketperm" [] Opaque, "0", IMMUTABLE;
    ZSET_MAX_LISTPACK_ENTRIES = "zset-max-listpack-entries" ["zset-max-ziplist-entries"] Int(0, M), "128", 0;
    ZSET_MAX_LISTPACK_VALUE = "zset-max-listpack-value" ["zset-max-ziplist-value"] Mem(0, M), "64", 0;
}

/// Directives that may appear in redis.conf but are not CONFIG parameters.
/// They are accepted (with a warning where Redust ignores them).
pub const FILE_ONLY: &[&str] = &["include", "rename-command", "user", "loadmodule", "sentinel"];

pub fn find(name: &str) -> Option<(usize, &'static Directive)> {
    let lname = name.to_ascii_lowercase();
    TABLE
        .iter()
        .enumerate()
        .find(|(_, d)| d.name == lname || d.aliases.contains(&lname.as_str()))
}
