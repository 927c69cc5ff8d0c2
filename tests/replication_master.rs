//! Redust as a replication primary: a real redis-server replicates from it
//! under write load (every type, scripts, MULTI, expiry, several
//! databases) and ends with the same content; a restarted replica resumes
//! with a partial resync, a replica away too long gets a full one; disk
//! and diskless transfers; WAIT, min-replicas-to-write, ROLE, INFO; the
//! stream at the byte level (PSYNC / +CONTINUE / SYNC); garbage from a
//! replica.
mod common;
use common::*;
use redust::resp::reply::Frame;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(Some(b)) | Frame::Simple(b) | Frame::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Frame::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn info_field(r: &mut Raw, section: &str, name: &str) -> Option<String> {
    let t = text(&r.call(&["INFO", section]));
    t.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn info_int(r: &mut Raw, section: &str, name: &str) -> i64 {
    info_field(r, section, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every key of databases 0..4 with its type, value and expiry time.
fn contents(r: &mut Raw) -> BTreeMap<(usize, Vec<u8>), String> {
    let mut m = BTreeMap::new();
    for db in 0..4 {
        r.call(&["SELECT", &db.to_string()]);
        let mut cursor = "0".to_string();
        loop {
            let Frame::Array(Some(v)) = r.call(&["SCAN", &cursor, "COUNT", "1000"]) else {
                panic!("SCAN reply");
            };
            cursor = text(&v[0]);
            let Frame::Array(Some(keys)) = &v[1] else {
                panic!("SCAN keys")
            };
            for k in keys {
                let Frame::Bulk(Some(k)) = k else { continue };
                let ty = text(&r.call(&[&b"TYPE"[..], k]));
                let val = match ty.as_str() {
                    "string" => format!("{:?}", r.call(&[&b"GET"[..], k])),
                    "list" => format!("{:?}", r.call(&[&b"LRANGE"[..], k, b"0", b"-1"])),
                    "zset" => format!(
                        "{:?}",
                        r.call(&[&b"ZRANGE"[..], k, b"0", b"-1", b"WITHSCORES"])
                    ),
                    "hash" | "set" => {
                        let cmd: &[u8] = if ty == "hash" {
                            b"HGETALL"
                        } else {
                            b"SMEMBERS"
                        };
                        let Frame::Array(Some(items)) = r.call(&[cmd, k]) else {
                            panic!("{ty}")
                        };
                        let mut items: Vec<String> = if ty == "hash" {
                            items
                                .chunks(2)
                                .map(|p| format!("{}={}", text(&p[0]), text(&p[1])))
                                .collect()
                        } else {
                            items.iter().map(text).collect()
                        };
                        items.sort();
                        items.join(",")
                    }
                    _ => continue,
                };
                let exp = text(&r.call(&[&b"PEXPIRETIME"[..], k]));
                m.insert((db, k.clone()), format!("{ty} {exp} {val}"));
            }
            if cursor == "0" {
                break;
            }
        }
    }
    r.call(&["SELECT", "0"]);
    m
}

/// Waits until the replica has applied everything and both hold the same
/// keys and values.
fn assert_same(primary: &Server, replica: &Server) {
    let (mut p, mut r) = (primary.raw(), replica.raw());
    let start = Instant::now();
    loop {
        let off = info_int(&mut p, "replication", "master_repl_offset");
        let roff = info_int(&mut r, "replication", "slave_repl_offset");
        if off == roff {
            let (a, b) = (contents(&mut p), contents(&mut r));
            if a == b {
                assert!(a.len() > 50, "too little data to compare: {}", a.len());
                return;
            }
            if start.elapsed() > Duration::from_secs(30) {
                let diff: Vec<_> = a
                    .iter()
                    .filter(|(k, v)| b.get(*k) != Some(v))
                    .take(5)
                    .collect();
                let extra: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).take(5).collect();
                panic!(
                    "contents differ: {} vs {} keys; primary-side {diff:?}; replica-only {extra:?}",
                    a.len(),
                    b.len()
                );
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "replica never caught up: primary offset {off}, replica offset {roff}\n{}",
            replica.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes of every kind, in several databases, as pipelined batches.
fn write_batch(r: &mut Raw, i: u64) {
    let s = |x: u64| x.to_string();
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["SELECT".into(), "0".into()],
        vec!["SET".into(), format!("s:{}", i % 300), format!("v{i}")],
        vec![
            "SET".into(),
            format!("e:{}", i % 50),
            s(i),
            "EX".into(),
            "1000".into(),
        ],
        vec!["INCR".into(), "counter".into()],
        vec!["APPEND".into(), format!("a:{}", i % 10), "xy".into()],
        vec!["INCRBYFLOAT".into(), "float".into(), "0.5".into()],
        vec!["SELECT".into(), "1".into()],
        vec!["RPUSH".into(), format!("l:{}", i % 20), s(i), s(i + 1)],
        vec!["LPOP".into(), format!("l:{}", (i + 7) % 20)],
        vec![
            "HSET".into(),
            format!("h:{}", i % 30),
            format!("f{}", i % 7),
            s(i),
        ],
        vec![
            "HINCRBY".into(),
            format!("h:{}", i % 30),
            "n".into(),
            "3".into(),
        ],
        vec!["SELECT".into(), "2".into()],
        vec![
            "SADD".into(),
            format!("set:{}", i % 20),
            format!("m{}", i % 50),
            format!("m{}", i % 13),
        ],
        vec![
            "SREM".into(),
            format!("set:{}", (i + 3) % 20),
            format!("m{}", i % 50),
        ],
        vec![
            "ZADD".into(),
            format!("z:{}", i % 20),
            s(i % 97),
            format!("m{}", i % 40),
        ],
        vec![
            "ZINCRBY".into(),
            format!("z:{}", i % 20),
            "1.5".into(),
            "m1".into(),
        ],
        vec!["SPOP".into(), format!("set:{}", (i + 11) % 20)],
        vec!["SELECT".into(), "3".into()],
        vec![
            "EVAL".into(),
            "redis.call('set', KEYS[1], ARGV[1]); redis.call('lpush', KEYS[2], ARGV[1]); return 1"
                .into(),
            "2".into(),
            format!("ev:{}", i % 10),
            format!("evl:{}", i % 5),
            s(i),
        ],
        vec!["MULTI".into()],
        vec!["INCR".into(), "tx".into()],
        vec!["SADD".into(), "txset".into(), s(i % 100)],
        vec!["EXEC".into()],
        vec![
            "SET".into(),
            format!("short:{i}"),
            "x".into(),
            "PX".into(),
            "150".into(),
        ],
        vec![
            "EXPIRE".into(),
            format!("ev:{}", (i + 5) % 10),
            "2000".into(),
        ],
        vec!["GET".into(), format!("short:{}", i.saturating_sub(20))],
    ];
    if i % 10 == 0 {
        cmds.push(vec!["DEL".into(), format!("evl:{}", i % 5)]);
    }
    let mut buf = Vec::new();
    for c in &cmds {
        buf.extend_from_slice(&redust::resp::reply::encode_request(c));
    }
    r.send_bytes(&buf);
    for c in &cmds {
        let f = r.read();
        assert!(!matches!(f, Frame::Error(_)), "{c:?} -> {f:?}");
    }
}

/// Keeps writing from another thread until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl Load {
    fn start(port: u16, from: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut r = Raw::connect(port);
            let mut i = from;
            while !s.load(Ordering::Relaxed) {
                write_batch(&mut r, i);
                i += 1;
            }
            i
        });
        Load {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle
            .take()
            .map(|h| h.join().expect("load thread"))
            .unwrap_or(0)
    }
}

fn start_replica(primary: &Server, dir: Option<&std::path::Path>) -> Server {
    let port = primary.port.to_string();
    let d = dir.map(|d| d.display().to_string());
    let mut args = vec![
        "--replicaof",
        "127.0.0.1",
        &port,
        "--save",
        "3600 1",
        "--repl-diskless-load",
        "disabled",
    ];
    if let Some(d) = &d {
        args.extend(["--dir", d.as_str()]);
    }
    let s = Server::start_redis(&args);
    let mut r = s.raw();
    let start = Instant::now();
    while info_field(&mut r, "replication", "master_link_status").as_deref() != Some("up") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "replica link not up; primary log:\n{}\nreplica log:\n{}",
            primary.log_text(),
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    s
}

fn need_redis() -> bool {
    if !have_redis() {
        eprintln!("redis-server not installed; skipping");
        return false;
    }
    true
}

#[test]
fn real_replica_syncs_under_load_and_resumes_partially_after_restart() {
    if !need_redis() {
        return;
    }
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = primary.raw();
    for i in 0..30 {
        write_batch(&mut p, i);
    }
    let load = Load::start(primary.port, 30);
    let mut replica = start_replica(&primary, None);
    std::thread::sleep(Duration::from_millis(500));
    let n = load.finish();
    assert_same(&primary, &replica);
    assert_eq!(info_int(&mut p, "stats", "sync_full"), 1);
    assert_eq!(
        info_field(&mut p, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    let slave0 = info_field(&mut p, "replication", "slave0").unwrap_or_default();
    assert!(
        slave0.starts_with("ip=127.0.0.1,port=") && slave0.contains(",state=online,offset="),
        "{slave0}"
    );
    assert!(replica
        .log_text()
        .contains("MASTER <-> REPLICA sync: Finished with success"));

    // Restart: the replica saves its replication id and offset on
    // shutdown, and continues from there.
    let dir = replica.dir.clone();
    assert!(replica.terminate().is_some());
    wait_for("replica gone", Duration::from_secs(10), || {
        info_field(&mut p, "replication", "connected_slaves").as_deref() == Some("0")
    });
    for i in n..n + 20 {
        write_batch(&mut p, i);
    }
    let replica2 = start_replica(&primary, Some(&dir));
    assert_same(&primary, &replica2);
    assert_eq!(
        info_int(&mut p, "stats", "sync_partial_ok"),
        1,
        "{}",
        replica2.log_text()
    );
    assert_eq!(info_int(&mut p, "stats", "sync_full"), 1);
    drop(replica2);
    // The first object owns the directory.
    drop(replica);
}

#[test]
fn disk_based_sync_full_resync_after_backlog_overrun_wait_and_min_replicas() {
    if !need_redis() {
        return;
    }
    let primary = Server::start(&["--repl-diskless-sync", "no", "--repl-backlog-size", "16kb"]);
    let mut p = primary.raw();
    for i in 0..50 {
        write_batch(&mut p, i);
    }
    let replica = start_replica(&primary, None);
    assert_same(&primary, &replica);
    assert!(
        replica
            .log_text()
            .contains("MASTER <-> REPLICA sync: receiving"),
        "disk-based transfer"
    );

    // WAIT counts the replicas that acknowledged the client's writes.
    assert_eq!(p.call(&["SET", "w", "1"]), simple("OK"));
    assert_eq!(p.call(&["WAIT", "1", "10000"]), Frame::Int(1));
    let t = Instant::now();
    assert_eq!(p.call(&["WAIT", "2", "300"]), Frame::Int(1));
    assert!(t.elapsed() >= Duration::from_millis(250));
    assert_eq!(p.call(&["WAIT", "0", "0"]), Frame::Int(1));

    // ROLE lists the replica with its acknowledged offset.
    let Frame::Array(Some(role)) = p.call(&["ROLE"]) else {
        panic!("ROLE")
    };
    assert_eq!(role[0], bulk("master"));
    let Frame::Array(Some(reps)) = &role[2] else {
        panic!("ROLE replicas")
    };
    assert_eq!(reps.len(), 1);

    // min-replicas-to-write.
    p.call(&["CONFIG", "SET", "min-replicas-to-write", "2"]);
    assert_eq!(
        p.call(&["SET", "k", "v"]),
        err("NOREPLICAS Not enough good replicas to write.")
    );
    assert_eq!(p.call(&["GET", "w"]), bulk("1"));
    p.call(&["CONFIG", "SET", "min-replicas-to-write", "1"]);
    assert_eq!(p.call(&["SET", "k", "v"]), simple("OK"));
    p.call(&["CONFIG", "SET", "min-replicas-to-write", "0"]);

    // Cut the replica off and write more than the backlog holds in the
    // same batch: it must come back with a full resync.
    let mut buf = redust::resp::reply::encode_request(&["CLIENT", "KILL", "TYPE", "replica"]);
    let big = "x".repeat(1000);
    for i in 0..40 {
        buf.extend_from_slice(&redust::resp::reply::encode_request(&[
            "SET",
            &format!("big:{i}"),
            &big,
        ]));
    }
    p.send_bytes(&buf);
    assert_eq!(p.read(), Frame::Int(1));
    for _ in 0..40 {
        assert_eq!(p.read(), simple("OK"));
    }
    let mut r = replica.raw();
    wait_for("second full sync", Duration::from_secs(30), || {
        info_int(&mut p, "stats", "sync_full") == 2
            && info_field(&mut r, "replication", "master_link_status").as_deref() == Some("up")
    });
    assert_eq!(info_int(&mut p, "stats", "sync_partial_err"), 1);
    assert_eq!(info_int(&mut p, "stats", "sync_partial_ok"), 0);
    assert_same(&primary, &replica);
}

/// Reads exactly `n` bytes (after what `Raw` already buffered is used up).
fn read_exact(r: &mut Raw, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut v = vec![0u8; n];
    r.stream.read_exact(&mut v).expect("read");
    v
}

fn read_line(r: &mut Raw) -> String {
    let mut line = Vec::new();
    loop {
        let b = read_exact(r, 1)[0];
        if b == b'\n' {
            if line.is_empty() {
                continue; // keep-alive newline
            }
            break;
        }
        line.push(b);
    }
    String::from_utf8_lossy(&line)
        .trim_end_matches('\r')
        .to_string()
}

/// A diskless transfer: the `$EOF:<mark>` line, then the RDB up to and
/// including the 40-byte mark.
fn read_eof_transfer(r: &mut Raw) -> Vec<u8> {
    let eof = read_line(r);
    let mark = eof.strip_prefix("$EOF:").expect("EOF marker").to_string();
    assert_eq!(mark.len(), 40);
    let mut rdb = Vec::new();
    while !rdb.ends_with(mark.as_bytes()) {
        rdb.extend(read_exact(r, 1));
    }
    rdb
}

#[test]
fn stream_bytes_partial_resync_sync_and_garbage() {
    // (No PING may slip into the bytes compared below.)
    let primary = Server::start(&[
        "--repl-diskless-sync-delay",
        "0",
        "--repl-ping-replica-period",
        "3600",
    ]);
    let mut p = primary.raw();
    p.call(&["SET", "before", "1"]);

    // A hand-made replica: diskless transfer with the EOF marker.
    let mut r = primary.raw();
    assert_eq!(
        r.call(&["REPLCONF", "listening-port", "7777"]),
        simple("OK")
    );
    assert_eq!(
        r.call(&["REPLCONF", "capa", "eof", "capa", "psync2"]),
        simple("OK")
    );
    assert_eq!(
        r.call(&["REPLCONF", "bogus", "1"]),
        err("ERR Unrecognized REPLCONF option: bogus")
    );
    r.send(&["PSYNC", "?", "-1"]);
    let line = read_line(&mut r);
    let parts: Vec<&str> = line.split(' ').collect();
    assert_eq!(parts[0], "+FULLRESYNC", "{line}");
    let (replid, offset): (String, i64) = (parts[1].to_string(), parts[2].parse().unwrap());
    assert_eq!(replid.len(), 40);
    let rdb = read_eof_transfer(&mut r);
    assert!(rdb.starts_with(b"REDIS0010"));
    // The stream only follows an EOF-marked transfer once the replica
    // has acknowledged (it finds the end by the mark being last).
    r.send(&["REPLCONF", "ACK", &offset.to_string()]);
    assert_eq!(
        info_field(&mut p, "replication", "master_replid").as_deref(),
        Some(replid.as_str())
    );

    // The stream: SELECT first, then the commands as propagated.
    p.call(&["SET", "k", "v", "EX", "100"]);
    let want_head = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$13\r\n";
    let got = read_exact(&mut r, want_head.len() + 15);
    assert_eq!(
        &got[..want_head.len()],
        want_head,
        "{}",
        String::from_utf8_lossy(&got)
    );
    let streamed = got.len() as i64;
    let off = info_int(&mut p, "replication", "master_repl_offset");
    assert_eq!(off, offset + streamed);
    r.send(&["REPLCONF", "ACK", &off.to_string()]);
    wait_for("ack", Duration::from_secs(10), || {
        info_field(&mut p, "replication", "slave0")
            .is_some_and(|s| s.contains(&format!("offset={off}")))
    });
    let s0 = info_field(&mut p, "replication", "slave0").unwrap();
    assert!(
        s0.starts_with("ip=127.0.0.1,port=7777,state=online"),
        "{s0}"
    );
    drop(r);
    wait_for("replica gone", Duration::from_secs(10), || {
        info_field(&mut p, "replication", "connected_slaves").as_deref() == Some("0")
    });

    // Partial resync: +CONTINUE and exactly the missed bytes.
    p.call(&["SELECT", "2"]);
    p.call(&["LPUSH", "l", "a"]);
    let mut r = primary.raw();
    assert_eq!(r.call(&["REPLCONF", "capa", "psync2"]), simple("OK"));
    r.send(&["PSYNC", &replid, &(off + 1).to_string()]);
    assert_eq!(read_line(&mut r), format!("+CONTINUE {replid}"));
    let want = b"*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n";
    assert_eq!(read_exact(&mut r, want.len()), want);
    assert_eq!(info_int(&mut p, "stats", "sync_partial_ok"), 1);
    // An unknown history gets a full resync and counts as a failed PSYNC.
    let mut r2 = primary.raw();
    r2.send(&["PSYNC", "0123456789012345678901234567890123456789", "5"]);
    assert!(read_line(&mut r2).starts_with("+FULLRESYNC "));
    assert_eq!(info_int(&mut p, "stats", "sync_partial_err"), 1);

    // Old SYNC: the RDB as $<len>, no reply line.
    let mut r3 = primary.raw();
    r3.send(&["SYNC"]);
    let len: usize = read_line(&mut r3)
        .strip_prefix('$')
        .expect("bulk length")
        .parse()
        .unwrap();
    let body = read_exact(&mut r3, len);
    assert!(body.starts_with(b"REDIS0010"));

    // A replica sending garbage is dropped with a log line; all is well.
    r.send_bytes(b"*1\r\n$-5\r\n\x00\xff garbage\r\n");
    wait_for("garbage replica dropped", Duration::from_secs(10), || {
        primary.log_text().contains("Closing replica")
    });
    assert_eq!(p.call(&["PING"]), simple("PONG"));
    assert_eq!(p.call(&["SELECT", "0"]), simple("OK"));
    assert_eq!(p.call(&["GET", "before"]), bulk("1"));
    let Frame::Array(Some(role)) = p.call(&["ROLE"]) else {
        panic!("ROLE")
    };
    assert_eq!(role[0], bulk("master"));
    drop(r2);
    drop(r3);
}

#[test]
fn diskless_delay_pings_silent_replica_timeout_and_backlog_ttl() {
    let primary = Server::start(&[
        "--repl-diskless-sync-delay",
        "1",
        "--repl-ping-replica-period",
        "1",
        "--repl-timeout",
        "2",
        "--repl-backlog-ttl",
        "1",
    ]);
    let mut p = primary.raw();
    let id0 = info_field(&mut p, "replication", "master_replid").unwrap();
    let mut r = primary.raw();
    assert_eq!(r.call(&["REPLCONF", "capa", "eof"]), simple("OK"));
    let t = Instant::now();
    r.send(&["PSYNC", "?", "-1"]);
    wait_for("wait_bgsave", Duration::from_secs(5), || {
        info_field(&mut p, "replication", "slave0").is_some_and(|s| s.contains("state=wait_bgsave"))
            || t.elapsed() > Duration::from_millis(900)
    });
    // read_line skips the keep-alive newlines sent while waiting.
    let line = read_line(&mut r);
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "the diskless delay was not honoured"
    );
    assert!(line.starts_with("+FULLRESYNC "), "{line}");
    // A new backlog starts a new history.
    let id1 = line.split(' ').nth(1).unwrap().to_string();
    assert_ne!(id0, id1);
    read_eof_transfer(&mut r);
    r.send(&["REPLCONF", "ACK", "0"]);
    // PINGs flow every repl-ping-replica-period; a replica that never
    // acknowledges again is dropped after repl-timeout.
    assert_eq!(read_exact(&mut r, 14), b"*1\r\n$4\r\nPING\r\n");
    wait_for("timed-out replica dropped", Duration::from_secs(15), || {
        primary
            .log_text()
            .contains("Disconnecting timedout replica (streaming sync)")
    });
    assert!(r.is_closed());
    // With no replica left the backlog goes after repl-backlog-ttl, and
    // the history with it.
    wait_for("backlog freed", Duration::from_secs(15), || {
        info_field(&mut p, "replication", "repl_backlog_active").as_deref() == Some("0")
    });
    let id2 = info_field(&mut p, "replication", "master_replid").unwrap();
    assert_ne!(id2, id1);
    assert_eq!(p.call(&["SET", "a", "1"]), simple("OK"));
}

/// A hand-made replica that takes a diskless full sync and never
/// acknowledges it: the stream after the transfer waits for its first ACK.
fn unacked_replica(primary: &Server) -> Raw {
    let mut r = primary.raw();
    assert_eq!(
        r.call(&["REPLCONF", "capa", "eof", "capa", "psync2"]),
        simple("OK")
    );
    r.send(&["PSYNC", "?", "-1"]);
    let line = read_line(&mut r);
    assert!(line.starts_with("+FULLRESYNC "), "{line}");
    read_eof_transfer(&mut r);
    r
}

/// (Closed at once when a write breaks the limit, from the cron when time
/// does: "scheduled to be closed ASAP for ..." or "closed for ...".)
const OUTPUT_LIMIT_LOG: &str = "for overcoming of output buffer limits.";

/// The stream held for a replica during its full sync counts against the
/// replica class of client-output-buffer-limit: over the hard limit it is
/// dropped at once, over the soft one after the soft seconds.
fn replica_output_limit_during_sync(bin: &str) {
    let sync = [
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "0",
    ];
    let value = "x".repeat(100_000);
    let replicas = |p: &mut Raw| info_int(p, "replication", "connected_slaves");

    let mut args = sync.to_vec();
    args.extend(["--client-output-buffer-limit", "replica 64kb 0 0"]);
    let primary = Server::spawn(bin, "primary", &args);
    let mut p = primary.raw();
    let mut r = unacked_replica(&primary);
    assert_eq!(replicas(&mut p), 1, "{bin}");
    // (Past the replication backlog's size too, should a server count
    // the held stream only beyond it.)
    for i in 0..40 {
        assert_eq!(p.call(&["SET", &format!("k{i}"), &value]), simple("OK"));
    }
    wait_for(
        "the replica over its hard limit dropped",
        Duration::from_secs(10),
        || replicas(&mut p) == 0,
    );
    assert!(r.is_closed(), "{bin}");
    assert!(primary.log_text().contains(OUTPUT_LIMIT_LOG), "{bin}");
    drop(primary);

    let mut args = sync.to_vec();
    args.extend(["--client-output-buffer-limit", "replica 0 64kb 1"]);
    let primary = Server::spawn(bin, "primary", &args);
    let mut p = primary.raw();
    let mut r = unacked_replica(&primary);
    let t = Instant::now();
    for i in 0..3 {
        assert_eq!(p.call(&["SET", &format!("k{i}"), &value]), simple("OK"));
    }
    // Over the soft limit, but not for a second yet.
    assert_eq!(replicas(&mut p), 1, "{bin}");
    // Dropped by the cron, with no write needed.
    wait_for(
        "the replica over its soft limit dropped",
        Duration::from_secs(10),
        || replicas(&mut p) == 0,
    );
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "{bin}: dropped too soon"
    );
    assert!(r.is_closed(), "{bin}");
    assert!(primary.log_text().contains(OUTPUT_LIMIT_LOG), "{bin}");
}

#[test]
fn replica_output_limit_applies_during_full_sync() {
    replica_output_limit_during_sync(redust_bin());
    if have_redis() {
        replica_output_limit_during_sync("redis-server");
    }
}
