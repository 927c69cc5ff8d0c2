//! Server commands and behaviour through real clients: INFO sections and
//! fields, COMMAND introspection, DEBUG (refused by default; PROTOCOL,
//! SLEEP, SET-ACTIVE-EXPIRE when enabled), SHUTDOWN, idle timeout,
//! maxclients and active expiry. Compared with a real redis-server where
//! the behaviour is the same in Redis 7.0.

mod common;
mod helpers;

use std::time::{Duration, Instant};

use common::*;
use helpers::*;
use redust::resp::reply::{encode_request, Frame};

/// The `# Section` headers of INFO output, in order.
fn headers(info: &str) -> Vec<String> {
    info.lines().filter(|l| l.starts_with("# ")).map(|l| l.trim_end().to_string()).collect()
}

fn num(info: &str, field: &str) -> i64 {
    info_field(info, field).unwrap_or_else(|| panic!("no {field} in INFO")).parse().unwrap_or_else(|_| panic!("{field} not a number"))
}

#[test]
fn info_sections_and_field_names() {
    let p = Pair::start(&[]);
    let s = &p.redust;
    let mut r = s.raw();
    let _other = s.raw();
    r.call(&["SET", "a", "1"]);
    r.call(&["SET", "b", "2", "EX", "1000"]);
    r.call(&["GET", "a"]);
    r.call(&["GET", "a"]);
    r.call(&["GET", "missing"]);
    r.call(&["NOSUCH"]);

    let all = info(&mut r, &[]);
    assert_eq!(
        headers(&all),
        ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Modules", "# Errorstats", "# Cluster", "# Keyspace"]
    );
    // Server
    assert_eq!(info_field(&all, "redis_version").as_deref(), Some("7.2.4"));
    assert_eq!(info_field(&all, "redust_version").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(info_field(&all, "redis_mode").as_deref(), Some("standalone"));
    assert_eq!(num(&all, "tcp_port"), s.port as i64);
    assert_eq!(num(&all, "process_id"), pid_of(s) as i64);
    assert!(num(&all, "uptime_in_seconds") >= 0);
    assert_eq!(info_field(&all, "run_id").unwrap().len(), 40);
    // Clients
    assert_eq!(num(&all, "connected_clients"), 2);
    assert_eq!(num(&all, "maxclients"), 10000);
    // Memory
    assert!(num(&all, "used_memory") > 0);
    assert!(num(&all, "used_memory_rss") > 0);
    assert!(info_field(&all, "used_memory_human").is_some());
    assert_eq!(info_field(&all, "maxmemory_policy").as_deref(), Some("noeviction"));
    // Stats
    assert_eq!(num(&all, "keyspace_hits"), 2);
    assert_eq!(num(&all, "keyspace_misses"), 1);
    assert_eq!(num(&all, "expired_keys"), 0);
    assert!(num(&all, "total_commands_processed") >= 6);
    assert!(num(&all, "total_connections_received") >= 2);
    assert_eq!(num(&all, "total_error_replies"), 1);
    // Replication, persistence
    assert_eq!(info_field(&all, "role").as_deref(), Some("master"));
    assert_eq!(num(&all, "loading"), 0);
    // Errorstats
    assert_eq!(info_field(&all, "errorstat_ERR").as_deref(), Some("count=1"));
    // Keyspace: db0:keys=2,expires=1,avg_ttl=<ms>
    let db0 = info_field(&all, "db0").expect("db0 line");
    let parts: Vec<&str> = db0.split(',').collect();
    assert_eq!(parts[0], "keys=2");
    assert_eq!(parts[1], "expires=1");
    let avg: i64 = parts[2].strip_prefix("avg_ttl=").unwrap().parse().unwrap();
    assert!(avg > 900_000 && avg <= 1_000_000, "{db0}");

    // Several sections, in Redis's order whatever the order asked.
    let two = info(&mut r, &["keyspace", "server"]);
    assert_eq!(headers(&two), ["# Server", "# Keyspace"]);
    let cs = info(&mut r, &["commandstats"]);
    assert!(cs.contains("cmdstat_get:calls=3,usec="), "{cs}");
    assert!(cs.contains("cmdstat_set:calls=2,"), "{cs}");
    assert!(headers(&info(&mut r, &["all"])).contains(&"# Commandstats".to_string()));
    assert!(headers(&info(&mut r, &["everything"])).contains(&"# Commandstats".to_string()));
    assert!(!headers(&info(&mut r, &["default"])).contains(&"# Commandstats".to_string()));
    assert_eq!(info(&mut r, &["nosuchsection"]), "");
    // Sections as redis-server lists them.
    if let Some(redis) = &p.redis {
        let mut t = redis.raw();
        for sec in [&[][..], &["all"], &["everything"], &["default"], &["server", "clients"], &["CPU", "memory"], &["nosuch"]] {
            assert_eq!(headers(&info(&mut r, sec)), headers(&info(&mut t, sec)), "INFO {sec:?}");
        }
        // Every field Redis 7.0 has in these sections, Redust has too.
        for sec in ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "cluster"] {
            let ours = info(&mut r, &[sec]);
            let theirs = info(&mut t, &[sec]);
            for line in theirs.lines().filter(|l| l.contains(':')) {
                let name = line.split(':').next().unwrap();
                assert!(info_field(&ours, name).is_some(), "INFO {sec} lacks {name}");
            }
        }
    }
    // The redis crate parses INFO too.
    let mut c = s.client();
    let text: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    assert!(text.contains("redis_version:7.2.4"));
}

#[test]
fn info_keyspace_counts_expired_keys() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for db in ["0", "2"] {
        r.call(&["SELECT", db]);
        r.call(&["SET", "p", "x"]);
        r.call(&["SET", "e", "x", "PX", "100"]);
    }
    let ks = info(&mut r, &["keyspace"]);
    assert!(ks.contains("db0:keys=2,expires=1,"), "{ks}");
    assert!(ks.contains("db2:keys=2,expires=1,"), "{ks}");
    assert!(wait_until(Duration::from_secs(5), || num(&info(&mut r, &["stats"]), "expired_keys") == 2));
    let ks = info(&mut r, &["keyspace"]);
    assert!(ks.contains("db0:keys=1,expires=0,avg_ttl=0"), "{ks}");
    assert!(ks.contains("db2:keys=1,expires=0,avg_ttl=0"), "{ks}");
}

#[test]
fn command_count_list_info_docs() {
    let p = Pair::start(&[]);
    let mut r = p.redust.raw();
    let count = match r.call(&["COMMAND", "COUNT"]) {
        Frame::Int(n) => n as usize,
        other => panic!("{other:?}"),
    };
    let all = match r.call(&["COMMAND"]) {
        Frame::Array(Some(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(all.len(), count);
    let list = match r.call(&["COMMAND", "LIST"]) {
        Frame::Array(Some(v)) => v.iter().map(text).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    // COMMAND LIST has every command and subcommand, each once.
    assert!(list.len() > count);
    for name in ["get", "set", "config", "config|get", "client|kill", "command|getkeys", "info", "hello"] {
        assert_eq!(list.iter().filter(|n| *n == name).count(), 1, "{name}");
    }
    let filtered = match r.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "get*"]) {
        Frame::Array(Some(v)) => v.iter().map(text).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(filtered.contains(&"get".to_string()) && filtered.iter().all(|n| n.starts_with("get")));
    // COMMAND INFO entries as Redis 7.0 shapes them.
    for args in [
        &["COMMAND", "INFO", "get"][..],
        &["COMMAND", "INFO", "strlen"],
        &["COMMAND", "INFO", "incr"],
        &["COMMAND", "INFO", "getdel"],
        &["COMMAND", "INFO", "select"],
        &["COMMAND", "INFO", "config|get"],
        &["COMMAND", "INFO", "GET", "nosuch"],
        &["COMMAND", "INFO", "nosuch"],
        &["COMMAND", "NOSUCH"],
        &["COMMAND", "COUNT", "x"],
        &["COMMAND", "LIST", "FILTERBY", "bogus", "x"],
        &["COMMAND", "DOCS", "nosuch"],
    ] {
        p.assert_same(&[], args);
    }
    p.assert_same(&[&["HELLO", "3"]], &["COMMAND", "INFO", "get", "nosuch"]);
    // COMMAND DOCS: summary, since and group for each command.
    match r.call(&["COMMAND", "DOCS", "get"]) {
        Frame::Array(Some(v)) => {
            assert_eq!(text(&v[0]), "get");
            let doc: Vec<String> = match &v[1] {
                Frame::Array(Some(d)) => d.iter().step_by(2).map(text).collect(),
                other => panic!("{other:?}"),
            };
            for k in ["summary", "since", "group"] {
                assert!(doc.contains(&k.to_string()), "{doc:?}");
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn command_getkeys_matches_redis() {
    let p = Pair::start(&[]);
    let cases: &[&[&str]] = &[
        &["COMMAND", "GETKEYS", "SET", "a", "b"],
        &["COMMAND", "GETKEYS", "GET", "k"],
        &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
        &["COMMAND", "GETKEYS", "MGET", "a", "b", "c"],
        &["COMMAND", "GETKEYS", "DEL", "a", "b", "c"],
        &["COMMAND", "GETKEYS", "RENAME", "a", "b"],
        &["COMMAND", "GETKEYS", "set", "a", "b", "EX", "10"],
        &["COMMAND", "GETKEYS"],
        &["COMMAND", "GETKEYS", "GET"],
        &["COMMAND", "GETKEYS", "EXISTS"],
        &["COMMAND", "GETKEYS", "PING", "x"],
        &["COMMAND", "GETKEYS", "SET", "a"],
        &["COMMAND", "GETKEYS", "NOSUCH", "k"],
        &["COMMAND", "GETKEYS", "CONFIG", "GET", "x"],
        &["COMMAND", "GETKEYSANDFLAGS", "SET", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "GET", "a"],
        &["COMMAND", "GETKEYSANDFLAGS", "DEL", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "RENAME", "a", "b"],
        &["COMMAND", "GETKEYSANDFLAGS", "INCR", "a"],
        &["COMMAND", "GETKEYSANDFLAGS", "GET"],
    ];
    for c in cases {
        p.assert_same(&[], c);
    }
    let mut r = p.redust.raw();
    assert_eq!(
        r.call(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        Frame::Array(Some(vec![bulk("a"), bulk("b")]))
    );
}

#[test]
fn debug_is_refused_unless_enabled() {
    let p = Pair::start(&[]);
    for args in [&["DEBUG", "SLEEP", "0"][..], &["DEBUG", "PROTOCOL", "map"], &["DEBUG", "HELP"]] {
        let bytes = p.assert_same(&[], args);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n"
        );
    }
    // `local` allows loopback and unix-socket clients.
    let s = Server::start(&["--enable-debug-command", "local"]);
    assert_eq!(s.raw().call(&["DEBUG", "SLEEP", "0"]), simple("OK"));
}

/// DEBUG DIGEST / DIGEST-VALUE replies that do not depend on the digest
/// function match Redis byte for byte: all zeros for an empty dataset and
/// for missing keys, the array's length, the arity error. (The digests of
/// data are Redust's own; tests/persistence.rs checks what they follow.)
#[test]
fn debug_digest_replies_match_redis() {
    let p = Pair::start(&["--enable-debug-command", "yes"]);
    let zeros = format!("+{}\r\n", "0".repeat(40));
    assert_eq!(p.assert_same(&[], &["DEBUG", "DIGEST"]), zeros.as_bytes());
    p.assert_same(&[], &["DEBUG", "DIGEST", "extra"]);
    p.assert_same(&[], &["DEBUG", "DIGEST-VALUE"]);
    p.assert_same(&[], &["DEBUG", "DIGEST-VALUE", "nokey", "other"]);
    p.assert_same(&[&["HELLO", "3"]], &["DEBUG", "DIGEST-VALUE", "nokey"]);
}

#[test]
fn debug_protocol_resp2_and_resp3_types_match_redis() {
    let p = Pair::start(&["--enable-debug-command", "yes"]);
    let types = ["string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push", "verbatim", "true", "false", "nosuchtype"];
    for t in types {
        p.assert_same(&[], &["DEBUG", "PROTOCOL", t]);
        p.assert_same(&[&["HELLO", "3"]], &["DEBUG", "PROTOCOL", t]);
    }
    let mut r = p.redust.raw();
    assert!(matches!(r.call(&["HELLO", "3"]), Frame::Map(_)));
    let expect = [
        ("map", Frame::Map(vec![(Frame::Int(0), Frame::Boolean(false)), (Frame::Int(1), Frame::Boolean(true)), (Frame::Int(2), Frame::Boolean(false))])),
        ("set", Frame::Set(vec![Frame::Int(0), Frame::Int(1), Frame::Int(2)])),
        ("double", Frame::Double(b"3.141".to_vec())),
        ("bignum", Frame::BigNumber(b"1234567999999999999999999999999999999".to_vec())),
        ("verbatim", Frame::Verbatim(b"txt:This is a verbatim\nstring".to_vec())),
        ("true", Frame::Boolean(true)),
        ("false", Frame::Boolean(false)),
        ("null", Frame::Null),
    ];
    for (t, want) in expect {
        assert_eq!(r.call(&["DEBUG", "PROTOCOL", t]), want, "{t}");
    }
    // A push frame comes first, then the reply.
    r.send(&["DEBUG", "PROTOCOL", "push"]);
    assert_eq!(r.read(), Frame::Push(vec![bulk("server-cpu-usage"), Frame::Int(42)]));
    assert_eq!(r.read(), bulk("Some real reply following the push reply"));
}

#[test]
fn debug_sleep_and_set_active_expire() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut r = s.raw();
    let t = Instant::now();
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.3"]), simple("OK"));
    assert!(t.elapsed() >= Duration::from_millis(290), "{:?}", t.elapsed());
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0"]), simple("OK"));
    // Without active expiry an expired key that nobody touches stays.
    assert_eq!(r.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), simple("OK"));
    assert_eq!(r.call(&["SET", "k", "v", "PX", "50"]), simple("OK"));
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(r.call(&["DBSIZE"]), Frame::Int(1));
    assert_eq!(num(&info(&mut r, &["stats"]), "expired_keys"), 0);
    // With it back on, the cron removes it.
    assert_eq!(r.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), simple("OK"));
    assert!(wait_until(Duration::from_secs(5), || r.call(&["DBSIZE"]) == Frame::Int(0)));
    assert_eq!(num(&info(&mut r, &["stats"]), "expired_keys"), 1);
}

#[test]
fn shutdown_nosave_terminates_the_process() {
    let p = Pair::start(&[]);
    p.assert_same(&[], &["SHUTDOWN", "BOGUS"]);
    p.assert_same(&[], &["SHUTDOWN", "ABORT"]);
    let mut s = Server::start(&[]);
    let mut bystander = s.raw();
    assert_eq!(bystander.call(&["PING"]), simple("PONG"));
    let (bytes, closed) = exchange(s.port, &encode_request(&["SHUTDOWN", "NOSAVE"]), Duration::from_secs(10));
    assert!(bytes.is_empty(), "SHUTDOWN replied {:?}", String::from_utf8_lossy(&bytes));
    assert!(closed);
    let st = wait_exit(&mut s, Duration::from_secs(10)).expect("process did not exit");
    assert_eq!(st.code(), Some(0));
    assert!(bystander.is_closed());
    assert!(std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err(), "still listening");
    let log = s.log_text();
    assert!(log.contains("User requested shutdown"), "{log}");
    assert!(log.contains("ready to exit"), "{log}");
    // Through redis-cli as well.
    let mut s2 = Server::start(&[]);
    let _ = cli_port(s2.port, &["SHUTDOWN", "NOSAVE"]);
    assert_eq!(wait_exit(&mut s2, Duration::from_secs(10)).and_then(|st| st.code()), Some(0));
}

#[test]
fn timeout_closes_idle_clients_only() {
    let s = Server::start(&["--timeout", "1"]);
    let mut idle = s.raw();
    assert_eq!(idle.call(&["PING"]), simple("PONG"));
    let mut busy = s.raw();
    let start = Instant::now();
    let mut closed_at = None;
    while start.elapsed() < Duration::from_secs(3) {
        assert_eq!(busy.call(&["PING"]), simple("PONG"), "an active client was closed");
        if closed_at.is_none() && closed_within(&mut idle.stream, Duration::from_millis(1)) {
            closed_at = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    let t = closed_at.expect("idle client not closed within 3 s with timeout 1");
    assert!(t >= Duration::from_millis(700), "closed after {t:?}");
    let mut r = s.raw();
    assert_eq!(num(&info(&mut r, &["clients"]), "connected_clients"), 2);
}

#[test]
fn maxclients_refuses_the_third_client_like_redis() {
    let p = Pair::start(&["--maxclients", "2"]);
    for s in std::iter::once(&p.redust).chain(p.redis.as_ref()) {
        let mut a = s.raw();
        let mut b = s.raw();
        assert_eq!(a.call(&["PING"]), simple("PONG"));
        assert_eq!(b.call(&["PING"]), simple("PONG"));
        let (bytes, closed) = exchange(s.port, b"", Duration::from_secs(5));
        assert_eq!(String::from_utf8_lossy(&bytes), "-ERR max number of clients reached\r\n");
        assert!(closed);
        // The two admitted clients keep working.
        assert_eq!(a.call(&["PING"]), simple("PONG"));
        assert_eq!(num(&info(&mut b, &["stats"]), "rejected_connections"), 1);
        assert_eq!(num(&info(&mut b, &["clients"]), "maxclients"), 2);
    }
}

#[test]
fn active_expiry_removes_keys_nobody_reads() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut req = Vec::new();
    for i in 0..1000 {
        req.extend(encode_request(&["SET", &format!("volatile:{i}"), "x", "PX", "100"]));
    }
    req.extend(encode_request(&["SET", "persistent", "x"]));
    r.send_bytes(&req);
    for _ in 0..1001 {
        assert_eq!(r.read(), simple("OK"));
    }
    let start = Instant::now();
    // Only DBSIZE and INFO: they do not touch the keys.
    assert!(
        wait_until(Duration::from_secs(6), || r.call(&["DBSIZE"]) == Frame::Int(1)),
        "keys still there after {:?}: {:?}",
        start.elapsed(),
        r.call(&["DBSIZE"])
    );
    let took = start.elapsed();
    eprintln!("1000 keys with 100 ms TTL gone after {took:?}");
    assert!(took < Duration::from_secs(3), "active expiry too slow: {took:?}");
    let stats = info(&mut r, &["stats"]);
    assert_eq!(num(&stats, "expired_keys"), 1000);
    assert_eq!(num(&stats, "keyspace_hits") + num(&stats, "keyspace_misses"), 0);
    assert!(info(&mut r, &["keyspace"]).contains("db0:keys=1,expires=0,avg_ttl=0"));
}

#[test]
fn lastsave_and_time_are_integers() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let t: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - t).abs() < 600);
}
