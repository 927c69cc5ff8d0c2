//! CLUSTER, READONLY/READWRITE/ASKING, MODULE, SCRIPT DEBUG and LOLWUT:
//! the replies of a standalone, module-less server (clients probe CLUSTER
//! INFO and MODULE LIST and parse these exact texts), compared with a real
//! redis-server byte for byte, and their command table entries compared
//! with Redis's COMMAND INFO / COMMAND DOCS.

mod common;

use common::{have_redis, Server};
use redust::resp::reply::Frame;

/// Redis 7.2's help lines end "Print this help."; 7.0 wrote "Prints".
fn to_72(b: Vec<u8>) -> Vec<u8> {
    String::from_utf8_lossy(&b)
        .replace("+    Prints this help.\r\n", "+    Print this help.\r\n")
        .into_bytes()
}

const CALLS: &[&[&str]] = &[
    &["CLUSTER", "INFO"],
    &["CLUSTER", "NODES"],
    &["CLUSTER", "SLOTS"],
    &["CLUSTER", "MYID"],
    &["CLUSTER", "KEYSLOT", "k"],
    &["CLUSTER", "HELP"],
    &["cluster", "info", "extra"],
    &["CLUSTER", "ADDSLOTS"],
    &["CLUSTER", "NOSUCH"],
    &["CLUSTER"],
    &["READONLY"],
    &["READWRITE"],
    &["ASKING"],
    &["ASKING", "x"],
    &["MODULE", "LIST"],
    &["MODULE", "HELP"],
    &["MODULE", "LOAD", "/nonexistent/mod.so"],
    &[
        "MODULE",
        "LOADEX",
        "/nonexistent/mod.so",
        "CONFIG",
        "a",
        "b",
    ],
    &["MODULE", "UNLOAD", "nosuch"],
    &["MODULE", "LOAD"],
    &["MODULE", "NOSUCH"],
    &["SCRIPT", "DEBUG", "NO"],
    &["SCRIPT", "DEBUG", "MAYBE"],
    &["SCRIPT", "DEBUG"],
    &["LOLWUT", "VERSION", "x"],
    &["MULTI"],
    &["SCRIPT", "DEBUG", "NO"],
    &["EXEC"],
];

fn replies(s: &Server) -> Vec<Vec<u8>> {
    let mut c = s.raw();
    CALLS.iter().map(|call| to_72(c.call_raw(call))).collect()
}

#[test]
fn replies_match_standalone_redis() {
    if !have_redis() {
        eprintln!("redis-server not installed; skipping");
        return;
    }
    for conf in [
        &["--enable-module-command", "no"][..],
        &["--enable-module-command", "yes"],
    ] {
        let mut ours = Server::start(conf);
        let mut redis = Server::start_redis(conf);
        let (a, b) = (replies(&ours), replies(&redis));
        for ((call, x), y) in CALLS.iter().zip(&a).zip(&b) {
            assert_eq!(
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y),
                "{call:?} with {conf:?}"
            );
        }
        ours.stop();
        redis.stop();
    }
}

/// LOLWUT prints "Redis ver. <redis_version>\n" (INFO's version) for the
/// default version and any version without a drawing; a bulk string in
/// RESP2, a verbatim txt string in RESP3.
#[test]
fn lolwut_prints_the_version_line() {
    let mut servers = vec![Server::start(&[])];
    if have_redis() {
        servers.push(Server::start_redis(&[]));
    }
    for s in &servers {
        let mut c = s.raw();
        let Frame::Bulk(Some(info)) = c.call(&["INFO", "server"]) else {
            panic!("INFO")
        };
        let info = String::from_utf8_lossy(&info).to_string();
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .expect("redis_version")
            .trim()
            .to_string();
        let line = format!("Redis ver. {version}\n");
        let resp2 = format!("${}\r\n{line}\r\n", line.len()).into_bytes();
        for call in [
            &["LOLWUT"][..],
            &["LOLWUT", "VERSION", "7"],
            &["lolwut", "version", "1", "x"],
            &["LOLWUT", "VERSION"],
        ] {
            assert_eq!(c.call_raw(call), resp2, "{call:?}");
        }
        c.call(&["HELLO", "3"]);
        let resp3 = format!("={}\r\ntxt:{line}\r\n", line.len() + 4).into_bytes();
        assert_eq!(c.call_raw(&["LOLWUT"]), resp3);
    }
}

/// SCRIPT DEBUG YES/SYNC would start the Lua debugger, which Redust does
/// not have: a clear error instead of a session that never comes.
#[test]
fn script_debug_yes_is_refused() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for mode in ["YES", "sync"] {
        let Frame::Error(e) = c.call(&["SCRIPT", "DEBUG", mode]) else {
            panic!("SCRIPT DEBUG {mode} accepted")
        };
        assert!(
            String::from_utf8_lossy(&e).contains("no Lua debugger"),
            "{e:?}"
        );
    }
    // Scripts still run normally afterwards.
    assert_eq!(c.call(&["EVAL", "return 1", "0"]), Frame::Int(1));
}

/// A COMMAND INFO reply without tips (Redust does not keep them).
fn without_tips(f: Frame) -> Frame {
    match f {
        Frame::Array(Some(v)) => {
            Frame::Array(Some(v.into_iter().map(entry_without_tips).collect()))
        }
        other => other,
    }
}

fn entry_without_tips(f: Frame) -> Frame {
    match f {
        Frame::Array(Some(mut v)) if v.len() == 10 => {
            v[7] = Frame::Array(Some(vec![]));
            if let Frame::Array(Some(subs)) = v.remove(9) {
                let mut subs: Vec<Frame> = subs.into_iter().map(entry_without_tips).collect();
                subs.sort_by_key(|s| format!("{s:?}"));
                v.push(Frame::Array(Some(subs)));
            }
            Frame::Array(Some(v))
        }
        other => other,
    }
}

/// Since and group of a COMMAND DOCS entry and of its subcommands.
fn doc_facts(f: &Frame, out: &mut Vec<String>, name: &str) {
    let Frame::Array(Some(kv)) = f else { return };
    for pair in kv.chunks(2) {
        match (&pair[0], &pair[1]) {
            (Frame::Bulk(Some(k)), Frame::Bulk(Some(v))) if k == b"since" || k == b"group" => out
                .push(format!(
                    "{name} {} {}",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(v)
                )),
            (Frame::Bulk(Some(k)), Frame::Array(Some(subs))) if k == b"subcommands" => {
                for s in subs.chunks(2) {
                    if let Frame::Bulk(Some(n)) = &s[0] {
                        doc_facts(&s[1], out, &String::from_utf8_lossy(n));
                    }
                }
            }
            _ => {}
        }
    }
}

#[test]
fn command_info_matches_redis() {
    if !have_redis() {
        eprintln!("redis-server not installed; skipping");
        return;
    }
    let ours = Server::start(&[]);
    let redis = Server::start_redis(&[]);
    let (mut a, mut b) = (ours.raw(), redis.raw());
    for name in [
        "readonly",
        "readwrite",
        "asking",
        "module",
        "lolwut",
        "script|debug",
    ] {
        let x = without_tips(a.call(&["COMMAND", "INFO", name]));
        let y = without_tips(b.call(&["COMMAND", "INFO", name]));
        assert_eq!(x, y, "COMMAND INFO {name}");
        let (mut dx, mut dy) = (Vec::new(), Vec::new());
        if let (Frame::Array(Some(x)), Frame::Array(Some(y))) = (
            a.call(&["COMMAND", "DOCS", name]),
            b.call(&["COMMAND", "DOCS", name]),
        ) {
            doc_facts(&x[1], &mut dx, name);
            doc_facts(&y[1], &mut dy, name);
        }
        dx.sort();
        dy.sort();
        assert!(!dx.is_empty(), "COMMAND DOCS {name}");
        assert_eq!(dx, dy, "COMMAND DOCS {name}");
    }
    // CLUSTER: Redis 7.2 added MYSHARDID, which 7.0 lacks.
    let strip = |f: Frame| match without_tips(f) {
        Frame::Array(Some(mut v)) => {
            if let Some(Frame::Array(Some(e))) = v.first_mut() {
                if let Some(Frame::Array(Some(subs))) = e.get_mut(9) {
                    subs.retain(|s| {
                        !matches!(s, Frame::Array(Some(e))
                            if e[0] == Frame::Bulk(Some(b"cluster|myshardid".to_vec())))
                    });
                }
            }
            Frame::Array(Some(v))
        }
        f => f,
    };
    assert_eq!(
        strip(a.call(&["COMMAND", "INFO", "cluster"])),
        strip(b.call(&["COMMAND", "INFO", "cluster"])),
        "COMMAND INFO cluster"
    );
}
