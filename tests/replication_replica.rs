//! The replica side of replication against a real Redis 7.0 primary:
//! initial sync under write load ending with identical content, partial
//! resync after a replica restart (replid/offset kept in the RDB), full
//! resync after a disconnect longer than the backlog, READONLY and
//! MASTERDOWN refusals, promotion with REPLICAOF NO ONE, diskless loading,
//! and a primary that breaks off a transfer.
mod common;
mod helpers;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;
use helpers::*;
use redis::Value;

const DBS: i64 = 4;

fn info_of(port: u16, section: &str) -> String {
    let mut r = Raw::connect(port);
    info(&mut r, &[section])
}

fn field(port: u16, section: &str, name: &str) -> Option<String> {
    info_field(&info_of(port, section), name)
}

fn num(port: u16, section: &str, name: &str) -> i64 {
    field(port, section, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// Waits until the replica's applied offset reaches the primary's.
fn wait_caught_up(primary: u16, replica: u16, limit: Duration) {
    let ok = wait_until(limit, || {
        field(replica, "replication", "master_link_status").as_deref() == Some("up")
            && num(replica, "replication", "slave_repl_offset")
                == num(primary, "replication", "master_repl_offset")
    });
    assert!(
        ok,
        "replica did not catch up: primary offset {}, replica:\n{}",
        num(primary, "replication", "master_repl_offset"),
        info_of(replica, "replication")
    );
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every key of the first DBS databases with its type, value and
/// absolute expiry, in a form that compares across servers.
fn content(port: u16) -> BTreeMap<(i64, String), String> {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection()
        .expect("connect");
    let mut out = BTreeMap::new();
    for db in 0..DBS {
        let _: () = redis::cmd("SELECT").arg(db).query(&mut c).expect("select");
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).expect("keys");
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(&mut c).expect("type");
            let v = match t.as_str() {
                "string" => format!(
                    "{:?}",
                    redis::cmd("GET")
                        .arg(&k)
                        .query::<Option<Vec<u8>>>(&mut c)
                        .expect("get")
                ),
                "list" => format!(
                    "{:?}",
                    redis::cmd("LRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .query::<Vec<String>>(&mut c)
                        .expect("lrange")
                ),
                "hash" => format!(
                    "{:?}",
                    sorted(
                        redis::cmd("HGETALL")
                            .arg(&k)
                            .query::<BTreeMap<String, String>>(&mut c)
                            .expect("hgetall")
                            .into_iter()
                            .map(|(a, b)| format!("{a}={b}"))
                            .collect()
                    )
                ),
                "set" => format!(
                    "{:?}",
                    sorted(
                        redis::cmd("SMEMBERS")
                            .arg(&k)
                            .query::<Vec<String>>(&mut c)
                            .expect("smembers")
                    )
                ),
                "zset" => format!(
                    "{:?}",
                    redis::cmd("ZRANGE")
                        .arg(&k)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query::<Vec<String>>(&mut c)
                        .expect("zrange")
                ),
                "none" => continue,
                other => other.to_string(),
            };
            let exp: i64 = redis::cmd("PEXPIRETIME")
                .arg(&k)
                .query(&mut c)
                .expect("pexpiretime");
            out.insert((db, k), format!("{t} {v} exp={exp}"));
        }
    }
    out
}

/// Lets the short TTLs of `write_load` pass and the primary notice (its
/// DELs reach the replica), waits for the replica, then compares.
fn settle_and_compare(primary: u16, replica: u16) -> usize {
    std::thread::sleep(Duration::from_millis(300));
    let _ = content(primary);
    wait_caught_up(primary, replica, Duration::from_secs(30));
    assert_same_content(primary, replica)
}

fn assert_same_content(primary: u16, replica: u16) -> usize {
    let a = content(primary);
    let b = content(replica);
    for (k, v) in &a {
        assert_eq!(b.get(k), Some(v), "key {k:?} differs");
    }
    assert_eq!(
        a.len(),
        b.len(),
        "replica has extra keys: {:?}",
        b.keys().filter(|k| !a.contains_key(k)).collect::<Vec<_>>()
    );
    a.len()
}

/// A mix of writes of every type, in several databases, with TTLs, MULTI,
/// scripts and commands whose effects must be replicated (not re-run).
fn write_load(port: u16, rounds: usize, seed: u64) {
    let mut c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .expect("client")
        .get_connection()
        .expect("connect");
    let mut x = seed;
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for i in 0..rounds {
        let db = rnd(DBS as u64);
        let _: () = redis::cmd("SELECT").arg(db).query(&mut c).expect("select");
        let k = format!("k{}", rnd(60));
        let r: redis::RedisResult<Value> = match rnd(16) {
            0 => redis::cmd("SET").arg(format!("s{k}")).arg(i).query(&mut c),
            1 => redis::cmd("SET").arg(format!("s{k}")).arg("v").arg("EX").arg(1000).query(&mut c),
            2 => redis::cmd("SET").arg(format!("t{k}")).arg("short").arg("PX").arg(1 + rnd(150)).query(&mut c),
            3 => redis::cmd("INCRBYFLOAT").arg(format!("f{k}")).arg("1.5").query(&mut c),
            4 => redis::cmd("RPUSH").arg(format!("l{k}")).arg(i).arg("x").query(&mut c),
            5 => redis::cmd("LPOP").arg(format!("l{k}")).query(&mut c),
            6 => redis::cmd("HSET").arg(format!("h{k}")).arg(format!("f{}", rnd(20))).arg(i).query(&mut c),
            7 => redis::cmd("SADD").arg(format!("S{k}")).arg(rnd(100)).query(&mut c),
            8 => redis::cmd("SPOP").arg(format!("S{k}")).query(&mut c),
            9 => redis::cmd("ZADD").arg(format!("z{k}")).arg(rnd(1000) as f64 / 7.0).arg(format!("m{}", rnd(30))).query(&mut c),
            10 => redis::cmd("EXPIRE").arg(format!("h{k}")).arg(500 + rnd(100)).query(&mut c),
            11 => redis::cmd("DEL").arg(format!("s{k}")).query(&mut c),
            12 => {
                let mut p = redis::pipe();
                p.atomic()
                    .cmd("INCR").arg(format!("m{k}"))
                    .cmd("LPUSH").arg(format!("l{k}")).arg("multi")
                    .cmd("HINCRBY").arg(format!("h{k}")).arg("n").arg(1);
                p.query::<Value>(&mut c)
            }
            13 => redis::cmd("EVAL")
                .arg("redis.call('SET', KEYS[1], ARGV[1]); redis.call('SADD', KEYS[2], math.random(1000)); return 1")
                .arg(2).arg(format!("e{k}")).arg(format!("S{k}")).arg(i)
                .query(&mut c),
            14 => redis::cmd("PEXPIRE").arg(format!("l{k}")).arg(1 + rnd(100)).query(&mut c),
            _ => redis::cmd("SET").arg(format!("big{}", rnd(5))).arg("x".repeat(3000 + rnd(3000) as usize)).query(&mut c),
        };
        // WRONGTYPE and the like are fine: the same happens on both sides.
        let _ = r;
    }
}

fn real_primary(extra: &[&str]) -> Server {
    let mut args = vec!["--repl-diskless-sync-delay", "0"];
    args.extend_from_slice(extra);
    Server::start_redis(&args)
}

#[test]
fn replicates_real_redis_under_load() {
    if !have_redis() {
        return;
    }
    let primary = real_primary(&[]);
    write_load(primary.port, 3000, 1);
    let p = primary.port.to_string();
    let replica = Server::start(&["--replicaof", "127.0.0.1", &p]);
    // Writes go on while the replica connects, syncs and streams.
    let writer = std::thread::spawn({
        let port = primary.port;
        move || write_load(port, 6000, 2)
    });
    write_load(primary.port, 3000, 3);
    writer.join().expect("writer");
    let n = settle_and_compare(primary.port, replica.port);
    assert!(n > 200, "only {n} keys");
    let log = replica.log_text();
    assert!(
        log.contains("MASTER <-> REPLICA sync: Finished with success"),
        "{log}"
    );
    let mut r = replica.raw();
    match r.call(&["ROLE"]) {
        Frame::Array(Some(v)) => {
            assert_eq!(v[0], bulk("slave"));
            assert_eq!(v[2], Frame::Int(primary.port as i64));
            assert_eq!(v[3], bulk("connected"));
        }
        other => panic!("{other:?}"),
    }
    let i = info(&mut r, &["replication"]);
    assert_eq!(info_field(&i, "role").as_deref(), Some("slave"));
    assert_eq!(info_field(&i, "master_port").as_deref(), Some(p.as_str()));
    assert_eq!(
        info_field(&i, "master_sync_in_progress").as_deref(),
        Some("0")
    );
    let pinfo = info_of(primary.port, "replication");
    assert_eq!(
        info_field(&pinfo, "connected_slaves").as_deref(),
        Some("1"),
        "{pinfo}"
    );
    let st = info(&mut r, &["stats"]);
    assert!(stat(&st, "total_net_repl_input_bytes") > 100_000, "{st}");
    // The same INFO fields, in the same order, as a real Redis replica's.
    let real = Server::start_redis(&["--replicaof", "127.0.0.1", &p]);
    wait_caught_up(primary.port, real.port, Duration::from_secs(30));
    let names = |t: &str| {
        t.lines()
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .collect::<Vec<_>>()
    };
    let ours = info(&mut r, &["replication"]);
    assert_eq!(
        names(&ours),
        names(&info_of(real.port, "replication")),
        "{ours}"
    );
}

/// A replica never deletes keys on its own: an expired key stays (hidden
/// from reads) until the primary's DEL arrives.
#[test]
fn expired_keys_hidden_until_primary_deletes() {
    if !have_redis() {
        return;
    }
    let primary = real_primary(&["--enable-debug-command", "yes"]);
    let p = primary.port.to_string();
    let replica = Server::start(&["--replicaof", "127.0.0.1", &p]);
    let mut pr = primary.raw();
    // The primary must not expire it by itself during the test.
    assert_eq!(pr.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), simple("OK"));
    pr.call(&["SET", "gone", "v", "PX", "100"]);
    pr.call(&["SET", "stay", "v"]);
    wait_caught_up(primary.port, replica.port, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(200));
    let mut rr = replica.raw();
    assert_eq!(rr.call(&["GET", "gone"]), Frame::Bulk(None));
    assert_eq!(rr.call(&["EXISTS", "gone"]), Frame::Int(0));
    // Still there: DBSIZE counts it, as Redis's does.
    assert_eq!(rr.call(&["DBSIZE"]), Frame::Int(2));
    assert_eq!(pr.call(&["GET", "gone"]), Frame::Bulk(None));
    assert!(wait_until(Duration::from_secs(10), || rr.call(&["DBSIZE"])
        == Frame::Int(1)));
}

/// A Redust replica of `primary` in its own directory: synced after
/// `before` writes (seed `seed`), shut down with a save, restarted from the
/// same directory after `during` more writes, and caught up again.
fn restarted_replica(
    primary: &Server,
    before: usize,
    during: usize,
    seed: u64,
) -> (Server, Cleanup) {
    let p = primary.port.to_string();
    let (dir, guard) = scratch_dir("replica-restart");
    let d = dir.display().to_string();
    let log = dir.join("r.log");
    let l = log.display().to_string();
    let args = [
        "--dir",
        &d,
        "--logfile",
        &l,
        "--save",
        "",
        "--replicaof",
        "127.0.0.1",
        &p,
    ];
    let mut replica = start_exact(redust_bin(), &dir, &log, &args);
    write_load(primary.port, before, seed);
    wait_caught_up(primary.port, replica.port, Duration::from_secs(20));
    let mut r = replica.raw();
    r.send(&["SHUTDOWN", "SAVE"]);
    assert!(wait_exit(&mut replica, Duration::from_secs(10)).is_some());
    // The directory outlives this first run (the guard owns it).
    replica.dir = std::env::temp_dir().join("redust-test-nonexistent");
    write_load(primary.port, during, seed + 1);
    let replica = start_exact(redust_bin(), &dir, &log, &args);
    wait_caught_up(primary.port, replica.port, Duration::from_secs(20));
    (replica, guard)
}

fn stat(st: &str, name: &str) -> i64 {
    info_field(st, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

#[test]
fn restart_resumes_with_partial_resync() {
    if !have_redis() {
        return;
    }
    let primary = real_primary(&[]);
    // The writes while the replica is away come from the backlog.
    let (replica, _g) = restarted_replica(&primary, 2000, 500, 4);
    let st = info_of(primary.port, "stats");
    assert!(stat(&st, "sync_partial_ok") >= 1, "{st}");
    assert_eq!(stat(&st, "sync_full"), 1, "{st}");
    settle_and_compare(primary.port, replica.port);
    let log = replica.log_text();
    assert!(
        log.contains("Successful partial resynchronization with master."),
        "{log}"
    );
}

#[test]
fn disconnect_beyond_backlog_means_full_resync() {
    if !have_redis() {
        return;
    }
    let primary = real_primary(&["--repl-backlog-size", "16kb"]);
    // Far more than the 16 KB backlog while it is away.
    let (replica, _g) = restarted_replica(&primary, 200, 3000, 6);
    let st = info_of(primary.port, "stats");
    assert_eq!(stat(&st, "sync_full"), 2, "{st}");
    assert!(stat(&st, "sync_partial_err") >= 1, "{st}");
    settle_and_compare(primary.port, replica.port);
}

#[test]
fn read_only_stale_and_promotion() {
    if !have_redis() {
        return;
    }
    let mut primary = real_primary(&[]);
    let p = primary.port.to_string();
    let replica = Server::start(&["--replicaof", "127.0.0.1", &p]);
    let mut pr = primary.raw();
    pr.call(&["SET", "a", "1"]);
    wait_caught_up(primary.port, replica.port, Duration::from_secs(20));
    let mut r = replica.raw();
    assert_eq!(
        r.call(&["SET", "a", "2"]),
        err("READONLY You can't write against a read only replica.")
    );
    assert_eq!(r.call(&["MULTI"]), simple("OK"));
    assert_eq!(
        r.call(&["INCR", "a"]),
        err("READONLY You can't write against a read only replica.")
    );
    assert_eq!(
        r.call(&["EXEC"]),
        err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(r.call(&["GET", "a"]), bulk("1"));
    assert_eq!(
        r.call(&["REPLICAOF", "127.0.0.1", &p]),
        simple("OK Already connected to specified master")
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "replica-serve-stale-data", "no"]),
        simple("OK")
    );
    primary.stop();
    assert!(wait_until(Duration::from_secs(10), || field(
        replica.port,
        "replication",
        "master_link_status"
    )
    .as_deref()
        == Some("down")));
    assert_eq!(
        r.call(&["GET", "a"]),
        err("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
    );
    let i = info(&mut r, &["replication"]);
    assert!(
        info_field(&i, "master_link_down_since_seconds").is_some(),
        "{i}"
    );
    let replid = info_field(&i, "master_replid").expect("replid");
    let off = info_field(&i, "master_repl_offset").expect("offset");
    assert_eq!(r.call(&["SLAVEOF", "NO", "ONE"]), simple("OK"));
    assert_eq!(r.call(&["GET", "a"]), bulk("1"));
    assert_eq!(r.call(&["SET", "a", "3"]), simple("OK"));
    let i = info(&mut r, &["replication"]);
    assert_eq!(info_field(&i, "role").as_deref(), Some("master"));
    // The old stream's id is now the secondary one, valid up to offset+1.
    assert_eq!(info_field(&i, "master_replid2"), Some(replid));
    assert_eq!(
        info_field(&i, "second_repl_offset"),
        Some((off.parse::<i64>().unwrap() + 1).to_string())
    );
    assert!(replica.log_text().contains("MASTER MODE enabled"));
}

#[test]
fn diskless_load_and_disk_transfer() {
    if !have_redis() {
        return;
    }
    // The primary writes the RDB to disk and sends it with its length; the
    // replica loads it from the socket.
    let primary = real_primary(&["--repl-diskless-sync", "no"]);
    write_load(primary.port, 2000, 8);
    let p = primary.port.to_string();
    let replica = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &p,
        "--repl-diskless-load",
        "swapdb",
    ]);
    settle_and_compare(primary.port, replica.port);
    let log = replica.log_text();
    assert!(log.contains("bytes from master to memory"), "{log}");
    // No RDB file is written when loading from the socket.
    assert!(!replica.dir.join("dump.rdb").exists());
}

/// A fake primary that breaks off the RDB transfer, then one that sends
/// garbage: the replica logs, retries and keeps serving.
#[test]
fn broken_transfers_are_retried() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port().to_string();
    let replica = Server::start(&["--replicaof", "127.0.0.1", &port, "--repl-timeout", "2"]);
    let handshake = |s: &mut std::net::TcpStream| {
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // PING, REPLCONF x2, PSYNC: answer each as it comes.
        let mut answered = 0;
        while answered < 4 {
            let n = s.read(&mut buf).expect("read");
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
            let cmds = got.windows(1).filter(|w| w[0] == b'*').count();
            while answered < cmds.min(4) {
                answered += 1;
                let reply: &[u8] = match answered {
                    1 => b"+PONG\r\n",
                    2 | 3 => b"+OK\r\n",
                    _ => b"+FULLRESYNC 0123456789012345678901234567890123456789 0\r\n",
                };
                s.write_all(reply).expect("write");
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    let (mut s, _) = l.accept().expect("accept");
    let got = handshake(&mut s);
    assert!(
        got.contains("listening-port") && got.contains("PSYNC") && got.contains("psync2"),
        "{got}"
    );
    s.write_all(b"$1000\r\nREDIS0011").expect("write");
    drop(s);
    let (mut s, _) = l.accept().expect("second attempt");
    handshake(&mut s);
    s.write_all(b"$EOF:0123456789012345678901234567890123456789\r\nnot an rdb at all0123456789012345678901234567890123456789").expect("write");
    let (mut s, _) = l.accept().expect("third attempt");
    handshake(&mut s);
    // A good (empty) diskless transfer with the stream right behind the
    // mark, in one write.
    let mark = "0123456789012345678901234567890123456789";
    let mut t = format!("$EOF:{mark}\r\n").into_bytes();
    t.extend_from_slice(b"REDIS0011\xff\0\0\0\0\0\0\0\0");
    t.extend_from_slice(mark.as_bytes());
    t.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
    s.write_all(&t).expect("write");
    let mut r = replica.raw();
    assert!(wait_until(Duration::from_secs(10), || r
        .call(&["GET", "k"])
        == bulk("v")));
    assert_eq!(r.call(&["PING"]), simple("PONG"));
    let log = replica.log_text();
    assert!(
        log.contains("I/O error trying to sync with MASTER"),
        "{log}"
    );
    assert!(
        log.contains("Failed trying to load the MASTER synchronization DB"),
        "{log}"
    );
    drop(s);
    let start = Instant::now();
    assert_eq!(r.call(&["REPLICAOF", "NO", "ONE"]), simple("OK"));
    assert!(start.elapsed() < Duration::from_secs(5));
}

use redust::resp::reply::Frame;

/// tls-replication yes: the link to a real Redis primary that only speaks
/// TLS to replicas and checks their client certificates.
#[test]
fn replicates_over_tls() {
    if !have_redis() {
        return;
    }
    let (dir, _g) = scratch_dir("repl-tls");
    make_ca(&dir, "ca", "Repl CA");
    write_file(&dir, "s.ext", "subjectAltName=IP:127.0.0.1\n");
    sign_cert(&dir, "s", "ca", "s.ext");
    let f = |n: &str| dir.join(n).display().to_string();
    let (crt, key, cacrt) = (f("s.crt"), f("s.key"), f("ca.crt"));
    let tls_port = free_port().to_string();
    let tls = [
        "--tls-cert-file",
        &crt,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &cacrt,
        "--tls-replication",
        "yes",
    ];
    let mut pargs = vec!["--tls-port", &tls_port];
    pargs.extend_from_slice(&tls);
    let primary = real_primary(&pargs);
    write_load(primary.port, 1000, 9);
    let mut rargs = vec!["--replicaof", "127.0.0.1", &tls_port];
    rargs.extend_from_slice(&tls);
    let replica = Server::start(&rargs);
    settle_and_compare(primary.port, replica.port);
    write_load(primary.port, 500, 10);
    settle_and_compare(primary.port, replica.port);
}

/// Redust replicating from Redust, and chains: what a replica applies is
/// passed on verbatim, so a real Redis below a Redust replica agrees on
/// offsets with the real Redis primary above it.
#[test]
fn chains_of_replicas() {
    if !have_redis() {
        return;
    }
    let top = real_primary(&[]);
    let t = top.port.to_string();
    let mid = Server::start(&["--replicaof", "127.0.0.1", &t]);
    let m = mid.port.to_string();
    let bottom = Server::start_redis(&["--replicaof", "127.0.0.1", &m]);
    let redust_bottom = Server::start(&["--replicaof", "127.0.0.1", &m]);
    write_load(top.port, 2000, 11);
    settle_and_compare(top.port, mid.port);
    wait_caught_up(mid.port, bottom.port, Duration::from_secs(30));
    wait_caught_up(mid.port, redust_bottom.port, Duration::from_secs(30));
    assert_eq!(
        num(top.port, "replication", "master_repl_offset"),
        num(bottom.port, "replication", "master_repl_offset")
    );
    assert_same_content(top.port, bottom.port);
    assert_same_content(top.port, redust_bottom.port);

    // The middle one is promoted: the ones below continue with it (same
    // history, new id) without a full resync.
    let mut r = mid.raw();
    assert_eq!(r.call(&["REPLICAOF", "NO", "ONE"]), simple("OK"));
    write_load(mid.port, 500, 12);
    settle_and_compare(mid.port, bottom.port);
    settle_and_compare(mid.port, redust_bottom.port);
    let st = info_of(mid.port, "stats");
    assert_eq!(info_field(&st, "sync_full").as_deref(), Some("2"), "{st}");
    assert!(stat(&st, "sync_partial_ok") >= 2, "{st}");
}

/// A replica of a Redust primary, restarted, continues with a partial
/// resync; a real Redis replica of Redust too.
#[test]
fn replicas_of_a_redust_primary() {
    let primary = Server::start(&[]);
    let p = primary.port.to_string();
    let replica = Server::start(&["--replicaof", "127.0.0.1", &p]);
    write_load(primary.port, 2000, 13);
    settle_and_compare(primary.port, replica.port);
    if have_redis() {
        let real = Server::start_redis(&["--replicaof", "127.0.0.1", &p]);
        write_load(primary.port, 500, 14);
        settle_and_compare(primary.port, real.port);
        settle_and_compare(primary.port, replica.port);
    }
}

/// masterauth (alone and with masteruser) against a primary that requires
/// a password; replica-announce-ip/port as the primary shows them.
#[test]
fn authenticates_to_the_primary() {
    if !have_redis() {
        return;
    }
    let primary = real_primary(&["--requirepass", "s3cret"]);
    let mut pr = primary.raw();
    assert_eq!(pr.call(&["AUTH", "s3cret"]), simple("OK"));
    assert_eq!(
        pr.call(&[
            "ACL",
            "SETUSER",
            "repl",
            "on",
            ">rpw",
            "+psync",
            "+replconf",
            "+ping"
        ]),
        simple("OK")
    );
    assert_eq!(pr.call(&["SET", "k", "v"]), simple("OK"));
    let p = primary.port.to_string();
    let plain = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &p,
        "--masterauth",
        "s3cret",
        "--replica-announce-ip",
        "10.1.2.3",
        "--replica-announce-port",
        "4567",
    ]);
    let user = Server::start(&[
        "--replicaof",
        "127.0.0.1",
        &p,
        "--masteruser",
        "repl",
        "--masterauth",
        "rpw",
    ]);
    let wrong = Server::start(&["--replicaof", "127.0.0.1", &p, "--masterauth", "nope"]);
    for r in [&plain, &user] {
        let mut c = r.raw();
        assert!(wait_until(Duration::from_secs(20), || c
            .call(&["GET", "k"])
            == bulk("v")));
    }
    let i = info(&mut pr, &["replication"]);
    assert!(i.contains("ip=10.1.2.3,port=4567,state=online"), "{i}");
    assert_eq!(
        info_field(&i, "connected_slaves").as_deref(),
        Some("2"),
        "{i}"
    );
    assert!(wait_until(Duration::from_secs(10), || wrong
        .log_text()
        .contains("Unable to AUTH to MASTER")));
    assert_eq!(
        field(wrong.port, "replication", "master_link_status").as_deref(),
        Some("down")
    );
}

/// rdb-del-sync-files yes on a replica without persistence (no save rules,
/// no AOF): the RDB received from the primary is deleted once loaded, so a
/// restart cannot load a stale copy. Without it, or with persistence on,
/// the file stays.
#[test]
fn rdb_del_sync_files_removes_the_synced_rdb_without_persistence() {
    let primary = Server::start(&[]);
    let p = primary.port.to_string();
    write_load(primary.port, 200, 21);
    let cases: [(&[&str], bool); 3] = [
        (&["--rdb-del-sync-files", "yes"], false),
        (&["--rdb-del-sync-files", "no"], true),
        (&["--rdb-del-sync-files", "yes", "--save", "3600 1"], true),
    ];
    for (extra, kept) in cases {
        let mut args = vec!["--replicaof", "127.0.0.1", &p];
        args.extend_from_slice(extra);
        let replica = Server::start(&args);
        settle_and_compare(primary.port, replica.port);
        assert_eq!(replica.dir.join("dump.rdb").exists(), kept, "{extra:?}");
    }
}
