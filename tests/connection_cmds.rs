//! Connection commands through real clients: HELLO, AUTH with requirepass,
//! SELECT, the CLIENT family (ID, SETNAME/GETNAME, SETINFO, LIST, INFO,
//! KILL, REPLY), QUIT, RESET, TIME, ECHO, and unix sockets with redis-cli.
//! Error replies are compared with a real redis-server where they exist in
//! Redis 7.0 too.

mod common;
mod helpers;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use helpers::*;
use redust::resp::reply::Frame;

fn frame_map(f: Frame) -> BTreeMap<String, Frame> {
    match f {
        Frame::Map(m) => m.into_iter().map(|(k, v)| (text(&k), v)).collect(),
        Frame::Array(Some(v)) => v
            .chunks(2)
            .map(|kv| (text(&kv[0]), kv[1].clone()))
            .collect(),
        other => panic!("not a map: {other:?}"),
    }
}

#[test]
fn hello_switches_protocols_and_reports_the_server() {
    let p = Pair::start(&[]);
    let mut r = p.redust.raw();
    let id = match r.call(&["CLIENT", "ID"]) {
        Frame::Int(i) => i,
        other => panic!("{other:?}"),
    };
    // HELLO with no version: RESP2, a flat array.
    let reply = r.call(&["HELLO"]);
    assert!(matches!(reply, Frame::Array(Some(_))), "{reply:?}");
    let m = frame_map(reply);
    assert_eq!(m["server"], bulk("redis"));
    assert_eq!(m["version"], bulk(redust::REDIS_VERSION));
    assert_eq!(m["proto"], Frame::Int(2));
    assert_eq!(m["id"], Frame::Int(id));
    assert_eq!(m["mode"], bulk("standalone"));
    assert_eq!(m["role"], bulk("master"));
    assert_eq!(m["modules"], Frame::Array(Some(vec![])));
    // HELLO 3: a real map, and RESP3 types from then on.
    let reply = r.call(&["HELLO", "3", "SETNAME", "resp3-client"]);
    assert!(matches!(reply, Frame::Map(_)), "{reply:?}");
    assert_eq!(frame_map(reply)["proto"], Frame::Int(3));
    assert_eq!(r.call(&["CLIENT", "GETNAME"]), bulk("resp3-client"));
    assert_eq!(r.call(&["GET", "nosuch"]), Frame::Null);
    assert!(matches!(r.call(&["CONFIG", "GET", "hz"]), Frame::Map(_)));
    assert!(matches!(r.call(&["CLIENT", "INFO"]), Frame::Verbatim(_)));
    assert!(text(&r.call(&["CLIENT", "INFO"])).contains(" resp=3"));
    // Back to RESP2.
    assert!(matches!(r.call(&["HELLO", "2"]), Frame::Array(Some(_))));
    assert_eq!(r.call(&["GET", "nosuch"]), Frame::Bulk(None));
    // Errors, byte for byte as Redis.
    for args in [
        &["HELLO", "4"][..],
        &["HELLO", "1"],
        &["HELLO", "abc"],
        &["HELLO", "3", "FOO"],
        &["HELLO", "3", "SETNAME"],
        &["HELLO", "3", "AUTH", "default"],
        &["HELLO", "3", "SETNAME", "bad name"],
    ] {
        p.assert_same(&[], args);
    }
    assert_eq!(
        r.call(&["HELLO", "4"]),
        err("NOPROTO unsupported protocol version")
    );
    // A failed HELLO changes nothing.
    assert_eq!(r.call(&["GET", "nosuch"]), Frame::Bulk(None));
    assert_eq!(r.call(&["CLIENT", "GETNAME"]), bulk("resp3-client"));
}

#[test]
fn redis_crate_speaks_resp3() {
    let s = Server::start(&[]);
    let url = format!("redis://127.0.0.1:{}/?protocol=resp3", s.port);
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let v: Option<String> = redis::cmd("GET").arg("nosuch").query(&mut c).unwrap();
    assert_eq!(v, None);
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut c).unwrap();
    assert!(info.contains("resp=3"), "{info}");
}

#[test]
fn auth_with_requirepass_like_redis() {
    let p = Pair::start(&["--requirepass", "s3cret"]);
    // Before AUTH every reply must be what Redis says; then AUTH fixes it.
    let seq: &[&[&str]] = &[
        &["PING"],
        &["GET", "k"],
        &["CLIENT", "ID"],
        &["SELECT", "1"],
        &["AUTH", "wrong"],
        &["AUTH", "default", "wrong"],
        &["AUTH", "nosuchuser", "s3cret"],
        &["AUTH", "a", "b", "c"],
        &["HELLO", "3", "AUTH", "default", "wrong"],
        &["PING"],
        &["AUTH", "s3cret"],
        &["PING"],
        &["AUTH", "default", "s3cret"],
        &["SET", "k", "v"],
        &["GET", "k"],
    ];
    let mut ours = p.redust.raw();
    let mut theirs = p.redis.as_ref().map(|s| s.raw());
    for args in seq {
        let a = ours.call_raw(args);
        if let Some(t) = theirs.as_mut() {
            assert_eq!(
                String::from_utf8_lossy(&a),
                String::from_utf8_lossy(&t.call_raw(args)),
                "{args:?}"
            );
        }
    }
    let mut r = p.redust.raw();
    assert_eq!(r.call(&["PING"]), err("NOAUTH Authentication required."));
    assert_eq!(
        r.call(&["AUTH", "wrong"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    // HELLO without credentials is refused (the text names HELLO AUTH).
    match r.call(&["HELLO", "3"]) {
        Frame::Error(e) => assert!(
            String::from_utf8_lossy(&e)
                .starts_with("NOAUTH HELLO must be called with the client already authenticated"),
            "{e:?}"
        ),
        other => panic!("{other:?}"),
    }
    // HELLO AUTH authenticates and switches protocol at once.
    let m = frame_map(r.call(&[
        "HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "authed",
    ]));
    assert_eq!(m["proto"], Frame::Int(3));
    assert_eq!(r.call(&["CLIENT", "GETNAME"]), bulk("authed"));
    // RESET drops authentication.
    assert_eq!(r.call(&["RESET"]), simple("RESET"));
    assert_eq!(r.call(&["PING"]), err("NOAUTH Authentication required."));
    // Unauthenticated clients may not send big requests (as in Redis).
    let big = format!("*11\r\n{}", "$1\r\na\r\n".repeat(11));
    let (ours_b, closed) = exchange(p.redust.port, big.as_bytes(), Duration::from_secs(5));
    assert!(closed);
    assert_eq!(
        String::from_utf8_lossy(&ours_b),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    if let Some(redis) = &p.redis {
        assert_eq!(
            ours_b,
            exchange(redis.port, big.as_bytes(), Duration::from_secs(5)).0
        );
    }
    // The redis crate: password in the URL, and a wrong one is an error.
    let good = format!("redis://:s3cret@127.0.0.1:{}/", p.redust.port);
    let mut c = redis::Client::open(good).unwrap().get_connection().unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");
    let bad = format!("redis://:nope@127.0.0.1:{}/", p.redust.port);
    assert!(redis::Client::open(bad).unwrap().get_connection().is_err());
    // redis-cli with -a.
    let out = cli_port(
        p.redust.port,
        &["-a", "s3cret", "--no-auth-warning", "GET", "k"],
    );
    assert_eq!(out.trim(), "v");
}

#[test]
fn auth_without_requirepass_matches_redis() {
    let p = Pair::start(&[]);
    p.assert_same(&[], &["AUTH", "x"]);
    p.assert_same(&[], &["AUTH", "default", "anything"]);
    p.assert_same(&[], &["AUTH", "someone", "x"]);
}

#[test]
fn select_switches_databases() {
    let p = Pair::start(&[]);
    let mut r = p.redust.raw();
    assert_eq!(r.call(&["SELECT", "1"]), simple("OK"));
    assert_eq!(r.call(&["SET", "k", "in-db1"]), simple("OK"));
    assert_eq!(r.call(&["SELECT", "0"]), simple("OK"));
    assert_eq!(r.call(&["GET", "k"]), Frame::Bulk(None));
    assert_eq!(r.call(&["SELECT", "1"]), simple("OK"));
    assert_eq!(r.call(&["GET", "k"]), bulk("in-db1"));
    let ks = info(&mut r, &["keyspace"]);
    assert!(ks.contains("db1:keys=1,expires=0,avg_ttl=0"), "{ks}");
    assert!(!ks.contains("db0:"), "{ks}");
    assert!(text(&r.call(&["CLIENT", "INFO"])).contains(" db=1 "));
    for args in [
        &["SELECT", "16"][..],
        &["SELECT", "-1"],
        &["SELECT", "x"],
        &["SELECT"],
        &["SELECT", "1", "2"],
    ] {
        p.assert_same(&[], args);
    }
    // The redis crate's URL path selects the database.
    let url = format!("redis://127.0.0.1:{}/1", p.redust.port);
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "in-db1");
}

fn client_id(r: &mut Raw) -> i64 {
    match r.call(&["CLIENT", "ID"]) {
        Frame::Int(i) => i,
        other => panic!("{other:?}"),
    }
}

/// `field=value` from a CLIENT LIST/INFO line.
fn client_field(line: &str, field: &str) -> String {
    line.trim_end()
        .split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        .to_string()
}

#[test]
fn client_id_names_info_and_list() {
    let p = Pair::start(&[]);
    let mut a = p.redust.raw();
    let mut b = p.redust.raw();
    let (ida, idb) = (client_id(&mut a), client_id(&mut b));
    assert!(idb > ida);
    assert_eq!(a.call(&["CLIENT", "GETNAME"]), Frame::Bulk(None));
    assert_eq!(a.call(&["CLIENT", "SETNAME", "alpha"]), simple("OK"));
    assert_eq!(a.call(&["CLIENT", "GETNAME"]), bulk("alpha"));
    assert_eq!(
        a.call(&["CLIENT", "SETINFO", "lib-name", "mylib"]),
        simple("OK")
    );
    assert_eq!(
        a.call(&["CLIENT", "SETINFO", "lib-ver", "1.2.3"]),
        simple("OK")
    );
    assert!(matches!(
        a.call(&["CLIENT", "SETINFO", "lib-name", "has space"]),
        Frame::Error(_)
    ));
    assert!(matches!(
        a.call(&["CLIENT", "SETINFO", "nosuch", "x"]),
        Frame::Error(_)
    ));
    let info_line = text(&a.call(&["CLIENT", "INFO"]));
    assert_eq!(client_field(&info_line, "id"), ida.to_string());
    assert_eq!(client_field(&info_line, "name"), "alpha");
    assert_eq!(client_field(&info_line, "lib-name"), "mylib");
    assert_eq!(client_field(&info_line, "lib-ver"), "1.2.3");
    assert_eq!(client_field(&info_line, "cmd"), "client|info");
    assert_eq!(client_field(&info_line, "flags"), "N");
    assert_eq!(
        client_field(&info_line, "laddr"),
        format!("127.0.0.1:{}", p.redust.port)
    );
    let local = a.stream.local_addr().unwrap();
    assert_eq!(client_field(&info_line, "addr"), local.to_string());
    // CLIENT LIST: one line per connection.
    // A connection closed just before (the start-up probe) may take a
    // moment to leave the list.
    let mut list = String::new();
    wait_until(Duration::from_secs(5), || {
        list = text(&b.call(&["CLIENT", "LIST"]));
        list.lines().count() == 2
    });
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines
        .iter()
        .any(|l| client_field(l, "id") == ida.to_string() && client_field(l, "name") == "alpha"));
    assert!(lines.iter().any(
        |l| client_field(l, "id") == idb.to_string() && client_field(l, "cmd") == "client|list"
    ));
    let only = text(&b.call(&["CLIENT", "LIST", "ID", &ida.to_string()]));
    assert_eq!(only.lines().count(), 1);
    assert_eq!(
        client_field(only.lines().next().unwrap(), "id"),
        ida.to_string()
    );
    // Clearing the name.
    assert_eq!(a.call(&["CLIENT", "SETNAME", ""]), simple("OK"));
    assert_eq!(a.call(&["CLIENT", "GETNAME"]), Frame::Bulk(None));
    // The redis crate too.
    let mut c = p.redust.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("from-crate")
        .query(&mut c)
        .unwrap();
    let n: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut c).unwrap();
    assert_eq!(n, "from-crate");
    // Error texts as Redis.
    for args in [
        &["CLIENT", "SETNAME", "a b"][..],
        &["CLIENT", "SETNAME", "a\nb"],
        &["CLIENT", "SETNAME"],
        &["CLIENT", "LIST", "TYPE", "bogus"],
        &["CLIENT", "LIST", "ID", "abc"],
        &["CLIENT", "LIST", "BOGUS"],
        &["CLIENT", "NOSUCH"],
        &["CLIENT"],
        &["CLIENT", "REPLY", "maybe"],
        &["CLIENT", "KILL", "ID", "abc"],
        &["CLIENT", "KILL", "BOGUS", "x"],
        &["CLIENT", "KILL", "SKIPME", "maybe"],
        &["CLIENT", "KILL", "1.2.3.4:5"],
        &["CLIENT", "KILL", "ID", "999999"],
        &["CLIENT", "NO-EVICT", "maybe"],
    ] {
        p.assert_same(&[], args);
    }
}

#[test]
fn client_kill_by_id_addr_and_skipme() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let admin_id = client_id(&mut admin);
    // By ID.
    let mut v1 = s.raw();
    let id1 = client_id(&mut v1);
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "ID", &id1.to_string()]),
        Frame::Int(1)
    );
    assert!(
        closed_within(&mut v1.stream, Duration::from_secs(5)),
        "killed client still connected"
    );
    // By ADDR (new form) and the old `CLIENT KILL addr` form.
    let mut v2 = s.raw();
    assert_eq!(v2.call(&["PING"]), simple("PONG"));
    let addr2 = v2.stream.local_addr().unwrap().to_string();
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "ADDR", &addr2]),
        Frame::Int(1)
    );
    assert!(closed_within(&mut v2.stream, Duration::from_secs(5)));
    let mut v3 = s.raw();
    assert_eq!(v3.call(&["PING"]), simple("PONG"));
    let addr3 = v3.stream.local_addr().unwrap().to_string();
    assert_eq!(admin.call(&["CLIENT", "KILL", &addr3]), simple("OK"));
    assert!(closed_within(&mut v3.stream, Duration::from_secs(5)));
    // SKIPME yes (the default) spares the caller; SKIPME no does not.
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "ID", &admin_id.to_string()]),
        Frame::Int(0)
    );
    assert_eq!(admin.call(&["PING"]), simple("PONG"));
    let mut v4 = s.raw();
    assert_eq!(v4.call(&["PING"]), simple("PONG"));
    // LADDR matches every TCP client of this listener, but not the caller.
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "LADDR", &format!("127.0.0.1:{}", s.port)]),
        Frame::Int(1)
    );
    assert!(closed_within(&mut v4.stream, Duration::from_secs(5)));
    assert_eq!(admin.call(&["PING"]), simple("PONG"));
    let my_addr = admin.stream.local_addr().unwrap().to_string();
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "ADDR", &my_addr, "SKIPME", "no"]),
        Frame::Int(1)
    );
    assert!(admin.is_closed(), "the caller was not disconnected");
    // Killed clients are gone from CLIENT LIST.
    let mut r = s.raw();
    assert!(wait_until(Duration::from_secs(5), || text(
        &r.call(&["CLIENT", "LIST"])
    )
    .lines()
    .count()
        == 1));
}

#[test]
fn client_reply_off_on_skip() {
    let p = Pair::start(&[]);
    let script = b"CLIENT REPLY OFF\r\nPING\r\nECHO a\r\nCLIENT REPLY ON\r\nPING\r\nCLIENT REPLY SKIP\r\nECHO skipped\r\nECHO shown\r\nCLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nPING\r\nCLIENT REPLY ON\r\nSET k v\r\n";
    let (ours, _) = exchange(p.redust.port, script, Duration::from_millis(500));
    assert_eq!(
        String::from_utf8_lossy(&ours),
        "+OK\r\n+PONG\r\n$5\r\nshown\r\n+OK\r\n+OK\r\n"
    );
    if let Some(redis) = &p.redis {
        assert_eq!(
            ours,
            exchange(redis.port, script, Duration::from_millis(500)).0
        );
    }
    // Commands run even when their replies are suppressed.
    assert_eq!(p.redust.raw().call(&["GET", "k"]), bulk("v"));
}

#[test]
fn client_reply_on_right_after_skip_replies_ok() {
    let p = Pair::start(&[]);
    let script = b"CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n";
    let (ours, _) = exchange(p.redust.port, script, Duration::from_millis(500));
    assert_eq!(String::from_utf8_lossy(&ours), "+OK\r\n+PONG\r\n");
    if let Some(redis) = &p.redis {
        assert_eq!(
            ours,
            exchange(redis.port, script, Duration::from_millis(500)).0
        );
    }
}

#[test]
fn quit_replies_ok_and_closes() {
    let p = Pair::start(&[]);
    for s in std::iter::once(&p.redust).chain(p.redis.as_ref()) {
        let (bytes, closed) = exchange(s.port, b"PING\r\nQUIT\r\nPING\r\n", Duration::from_secs(5));
        assert_eq!(String::from_utf8_lossy(&bytes), "+PONG\r\n+OK\r\n");
        assert!(closed);
    }
    let mut c = p.redust.client();
    let _: () = redis::cmd("QUIT").query(&mut c).unwrap();
}

#[test]
fn reset_restores_connection_defaults() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let id = client_id(&mut r);
    assert_eq!(r.call(&["SELECT", "3"]), simple("OK"));
    assert_eq!(r.call(&["CLIENT", "SETNAME", "named"]), simple("OK"));
    assert!(matches!(r.call(&["HELLO", "3"]), Frame::Map(_)));
    assert_eq!(r.call(&["RESET"]), simple("RESET"));
    let line = text(&r.call(&["CLIENT", "INFO"]));
    assert_eq!(client_field(&line, "db"), "0");
    assert_eq!(client_field(&line, "name"), "");
    assert_eq!(client_field(&line, "resp"), "2");
    // Same connection, same id.
    assert_eq!(client_field(&line, "id"), id.to_string());
    assert_eq!(r.call(&["GET", "nosuch"]), Frame::Bulk(None));
}

#[test]
fn time_and_echo() {
    let p = Pair::start(&[]);
    let mut r = p.redust.raw();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    match r.call(&["TIME"]) {
        Frame::Array(Some(v)) => {
            assert_eq!(v.len(), 2);
            let secs: i64 = text(&v[0]).parse().unwrap();
            let micros: i64 = text(&v[1]).parse().unwrap();
            assert!((secs - now).abs() <= 5, "TIME {secs} vs {now}");
            assert!((0..1_000_000).contains(&micros));
        }
        other => panic!("{other:?}"),
    }
    let mut c = p.redust.client();
    let (s, us): (u64, u64) = redis::cmd("TIME").query(&mut c).unwrap();
    assert!(s > 0 && us < 1_000_000);
    let bin: Vec<u8> = (0..=255u8).collect();
    assert_eq!(
        r.call(&[b"ECHO".as_slice(), &bin]),
        Frame::Bulk(Some(bin.clone()))
    );
    assert_eq!(r.call(&["ECHO", ""]), bulk(""));
    for args in [
        &["ECHO"][..],
        &["ECHO", "a", "b"],
        &["TIME", "x"],
        &["PING", "a", "b"],
        &["ECHO", "hello"],
        &["PING", "hi"],
    ] {
        p.assert_same(&[], args);
    }
}

#[test]
fn unix_socket_works_with_redis_cli() {
    let (dir, _cleanup) = scratch_dir("unix");
    let sock = dir.join("redust.sock");
    let sock_s = sock.to_str().unwrap().to_string();
    let mut s = Server::start(&["--unixsocket", &sock_s, "--unixsocketperm", "700"]);
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&sock).expect("socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let cli = |args: &[&str]| {
        let mut all = vec!["-s", sock_s.as_str()];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&redis_cli(&all).stdout)
            .trim_end()
            .to_string()
    };
    assert_eq!(cli(&["PING"]), "PONG");
    assert_eq!(cli(&["SET", "via", "unix"]), "OK");
    assert_eq!(cli(&["GET", "via"]), "unix");
    // The same data over TCP.
    assert_eq!(s.raw().call(&["GET", "via"]), bulk("unix"));
    let line = cli(&["CLIENT", "INFO"]);
    assert_eq!(client_field(&line, "addr"), format!("{sock_s}:0"));
    assert_eq!(client_field(&line, "flags"), "U");
    // The socket file goes away with the server.
    let st = s.terminate().expect("exit status");
    assert!(st.success());
    assert!(!sock.exists(), "unix socket file left behind");
}
