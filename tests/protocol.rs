//! The wire protocol as clients see it: pipelining, inline commands,
//! protocol errors (byte for byte as redis-server, connection closed, other
//! clients unaffected), binary safety, big values, proto-max-bulk-len,
//! client-query-buffer-limit and back-pressure on clients that do not read.

mod common;
mod helpers;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use helpers::*;
use redust::resp::reply::{encode_request, Frame};

#[test]
fn pipelining_1000_commands_in_one_write() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut req = Vec::new();
    for i in 0..1000 {
        match i % 4 {
            0 => req.extend(encode_request(&["SET", &format!("key:{i}"), &format!("value:{i}")])),
            1 => req.extend(encode_request(&["GET", &format!("key:{}", i - 1)])),
            2 => req.extend(encode_request(&["INCR", "counter"])),
            _ => req.extend(b"ECHO inline\r\n"),
        }
    }
    r.send_bytes(&req);
    for i in 0..1000 {
        let got = r.read();
        let want = match i % 4 {
            0 => simple("OK"),
            1 => bulk(&format!("value:{}", i - 1)),
            2 => Frame::Int(i / 4 + 1),
            _ => bulk("inline"),
        };
        assert_eq!(got, want, "reply {i}");
    }
    assert_eq!(r.call(&["DBSIZE"]), Frame::Int(251));
}

#[test]
fn inline_commands_like_redis() {
    let p = Pair::start(&[]);
    let input: &[u8] = b"PING\r\nSET k \"a b\"\r\nGET k\r\nSET k2 \"x\\x41\\ty\\n\\\"q\\\"\"\r\nGET k2\r\n\r\n   \r\nSET k3 'it\\'s'\r\nGET k3\nECHO \"\"\r\nEXISTS k k2 k3 nosuch\r\nPING hello\r\n";
    let (ours, closed) = exchange(p.redust.port, input, Duration::from_millis(500));
    assert!(!closed);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        "+PONG\r\n+OK\r\n$3\r\na b\r\n+OK\r\n$8\r\nxA\ty\n\"q\"\r\n+OK\r\n$4\r\nit's\r\n$0\r\n\r\n:3\r\n$5\r\nhello\r\n"
    );
    if let Some(redis) = &p.redis {
        let (theirs, _) = exchange(redis.port, input, Duration::from_millis(500));
        assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
    }
}

fn protocol_error_cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("bad multibulk count", b"*x\r\n".to_vec()),
        ("empty multibulk count", b"*\r\n".to_vec()),
        ("simple string instead of bulk", b"*1\r\n+foo\r\n".to_vec()),
        ("negative bulk length", b"*1\r\n$-5\r\n".to_vec()),
        ("bulk length with leading zero", b"*1\r\n$04\r\nPING\r\n".to_vec()),
        ("multibulk count too big", b"*3000000000\r\n".to_vec()),
        ("bulk above proto-max-bulk-len", b"*1\r\n$600000000\r\n".to_vec()),
        ("unbalanced double quote", b"PING \"a\r\n".to_vec()),
        ("closing quote not followed by space", b"ECHO 'a\\'b' \"c\"d\r\n".to_vec()),
        ("reply then error", b"*1\r\n$4\r\nPING\r\n*a\r\n".to_vec()),
        ("inline request over 64k without newline", vec![b'x'; 70_000]),
    ];
    let mut long_count = b"*".to_vec();
    long_count.extend(std::iter::repeat_n(b'1', 70_000));
    v.push(("multibulk count line over 64k", long_count));
    let mut long_bulk = b"*1\r\n$".to_vec();
    long_bulk.extend(std::iter::repeat_n(b'1', 70_000));
    v.push(("bulk count line over 64k", long_bulk));
    v
}

#[test]
fn protocol_errors_match_redis_close_the_connection_and_spare_others() {
    let p = Pair::start(&[]);
    let mut other = p.redust.raw();
    assert_eq!(other.call(&["SET", "survivor", "yes"]), simple("OK"));
    for (name, bytes) in protocol_error_cases() {
        let (ours, closed) = exchange(p.redust.port, &bytes, Duration::from_secs(5));
        assert!(closed, "{name}: connection not closed");
        let text = String::from_utf8_lossy(&ours).into_owned();
        assert!(text.ends_with("\r\n") && text.contains("-ERR Protocol error: "), "{name}: {text:?}");
        if let Some(redis) = &p.redis {
            let (theirs, rclosed) = exchange(redis.port, &bytes, Duration::from_secs(5));
            assert!(rclosed);
            assert_eq!(text, String::from_utf8_lossy(&theirs), "{name} (left: redust, right: redis)");
        }
        // Another client's connection and data are untouched.
        assert_eq!(other.call(&["GET", "survivor"]), bulk("yes"), "after {name}");
    }
    let stats = info(&mut other, &["clients"]);
    assert_eq!(info_field(&stats, "connected_clients").as_deref(), Some("1"));
}

#[test]
fn binary_keys_and_values_round_trip() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let all: Vec<u8> = (0..=255u8).collect();
    let key: Vec<u8> = [b"k\r\n\0".as_slice(), &all].concat();
    let val: Vec<u8> = all.iter().rev().cycle().take(10_000).copied().collect();
    let _: () = redis::cmd("SET").arg(&key).arg(&val).query(&mut c).unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut c).unwrap();
    assert_eq!(got, val);
    let n: i64 = redis::cmd("STRLEN").arg(&key).query(&mut c).unwrap();
    assert_eq!(n, 10_000);
    // Raw RESP, and keys that differ only in one byte stay distinct.
    let mut r = s.raw();
    for b in 0..=255u8 {
        assert_eq!(r.call(&[b"SET".as_slice(), &[b'x', b], &[b]]), simple("OK"));
    }
    for b in 0..=255u8 {
        assert_eq!(r.call(&[b"GET".as_slice(), &[b'x', b]]), Frame::Bulk(Some(vec![b])));
    }
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("x*").query(&mut c).unwrap();
    assert_eq!(keys.len(), 256);
    assert_eq!(r.call(&[b"EXISTS".as_slice(), b"", b"\0"]), Frame::Int(0));
    assert_eq!(r.call(&[b"SET".as_slice(), b"", b""]), simple("OK"));
    assert_eq!(r.call(&[b"GET".as_slice(), b""]), Frame::Bulk(Some(vec![])));
}

#[test]
fn twenty_megabyte_value_round_trip() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let big: Vec<u8> = (0..20 * 1024 * 1024).map(|i: usize| (i % 251) as u8).collect();
    let _: () = redis::cmd("SET").arg("big").arg(&big).query(&mut c).unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg("big").query(&mut c).unwrap();
    assert!(got == big, "20 MB value came back different ({} bytes)", got.len());
    let n: i64 = redis::cmd("STRLEN").arg("big").query(&mut c).unwrap();
    assert_eq!(n, big.len() as i64);
    // The same through raw RESP, reading the reply in pieces.
    let mut r = s.raw();
    match r.call(&["GET", "big"]) {
        Frame::Bulk(Some(b)) => assert!(b == big),
        other => panic!("{:?}", std::mem::discriminant(&other)),
    }
}

#[test]
fn proto_max_bulk_len_limits_bulk_strings() {
    let p = Pair::start(&[]);
    let mb = 1024 * 1024;
    for s in std::iter::once(&p.redust).chain(p.redis.as_ref()) {
        let mut r = s.raw();
        assert_eq!(r.call(&["CONFIG", "SET", "proto-max-bulk-len", "1mb"]), simple("OK"));
        // Exactly the limit is fine.
        let v = vec![b'v'; mb];
        assert_eq!(r.call(&[b"SET".as_slice(), b"k", &v]), simple("OK"));
    }
    let over = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", mb + 1);
    let (ours, closed) = exchange(p.redust.port, over.as_bytes(), Duration::from_secs(5));
    assert!(closed);
    assert_eq!(String::from_utf8_lossy(&ours), "-ERR Protocol error: invalid bulk length\r\n");
    if let Some(redis) = &p.redis {
        let (theirs, _) = exchange(redis.port, over.as_bytes(), Duration::from_secs(5));
        assert_eq!(ours, theirs);
    }
    // The limit also applies to values built by commands (APPEND).
    let mut r = p.redust.raw();
    let append = r.call_raw(&["APPEND", "k", "x"]);
    if let Some(redis) = &p.redis {
        assert_eq!(String::from_utf8_lossy(&append), String::from_utf8_lossy(&redis.raw().call_raw(&["APPEND", "k", "x"])));
    }
    assert_eq!(r.call(&["STRLEN", "k"]), Frame::Int(mb as i64));
}

#[test]
fn query_buffer_limit_disconnects_only_that_client() {
    let p = Pair::start(&[]);
    for s in std::iter::once(&p.redust).chain(p.redis.as_ref()) {
        let mut other = s.raw();
        assert_eq!(other.call(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]), simple("OK"));
        // A 900 KB value still fits.
        let v = vec![b'a'; 900 * 1024];
        assert_eq!(other.call(&[b"SET".as_slice(), b"fits", &v]), simple("OK"));
        // A request that keeps growing past 1 MB: announce 10 MB, send 3 MB.
        let mut greedy = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        greedy.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = greedy.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000000\r\n");
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..48 {
            if greedy.write_all(&chunk).is_err() {
                break;
            }
        }
        assert!(closed_within(&mut greedy, Duration::from_secs(10)), "greedy client not disconnected");
        // Everyone else is fine.
        assert_eq!(other.call(&["PING"]), simple("PONG"));
        assert_eq!(other.call(&["STRLEN", "fits"]), Frame::Int(900 * 1024));
        assert_eq!(other.call(&["EXISTS", "k"]), Frame::Int(0));
        let mut fresh = s.raw();
        assert_eq!(fresh.call(&["PING"]), simple("PONG"));
    }
}

#[test]
fn client_that_never_reads_cannot_grow_server_memory() {
    let s = Server::start(&[]);
    let pid = pid_of(&s);
    let mut r = s.raw();
    let value = vec![b'v'; 1024 * 1024];
    assert_eq!(r.call(&[b"SET".as_slice(), b"big", &value]), simple("OK"));
    let base = rss_bytes(pid);
    let port = s.port;
    let writer = std::thread::spawn(move || {
        let mut w = TcpStream::connect(("127.0.0.1", port)).unwrap();
        w.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
        let gets: Vec<u8> = encode_request(&["GET", "big"]).repeat(1000);
        let mut sent = 0;
        for _ in 0..50 {
            if w.write_all(&gets).is_err() {
                break; // the server stopped reading: back-pressure works
            }
            sent += 1000;
        }
        // Keep the connection open (and unread) while RSS is measured.
        std::thread::sleep(Duration::from_secs(3));
        (sent, w)
    });
    let start = Instant::now();
    let mut peak = 0;
    while start.elapsed() < Duration::from_secs(7) && !writer.is_finished() {
        peak = peak.max(rss_bytes(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    let (sent, w) = writer.join().unwrap();
    peak = peak.max(rss_bytes(pid));
    drop(w);
    eprintln!("sent {sent} GETs of 1 MB without reading; RSS {} MB -> peak {} MB", base >> 20, peak >> 20);
    assert!(peak < 200 << 20, "server RSS grew to {} MB", peak >> 20);
    // The server is still fine for others.
    let mut r2 = s.raw();
    assert_eq!(r2.call(&["STRLEN", "big"]), Frame::Int(1024 * 1024));
}
