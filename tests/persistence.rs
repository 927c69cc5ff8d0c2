//! RDB persistence: files Redust writes pass redis-check-rdb and load into
//! real Redis; files real Redis writes load into Redust; save rules, SAVE,
//! BGSAVE, SHUTDOWN and SIGTERM saves, restarts, corrupt files, MISCONF.
mod common;
use common::*;
use redust::resp::reply::Frame;
use std::time::{Duration, Instant};

fn dataset(r: &mut Raw) {
    assert_eq!(r.call(&["SET", "int", "12345"]), simple("OK"));
    assert_eq!(r.call(&["SET", "neg", "-7"]), simple("OK"));
    assert_eq!(r.call(&["SET", "bigint", "123456789012345"]), simple("OK"));
    let long = "compressible ".repeat(200);
    assert_eq!(r.call(&["SET", "long", &long]), simple("OK"));
    assert_eq!(r.call(&["SET", "bin\x00key", "v\r\n\x00"]), simple("OK"));
    assert_eq!(r.call(&["SET", "ttl", "v", "EX", "1000"]), simple("OK"));
    assert_eq!(r.call(&["SELECT", "5"]), simple("OK"));
    assert_eq!(r.call(&["SET", "in5", "x"]), simple("OK"));
    assert_eq!(r.call(&["SELECT", "0"]), simple("OK"));
}

fn check_dataset(r: &mut Raw) {
    assert_eq!(r.call(&["GET", "int"]), bulk("12345"));
    assert_eq!(r.call(&["GET", "neg"]), bulk("-7"));
    assert_eq!(r.call(&["GET", "bigint"]), bulk("123456789012345"));
    assert_eq!(r.call(&["GET", "long"]), bulk(&"compressible ".repeat(200)));
    assert_eq!(r.call(&["GET", "bin\x00key"]), bulk("v\r\n\x00"));
    match r.call(&["TTL", "ttl"]) {
        Frame::Int(t) => assert!((990..=1000).contains(&t), "ttl {t}"),
        other => panic!("TTL {other:?}"),
    }
    assert_eq!(r.call(&["SELECT", "5"]), simple("OK"));
    assert_eq!(r.call(&["GET", "in5"]), bulk("x"));
    assert_eq!(r.call(&["SELECT", "0"]), simple("OK"));
    assert_eq!(r.call(&["DBSIZE"]), Frame::Int(6));
}

#[test]
fn redust_dump_passes_redis_check_rdb_and_loads_into_redis() {
    if !have_redis() {
        return;
    }
    let s = Server::start(&[]);
    let mut r = s.raw();
    dataset(&mut r);
    assert_eq!(r.call(&["SAVE"]), simple("OK"));
    let file = s.dir.join("dump.rdb");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&file)
        .output()
        .expect("redis-check-rdb");
    assert!(
        check.status.success(),
        "redis-check-rdb: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("RDB looks OK"));
    let dir = s.dir.display().to_string();
    let redis = Server::start_redis(&["--dir", &dir, "--dbfilename", "dump.rdb"]);
    check_dataset(&mut redis.raw());
}

#[test]
fn redis_dump_loads_into_redust() {
    if !have_redis() {
        return;
    }
    let redis = Server::start_redis(&[]);
    dataset(&mut redis.raw());
    assert_eq!(redis.raw().call(&["SAVE"]), simple("OK"));
    let dir = redis.dir.display().to_string();
    let s = Server::start(&["--dir", &dir]);
    check_dataset(&mut s.raw());
}

#[test]
fn uncompressed_and_unchecksummed_dumps_load_in_redis() {
    if !have_redis() {
        return;
    }
    let s = Server::start(&["--rdbcompression", "no", "--rdbchecksum", "no"]);
    let mut r = s.raw();
    dataset(&mut r);
    assert_eq!(r.call(&["SAVE"]), simple("OK"));
    let dir = s.dir.display().to_string();
    let redis = Server::start_redis(&["--dir", &dir]);
    check_dataset(&mut redis.raw());
}

/// SHUTDOWN (default mode) on `r` closes it and the process exits with 0.
fn shutdown_exits_cleanly(mut s: Server, r: &mut Raw) {
    r.send(&["SHUTDOWN"]);
    assert!(r.is_closed());
    let st = s.child.take().map(|mut c| c.wait().unwrap());
    assert!(st.is_some_and(|st| st.success()));
}

#[test]
fn shutdown_and_sigterm_save_and_a_restart_loads() {
    let dir = temp_dir("restart");
    let d = dir.display().to_string();
    let args = ["--dir", d.as_str(), "--save", "3600 1"];
    {
        let s = Server::start(&args);
        let mut r = s.raw();
        dataset(&mut r);
        shutdown_exits_cleanly(s, &mut r);
    }
    {
        let mut s = Server::start(&args);
        check_dataset(&mut s.raw());
        assert_eq!(s.raw().call(&["SET", "after", "sigterm"]), simple("OK"));
        assert!(s.terminate().is_some_and(|st| st.success()));
    }
    let s = Server::start(&args);
    assert_eq!(s.raw().call(&["GET", "after"]), bulk("sigterm"));
    // SHUTDOWN NOSAVE does not save.
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "lost", "1"]), simple("OK"));
    r.send(&["SHUTDOWN", "NOSAVE"]);
    assert!(r.is_closed());
    drop(s);
    let s = Server::start(&args);
    assert_eq!(s.raw().call(&["EXISTS", "lost"]), Frame::Int(0));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_lastsave_and_info() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    dataset(&mut r);
    let Frame::Int(before) = r.call(&["LASTSAVE"]) else {
        panic!()
    };
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(r.call(&["BGSAVE"]), simple("Background saving started"));
    let start = Instant::now();
    loop {
        let (Frame::Verbatim(info) | Frame::Bulk(Some(info))) = r.call(&["INFO", "persistence"])
        else {
            panic!()
        };
        let info = String::from_utf8_lossy(&info).to_string();
        if info.contains("rdb_bgsave_in_progress:0")
            && info.contains("rdb_changes_since_last_save:0")
        {
            assert!(info.contains("rdb_last_bgsave_status:ok"));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "bgsave did not finish: {info}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let Frame::Int(after) = r.call(&["LASTSAVE"]) else {
        panic!()
    };
    assert!(after > before);
    assert!(s.dir.join("dump.rdb").exists());
}

#[test]
fn save_rules_trigger_background_saves() {
    let s = Server::start(&["--save", "1 1"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), simple("OK"));
    let start = Instant::now();
    while !s.dir.join("dump.rdb").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no save after the rule was due"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn debug_reload_keeps_data() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut r = s.raw();
    dataset(&mut r);
    assert_eq!(r.call(&["DEBUG", "RELOAD"]), simple("OK"));
    check_dataset(&mut r);
    // serializedlength is the value's size in an RDB file: an integer
    // takes 3 bytes (as in Redis), 2,600 compressible bytes far fewer.
    let object = |r: &mut Raw, key: &str| status(r.call(&["DEBUG", "OBJECT", key]));
    assert!(object(&mut r, "int").contains("encoding:int serializedlength:3 "));
    let long = object(&mut r, "long");
    let len: usize = long
        .split("serializedlength:")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("serializedlength");
    assert!(len > 10 && len < 200, "{long}");
}

#[test]
fn corrupt_or_truncated_dump_stops_start_up() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    dataset(&mut r);
    assert_eq!(r.call(&["SAVE"]), simple("OK"));
    let data = std::fs::read(s.dir.join("dump.rdb")).unwrap();
    for (name, bytes) in [
        ("truncated", data[..data.len() / 2].to_vec()),
        ("flipped", {
            let mut b = data.clone();
            let k = b.len() / 2;
            b[k] ^= 0xff;
            b
        }),
    ] {
        let dir = temp_dir(name);
        std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
        let log = dir.join("log");
        let st = std::process::Command::new(redust_bin())
            .args([
                "--port",
                &free_port().to_string(),
                "--dir",
                &dir.display().to_string(),
            ])
            .args(["--logfile", &log.display().to_string()])
            .status()
            .unwrap();
        // Exit code 1: refused; a panic would exit with 101.
        assert_eq!(st.code(), Some(1), "{name} dump: {st:?}");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        // The cause varies with where the damage is (short read, bad LZF
        // data, checksum); the verdict line does not.
        assert!(
            text.contains("Fatal error loading the DB"),
            "{name}: {text}"
        );
        assert!(!text.contains("panicked"), "{name}: {text}");
        // The problem comes with where in the file reading stopped.
        let total = format!(" of {} bytes)", bytes.len());
        let line = text
            .lines()
            .find(|l| l.contains(&total))
            .unwrap_or_else(|| panic!("{name}: no offset in {text}"));
        let at: usize = line
            .split("(at byte ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {line}"));
        assert!(at <= bytes.len(), "{name}: {line}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn failed_background_save_refuses_writes_with_misconf() {
    let s = Server::start(&["--save", "3600 1", "--enable-protected-configs", "yes"]);
    let mut r = s.raw();
    let gone = temp_dir("gone");
    assert_eq!(
        r.call(&["CONFIG", "SET", "dir", &gone.display().to_string()]),
        simple("OK")
    );
    std::fs::remove_dir_all(&gone).unwrap();
    assert_eq!(r.call(&["SET", "k", "v"]), simple("OK"));
    r.call(&["BGSAVE"]);
    let start = Instant::now();
    loop {
        match r.call(&["SET", "k", "v2"]) {
            Frame::Error(e) if e.starts_with(b"MISCONF") => break,
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "writes never refused"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Reads still work, and a refused write changed nothing.
    let before = r.call(&["GET", "k"]);
    assert!(matches!(before, Frame::Bulk(Some(_))));
    assert!(matches!(r.call(&["SET", "k", "v3"]), Frame::Error(_)));
    assert_eq!(r.call(&["GET", "k"]), before);
}

/// Collections in both small (compact) and big encodings.
fn collections(r: &mut Raw) {
    r.call(&["HSET", "h:small", "f1", "v1", "f2", "2"]);
    r.call(&["SADD", "s:ints", "1", "2", "-300", "70000", "5000000000"]);
    r.call(&["SADD", "s:strs", "a", "b", "c"]);
    r.call(&["ZADD", "z:small", "1.5", "a", "-2", "b", "inf", "c"]);
    r.call(&["RPUSH", "l:small", "a", "1", "b", "-5"]);
    for i in 0..700 {
        r.call(&["RPUSH", "l:big", &format!("element number {i}")]);
        let n = i.to_string();
        r.call(&["HSET", "h:big", &format!("field{i}"), &n]);
        r.call(&["SADD", "s:big", &format!("member{i}")]);
        r.call(&["ZADD", "z:big", &format!("{}.25", i % 97), &format!("m{i}")]);
    }
}

fn sorted(f: Frame) -> Vec<Vec<u8>> {
    let v = match f {
        Frame::Array(Some(v)) | Frame::Set(v) => v,
        Frame::Map(m) => m.into_iter().flat_map(|(a, b)| [a, b]).collect(),
        other => panic!("not a collection: {other:?}"),
    };
    let mut out: Vec<Vec<u8>> = v
        .into_iter()
        .map(|x| match x {
            Frame::Bulk(Some(b)) => b,
            other => panic!("{other:?}"),
        })
        .collect();
    out.sort();
    out
}

/// The collections' contents, in a comparable form.
fn collection_contents(r: &mut Raw) -> Vec<Vec<Vec<u8>>> {
    let mut v = Vec::new();
    for h in ["h:small", "h:big"] {
        v.push(sorted(r.call(&["HGETALL", h])));
    }
    for s in ["s:ints", "s:strs", "s:big"] {
        v.push(sorted(r.call(&["SMEMBERS", s])));
    }
    // Order matters for lists and sorted sets: compare the replies as is.
    for cmd in [
        &["LRANGE", "l:small", "0", "-1"][..],
        &["LRANGE", "l:big", "0", "-1"],
        &["ZRANGE", "z:small", "0", "-1", "WITHSCORES"],
        &["ZRANGE", "z:big", "0", "-1", "WITHSCORES"],
    ] {
        let Frame::Array(Some(items)) = r.call(cmd) else {
            panic!("{cmd:?}")
        };
        v.push(
            items
                .into_iter()
                .map(|f| format!("{f:?}").into_bytes())
                .collect(),
        );
    }
    v
}

#[test]
fn collections_round_trip_with_real_redis_both_ways() {
    if !have_redis() {
        return;
    }
    // Redust writes, redis-check-rdb and redis-server read.
    let s = Server::start(&[]);
    let mut r = s.raw();
    collections(&mut r);
    let ours = collection_contents(&mut r);
    assert_eq!(r.call(&["SAVE"]), simple("OK"));
    let file = s.dir.join("dump.rdb");
    let check = std::process::Command::new("redis-check-rdb")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "redis-check-rdb: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let redis = Server::start_redis(&["--dir", &s.dir.display().to_string()]);
    let mut rr = redis.raw();
    assert_eq!(collection_contents(&mut rr), ours);
    // Redis writes its compact encodings (listpack, intset); Redust reads.
    let redis2 = Server::start_redis(&[]);
    let mut r2 = redis2.raw();
    collections(&mut r2);
    assert_eq!(r2.call(&["SAVE"]), simple("OK"));
    let back = Server::start(&["--dir", &redis2.dir.display().to_string()]);
    let mut rb = back.raw();
    assert_eq!(collection_contents(&mut rb), ours);
    assert_eq!(rb.call(&["OBJECT", "ENCODING", "s:ints"]), bulk("intset"));
    assert_eq!(
        rb.call(&["OBJECT", "ENCODING", "h:small"]),
        bulk("listpack")
    );
    assert_eq!(rb.call(&["OBJECT", "ENCODING", "h:big"]), bulk("hashtable"));
    assert_eq!(rb.call(&["OBJECT", "ENCODING", "z:big"]), bulk("skiplist"));
}

/// RDB only: after kill -9 the dataset is exactly the last completed save,
/// round after round on the same directory, whatever was written since.
#[test]
fn kill_9_with_rdb_only_restores_the_last_completed_save() {
    let dir = temp_dir("rdb-kill");
    let d = dir.display().to_string();
    let mut expect: Vec<(String, String)> = Vec::new();
    for round in 0..3 {
        let mut s = Server::start(&["--dir", &d]);
        let mut r = s.raw();
        let Frame::Int(n) = r.call(&["DBSIZE"]) else {
            panic!()
        };
        assert_eq!(n as usize, expect.len(), "round {round}");
        for (k, v) in &expect {
            assert_eq!(r.call(&["GET", k]), bulk(v), "round {round}");
        }
        // Saved: overwrite half, delete one, add some.
        for i in 0..200 {
            let (k, v) = (format!("k{i}"), format!("r{round}-{i}"));
            if i % 2 == 0 || round == 0 {
                assert_eq!(r.call(&["SET", &k, &v]), simple("OK"));
            }
        }
        assert!(matches!(r.call(&["DEL", "k3"]), Frame::Int(_)));
        assert_eq!(r.call(&["BGSAVE"]), simple("Background saving started"));
        let start = Instant::now();
        loop {
            let Frame::Bulk(Some(i)) = r.call(&["INFO", "persistence"]) else {
                panic!()
            };
            if String::from_utf8_lossy(&i).contains("rdb_bgsave_in_progress:0") {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut saved = Vec::new();
        for i in 0..200 {
            let k = format!("k{i}");
            if let Frame::Bulk(Some(v)) = r.call(&["GET", &k]) {
                saved.push((k, String::from_utf8(v).unwrap()));
            }
        }
        // Not saved: lost with the kill.
        assert_eq!(r.call(&["FLUSHALL"]), simple("OK"));
        assert_eq!(r.call(&["SET", "unsaved", "x"]), simple("OK"));
        s.stop();
        expect = saved;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn status(f: Frame) -> String {
    match f {
        Frame::Simple(s) => String::from_utf8_lossy(&s).into_owned(),
        other => panic!("not a status reply: {other:?}"),
    }
}

fn digest(r: &mut Raw) -> String {
    let d = status(r.call(&["DEBUG", "DIGEST"]));
    assert_eq!(d.len(), 40, "{d}");
    d
}

fn digest_values(r: &mut Raw, keys: &[&str]) -> Vec<String> {
    let mut args = vec!["DEBUG", "DIGEST-VALUE"];
    args.extend_from_slice(keys);
    match r.call(&args) {
        Frame::Array(Some(v)) => v.into_iter().map(status).collect(),
        other => panic!("DIGEST-VALUE {other:?}"),
    }
}

/// DEBUG DIGEST describes what clients see: it survives DEBUG RELOAD and
/// restarts from the AOF and from the RDB, moves with every visible change
/// (and back when the change is undone), and does not depend on encodings.
#[test]
fn debug_digest_follows_content_across_reloads_and_restarts() {
    let dir = temp_dir("digest");
    let d = dir.display().to_string();
    let args = [
        "--dir",
        d.as_str(),
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ];
    let zeros = "0".repeat(40);
    let d1;
    let expected;
    {
        let mut s = Server::start(&args);
        let mut r = s.raw();
        assert_eq!(digest(&mut r), zeros);
        dataset(&mut r);
        collections(&mut r);
        for (id, f) in [("1-1", "a"), ("2-1", "b"), ("3-1", "c")] {
            assert_eq!(r.call(&["XADD", "st", id, f, "1"]), bulk(id));
        }
        assert_eq!(r.call(&["XDEL", "st", "2-1"]), Frame::Int(1));
        assert_eq!(r.call(&["XGROUP", "CREATE", "st", "g", "0"]), simple("OK"));
        r.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "1",
            "STREAMS",
            "st",
            ">",
        ]);
        d1 = digest(&mut r);
        assert_ne!(d1, zeros);
        assert_eq!(r.call(&["DEBUG", "RELOAD"]), simple("OK"));
        assert_eq!(digest(&mut r), d1, "after DEBUG RELOAD");

        // Visible changes move it; undoing them brings it back.
        let changes: [(&[&str], &[&str]); 5] = [
            (
                &["HSET", "h:big", "field3", "x"],
                &["HSET", "h:big", "field3", "3"],
            ),
            (
                &["ZADD", "z:small", "1.75", "a"],
                &["ZADD", "z:small", "1.5", "a"],
            ),
            (
                &["LSET", "l:big", "5", "x"],
                &["LSET", "l:big", "5", "element number 5"],
            ),
            (&["SREM", "s:ints", "70000"], &["SADD", "s:ints", "70000"]),
            (
                &["XACK", "st", "g", "1-1"],
                &["XCLAIM", "st", "g", "alice", "0", "1-1"],
            ),
        ];
        for (change, undo) in changes {
            r.call(change);
            assert_ne!(digest(&mut r), d1, "{change:?}");
            r.call(undo);
            if change[0] != "XACK" {
                assert_eq!(digest(&mut r), d1, "{undo:?}");
            }
        }
        // XCLAIM gave the entry a new delivery time: put the stream back
        // through a reload of the same data instead.
        assert_eq!(r.call(&["DEL", "st"]), Frame::Int(1));
        for (id, f) in [("1-1", "a"), ("2-1", "b"), ("3-1", "c")] {
            r.call(&["XADD", "st", id, f, "1"]);
        }
        r.call(&["XDEL", "st", "2-1"]);
        r.call(&["XGROUP", "CREATE", "st", "g", "0"]);
        let with_group = digest(&mut r);
        let at = match r.call(&["PEXPIRETIME", "ttl"]) {
            Frame::Int(t) => t,
            other => panic!("PEXPIRETIME {other:?}"),
        };
        r.call(&["PEXPIREAT", "ttl", &(at + 1).to_string()]);
        assert_ne!(digest(&mut r), with_group, "expiry");
        r.call(&["PEXPIREAT", "ttl", &at.to_string()]);
        assert_eq!(digest(&mut r), with_group);
        r.call(&["SELECT", "5"]);
        r.call(&["SET", "in5", "y"]);
        assert_ne!(digest(&mut r), with_group, "another database");
        r.call(&["SET", "in5", "x"]);
        r.call(&["SELECT", "0"]);
        assert_eq!(digest(&mut r), with_group);

        // Encodings do not matter: a hash and a set that grew past their
        // compact encodings and shrank back digest as freshly built ones.
        r.call(&["HSET", "enc:small", "f1", "v1", "f2", "v2"]);
        for i in 0..600 {
            r.call(&["HSET", "enc:grown", &format!("f{i}"), &format!("v{i}")]);
        }
        for i in 3..600 {
            r.call(&["HDEL", "enc:grown", &format!("f{i}")]);
        }
        r.call(&["HDEL", "enc:grown", "f0"]);
        assert_eq!(
            r.call(&["OBJECT", "ENCODING", "enc:small"]),
            bulk("listpack")
        );
        assert_eq!(
            r.call(&["OBJECT", "ENCODING", "enc:grown"]),
            bulk("hashtable")
        );
        r.call(&["SADD", "set:ints", "1", "2", "3"]);
        r.call(&["SADD", "set:mixed", "1", "2", "3", "x"]);
        r.call(&["SREM", "set:mixed", "x"]);
        assert_eq!(r.call(&["OBJECT", "ENCODING", "set:ints"]), bulk("intset"));
        assert_ne!(r.call(&["OBJECT", "ENCODING", "set:mixed"]), bulk("intset"));
        let v = digest_values(
            &mut r,
            &["enc:small", "enc:grown", "set:ints", "set:mixed", "nokey"],
        );
        assert_eq!(v[0], v[1]);
        assert_eq!(v[2], v[3]);
        assert_ne!(v[0], v[2]);
        assert_eq!(v[4], zeros);
        for k in ["enc:small", "enc:grown", "set:ints", "set:mixed"] {
            r.call(&["DEL", k]);
        }
        assert_eq!(digest(&mut r), with_group);
        expected = with_group;
        assert!(s.terminate().is_some_and(|st| st.success()));
    }
    {
        // From the AOF.
        let mut s = Server::start(&args);
        let mut r = s.raw();
        assert_eq!(digest(&mut r), expected, "after the AOF");
        assert_eq!(r.call(&["SAVE"]), simple("OK"));
        assert!(s.terminate().is_some_and(|st| st.success()));
    }
    // From the RDB.
    let rdb_args = [
        "--dir",
        d.as_str(),
        "--appendonly",
        "no",
        "--enable-debug-command",
        "yes",
    ];
    let s = Server::start(&rdb_args);
    assert_eq!(digest(&mut s.raw()), expected, "after the RDB");
    // FLUSHALL empties it.
    let mut r = s.raw();
    assert_eq!(r.call(&["FLUSHALL"]), simple("OK"));
    assert_eq!(digest(&mut r), zeros);
    let _ = std::fs::remove_dir_all(&dir);
}

/// save "" with appendonly no: a memory-only server. Writes, FLUSHALL,
/// SHUTDOWN and SIGTERM leave its directory as empty as they found it.
#[test]
fn memory_only_mode_never_touches_disk() {
    let dir = temp_dir("memory-only");
    let d = dir.display().to_string();
    let args = ["--dir", d.as_str(), "--save", "", "--appendonly", "no"];
    let listing = || -> Vec<String> {
        std::fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    {
        let mut s = Server::start(&args);
        let mut r = s.raw();
        dataset(&mut r);
        assert_eq!(r.call(&["FLUSHALL"]), simple("OK"));
        dataset(&mut r);
        assert!(s.terminate().is_some_and(|st| st.success()));
    }
    let s = Server::start(&args);
    let mut r = s.raw();
    assert_eq!(r.call(&["DBSIZE"]), Frame::Int(0));
    dataset(&mut r);
    shutdown_exits_cleanly(s, &mut r);
    assert_eq!(listing(), Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}
