//! RESTORE against malformed payloads: valid DUMP payloads of every type and
//! encoding (from Redust and, when installed, from a real redis-server
//! 7.0), mutated with bit flips, cuts, insertions, splices and huge length
//! fields, resealed with a correct CRC-64 so the damage reaches the decoder.
//! The server must stay up, answer OK or one of Redis's two RESTORE errors,
//! keep its memory, and any value it accepts must be structurally sound:
//! readable by its type's commands, non-empty, and DUMPable again.
//!
//! The same mutations of whole RDB files and of AOF directories must stop
//! start-up with the problem named (or load, when still valid), and
//! redis-check-rdb agrees with the server on every RDB file.
//!
//! The seed is printed; `REDUST_FUZZ_SEED=<n>` replays a run,
//! `REDUST_FUZZ_ITERS=<n>` and `REDUST_FUZZ_FILES=<n>` change the number of
//! payloads and files.

mod common;

use common::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redust::persist::rdb::crc64;
use redust::resp::reply::Frame;

const BAD_CRC: &[u8] = b"-ERR DUMP payload version or checksum are wrong\r\n";
const BAD_DATA: &[u8] = b"-ERR Bad data format\r\n";

fn seed() -> u64 {
    let s = std::env::var("REDUST_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("fuzz seed {s} (REDUST_FUZZ_SEED={s} to reproduce)");
    s
}

fn iters(default: usize) -> usize {
    std::env::var("REDUST_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Commands that build one key of each type and encoding, named by what
/// they exercise.
fn corpus_commands() -> Vec<(&'static str, Vec<Vec<String>>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let many = |cmd: &str, n: usize, f: &dyn Fn(usize) -> Vec<String>| {
        let mut c = vec![cmd.to_string(), "k".to_string()];
        for i in 0..n {
            c.extend(f(i));
        }
        c
    };
    let noise: String = (0..60)
        .map(|i| ((i * 37 % 89) as u8 + b'!') as char)
        .collect();
    vec![
        ("str-int", vec![s(&["SET", "k", "-123456"])]),
        ("str-raw", vec![s(&["SET", "k", &noise])]),
        ("str-lzf", vec![s(&["SET", "k", &"abcdefgh".repeat(40)])]),
        (
            "list-listpack",
            vec![s(&[
                "RPUSH",
                "k",
                "a",
                "bb",
                "1",
                "-7",
                "300",
                "70000",
                "5000000000",
                "x",
            ])],
        ),
        (
            "list-quicklist",
            vec![many("RPUSH", 300, &|i| {
                vec![format!("{i:04}-{}", "v".repeat(60))]
            })],
        ),
        (
            "list-plain-node",
            vec![s(&["RPUSH", "k", "a", &"p".repeat(9000), "b"])],
        ),
        (
            "set-intset",
            vec![s(&["SADD", "k", "1", "-5", "300", "70000", "5000000000"])],
        ),
        ("set-small", vec![s(&["SADD", "k", "a", "b", "c", "12"])]),
        (
            "set-hashtable",
            vec![many("SADD", 200, &|i| vec![format!("m{i}")])],
        ),
        (
            "zset-listpack",
            vec![s(&[
                "ZADD", "k", "1", "a", "2.5", "b", "-inf", "c", "7", "12",
            ])],
        ),
        (
            "zset-skiplist",
            vec![many("ZADD", 200, &|i| {
                vec![format!("{}", i as f64 / 7.0), format!("m{i}")]
            })],
        ),
        (
            "hash-listpack",
            vec![s(&["HSET", "k", "f", "v", "n", "12", "g", "-300"])],
        ),
        (
            "hash-hashtable",
            vec![many("HSET", 200, &|i| {
                vec![format!("f{i}"), format!("v{i}")]
            })],
        ),
        (
            "stream",
            vec![
                s(&["XADD", "k", "1-1", "a", "1", "b", "2"]),
                s(&["XADD", "k", "1-2", "a", "3", "b", "4"]),
                s(&["XADD", "k", "2-0", "c", "5"]),
                s(&["XADD", "k", "3-0", "a", "x", "b", "y"]),
                s(&["XADD", "k", "4-0", "a", "x", "b", "y"]),
                s(&["XDEL", "k", "3-0"]),
                s(&["XGROUP", "CREATE", "k", "g1", "0"]),
                s(&["XGROUP", "CREATE", "k", "g2", "$"]),
                s(&[
                    "XREADGROUP",
                    "GROUP",
                    "g1",
                    "alice",
                    "COUNT",
                    "2",
                    "STREAMS",
                    "k",
                    ">",
                ]),
                s(&[
                    "XREADGROUP",
                    "GROUP",
                    "g1",
                    "bob",
                    "COUNT",
                    "1",
                    "STREAMS",
                    "k",
                    ">",
                ]),
                s(&["XACK", "k", "g1", "1-1"]),
                s(&["XGROUP", "CREATECONSUMER", "k", "g2", "carol"]),
            ],
        ),
        (
            "stream-empty",
            vec![s(&["XADD", "k", "MAXLEN", "0", "5-5", "a", "b"])],
        ),
        ("hll-sparse", vec![s(&["PFADD", "k", "a", "b", "c", "d"])]),
        (
            "hll-dense",
            vec![many("PFADD", 3000, &|i| vec![format!("e{i}")])],
        ),
    ]
}

/// DUMP payloads of the corpus as written by the server on `port`.
fn dumps(port: u16) -> Vec<(String, Vec<u8>)> {
    let mut c = Raw::connect(port);
    let mut out = Vec::new();
    for (name, cmds) in corpus_commands() {
        c.call(&["DEL", "k"]);
        for cmd in &cmds {
            if let Frame::Error(e) = c.call(cmd) {
                panic!("{name}: {cmd:?}: {}", String::from_utf8_lossy(&e));
            }
        }
        match c.call(&["DUMP", "k"]) {
            Frame::Bulk(Some(p)) => out.push((name.to_string(), p)),
            other => panic!("{name}: DUMP gave {other:?}"),
        }
    }
    out
}

/// Body with the payload footer (version, CRC-64) recomputed.
fn seal(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// One random mutation of a payload body.
fn mutate(rng: &mut SmallRng, body: &[u8], others: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = body.to_vec();
    let at = |rng: &mut SmallRng, b: &Vec<u8>| rng.gen_range(0..=b.len());
    let rounds = if rng.gen_bool(0.2) {
        rng.gen_range(2..5)
    } else {
        1
    };
    for _ in 0..rounds {
        match rng.gen_range(0..10) {
            0 if !b.is_empty() => {
                let i = rng.gen_range(0..b.len());
                b[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if !b.is_empty() => {
                let i = rng.gen_range(0..b.len());
                b[i] = rng.gen();
            }
            2 => {
                let i = at(rng, &b);
                b.truncate(i);
            }
            3 => {
                let i = at(rng, &b);
                let n = rng.gen_range(1..9);
                for _ in 0..n {
                    b.insert(i, rng.gen());
                }
            }
            4 if !b.is_empty() => {
                let i = rng.gen_range(0..b.len());
                let j = rng.gen_range(i..=b.len().min(i + 16));
                b.drain(i..j);
            }
            // An RDB length field claiming a huge count or size.
            5 if !b.is_empty() => {
                let i = rng.gen_range(0..b.len());
                let huge: &[u8] = match rng.gen_range(0..4) {
                    0 => &[0x80, 0xFF, 0xFF, 0xFF, 0xFF],
                    1 => &[0x81, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                    2 => &[0x80, 0x7F, 0xFF, 0xFF, 0xF0],
                    _ => &[0x81, 0, 0, 0, 1, 0, 0, 0, 0],
                };
                b.splice(i..i + 1, huge.iter().copied());
            }
            // A 16/32-bit little-endian count or size inside a listpack,
            // intset or stream node.
            6 if b.len() >= 4 => {
                let i = rng.gen_range(0..b.len() - 3);
                let v: u32 = match rng.gen_range(0..3) {
                    0 => u32::MAX,
                    1 => 0xFFFF,
                    _ => rng.gen_range(0..1 << 20),
                };
                b[i..i + 4].copy_from_slice(&v.to_le_bytes());
            }
            7 => {
                let (_, o) = &others[rng.gen_range(0..others.len())];
                let ob = &o[..o.len() - 10];
                let s = rng.gen_range(0..ob.len());
                let e = rng.gen_range(s..=ob.len().min(s + 64));
                let i = at(rng, &b);
                let j = rng.gen_range(i..=b.len().min(i + 64));
                b.splice(i..j, ob[s..e].iter().copied());
            }
            8 if !b.is_empty() => {
                let i = rng.gen_range(0..b.len());
                let j = rng.gen_range(i..=b.len().min(i + 32));
                let chunk = b[i..j].to_vec();
                let k = at(rng, &b);
                b.splice(k..k, chunk);
            }
            _ if !b.is_empty() => {
                // A different type byte over the same encoding.
                b[0] = *[0u8, 1, 2, 3, 4, 5, 11, 15, 16, 17, 18, 19, 20, 21]
                    .get(rng.gen_range(0..14))
                    .unwrap_or(&0);
            }
            _ => {}
        }
    }
    b
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn count(f: &Frame) -> Option<usize> {
    match f {
        Frame::Array(Some(v)) => Some(v.len()),
        Frame::Map(m) => Some(m.len() * 2),
        Frame::Set(v) => Some(v.len()),
        _ => None,
    }
}

fn int(f: &Frame) -> Option<i64> {
    match f {
        Frame::Int(n) => Some(*n),
        _ => None,
    }
}

fn rss_peak_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Reads a restored key with its type's commands and checks the value is
/// sound; `Err` names what is wrong. Replies may be errors (a corrupt
/// HyperLogLog is INVALIDOBJ), but never a closed connection.
fn exercise(c: &mut Raw) -> Result<(), String> {
    let ty = match c.call(&["TYPE", "k"]) {
        Frame::Simple(t) => String::from_utf8_lossy(&t).to_string(),
        other => return Err(format!("TYPE gave {other:?}")),
    };
    let card_and_items: Option<([&str; 2], Vec<&str>, usize)> = match ty.as_str() {
        "string" => {
            c.call(&["GET", "k"]);
            c.call(&["STRLEN", "k"]);
            c.call(&["PFCOUNT", "k"]);
            c.call(&["PFADD", "k", "zz"]);
            c.call(&["GETRANGE", "k", "0", "-1"]);
            None
        }
        "list" => {
            c.call(&["LINDEX", "k", "-1"]);
            c.call(&["LPOS", "k", "x"]);
            Some((["LLEN", "k"], vec!["LRANGE", "k", "0", "-1"], 1))
        }
        "set" => {
            c.call(&["SSCAN", "k", "0", "COUNT", "1000"]);
            c.call(&["SRANDMEMBER", "k", "-5"]);
            c.call(&["SISMEMBER", "k", "1"]);
            Some((["SCARD", "k"], vec!["SMEMBERS", "k"], 1))
        }
        "zset" => {
            c.call(&["ZSCAN", "k", "0", "COUNT", "1000"]);
            c.call(&["ZRANGEBYSCORE", "k", "-inf", "+inf"]);
            c.call(&["ZRANK", "k", "a"]);
            Some((
                ["ZCARD", "k"],
                vec!["ZRANGE", "k", "0", "-1", "WITHSCORES"],
                2,
            ))
        }
        "hash" => {
            c.call(&["HSCAN", "k", "0", "COUNT", "1000"]);
            c.call(&["HRANDFIELD", "k", "-5", "WITHVALUES"]);
            Some((["HLEN", "k"], vec!["HGETALL", "k"], 2))
        }
        "stream" => {
            c.call(&["XRANGE", "k", "-", "+"]);
            c.call(&["XREVRANGE", "k", "+", "-"]);
            c.call(&["XINFO", "STREAM", "k", "FULL"]);
            c.call(&["XINFO", "STREAM", "k"]);
            if let Frame::Array(Some(groups)) = c.call(&["XINFO", "GROUPS", "k"]) {
                for g in groups {
                    let name = match &g {
                        Frame::Array(Some(kv)) => kv.get(1).cloned(),
                        Frame::Map(m) => m.first().map(|(_, v)| v.clone()),
                        _ => None,
                    };
                    if let Some(Frame::Bulk(Some(n))) = name {
                        let n = n.as_slice();
                        c.call(&[b"XINFO".as_slice(), b"CONSUMERS", b"k", n]);
                        c.call(&[b"XPENDING".as_slice(), b"k", n]);
                        c.call(&[b"XPENDING".as_slice(), b"k", n, b"-", b"+", b"100"]);
                        c.call(&[b"XAUTOCLAIM".as_slice(), b"k", n, b"zed", b"0", b"0-0"]);
                        c.call(&[
                            b"XREADGROUP".as_slice(),
                            b"GROUP",
                            n,
                            b"zed",
                            b"STREAMS",
                            b"k",
                            b">",
                        ]);
                    }
                }
            }
            c.call(&["XADD", "k", "*", "new", "entry"]);
            c.call(&["XTRIM", "k", "MAXLEN", "2"]);
            None
        }
        "none" => return Ok(()),
        other => return Err(format!("unknown type {other}")),
    };
    if let Some((card_cmd, items_cmd, per)) = card_and_items {
        let card = int(&c.call(&card_cmd)).ok_or("no cardinality")?;
        let items = count(&c.call(&items_cmd)).ok_or("no items")?;
        if card <= 0 {
            return Err(format!("an empty {ty} was restored"));
        }
        if items != card as usize * per {
            return Err(format!("{ty}: cardinality {card} but {items} items listed"));
        }
    }
    c.call(&["OBJECT", "ENCODING", "k"]);
    c.call(&["MEMORY", "USAGE", "k"]);
    c.call(&["DEBUG", "DIGEST-VALUE", "k"]);
    // What was accepted serialises again into a payload that loads.
    let p = match c.call(&["DUMP", "k"]) {
        Frame::Bulk(Some(p)) => p,
        other => return Err(format!("DUMP gave {other:?}")),
    };
    let back = c.call_raw(&[b"RESTORE".as_slice(), b"k2", b"0", &p, b"REPLACE"]);
    if back != b"+OK\r\n" {
        return Err(format!(
            "re-DUMPed payload {} not restored: {}",
            hex(&p),
            String::from_utf8_lossy(&back)
        ));
    }
    Ok(())
}

#[test]
fn mutated_restore_payloads_never_hurt_the_server() {
    let srv = Server::start(&[]);
    let mut corpus = dumps(srv.port);
    if have_redis() {
        let mut r = Server::start_redis(&[]);
        corpus.extend(
            dumps(r.port)
                .into_iter()
                .map(|(n, p)| (format!("redis:{n}"), p)),
        );
        r.stop();
    }
    let pid = srv.child.as_ref().map(|c| c.id()).unwrap_or(0);
    let mut c = srv.raw();
    // Every seed payload restores unharmed first.
    for (name, p) in &corpus {
        let r = c.call_raw(&[b"RESTORE".as_slice(), b"k", b"0", p, b"REPLACE"]);
        assert_eq!(r, b"+OK\r\n", "{name}: {}", String::from_utf8_lossy(&r));
        if let Err(e) = exercise(&mut c) {
            panic!("{name}: {e}");
        }
    }
    let base_kb = rss_peak_kb(pid);
    let seed = seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let n = iters(20000);
    let (mut ok, mut bad_data, mut bad_crc) = (0, 0, 0);
    // REDUST_FUZZ_DIFF=1: also ask a redis-server with deep sanitisation and
    // print payloads Redust accepts that it refuses (exploration aid).
    let mut oracle = std::env::var("REDUST_FUZZ_DIFF")
        .is_ok()
        .then(|| Server::start_redis(&["--sanitize-dump-payload", "yes"]));
    let mut oc = oracle.as_ref().map(|o| o.raw());
    for i in 0..n {
        let (name, orig) = &corpus[rng.gen_range(0..corpus.len())];
        let body = &orig[..orig.len() - 10];
        let version = u16::from_le_bytes([orig[orig.len() - 10], orig[orig.len() - 9]]);
        let m = mutate(&mut rng, body, &corpus);
        let payload = match rng.gen_range(0..20) {
            0 => {
                // The old footer: the checksum no longer matches.
                let mut p = m.clone();
                p.extend_from_slice(&orig[orig.len() - 10..]);
                p
            }
            1 => seal(&m, rng.gen_range(0..14)),
            _ => seal(&m, version),
        };
        let what = || {
            format!(
                "iteration {i} (seed {seed}) from {name}: payload {}",
                hex(&payload)
            )
        };
        let r = c.call_raw(&[b"RESTORE".as_slice(), b"k", b"0", &payload, b"REPLACE"]);
        match r.as_slice() {
            b"+OK\r\n" => {
                ok += 1;
                if let Some(oc) = oc.as_mut() {
                    let theirs =
                        oc.call_raw(&[b"RESTORE".as_slice(), b"k", b"0", &payload, b"REPLACE"]);
                    if theirs != b"+OK\r\n" {
                        eprintln!(
                            "only Redust accepts {name} {}: {}",
                            hex(&payload),
                            String::from_utf8_lossy(&theirs).trim()
                        );
                    }
                }
                if let Err(e) = exercise(&mut c) {
                    panic!("{}: {e}", what());
                }
            }
            BAD_DATA => bad_data += 1,
            BAD_CRC => bad_crc += 1,
            b"" => panic!("server closed the connection or died: {}", what()),
            other => panic!(
                "unexpected reply {}: {}",
                String::from_utf8_lossy(other),
                what()
            ),
        }
        if c.call_raw(&["PING"]) != b"+PONG\r\n" {
            panic!("server not answering after {}", what());
        }
    }
    if let Some(o) = oracle.as_mut() {
        o.stop();
    }
    let peak_kb = rss_peak_kb(pid);
    eprintln!(
        "{n} mutations: {ok} restored, {bad_data} bad data, {bad_crc} bad checksum/version; \
         peak RSS {base_kb} -> {peak_kb} KiB"
    );
    assert!(
        peak_kb < base_kb + 256 * 1024,
        "peak RSS grew from {base_kb} to {peak_kb} KiB (seed {seed})"
    );
    assert!(
        bad_data > n / 10 && ok > 0,
        "mutations did not reach the decoder"
    );
}

/// Huge counts and sizes at each length field of small payloads: a fixed
/// table, so any regression shows the same input every run.
#[test]
fn huge_claimed_lengths_are_refused_without_allocating() {
    let srv = Server::start(&[]);
    let pid = srv.child.as_ref().map(|c| c.id()).unwrap_or(0);
    let mut c = srv.raw();
    let base_kb = rss_peak_kb(pid);
    let huge32 = [0x80u8, 0xFF, 0xFF, 0xFF, 0xFF];
    let huge64 = [0x81u8, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    for t in [0u8, 1, 2, 3, 4, 5, 11, 15, 16, 17, 18, 19, 20, 21] {
        for huge in [&huge32[..], &huge64[..]] {
            for tail in [
                &b""[..],
                b"\x01a",
                b"\x01a\x01b\x01c",
                b"\xc3\x05\x80\xff\xff\xff\xff\x01a",
            ] {
                let mut body = vec![t];
                body.extend_from_slice(huge);
                body.extend_from_slice(tail);
                let p = seal(&body, 10);
                let r = c.call_raw(&[b"RESTORE".as_slice(), b"k", b"0", &p, b"REPLACE"]);
                assert_eq!(r, BAD_DATA, "type {t} body {}", hex(&body));
            }
        }
    }
    // An LZF string claiming 4 GiB once decompressed.
    let mut body = vec![0u8, 0xC3, 0x02, 0x80, 0xFF, 0xFF, 0xFF, 0xFF];
    body.extend_from_slice(b"\x00a");
    let r = c.call_raw(&[
        b"RESTORE".as_slice(),
        b"k",
        b"0",
        &seal(&body, 10),
        b"REPLACE",
    ]);
    assert_eq!(r, BAD_DATA);
    let peak_kb = rss_peak_kb(pid);
    assert!(
        peak_kb < base_kb + 64 * 1024,
        "peak RSS {base_kb} -> {peak_kb} KiB"
    );
    assert_eq!(c.call_raw(&["PING"]), b"+PONG\r\n");
}

/// A dataset holding the whole corpus, one key per entry, saved by the
/// server on `port`; the RDB file's bytes.
fn saved_rdb(srv: &Server) -> Vec<u8> {
    let mut c = srv.raw();
    for (name, cmds) in corpus_commands() {
        c.call(&["DEL", "k"]);
        for cmd in &cmds {
            c.call(cmd);
        }
        c.call(&["RENAME", "k", name]);
    }
    c.call(&["EXPIRE", "str-raw", "100000"]);
    c.call(&["SELECT", "3"]);
    c.call(&["SET", "other-db", "v"]);
    assert_eq!(c.call(&["SAVE"]), simple("OK"));
    std::fs::read(srv.dir.join("dump.rdb")).expect("dump.rdb")
}

const RDB_VERDICT: &str = "Fatal error loading the DB";

/// What a start on a (damaged) RDB file came to.
enum Start {
    Loaded(usize),
    Refused(String),
}

/// Starts redust-server on the data in `dir` with `extra` arguments: it
/// loads and serves, or exits with status 1, `verdict` and the problem on
/// the line before the log's last; a panic, a signal or a hang fails.
fn start_on(dir: &std::path::Path, extra: &[&str], verdict: &str, what: &str) -> Start {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let sock = dir.join("redust.sock");
    let _ = std::fs::remove_file(&sock);
    let log = dir.join("server.log");
    let _ = std::fs::remove_file(&log);
    let stderr = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    let mut child = Command::new(redust_bin())
        .args([
            "--port",
            "0",
            "--unixsocket",
            &sock.display().to_string(),
            "--save",
            "",
        ])
        .args([
            "--dir",
            &dir.display().to_string(),
            "--dbfilename",
            "dump.rdb",
        ])
        .args(["--logfile", &log.display().to_string()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    let outcome = loop {
        if let Ok(Some(st)) = child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let err = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
            assert!(!err.contains("panicked"), "panic on {what}: {err}");
            assert_eq!(
                st.code(),
                Some(1),
                "{what}: exit {st:?}; log:\n{text}\n{err}"
            );
            assert!(text.contains(verdict), "{what}: log:\n{text}");
            // The line before the verdict names the problem.
            let reason = text.lines().rev().nth(1).unwrap_or_default().to_string();
            break Start::Refused(reason);
        }
        // PONG (not LOADING) means the load is over and the server stays.
        // A unix socket: hundreds of starts must not take TCP ports other
        // tests picked.
        let mut uc = Unix::connect(&sock);
        if uc.as_mut().and_then(|u| u.call(&["PING"])) == Some(Frame::Simple(b"PONG".to_vec())) {
            let c = uc.as_mut().expect("connected");
            let mut keys = 0;
            for db in 0..16 {
                c.call(&["SELECT", &db.to_string()]);
                if let Some(Frame::Array(Some(ks))) = c.call(&["KEYS", "*"]) {
                    for k in ks {
                        if let Frame::Bulk(Some(k)) = k {
                            keys += 1;
                            c.call(&[b"TYPE".as_slice(), &k]);
                            c.call(&[b"DUMP".as_slice(), &k]);
                        }
                    }
                }
            }
            let pong = c.call(&["PING"]);
            assert_eq!(pong, Some(Frame::Simple(b"PONG".to_vec())), "{what}");
            break Start::Loaded(keys);
        }
        assert!(
            Instant::now() < deadline,
            "{what}: neither served nor exited in 30 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

/// A RESP client over a unix socket.
struct Unix(std::os::unix::net::UnixStream, Vec<u8>);

impl Unix {
    fn connect(path: &std::path::Path) -> Option<Unix> {
        let s = std::os::unix::net::UnixStream::connect(path).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .ok()?;
        Some(Unix(s, Vec::new()))
    }

    /// The reply, or None once the server has gone.
    fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Option<Frame> {
        use std::io::{Read, Write};
        self.0
            .write_all(&redust::resp::reply::encode_request(args))
            .ok()?;
        loop {
            if let Ok(Some((f, n))) = redust::resp::reply::read_frame(&self.1) {
                self.1.drain(..n);
                return Some(f);
            }
            let mut tmp = [0u8; 65536];
            match self.0.read(&mut tmp) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(0) | Err(_) => return None,
                Ok(n) => self.1.extend_from_slice(&tmp[..n]),
            }
        }
    }
}

/// Runs Redust's redis-check-rdb (`redust-server check-rdb`) on `file`:
/// whether it calls the file valid.
fn check_rdb(file: &std::path::Path, what: &str) -> bool {
    let out = std::process::Command::new(redust_bin())
        .arg("check-rdb")
        .arg(file)
        .output()
        .expect("check-rdb");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("panicked"),
        "check-rdb panicked on {what}: {err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    match out.status.code() {
        Some(0) => true,
        Some(1) => {
            assert!(
                text.contains("--- RDB ERROR DETECTED ---"),
                "{what}: {text}"
            );
            false
        }
        other => panic!("check-rdb on {what}: exit {other:?}: {text}{err}"),
    }
}

/// Damaged RDB files at start-up: the server loads what is still valid
/// and otherwise stops with status 1 and the problem in its log, and
/// redis-check-rdb agrees with it.
#[test]
fn mutated_rdb_files_stop_startup_cleanly() {
    let mut srv = Server::start(&[]);
    let mut files = vec![("redust".to_string(), saved_rdb(&srv))];
    srv.stop();
    if have_redis() {
        let mut r = Server::start_redis(&[]);
        files.push(("redis".to_string(), saved_rdb(&r)));
        r.stop();
    }
    let dir = temp_dir("rdb-fuzz");
    let file = dir.join("dump.rdb");
    // The originals load whole.
    for (name, img) in &files {
        std::fs::write(&file, img).expect("write");
        match start_on(&dir, &[], RDB_VERDICT, name) {
            Start::Loaded(n) => assert_eq!(n, corpus_commands().len() + 1, "{name}"),
            Start::Refused(e) => panic!("{name} refused: {e}"),
        }
    }
    let seed = seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let as_payloads: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, f)| (n.clone(), [&f[..], &[0u8; 2]].concat()))
        .collect();
    let (mut loaded, mut refused) = (0, 0);
    let n = std::env::var("REDUST_FUZZ_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    for i in 0..n {
        let (name, img) = &files[rng.gen_range(0..files.len())];
        // The body before the 8-byte CRC; mutations keep the signature
        // mostly intact so they reach the records.
        let body = &img[..img.len() - 8];
        let mut m = mutate(&mut rng, body, &as_payloads);
        if m.len() >= 9 && rng.gen_bool(0.9) {
            m[..9].copy_from_slice(&body[..9]);
        }
        if rng.gen_bool(0.9) {
            let crc = crc64(&m);
            m.extend_from_slice(&crc.to_le_bytes());
        } else {
            m.extend_from_slice(&img[img.len() - 8..]);
        }
        std::fs::write(&file, &m).expect("write");
        let what = format!("file {i} (seed {seed}) from {name}: {}", hex(&m));
        let valid = check_rdb(&file, &what);
        match start_on(&dir, &[], RDB_VERDICT, &what) {
            Start::Loaded(_) => {
                loaded += 1;
                assert!(valid, "loaded but redis-check-rdb refused {what}");
            }
            Start::Refused(reason) => {
                refused += 1;
                assert!(
                    !valid,
                    "refused ({reason}) but redis-check-rdb passed {what}"
                );
                assert!(!reason.trim().is_empty(), "{what}: no reason logged");
            }
        }
    }
    eprintln!("{n} damaged RDB files: {loaded} loaded, {refused} refused");
    assert!(refused > n / 2, "mutations did not reach the loader");
}

/// Damaged AOF directories (the RDB-preamble base or the command
/// increment, manifest intact) at start-up: the server loads, or exits 1
/// with the file named in its log; never a panic, signal or hang.
#[test]
fn mutated_aof_files_stop_startup_cleanly() {
    let mut srv = Server::start(&["--appendonly", "yes"]);
    let mut c = srv.raw();
    let fill = |c: &mut Raw, suffix: &str| {
        for (name, cmds) in corpus_commands() {
            c.call(&["DEL", "k"]);
            for cmd in &cmds {
                c.call(cmd);
            }
            c.call(&["RENAME", "k", &format!("{name}{suffix}")]);
        }
    };
    // Half the dataset in the base, half as commands in the increment.
    fill(&mut c, "");
    c.call(&["BGREWRITEAOF"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let info = match c.call(&["INFO", "persistence"]) {
            Frame::Bulk(Some(b)) => String::from_utf8_lossy(&b).to_string(),
            _ => String::new(),
        };
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrite_scheduled:0") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "rewrite never ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    fill(&mut c, "-2");
    drop(c);
    srv.stop();
    let src = srv.dir.join("appendonlydir");
    let mut parts: Vec<(std::ffi::OsString, Vec<u8>)> = std::fs::read_dir(&src)
        .expect("appendonlydir")
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name(), std::fs::read(e.path()).expect("read part")))
        .collect();
    parts.sort();
    let dir = temp_dir("aof-fuzz");
    let dst = dir.join("appendonlydir");
    std::fs::create_dir_all(&dst).expect("mkdir");
    let damageable: Vec<usize> = (0..parts.len())
        .filter(|&i| !parts[i].0.to_string_lossy().ends_with(".manifest"))
        .collect();
    assert!(
        damageable.len() >= 2,
        "{:?}",
        parts.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    let as_payloads: Vec<(String, Vec<u8>)> = parts
        .iter()
        .map(|(n, b)| {
            (
                n.to_string_lossy().to_string(),
                [&b[..], &[0u8; 10]].concat(),
            )
        })
        .collect();
    let seed = seed();
    let mut rng = SmallRng::seed_from_u64(seed);
    let n = std::env::var("REDUST_FUZZ_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let (mut loaded, mut refused) = (0, 0);
    for i in 0..n {
        let victim = damageable[rng.gen_range(0..damageable.len())];
        let mut what = format!("AOF {i} (seed {seed})");
        for (k, (name, b)) in parts.iter().enumerate() {
            let data = if k == victim {
                let m = mutate(&mut rng, b, &as_payloads);
                what += &format!(", {} damaged: {}", name.to_string_lossy(), hex(&m));
                m
            } else {
                b.clone()
            };
            std::fs::write(dst.join(name), data).expect("write");
        }
        match start_on(&dir, &["--appendonly", "yes"], ".aof", &what) {
            Start::Loaded(_) => loaded += 1,
            Start::Refused(_) => refused += 1,
        }
    }
    eprintln!("{n} damaged AOF directories: {loaded} loaded, {refused} refused");
    assert!(
        refused > 0 && loaded > 0,
        "mutations did not reach the loader"
    );
}
