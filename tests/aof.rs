//! The append-only file: acknowledged writes survive kill -9 (everysec and
//! always), AOF directories are interchangeable with Redis 7 and pass
//! redis-check-aof, truncated and corrupt files, rewrites under load,
//! expiries replayed as absolute times, switching the AOF on at runtime;
//! DUMP/RESTORE payloads interchangeable with Redis.
mod common;
mod helpers;
use common::*;
use redust::resp::reply::Frame;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A data dir that outlives the servers started on it.
struct DataDir(PathBuf);

impl DataDir {
    fn new(tag: &str) -> DataDir {
        DataDir(temp_dir(tag))
    }
    fn s(&self) -> String {
        self.0.display().to_string()
    }
    fn aof(&self) -> PathBuf {
        self.0.join("appendonlydir")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn redust_aof(d: &DataDir, extra: &[&str]) -> Server {
    let dir = d.s();
    let mut args = vec!["--dir", &dir, "--appendonly", "yes"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn redis_aof(d: &DataDir) -> Server {
    let dir = d.s();
    Server::start_redis(&["--dir", &dir, "--appendonly", "yes"])
}

fn int(f: Frame) -> i64 {
    match f {
        Frame::Int(i) => i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn strings(f: Frame) -> Vec<String> {
    match f {
        Frame::Array(Some(v)) => v
            .into_iter()
            .map(|e| match e {
                Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
                other => format!("{other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

/// Everything a key holds, in a comparable form: type, contents, and
/// whether it has a TTL.
fn describe(r: &mut Raw, key: &str) -> String {
    let t = match r.call(&["TYPE", key]) {
        Frame::Simple(s) => String::from_utf8_lossy(&s).into_owned(),
        other => panic!("TYPE {other:?}"),
    };
    let mut body = match t.as_str() {
        "string" => format!("{:?}", r.call(&["GET", key])),
        "list" => strings(r.call(&["LRANGE", key, "0", "-1"])).join(","),
        "set" => {
            let mut v = strings(r.call(&["SMEMBERS", key]));
            v.sort();
            v.join(",")
        }
        "hash" => {
            let mut v: Vec<String> = strings(r.call(&["HGETALL", key]))
                .chunks(2)
                .map(|p| p.join("="))
                .collect();
            v.sort();
            v.join(",")
        }
        "zset" => strings(r.call(&["ZRANGE", key, "0", "-1", "WITHSCORES"])).join(","),
        other => other.to_string(),
    };
    let ttl = int(r.call(&["PTTL", key]));
    body.push_str(if ttl > 0 { " ttl" } else { " no-ttl" });
    format!("{t}: {body}")
}

/// All keys of databases 0 and 2, described.
fn snapshot(r: &mut Raw) -> Vec<String> {
    let mut out = Vec::new();
    for db in ["0", "2"] {
        assert_eq!(r.call(&["SELECT", db]), simple("OK"));
        let mut keys = strings(r.call(&["KEYS", "*"]));
        keys.sort();
        for k in keys {
            let d = describe(r, &k);
            out.push(format!("{db}/{k} {d}"));
        }
    }
    assert_eq!(r.call(&["SELECT", "0"]), simple("OK"));
    out
}

/// A bit of every type, with TTLs, random pops and float increments, in
/// two databases.
fn write_dataset(r: &mut Raw) {
    for cmd in [
        vec!["SET", "s", "hello"],
        vec!["SET", "n", "42"],
        vec!["INCR", "n"],
        vec!["INCRBYFLOAT", "f", "1.5"],
        vec!["INCRBYFLOAT", "f", "0.1"],
        vec!["SET", "ttl", "v", "EX", "1000"],
        vec!["SETEX", "ttl2", "500", "v"],
        vec!["SET", "pers", "v", "EX", "100"],
        vec!["PERSIST", "pers"],
        vec!["RPUSH", "l", "a", "b", "c", "d"],
        vec!["LPOP", "l"],
        vec!["SADD", "set", "a", "b", "c", "d", "e", "f"],
        vec!["SPOP", "set"],
        vec!["SPOP", "set", "2"],
        vec!["SADD", "ints", "1", "2", "3"],
        vec!["HSET", "h", "f1", "v1", "f2", "v2"],
        vec!["HINCRBYFLOAT", "h", "fl", "2.25"],
        vec!["ZADD", "z", "1", "a", "2.5", "b", "-3", "c"],
        vec!["ZINCRBY", "z", "1", "a"],
        vec!["EXPIRE", "h", "300"],
        vec!["SELECT", "2"],
        vec!["SET", "in2", "x"],
        vec!["RPUSH", "l2", "x", "y"],
        vec!["SELECT", "0"],
        vec!["MULTI"],
        vec!["SET", "tx", "1"],
        vec!["INCR", "tx"],
        vec!["EXEC"],
        vec!["SET", "gone", "v", "PX", "1"],
    ] {
        let rep = r.call(&cmd);
        assert!(!matches!(rep, Frame::Error(_)), "{cmd:?}: {rep:?}");
    }
    std::thread::sleep(Duration::from_millis(5));
    // A key that expired and was then recreated as another type.
    assert_eq!(r.call(&["RPUSH", "gone", "now-a-list"]), Frame::Int(1));
}

#[test]
fn writes_survive_restart_and_replay_exactly() {
    let d = DataDir::new("aof-restart");
    let mut s = redust_aof(&d, &[]);
    let mut r = s.raw();
    write_dataset(&mut r);
    let before = snapshot(&mut r);
    assert!(
        before.iter().any(|l| l.contains("0/gone list: now-a-list")),
        "{before:?}"
    );
    s.stop(); // SIGKILL
    let s2 = redust_aof(&d, &[]);
    let mut r = s2.raw();
    // Loaded keys count as just accessed, as after an RDB load.
    assert!(int(r.call(&["OBJECT", "IDLETIME", "s"])) < 10);
    assert_eq!(snapshot(&mut r), before);
}

/// Writes SET k:i while another thread kills the server; every write that
/// was acknowledged must be there after a restart.
/// Several rounds on one directory: write under load, kill -9, restart,
/// and every acknowledged write of every round must be there.
fn acknowledged_writes_survive_kill_9(fsync: &str) {
    let d = DataDir::new("aof-kill");
    let mut total_acked = 0;
    for round in 0..3 {
        let mut s = redust_aof(&d, &["--appendfsync", fsync]);
        let port = s.port;
        let mut r = s.raw();
        // What earlier rounds acknowledged is all there, in order.
        let items = strings(r.call(&["LRANGE", "list0", "0", "-1"]));
        assert!(
            items.len() as i64 > total_acked - 1,
            "round {round}: acknowledged {total_acked}, found {}",
            items.len()
        );
        for (i, v) in items.iter().enumerate() {
            assert_eq!(v, &i.to_string(), "round {round}");
        }
        let start_len = items.len() as i64;
        let acked = Arc::new(AtomicI64::new(start_len - 1));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let acked = acked.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut r = Raw::connect(port);
                    let list = format!("list{w}");
                    let Frame::Int(mut n) = r.call(&["LLEN", &list]) else {
                        panic!("LLEN")
                    };
                    while !stop.load(Ordering::Relaxed) {
                        r.send(&["RPUSH", &list, &n.to_string()]);
                        match r.read_raw() {
                            Some((Frame::Int(len), _)) => {
                                assert_eq!(len, n + 1);
                                if w == 0 {
                                    acked.store(n, Ordering::Relaxed);
                                }
                            }
                            _ => break,
                        }
                        n += 1;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(800));
        s.stop(); // kill -9 under load
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.join();
        }
        let acked = acked.load(Ordering::Relaxed);
        assert!(
            acked - start_len > 20,
            "too few writes to mean anything: {}",
            acked - start_len
        );
        total_acked = acked + 1;
    }
    let s = redust_aof(&d, &[]);
    let len = int(s.raw().call(&["LLEN", "list0"]));
    assert!(
        len >= total_acked,
        "acknowledged {total_acked} writes, found {len}"
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_everysec() {
    acknowledged_writes_survive_kill_9("everysec");
}

#[test]
fn acknowledged_writes_survive_kill_9_always() {
    acknowledged_writes_survive_kill_9("always");
}

#[test]
fn redis_starts_from_redust_aof_and_check_aof_accepts_it() {
    if !have_redis() {
        return;
    }
    let d = DataDir::new("aof-to-redis");
    let mut s = redust_aof(&d, &[]);
    let mut r = s.raw();
    write_dataset(&mut r);
    // Part in the base (after a rewrite), part in the incremental file.
    assert_eq!(
        r.call(&["BGREWRITEAOF"]),
        simple("Background append only file rewriting started")
    );
    wait_rewrite(&mut r);
    assert_eq!(r.call(&["SET", "after-rewrite", "1"]), simple("OK"));
    let before = snapshot(&mut r);
    s.stop();
    let manifest = d.aof().join("appendonly.aof.manifest");
    let check = Command::new("redis-check-aof")
        .arg(&manifest)
        .output()
        .expect("redis-check-aof");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && text.contains("All AOF files and manifest are valid"),
        "{text}"
    );
    let redis = redis_aof(&d);
    assert_eq!(snapshot(&mut redis.raw()), before);
}

#[test]
fn redust_starts_from_redis_aof() {
    if !have_redis() {
        return;
    }
    let d = DataDir::new("aof-from-redis");
    let mut redis = redis_aof(&d);
    let mut r = redis.raw();
    write_dataset(&mut r);
    let before = snapshot(&mut r);
    redis.stop();
    let s = redust_aof(&d, &[]);
    assert_eq!(snapshot(&mut s.raw()), before);
}

/// aof-timestamp-enabled yes: Redust writes `#TS:<unix time>` lines as
/// Redis 7 does, and both servers, redis-check-aof and Redust's own
/// check-aof read such files (Redis's and Redust's).
#[test]
fn timestamp_annotations_both_ways() {
    let annotations = |d: &DataDir| -> usize {
        std::fs::read_dir(d.aof())
            .expect("aof dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
            .map(|e| {
                let text = std::fs::read(e.path()).unwrap_or_default();
                String::from_utf8_lossy(&text).matches("#TS:").count()
            })
            .sum()
    };
    let write = |s: &Server| -> Vec<String> {
        let mut r = s.raw();
        assert_eq!(r.call(&["SET", "first", "1"]), simple("OK"));
        // The next command falls in another second: another annotation.
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(r.call(&["RPUSH", "second", "a", "b"]), Frame::Int(2));
        snapshot(&mut r)
    };
    let check = |d: &DataDir, tool: &str| {
        let manifest = d.aof().join("appendonly.aof.manifest");
        let out = if tool == "redust" {
            Command::new(redust_bin())
                .arg("check-aof")
                .arg(&manifest)
                .output()
        } else {
            Command::new("redis-check-aof").arg(&manifest).output()
        }
        .expect("check-aof");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("All AOF files and manifest are valid"),
            "{tool}: {text}"
        );
    };

    // The annotated files pass Redust's check-aof and load back in Redust.
    let read_back = |d: &DataDir, before: &[String]| {
        assert!(annotations(d) >= 2, "{} annotations", annotations(d));
        check(d, "redust");
        assert_eq!(snapshot(&mut redust_aof(d, &[]).raw()), before);
    };

    let d = DataDir::new("aof-ts-redust");
    let mut s = redust_aof(&d, &["--aof-timestamp-enabled", "yes"]);
    let before = write(&s);
    s.stop();
    read_back(&d, &before);
    if !have_redis() {
        return;
    }
    check(&d, "redis");
    assert_eq!(snapshot(&mut redis_aof(&d).raw()), before);

    // A base written as commands starts with an annotation too.
    let d = DataDir::new("aof-ts-base");
    let mut s = redust_aof(
        &d,
        &[
            "--aof-timestamp-enabled",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
        ],
    );
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), simple("OK"));
    assert_eq!(
        r.call(&["BGREWRITEAOF"]),
        simple("Background append only file rewriting started")
    );
    wait_rewrite(&mut r);
    let before = snapshot(&mut r);
    s.stop();
    let base = d.aof().join("appendonly.aof.2.base.aof");
    let text = std::fs::read(&base).expect("command base");
    assert!(
        text.starts_with(b"#TS:"),
        "{}",
        String::from_utf8_lossy(&text)
    );
    check(&d, "redust");
    check(&d, "redis");
    assert_eq!(snapshot(&mut redis_aof(&d).raw()), before);

    let d = DataDir::new("aof-ts-redis");
    let dir = d.s();
    let mut redis = Server::start_redis(&[
        "--dir",
        &dir,
        "--appendonly",
        "yes",
        "--aof-timestamp-enabled",
        "yes",
    ]);
    let before = write(&redis);
    redis.stop();
    read_back(&d, &before);
}

/// A Redis 6 single-file AOF (commands only, or an RDB preamble followed
/// by commands) in `dir`: the first start with appendonly yes moves it into
/// the AOF directory as the base and loads it, as Redis 7 does; Redis 7
/// then starts from the migrated directory too.
#[test]
fn redis6_single_file_aof_is_migrated() {
    let commands =
        b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$3\r\nold\r\n$3\r\nyes\r\n";
    // An RDB preamble as Redis 6 wrote it: a full RDB image.
    let preamble = {
        let d = DataDir::new("aof-legacy-rdb");
        let s = Server::start(&["--dir", &d.s()]);
        let mut r = s.raw();
        assert_eq!(r.call(&["RPUSH", "from-rdb", "a", "b"]), Frame::Int(2));
        assert_eq!(r.call(&["SAVE"]), simple("OK"));
        std::fs::read(d.0.join("dump.rdb")).expect("dump.rdb")
    };
    for with_rdb in [false, true] {
        let d = DataDir::new("aof-legacy");
        let mut file = if with_rdb {
            preamble.clone()
        } else {
            Vec::new()
        };
        file.extend_from_slice(commands);
        std::fs::write(d.0.join("appendonly.aof"), &file).expect("write");
        let mut s = redust_aof(&d, &[]);
        let mut r = s.raw();
        assert_eq!(
            r.call(&["GET", "old"]),
            bulk("yes"),
            "rdb preamble: {with_rdb}"
        );
        if with_rdb {
            assert_eq!(
                strings(r.call(&["LRANGE", "from-rdb", "0", "-1"])),
                ["a", "b"]
            );
        }
        assert_eq!(r.call(&["SET", "new", "1"]), simple("OK"));
        let before = snapshot(&mut r);
        s.stop();
        assert!(!d.0.join("appendonly.aof").exists());
        let manifest =
            std::fs::read_to_string(d.aof().join("appendonly.aof.manifest")).expect("manifest");
        assert!(
            manifest.starts_with("file appendonly.aof seq 1 type b\n"),
            "{manifest}"
        );
        assert_eq!(snapshot(&mut redust_aof(&d, &[]).raw()), before);
        if have_redis() {
            assert_eq!(snapshot(&mut redis_aof(&d).raw()), before);
        }
    }
}

fn wait_rewrite(r: &mut Raw) {
    let start = Instant::now();
    loop {
        let info = match r.call(&["INFO", "persistence"]) {
            Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("INFO {other:?}"),
        };
        if info.contains("aof_rewrite_in_progress:0") {
            assert!(info.contains("aof_last_bgrewrite_status:ok"), "{info}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "rewrite did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn incr_file(d: &DataDir) -> PathBuf {
    let m = std::fs::read_to_string(d.aof().join("appendonly.aof.manifest")).expect("manifest");
    let name = m
        .lines()
        .filter(|l| l.ends_with("type i"))
        .last()
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("an incr file")
        .to_string();
    d.aof().join(name)
}

/// Runs the server to completion (it must fail to start): exit status and
/// log.
fn start_fails(d: &DataDir, extra: &[&str]) -> (bool, String) {
    let log = d.0.join("fail.log");
    let port = free_port().to_string();
    let dir = d.s();
    let logs = log.display().to_string();
    let mut args = vec![
        "--port",
        &port,
        "--dir",
        &dir,
        "--appendonly",
        "yes",
        "--logfile",
        &logs,
    ];
    args.extend_from_slice(extra);
    let out = helpers::run_to_exit(redust_bin(), &args, Duration::from_secs(10));
    (
        out.status.success(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

#[test]
fn truncated_and_corrupt_aof() {
    let d = DataDir::new("aof-trunc");
    let mut s = redust_aof(&d, &[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "a", "1"]), simple("OK"));
    assert_eq!(r.call(&["SET", "b", "2"]), simple("OK"));
    s.stop();
    let incr = incr_file(&d);
    let whole = std::fs::read(&incr).expect("incr");
    // Cut inside the last command.
    std::fs::write(&incr, &whole[..whole.len() - 4]).expect("cut");
    let (ok, log) = start_fails(&d, &["--aof-load-truncated", "no"]);
    assert!(
        !ok,
        "started with a truncated AOF and aof-load-truncated no"
    );
    assert!(
        log.contains("Unexpected end of file") && log.contains("appendonly.aof.1.incr.aof"),
        "{log}"
    );
    {
        let s = redust_aof(&d, &["--aof-load-truncated", "yes"]);
        let mut r = s.raw();
        assert_eq!(r.call(&["GET", "a"]), bulk("1"));
        assert_eq!(r.call(&["GET", "b"]), Frame::Bulk(None));
        assert!(s.log_text().contains("short read"), "{}", s.log_text());
        // Appends go on from a whole command.
        assert_eq!(r.call(&["SET", "c", "3"]), simple("OK"));
    }
    {
        let s = redust_aof(&d, &[]);
        let mut r = s.raw();
        assert_eq!(r.call(&["GET", "c"]), bulk("3"));
    }
    // Damage in the middle: start-up fails naming the file and offset.
    let mut data = std::fs::read(&incr).expect("incr");
    let at = data.windows(3).position(|w| w == b"SET").expect("a SET");
    data[at - 3] = b'#';
    std::fs::write(&incr, &data).expect("corrupt");
    let (ok, log) = start_fails(&d, &[]);
    assert!(!ok);
    assert!(
        log.contains("Bad file format")
            && log.contains("appendonly.aof.1.incr.aof")
            && log.contains("offset"),
        "{log}"
    );
}

#[test]
fn bgrewriteaof_under_writes_loses_nothing() {
    let d = DataDir::new("aof-rewrite");
    let mut s = redust_aof(&d, &[]);
    let port = s.port;
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let writer = std::thread::spawn(move || {
        let mut r = Raw::connect(port);
        let mut n = 0i64;
        while !st.load(Ordering::Relaxed) {
            assert_eq!(r.call(&["RPUSH", "l", &n.to_string()]), Frame::Int(n + 1));
            n += 1;
        }
        n
    });
    let mut r = s.raw();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(
            r.call(&["BGREWRITEAOF"]),
            simple("Background append only file rewriting started")
        );
        wait_rewrite(&mut r);
    }
    stop.store(true, Ordering::Relaxed);
    let n = writer.join().expect("writer");
    let info = match r.call(&["INFO", "persistence"]) {
        Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(info.contains("aof_rewrites:3"), "{info}");
    s.stop();
    // Old files are gone: manifest, one base, one incr.
    let mut files: Vec<String> = std::fs::read_dir(d.aof())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "appendonly.aof.4.base.rdb",
            "appendonly.aof.4.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    let s2 = redust_aof(&d, &[]);
    let mut r = s2.raw();
    assert_eq!(int(r.call(&["LLEN", "l"])), n);
    assert_eq!(r.call(&["LINDEX", "l", "-1"]), bulk(&(n - 1).to_string()));
}

#[test]
fn expiries_replay_as_absolute_times() {
    let d = DataDir::new("aof-ttl");
    let mut s = redust_aof(&d, &[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "a", "v", "EX", "100"]), simple("OK"));
    assert_eq!(r.call(&["SETEX", "b", "100", "v"]), simple("OK"));
    assert_eq!(r.call(&["SET", "c", "v"]), simple("OK"));
    assert_eq!(r.call(&["EXPIRE", "c", "100"]), Frame::Int(1));
    assert_eq!(r.call(&["SET", "d", "v"]), simple("OK"));
    assert_eq!(r.call(&["GETEX", "d", "PX", "100000"]), bulk("v"));
    assert_eq!(r.call(&["SET", "short", "v", "PX", "300"]), simple("OK"));
    s.stop();
    let text = String::from_utf8_lossy(&std::fs::read(incr_file(&d)).expect("incr")).into_owned();
    assert!(
        text.contains("PXAT") && text.contains("PEXPIREAT"),
        "{text}"
    );
    assert!(
        !text.contains("SETEX") && !text.contains("EXPIRE\r") && !text.contains("GETEX"),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let s2 = redust_aof(&d, &[]);
    let mut r = s2.raw();
    for k in ["a", "b", "c", "d"] {
        let ttl = int(r.call(&["PTTL", k]));
        // The clock went on while the server was down.
        assert!((95_000..=98_950).contains(&ttl), "{k}: {ttl}");
    }
    assert_eq!(r.call(&["EXISTS", "short"]), Frame::Int(0));
}

#[test]
fn config_set_appendonly_writes_a_base_first() {
    let d = DataDir::new("aof-switch");
    let dir = d.s();
    let mut s = Server::start(&["--dir", &dir]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "before", "1"]), simple("OK"));
    assert_eq!(
        r.call(&["CONFIG", "SET", "appendonly", "yes"]),
        simple("OK")
    );
    assert_eq!(r.call(&["SET", "after", "2"]), simple("OK"));
    wait_rewrite(&mut r);
    s.stop();
    let s2 = redust_aof(&d, &[]);
    let mut r = s2.raw();
    assert_eq!(r.call(&["GET", "before"]), bulk("1"));
    assert_eq!(r.call(&["GET", "after"]), bulk("2"));
    // Switching off stops appending.
    assert_eq!(r.call(&["CONFIG", "SET", "appendonly", "no"]), simple("OK"));
    let size = std::fs::metadata(incr_file(&d)).expect("incr").len();
    assert_eq!(r.call(&["SET", "off", "3"]), simple("OK"));
    assert_eq!(std::fs::metadata(incr_file(&d)).expect("incr").len(), size);
}

/// Something that is not a directory where the AOF directory goes: the
/// server starts (appendonly no), and CONFIG SET appendonly yes fails with
/// Redis's error, leaving appendonly no and the server serving.
#[test]
fn config_set_appendonly_that_cannot_start_is_undone() {
    let mut servers = vec![("redust", Server::start as fn(&[&str]) -> Server)];
    if have_redis() {
        servers.push(("redis", Server::start_redis));
    }
    for (name, start) in servers {
        let d = DataDir::new("aof-blocked");
        std::fs::write(d.aof(), b"in the way").expect("write file");
        let dir = d.s();
        let s = start(&["--dir", &dir]);
        let mut r = s.raw();
        assert_eq!(
            r.call_raw(&["CONFIG", "SET", "appendonly", "yes", "maxmemory-policy", "allkeys-lru"]),
            b"-ERR CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.\r\n",
            "{name}"
        );
        assert_eq!(
            r.call_raw(&["CONFIG", "GET", "appendonly"]),
            b"*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n",
            "{name}"
        );
        // The other directive of the refused change was restored too.
        assert_eq!(
            r.call_raw(&["CONFIG", "GET", "maxmemory-policy"]),
            b"*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n",
            "{name}"
        );
        assert_eq!(r.call(&["SET", "k", "v"]), simple("OK"), "{name}");
        let info = String::from_utf8_lossy(&r.call_raw(&["INFO", "persistence"])).into_owned();
        assert!(info.contains("aof_enabled:0"), "{name}: {info}");
    }
}

#[test]
fn shutdown_and_sigterm_keep_everything() {
    let d = DataDir::new("aof-term");
    let mut s = redust_aof(&d, &["--appendfsync", "no"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), simple("OK"));
    assert!(s.terminate().is_some_and(|st| st.success()));
    let s2 = redust_aof(&d, &[]);
    assert_eq!(s2.raw().call(&["GET", "k"]), bulk("v"));
}

/// Values of every type in small (listpack, intset) and big (hashtable,
/// quicklist) encodings.
fn dump_dataset(r: &mut Raw) {
    let big: Vec<String> = (0..300).map(|i| format!("member-{i}")).collect();
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["SET".into(), "str".into(), "hello".into()],
        vec!["SET".into(), "int".into(), "-12345".into()],
        vec!["SET".into(), "long".into(), "abc".repeat(100)],
        vec![
            "RPUSH".into(),
            "list".into(),
            "a".into(),
            "1".into(),
            "b".into(),
        ],
        vec![
            "SADD".into(),
            "intset".into(),
            "1".into(),
            "2".into(),
            "300000".into(),
        ],
        vec!["SADD".into(), "lpset".into(), "x".into(), "y".into()],
        vec!["HSET".into(), "hash".into(), "f".into(), "v".into()],
        vec![
            "ZADD".into(),
            "zset".into(),
            "1.5".into(),
            "a".into(),
            "-2".into(),
            "b".into(),
        ],
    ];
    let mut add = |cmd: &str, key: &str, pairs: bool, scores: bool| {
        let mut v = vec![cmd.to_string(), key.to_string()];
        for (i, m) in big.iter().enumerate() {
            if scores {
                v.push(i.to_string());
            }
            v.push(m.clone());
            if pairs {
                v.push(format!("value-{i}"));
            }
        }
        cmds.push(v);
    };
    add("RPUSH", "biglist", false, false);
    add("SADD", "bigset", false, false);
    add("HSET", "bighash", true, false);
    add("ZADD", "bigzset", false, true);
    for c in cmds {
        let rep = r.call(&c);
        assert!(!matches!(rep, Frame::Error(_)), "{c:?}: {rep:?}");
    }
}

const DUMP_KEYS: &[&str] = &[
    "str", "int", "long", "list", "intset", "lpset", "hash", "zset", "biglist", "bigset",
    "bighash", "bigzset",
];

fn payload(f: Frame) -> Vec<u8> {
    match f {
        Frame::Bulk(Some(b)) => b,
        other => panic!("DUMP {other:?}"),
    }
}

/// DUMP on `from`, RESTORE on `to`, contents compared.
fn dump_across(from: &mut Raw, to: &mut Raw) {
    for k in DUMP_KEYS {
        let p = payload(from.call(&["DUMP", k]));
        assert_eq!(
            to.call(&[b"RESTORE".as_slice(), k.as_bytes(), b"0", &p]),
            simple("OK"),
            "{k}"
        );
        assert_eq!(describe(to, k), describe(from, k), "{k}");
    }
}

#[test]
fn dump_restore_interop_with_redis() {
    if !have_redis() {
        return;
    }
    let redis = Server::start_redis(&[]);
    let s = Server::start(&[]);
    let (mut rr, mut rs) = (redis.raw(), s.raw());
    dump_dataset(&mut rr);
    dump_across(&mut rr, &mut rs);
    assert_eq!(rr.call(&["FLUSHALL"]), simple("OK"));
    dump_across(&mut rs, &mut rr);
    // Uncompressed payloads are byte-identical to Redis's (LZF output may
    // differ and still be valid).
    for k in ["str", "int"] {
        assert_eq!(
            payload(rs.call(&["DUMP", k])),
            payload(rr.call(&["DUMP", k])),
            "{k}"
        );
    }
}

#[test]
fn restore_errors_and_options_match_redis() {
    if !have_redis() {
        return;
    }
    let redis = Server::start_redis(&[]);
    let s = Server::start(&[]);
    let (mut rr, mut rs) = (redis.raw(), s.raw());
    for r in [&mut rr, &mut rs] {
        assert_eq!(r.call(&["SET", "a", "hello"]), simple("OK"));
    }
    let good = payload(rr.call(&["DUMP", "a"]));
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    let mut bad_version = good.clone();
    bad_version[n - 10] = 99;
    let g: &[u8] = &good;
    let cases: Vec<Vec<&[u8]>> = vec![
        vec![b"RESTORE", b"a", b"0", g],
        vec![b"RESTORE", b"b", b"-1", g],
        vec![b"RESTORE", b"a", b"-1", g],
        vec![b"RESTORE", b"b", b"x", g],
        vec![b"RESTORE", b"b", b"0", &bad_crc],
        vec![b"RESTORE", b"b", b"0", &bad_version],
        vec![b"RESTORE", b"b", b"0", b"short"],
        vec![b"RESTORE", b"b", b"0", g, b"IDLETIME", b"-1"],
        vec![b"RESTORE", b"b", b"0", g, b"FREQ", b"256"],
        vec![b"RESTORE", b"b", b"0", g, b"IDLETIME", b"1", b"FREQ", b"1"],
        vec![b"RESTORE", b"b", b"0", g, b"BOGUS"],
        vec![b"RESTORE", b"b", b"0"],
        vec![b"DUMP", b"nokey"],
        vec![b"RESTORE", b"a", b"0", g, b"REPLACE", b"IDLETIME", b"100"],
        vec![b"OBJECT", b"IDLETIME", b"a"],
        vec![b"RESTORE", b"t", b"5000", g],
        vec![b"RESTORE", b"past", b"1000", g, b"ABSTTL"],
        vec![b"EXISTS", b"past"],
    ];
    for c in cases {
        let a = rr.call_raw(&c);
        let b = rs.call_raw(&c);
        assert_eq!(
            String::from_utf8_lossy(&b),
            String::from_utf8_lossy(&a),
            "{:?}",
            c.iter()
                .map(|x| String::from_utf8_lossy(x))
                .collect::<Vec<_>>()
        );
    }
    let ttl = int(rs.call(&["PTTL", "t"]));
    assert!((4000..=5000).contains(&ttl), "{ttl}");
}

#[test]
fn restore_replays_from_the_aof_with_its_absolute_ttl() {
    let d = DataDir::new("aof-restore");
    let mut s = redust_aof(&d, &[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["RPUSH", "src", "a", "b"]), Frame::Int(2));
    let p = payload(r.call(&["DUMP", "src"]));
    assert_eq!(
        r.call(&[b"RESTORE".as_slice(), b"copy", b"100000", &p]),
        simple("OK")
    );
    s.stop();
    std::thread::sleep(Duration::from_millis(1100));
    let s2 = redust_aof(&d, &[]);
    let mut r = s2.raw();
    assert_eq!(strings(r.call(&["LRANGE", "copy", "0", "-1"])), ["a", "b"]);
    let ttl = int(r.call(&["PTTL", "copy"]));
    assert!((95_000..=98_950).contains(&ttl), "{ttl}");
}

/// Runs a tool with `stdin`; (exit code, stdout).
fn run_tool(bin: &std::ffi::OsStr, args: &[&std::ffi::OsStr], stdin: &str) -> (i32, String) {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tool");
    use std::io::Write;
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    let out = child.wait_with_output().expect("tool output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn check_aof_and_check_rdb_tools() {
    let d = DataDir::new("aof-tools");
    let mut s = redust_aof(&d, &[]);
    let mut r = s.raw();
    write_dataset(&mut r);
    assert_eq!(r.call(&["SAVE"]), simple("OK"));
    s.stop();
    // Invoked by name, as redis-check-aof / redis-check-rdb.
    let aof_tool = d.0.join("redis-check-aof");
    let rdb_tool = d.0.join("redis-check-rdb");
    std::os::unix::fs::symlink(redust_bin(), &aof_tool).expect("symlink");
    std::os::unix::fs::symlink(redust_bin(), &rdb_tool).expect("symlink");
    let manifest = d.aof().join("appendonly.aof.manifest");
    let (code, out) = run_tool(aof_tool.as_os_str(), &[manifest.as_os_str()], "");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("All AOF files and manifest are valid"),
        "{out}"
    );
    let dump = d.0.join("dump.rdb");
    let (code, out) = run_tool(rdb_tool.as_os_str(), &[dump.as_os_str()], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("RDB looks OK"), "{out}");
    // A cut RDB is reported, through `redust-server check-rdb` too.
    let data = std::fs::read(&dump).expect("dump");
    let cut = d.0.join("cut.rdb");
    std::fs::write(&cut, &data[..data.len() / 2]).expect("cut");
    let bin = std::ffi::OsStr::new(redust_bin());
    let (code, out) = run_tool(bin, &["check-rdb".as_ref(), cut.as_os_str()], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("RDB ERROR DETECTED"), "{out}");
    // A cut incr file: invalid, then fixed by --fix, then valid for Redis's
    // own checker too.
    let incr = incr_file(&d);
    let whole = std::fs::read(&incr).expect("incr");
    std::fs::write(&incr, &whole[..whole.len() - 3]).expect("cut");
    let (code, out) = run_tool(bin, &["check-aof".as_ref(), manifest.as_os_str()], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is not valid. Use the --fix option"), "{out}");
    let (code, out) = run_tool(
        bin,
        &["check-aof".as_ref(), "--fix".as_ref(), manifest.as_os_str()],
        "y\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Successfully truncated"), "{out}");
    assert!(std::fs::metadata(&incr).expect("incr").len() < whole.len() as u64 - 3);
    if have_redis() {
        let check = Command::new("redis-check-aof")
            .arg(&manifest)
            .output()
            .expect("redis-check-aof");
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
}
