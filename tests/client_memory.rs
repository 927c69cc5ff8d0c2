//! Client memory: CLIENT LIST's obl/oll/omem/tot-mem, INFO's client buffer
//! figures and maxmemory-clients, each checked on Redust and on a real
//! redis-server with the same steps.
mod common;
use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use redust::resp::reply::Frame;

/// A value bigger than loopback socket buffers can absorb, so a client
/// that does not read leaves most of a GET reply in the server.
const BIG: usize = 30_000_000;

fn text(f: Frame) -> String {
    match f {
        Frame::Verbatim(t) | Frame::Bulk(Some(t)) => String::from_utf8_lossy(&t).into_owned(),
        other => panic!("unexpected {other:?}"),
    }
}

fn info_field(r: &mut Raw, section: &str, field: &str) -> u64 {
    let t = text(r.call(&["INFO", section]));
    t.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {t}"))
}

/// The CLIENT LIST fields of client `id`, if connected.
fn client_fields(r: &mut Raw, id: i64) -> Option<Vec<(String, String)>> {
    let list = text(r.call(&["CLIENT", "LIST"]));
    let line = list.lines().find(|l| l.starts_with(&format!("id={id} ")))?;
    Some(
        line.split(' ')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn field(fields: &[(String, String)], name: &str) -> u64 {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn client_id(r: &mut Raw) -> i64 {
    match r.call(&["CLIENT", "ID"]) {
        Frame::Int(i) => i,
        other => panic!("CLIENT ID: {other:?}"),
    }
}

fn make_big_value(r: &mut Raw) {
    assert_eq!(
        r.call(&["SETRANGE", "big", &(BIG - 1).to_string(), "x"]),
        Frame::Int(BIG as i64)
    );
}

/// Reads a GET reply of the big value to the end.
fn drain_big_reply(r: &mut Raw) {
    match r.read() {
        Frame::Bulk(Some(v)) => assert_eq!(v.len(), BIG),
        other => panic!("GET big: {other:?}"),
    }
}

fn slow_reader(s: &Server) {
    let mut admin = s.raw();
    make_big_value(&mut admin);
    let mut slow = s.raw();
    let id = client_id(&mut slow);
    slow.send(&["GET", "big"]);
    // Most of the reply waits in the server while the client reads nothing.
    let f = poll("omem of the slow reader", || {
        client_fields(&mut admin, id).filter(|f| field(f, "omem") > 10_000_000)
    });
    let (omem, obl, oll, tot) = (
        field(&f, "omem"),
        field(&f, "obl"),
        field(&f, "oll"),
        field(&f, "tot-mem"),
    );
    // Redis counts the blocks it allocated, a little more than the bytes.
    assert!(omem < 2 * BIG as u64, "omem {omem}");
    assert!(tot > omem, "tot-mem {tot} omem {omem}");
    assert!(obl <= 16 * 1024 && oll > 0, "obl {obl} oll {oll}");
    // Redis updates these from its cron: poll.
    poll("client_recent_max_output_buffer", || {
        (info_field(&mut admin, "clients", "client_recent_max_output_buffer") > 10_000_000)
            .then_some(())
    });
    poll("mem_clients_normal", || {
        (info_field(&mut admin, "memory", "mem_clients_normal") > 10_000_000).then_some(())
    });
    drain_big_reply(&mut slow);
    let f = poll("the backlog to drain", || {
        client_fields(&mut admin, id).filter(|f| field(f, "omem") == 0)
    });
    assert!(field(&f, "tot-mem") < 1 << 20, "{f:?}");
    assert_eq!(slow.call(&["PING"]), simple("PONG"));
}

#[test]
fn slow_reader_shows_its_backlog_in_client_list_and_info() {
    let mut ours = Server::start(&[]);
    slow_reader(&ours);
    ours.stop();
    if have_redis() {
        let mut redis = Server::start_redis(&[]);
        slow_reader(&redis);
        redis.stop();
    }
}

/// Waits until the server has closed `r` (whatever it sent before).
/// A reset counts: the server may close with input it never read.
fn wait_closed(r: &mut Raw, who: &str) {
    use std::io::{ErrorKind, Read};
    r.stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut tmp = vec![0u8; 1 << 20];
    loop {
        match r.stream.read(&mut tmp) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                return
            }
            Err(e) => panic!("{who} should have been disconnected: {e}"),
        }
    }
}

fn client_eviction(s: &Server) {
    let mut admin = s.raw();
    assert_eq!(admin.call(&["CLIENT", "NO-EVICT", "on"]), simple("OK"));
    make_big_value(&mut admin);
    // Protected: its unread reply (about 30 MB) counts, but it stays.
    let mut kept = s.raw();
    assert_eq!(kept.call(&["CLIENT", "NO-EVICT", "on"]), simple("OK"));
    let kept_id = client_id(&mut kept);
    kept.send(&["GET", "big"]);
    poll("the protected reader's backlog", || {
        client_fields(&mut admin, kept_id).filter(|f| field(f, "omem") > 10_000_000)
    });
    let mut small = s.raw();
    assert_eq!(small.call(&["PING"]), simple("PONG"));
    // A client closing of its own accord still gets its reply.
    assert_eq!(s.raw().call(&["QUIT"]), simple("OK"));
    assert_eq!(
        info_field(&mut admin, "stats", "evicted_clients"),
        0,
        "{}",
        text(admin.call(&["CLIENT", "LIST"]))
    );

    // An unread reply over the limit.
    let mut reader = s.raw();
    let reader_id = client_id(&mut reader);
    reader.send(&["GET", "big"]);
    // Not read while the server decides: Redis writes part of a reply
    // before it evicts, and a reader that keeps up may drain it in time.
    poll("evicted_clients 1", || {
        (info_field(&mut admin, "stats", "evicted_clients") == 1).then_some(())
    });
    assert!(client_fields(&mut admin, reader_id).is_none());
    wait_closed(&mut reader, "the client with the big unread reply");

    // A query buffer that takes the total over the limit: half of a 50 MB
    // argument (both servers make room for the whole argument).
    let mut writer = s.raw();
    let writer_id = client_id(&mut writer);
    let mut req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$50000000\r\n".to_vec();
    req.resize(req.len() + 25_000_000, b'v');
    // The server may close the socket while this is still being sent.
    let _ = writer.stream.write_all(&req);
    wait_closed(&mut writer, "the client with the big query buffer");
    poll("evicted_clients 2", || {
        (info_field(&mut admin, "stats", "evicted_clients") == 2).then_some(())
    });
    assert!(client_fields(&mut admin, writer_id).is_none());

    // The protected and the small client were left alone.
    assert!(client_fields(&mut admin, kept_id).is_some());
    drain_big_reply(&mut kept);
    assert_eq!(kept.call(&["PING"]), simple("PONG"));
    assert_eq!(small.call(&["PING"]), simple("PONG"));
    assert_eq!(info_field(&mut admin, "stats", "evicted_clients"), 2);
}

#[test]
fn maxmemory_clients_disconnects_the_biggest_clients_but_not_no_evict_ones() {
    // Room for one unread 30 MB reply, not two.
    let args = ["--maxmemory-clients", "50mb"];
    let mut ours = Server::start(&args);
    client_eviction(&ours);
    ours.stop();
    if have_redis() {
        let mut redis = Server::start_redis(&args);
        client_eviction(&redis);
        redis.stop();
    }
}

#[test]
fn maxmemory_clients_as_a_percentage_of_maxmemory() {
    // 10% of 200 MB: the same 20 MB limit, set at runtime.
    let mut s = Server::start(&["--maxmemory", "200mb"]);
    let mut admin = s.raw();
    assert_eq!(
        admin.call(&["CONFIG", "SET", "maxmemory-clients", "10%"]),
        simple("OK")
    );
    assert_eq!(admin.call(&["CLIENT", "NO-EVICT", "on"]), simple("OK"));
    make_big_value(&mut admin);
    let mut reader = s.raw();
    reader.send(&["GET", "big"]);
    wait_closed(&mut reader, "the big reader");
    assert_eq!(info_field(&mut admin, "stats", "evicted_clients"), 1);
    // No limit, no eviction.
    assert_eq!(
        admin.call(&["CONFIG", "SET", "maxmemory-clients", "0"]),
        simple("OK")
    );
    let mut reader = s.raw();
    reader.send(&["GET", "big"]);
    drain_big_reply(&mut reader);
    assert_eq!(info_field(&mut admin, "stats", "evicted_clients"), 1);
    s.stop();
}

/// argv-mem, qbuf and rbp of a client sending a command in pieces, of a
/// blocked one and of the client asking.
fn argv_and_query_buffer(s: &Server) {
    let mut admin = s.raw();
    // The asking client: its own command is in the query buffer and argv.
    let me = text(admin.call(&["CLIENT", "INFO"]));
    assert!(
        me.contains(" qbuf=26 ") && me.contains(" argv-mem=10 "),
        "{me}"
    );

    let mut partial = s.raw();
    let id = client_id(&mut partial);
    let value = vec![b'v'; 100_000];
    let mut head = b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\n".to_vec();
    head.extend_from_slice(&value);
    head.extend_from_slice(b"\r\n$2\r\nE");
    partial.send_bytes(&head);
    // SET, k and the value are in, EX is not complete yet.
    let f = poll("argv-mem of the partial command", || {
        client_fields(&mut admin, id).filter(|f| field(f, "argv-mem") == 100_004)
    });
    assert!(field(&f, "qbuf") < 100, "{f:?}");
    partial.send_bytes(b"X\r\n$3\r\n100\r\n");
    assert_eq!(partial.read(), simple("OK"));
    let f = client_fields(&mut admin, id).unwrap();
    assert_eq!((field(&f, "argv-mem"), field(&f, "qbuf")), (0, 0), "{f:?}");

    // The reply buffer's recent peak.
    assert_eq!(
        partial.call(&["SET", "small", &"x".repeat(1000)]),
        simple("OK")
    );
    // (The peak is reset at the cron's first visit of a new client, then
    // every 5 s: the GET is repeated until CLIENT LIST catches it.)
    poll("rbp of the GET", || {
        assert_eq!(partial.call(&["GET", "small"]), bulk(&"x".repeat(1000)));
        let f = client_fields(&mut admin, id)?;
        (1000..=field(&f, "rbs")).contains(&field(&f, "rbp")).then_some(())
    });
    // It is a recent peak only.
    poll("rbp to be reset", || {
        client_fields(&mut admin, id).filter(|f| field(f, "rbp") == 0)
    });

    // A blocked client keeps its command's arguments.
    partial.send(&["BLPOP", "list", "0"]);
    poll("argv-mem of the blocked client", || {
        client_fields(&mut admin, id).filter(|f| field(f, "argv-mem") == 10)
    });
    assert_eq!(admin.call(&["LPUSH", "list", "a"]), Frame::Int(1));
    assert_eq!(
        partial.read(),
        Frame::Array(Some(vec![bulk("list"), bulk("a")]))
    );
}

#[test]
fn client_list_shows_argv_mem_qbuf_and_reply_buffer_peak() {
    let mut ours = Server::start(&[]);
    argv_and_query_buffer(&ours);
    ours.stop();
    if have_redis() {
        let mut redis = Server::start_redis(&[]);
        argv_and_query_buffer(&redis);
        redis.stop();
    }
}
