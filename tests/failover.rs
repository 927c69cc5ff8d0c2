//! FAILOVER: the coordinated handoff from a primary to one of its
//! replicas, between two Redust nodes and from a Redust primary to a real
//! redis-server replica; its errors next to real Redis's; the timeout,
//! ABORT and FORCE paths with a replica that cannot keep up (SIGSTOP).
//! Also what a primary/replica pair does around it, each scenario run on
//! Redust and on real Redis: the master link in CLIENT LIST / CLIENT KILL,
//! a writable replica expiring its own TTL keys, and SHUTDOWN / SIGTERM
//! waiting for a lagging replica.
mod common;
mod helpers;

use std::time::{Duration, Instant};

use common::*;
use helpers::*;

/// Full syncs start at once instead of after the diskless delay.
const FAST: &[&str] = &["--repl-diskless-sync-delay", "0"];

fn repl_field(port: u16, name: &str) -> String {
    section_field(port, "replication", name)
}

fn section_field(port: u16, section: &str, name: &str) -> String {
    let mut r = Raw::connect(port);
    info_field(&info(&mut r, &[section]), name).unwrap_or_default()
}

fn wait_field(port: u16, name: &str, want: &str, limit: Duration) {
    let ok = wait_until(limit, || repl_field(port, name) == want);
    assert!(
        ok,
        "{name} of :{port} is {:?}, not {want:?}",
        repl_field(port, name)
    );
}

fn replica_of(bin: &str, primary: &Server) -> Server {
    let to = format!("127.0.0.1 {}", primary.port);
    let mut args = vec!["--replicaof", to.as_str()];
    args.extend_from_slice(FAST);
    let s = Server::spawn(bin, "replica", &args);
    wait_synced(primary, &s);
    s
}

/// Waits until `replica` is online at `primary` and has applied its stream.
fn wait_synced(primary: &Server, replica: &Server) {
    wait_field(
        replica.port,
        "master_link_status",
        "up",
        Duration::from_secs(20),
    );
    let ok = wait_until(Duration::from_secs(20), || {
        repl_field(primary.port, "slave0").contains("state=online")
            && repl_field(replica.port, "slave_repl_offset")
                == repl_field(primary.port, "master_repl_offset")
    });
    assert!(ok, "replica did not catch up");
}

fn cmd(port: u16, args: &[&str]) -> String {
    show(Raw::connect(port).call(args))
}

fn show(f: redust::resp::reply::Frame) -> String {
    match f {
        redust::resp::reply::Frame::Bulk(None) => "(nil)".into(),
        redust::resp::reply::Frame::Int(n) => n.to_string(),
        redust::resp::reply::Frame::Array(Some(v)) => format!("{v:?}"),
        f => text(&f),
    }
}

/// Some data in two databases, one key with a TTL.
fn fill(port: u16) {
    let mut r = Raw::connect(port);
    for i in 0..200 {
        r.call(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    r.call(&["SELECT", "3"]);
    r.call(&["RPUSH", "list", "a", "b", "c"]);
    r.call(&["SET", "ttl", "x", "EX", "1000"]);
}

fn snapshot(port: u16) -> Vec<String> {
    let mut r = Raw::connect(port);
    let mut v = vec![show(r.call(&["DBSIZE"]))];
    v.push(show(r.call(&["GET", "k7"])));
    r.call(&["SELECT", "3"]);
    v.push(show(r.call(&["DBSIZE"])));
    v.push(show(r.call(&["LRANGE", "list", "0", "-1"])));
    v.push(show(r.call(&["GET", "ttl"])));
    v
}

/// The roles have swapped: `new` is a primary, `old` its connected replica
/// with no failover left in progress.
fn wait_swapped(old: &Server, new: &Server) {
    wait_field(new.port, "role", "master", Duration::from_secs(20));
    wait_field(old.port, "role", "slave", Duration::from_secs(20));
    wait_field(
        old.port,
        "master_port",
        &new.port.to_string(),
        Duration::from_secs(5),
    );
    wait_field(
        old.port,
        "master_link_status",
        "up",
        Duration::from_secs(20),
    );
    wait_field(
        old.port,
        "master_failover_state",
        "no-failover",
        Duration::from_secs(5),
    );
}

/// After a failover the old primary follows the new one: writes go
/// there and come back, and the old one refuses them.
fn check_after(old: &Server, new: &Server) {
    assert_eq!(cmd(new.port, &["SET", "after", "1"]), "OK");
    let ok = wait_until(Duration::from_secs(10), || {
        cmd(old.port, &["GET", "after"]) == "1"
    });
    assert!(ok, "a write on the new primary did not reach the old one");
    assert!(
        cmd(old.port, &["SET", "x", "1"]).starts_with("READONLY"),
        "the old primary still accepts writes"
    );
}

#[test]
fn failover_between_redust_nodes() {
    let p = Server::start(FAST);
    fill(p.port);
    let r = replica_of(redust_bin(), &p);
    let before = snapshot(p.port);
    let t = Instant::now();
    assert_eq!(cmd(p.port, &["FAILOVER"]), "OK");
    wait_swapped(&p, &r);
    eprintln!("failover took {:?}", t.elapsed());
    assert_eq!(snapshot(r.port), before);
    assert_eq!(snapshot(p.port), before);
    // The handoff continued the stream: no full resync either way.
    assert_eq!(section_field(r.port, "stats", "sync_full"), "0");
    assert_eq!(section_field(r.port, "stats", "sync_partial_ok"), "1");
    assert_eq!(
        repl_field(p.port, "master_replid2"),
        repl_field(r.port, "master_replid2")
    );
    check_after(&p, &r);
    assert!(p.log_text().contains(&format!(
        "Failover target 127.0.0.1:{} is synced, failing over.",
        r.port
    )));
    assert!(r
        .log_text()
        .contains("Failover request received for replid"));
}

/// The handoff follows the target's ACK, not the cron: with `hz 1` a
/// cron-driven check adds up to 1 s per failover (4 s over five, measured);
/// five back-and-forth failovers take a few ms each here.
#[test]
fn failover_hands_off_on_the_ack_without_waiting_for_the_cron() {
    let mut args = vec!["--hz", "1"];
    args.extend_from_slice(FAST);
    let p = Server::start(&args);
    let to = format!("127.0.0.1 {}", p.port);
    let mut rargs = vec!["--replicaof", to.as_str()];
    rargs.extend_from_slice(&args);
    let r = Server::spawn(redust_bin(), "replica", &rargs);
    wait_synced(&p, &r);
    let (mut old, mut new) = (&p, &r);
    let mut total = Duration::ZERO;
    for _ in 0..5 {
        let mut watch = Raw::connect(old.port);
        let t = Instant::now();
        assert_eq!(cmd(old.port, &["FAILOVER"]), "OK");
        let done = wait_until(Duration::from_secs(20), || {
            let i = info(&mut watch, &["replication"]);
            info_field(&i, "role").as_deref() == Some("slave")
                && info_field(&i, "master_failover_state").as_deref() == Some("no-failover")
        });
        assert!(done, "the failover did not complete");
        total += t.elapsed();
        wait_swapped(old, new);
        wait_synced(new, old);
        (old, new) = (new, old);
    }
    eprintln!("five failovers took {total:?}");
    assert!(
        total < Duration::from_millis(2000),
        "five failovers took {total:?}"
    );
}

#[test]
fn failover_to_a_real_redis_replica() {
    if !have_redis() {
        eprintln!("redis-server not installed: skipped");
        return;
    }
    let p = Server::start(FAST);
    fill(p.port);
    let r = replica_of("redis-server", &p);
    let before = snapshot(p.port);
    let to = r.port.to_string();
    assert_eq!(
        cmd(
            p.port,
            &["FAILOVER", "TO", "127.0.0.1", &to, "TIMEOUT", "10000"]
        ),
        "OK"
    );
    wait_swapped(&p, &r);
    assert_eq!(snapshot(r.port), before);
    assert_eq!(snapshot(p.port), before);
    assert_eq!(section_field(r.port, "stats", "sync_partial_ok"), "1");
    check_after(&p, &r);
}

#[test]
fn failover_timeout_abort_and_force() {
    let p = Server::start(FAST);
    let r = replica_of(redust_bin(), &p);
    let rport = r.port.to_string();
    // A replica that reads nothing never catches up.
    send_signal(&r, libc::SIGSTOP);
    assert_eq!(cmd(p.port, &["SET", "lagging", "1"]), "OK");

    // TIMEOUT without FORCE: writes wait, then the failover rolls back.
    let start = Instant::now();
    assert_eq!(cmd(p.port, &["FAILOVER", "TIMEOUT", "2000"]), "OK");
    assert_eq!(
        repl_field(p.port, "master_failover_state"),
        "waiting-for-sync"
    );
    assert_eq!(
        cmd(p.port, &["FAILOVER"]),
        "ERR FAILOVER already in progress."
    );
    assert_eq!(
        cmd(p.port, &["REPLICAOF", "NO", "ONE"]),
        "ERR REPLICAOF not allowed while failing over."
    );
    // Reads go on; a write waits for the end of the failover.
    assert_eq!(cmd(p.port, &["GET", "lagging"]), "1");
    let port = p.port;
    let writer = std::thread::spawn(move || {
        let reply = cmd(port, &["SET", "paused", "1"]);
        (reply, Instant::now())
    });
    wait_field(
        p.port,
        "master_failover_state",
        "no-failover",
        Duration::from_secs(10),
    );
    let (reply, at) = writer.join().expect("writer");
    assert_eq!(reply, "OK");
    assert!(at.duration_since(start) >= Duration::from_millis(1900));
    assert_eq!(repl_field(p.port, "role"), "master");
    assert!(p
        .log_text()
        .contains("FAILOVER to any replica aborted: Replica never caught up before timeout"));

    // ABORT.
    assert_eq!(cmd(p.port, &["FAILOVER", "TIMEOUT", "60000"]), "OK");
    assert_eq!(cmd(p.port, &["FAILOVER", "ABORT"]), "OK");
    assert_eq!(repl_field(p.port, "master_failover_state"), "no-failover");
    assert_eq!(
        cmd(p.port, &["FAILOVER", "ABORT"]),
        "ERR No failover in progress."
    );
    assert_eq!(cmd(p.port, &["SET", "after-abort", "1"]), "OK");

    // FORCE: when the timeout expires the handoff happens anyway, and
    // completes once the target answers.
    assert_eq!(
        cmd(
            p.port,
            &[
                "FAILOVER",
                "TO",
                "127.0.0.1",
                &rport,
                "TIMEOUT",
                "300",
                "FORCE"
            ]
        ),
        "OK"
    );
    wait_field(
        p.port,
        "master_failover_state",
        "failover-in-progress",
        Duration::from_secs(10),
    );
    assert_eq!(repl_field(p.port, "role"), "slave");
    send_signal(&r, libc::SIGCONT);
    wait_swapped(&p, &r);
    check_after(&p, &r);
}

#[test]
fn failover_errors_match_redis() {
    let pair = Pair::start(FAST);
    let cases: &[&[&str]] = &[
        &["FAILOVER", "ABORT"],
        &["FAILOVER", "FORCE"],
        &["FAILOVER", "TO", "127.0.0.1", "1", "FORCE"],
        &["FAILOVER", "TIMEOUT", "0"],
        &["FAILOVER", "TIMEOUT", "-5"],
        &["FAILOVER", "TIMEOUT", "abc"],
        &["FAILOVER", "TO", "127.0.0.1", "abc"],
        &["FAILOVER", "TO", "127.0.0.1"],
        &["FAILOVER", "ABORT", "TIMEOUT", "5"],
        &["FAILOVER", "TIMEOUT", "1", "TIMEOUT", "2"],
        &["FAILOVER", "BLAH"],
        &["FAILOVER"],
        &["FAILOVER", "TO", "127.0.0.1", "1"],
    ];
    for c in cases {
        pair.assert_same(&[], c);
    }
    // With a replica each: an unknown target, and the replica's own view.
    let ours = replica_of(redust_bin(), &pair.redust);
    let theirs = pair.redis.as_ref().map(|p| replica_of("redis-server", p));
    let with_replica: &[&[&str]] = &[
        &["FAILOVER", "TO", "127.0.0.1", "1"],
        &["FAILOVER", "TO", "10.1.2.3", "70000"],
        &["FAILOVER", "ABORT"],
    ];
    let on_replica: &[&[&str]] = &[
        &["FAILOVER"],
        &["FAILOVER", "TIMEOUT", "0"],
        &["FAILOVER", "TO", "127.0.0.1", "1", "FORCE"],
        &["FAILOVER", "ABORT"],
        &[
            "PSYNC",
            "0123456789012345678901234567890123456789",
            "5",
            "FAILOVER",
        ],
    ];
    for c in with_replica {
        pair.assert_same(&[], c);
    }
    for c in on_replica {
        let a = Raw::connect(ours.port).call_raw(c);
        if let Some(t) = &theirs {
            let b = Raw::connect(t.port).call_raw(c);
            assert_eq!(
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&b),
                "reply to {c:?} on a replica"
            );
        }
    }
    assert_eq!(
        cmd(
            ours.port,
            &[
                "PSYNC",
                "0123456789012345678901234567890123456789",
                "5",
                "FAILOVER"
            ]
        ),
        "ERR PSYNC FAILOVER replid must match my replid."
    );
}

/// The fields of CLIENT LIST TYPE master (one line expected).
fn master_line(port: u16) -> std::collections::HashMap<String, String> {
    let list = cmd(port, &["CLIENT", "LIST", "TYPE", "master"]);
    let lines: Vec<&str> = list.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "master clients on :{port}: {list}");
    lines[0]
        .split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn master_link_is_a_client() {
    let mut pairs = vec![(Server::start(FAST), redust_bin())];
    if have_redis() {
        pairs.push((Server::start_redis(FAST), "redis-server"));
    }
    for (p, bin) in &pairs {
        let r = replica_of(bin, p);
        let mut c = Raw::connect(p.port);
        c.call(&["SELECT", "2"]);
        c.call(&["SET", "a", "1"]);
        wait_synced(p, &r);
        let f = master_line(r.port);
        assert_eq!(f["flags"], "M", "{bin}");
        assert_eq!(f["name"], "", "{bin}");
        assert_eq!(f["cmd"], "set", "{bin}");
        assert_eq!(f["db"], "2", "{bin}");
        assert_eq!(f["addr"], format!("127.0.0.1:{}", p.port), "{bin}");
        let all = cmd(r.port, &["CLIENT", "LIST"]);
        assert!(all
            .lines()
            .any(|l| l.starts_with(&format!("id={} ", f["id"]))));
        assert_eq!(
            cmd(r.port, &["CLIENT", "LIST", "TYPE", "normal"])
                .matches("flags=M")
                .count(),
            0
        );

        // Killed, the link comes back with a partial resync.
        let partial = section_field(p.port, "stats", "sync_partial_ok");
        assert_eq!(
            cmd(r.port, &["CLIENT", "KILL", "TYPE", "master"]),
            "1",
            "{bin}"
        );
        let ok = wait_until(Duration::from_secs(15), || {
            section_field(p.port, "stats", "sync_partial_ok") != partial
                && repl_field(r.port, "master_link_status") == "up"
        });
        assert!(ok, "{bin} replica did not reconnect with a partial resync");
        c.call(&["SET", "b", "2"]);
        wait_synced(p, &r);
        let g = master_line(r.port);
        assert_eq!(g["cmd"], "set", "{bin}");
        assert_eq!(g["db"], "2", "{bin}");
        assert_eq!(
            cmd(r.port, &["CLIENT", "KILL", "ID", &g["id"]]),
            "1",
            "{bin}"
        );
    }
}

/// A primary (with `args`) and a synced writable replica of it.
fn writable_pair(bin: &str, args: &[&str]) -> (Server, Server) {
    let mut args = args.to_vec();
    args.extend_from_slice(FAST);
    let p = Server::spawn(bin, "primary", &args);
    let to = format!("127.0.0.1 {}", p.port);
    let r = Server::spawn(
        bin,
        "replica",
        &["--replicaof", &to, "--replica-read-only", "no"],
    );
    wait_synced(&p, &r);
    (p, r)
}

#[test]
fn writable_replica_expires_its_own_keys() {
    for bin in binaries() {
        let (p, r) = writable_pair(bin, &["--enable-debug-command", "yes"]);
        // The primary keeps its expired key until something touches it.
        assert_eq!(cmd(p.port, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), "OK");
        assert_eq!(cmd(p.port, &["SET", "frommaster", "v", "PX", "300"]), "OK");
        wait_synced(&p, &r);
        let mut c = Raw::connect(r.port);
        assert_eq!(show(c.call(&["SET", "own", "v", "PX", "1500"])), "OK");
        c.call(&["MULTI"]);
        c.call(&["SET", "own2", "v"]);
        c.call(&["PEXPIRE", "own2", "1500"]);
        c.call(&["EXEC"]);
        assert_eq!(show(c.call(&["SET", "keep", "v"])), "OK");
        assert_eq!(show(c.call(&["DBSIZE"])), "4", "{bin}");
        let ok = wait_until(Duration::from_secs(10), || cmd(r.port, &["DBSIZE"]) == "2");
        assert!(
            ok,
            "{bin}: the replica's own keys did not expire: DBSIZE {}",
            cmd(r.port, &["DBSIZE"])
        );
        // The primary's key stays (hidden) until the primary deletes it.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(cmd(r.port, &["DBSIZE"]), "2", "{bin}");
        assert_eq!(cmd(r.port, &["GET", "frommaster"]), "(nil)", "{bin}");
        assert_eq!(
            cmd(r.port, &["EXISTS", "own", "own2", "keep"]),
            "1",
            "{bin}"
        );
        assert_eq!(cmd(p.port, &["GET", "frommaster"]), "(nil)", "{bin}");
        let ok = wait_until(Duration::from_secs(10), || cmd(r.port, &["DBSIZE"]) == "1");
        assert!(ok, "{bin}: the primary's DEL did not arrive");
    }
}

/// Keys a writable replica's clients give a TTL by other routes than the
/// command's own key arguments: MOVE and COPY ... DB into another
/// database, and scripts (keys not declared, another database).
#[test]
fn writable_replica_expires_keys_moved_copied_or_scripted() {
    for bin in binaries() {
        let (_primary, r) = writable_pair(bin, &[]);
        let mut c = Raw::connect(r.port);
        let ok = |f| show(f) == "OK";
        assert!(ok(c.call(&["SET", "moved", "v", "PX", "1500"])));
        assert_eq!(show(c.call(&["MOVE", "moved", "1"])), "1", "{bin}");
        assert!(ok(c.call(&["SET", "copied", "v", "PX", "1500"])));
        assert_eq!(
            show(c.call(&["COPY", "copied", "copy", "DB", "2"])),
            "1",
            "{bin}"
        );
        assert_eq!(show(c.call(&["PERSIST", "copied"])), "1", "{bin}");
        let script =
            "redis.call('SELECT', 3) redis.call('SET', 'scripted', 'v', 'PX', 1500) return 1";
        assert_eq!(show(c.call(&["EVAL", script, "0"])), "1", "{bin}");
        let lib = "#!lua name=lib\nredis.register_function('f', function() redis.call('SET', 'fcalled', 'v', 'PX', 1500) return 1 end)";
        assert_eq!(show(c.call(&["FUNCTION", "LOAD", lib])), "lib", "{bin}");
        assert_eq!(show(c.call(&["FCALL", "f", "0"])), "1", "{bin}");
        let sizes = |c: &mut Raw| -> Vec<String> {
            (0..4)
                .map(|db| {
                    c.call(&["SELECT", &db.to_string()]);
                    show(c.call(&["DBSIZE"]))
                })
                .collect()
        };
        assert_eq!(sizes(&mut c), ["2", "1", "1", "1"], "{bin}");
        // Only the copy's source lost its TTL (PERSIST above).
        let ok = wait_until(Duration::from_secs(10), || {
            sizes(&mut c) == ["1", "0", "0", "0"]
        });
        assert!(
            ok,
            "{bin}: the replica's own keys did not expire: {:?}",
            sizes(&mut c)
        );
    }
}

/// Redust, and real Redis when installed: the same scenario must pass on
/// both.
fn binaries() -> Vec<&'static str> {
    let mut bins = vec![redust_bin()];
    if have_redis() {
        bins.push("redis-server");
    }
    bins
}

/// Whether a client of `port` is blocked in `command`.
fn blocked_in(port: u16, command: &str) -> bool {
    cmd(port, &["CLIENT", "LIST"])
        .lines()
        .any(|l| l.contains(" flags=b ") && l.contains(&format!(" cmd={command} ")))
}

#[test]
fn shutdown_waits_for_lagging_replicas() {
    for bin in binaries() {
        let mut p = Server::spawn(bin, "primary", FAST);
        let r = replica_of(bin, &p);
        send_signal(&r, libc::SIGSTOP);
        assert_eq!(cmd(p.port, &["SET", "a", "1"]), "OK");

        // SHUTDOWN blocks, writes pause; ABORT answers it with an error.
        let port = p.port;
        let shut = std::thread::spawn(move || cmd(port, &["SHUTDOWN"]));
        assert!(
            wait_until(Duration::from_secs(10), || blocked_in(port, "shutdown")),
            "{bin}"
        );
        let writer = std::thread::spawn(move || cmd(port, &["SET", "b", "2"]));
        assert!(
            wait_until(Duration::from_secs(10), || blocked_in(port, "set")),
            "{bin}"
        );
        // A user's CLIENT UNPAUSE lifts only a CLIENT PAUSE, not the
        // shutdown's pause.
        assert_eq!(cmd(p.port, &["CLIENT", "UNPAUSE"]), "OK", "{bin}");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            blocked_in(port, "set"),
            "{bin}: CLIENT UNPAUSE released the shutdown's pause"
        );
        // ... and the end of the shutdown's pause does not lift a user's.
        assert_eq!(
            cmd(p.port, &["CLIENT", "PAUSE", "4000", "WRITE"]),
            "OK",
            "{bin}"
        );
        assert_eq!(cmd(p.port, &["SHUTDOWN", "ABORT"]), "OK", "{bin}");
        assert_eq!(
            shut.join().expect("shutdown"),
            "ERR Errors trying to SHUTDOWN. Check logs.",
            "{bin}"
        );
        assert!(
            blocked_in(port, "set"),
            "{bin}: SHUTDOWN ABORT lifted the user's CLIENT PAUSE"
        );
        assert_eq!(cmd(p.port, &["CLIENT", "UNPAUSE"]), "OK", "{bin}");
        assert_eq!(writer.join().expect("writer"), "OK", "{bin}");
        assert_eq!(
            cmd(p.port, &["SHUTDOWN", "ABORT"]),
            "ERR No shutdown in progress."
        );
        assert_eq!(
            cmd(p.port, &["SHUTDOWN", "NOW", "ABORT"]),
            "ERR syntax error"
        );

        // SIGTERM waits the same way, and ABORT calls it off too.
        send_signal(&p, libc::SIGTERM);
        let ok = wait_until(Duration::from_secs(10), || {
            cmd(port, &["SHUTDOWN", "ABORT"]) == "OK"
        });
        assert!(ok, "{bin}: SIGTERM started no wait");
        assert_eq!(cmd(p.port, &["PING"]), "PONG", "{bin}");

        // Once the replica catches up the server exits, and the replica has
        // the last write.
        assert_eq!(cmd(p.port, &["SET", "last", "1"]), "OK");
        let mut s = std::net::TcpStream::connect(("127.0.0.1", p.port)).expect("connect");
        std::io::Write::write_all(&mut s, b"SHUTDOWN\r\n").expect("send");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(cmd(p.port, &["PING"]), "PONG", "{bin} did not wait");
        send_signal(&r, libc::SIGCONT);
        assert!(
            wait_exit(&mut p, Duration::from_secs(20)).is_some(),
            "{bin} did not exit"
        );
        assert_eq!(cmd(r.port, &["GET", "last"]), "1", "{bin}");
    }
}
