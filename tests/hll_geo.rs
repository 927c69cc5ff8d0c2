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

// ---------------------------------------------------------------------------
// Geo
// ---------------------------------------------------------------------------

fn bulks(v: &[&str]) -> Frame {
    Frame::Array(Some(v.iter().map(|s| bulk(s)).collect()))
}

fn sicily(c: &mut Raw) {
    let r = c.call(&[
        "GEOADD",
        "Sicily",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    assert_eq!(r, Frame::Int(2));
}

#[test]
fn geoadd_geopos_geodist_geohash() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    assert_eq!(
        c.call(&["ZSCORE", "Sicily", "Palermo"]),
        bulk("3479099956230698")
    );
    assert_eq!(c.call(&["TYPE", "Sicily"]), simple("zset"));
    let palermo = bulks(&["13.36138933897018433", "38.11555639549629859"]);
    assert_eq!(
        c.call(&["GEOPOS", "Sicily", "Palermo", "nosuch"]),
        Frame::Array(Some(vec![palermo, Frame::Array(None)]))
    );
    assert_eq!(
        c.call(&["GEOPOS", "nokey", "a"]),
        Frame::Array(Some(vec![Frame::Array(None)]))
    );
    assert_eq!(
        c.call(&["GEODIST", "Sicily", "Palermo", "Catania"]),
        bulk("166274.1516")
    );
    assert_eq!(
        c.call(&["GEODIST", "Sicily", "Palermo", "Catania", "KM"]),
        bulk("166.2742")
    );
    assert_eq!(
        c.call(&["GEODIST", "Sicily", "Palermo", "Catania", "mi"]),
        bulk("103.3182")
    );
    assert_eq!(
        c.call(&["GEODIST", "Sicily", "Palermo", "Catania", "ft"]),
        bulk("545518.8700")
    );
    assert_eq!(
        c.call(&["GEODIST", "Sicily", "Palermo", "nosuch"]),
        Frame::Bulk(None)
    );
    assert_eq!(c.call(&["GEODIST", "nokey", "a", "b"]), Frame::Bulk(None));
    assert_eq!(
        c.call(&["GEOHASH", "Sicily", "Palermo", "Catania", "nosuch"]),
        Frame::Array(Some(vec![
            bulk("sqc8b49rny0"),
            bulk("sqdtr74hyu0"),
            Frame::Bulk(None)
        ]))
    );
    // The corner of the indexable area.
    c.call(&["GEOADD", "Sicily", "180", "85.05112878", "edge"]);
    assert_eq!(
        c.call(&["ZSCORE", "Sicily", "edge"]),
        bulk("13510798882111488")
    );
    assert_eq!(
        c.call(&["GEOPOS", "Sicily", "edge"]),
        Frame::Array(Some(vec![bulks(&["180", "85.0511287799999991"])]))
    );
    assert_eq!(
        c.call(&["GEOHASH", "Sicily", "edge"]),
        bulks(&["bp05b5048p0"])
    );
    // NX / XX / CH are ZADD's.
    assert_eq!(
        c.call(&["GEOADD", "Sicily", "NX", "13", "38", "Palermo", "1", "1", "new"]),
        Frame::Int(1)
    );
    assert_eq!(
        c.call(&["GEOADD", "Sicily", "XX", "CH", "13", "38", "Palermo", "1", "1", "new2"]),
        Frame::Int(1)
    );
    assert_eq!(c.call(&["EXISTS", "new2"]), Frame::Int(0));
    assert_eq!(c.call(&["ZCARD", "Sicily"]), Frame::Int(4));
    // RESP3: coordinates are doubles, distances stay bulk strings.
    c.call(&["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo"]);
    c.call(&["HELLO", "3"]);
    c.send(&["GEOPOS", "Sicily", "Catania"]);
    let (_, raw) = c.read_raw().unwrap();
    assert_eq!(
        raw,
        b"*1\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n"
    );
    assert_eq!(
        c.call_raw(&["GEODIST", "Sicily", "Palermo", "Catania"]),
        b"$11\r\n166274.1516\r\n"
    );
}

#[test]
fn geosearch_and_georadius() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    c.call(&[
        "GEOADD",
        "Sicily",
        "12.758489",
        "38.788135",
        "edge1",
        "17.241510",
        "38.788135",
        "edge2",
    ]);
    // The examples of Redis's GEOSEARCH page.
    let r = c.call(&[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "ASC",
    ]);
    assert_eq!(r, bulks(&["Catania", "Palermo"]));
    let r = c.call(&[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYBOX",
        "400",
        "400",
        "km",
        "ASC",
        "WITHCOORD",
        "WITHDIST",
    ]);
    let item = |m: &str, d: &str, x: &str, y: &str| {
        Frame::Array(Some(vec![bulk(m), bulk(d), bulks(&[x, y])]))
    };
    assert_eq!(
        r,
        Frame::Array(Some(vec![
            item(
                "Catania",
                "56.4413",
                "15.08726745843887329",
                "37.50266842333162032"
            ),
            item(
                "Palermo",
                "190.4424",
                "13.36138933897018433",
                "38.11555639549629859"
            ),
            item(
                "edge2",
                "279.7403",
                "17.24151045083999634",
                "38.78813451624225195"
            ),
            item(
                "edge1",
                "279.7405",
                "12.7584877610206604",
                "38.78813451624225195"
            ),
        ]))
    );
    let r = c.call(&[
        "GEOSEARCH",
        "Sicily",
        "FROMMEMBER",
        "Palermo",
        "BYRADIUS",
        "200",
        "km",
        "DESC",
        "WITHHASH",
    ]);
    let hashed = |m: &str, h: i64| Frame::Array(Some(vec![bulk(m), Frame::Int(h)]));
    assert_eq!(
        r,
        Frame::Array(Some(vec![
            hashed("Catania", 3479447370796909),
            hashed("edge1", 3479273021651468),
            hashed("Palermo", 3479099956230698)
        ]))
    );
    let r = c.call(&[
        "GEORADIUS",
        "Sicily",
        "15",
        "37",
        "200",
        "km",
        "WITHDIST",
        "ASC",
        "COUNT",
        "1",
    ]);
    assert_eq!(
        r,
        Frame::Array(Some(vec![Frame::Array(Some(vec![
            bulk("Catania"),
            bulk("56.4413")
        ]))]))
    );
    let r = c.call(&["GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "100", "km"]);
    assert_eq!(r, bulks(&["Palermo", "edge1"]));
    let r = c.call(&[
        "GEOSEARCH",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "1",
        "m",
    ]);
    assert_eq!(r, Frame::Array(Some(vec![])));
    assert_eq!(
        c.call(&[
            "GEOSEARCH",
            "nokey",
            "FROMMEMBER",
            "x",
            "BYRADIUS",
            "1",
            "km"
        ]),
        Frame::Array(Some(vec![]))
    );
    assert_eq!(
        c.call(&["GEORADIUSBYMEMBER", "nokey", "x", "bad", "km"]),
        Frame::Array(Some(vec![]))
    );

    // Storing: by geohash score, or by distance in the unit asked for.
    let r = c.call(&[
        "GEOSEARCHSTORE",
        "d",
        "Sicily",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "STOREDIST",
    ]);
    assert_eq!(r, Frame::Int(2));
    assert_eq!(
        c.call(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        bulks(&[
            "Catania",
            "56.441257870158204",
            "Palermo",
            "190.44242984775784"
        ])
    );
    assert_eq!(
        c.call(&["GEORADIUS", "Sicily", "15", "37", "100", "km", "STORE", "d"]),
        Frame::Int(1)
    );
    assert_eq!(
        c.call(&["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        bulks(&["Catania", "3479447370796909"])
    );
    assert_eq!(
        c.call(&[
            "GEORADIUSBYMEMBER",
            "Sicily",
            "Catania",
            "1",
            "m",
            "STORE",
            "d"
        ]),
        Frame::Int(1)
    );
    c.call(&["SET", "d", "x"]);
    assert_eq!(
        c.call(&["GEORADIUS", "Sicily", "0", "0", "1", "km", "STORE", "d"]),
        Frame::Int(0)
    );
    assert_eq!(c.call(&["EXISTS", "d"]), Frame::Int(0));
    c.call(&["SET", "d", "x"]);
    assert_eq!(
        c.call(&["GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "d"]),
        Frame::Int(0)
    );
    assert_eq!(c.call(&["EXISTS", "d"]), Frame::Int(0));
}

#[test]
fn geo_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    c.call(&["SET", "str", "x"]);
    let e = |m: &str| err(m);
    let cases: &[(&[&str], &str)] = &[
        (&["GEOADD", "g", "10", "100", "m"], "ERR invalid longitude,latitude pair 10.000000,100.000000"),
        (&["GEOADD", "g", "-180.5", "0", "m"], "ERR invalid longitude,latitude pair -180.500000,0.000000"),
        (&["GEOADD", "g", "x", "0", "m"], "ERR value is not a valid float"),
        (&["GEOADD", "g", "1", "2", "m", "3"], "ERR syntax error"),
        (&["GEOADD", "g", "NX", "XX", "1", "2", "m"], "ERR syntax error"),
        (&["GEOADD", "g", "NX", "CH", "CH"], "ERR syntax error"),
        (&["GEOADD", "g", "1", "2"], "ERR wrong number of arguments for 'geoadd' command"),
        (&["GEOADD", "str", "1", "2", "m"], "WRONGTYPE Operation against a key holding the wrong kind of value"),
        (&["GEOPOS", "str", "m"], "WRONGTYPE Operation against a key holding the wrong kind of value"),
        (&["GEODIST", "Sicily", "a", "b", "yd"], "ERR unsupported unit provided. please use M, KM, FT, MI"),
        (&["GEODIST", "Sicily", "a", "b", "km", "x"], "ERR syntax error"),
        (&["GEORADIUS", "Sicily", "15", "37", "-1", "km"], "ERR radius cannot be negative"),
        (&["GEORADIUS", "Sicily", "15", "37", "x", "km"], "ERR need numeric radius"),
        (&["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "0"], "ERR COUNT must be > 0"),
        (&["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "x"], "ERR value is not an integer or out of range"),
        (&["GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY"], "ERR the ANY argument requires COUNT argument"),
        (&["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE", "d", "WITHDIST"], "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        (&["GEORADIUS_RO", "Sicily", "15", "37", "1", "km", "STORE", "d"], "ERR syntax error"),
        (&["GEORADIUSBYMEMBER", "Sicily", "nosuch", "1", "km"], "ERR could not decode requested zset member"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "-1", "km"], "ERR height or width cannot be negative"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"], "ERR need numeric width"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "x", "km"], "ERR need numeric height"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"], "ERR syntax error"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STORE", "x"], "ERR syntax error"),
        (&["GEOsearch", "Sicily", "BYRADIUS", "1", "km", "WITHDIST", "WITHHASH"], "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOsearch"),
        (&["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "WITHDIST", "ASC"], "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH"),
        (&["GEOSEARCH", "nokey", "FROMLONLAT", "200", "1", "BYRADIUS", "1", "km"], "ERR invalid longitude,latitude pair 200.000000,1.000000"),
        (&["GEOSEARCH", "Sicily", "FROMMEMBER", "nosuch", "BYRADIUS", "1", "km"], "ERR could not decode requested zset member"),
        (&["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "WITHCOORD"], "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        (&["GEOSEARCH", "str", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"], "WRONGTYPE Operation against a key holding the wrong kind of value"),
    ];
    for (cmd, want) in cases {
        assert_eq!(c.call(cmd), e(want), "{cmd:?}");
    }
    assert_eq!(c.call(&["ZCARD", "Sicily"]), Frame::Int(2));
    assert_eq!(c.call(&["EXISTS", "g", "d"]), Frame::Int(0));
}

#[test]
fn geo_keyspace_events() {
    let s = Server::start(&[]);
    let seen = key_events(
        &s,
        &[
            &["GEOADD", "g", "1", "2", "m"],
            &[
                "GEOSEARCHSTORE",
                "d1",
                "g",
                "FROMLONLAT",
                "1",
                "2",
                "BYRADIUS",
                "10",
                "km",
            ],
            &["GEORADIUS", "g", "1", "2", "10", "km", "STORE", "d2"],
            &["GEORADIUSBYMEMBER", "g", "m", "10", "km", "STOREDIST", "d3"],
            &["GEORADIUS", "g", "50", "50", "10", "km", "STORE", "d3"],
        ],
    );
    assert_eq!(
        seen,
        [
            "zadd g",
            "geosearchstore d1",
            "georadiusstore d2",
            "georadiusstore d3",
            "del d3"
        ]
    );
}

/// A coordinate: mostly around Sicily (dense enough for searches to find
/// several members), sometimes anywhere, at the edges of the valid area, or
/// invalid. Edge points get their own member name so that no two members
/// share a position (ties in distance are ordered differently by Redis's
/// partial sort).
fn geo_point(r: &mut SmallRng) -> (String, String, Option<String>) {
    match r.gen_range(0..50) {
        0 => {
            const EDGES: &[(&str, &str)] = &[
                ("180", "85.05112878"),
                ("-180", "-85.05112878"),
                ("0", "0"),
                ("179.9999", "0.5"),
                ("-179.9999", "-0.5"),
                ("12", "85"),
                ("-120", "-84.9"),
            ];
            let i = r.gen_range(0..EDGES.len());
            (
                EDGES[i].0.into(),
                EDGES[i].1.into(),
                Some(format!("edge{i}")),
            )
        }
        1 => (
            ["200", "x", "", "1e400"][r.gen_range(0..4)].into(),
            "10".into(),
            None,
        ),
        2 => (
            "10".into(),
            ["90", "-85.06", "nan"][r.gen_range(0..3)].into(),
            None,
        ),
        3..=8 => (
            format!("{:.6}", r.gen_range(-180.0..180.0)),
            format!("{:.6}", r.gen_range(-85.0..85.0)),
            None,
        ),
        _ => (
            format!("{:.6}", r.gen_range(12.0..16.0)),
            format!("{:.6}", r.gen_range(36.0..39.0)),
            None,
        ),
    }
}

fn geo_member(r: &mut SmallRng) -> String {
    format!("m{}", r.gen_range(0..40))
}

fn geo_radius(r: &mut SmallRng) -> (String, String) {
    let v = [
        "0", "1", "10", "50", "100", "200", "500", "1000", "3000", "7000", "-1", "x",
    ];
    let u = ["m", "km", "km", "km", "mi", "ft", "KM", "yd"];
    let mut radius = v[r.gen_range(0..v.len() - 2)].to_string();
    if r.gen_bool(0.03) {
        radius = v[r.gen_range(0..v.len())].into();
    }
    let mut unit = u[r.gen_range(1..u.len() - 1)].to_string();
    if unit == "m" || unit == "ft" {
        radius = format!("{}000", radius);
    }
    if r.gen_bool(0.03) {
        unit = u[r.gen_range(0..u.len())].into();
    }
    (radius, unit)
}

fn geo_options(r: &mut SmallRng, c: &mut Vec<String>, store: bool) {
    let mut opts: Vec<Vec<String>> = Vec::new();
    if !store {
        for o in ["WITHDIST", "WITHHASH", "WITHCOORD"] {
            if r.gen_bool(0.4) {
                opts.push(sv(&[o]));
            }
        }
    }
    match r.gen_range(0..4) {
        0 => opts.push(sv(&["ASC"])),
        1 => opts.push(sv(&["desc"])),
        _ => {}
    }
    if r.gen_bool(0.4) {
        let choices = if r.gen_bool(0.95) { 5 } else { 7 };
        let n = ["1", "2", "3", "5", "100", "0", "x"][r.gen_range(0..choices)];
        opts.push(sv(&["COUNT", n]));
        if r.gen_bool(0.3) {
            opts.push(sv(&["ANY"]));
        }
    }
    if r.gen_bool(0.02) {
        opts.push(sv(&["ANY"]));
    }
    // Options may come in any order.
    for i in (1..opts.len()).rev() {
        let j = r.gen_range(0..=i);
        opts.swap(i, j);
    }
    c.extend(opts.into_iter().flatten());
}

fn geo_command(r: &mut SmallRng) -> Vec<String> {
    const KEYS: &[&str] = &["g1", "g1", "g1", "g2", "str", "nokey"];
    let k = KEYS[r.gen_range(0..KEYS.len())].to_string();
    match r.gen_range(0..30) {
        0..=7 => {
            let mut c = sv(&["GEOADD", &k]);
            for o in ["NX", "XX", "CH"] {
                if r.gen_bool(0.05) {
                    c.push(o.into());
                }
            }
            for _ in 0..r.gen_range(1..6) {
                let (lon, lat, m) = geo_point(r);
                c.extend([lon, lat, m.unwrap_or_else(|| geo_member(r))]);
            }
            if r.gen_bool(0.02) {
                c.pop();
            }
            c
        }
        8..=9 => {
            let mut c = sv(&["GEOPOS", &k]);
            c.extend((0..r.gen_range(1..4)).map(|_| geo_member(r)));
            c
        }
        10..=11 => {
            let mut c = sv(&["GEODIST", &k, &geo_member(r), &geo_member(r)]);
            if r.gen_bool(0.7) {
                c.push(["m", "km", "mi", "ft", "KM", "yd"][r.gen_range(0..6)].into());
            }
            c
        }
        12 => {
            let mut c = sv(&["GEOHASH", &k]);
            c.extend((0..r.gen_range(1..4)).map(|_| geo_member(r)));
            c
        }
        13..=18 => {
            let store = r.gen_bool(0.2);
            let mut c = if store {
                sv(&["GEOSEARCHSTORE", "dst", &k])
            } else {
                sv(&["GEOSEARCH", &k])
            };
            if r.gen_bool(0.5) {
                c.extend(sv(&["FROMMEMBER", &geo_member(r)]));
            } else {
                let (lon, lat, _) = geo_point(r);
                c.extend(["FROMLONLAT".to_string(), lon, lat]);
            }
            let (rad, unit) = geo_radius(r);
            if r.gen_bool(0.5) {
                c.extend(["BYRADIUS".to_string(), rad, unit]);
            } else {
                let (h, _) = geo_radius(r);
                c.extend(["BYBOX".to_string(), rad, h, unit]);
            }
            geo_options(r, &mut c, store);
            if store && r.gen_bool(0.5) {
                c.push("STOREDIST".into());
            }
            c
        }
        19..=23 => {
            let by_member = r.gen_bool(0.5);
            let ro = r.gen_bool(0.3);
            let name = match (by_member, ro) {
                (false, false) => "GEORADIUS",
                (false, true) => "GEORADIUS_RO",
                (true, false) => "GEORADIUSBYMEMBER",
                (true, true) => "GEORADIUSBYMEMBER_RO",
            };
            let mut c = sv(&[name, &k]);
            if by_member {
                c.push(geo_member(r));
            } else {
                let (lon, lat, _) = geo_point(r);
                c.extend([lon, lat]);
            }
            let (rad, unit) = geo_radius(r);
            c.extend([rad, unit]);
            let store = !ro && r.gen_bool(0.3);
            geo_options(r, &mut c, store);
            if store {
                c.extend(sv(&[
                    if r.gen_bool(0.5) {
                        "STORE"
                    } else {
                        "STOREDIST"
                    },
                    "dst",
                ]));
            }
            c
        }
        24..=25 => sv(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        26 => sv(&["OBJECT", "ENCODING", "dst"]),
        27 => sv(&["ZREM", &k, &geo_member(r)]),
        28 => sv(&["DEL", if r.gen_bool(0.5) { "dst" } else { &k }]),
        _ => sv(&["ZRANGE", &k, "0", "-1", "WITHSCORES"]),
    }
}

#[test]
fn geo_matches_redis() {
    let setup = vec![sv(&["SET", "str", "x"])];
    differential("geo", &[], &setup, commands(3000), geo_command);
}
