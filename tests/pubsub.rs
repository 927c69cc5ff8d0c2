//! Pub/Sub through raw RESP and the redis crate, compared byte for byte with
//! a real redis-server where one is installed.
mod common;
use common::*;
use redust::resp::reply::Frame;

/// Two connections per server (subscriber, publisher) running the same
/// script; every reply read must be identical between the servers.
/// Each step: (connection 0 or 1, command, number of frames to read).
fn same_on_both(steps: &[(usize, &[&str], usize)]) {
    let ours = Server::start(&[]);
    let theirs = have_redis().then(|| Server::start_redis(&[]));
    let mut a = [ours.raw(), ours.raw()];
    let mut b = theirs.as_ref().map(|s| [s.raw(), s.raw()]);
    for (conn, cmd, frames) in steps {
        a[*conn].send(cmd);
        if let Some(b) = b.as_mut() {
            b[*conn].send(cmd);
        }
        for _ in 0..*frames {
            let x = a[*conn].read_raw().expect("reply").1;
            if let Some(b) = b.as_mut() {
                let y = b[*conn].read_raw().expect("reply").1;
                assert_eq!(String::from_utf8_lossy(&x), String::from_utf8_lossy(&y), "reply to {cmd:?}");
            }
        }
    }
}

#[test]
fn subscribe_publish_unsubscribe_like_redis() {
    same_on_both(&[
        (0, &["SUBSCRIBE", "news", "sport"], 2),
        (0, &["PSUBSCRIBE", "n*"], 1),
        (1, &["PUBLISH", "news", "hello"], 1),
        // The subscriber's message and pmessage (an empty request sends
        // nothing the servers answer).
        (0, &[], 2),
        (1, &["PUBLISH", "nothing-here", "x"], 1),
        (1, &["PUBSUB", "NUMSUB", "news", "sport", "none"], 1),
        (1, &["PUBSUB", "NUMPAT"], 1),
        (0, &["GET", "k"], 1),
        (0, &["PING"], 1),
        (0, &["PING", "hi"], 1),
        (0, &["UNSUBSCRIBE", "news"], 1),
        (0, &["PUNSUBSCRIBE"], 1),
        (0, &["UNSUBSCRIBE"], 1),
        (0, &["UNSUBSCRIBE"], 1),
        (0, &["PING"], 1),
    ]);
}

#[test]
fn messages_arrive_in_order_with_patterns() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let mut publ = s.raw();
    sub.send(&["SUBSCRIBE", "ch"]);
    sub.read();
    sub.send(&["PSUBSCRIBE", "c*"]);
    sub.read();
    assert_eq!(publ.call(&["PUBLISH", "ch", "m1"]), Frame::Int(2));
    assert_eq!(
        sub.read(),
        Frame::Array(Some(vec![bulk("message"), bulk("ch"), bulk("m1")]))
    );
    assert_eq!(
        sub.read(),
        Frame::Array(Some(vec![bulk("pmessage"), bulk("c*"), bulk("ch"), bulk("m1")]))
    );
    assert_eq!(publ.call(&["PUBSUB", "CHANNELS"]), Frame::Array(Some(vec![bulk("ch")])));
}

#[test]
fn resp3_messages_are_pushes_and_commands_still_work() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let mut publ = s.raw();
    sub.call(&["HELLO", "3"]);
    sub.send(&["SUBSCRIBE", "ch"]);
    assert_eq!(sub.read(), Frame::Push(vec![bulk("subscribe"), bulk("ch"), Frame::Int(1)]));
    assert_eq!(sub.call(&["SET", "k", "v"]), simple("OK"));
    assert_eq!(publ.call(&["PUBLISH", "ch", "x"]), Frame::Int(1));
    assert_eq!(sub.read(), Frame::Push(vec![bulk("message"), bulk("ch"), bulk("x")]));
}

#[test]
fn shard_channels() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let mut publ = s.raw();
    sub.send(&["SSUBSCRIBE", "sh"]);
    assert_eq!(sub.read(), Frame::Array(Some(vec![bulk("ssubscribe"), bulk("sh"), Frame::Int(1)])));
    assert_eq!(publ.call(&["SPUBLISH", "sh", "m"]), Frame::Int(1));
    assert_eq!(publ.call(&["PUBLISH", "sh", "m"]), Frame::Int(0));
    assert_eq!(sub.read(), Frame::Array(Some(vec![bulk("smessage"), bulk("sh"), bulk("m")])));
    assert_eq!(publ.call(&["PUBSUB", "SHARDNUMSUB", "sh"]), Frame::Array(Some(vec![bulk("sh"), Frame::Int(1)])));
}

#[test]
fn disconnect_and_reset_drop_subscriptions() {
    let s = Server::start(&[]);
    let mut publ = s.raw();
    {
        let mut sub = s.raw();
        sub.send(&["SUBSCRIBE", "gone"]);
        sub.read();
        assert_eq!(publ.call(&["PUBLISH", "gone", "x"]), Frame::Int(1));
    }
    let mut ok = false;
    for _ in 0..100 {
        if publ.call(&["PUBLISH", "gone", "x"]) == Frame::Int(0) {
            ok = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(ok, "subscription survived its connection");
    let mut sub = s.raw();
    sub.send(&["SUBSCRIBE", "r"]);
    sub.read();
    assert_eq!(sub.call(&["RESET"]), simple("RESET"));
    assert_eq!(publ.call(&["PUBLISH", "r", "x"]), Frame::Int(0));
    assert_eq!(sub.call(&["GET", "nokey"]), Frame::Bulk(None));
}

#[test]
fn slow_subscriber_is_disconnected_not_buffered() {
    let s = Server::start(&["--client-output-buffer-limit", "pubsub 1mb 512kb 1"]);
    let mut sub = s.raw();
    sub.send(&["SUBSCRIBE", "flood"]);
    sub.read();
    let payload = "x".repeat(64 * 1024);
    let mut publ = s.raw();
    // 64 MB published to a subscriber that never reads.
    let mut receivers_at_end = None;
    for _ in 0..1024 {
        match publ.call(&["PUBLISH", "flood", &payload]) {
            Frame::Int(n) => receivers_at_end = Some(n),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(receivers_at_end, Some(0), "the slow subscriber should have been dropped");
    assert_eq!(publ.call(&["PING"]), simple("PONG"));
    assert!(sub.is_closed(), "the slow subscriber's connection is closed");
}
