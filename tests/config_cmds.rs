//! CONFIG GET/SET/RESETSTAT/REWRITE through real clients, with error texts
//! and reply bytes compared with a real redis-server, and the run-time
//! effect of changed parameters.

mod common;
mod helpers;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use helpers::*;
use redust::resp::reply::Frame;

/// CONFIG GET as a name → value map (RESP2 flat array).
fn config_map(r: &mut Raw, patterns: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec!["CONFIG", "GET"];
    args.extend_from_slice(patterns);
    match r.call(&args) {
        Frame::Array(Some(v)) => {
            assert_eq!(v.len() % 2, 0);
            let mut m = BTreeMap::new();
            for kv in v.chunks(2) {
                assert!(m.insert(text(&kv[0]), text(&kv[1])).is_none(), "duplicate name in CONFIG GET {patterns:?}");
            }
            m
        }
        other => panic!("CONFIG GET {patterns:?}: {other:?}"),
    }
}

fn get1(r: &mut Raw, name: &str) -> String {
    config_map(r, &[name]).remove(name).unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn config_get_globs_and_several_patterns_match_redis() {
    let p = Pair::start(&[]);
    let mut ours = p.redust.raw();
    let mut theirs = p.redis.as_ref().map(|s| s.raw());
    for pats in [
        &["maxmemory*"][..],
        &["hash-max-*"],
        &["*-ziplist-*"],
        &["slave-*"],
        &["repl-*"],
        &["*policy*", "timeout", "hz"],
        &["maxmemory", "maxmemory*", "MAXMEMORY"],
        &["TIMEOUT"],
        &["no-such-parameter", "nosuch*"],
        &["appendfsync", "list-max-[lz]*-size"],
    ] {
        let m = config_map(&mut ours, pats);
        if let Some(t) = theirs.as_mut() {
            assert_eq!(m, config_map(t, pats), "CONFIG GET {pats:?}");
        }
    }
    let m = config_map(&mut ours, &["port", "timeout", "hz"]);
    assert_eq!(m.len(), 3);
    assert_eq!(m["port"], p.redust.port.to_string());
    assert!(config_map(&mut ours, &["nosuch*"]).is_empty());
    // Every parameter, each once; all of Redis 7.0's are there.
    let all = config_map(&mut ours, &["*"]);
    assert!(all.len() > 150, "{}", all.len());
    if let Some(t) = theirs.as_mut() {
        let missing: Vec<_> = config_map(t, &["*"]).into_keys().filter(|k| !all.contains_key(k)).collect();
        assert!(missing.is_empty(), "parameters redis-server has and Redust lacks: {missing:?}");
    }
}

#[test]
fn config_get_in_resp3_is_a_map() {
    let p = Pair::start(&[]);
    let mut r = p.redust.raw();
    assert!(matches!(r.call(&["HELLO", "3"]), Frame::Map(_)));
    match r.call(&["CONFIG", "GET", "maxmemory", "timeout"]) {
        Frame::Map(m) => {
            let m: BTreeMap<String, String> = m.iter().map(|(k, v)| (text(k), text(v))).collect();
            assert_eq!(m.len(), 2);
            assert_eq!(m["maxmemory"], "0");
            assert_eq!(m["timeout"], "0");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(r.call(&["CONFIG", "GET", "nosuch"]), Frame::Map(vec![]));
    // Byte for byte with one parameter (several come in hash order in Redis).
    p.assert_same(&[&["HELLO", "3"]], &["CONFIG", "GET", "maxmemory"]);
    p.assert_same(&[&["HELLO", "3"]], &["CONFIG", "GET", "nosuch"]);
    // Through the redis crate in RESP3 too.
    let url = format!("redis://127.0.0.1:{}/?protocol=resp3", p.redust.port);
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let v: BTreeMap<String, String> = redis::cmd("CONFIG").arg("GET").arg("hz").query(&mut c).unwrap();
    assert_eq!(v.get("hz").map(String::as_str), Some("10"));
}

#[test]
fn aliases_read_and_write_the_same_parameter() {
    let p = Pair::start(&[]);
    let mut c = p.redust.client();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("hash-max-ziplist-entries").arg("100").query(&mut c).unwrap();
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("hash-max-listpack-entries").query(&mut c).unwrap();
    assert_eq!(v, vec!["hash-max-listpack-entries", "100"]);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("slave-read-only").arg("no").query(&mut c).unwrap();
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("replica-read-only").query(&mut c).unwrap();
    assert_eq!(v, vec!["replica-read-only", "no"]);
    // The alias is reported under the name asked for, as Redis does.
    let setup: &[&[&str]] = &[&["CONFIG", "SET", "hash-max-listpack-entries", "200"]];
    p.assert_same(setup, &["CONFIG", "GET", "hash-max-ziplist-entries"]);
    // Name and alias together are allowed; the last one wins.
    p.assert_same(&[], &["CONFIG", "SET", "hash-max-ziplist-entries", "5", "hash-max-listpack-entries", "6"]);
    p.assert_same(&[&["CONFIG", "SET", "hash-max-ziplist-entries", "5", "hash-max-listpack-entries", "6"]], &["CONFIG", "GET", "hash-max-listpack-entries"]);
}

#[test]
fn config_set_several_pairs_is_all_or_nothing() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.call(&["CONFIG", "SET", "timeout", "5", "maxmemory-policy", "allkeys-lru", "maxmemory", "bogus"]),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")
    );
    assert_eq!(get1(&mut r, "timeout"), "0");
    assert_eq!(get1(&mut r, "maxmemory-policy"), "noeviction");
    assert_eq!(get1(&mut r, "maxmemory"), "0");
    // An unknown name later in the list also changes nothing.
    assert!(matches!(r.call(&["CONFIG", "SET", "timeout", "5", "nosuch", "1"]), Frame::Error(_)));
    assert_eq!(get1(&mut r, "timeout"), "0");
    assert_eq!(
        r.call(&["CONFIG", "SET", "timeout", "5", "maxmemory-policy", "allkeys-lru", "maxmemory", "2mb"]),
        simple("OK")
    );
    assert_eq!(get1(&mut r, "timeout"), "5");
    assert_eq!(get1(&mut r, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(get1(&mut r, "maxmemory"), (2 << 20).to_string());
}

/// CONFIG SET cases whose replies (and the values they leave) must equal
/// redis-server 7.0's byte for byte.
const SET_CASES: &[&[&str]] = &[
    // unknown parameter
    &["CONFIG", "SET", "no-such-param", "1"],
    // bad bool
    &["CONFIG", "SET", "appendonly", "maybe"],
    &["CONFIG", "SET", "protected-mode", "1"],
    // ints: out of range, not a number, strict syntax
    &["CONFIG", "SET", "maxclients", "0"],
    &["CONFIG", "SET", "timeout", "-1"],
    &["CONFIG", "SET", "timeout", "9223372036854775807"],
    &["CONFIG", "SET", "timeout", "99999999999999999999"],
    &["CONFIG", "SET", "hz", "abc"],
    &["CONFIG", "SET", "hz", "+5"],
    &["CONFIG", "SET", "hz", "05"],
    &["CONFIG", "SET", "port", "65536"],
    &["CONFIG", "SET", "maxmemory-samples", "100"],
    &["CONFIG", "SET", "lfu-log-factor", "2147483648"],
    &["CONFIG", "SET", "tcp-keepalive", "-1"],
    &["CONFIG", "SET", "active-expire-effort", "11"],
    // memory values
    &["CONFIG", "SET", "maxmemory", "12xb"],
    &["CONFIG", "SET", "maxmemory", "-1"],
    &["CONFIG", "SET", "maxmemory", "1.5gb"],
    &["CONFIG", "SET", "proto-max-bulk-len", "1000"],
    &["CONFIG", "SET", "proto-max-bulk-len", "99999999999999999999"],
    &["CONFIG", "SET", "client-query-buffer-limit", "1k"],
    &["CONFIG", "SET", "hash-max-listpack-value", "1kb"],
    &["CONFIG", "SET", "hll-sparse-max-bytes", ""],
    &["CONFIG", "SET", "maxmemory", "1GB"],
    // enums
    &["CONFIG", "SET", "maxmemory-policy", "sometimes"],
    &["CONFIG", "SET", "appendfsync", "often"],
    &["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LFU"],
    // immutable and protected
    &["CONFIG", "SET", "daemonize", "yes"],
    &["CONFIG", "SET", "databases", "4"],
    &["CONFIG", "SET", "unixsocket", "/tmp/x.sock"],
    &["CONFIG", "SET", "dir", "/tmp"],
    &["CONFIG", "SET", "dbfilename", "x.rdb"],
    // duplicates, arity, names checked before values
    &["CONFIG", "SET", "timeout", "1", "TIMEOUT", "2"],
    &["CONFIG", "SET", "timeout"],
    &["CONFIG", "SET", "timeout", "1", "hz"],
    &["CONFIG", "SET", "timeout", "abc", "nosuch", "1"],
    &["CONFIG", "SET", "timeout", "abc", "daemonize", "no"],
    // parameters with a syntax of their own
    &["CONFIG", "SET", "save", "100"],
    &["CONFIG", "SET", "save", "100 x"],
    &["CONFIG", "SET", "save", "0100 01 200 2"],
    &["CONFIG", "SET", "notify-keyspace-events", "KQ"],
    &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
    &["CONFIG", "SET", "notify-keyspace-events", "Ex"],
    &["CONFIG", "SET", "maxmemory-clients", "101%"],
    &["CONFIG", "SET", "maxmemory-clients", "abc"],
    &["CONFIG", "SET", "maxmemory-clients", "10%"],
    &["CONFIG", "SET", "oom-score-adj-values", "1 2"],
    &["CONFIG", "SET", "oom-score-adj-values", "a b c"],
    &["CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"],
    &["CONFIG", "SET", "latency-tracking-info-percentiles", "abc"],
    &["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99.90"],
    &["CONFIG", "SET", "cluster-announce-hostname", "a b"],
    &["CONFIG", "SET", "client-output-buffer-limit", "normal 1 2"],
    &["CONFIG", "SET", "client-output-buffer-limit", "bogus 1 2 3"],
    &["CONFIG", "SET", "client-output-buffer-limit", "pubsub 64mb 16mb 90"],
    // values Redis brings into range
    &["CONFIG", "SET", "hz", "0"],
    &["CONFIG", "SET", "repl-backlog-size", "100"],
    // other CONFIG errors
    &["CONFIG", "GET"],
    &["CONFIG", "FOO"],
    &["CONFIG", "RESETSTAT", "x"],
    &["CONFIG", "REWRITE"],
];

const CHECKED: &[&str] = &[
    "appendonly", "protected-mode", "maxclients", "timeout", "hz", "port", "maxmemory-samples", "lfu-log-factor",
    "tcp-keepalive", "active-expire-effort", "maxmemory", "proto-max-bulk-len", "client-query-buffer-limit",
    "hash-max-listpack-value", "hll-sparse-max-bytes", "maxmemory-policy", "appendfsync", "save",
    "notify-keyspace-events", "maxmemory-clients", "oom-score-adj-values", "latency-tracking-info-percentiles",
    "cluster-announce-hostname", "client-output-buffer-limit", "repl-backlog-size",
];

#[test]
fn config_set_errors_and_values_match_redis() {
    if !have_redis() {
        eprintln!("redis-server not installed; skipping");
        return;
    }
    let p = Pair::start(&[]);
    let mut ours = p.redust.raw();
    let mut theirs = p.redis.as_ref().unwrap().raw();
    for case in SET_CASES {
        let a = ours.call_raw(case);
        let b = theirs.call_raw(case);
        assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b), "reply to {case:?} (left: redust, right: redis)");
        for name in CHECKED {
            if *name == "port" {
                continue;
            }
            assert_eq!(get1(&mut ours, name), get1(&mut theirs, name), "{name} after {case:?}");
        }
    }
    // The exact texts, for the record (Redis 7.0.15's).
    let mut r = p.redust.raw();
    for (args, want) in [
        (&["CONFIG", "SET", "foo", "bar"][..], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (&["CONFIG", "SET", "appendonly", "maybe"], "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'"),
        (&["CONFIG", "SET", "maxclients", "0"], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
        (&["CONFIG", "SET", "maxmemory", "12xb"], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
        (&["CONFIG", "SET", "maxmemory-policy", "x"], "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
        (&["CONFIG", "SET", "daemonize", "yes"], "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
    ] {
        assert_eq!(r.call(args), err(want));
    }
}

#[test]
fn huge_timeout_is_refused_and_the_server_keeps_serving() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert!(matches!(r.call(&["CONFIG", "SET", "timeout", "9223372036854775807"]), Frame::Error(_)));
    assert_eq!(r.call(&["CONFIG", "SET", "timeout", "2147483647"]), simple("OK"));
    // New connections still work with the largest timeout.
    let mut r2 = s.raw();
    assert_eq!(r2.call(&["PING"]), simple("PONG"));
    assert_eq!(r.call(&["PING"]), simple("PONG"));
}

#[test]
fn config_set_timeout_closes_idle_clients_now() {
    let s = Server::start(&[]);
    // Connected and idle before the change.
    let mut idle = s.raw();
    assert_eq!(idle.call(&["PING"]), simple("PONG"));
    let mut admin = s.raw();
    assert_eq!(admin.call(&["CONFIG", "SET", "timeout", "1"]), simple("OK"));
    // Connected after the change and never says anything.
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    // A client that keeps talking stays connected.
    let mut busy = s.raw();
    let start = Instant::now();
    let mut t_idle = None;
    let mut t_silent = None;
    let quick = Duration::from_millis(1);
    while start.elapsed() < Duration::from_secs(6) && (t_idle.is_none() || t_silent.is_none()) {
        assert_eq!(busy.call(&["PING"]), simple("PONG"), "an active client was closed");
        if t_idle.is_none() && closed_within(&mut idle.stream, quick) {
            t_idle = Some(start.elapsed());
        }
        if t_silent.is_none() && closed_within(&mut silent, quick) {
            t_silent = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let t_idle = t_idle.expect("idle client not closed within 6 s of CONFIG SET timeout 1");
    let t_silent = t_silent.expect("silent client not closed within 6 s");
    assert!(t_idle >= Duration::from_millis(500), "closed too early: {t_idle:?}");
    assert!(t_silent >= Duration::from_millis(500), "closed too early: {t_silent:?}");
    assert_eq!(busy.call(&["CONFIG", "SET", "timeout", "0"]), simple("OK"));
}

#[test]
fn config_set_maxclients_refuses_extra_clients() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    assert_eq!(a.call(&["CONFIG", "SET", "maxclients", "2"]), simple("OK"));
    let mut b = s.raw();
    assert_eq!(b.call(&["PING"]), simple("PONG"));
    let (bytes, closed) = exchange(s.port, b"", Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&bytes), "-ERR max number of clients reached\r\n");
    assert!(closed);
    drop(b);
    // The slot is free again once a client leaves.
    assert!(wait_until(Duration::from_secs(5), || {
        let (bytes, _) = exchange(s.port, b"PING\r\n", Duration::from_millis(500));
        bytes == b"+PONG\r\n"
    }));
    assert_eq!(a.call(&["CONFIG", "SET", "maxclients", "10000"]), simple("OK"));
    let stats = info(&mut a, &["stats"]);
    assert!(info_field(&stats, "rejected_connections").unwrap().parse::<u64>().unwrap() >= 1);
}

#[test]
fn config_resetstat_clears_counters() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.call(&["SET", "k", "v"]);
    r.call(&["GET", "k"]);
    r.call(&["GET", "missing"]);
    r.call(&["NOSUCHCOMMAND"]);
    let before = info(&mut r, &["stats"]);
    assert_eq!(info_field(&before, "keyspace_hits").as_deref(), Some("1"));
    assert_eq!(info_field(&before, "keyspace_misses").as_deref(), Some("1"));
    assert!(info(&mut r, &["errorstats"]).contains("errorstat_ERR:count=1"));
    assert!(info(&mut r, &["commandstats"]).contains("cmdstat_get:calls=2"));
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), simple("OK"));
    let after = info(&mut r, &["stats"]);
    assert_eq!(info_field(&after, "keyspace_hits").as_deref(), Some("0"));
    assert_eq!(info_field(&after, "keyspace_misses").as_deref(), Some("0"));
    assert_eq!(info_field(&after, "total_error_replies").as_deref(), Some("0"));
    let cmds: u64 = info_field(&after, "total_commands_processed").unwrap().parse().unwrap();
    assert!(cmds <= 2, "total_commands_processed={cmds}");
    assert!(!info(&mut r, &["errorstats"]).contains("errorstat_"));
    assert!(!info(&mut r, &["commandstats"]).contains("cmdstat_get"));
    // The data is untouched.
    assert_eq!(r.call(&["GET", "k"]), bulk("v"));
}

const REWRITE_CONF: &str = "# Redust test config\n# second comment line\n\ntimeout 0\nmaxmemory 10mb\n\n# eviction\nmaxmemory-policy noeviction\nhash-max-ziplist-entries 128\n\n# snapshots\nsave 900 1\nsave 300 10\n# the end\n";

#[test]
fn config_rewrite_keeps_comments_and_order_and_survives_restart() {
    let dir = temp_dir("rewrite");
    let conf = write_file(&dir, "redis.conf", REWRITE_CONF);
    let log = dir.join("log");
    let log_s = log.to_str().unwrap().to_string();
    let mut s1 = start_exact(redust_bin(), &dir, &log, &[conf.to_str().unwrap(), "--logfile", &log_s]);
    let mut r = s1.raw();
    assert_eq!(get1(&mut r, "save"), "900 1 300 10");
    assert_eq!(
        r.call(&["CONFIG", "SET", "timeout", "30", "maxmemory", "20mb", "save", "60 5", "hash-max-listpack-entries", "200", "lfu-log-factor", "7"]),
        simple("OK")
    );
    assert_eq!(r.call(&["CONFIG", "REWRITE"]), simple("OK"));
    let text = std::fs::read_to_string(&conf).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Comments and blank lines stay where they were, directives are updated
    // in place, the second `save` line goes, new values are appended.
    let want_prefix = [
        "# Redust test config",
        "# second comment line",
        "",
        "timeout 30",
    ];
    assert_eq!(&lines[..4], &want_prefix, "{text}");
    let pos = |needle: &str| lines.iter().position(|l| l.starts_with(needle)).unwrap_or_else(|| panic!("no {needle:?} in\n{text}"));
    assert!(lines[pos("maxmemory ")] == "maxmemory 20971520" || lines[pos("maxmemory ")] == "maxmemory 20mb", "{text}");
    assert!(pos("maxmemory ") < pos("# eviction"));
    assert!(pos("# eviction") < pos("maxmemory-policy noeviction"));
    let hash = lines[pos("hash-max-")];
    assert!(hash == "hash-max-listpack-entries 200" || hash == "hash-max-ziplist-entries 200", "{text}");
    assert!(pos("hash-max-") < pos("# snapshots"));
    assert_eq!(lines[pos("# snapshots") + 1], "save 60 5", "{text}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("save ")).count(), 1, "{text}");
    assert!(pos("save ") < pos("# the end"));
    assert!(pos("# the end") < pos("lfu-log-factor 7"), "{text}");
    assert!(log_text_has(&log, "CONFIG REWRITE executed with success"));

    // Restart from the rewritten file: the values are there.
    s1.stop();
    let s2 = start_exact(redust_bin(), &dir, &log, &[conf.to_str().unwrap(), "--port", &free_port().to_string()]);
    let mut r = s2.raw();
    assert_eq!(get1(&mut r, "timeout"), "30");
    assert_eq!(get1(&mut r, "maxmemory"), "20971520");
    assert_eq!(get1(&mut r, "save"), "60 5");
    assert_eq!(get1(&mut r, "hash-max-listpack-entries"), "200");
    assert_eq!(get1(&mut r, "lfu-log-factor"), "7");
    assert_eq!(get1(&mut r, "maxmemory-policy"), "noeviction");
    // A second rewrite with nothing changed keeps the file as it is (but
    // for the port, given on this server's command line, and the default
    // user's line, which gains sanitize-payload once read back, as in Redis).
    let no_port = |t: String| t.lines().filter(|l| !l.starts_with("port ") && !l.starts_with("user ")).collect::<Vec<_>>().join("\n");
    let before = std::fs::read_to_string(&conf).unwrap();
    assert_eq!(r.call(&["CONFIG", "REWRITE"]), simple("OK"));
    let after = std::fs::read_to_string(&conf).unwrap();
    assert_eq!(no_port(after.clone()), no_port(before));
    assert!(after.contains(&format!("port {}", s2.port)), "{after}");
    assert_eq!(after.matches("# Generated by CONFIG REWRITE").count(), 1, "{after}");
}

fn log_text_has(log: &std::path::Path, needle: &str) -> bool {
    wait_until(Duration::from_secs(5), || std::fs::read_to_string(log).unwrap_or_default().contains(needle))
}

#[test]
fn config_rewrite_without_config_file_fails_like_redis() {
    let p = Pair::start(&[]);
    let bytes = p.assert_same(&[], &["CONFIG", "REWRITE"]);
    assert_eq!(bytes, b"-ERR The server is running without a config file\r\n");
}

#[test]
fn config_set_loglevel_applies_at_run_time() {
    let dir = temp_dir("loglevel");
    let conf = write_file(&dir, "redis.conf", "loglevel notice\n");
    let log = dir.join("log");
    let s = start_exact(redust_bin(), &dir, &log, &[conf.to_str().unwrap(), "--logfile", log.to_str().unwrap()]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "SET", "loglevel", "warning"]), simple("OK"));
    assert_eq!(r.call(&["CONFIG", "REWRITE"]), simple("OK"));
    // Notice-level lines are no longer written...
    assert_eq!(r.call(&["CONFIG", "SET", "loglevel", "notice"]), simple("OK"));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("CONFIG REWRITE executed"), "{text}");
    // ...and are again once the level is back to notice.
    assert_eq!(r.call(&["CONFIG", "REWRITE"]), simple("OK"));
    assert!(log_text_has(&log, "CONFIG REWRITE executed"));
}
