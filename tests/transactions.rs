//! MULTI/EXEC/DISCARD/WATCH/UNWATCH through real clients, with replies
//! compared byte for byte against a real redis-server where it is installed.
mod common;
use common::*;
use redust::resp::reply::Frame;

/// Runs the same scripted commands on one connection to each server and
/// requires identical reply bytes.
fn same_on_both(script: &[&[&str]]) {
    let ours = Server::start(&[]);
    let mut a = ours.raw();
    let theirs = have_redis().then(|| Server::start_redis(&[]));
    let mut b = theirs.as_ref().map(|s| s.raw());
    for cmd in script {
        let x = a.call_raw(cmd);
        assert!(!x.is_empty(), "no reply to {cmd:?}");
        if let Some(b) = b.as_mut() {
            let y = b.call_raw(cmd);
            assert_eq!(String::from_utf8_lossy(&x), String::from_utf8_lossy(&y), "reply to {cmd:?}");
        }
    }
}

#[test]
fn queue_and_exec_like_redis() {
    same_on_both(&[
        &["MULTI"],
        &["SET", "a", "1"],
        &["INCR", "a"],
        &["GET", "a"],
        &["EXEC"],
        // A runtime error inside EXEC is returned in place; the rest runs.
        &["MULTI"],
        &["SET", "s", "x"],
        &["INCR", "s"],
        &["GET", "s"],
        &["EXEC"],
    ]);
}

#[test]
fn queuing_errors_abort_exec_like_redis() {
    same_on_both(&[
        &["MULTI"],
        &["SET", "a", "1"],
        &["NOSUCHCOMMAND", "x"],
        &["EXEC"],
        &["GET", "a"],
        &["MULTI"],
        &["GET"],
        &["EXEC"],
    ]);
}

#[test]
fn misuse_errors_like_redis() {
    same_on_both(&[
        &["EXEC"],
        &["DISCARD"],
        &["MULTI"],
        &["MULTI"],
        &["WATCH", "x"],
        &["SET", "k", "v"],
        &["DISCARD"],
        &["GET", "k"],
        &["UNWATCH"],
    ]);
}

#[test]
fn watch_aborts_when_another_client_writes() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.call(&["SET", "w", "0"]), simple("OK"));
    assert_eq!(a.call(&["WATCH", "w"]), simple("OK"));
    assert_eq!(b.call(&["SET", "w", "1"]), simple("OK"));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "w", "2"]), simple("QUEUED"));
    assert_eq!(a.call(&["EXEC"]), Frame::Array(None));
    assert_eq!(a.call(&["GET", "w"]), bulk("1"));
    // The watch is gone after EXEC: the next transaction goes through.
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "w", "3"]), simple("QUEUED"));
    assert_eq!(a.call(&["EXEC"]), Frame::Array(Some(vec![simple("OK")])));
}

#[test]
fn watch_survives_unrelated_and_failed_writes() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.call(&["SET", "w", "0"]), simple("OK"));
    assert_eq!(a.call(&["WATCH", "w"]), simple("OK"));
    // A write to another key, and a SET NX that changes nothing.
    assert_eq!(b.call(&["SET", "other", "1"]), simple("OK"));
    assert_eq!(b.call(&["SET", "w", "9", "NX"]), Frame::Bulk(None));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["INCR", "w"]), simple("QUEUED"));
    assert_eq!(a.call(&["EXEC"]), Frame::Array(Some(vec![Frame::Int(1)])));
}

#[test]
fn watch_aborts_on_flushall_expiry_and_delete() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    for breaker in [&["FLUSHALL"][..], &["DEL", "w"][..], &["EXPIRE", "w", "100"][..]] {
        assert_eq!(a.call(&["SET", "w", "0"]), simple("OK"));
        assert_eq!(a.call(&["WATCH", "w"]), simple("OK"));
        b.call(breaker);
        assert_eq!(a.call(&["MULTI"]), simple("OK"));
        assert_eq!(a.call(&["SET", "w", "2"]), simple("QUEUED"));
        assert_eq!(a.call(&["EXEC"]), Frame::Array(None), "after {breaker:?}");
    }
    // A watched key that expires before EXEC counts as changed.
    assert_eq!(a.call(&["SET", "e", "0", "PX", "50"]), simple("OK"));
    assert_eq!(a.call(&["WATCH", "e"]), simple("OK"));
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "e", "2"]), simple("QUEUED"));
    assert_eq!(a.call(&["EXEC"]), Frame::Array(None));
}

#[test]
fn discard_and_unwatch_forget_state() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.call(&["WATCH", "w"]), simple("OK"));
    assert_eq!(a.call(&["UNWATCH"]), simple("OK"));
    assert_eq!(b.call(&["SET", "w", "1"]), simple("OK"));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "x", "1"]), simple("QUEUED"));
    assert_eq!(a.call(&["DISCARD"]), simple("OK"));
    assert_eq!(a.call(&["GET", "x"]), Frame::Bulk(None));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["GET", "w"]), simple("QUEUED"));
    assert_eq!(a.call(&["EXEC"]), Frame::Array(Some(vec![bulk("1")])));
}

#[test]
fn redis_crate_atomic_pipeline() {
    let s = Server::start(&[]);
    let mut c = s.client();
    let (x, y): (i64, i64) = redis::pipe().atomic().incr("n", 5).incr("n", 2).query(&mut c).unwrap();
    assert_eq!((x, y), (5, 7));
}

#[test]
fn exec_is_atomic_against_other_clients() {
    let s = Server::start(&[]);
    let port = s.port;
    // Two clients each run 200 transactions of INCR+GET; in every reply the
    // GET must see the INCR's value, i.e. nothing interleaved.
    let workers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut r = Raw::connect(port);
                for _ in 0..200 {
                    r.send_bytes(b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$3\r\nGET\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n");
                    for _ in 0..3 {
                        r.read();
                    }
                    match r.read() {
                        Frame::Array(Some(v)) => match (&v[0], &v[1]) {
                            (Frame::Int(i), Frame::Bulk(Some(b))) => assert_eq!(i.to_string().as_bytes(), &b[..]),
                            other => panic!("unexpected {other:?}"),
                        },
                        other => panic!("unexpected {other:?}"),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn blocking_commands_inside_exec_do_not_block() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MULTI"]), simple("OK"));
    assert_eq!(r.call(&["BLPOP", "nothing", "0"]), simple("QUEUED"));
    assert_eq!(r.call(&["SET", "after", "1"]), simple("QUEUED"));
    assert_eq!(r.call(&["EXEC"]), Frame::Array(Some(vec![Frame::Array(None), simple("OK")])));
}

#[test]
fn a_push_inside_exec_wakes_a_blocked_client_after_it() {
    let s = Server::start(&[]);
    let mut waiter = s.raw();
    waiter.send(&["BLPOP", "q", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut r = s.raw();
    assert_eq!(r.call(&["MULTI"]), simple("OK"));
    assert_eq!(r.call(&["RPUSH", "q", "a", "b"]), simple("QUEUED"));
    assert_eq!(r.call(&["LLEN", "q"]), simple("QUEUED"));
    // The waiter is served only after the whole transaction: LLEN sees 2.
    assert_eq!(r.call(&["EXEC"]), Frame::Array(Some(vec![Frame::Int(2), Frame::Int(2)])));
    assert_eq!(waiter.read(), Frame::Array(Some(vec![bulk("q"), bulk("a")])));
    assert_eq!(r.call(&["LRANGE", "q", "0", "-1"]), Frame::Array(Some(vec![bulk("b")])));
}

#[test]
fn client_unblock_with_timeout_and_error() {
    let s = Server::start(&[]);
    let mut waiter = s.raw();
    let Frame::Int(id) = waiter.call(&["CLIENT", "ID"]) else { panic!() };
    let id = id.to_string();
    let mut r = s.raw();
    assert_eq!(r.call(&["CLIENT", "UNBLOCK", &id]), Frame::Int(0));
    waiter.send(&["BLPOP", "q", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(r.call(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), Frame::Int(1));
    assert_eq!(waiter.read(), Frame::Array(None));
    waiter.send(&["BRPOP", "q", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(r.call(&["CLIENT", "UNBLOCK", &id, "ERROR"]), Frame::Int(1));
    assert_eq!(waiter.read(), err("UNBLOCKED client unblocked via CLIENT UNBLOCK"));
    // The connection is usable again and no longer queued on the key.
    assert_eq!(waiter.call(&["PING"]), simple("PONG"));
    assert_eq!(r.call(&["RPUSH", "q", "x"]), Frame::Int(1));
    assert_eq!(r.call(&["LLEN", "q"]), Frame::Int(1));
}
