//! Client-side caching (CLIENT TRACKING): invalidation messages in RESP3
//! and through REDIRECT to a RESP2 subscriber, BCAST prefixes, OPTIN/OPTOUT,
//! NOLOOP, and the errors, compared byte for byte with a real redis-server
//! where one is installed.
mod common;
use common::*;
use redust::resp::reply::Frame;

/// One step: connection index, command (`$ID<n>` becomes connection n's
/// client id on that server), number of frames to read back.
type Step<'a> = (usize, &'a [&'a str], usize);

fn run(srv: &Server, conns: usize, steps: &[Step]) -> Vec<String> {
    let mut c: Vec<Raw> = (0..conns).map(|_| srv.raw()).collect();
    let ids: Vec<String> = c
        .iter_mut()
        .map(|r| match r.call(&["CLIENT", "ID"]) {
            Frame::Int(i) => i.to_string(),
            other => panic!("CLIENT ID: {other:?}"),
        })
        .collect();
    let mut got = Vec::new();
    for (i, cmd, frames) in steps {
        let label = format!("{cmd:?}");
        let cmd: Vec<String> = cmd
            .iter()
            .map(|a| match a.strip_prefix("$ID") {
                Some(n) => ids[n.parse::<usize>().unwrap()].clone(),
                None => a.to_string(),
            })
            .collect();
        if !cmd.is_empty() {
            c[*i].send(&cmd);
        }
        for _ in 0..*frames {
            let Some((_, raw)) = c[*i].read_raw() else {
                panic!("no reply to {label} on connection {i}; so far: {got:#?}");
            };
            let mut text = String::from_utf8_lossy(&raw).into_owned();
            for (n, id) in ids.iter().enumerate() {
                text = text.replace(&format!(":{id}\r\n"), &format!(":<id{n}>\r\n"));
            }
            if cmd.first().is_some_and(|c| c == "HELLO") {
                text = "(HELLO's version fields differ by design)".into();
            }
            got.push(format!("{i} {label} -> {text}"));
        }
    }
    got
}

fn same_on_both(conns: usize, steps: &[Step]) -> Vec<String> {
    let ours = run(&Server::start(&[]), conns, steps);
    if have_redis() {
        let theirs = run(&Server::start_redis(&[]), conns, steps);
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b);
        }
        assert_eq!(ours.len(), theirs.len());
    }
    ours
}

#[test]
fn resp3_default_mode_invalidates_once_after_a_read() {
    let got = same_on_both(
        2,
        &[
            (0, &["HELLO", "3"], 1),
            (0, &["CLIENT", "TRACKING", "ON"], 1),
            (1, &["SET", "a", "1"], 1),
            (1, &["SET", "b", "1"], 1),
            (0, &["GET", "a"], 1),
            (0, &["MGET", "b", "c"], 1),
            (1, &["SET", "a", "2"], 1),
            // The invalidation of a arrives before the reply to the next read.
            (0, &["PING"], 2),
            // Not read again: a second change says nothing.
            (1, &["SET", "a", "3"], 1),
            (1, &["DEL", "b"], 1),
            (0, &["PING"], 2),
            // Own writes: the reply first, then the invalidation.
            (0, &["GET", "c"], 1),
            (0, &["SET", "c", "x"], 2),
            (0, &["CLIENT", "TRACKINGINFO"], 1),
            (0, &["CLIENT", "GETREDIR"], 1),
            (1, &["CLIENT", "GETREDIR"], 1),
            (0, &["GET", "a"], 1),
            (1, &["FLUSHALL"], 1),
            (0, &["PING"], 2),
            (0, &["CLIENT", "TRACKING", "OFF"], 1),
            (0, &["CLIENT", "TRACKINGINFO"], 1),
        ],
    );
    assert!(
        got.iter()
            .any(|l| l.contains(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|l| l.contains(">2\r\n$10\r\ninvalidate\r\n_\r\n")),
        "flush: {got:#?}"
    );
}

#[test]
fn resp2_redirect_to_a_subscriber_and_broken_redirect() {
    let steps: &[Step] = &[
        (1, &["SUBSCRIBE", "__redis__:invalidate"], 1),
        (0, &["CLIENT", "TRACKING", "ON", "REDIRECT", "$ID1"], 1),
        (0, &["CLIENT", "GETREDIR"], 1),
        (0, &["GET", "k"], 1),
        (2, &["SET", "k", "v"], 1),
        (1, &[], 1),
        (0, &["CLIENT", "TRACKING", "ON", "REDIRECT", "12345678"], 1),
        (
            0,
            &[
                "CLIENT", "TRACKING", "ON", "REDIRECT", "$ID1", "REDIRECT", "$ID1",
            ],
            1,
        ),
    ];
    same_on_both(3, steps);
    // The message itself, read from the subscriber.
    let srv = Server::start(&[]);
    let mut tracker = srv.raw();
    let mut sub = srv.raw();
    let mut w = srv.raw();
    let sub_id = match sub.call(&["CLIENT", "ID"]) {
        Frame::Int(i) => i.to_string(),
        f => panic!("{f:?}"),
    };
    sub.call(&["SUBSCRIBE", "__redis__:invalidate"]);
    tracker.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &sub_id]);
    tracker.call(&["GET", "k"]);
    w.call(&["SET", "k", "v"]);
    let (_, raw) = sub.read_raw().expect("message");
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    // The redirect target goes away: a RESP3 tracker is told once.
    tracker.call(&["HELLO", "3"]);
    tracker.call(&["GET", "k"]);
    drop(sub);
    std::thread::sleep(std::time::Duration::from_millis(100));
    w.call(&["SET", "k", "w"]);
    let (_, raw) = tracker.read_raw().expect("push");
    assert_eq!(
        String::from_utf8_lossy(&raw),
        format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{sub_id}\r\n")
    );
    tracker.send(&["CLIENT", "TRACKINGINFO"]);
    let (_, raw) = tracker.read_raw().expect("reply");
    assert!(String::from_utf8_lossy(&raw).contains("broken_redirect"));
    let list = tracker.call_raw(&["CLIENT", "INFO"]);
    assert!(
        String::from_utf8_lossy(&list).contains("flags=tR "),
        "{}",
        String::from_utf8_lossy(&list)
    );
}

#[test]
fn bcast_prefixes_optin_optout_noloop() {
    same_on_both(
        2,
        &[
            (0, &["HELLO", "3"], 1),
            (
                0,
                &[
                    "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "cfg:",
                ],
                1,
            ),
            (1, &["SET", "user:1", "x"], 1),
            (1, &["SET", "other", "x"], 1),
            (1, &["MSET", "cfg:a", "1", "cfg:b", "2"], 1),
            (0, &["PING"], 3),
            (0, &["CLIENT", "TRACKINGINFO"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "us"], 1),
            (0, &["CLIENT", "TRACKING", "ON"], 1),
            (0, &["CLIENT", "TRACKING", "OFF"], 1),
            // OPTIN: only reads after CLIENT CACHING yes are remembered.
            (0, &["CLIENT", "TRACKING", "ON", "OPTIN"], 1),
            (0, &["GET", "p"], 1),
            (0, &["CLIENT", "CACHING", "YES"], 1),
            (0, &["GET", "q"], 1),
            (1, &["SET", "p", "1"], 1),
            (1, &["SET", "q", "1"], 1),
            (0, &["PING"], 2),
            (0, &["CLIENT", "CACHING", "NO"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "OPTOUT"], 1),
            (0, &["CLIENT", "TRACKING", "OFF"], 1),
            // OPTOUT: everything but the reads after CLIENT CACHING no.
            (0, &["CLIENT", "TRACKING", "ON", "OPTOUT", "NOLOOP"], 1),
            (0, &["CLIENT", "CACHING", "NO"], 1),
            (0, &["GET", "p"], 1),
            (0, &["GET", "q"], 1),
            (1, &["SET", "p", "2"], 1),
            (1, &["SET", "q", "2"], 1),
            (0, &["PING"], 2),
            // NOLOOP: its own change of a cached key is not echoed back.
            (0, &["GET", "p"], 1),
            (0, &["SET", "p", "3"], 1),
            (0, &["PING"], 1),
            (0, &["CLIENT", "TRACKINGINFO"], 1),
        ],
    );
}

#[test]
fn tracking_errors_match_redis() {
    same_on_both(
        2,
        &[
            (0, &["CLIENT", "TRACKING", "ON", "PREFIX", "a"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"], 1),
            (
                0,
                &[
                    "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a",
                ],
                1,
            ),
            (0, &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"], 1),
            (
                0,
                &[
                    "CLIENT", "TRACKING", "ON", "REDIRECT", "$ID1", "REDIRECT", "$ID1",
                ],
                1,
            ),
            (0, &["CLIENT", "TRACKING", "MAYBE"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "FOO"], 1),
            (0, &["CLIENT", "CACHING", "YES"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "OPTIN"], 1),
            (0, &["CLIENT", "CACHING", "NO"], 1),
            (0, &["CLIENT", "CACHING", "MAYBE"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "OPTOUT"], 1),
            (0, &["CLIENT", "TRACKING", "ON", "BCAST"], 1),
        ],
    );
}

#[test]
fn expired_keys_are_invalidated_and_info_counts() {
    let srv = Server::start(&[]);
    let mut t = srv.raw();
    t.call(&["HELLO", "3"]);
    t.call(&["CLIENT", "TRACKING", "ON"]);
    let mut w = srv.raw();
    w.call(&["SET", "soon", "v", "PX", "30"]);
    t.call(&["GET", "soon"]);
    let info = String::from_utf8_lossy(&w.call_raw(&["INFO", "stats"])).into_owned();
    assert!(info.contains("tracking_total_keys:1"), "{info}");
    // Active expiry removes it with no command touching it.
    let (_, raw) = t.read_raw().expect("push");
    assert_eq!(
        String::from_utf8_lossy(&raw),
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nsoon\r\n"
    );
    let info = String::from_utf8_lossy(&w.call_raw(&["INFO", "clients"])).into_owned();
    assert!(info.contains("tracking_clients:1"), "{info}");
    drop(t);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let info = String::from_utf8_lossy(&w.call_raw(&["INFO", "clients"])).into_owned();
    assert!(info.contains("tracking_clients:0"), "{info}");
}
