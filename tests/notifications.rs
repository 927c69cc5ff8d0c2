//! Keyspace notifications (notify-keyspace-events): the same commands run
//! on Redust and on a real redis-server must publish the same events, in
//! the same order, on `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`.
mod common;
use common::*;
use redust::resp::reply::Frame;

/// Runs `script` on a fresh server started with `args`, with a subscriber on
/// every keyspace/keyevent channel, and returns the raw bytes of every
/// message the subscriber got (up to a sentinel published at the end).
fn events(srv: &Server, script: &[&[&str]]) -> Vec<String> {
    let mut sub = srv.raw();
    sub.call(&["PSUBSCRIBE", "__key*@*__:*"]);
    sub.call(&["SUBSCRIBE", "sentinel"]);
    let mut c = srv.raw();
    for cmd in script {
        if cmd[0] == "SLEEPMS" {
            std::thread::sleep(std::time::Duration::from_millis(cmd[1].parse().unwrap()));
            continue;
        }
        c.call(cmd);
    }
    c.call(&["PUBLISH", "sentinel", "end"]);
    let mut got = Vec::new();
    loop {
        let (f, raw) = sub.read_raw().expect("message");
        if let Frame::Array(Some(items)) = &f {
            if items.len() == 3 {
                break; // the sentinel's plain message
            }
        }
        // Keep "channel payload": the pattern part is the same for all.
        let text = String::from_utf8_lossy(&raw).into_owned();
        let parts: Vec<&str> = text.split("\r\n").collect();
        got.push(format!(
            "{} {}",
            parts[parts.len() - 4],
            parts[parts.len() - 2]
        ));
    }
    got
}

/// The script's events from Redust, checked against real Redis when it is
/// installed; returns Redust's.
fn same_events(args: &[&str], script: &[&[&str]]) -> Vec<String> {
    let ours = events(&Server::start(args), script);
    if have_redis() {
        let theirs = events(&Server::start_redis(args), script);
        if let Some(i) = (0..ours.len().max(theirs.len())).find(|&i| ours.get(i) != theirs.get(i)) {
            let from = i.saturating_sub(3);
            panic!(
                "events differ from redis-server's at {i}:\nours:   {:?}\ntheirs: {:?}",
                &ours[from.min(ours.len())..(i + 4).min(ours.len())],
                &theirs[from.min(theirs.len())..(i + 4).min(theirs.len())]
            );
        }
    }
    ours
}

fn has(events: &[String], channel: &str, payload: &str) -> bool {
    events.iter().any(|e| *e == format!("{channel} {payload}"))
}

#[test]
fn every_family_publishes_redis_events() {
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["SET", "s", "2", "EX", "100"],
        &["SETNX", "s2", "x"],
        &["SETEX", "s3", "10", "x"],
        &["PSETEX", "s4", "10000", "x"],
        &["GETSET", "s", "3"],
        &["MSET", "m1", "a", "m2", "b"],
        &["MSETNX", "m3", "a", "m4", "b"],
        &["APPEND", "s", "x"],
        &["INCR", "n"],
        &["DECRBY", "n", "5"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["SETRANGE", "s", "5", "yy"],
        &["GETEX", "s2", "EX", "50"],
        &["GETEX", "s2", "PERSIST"],
        &["GETDEL", "s2"],
        &["EXPIRE", "m1", "100"],
        &["PERSIST", "m1"],
        &["EXPIRE", "m2", "0"],
        &["RENAME", "m1", "m5"],
        &["RENAMENX", "m5", "m6"],
        &["COPY", "m6", "m7"],
        &["MOVE", "m7", "1"],
        &["DEL", "m3", "nosuch", "m4"],
        &["UNLINK", "m6"],
        &["RPUSH", "l", "a", "b", "c", "d"],
        &["LPUSH", "l", "z"],
        &["LPUSHX", "nol", "z"],
        &["LPOP", "l"],
        &["RPOP", "l", "1"],
        &["LSET", "l", "0", "q"],
        &["LINSERT", "l", "BEFORE", "q", "p"],
        &["LREM", "l", "0", "p"],
        &["LTRIM", "l", "0", "0"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l2", "l2"],
        &["LMPOP", "1", "l2", "LEFT"],
        &["HSET", "h", "f", "1", "g", "2"],
        &["HSETNX", "h", "x", "1"],
        &["HINCRBY", "h", "f", "2"],
        &["HINCRBYFLOAT", "h", "f", "0.5"],
        &["HDEL", "h", "f", "g"],
        &["HDEL", "h", "x"],
        &["SADD", "a", "1", "2", "3"],
        &["SADD", "a", "1"],
        &["SREM", "a", "1"],
        &["SMOVE", "a", "b", "2"],
        &["SINTERSTORE", "c", "a", "b"],
        &["SUNIONSTORE", "c", "a", "b"],
        &["SDIFFSTORE", "c", "a", "b"],
        &["SPOP", "c"],
        &["SPOP", "a", "10"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZADD", "z", "1", "a"],
        &["ZINCRBY", "z", "1", "a"],
        &["ZADD", "z", "INCR", "1", "b"],
        &["ZREM", "z", "a"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZRANGESTORE", "z2", "z", "0", "-1"],
        &["ZUNIONSTORE", "z3", "2", "z", "z2"],
        &["ZINTERSTORE", "z3", "2", "z", "z2"],
        &["ZDIFFSTORE", "z3", "2", "z", "z2"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["ZREMRANGEBYSCORE", "z", "2", "2"],
        &["ZREMRANGEBYLEX", "z2", "[a", "[b"],
        &["ZMPOP", "1", "z2", "MIN", "COUNT", "5"],
        &["SET", "gone", "v", "PX", "1"],
        &["SLEEPMS", "20"],
        &["GET", "gone"],
    ];
    let ev = same_events(&["--notify-keyspace-events", "KEA"], script);
    assert!(has(&ev, "__keyspace@0__:s", "set"), "{ev:?}");
    assert!(has(&ev, "__keyevent@0__:expire", "s"), "{ev:?}");
    assert!(has(&ev, "__keyevent@0__:rename_from", "m1"));
    assert!(has(&ev, "__keyevent@1__:move_to", "m7"));
    assert!(has(&ev, "__keyevent@0__:lpush", "l"));
    assert!(has(&ev, "__keyevent@0__:hincrbyfloat", "h"));
    assert!(has(&ev, "__keyevent@0__:sdiffstore", "c") || has(&ev, "__keyevent@0__:del", "c"));
    assert!(has(&ev, "__keyevent@0__:zincr", "z"));
    assert!(has(&ev, "__keyevent@0__:expired", "gone"));
}

#[test]
fn classes_filter_and_k_or_e_choose_channels() {
    let script: &[&[&str]] = &[&["SET", "k", "v"], &["LPUSH", "l", "x"], &["DEL", "k"]];
    // Only list events, only on the keyevent channels.
    let ev = same_events(&["--notify-keyspace-events", "El"], script);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert!(has(&ev, "__keyevent@0__:lpush", "l"));
    // Without K or E nothing is published at all.
    let ev = same_events(&["--notify-keyspace-events", "g$l"], script);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn new_key_and_key_miss_events() {
    let script: &[&[&str]] = &[
        &["SET", "k", "v"],
        &["SET", "k", "w"],
        &["GET", "missing"],
        &["SMEMBERS", "missing2"],
        &["ZRANGE", "missing3", "0", "-1"],
        &["HGET", "missing4", "f"],
        &["LRANGE", "missing5", "0", "-1"],
    ];
    let ev = same_events(&["--notify-keyspace-events", "KEnm"], script);
    assert!(has(&ev, "__keyevent@0__:new", "k"), "{ev:?}");
    assert_eq!(
        ev.iter()
            .filter(|e| e.contains("__keyevent@0__:new"))
            .count(),
        1,
        "{ev:?}"
    );
    assert!(has(&ev, "__keyevent@0__:keymiss", "missing"), "{ev:?}");
    assert!(has(&ev, "__keyevent@0__:keymiss", "missing3"), "{ev:?}");
}

#[test]
fn config_set_turns_events_on_and_off() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    assert_eq!(
        c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        simple("OK")
    );
    assert_eq!(
        c.call(&["CONFIG", "GET", "notify-keyspace-events"]),
        Frame::Array(Some(vec![bulk("notify-keyspace-events"), bulk("AKE")]))
    );
    let ev = events(&srv, &[&["SET", "x", "1"]]);
    assert_eq!(ev.len(), 2, "{ev:?}");
    c.call(&["CONFIG", "SET", "notify-keyspace-events", ""]);
    let ev = events(&srv, &[&["SET", "x", "1"]]);
    assert!(ev.is_empty(), "{ev:?}");
}

#[test]
fn evicted_and_actively_expired_keys_are_announced() {
    let srv = Server::start(&[
        "--notify-keyspace-events",
        "Exe",
        "--maxmemory-policy",
        "allkeys-random",
    ]);
    let mut sub = srv.raw();
    sub.call(&[
        "SUBSCRIBE",
        "__keyevent@0__:expired",
        "__keyevent@0__:evicted",
    ]);
    sub.read();
    let mut c = srv.raw();
    // Active expiry: nobody touches the key again.
    c.call(&["SET", "soon", "v", "PX", "10"]);
    let msg = sub.read();
    assert_eq!(
        msg,
        Frame::Array(Some(vec![
            bulk("message"),
            bulk("__keyevent@0__:expired"),
            bulk("soon")
        ]))
    );
    // Eviction: fill, then lower maxmemory below what is used.
    let big = "x".repeat(10_000);
    for i in 0..200 {
        c.call(&["SET", &format!("k{i}"), &big]);
    }
    c.call(&["CONFIG", "SET", "maxmemory", "1mb"]);
    c.call(&["SET", "trigger", "1"]);
    let msg = sub.read();
    match msg {
        Frame::Array(Some(v)) => assert_eq!(v[1], bulk("__keyevent@0__:evicted")),
        other => panic!("unexpected {other:?}"),
    }
}
