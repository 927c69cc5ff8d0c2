//! HyperLogLog and geo commands: integration tests through the real binary,
//! and differential tests against a real redis-server in which every reply
//! (including GET of the raw sketch bytes) must be byte-identical.
//!
//! Reproduce a differential failure with `HLLGEO_SEED=<seed> cargo test
//! --test hll_geo -- --nocapture`; `HLLGEO_COMMANDS` sets the stream length.

mod common;

use common::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redust::resp::reply::Frame;

fn hdr(sparse: bool, card: &[u8; 8]) -> Vec<u8> {
    let mut v = b"HYLL".to_vec();
    v.extend_from_slice(&[sparse as u8, 0, 0, 0]);
    v.extend_from_slice(card);
    v
}

fn get_bytes(c: &mut Raw, key: &str) -> Vec<u8> {
    match c.call(&["GET", key]) {
        Frame::Bulk(Some(b)) => b,
        f => panic!("GET {key}: {f:?}"),
    }
}

// ---------------------------------------------------------------------------
// HyperLogLog
// ---------------------------------------------------------------------------

#[test]
fn pfadd_builds_redis_sparse_layout() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    // A new sketch: one XZERO run over all 16384 registers, cache stale.
    assert_eq!(c.call(&["PFADD", "k"]), Frame::Int(1));
    let mut want = hdr(true, &[0, 0, 0, 0, 0, 0, 0, 0x80]);
    want.extend_from_slice(&[0x7f, 0xff]);
    assert_eq!(get_bytes(&mut c, "k"), want);
    assert_eq!(c.call(&["PFADD", "k"]), Frame::Int(0));
    // The same bytes real Redis produces for these three elements.
    assert_eq!(c.call(&["PFADD", "k", "a", "b", "c"]), Frame::Int(1));
    let mut want = hdr(true, &[0, 0, 0, 0, 0, 0, 0, 0x80]);
    want.extend_from_slice(&[
        0x60, 0xf3, 0x80, 0x50, 0xb1, 0x84, 0x4b, 0xfb, 0x80, 0x42, 0x5a,
    ]);
    assert_eq!(get_bytes(&mut c, "k"), want);
    assert_eq!(c.call(&["PFADD", "k", "a", "c"]), Frame::Int(0));
    // PFCOUNT caches the estimate in the header.
    assert_eq!(c.call(&["PFCOUNT", "k"]), Frame::Int(3));
    assert_eq!(&get_bytes(&mut c, "k")[8..16], &[3, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        c.call(&["PFDEBUG", "DECODE", "k"]),
        bulk("Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603")
    );
    assert_eq!(c.call(&["PFDEBUG", "ENCODING", "k"]), simple("sparse"));
    assert_eq!(c.call(&["TYPE", "k"]), simple("string"));
    assert_eq!(c.call(&["OBJECT", "ENCODING", "k"]), bulk("raw"));
    // A sketch survives a round trip through SET.
    let b = get_bytes(&mut c, "k");
    c.call(&["SET".as_bytes(), b"copy", &b]);
    assert_eq!(c.call(&["PFADD", "copy", "d"]), Frame::Int(1));
    assert_eq!(c.call(&["PFCOUNT", "copy"]), Frame::Int(4));
}

#[test]
fn pfcount_estimates_and_merges() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for batch in 0..20 {
        let mut cmd = vec!["PFADD".to_string(), "big".into()];
        cmd.extend((0..1000).map(|i| format!("item:{}", batch * 1000 + i)));
        c.send(&cmd);
    }
    for _ in 0..20 {
        c.read();
    }
    let Frame::Int(n) = c.call(&["PFCOUNT", "big"]) else {
        panic!()
    };
    assert!((n - 20000).abs() < 400, "estimate {n} for 20000");
    assert_eq!(c.call(&["PFDEBUG", "ENCODING", "big"]), simple("dense"));
    assert_eq!(get_bytes(&mut c, "big").len(), 16 + 12288);

    c.call(&["PFADD", "x", "a", "b", "c"]);
    c.call(&["PFADD", "y", "c", "d"]);
    let (bx, by) = (get_bytes(&mut c, "x"), get_bytes(&mut c, "y"));
    // Several keys: the union's estimate, without touching the keys.
    assert_eq!(c.call(&["PFCOUNT", "x", "y", "missing"]), Frame::Int(4));
    assert_eq!((get_bytes(&mut c, "x"), get_bytes(&mut c, "y")), (bx, by));
    assert_eq!(c.call(&["PFCOUNT", "missing"]), Frame::Int(0));
    // PFMERGE keeps the destination's own registers.
    assert_eq!(c.call(&["PFMERGE", "y", "x"]), simple("OK"));
    assert_eq!(c.call(&["PFCOUNT", "y"]), Frame::Int(4));
    assert_eq!(c.call(&["PFMERGE", "new"]), simple("OK"));
    assert_eq!(c.call(&["PFCOUNT", "new"]), Frame::Int(0));
    // A dense source makes the destination dense.
    assert_eq!(c.call(&["PFMERGE", "z", "x", "big"]), simple("OK"));
    assert_eq!(c.call(&["PFDEBUG", "ENCODING", "z"]), simple("dense"));
    let Frame::Int(n) = c.call(&["PFCOUNT", "z"]) else {
        panic!()
    };
    assert!((n - 20003).abs() < 400, "{n}");
}

#[test]
fn sparse_promotes_past_the_configured_size() {
    let s = Server::start(&["--hll-sparse-max-bytes", "60"]);
    let mut c = s.raw();
    let mut i = 0;
    while c.call(&["PFDEBUG", "ENCODING", "h"]) != simple("dense") {
        c.call(&["PFADD", "h", &format!("e{i}")]);
        let len = get_bytes(&mut c, "h").len();
        assert!(len <= 60 || len == 16 + 12288, "{len}");
        i += 1;
        assert!(i < 100, "never promoted");
    }
    assert!(i > 5);
    assert_eq!(c.call(&["PFDEBUG", "TODENSE", "h"]), Frame::Int(0));
    c.call(&["PFADD", "s", "a"]);
    assert_eq!(c.call(&["PFDEBUG", "TODENSE", "s"]), Frame::Int(1));
    assert_eq!(c.call(&["PFDEBUG", "ENCODING", "s"]), simple("dense"));
    let Frame::Array(Some(regs)) = c.call(&["PFDEBUG", "GETREG", "h"]) else {
        panic!()
    };
    assert_eq!(regs.len(), 16384);
    assert_eq!(c.call(&["PFSELFTEST"]), simple("OK"));
}

#[test]
fn hll_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let not_hll = err("WRONGTYPE Key is not a valid HyperLogLog string value.");
    let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
    let corrupt = err("INVALIDOBJ Corrupted HLL object detected");
    c.call(&["SET", "str", "hello"]);
    c.call(&["SET", "int", "12345"]);
    c.call(&["RPUSH", "list", "a"]);
    for k in ["str", "int"] {
        assert_eq!(c.call(&["PFADD", k, "a"]), not_hll);
        assert_eq!(c.call(&["PFCOUNT", k]), not_hll);
        assert_eq!(c.call(&["PFMERGE", "d", k]), not_hll);
    }
    assert_eq!(c.call(&["PFADD", "list", "a"]), wrongtype);
    assert_eq!(c.call(&["PFCOUNT", "x", "list"]), wrongtype);
    // Bad header: wrong magic, unknown encoding, dense of the wrong size.
    let mut bad = hdr(true, &[0; 8]);
    bad[3] = b'M';
    bad.extend_from_slice(&[0x7f, 0xff]);
    c.call(&["SET".as_bytes(), b"bad", &bad]);
    assert_eq!(c.call(&["PFCOUNT", "bad"]), not_hll);
    let mut dense = hdr(false, &[0; 8]);
    dense.extend_from_slice(&[0; 100]);
    c.call(&["SET".as_bytes(), b"bad", &dense]);
    assert_eq!(c.call(&["PFADD", "bad", "x"]), not_hll);
    // Sparse opcodes that do not cover exactly 16384 registers.
    let mut short = hdr(true, &[0, 0, 0, 0, 0, 0, 0, 0x80]);
    short.extend_from_slice(&[0x7f, 0xfe]);
    c.call(&["SET".as_bytes(), b"short", &short]);
    assert_eq!(c.call(&["PFCOUNT", "short"]), corrupt);
    assert_eq!(c.call(&["PFCOUNT", "short", "x"]), corrupt);
    assert_eq!(c.call(&["PFMERGE", "d", "short"]), corrupt);
    assert_eq!(c.call(&["PFDEBUG", "GETREG", "short"]), corrupt);
    assert_eq!(c.call(&["GET", "short"]), Frame::Bulk(Some(short)));
    // Arity and PFDEBUG errors.
    assert_eq!(
        c.call(&["PFADD"]),
        err("ERR wrong number of arguments for 'pfadd' command")
    );
    assert_eq!(
        c.call(&["PFCOUNT"]),
        err("ERR wrong number of arguments for 'pfcount' command")
    );
    assert_eq!(
        c.call(&["PFMERGE"]),
        err("ERR wrong number of arguments for 'pfmerge' command")
    );
    assert_eq!(
        c.call(&["PFDEBUG", "x"]),
        err("ERR wrong number of arguments for 'pfdebug' command")
    );
    assert_eq!(
        c.call(&["PFDEBUG", "GETREG", "nokey"]),
        err("ERR The specified key does not exist")
    );
    c.call(&["PFADD", "h", "a"]);
    assert_eq!(
        c.call(&["PFDEBUG", "FOO", "h"]),
        err("ERR Unknown PFDEBUG subcommand 'FOO'")
    );
    c.call(&["PFDEBUG", "TODENSE", "h"]);
    assert_eq!(
        c.call(&["PFDEBUG", "DECODE", "h"]),
        err("ERR HLL encoding is not sparse")
    );
    assert_eq!(c.call(&["PING"]), simple("PONG"));
}

// ---------------------------------------------------------------------------
// Differential runs against real Redis
// ---------------------------------------------------------------------------

fn seed() -> u64 {
    std::env::var("HLLGEO_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen())
}

fn commands(default: usize) -> usize {
    std::env::var("HLLGEO_COMMANDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The reply, or for a long one the part around the first difference.
fn short(b: &[u8], other: &[u8]) -> String {
    if b.len() <= 400 {
        return String::from_utf8_lossy(b).into_owned();
    }
    let d = b
        .iter()
        .zip(other)
        .position(|(x, y)| x != y)
        .unwrap_or(b.len().min(other.len()));
    let from = d.saturating_sub(100);
    format!("...(at byte {d}) {:?}...", &b[from..(d + 100).min(b.len())])
}

/// Sends `setup` and then `n` generated commands to Redust and Redis (RESP2
/// and RESP3 connections alternately) and requires identical reply bytes.
fn differential(
    tag: &str,
    args: &[&str],
    setup: &[Vec<String>],
    n: usize,
    mut gen: impl FnMut(&mut SmallRng) -> Vec<String>,
) {
    if !have_redis() {
        eprintln!("redis-server not installed; skipping");
        return;
    }
    let seed = seed();
    eprintln!("{tag}: seed {seed} (HLLGEO_SEED={seed} to reproduce)");
    let mut r = SmallRng::seed_from_u64(seed);
    let (ours, theirs) = (Server::start(args), Server::start_redis(args));
    let mut conns = Vec::new();
    for proto in ["2", "3"] {
        let (mut a, mut b) = (ours.raw(), theirs.raw());
        a.call(&["HELLO", proto]);
        b.call(&["HELLO", proto]);
        conns.push((a, b));
    }
    for c in setup {
        conns[0].0.call(c);
        conns[0].1.call(c);
    }
    for i in 0..n {
        let cmd = gen(&mut r);
        let (a, b) = &mut conns[i % 2];
        let (x, y) = (a.call_raw(&cmd), b.call_raw(&cmd));
        assert!(
            x == y,
            "{tag} seed {seed}, command #{i} {:?}\n redust: {}\n redis:  {}",
            cmd.iter()
                .map(|s| s.chars().take(40).collect::<String>())
                .take(12)
                .collect::<Vec<_>>(),
            short(&x, &y),
            short(&y, &x)
        );
    }
}

fn sv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn hll_element(r: &mut SmallRng) -> String {
    match r.gen_range(0..10) {
        0..=4 => format!("e{}", r.gen_range(0..100_000)),
        5..=6 => format!("x{}", r.gen_range(0..50)),
        _ => (0..r.gen_range(0..20))
            .map(|_| r.gen_range(b' '..=b'~') as char)
            .collect(),
    }
}

fn hll_stream(max_bytes: &str) {
    const KEYS: &[&str] = &["h1", "h2", "h3", "h4", "str", "lst"];
    let setup = vec![sv(&["SET", "str", "hello"]), sv(&["RPUSH", "lst", "x"])];
    differential(
        "hll",
        &["--hll-sparse-max-bytes", max_bytes],
        &setup,
        commands(2500),
        |r| {
            let k = KEYS[r.gen_range(0..KEYS.len())].to_string();
            let mut c = match r.gen_range(0..12) {
                0..=4 => sv(&["PFADD", &k]),
                5..=6 => sv(&["PFCOUNT", &k]),
                7 => sv(&["PFMERGE", &k]),
                8..=9 => return sv(&["GET", &k]),
                10 => {
                    let sub =
                        ["ENCODING", "DECODE", "TODENSE", "GETREG", "encoding"][r.gen_range(0..5)];
                    return sv(&["PFDEBUG", sub, &k]);
                }
                _ if k == "lst" || r.gen_bool(0.3) => return sv(&["DEL", &k]),
                _ => return sv(&["OBJECT", "ENCODING", &k]),
            };
            if c[0] == "PFADD" {
                let n = [0, 1, 1, 2, 5, 30, 200][r.gen_range(0..7)];
                c.extend((0..n).map(|_| hll_element(r)));
            } else {
                c.extend(
                    (0..[0, 0, 1, 2][r.gen_range(0..4)])
                        .map(|_| KEYS[r.gen_range(0..KEYS.len())].to_string()),
                );
            }
            c
        },
    );
}

#[test]
fn hll_matches_redis_default_size() {
    hll_stream("3000");
}

#[test]
fn hll_matches_redis_small_sparse_limit() {
    hll_stream("200");
}

/// The keyevent messages a subscriber sees while `cmds` run, as
/// "event key" strings.
fn key_events(s: &Server, cmds: &[&[&str]]) -> Vec<String> {
    let mut c = s.raw();
    c.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let mut sub = s.raw();
    sub.call(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    for cmd in cmds {
        c.call(cmd);
    }
    c.call(&["PUBLISH", "__keyevent@0__:end", "end"]);
    let mut seen = Vec::new();
    loop {
        let Frame::Array(Some(m)) = sub.read() else {
            panic!("not a message")
        };
        let text = |f: &Frame| match f {
            Frame::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => String::new(),
        };
        let (chan, payload) = (text(&m[2]), text(&m[3]));
        let event = chan.trim_start_matches("__keyevent@0__:").to_string();
        if event == "end" {
            return seen;
        }
        seen.push(format!("{event} {payload}"));
    }
}

#[test]
fn hll_keyspace_events() {
    let s = Server::start(&[]);
    let seen = key_events(
        &s,
        &[
            &["PFADD", "h", "a"],
            &["PFADD", "h", "a"],
            &["PFCOUNT", "h"],
            &["PFMERGE", "m", "h"],
        ],
    );
    assert_eq!(seen, ["pfadd h", "pfadd m"]);
}
