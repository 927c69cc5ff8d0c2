//! Operator-facing features: SLOWLOG, LATENCY, MONITOR, CLIENT PAUSE and
//! the other CLIENT switches, output buffer limits, MEMORY, INFO sections
//! and the Prometheus endpoint. Where Redis 7.0 has the feature, replies are
//! compared with a real redis-server.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{bulk, err, have_redis, Raw, Server};
use redust::resp::reply::Frame;

fn ok() -> Frame {
    common::simple("OK")
}

fn arr(f: Frame) -> Vec<Frame> {
    match f {
        Frame::Array(Some(v)) => v,
        Frame::Set(v) | Frame::Push(v) => v,
        Frame::Map(kv) => kv.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Int(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

fn text(f: Frame) -> String {
    match f {
        Frame::Bulk(Some(b)) | Frame::Verbatim(b) | Frame::Simple(b) => {
            String::from_utf8_lossy(&b).into_owned()
        }
        other => panic!("not a string: {other:?}"),
    }
}

fn info_field(r: &mut Raw, section: &str, name: &str) -> Option<String> {
    let t = text(r.call(&["INFO", section]));
    t.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.to_string()))
}

#[test]
fn slowlog_records_shortened_commands_newest_first() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        ok()
    );
    assert_eq!(r.call(&["SLOWLOG", "RESET"]), ok());
    assert_eq!(r.call(&["CLIENT", "SETNAME", "tester"]), ok());
    let big = "x".repeat(200);
    r.call(&["SET", "k", big.as_str()]);
    let mut many = vec!["RPUSH".to_string(), "l".to_string()];
    many.extend((0..40).map(|i| i.to_string()));
    r.call(&many);
    let entries = arr(r.call(&["SLOWLOG", "GET", "-1"]));
    // RESET itself was logged before the rest.
    assert!(entries.len() >= 4, "{entries:?}");
    let newest = arr(entries[0].clone());
    let args = arr(newest[3].clone());
    assert_eq!(args.len(), 32);
    assert_eq!(args[0], bulk("RPUSH"));
    assert_eq!(args[31], bulk("... (11 more arguments)"));
    assert_eq!(newest[5], bulk("tester"));
    assert!(text(newest[4].clone()).starts_with("127.0.0.1:"));
    let set = arr(entries[1].clone());
    assert_eq!(int(&set[0]) + 1, int(&newest[0]), "ids increase by one");
    let t = int(&set[1]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 5, "unix time of the entry");
    assert!(int(&set[2]) >= 0);
    let set_args = arr(set[3].clone());
    assert_eq!(
        set_args[2],
        bulk(&format!("{}... (72 more bytes)", "x".repeat(128)))
    );
    assert_eq!(arr(r.call(&["SLOWLOG", "GET", "1"])).len(), 1);
    // The length is bounded by slowlog-max-len.
    r.call(&["CONFIG", "SET", "slowlog-max-len", "3"]);
    for _ in 0..5 {
        r.call(&["PING"]);
    }
    assert_eq!(int(&r.call(&["SLOWLOG", "LEN"])), 3);
    r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    r.call(&["SLOWLOG", "RESET"]);
    r.call(&["PING"]);
    assert_eq!(
        int(&r.call(&["SLOWLOG", "LEN"])),
        0,
        "a negative threshold disables the log"
    );
}

#[test]
fn slowlog_and_latency_errors_match_redis() {
    if !have_redis() {
        return;
    }
    let ours = Server::start(&[]);
    let real = Server::start_redis(&[]);
    let cases: &[&[&str]] = &[
        &["SLOWLOG", "GET", "-2"],
        &["SLOWLOG", "GET", "x"],
        &["SLOWLOG", "GET", "1", "2"],
        &["SLOWLOG", "LEN", "1"],
        &["SLOWLOG", "NOPE"],
        &["LATENCY", "HISTORY"],
        &["LATENCY", "GRAPH", "nosuch"],
        &["LATENCY", "HISTORY", "nosuch"],
        &["LATENCY", "LATEST"],
        &["LATENCY", "RESET"],
        &["LATENCY", "DOCTOR"],
        &["LATENCY", "NOPE"],
        &["MEMORY", "USAGE"],
        &["MEMORY", "USAGE", "nokey"],
        &["MEMORY", "USAGE", "k", "SAMPLES", "x"],
        &["MEMORY", "USAGE", "k", "SAMPLES", "-1"],
        &["MEMORY", "USAGE", "k", "FOO", "1"],
        &["MEMORY", "NOPE"],
        &["MEMORY", "DOCTOR"],
        &["CLIENT", "PAUSE"],
        &["CLIENT", "PAUSE", "x"],
        &["CLIENT", "PAUSE", "-1"],
        &["CLIENT", "PAUSE", "10", "foo"],
        &["CLIENT", "NO-EVICT", "x"],
        &["CLIENT", "UNPAUSE", "x"],
        &["MONITOR", "x"],
    ];
    let (mut a, mut b) = (ours.raw(), real.raw());
    a.call(&["SET", "k", "v"]);
    b.call(&["SET", "k", "v"]);
    for c in cases {
        assert_eq!(a.call(c), b.call(c), "{c:?}");
    }
}

#[test]
fn latency_monitor_events_and_histograms() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut r = s.raw();
    assert!(text(r.call(&["LATENCY", "DOCTOR"])).contains("Latency monitoring is disabled"));
    r.call(&["CONFIG", "SET", "latency-monitor-threshold", "10"]);
    assert!(text(r.call(&["LATENCY", "DOCTOR"])).contains("no latency spike was observed"));
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.03"]), ok());
    let latest = arr(r.call(&["LATENCY", "LATEST"]));
    assert_eq!(latest.len(), 1, "{latest:?}");
    let ev = arr(latest[0].clone());
    assert_eq!(ev[0], bulk("command"));
    assert!(int(&ev[2]) >= 30 && int(&ev[3]) >= 30, "{ev:?}");
    let hist = arr(r.call(&["LATENCY", "HISTORY", "command"]));
    assert_eq!(hist.len(), 1);
    let graph = text(r.call(&["LATENCY", "GRAPH", "command"]));
    assert!(graph.starts_with("command - high "), "{graph}");
    assert!(text(r.call(&["LATENCY", "DOCTOR"])).contains("1. command: 1 latency spikes"));
    // Fast commands below the threshold are not events.
    r.call(&["PING"]);
    assert_eq!(arr(r.call(&["LATENCY", "LATEST"])).len(), 1);
    assert_eq!(int(&r.call(&["LATENCY", "RESET", "command", "nosuch"])), 1);
    assert_eq!(arr(r.call(&["LATENCY", "LATEST"])).len(), 0);

    // Per-command histograms: calls and cumulative power-of-two buckets.
    for _ in 0..3 {
        r.call(&["SET", "a", "1"]);
    }
    let h = arr(r.call(&["LATENCY", "HISTOGRAM", "set", "nosuch"]));
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(h[0], bulk("set"));
    let body = arr(h[1].clone());
    assert_eq!(body[0], bulk("calls"));
    assert_eq!(int(&body[1]), 3);
    assert_eq!(body[2], bulk("histogram_usec"));
    let buckets = arr(body[3].clone());
    let counts: Vec<i64> = buckets.iter().skip(1).step_by(2).map(int).collect();
    assert_eq!(counts.last(), Some(&3), "cumulative: {buckets:?}");
    assert!(counts.windows(2).all(|w| w[0] < w[1]));
    for k in buckets.iter().step_by(2) {
        assert_eq!(int(k).count_ones(), 1, "power of two: {buckets:?}");
    }
    // A container name covers its subcommands.
    r.call(&["CONFIG", "GET", "port"]);
    let h = arr(r.call(&["LATENCY", "HISTOGRAM", "config"]));
    assert!(h.contains(&bulk("config|get")), "{h:?}");
    let stats = text(r.call(&["INFO", "latencystats"]));
    let line = stats
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .expect("set line");
    let v = line.split_once(':').unwrap().1;
    let keys: Vec<&str> = v
        .split(',')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(keys, ["p50", "p99", "p99.9"]);
    for kv in v.split(',') {
        let num = kv.split('=').nth(1).unwrap();
        assert_eq!(num.split('.').nth(1).map(|d| d.len()), Some(3), "{line}");
    }
    r.call(&["CONFIG", "SET", "latency-tracking-info-percentiles", "90"]);
    let stats = text(r.call(&["INFO", "latencystats"]));
    assert!(
        stats.contains("latency_percentiles_usec_set:p90="),
        "{stats}"
    );
    r.call(&["CONFIG", "SET", "latency-tracking", "no"]);
    r.call(&["CONFIG", "RESETSTAT"]);
    r.call(&["SET", "a", "1"]);
    assert_eq!(arr(r.call(&["LATENCY", "HISTOGRAM"])).len(), 0);
}

/// The MONITOR lines for one command stream, with timestamps and client
/// ports replaced so two servers can be compared.
fn monitor_lines(port: u16) -> Vec<String> {
    let mut m = Raw::connect(port);
    assert_eq!(m.call(&["MONITOR"]), ok());
    let mut c = Raw::connect(port);
    let cmds: &[&[&[u8]]] = &[
        &[b"SET", b"x", b"6"],
        &[b"set", b"a\x00\"\\\n\r\t\x07\x08\xff", b"1 2"],
        &[b"SELECT", b"2"],
        &[b"GET", b"x"],
        &[b"CONFIG", b"GET", b"port"],
        &[b"AUTH", b"pw"],
        &[b"MULTI"],
        &[b"INCR", b"n"],
        &[b"EXEC"],
        &[b"NOSUCH"],
        &[b"GET"],
        &[b"HELLO", b"2", b"AUTH", b"default", b"pw"],
        &[b"CLIENT", b"SETNAME", b"x"],
        &[b"DEL", b"x", b"n"],
        &[
            b"EVAL",
            b"redis.call('set','y','1') return redis.call('get','y')",
            b"0",
        ],
        &[b"PING"],
    ];
    for a in cmds {
        c.send(a);
        c.read();
    }
    let mut lines = Vec::new();
    while lines
        .last()
        .map(|l: &String| !l.contains("\"PING\""))
        .unwrap_or(true)
    {
        match m.read() {
            Frame::Simple(s) => lines.push(String::from_utf8_lossy(&s).into_owned()),
            other => panic!("monitor sent {other:?}"),
        }
    }
    lines
        .into_iter()
        .map(|l| {
            let (_, rest) = l.split_once(' ').expect("timestamp");
            let (addr, args) = rest.split_once("] ").expect("client");
            let db = addr.trim_start_matches('[').split(' ').next().unwrap_or("");
            let who = if addr.ends_with(" lua") {
                "lua"
            } else {
                "client"
            };
            format!("[{db} {who}] {args}")
        })
        .collect()
}

#[test]
fn monitor_lines_match_redis() {
    let s = Server::start(&[]);
    let ours = monitor_lines(s.port);
    assert!(
        ours[0].starts_with("[0 client] \"set\" \"x\" \"6\"")
            || ours[0] == "[0 client] \"SET\" \"x\" \"6\"",
        "{ours:?}"
    );
    // The timestamp is seconds.microseconds of the wall clock.
    let mut m = s.raw();
    m.call(&["MONITOR"]);
    s.raw().call(&["PING"]);
    let line = text(m.read());
    let ts: f64 = line.split(' ').next().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - ts).abs() < 5.0, "{line}");
    assert_eq!(
        line.split(' ')
            .next()
            .unwrap()
            .split('.')
            .nth(1)
            .map(|f| f.len()),
        Some(6)
    );
    assert!(line.contains(" [0 127.0.0.1:"), "{line}");
    if have_redis() {
        let real = Server::start_redis(&[]);
        assert_eq!(ours, monitor_lines(real.port));
    }
}

#[test]
fn monitor_clients_cannot_touch_keys_and_redis_cli_monitor_works() {
    let s = Server::start(&[]);
    let mut m = s.raw();
    assert_eq!(m.call(&["MONITOR"]), ok());
    assert_eq!(
        m.call(&["GET", "x"]),
        err("ERR Replica can't interact with the keyspace")
    );
    let list = text(s.raw().call(&["CLIENT", "LIST"]));
    assert!(list.lines().any(|l| l.contains("flags=O ")), "{list}");
    // RESET leaves monitor mode.
    assert_eq!(m.call(&["RESET"]), common::simple("RESET"));
    assert_eq!(m.call(&["GET", "x"]), Frame::Bulk(None));

    let mut cli = std::process::Command::new("redis-cli")
        .args(["-p", &s.port.to_string(), "monitor"])
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(child) = cli.as_mut() else { return };
    std::thread::sleep(Duration::from_millis(300));
    s.raw().call(&["SET", "from-cli-test", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let out = child.wait_with_output_after_kill();
    assert!(out.contains("\"SET\" \"from-cli-test\" \"1\""), "{out}");
}

trait KillOutput {
    fn wait_with_output_after_kill(&mut self) -> String;
}

impl KillOutput for std::process::Child {
    fn wait_with_output_after_kill(&mut self) -> String {
        let mut s = String::new();
        if let Some(o) = self.stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        let _ = self.wait();
        s
    }
}

#[test]
fn client_pause_holds_writes_or_everything_until_unpause() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(admin.call(&["CLIENT", "PAUSE", "100000", "WRITE"]), ok());
    let t = Instant::now();
    assert_eq!(c.call(&["GET", "x"]), Frame::Bulk(None));
    assert_eq!(c.call(&["PING"]), common::simple("PONG"));
    assert!(t.elapsed() < Duration::from_secs(2), "reads are not paused");
    c.send(&["SET", "x", "1"]);
    std::thread::sleep(Duration::from_millis(300));
    // The executor keeps serving others while the write waits.
    assert_eq!(admin.call(&["GET", "x"]), Frame::Bulk(None));
    let list = text(admin.call(&["CLIENT", "LIST"]));
    assert!(
        list.lines()
            .any(|l| l.contains("flags=b ") && l.contains("cmd=set ")),
        "{list}"
    );
    assert_eq!(
        info_field(&mut admin, "clients", "blocked_clients").as_deref(),
        Some("1")
    );
    assert_eq!(admin.call(&["CLIENT", "UNPAUSE"]), ok());
    assert_eq!(c.read(), ok());
    assert_eq!(admin.call(&["GET", "x"]), bulk("1"));

    // ALL holds every command until the timeout, CLIENT UNPAUSE included.
    assert_eq!(admin.call(&["CLIENT", "PAUSE", "600", "ALL"]), ok());
    let t = Instant::now();
    assert_eq!(c.call(&["GET", "x"]), bulk("1"));
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    // A monitor is never paused, so it can end the pause below.
    let mut m = s.raw();
    assert_eq!(m.call(&["MONITOR"]), ok());
    // Errors are answered at once even when paused.
    admin.call(&["CLIENT", "PAUSE", "100000", "ALL"]);
    let t = Instant::now();
    assert_eq!(
        c.call(&["NOSUCHCMD"]),
        err("ERR unknown command 'NOSUCHCMD', with args beginning with: ")
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    c.send(&["GET", "x"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(m.call(&["CLIENT", "UNPAUSE"]), ok());
    assert_eq!(c.read(), bulk("1"));
}

#[test]
fn client_no_touch_keeps_lfu_counters_and_no_evict_is_a_flag() {
    let s = Server::start(&["--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0"]);
    let mut a = s.raw();
    let mut b = s.raw();
    a.call(&["SET", "k", "v"]);
    let f0 = int(&a.call(&["OBJECT", "FREQ", "k"]));
    a.call(&["GET", "k"]);
    let f1 = int(&a.call(&["OBJECT", "FREQ", "k"]));
    assert!(f1 > f0, "a normal read counts");
    assert_eq!(b.call(&["CLIENT", "NO-TOUCH", "on"]), ok());
    b.call(&["GET", "k"]);
    assert_eq!(
        int(&a.call(&["OBJECT", "FREQ", "k"])),
        f1,
        "a NO-TOUCH read does not"
    );
    b.call(&["TOUCH", "k"]);
    assert!(
        int(&a.call(&["OBJECT", "FREQ", "k"])) > f1,
        "TOUCH still does"
    );
    assert_eq!(b.call(&["CLIENT", "NO-EVICT", "on"]), ok());
    let info = text(b.call(&["CLIENT", "INFO"]));
    assert!(info.contains(" flags=eT "), "{info}");
    assert_eq!(
        b.call(&["CLIENT", "NO-TOUCH", "maybe"]),
        err("ERR syntax error")
    );
}

#[test]
fn client_kill_filters() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut old = s.raw();
    let id = int(&old.call(&["CLIENT", "ID"]));
    std::thread::sleep(Duration::from_millis(1100));
    let mut young = s.raw();
    young.call(&["PING"]);
    // MAXAGE 1 kills only connections at least a second old (not this one: SKIPME).
    assert_eq!(
        int(&admin.call(&["CLIENT", "KILL", "MAXAGE", "1", "ID", &id.to_string()])),
        1
    );
    assert!(old.is_closed());
    assert_eq!(young.call(&["PING"]), common::simple("PONG"));
    assert_eq!(
        int(&admin.call(&["CLIENT", "KILL", "USER", "default", "TYPE", "normal"])),
        1
    );
    assert!(young.is_closed());
    assert_eq!(int(&admin.call(&["CLIENT", "KILL", "TYPE", "pubsub"])), 0);
    let me = text(admin.call(&["CLIENT", "INFO"]));
    let laddr = me
        .split(' ')
        .find_map(|f| f.strip_prefix("laddr="))
        .unwrap()
        .to_string();
    let mut third = s.raw();
    third.call(&["PING"]);
    assert_eq!(
        int(&admin.call(&["CLIENT", "KILL", "LADDR", &laddr, "SKIPME", "yes"])),
        1
    );
    assert!(third.is_closed());
}

#[test]
fn output_buffer_limit_disconnects_a_client_that_does_not_read() {
    let s = Server::start(&["--client-output-buffer-limit", "normal 1mb 256kb 1"]);
    let mut r = s.raw();
    let big = "v".repeat(2 * 1024 * 1024);
    r.call(&["SET", "big", big.as_str()]);
    // A 2MB reply is over the 1MB hard limit at once.
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.write_all(b"GET big\r\n").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 65536];
    let mut got = 0;
    loop {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => panic!("client was not disconnected: {e}"),
        }
    }
    assert!(got < big.len(), "the reply was not sent whole");
    assert!(s.log_text().contains("overcoming of output buffer limits"));
    // Small replies are untouched, and the server is fine.
    r.call(&["SET", "small", "x"]);
    assert_eq!(r.call(&["GET", "small"]), bulk("x"));
    // Without limits (the default) the reply is simply sent.
    r.call(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "normal 0 0 0",
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let mut c = s.raw();
    assert_eq!(c.call(&["GET", "big"]), bulk(&big));
}

#[test]
fn memory_usage_grows_with_the_value_and_stats_have_redis_names() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.call(&["SET", "small", "x"]);
    r.call(&["SET", "large", "x".repeat(10_000).as_str()]);
    let small = int(&r.call(&["MEMORY", "USAGE", "small"]));
    let large = int(&r.call(&["MEMORY", "USAGE", "large"]));
    assert!(small > 16 && small < 200, "{small}");
    assert!(large >= 10_000 && large < 13_000, "{large}");
    let mut args = vec!["RPUSH".to_string(), "l".to_string()];
    args.extend((0..1000).map(|i| format!("element-{i:06}")));
    r.call(&args);
    let l = int(&r.call(&["MEMORY", "USAGE", "l"]));
    assert!(l > 14_000 && l < 100_000, "{l}");
    let all = int(&r.call(&["MEMORY", "USAGE", "l", "SAMPLES", "0"]));
    assert!(all > 14_000 && all < 100_000, "{all}");
    for t in [["SADD", "s"], ["HSET", "h"], ["ZADD", "z"]] {
        let mut a: Vec<String> = t.iter().map(|s| s.to_string()).collect();
        for i in 0..300 {
            if t[0] != "SADD" {
                a.push(i.to_string());
            }
            a.push(format!("member-{i}"));
        }
        r.call(&a);
        let n = int(&r.call(&["MEMORY", "USAGE", t[1]]));
        assert!(n > 300 * 8 && n < 300 * 200, "{t:?} {n}");
    }
    assert_eq!(r.call(&["MEMORY", "USAGE", "missing"]), Frame::Bulk(None));
    let stats = arr(r.call(&["MEMORY", "STATS"]));
    let names: Vec<String> = stats.iter().step_by(2).map(|f| text(f.clone())).collect();
    for n in [
        "peak.allocated",
        "total.allocated",
        "startup.allocated",
        "keys.count",
        "dataset.bytes",
        "fragmentation",
        "db.0",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let i = names.iter().position(|x| x == "keys.count").unwrap();
    assert_eq!(int(&stats[2 * i + 1]), 6);
    assert!(text(r.call(&["MEMORY", "MALLOC-STATS"])).contains("jemalloc"));
    assert_eq!(r.call(&["MEMORY", "PURGE"]), ok());
    assert!(text(r.call(&["MEMORY", "DOCTOR"])).starts_with("Hi Sam"));
}

#[test]
fn info_has_every_section_with_redis_field_names() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let fields: &[(&str, &[&str])] = &[
        (
            "server",
            &[
                "redis_version",
                "redis_mode",
                "os",
                "process_id",
                "run_id",
                "tcp_port",
                "uptime_in_seconds",
                "executable",
                "config_file",
            ],
        ),
        (
            "clients",
            &[
                "connected_clients",
                "maxclients",
                "blocked_clients",
                "client_recent_max_output_buffer",
            ],
        ),
        (
            "memory",
            &[
                "used_memory",
                "used_memory_human",
                "used_memory_rss",
                "used_memory_peak",
                "maxmemory",
                "maxmemory_policy",
                "mem_fragmentation_ratio",
                "mem_allocator",
            ],
        ),
        (
            "persistence",
            &[
                "loading",
                "rdb_changes_since_last_save",
                "rdb_last_save_time",
                "aof_enabled",
            ],
        ),
        (
            "stats",
            &[
                "total_connections_received",
                "total_commands_processed",
                "instantaneous_ops_per_sec",
                "keyspace_hits",
                "keyspace_misses",
                "expired_keys",
                "evicted_keys",
                "total_error_replies",
            ],
        ),
        (
            "replication",
            &[
                "role",
                "connected_slaves",
                "master_replid",
                "master_repl_offset",
                "repl_backlog_active",
            ],
        ),
        (
            "cpu",
            &[
                "used_cpu_sys",
                "used_cpu_user",
                "used_cpu_sys_children",
                "used_cpu_user_children",
                "used_cpu_sys_main_thread",
                "used_cpu_user_main_thread",
            ],
        ),
        ("cluster", &["cluster_enabled"]),
    ];
    for (section, names) in fields {
        let t = text(r.call(&["INFO", section]));
        let title = t.lines().next().unwrap_or("");
        assert!(
            title.eq_ignore_ascii_case(&format!("# {section}")),
            "{title}"
        );
        for n in *names {
            assert!(
                t.lines().any(|l| l.starts_with(&format!("{n}:"))),
                "{section} lacks {n}"
            );
        }
    }
    assert_eq!(
        info_field(&mut r, "replication", "role").as_deref(),
        Some("master")
    );
    assert_eq!(
        info_field(&mut r, "cluster", "cluster_enabled").as_deref(),
        Some("0")
    );
    r.call(&["SET", "a", "1"]);
    r.call(&["NOSUCH"]);
    let default = text(r.call(&["INFO"]));
    for h in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Modules",
        "# Errorstats",
        "# Cluster",
        "# Keyspace",
    ] {
        assert!(default.contains(h), "default INFO lacks {h}");
    }
    assert!(!default.contains("# Commandstats"));
    for all in ["all", "everything"] {
        let t = text(r.call(&["INFO", all]));
        for h in [
            "# Commandstats",
            "# Latencystats",
            "# Errorstats",
            "# Keyspace",
        ] {
            assert!(t.contains(h), "INFO {all} lacks {h}");
        }
        assert!(t.contains("cmdstat_set:calls=1,"), "{t}");
        assert!(t.contains("errorstat_ERR:count=1"));
        assert!(t.contains("db0:keys=1,expires=0,avg_ttl=0"));
    }
    let two = text(r.call(&["INFO", "server", "cpu"]));
    assert!(two.contains("# Server") && two.contains("# CPU") && !two.contains("# Memory"));
    // Figures move.
    let n1: u64 = info_field(&mut r, "stats", "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    r.call(&["PING"]);
    let n2: u64 = info_field(&mut r, "stats", "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    assert!(n2 >= n1 + 2, "{n1} {n2}");
    let hits: u64 = info_field(&mut r, "stats", "keyspace_hits")
        .unwrap()
        .parse()
        .unwrap();
    r.call(&["GET", "a"]);
    assert_eq!(
        info_field(&mut r, "stats", "keyspace_hits")
            .unwrap()
            .parse::<u64>()
            .unwrap(),
        hits + 1
    );
}

/// One HTTP/1.1 request; returns (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").expect("headers");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.parse().ok())
        .expect("content length");
    assert_eq!(len, body.len());
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

fn metric(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

#[test]
fn prometheus_endpoint_serves_info_figures() {
    let mport = common::free_port();
    let s = Server::start(&["--metrics-port", &mport.to_string()]);
    let mut r = s.raw();
    r.call(&["SET", "a", "1"]);
    r.call(&["SELECT", "3"]);
    r.call(&["SET", "b", "1"]);
    r.call(&["EXPIRE", "b", "100"]);
    r.call(&["GET", "b"]);
    let (status, body) = http_get(mport, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(metric(&body, "redis_up"), 1.0);
    assert_eq!(metric(&body, "redis_connected_clients"), 1.0);
    assert!(metric(&body, "redis_memory_used_bytes") > 100_000.0);
    assert_eq!(
        metric(&body, "redis_used_memory_bytes"),
        metric(&body, "redis_memory_used_bytes")
    );
    assert_eq!(metric(&body, "redis_db_keys{db=\"db0\"}"), 1.0);
    assert_eq!(metric(&body, "redis_db_keys{db=\"db3\"}"), 1.0);
    assert_eq!(metric(&body, "redis_db_keys_expiring{db=\"db3\"}"), 1.0);
    assert_eq!(metric(&body, "redis_keyspace_hits_total"), 1.0);
    assert_eq!(metric(&body, "redis_commands_total{cmd=\"set\"}"), 2.0);
    assert!(body.contains("# TYPE redis_commands_processed_total counter\n"));
    assert!(body.contains("redis_instance_info{redis_version=\""));
    // Every sample line is "name[{labels}] number".
    for l in body.lines().filter(|l| !l.starts_with('#')) {
        let (_, v) = l.rsplit_once(' ').expect(l);
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
    // The figures move between scrapes.
    let before = metric(&body, "redis_commands_processed_total");
    r.call(&["PING"]);
    let (_, body) = http_get(mport, "/metrics");
    assert!(metric(&body, "redis_commands_processed_total") > before);
    assert_eq!(http_get(mport, "/nope").0, "HTTP/1.1 404 Not Found");
    // The Redis port is unaffected.
    assert_eq!(r.call(&["PING"]), common::simple("PONG"));
}

// ---- Shipping: the container entrypoint, run outside Docker ----

/// Runs scripts/docker-entrypoint.sh in `dir` with a fake `redis-server`
/// first on PATH that records its arguments, umask and uid; returns
/// (stdout, recorded lines).
fn entrypoint(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (String, Vec<String>) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("redis-server");
    let out = dir.join("out.txt");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\n{{ for a in \"$@\"; do echo \"arg=$a\"; done; echo \"umask=$(umask)\"; echo \"uid=$(id -u)\"; }} > {}\n", out.display()),
    )
    .unwrap();
    let script = dir.join("docker-entrypoint.sh");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/docker-entrypoint.sh"),
        &script,
    )
    .unwrap();
    for p in [&fake, &script, &bin, &dir.to_path_buf()] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let _ = std::fs::remove_file(&out);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("sh")
        .arg(&script)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .expect("run entrypoint");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = std::fs::read_to_string(&out).unwrap_or_default();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        rec.lines().map(String::from).collect(),
    )
}

fn recorded_args(rec: &[String]) -> Vec<&str> {
    rec.iter().filter_map(|l| l.strip_prefix("arg=")).collect()
}

#[test]
fn docker_entrypoint_rewrites_arguments_like_the_official_image() {
    // Root would drop to the redis user, which this machine may not have.
    let as_root = unsafe { libc::getuid() } == 0;
    let env: &[(&str, &str)] = if as_root {
        &[("REDIS_USER", "nobody")]
    } else {
        &[]
    };
    let d = common::temp_dir("entrypoint");
    let (_, rec) = entrypoint(&d, &["--port", "7000"], env);
    assert_eq!(
        recorded_args(&rec),
        ["--port", "7000", "--protected-mode", "no"]
    );
    assert!(rec.contains(&"umask=0077".to_string()), "{rec:?}");
    let (_, rec) = entrypoint(&d, &["/etc/my.conf", "--port", "1"], env);
    assert_eq!(
        recorded_args(&rec),
        ["/etc/my.conf", "--port", "1"],
        "a config file decides protected-mode"
    );
    let (_, rec) = entrypoint(&d, &["redis-server", "--protected-mode", "yes"], env);
    assert_eq!(recorded_args(&rec), ["--protected-mode", "yes"]);
    let (_, rec) = entrypoint(&d, &["redis-server"], env);
    assert_eq!(recorded_args(&rec), ["--protected-mode", "no"]);
    // Anything else runs as given.
    let (stdout, rec) = entrypoint(&d, &["echo", "hello"], env);
    assert_eq!(stdout, "hello\n");
    assert!(rec.is_empty());
}

#[test]
fn docker_entrypoint_drops_root_and_hands_over_the_data_dir() {
    if unsafe { libc::getuid() } != 0 {
        return;
    }
    let Ok(o) = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
    else {
        return;
    };
    let nobody = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if nobody.is_empty() {
        return;
    }
    let d = common::temp_dir("entrypoint-root");
    std::fs::write(d.join("dump.rdb"), b"x").unwrap();
    let (_, rec) = entrypoint(&d, &["--port", "1"], &[("REDIS_USER", "nobody")]);
    assert!(rec.contains(&format!("uid={nobody}")), "{rec:?}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(d.join("dump.rdb"))
            .unwrap()
            .uid()
            .to_string(),
        nobody
    );
    // Non-server commands keep root.
    let (stdout, _) = entrypoint(&d, &["id", "-u"], &[("REDIS_USER", "nobody")]);
    assert_eq!(stdout.trim(), "0");
}

#[test]
fn freed_memory_goes_back_to_the_system_while_idle() {
    // jemalloc-bg-thread (on by default, as in Redis): pages freed by a DEL
    // leave the process's RSS within jemalloc's decay time (10 s) even
    // though no command comes to trigger the purge.
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "GET", "jemalloc-bg-thread"]), Frame::Array(Some(vec![bulk("jemalloc-bg-thread"), bulk("yes")])));
    let rss = |r: &mut Raw| -> u64 {
        info_field(r, "memory", "used_memory_rss").and_then(|v| v.parse().ok()).expect("used_memory_rss")
    };
    let before = rss(&mut r);
    let chunk: Vec<String> = (0..1000).map(|i| format!("element:{i:07}")).collect();
    for _ in 0..1000 {
        let mut args = vec!["RPUSH", "big"];
        args.extend(chunk.iter().map(String::as_str));
        r.call(&args);
    }
    let full = rss(&mut r);
    assert!(full > before + 10_000_000, "RSS {before} -> {full} after a 1M-element list");
    assert_eq!(r.call(&["DEL", "big"]), Frame::Int(1));
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut now = rss(&mut r);
    while now > before + (full - before) / 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        now = rss(&mut r);
    }
    assert!(now <= before + (full - before) / 4, "RSS {before} -> {full} -> {now} 30 s after the DEL");
    assert_eq!(r.call(&["CONFIG", "SET", "jemalloc-bg-thread", "no"]), ok());
    assert_eq!(r.call(&["CONFIG", "GET", "jemalloc-bg-thread"]), Frame::Array(Some(vec![bulk("jemalloc-bg-thread"), bulk("no")])));
}
