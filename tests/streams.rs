//! Streams: differential runs against a real redis-server (fixed scripts
//! of every command and error path, and seeded random command streams
//! over RESP2 and RESP3), blocking reads with several clients, and RDB,
//! DUMP/RESTORE and AOF files moved between Redust and Redis.
//!
//! Replies are compared byte for byte except for what depends on the
//! clock: integers that are Unix times in milliseconds (delivery and
//! seen times) and the idle column of XPENDING are masked, and the fields
//! Redis 7.2 added over the 7.0 oracle (XINFO STREAM FULL's consumer
//! `active-time`, XINFO CONSUMERS' `inactive`) are dropped before
//! comparing. Reproduce a random run with `STREAMS_SEED=<seed>` (and
//! `STREAMS_COMMANDS=<n>`).

mod common;
mod helpers;

use std::time::{Duration, Instant};

use common::*;
use helpers::wait_until;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use redust::resp::reply::{read_frame, Frame};

fn frame(b: &[u8]) -> Frame {
    read_frame(b)
        .ok()
        .flatten()
        .map(|(f, _)| f)
        .unwrap_or(Frame::Null)
}

fn show_cmd(a: &[String]) -> String {
    a.join(" ")
}

fn is_word(f: &Frame, w: &str) -> bool {
    matches!(f, Frame::Bulk(Some(b)) if b == w.as_bytes())
}

/// Masks clock-dependent values (see module docs) and drops 7.2-only
/// fields.
fn mask(f: &Frame, idle_col: bool) -> Frame {
    match f {
        Frame::Int(n) if *n > 1_000_000_000_000 => Frame::Int(0),
        Frame::Array(Some(v)) => {
            let mut out = Vec::new();
            let mut i = 0;
            while i < v.len() {
                if is_word(&v[i], "active-time")
                    || is_word(&v[i], "inactive")
                    || is_word(&v[i], "idle")
                {
                    i += 2;
                    continue;
                }
                out.push(mask(&v[i], idle_col));
                i += 1;
            }
            // XPENDING's extended rows: id, consumer, idle, count.
            if idle_col
                && out.len() == 4
                && matches!(out[2], Frame::Int(_))
                && matches!(out[1], Frame::Bulk(_))
            {
                out[2] = Frame::Int(0);
            }
            Frame::Array(Some(out))
        }
        Frame::Map(v) => Frame::Map(
            v.iter()
                .filter(|(k, _)| {
                    !is_word(k, "active-time") && !is_word(k, "inactive") && !is_word(k, "idle")
                })
                .map(|(k, x)| (mask(k, idle_col), mask(x, idle_col)))
                .collect(),
        ),
        x => x.clone(),
    }
}

/// Sends the same command to both and compares the replies.
struct Diff {
    ours: Raw,
    theirs: Raw,
    log: Vec<String>,
}

impl Diff {
    fn new(us: &Server, them: &Server, resp3: bool) -> Diff {
        let mut d = Diff {
            ours: us.raw(),
            theirs: them.raw(),
            log: Vec::new(),
        };
        if resp3 {
            d.ours.call(&["HELLO", "3"]);
            d.theirs.call(&["HELLO", "3"]);
        }
        d
    }

    fn run(&mut self, args: &[String]) {
        let a = self.ours.call_raw(args);
        let b = self.theirs.call_raw(args);
        self.log.push(show_cmd(args));
        let name = args[0].to_ascii_lowercase();
        let sub = args
            .get(1)
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_default();
        let timey =
            name == "xpending" || (name == "xinfo" && (sub == "stream" || sub == "consumers"));
        let same = if timey {
            mask(&frame(&a), name == "xpending") == mask(&frame(&b), name == "xpending")
        } else {
            a == b
        };
        if !same {
            let tail: Vec<&String> = self.log.iter().rev().take(25).collect();
            panic!(
                "replies differ for {}\n redust: {}\n  redis: {}\n last commands (newest first): {:#?}",
                show_cmd(args),
                String::from_utf8_lossy(&a).replace("\r\n", "\\r\\n"),
                String::from_utf8_lossy(&b).replace("\r\n", "\\r\\n"),
                tail
            );
        }
    }

    fn line(&mut self, cmd: &str) {
        let args: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        self.run(&args);
    }
}

fn pair(args: &[&str]) -> Option<(Server, Server)> {
    if !have_redis() {
        eprintln!("redis-server not installed: skipping");
        return None;
    }
    Some((Server::start(args), Server::start_redis(args)))
}

const SCRIPT: &[&str] = &[
    "XADD s 1-1 a 1 b 2",
    "XADD s 1-1 a 1",
    "XADD s 1-* a 3 b 4",
    "XADD s 0-5 a 1",
    "XADD s 0 a 1",
    "XADD s 0-0 a 1",
    "XADD s 5 a",
    "XADD s foo a b",
    "XADD s + a b",
    "XADD s - a b",
    "XADD s 3-* x 1",
    "XADD s 2-* x 1",
    "XADD s NOMKSTREAM 4-1 x 1",
    "XADD nos NOMKSTREAM 4-1 x 1",
    "EXISTS nos",
    "XADD s MAXLEN 1 MINID 1 9-1 a b",
    "XADD s MINID 1 MAXLEN 1 9-1 a b",
    "XADD s MAXLEN -1 9-1 a b",
    "XADD s MAXLEN x 9-1 a b",
    "XADD s MINID x 9-1 a b",
    "XADD s MAXLEN = 10 LIMIT 5 9-1 a b",
    "XADD s MAXLEN ~ 10 LIMIT -1 9-1 a b",
    "XADD s MAXLEN ~ 10 LIMIT x 9-1 a b",
    "XADD s MAXLEN ~ 10 LIMIT 0 9-1 a b",
    "XADD s MAXLEN 10 10-1 a b c",
    "XLEN s",
    "XLEN nokey",
    "XRANGE s - +",
    "XRANGE s - + COUNT 2",
    "XRANGE s - + COUNT 0",
    "XRANGE s - + COUNT -1",
    "XRANGE s (1-1 +",
    "XRANGE s - (3-0",
    "XRANGE s (- +",
    "XRANGE s - (+",
    "XRANGE s (18446744073709551615-18446744073709551615 +",
    "XRANGE s - (0-0",
    "XRANGE s - + COUNT",
    "XRANGE s - + foo 1",
    "XRANGE s 3 3",
    "XRANGE s 1 1",
    "XRANGE s + -",
    "XRANGE s x +",
    "XRANGE nokey - +",
    "XREVRANGE s + -",
    "XREVRANGE s + - COUNT 1",
    "XREVRANGE s (9-1 (1-1",
    "XREVRANGE s - +",
    "XDEL s 1-2 7-7",
    "XDEL s x",
    "XDEL nokey 1-1",
    "XRANGE s - +",
    "XTRIM s",
    "XTRIM s foo",
    "XTRIM s MAXLEN",
    "XTRIM s MAXLEN -1",
    "XTRIM s MINID x",
    "XTRIM s FOO 1",
    "XTRIM s MAXLEN = 1 LIMIT 1",
    "XTRIM nokey MAXLEN 0",
    "XTRIM s MAXLEN ~ 0",
    "XTRIM s MINID 3",
    "XRANGE s - +",
    "XINFO STREAM s",
    "XINFO STREAM s FULL",
    "XINFO STREAM s FULL COUNT 1",
    "XINFO STREAM s FULL COUNT 0",
    "XINFO STREAM s FULL COUNT x",
    "XINFO STREAM s FOO",
    "XINFO STREAM s FULL FOO 1",
    "XINFO STREAM nokey",
    "XINFO GROUPS s",
    "XINFO GROUPS nokey",
    "XINFO CONSUMERS s g",
    "XINFO FOO",
    "XGROUP FOO",
    "SET str v",
    "XADD str 1-1 a b",
    "XLEN str",
    "XRANGE str - +",
    "XINFO STREAM str",
    "XREAD STREAMS str 0",
    "XGROUP CREATE str g 0",
    "XGROUP CREATE nokey g 0",
    "XGROUP CREATE nokey g x MKSTREAM",
    "EXISTS nokey",
    "XGROUP CREATE s g 0",
    "XGROUP CREATE s g 0",
    "XGROUP CREATE s g2 $",
    "XGROUP CREATE s g3 0 ENTRIESREAD -2",
    "XGROUP CREATE s g3 0 ENTRIESREAD x",
    "XGROUP CREATE s g3 0 ENTRIESREAD 1",
    "XGROUP CREATE s g4 0 FOO",
    "XGROUP CREATE s g4 x",
    "XGROUP CREATE s g4 0 MKSTREAM ENTRIESREAD 2 FOO",
    "XGROUP SETID s nog 0",
    "XGROUP SETID s g3 0 ENTRIESREAD",
    "XGROUP SETID s g3 0 ENTRIESREAD 7",
    "XGROUP SETID s g3 $",
    "XGROUP SETID nokey g 0",
    "XINFO GROUPS s",
    "XGROUP CREATE e g $ MKSTREAM",
    "XINFO STREAM e",
    "XGROUP CREATECONSUMER s nog c",
    "XGROUP CREATECONSUMER s g c0",
    "XGROUP CREATECONSUMER s g c0",
    "XGROUP DELCONSUMER s g nobody",
    "XGROUP DESTROY s g2",
    "XGROUP DESTROY s g2",
    "XGROUP DESTROY nokey g",
    "XREAD STREAMS s",
    "XREAD STREAMS s 0 1",
    "XREAD GROUP g c STREAMS s 0",
    "XREAD NOACK STREAMS s 0",
    "XREADGROUP STREAMS s 0",
    "XREADGROUP GROUP nog c STREAMS s 0",
    "XREADGROUP GROUP g c STREAMS nokey 0",
    "XREADGROUP GROUP g c STREAMS s $",
    "XREAD STREAMS s >",
    "XREAD COUNT -5 STREAMS s 0",
    "XREAD BLOCK -1 STREAMS s 0",
    "XREAD BLOCK x STREAMS s 0",
    "XREAD FOO STREAMS s 0",
    "XREAD STREAMS s x",
    "XREAD STREAMS s $",
    "XREAD STREAMS s + ",
    "XREAD COUNT 1 STREAMS s nokey 0 0",
    "XREAD STREAMS s e 0 0",
    "XREADGROUP GROUP g c STREAMS s x",
    "XREADGROUP GROUP g c1 COUNT 1 STREAMS s 0",
    "XREADGROUP GROUP g c1 COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g c1 STREAMS s 0",
    "XREADGROUP GROUP g c2 NOACK COUNT 1 STREAMS s >",
    "XREADGROUP GROUP g c2 STREAMS s >",
    "XDEL s 9-1",
    "XREADGROUP GROUP g c2 STREAMS s 0",
    "XPENDING s g",
    "XPENDING s g - + 10",
    "XPENDING s g - + 10 c2",
    "XPENDING s g - + 10 nobody",
    "XPENDING s g IDLE 0 - + 10",
    "XPENDING s g IDLE 100000 - + 10",
    "XPENDING s g (1-1 + 10",
    "XPENDING s g - + 0",
    "XPENDING s g - +",
    "XPENDING s g IDLE 5 - +",
    "XPENDING s g IDLE x - + 10",
    "XPENDING s g - + x",
    "XPENDING s g - + 10 c2 extra",
    "XPENDING s nog",
    "XPENDING nokey g",
    "XPENDING e g",
    "XACK s g x",
    "XACK nokey g 1-1",
    "XACK s nog 1-1",
    "XCLAIM s g c3 x 1-1",
    "XCLAIM s g c3 0 1-1 FOO",
    "XCLAIM nokey g c 0 1-1",
    "XCLAIM s nog c 0 1-1",
    "XCLAIM s g c3 0 1-1",
    "XCLAIM s g c3 0 1-1 3-0 JUSTID",
    "XCLAIM s g c3 3600000 1-1",
    "XCLAIM s g c3 0 10-1 FORCE",
    "XCLAIM s g c3 0 10-1 FORCE RETRYCOUNT 5 JUSTID",
    "XCLAIM s g c3 0 10-1 RETRYCOUNT x",
    "XCLAIM s g c3 0 10-1 LASTID x",
    "XCLAIM s g c3 0 10-1 LASTID 50-0 JUSTID",
    "XINFO GROUPS s",
    "XPENDING s g - + 10",
    "XAUTOCLAIM s g c x 0",
    "XAUTOCLAIM s g c 0 0 COUNT 0",
    "XAUTOCLAIM s g c 0 0 COUNT x",
    "XAUTOCLAIM s g c 0 0 FOO",
    "XAUTOCLAIM s nog c 0 0",
    // Arguments are checked before the key's type.
    "XAUTOCLAIM str g c 0 x",
    "XAUTOCLAIM str g c 0 0",
    "XAUTOCLAIM nokey g c 0 0",
    "XAUTOCLAIM s g c 0 x",
    "XAUTOCLAIM s g c4 0 0 COUNT 1",
    "XAUTOCLAIM s g c4 0 0 COUNT 1 JUSTID",
    "XAUTOCLAIM s g c4 0 (1-1",
    "XAUTOCLAIM s g c4 3600000 0",
    "XDEL s 3-0",
    "XAUTOCLAIM s g c5 0 0",
    "XPENDING s g",
    "XINFO STREAM s FULL",
    "XGROUP DELCONSUMER s g c4",
    "XGROUP DELCONSUMER s g c5",
    "XPENDING s g",
    "XACK s g 10-1 1-1 1-1",
    "XSETID nokey 1",
    "XSETID s 1-0",
    "XSETID s 60 ENTRIESADDED 1",
    "XSETID s 60 ENTRIESADDED -1",
    "XSETID s 60 MAXDELETEDID 70",
    "XSETID s 60 FOO",
    "XSETID s x",
    "XSETID s 60-0 ENTRIESADDED 100 MAXDELETEDID 55-0",
    "XINFO STREAM s",
    "XINFO GROUPS s",
    "XADD s 60-0 a b",
    "XADD s 60-* a b",
    "TYPE s",
    "OBJECT ENCODING s",
    "XTRIM s MAXLEN 0",
    "XINFO STREAM s",
    "EXISTS s",
    "XGROUP CREATE s g5 0",
    "XINFO GROUPS s",
];

#[test]
fn script_matches_redis() {
    let Some((us, them)) = pair(&[]) else { return };
    for resp3 in [false, true] {
        let mut d = Diff::new(&us, &them, resp3);
        d.line("FLUSHALL");
        for l in SCRIPT {
            d.line(l);
        }
    }
}

/// Node packing: approximate trims and XINFO's radix-tree figures follow
/// Redis's macro nodes (entry and byte limits, same-fields compression).
#[test]
fn node_packing_matches_redis() {
    let Some((us, them)) = pair(&[]) else { return };
    let mut d = Diff::new(&us, &them, false);
    for (entries, bytes) in [("100", "4096"), ("7", "4096"), ("0", "300"), ("5", "0")] {
        d.line("FLUSHALL");
        d.line(&format!("CONFIG SET stream-node-max-entries {entries}"));
        d.line(&format!("CONFIG SET stream-node-max-bytes {bytes}"));
        for i in 1..=260u64 {
            let v = match i % 5 {
                0 => "x".repeat((i % 70) as usize),
                1 => (i * 1000).to_string(),
                2 => format!("-{i}"),
                3 => "v".into(),
                _ => "y".repeat(200),
            };
            let fields = if i % 9 == 0 {
                format!("other {v}")
            } else {
                format!("f {v} g {i}")
            };
            d.line(&format!("XADD s {i}-{} {fields}", i % 3));
            if i % 37 == 0 {
                d.line("XINFO STREAM s");
            }
        }
        d.line("XDEL s 5-2 6-0 7-1 100-1");
        d.line("XINFO STREAM s");
        d.line("XTRIM s MAXLEN ~ 200");
        d.line("XTRIM s MAXLEN ~ 100 LIMIT 30");
        d.line("XTRIM s MINID ~ 150");
        d.line("XINFO STREAM s");
        d.line("XADD s MAXLEN ~ 20 1000-0 a b");
        d.line("XINFO STREAM s");
        d.line("XTRIM s MAXLEN 3");
        d.line("XINFO STREAM s");
        d.line("XRANGE s - +");
    }
}

/// One random command for the differential run.
fn random_command(r: &mut SmallRng) -> Vec<String> {
    let keys = ["s1", "s2", "s2", "str"];
    let key = keys[r.gen_range(0..keys.len())].to_string();
    let group = ["g1", "g2", "nog"][r.gen_range(0..3)].to_string();
    let consumer = ["c1", "c2", "c3"][r.gen_range(0..3)].to_string();
    let ms = |r: &mut SmallRng| r.gen_range(0..60u64);
    let id = |r: &mut SmallRng| -> String {
        match r.gen_range(0..12) {
            0 => "-".into(),
            1 => "+".into(),
            2 => format!("{}", r.gen_range(0..60)),
            3 => "x".into(),
            4 => format!("({}-{}", r.gen_range(0..60), r.gen_range(0..3)),
            _ => format!("{}-{}", r.gen_range(0..60), r.gen_range(0..3)),
        }
    };
    let plain_id = |r: &mut SmallRng| format!("{}-{}", r.gen_range(0..60), r.gen_range(0..3));
    let fields = |r: &mut SmallRng| -> Vec<String> {
        let n = if r.gen_bool(0.8) {
            1
        } else {
            r.gen_range(1..4)
        };
        let mut v = Vec::new();
        for i in 0..n {
            v.push(["a", "b", "c"][(i + r.gen_range(0..2)) % 3].to_string());
            v.push(match r.gen_range(0..4) {
                0 => r.gen_range(-5000..5000).to_string(),
                1 => "x".repeat(r.gen_range(0..90)),
                _ => "val".into(),
            });
        }
        v
    };
    let mut c: Vec<String> = Vec::new();
    let push = |c: &mut Vec<String>, s: &[&str]| c.extend(s.iter().map(|x| x.to_string()));
    match r.gen_range(0..40) {
        0..=9 => {
            push(&mut c, &["XADD", &key]);
            if r.gen_bool(0.1) {
                c.push("NOMKSTREAM".into());
            }
            if r.gen_bool(0.25) {
                if r.gen_bool(0.6) {
                    c.push("MAXLEN".into());
                    c.push(["~", "=", "~"][r.gen_range(0..3)].into());
                    c.push(r.gen_range(0..15).to_string());
                } else {
                    c.push("MINID".into());
                    c.push(["~", "="][r.gen_range(0..2)].into());
                    c.push(plain_id(r));
                }
                if c.contains(&"~".to_string()) && r.gen_bool(0.3) {
                    c.push("LIMIT".into());
                    c.push(r.gen_range(0..12).to_string());
                }
            }
            c.push(match r.gen_range(0..5) {
                0 => format!("{}-*", ms(r)),
                1 => format!("{}", ms(r)),
                _ => plain_id(r),
            });
            c.extend(fields(r));
        }
        10 => {
            push(&mut c, &["XDEL", &key]);
            for _ in 0..r.gen_range(1..4) {
                c.push(plain_id(r));
            }
        }
        11 => {
            push(&mut c, &["XTRIM", &key]);
            if r.gen_bool(0.5) {
                push(&mut c, &["MAXLEN", ["~", "="][r.gen_range(0..2)]]);
                c.push(r.gen_range(0..10).to_string());
            } else {
                push(&mut c, &["MINID", ["~", "="][r.gen_range(0..2)]]);
                c.push(plain_id(r));
            }
            if c[3] == "~" && r.gen_bool(0.3) {
                push(&mut c, &["LIMIT", &r.gen_range(0..8).to_string()]);
            }
        }
        12 | 13 => {
            let rev = r.gen_bool(0.4);
            push(&mut c, &[if rev { "XREVRANGE" } else { "XRANGE" }, &key]);
            c.push(id(r));
            c.push(id(r));
            if r.gen_bool(0.4) {
                push(&mut c, &["COUNT", &r.gen_range(-1..5).to_string()]);
            }
        }
        14 => push(&mut c, &["XLEN", &key]),
        15 => {
            c.push("XREAD".into());
            if r.gen_bool(0.5) {
                push(&mut c, &["COUNT", &r.gen_range(0..4).to_string()]);
            }
            c.push("STREAMS".into());
            let n = r.gen_range(1..3);
            let ks: Vec<String> = (0..n)
                .map(|_| keys[r.gen_range(0..3)].to_string())
                .collect();
            c.extend(ks);
            for _ in 0..n {
                c.push(if r.gen_bool(0.2) {
                    "$".into()
                } else {
                    plain_id(r)
                });
            }
        }
        16 | 17 => {
            push(&mut c, &["XGROUP", "CREATE", &key, &group]);
            c.push(match r.gen_range(0..3) {
                0 => "$".into(),
                1 => "0".into(),
                _ => plain_id(r),
            });
            if r.gen_bool(0.3) {
                c.push("MKSTREAM".into());
            }
            if r.gen_bool(0.3) {
                push(&mut c, &["ENTRIESREAD", &r.gen_range(-1..6).to_string()]);
            }
        }
        18 => {
            push(&mut c, &["XGROUP", "SETID", &key, &group]);
            c.push(if r.gen_bool(0.3) {
                "$".into()
            } else {
                plain_id(r)
            });
            if r.gen_bool(0.3) {
                push(&mut c, &["ENTRIESREAD", &r.gen_range(-1..6).to_string()]);
            }
        }
        19 => {
            let sub =
                ["DESTROY", "CREATECONSUMER", "DELCONSUMER", "CREATECONSUMER"][r.gen_range(0..4)];
            push(&mut c, &["XGROUP", sub, &key, &group]);
            if sub != "DESTROY" {
                c.push(consumer.clone());
            }
        }
        20..=24 => {
            push(&mut c, &["XREADGROUP", "GROUP", &group, &consumer]);
            if r.gen_bool(0.5) {
                push(&mut c, &["COUNT", &r.gen_range(0..4).to_string()]);
            }
            if r.gen_bool(0.15) {
                c.push("NOACK".into());
            }
            c.push("STREAMS".into());
            let k2 = keys[r.gen_range(0..3)].to_string();
            let two = r.gen_bool(0.2);
            c.push(key.clone());
            if two {
                c.push(k2);
            }
            for _ in 0..(1 + two as usize) {
                c.push(if r.gen_bool(0.7) {
                    ">".into()
                } else {
                    plain_id(r)
                });
            }
        }
        25 | 26 => {
            push(&mut c, &["XACK", &key, &group]);
            for _ in 0..r.gen_range(1..4) {
                c.push(plain_id(r));
            }
        }
        27 | 28 => {
            push(&mut c, &["XPENDING", &key, &group]);
            if r.gen_bool(0.7) {
                if r.gen_bool(0.2) {
                    push(&mut c, &["IDLE", "0"]);
                }
                c.push(id(r));
                c.push(id(r));
                c.push(r.gen_range(-1..6).to_string());
                if r.gen_bool(0.4) {
                    c.push(consumer.clone());
                }
            }
        }
        29 | 30 => {
            push(&mut c, &["XCLAIM", &key, &group, &consumer, "0"]);
            for _ in 0..r.gen_range(1..3) {
                c.push(plain_id(r));
            }
            if r.gen_bool(0.3) {
                c.push("FORCE".into());
            }
            if r.gen_bool(0.4) {
                c.push("JUSTID".into());
            }
            if r.gen_bool(0.2) {
                push(&mut c, &["RETRYCOUNT", &r.gen_range(0..9).to_string()]);
            }
            if r.gen_bool(0.2) {
                c.push("LASTID".into());
                c.push(plain_id(r));
            }
        }
        31 => {
            push(
                &mut c,
                &["XAUTOCLAIM", &key, &group, &consumer, "0", &id(r)],
            );
            if r.gen_bool(0.5) {
                push(&mut c, &["COUNT", &r.gen_range(1..4).to_string()]);
            }
            if r.gen_bool(0.4) {
                c.push("JUSTID".into());
            }
        }
        32 | 33 => {
            push(&mut c, &["XINFO", "STREAM", &key]);
            if r.gen_bool(0.4) {
                c.push("FULL".into());
                if r.gen_bool(0.5) {
                    push(&mut c, &["COUNT", &r.gen_range(0..3).to_string()]);
                }
            }
        }
        34 | 35 => push(&mut c, &["XINFO", "GROUPS", &key]),
        36 => {
            push(&mut c, &["XSETID", &key, &plain_id(r)]);
            if r.gen_bool(0.4) {
                push(&mut c, &["ENTRIESADDED", &r.gen_range(0..40).to_string()]);
            }
            if r.gen_bool(0.4) {
                push(&mut c, &["MAXDELETEDID", &plain_id(r)]);
            }
        }
        37 => push(&mut c, &["DEL", &key]),
        38 => push(&mut c, &["TYPE", &key]),
        _ => push(&mut c, &["XPENDING", &key, &group]),
    }
    c
}

#[test]
fn random_commands_match_redis() {
    let Some((us, them)) = pair(&[]) else { return };
    let seed: u64 = std::env::var("STREAMS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let n: usize = std::env::var("STREAMS_COMMANDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6000);
    eprintln!("STREAMS_SEED={seed}");
    for round in 0..2u64 {
        let mut r = SmallRng::seed_from_u64(seed.wrapping_add(round));
        let mut d = Diff::new(&us, &them, round == 1);
        d.line("FLUSHALL");
        d.line("SET str x");
        let (entries, bytes) = [("4", "4096"), ("0", "180")][round as usize];
        d.line(&format!("CONFIG SET stream-node-max-entries {entries}"));
        d.line(&format!("CONFIG SET stream-node-max-bytes {bytes}"));
        for _ in 0..n / 2 {
            let c = random_command(&mut r);
            d.run(&c);
        }
        for k in ["s1", "s2"] {
            d.line(&format!("XRANGE {k} - +"));
            d.line(&format!("XINFO STREAM {k} FULL COUNT 0"));
        }
    }
}

// ---------------------------------------------------------------------------
// Blocking
// ---------------------------------------------------------------------------

/// Sends a command without waiting for its reply.
fn send(r: &mut Raw, cmd: &str) {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    r.send(&args);
}

fn blocked_clients(r: &mut Raw) -> i64 {
    let info = helpers::info(r, &["clients"]);
    helpers::info_field(&info, "blocked_clients")
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

fn wait_blocked(r: &mut Raw, n: i64) {
    assert!(
        wait_until(Duration::from_secs(10), || blocked_clients(r) == n),
        "expected {n} blocked clients"
    );
}

/// Every string in a reply, space separated.
fn bulk_text(f: &Frame) -> String {
    match f {
        Frame::Bulk(Some(b)) | Frame::Simple(b) | Frame::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        Frame::Array(Some(v)) | Frame::Push(v) | Frame::Set(v) => {
            v.iter().map(bulk_text).collect::<Vec<_>>().join(" ")
        }
        Frame::Map(v) => v
            .iter()
            .map(|(k, x)| format!("{} {}", bulk_text(k), bulk_text(x)))
            .collect::<Vec<_>>()
            .join(" "),
        Frame::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

#[test]
fn blocking_reads() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    // FIFO: two group readers parked for one new entry each.
    c.call(&["XGROUP", "CREATE", "q", "g", "$", "MKSTREAM"]);
    let mut r1 = s.raw();
    let mut r2 = s.raw();
    send(&mut r1, "XREADGROUP GROUP g c1 COUNT 1 BLOCK 0 STREAMS q >");
    wait_blocked(&mut c, 1);
    send(&mut r2, "XREADGROUP GROUP g c2 COUNT 1 BLOCK 0 STREAMS q >");
    wait_blocked(&mut c, 2);
    c.call(&["XADD", "q", "1-1", "job", "one"]);
    let got = bulk_text(&r1.read());
    assert!(
        got.contains("one"),
        "first waiter gets the first entry: {got}"
    );
    wait_blocked(&mut c, 1);
    c.call(&["XADD", "q", "2-1", "job", "two"]);
    let got = bulk_text(&r2.read());
    assert!(got.contains("two"), "second waiter gets the second: {got}");
    wait_blocked(&mut c, 0);

    // Timeout: a null array after about the time asked for.
    let t = Instant::now();
    assert_eq!(
        r1.call_raw(&["XREAD", "BLOCK", "150", "STREAMS", "q", "$"]),
        b"*-1\r\n"
    );
    assert!(t.elapsed() >= Duration::from_millis(140));
    r1.call(&["HELLO", "3"]);
    assert_eq!(
        r1.call_raw(&["XREAD", "BLOCK", "50", "STREAMS", "q", "$"]),
        b"_\r\n"
    );

    // Every plain XREAD waiter sees the entry; `$` means after the last ID
    // at the time of the call.
    let mut readers: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        send(r, "XREAD BLOCK 0 STREAMS q $");
        wait_blocked(&mut c, i as i64 + 1);
    }
    // A waiter that disconnects leaves nothing behind.
    let mut gone = s.raw();
    send(&mut gone, "XREAD BLOCK 0 STREAMS q $");
    wait_blocked(&mut c, 4);
    drop(gone);
    wait_blocked(&mut c, 3);
    // Entries added in a transaction are served after it, all at once.
    c.call(&["MULTI"]);
    c.call(&["XADD", "q", "3-1", "job", "three"]);
    c.call(&["XADD", "q", "4-1", "job", "four"]);
    c.call(&["EXEC"]);
    for r in readers.iter_mut() {
        let got = bulk_text(&r.read());
        assert!(got.contains("three") && got.contains("four"), "{got}");
    }
    wait_blocked(&mut c, 0);

    // XREADGROUP waiting on a key that is deleted, or a group destroyed.
    c.call(&["XGROUP", "SETID", "q", "g", "$"]);
    send(&mut r2, "XREADGROUP GROUP g c2 BLOCK 0 STREAMS q >");
    wait_blocked(&mut c, 1);
    c.call(&["XGROUP", "DESTROY", "q", "g"]);
    assert_eq!(
        r2.read(),
        err("NOGROUP No such key 'q' or consumer group 'g' in XREADGROUP with GROUP option")
    );
    c.call(&["XGROUP", "CREATE", "q", "g", "$"]);
    send(&mut r2, "XREADGROUP GROUP g c2 BLOCK 0 STREAMS q >");
    wait_blocked(&mut c, 1);
    c.call(&["DEL", "q"]);
    assert_eq!(r2.read(), err("UNBLOCKED the stream key no longer exists"));
    // A plain XREAD keeps waiting through a deletion.
    send(&mut r2, "XREAD BLOCK 0 STREAMS q 0");
    wait_blocked(&mut c, 1);
    c.call(&["SET", "q", "x"]);
    c.call(&["DEL", "q"]);
    c.call(&["XADD", "q", "5-1", "job", "five"]);
    assert!(bulk_text(&r2.read()).contains("five"));
    // Inside MULTI, BLOCK does not block.
    c.call(&["MULTI"]);
    c.call(&["XREAD", "BLOCK", "0", "STREAMS", "q", "$"]);
    assert_eq!(c.call_raw(&["EXEC"]), b"*1\r\n*-1\r\n");
    // CLIENT UNBLOCK answers a parked XREAD with its timeout reply.
    let id = match r2.call(&["CLIENT", "ID"]) {
        Frame::Int(n) => n,
        f => panic!("CLIENT ID: {f:?}"),
    };
    send(&mut r2, "XREAD BLOCK 0 STREAMS q $");
    wait_blocked(&mut c, 1);
    assert_eq!(
        c.call(&["CLIENT", "UNBLOCK", &id.to_string()]),
        Frame::Int(1)
    );
    assert_eq!(r2.read(), frame(b"*-1\r\n"));
    send(&mut r2, "XREAD BLOCK 0 STREAMS q $");
    wait_blocked(&mut c, 1);
    c.call(&["XADD", "q", "6-1", "job", "six"]);
    assert!(bulk_text(&r2.read()).contains("six"));
}

// ---------------------------------------------------------------------------
// Persistence interop
// ---------------------------------------------------------------------------

/// Commands that build streams with several nodes, deletions, groups,
/// consumers and pending entries (deterministic IDs).
fn build(r: &mut Raw) {
    for i in 1..=230u64 {
        let v = format!("value-{}", "x".repeat((i % 40) as usize));
        if i % 11 == 0 {
            r.call(&[
                "XADD",
                "big",
                &format!("{i}-1"),
                "other",
                &v,
                "n",
                &i.to_string(),
            ]);
        } else {
            r.call(&[
                "XADD",
                "big",
                &format!("{i}-1"),
                "f",
                &v,
                "n",
                &i.to_string(),
            ]);
        }
    }
    r.call(&["XDEL", "big", "3-1", "150-1", "230-1"]);
    r.call(&["XGROUP", "CREATE", "big", "g1", "0"]);
    r.call(&["XGROUP", "CREATE", "big", "g2", "$", "ENTRIESREAD", "5"]);
    r.call(&["XGROUP", "CREATE", "big", "g3", "100-0"]);
    r.call(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "5",
        "STREAMS",
        "big",
        ">",
    ]);
    r.call(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "3",
        "STREAMS",
        "big",
        ">",
    ]);
    r.call(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "carol",
        "COUNT",
        "2",
        "NOACK",
        "STREAMS",
        "big",
        ">",
    ]);
    r.call(&["XACK", "big", "g1", "2-1"]);
    r.call(&["XCLAIM", "big", "g1", "dave", "0", "4-1", "RETRYCOUNT", "7"]);
    r.call(&["XGROUP", "CREATECONSUMER", "big", "g3", "idle"]);
    r.call(&["XADD", "empty", "1-1", "a", "b"]);
    r.call(&["XDEL", "empty", "1-1"]);
    r.call(&["XGROUP", "CREATE", "fresh", "g", "$", "MKSTREAM"]);
    r.call(&["XADD", "small", "5-5", "k", "v"]);
    r.call(&[
        "XSETID",
        "small",
        "9-9",
        "ENTRIESADDED",
        "12",
        "MAXDELETEDID",
        "7-0",
    ]);
}

/// Everything observable about the streams built by `build`, with times
/// masked.
fn state(r: &mut Raw) -> Vec<Frame> {
    let mut v = Vec::new();
    for k in ["big", "empty", "fresh", "small"] {
        v.push(r.call(&["TYPE", k]));
        v.push(r.call(&["XRANGE", k, "-", "+"]));
        v.push(mask(&r.call(&["XINFO", "STREAM", k]), false));
        v.push(mask(
            &r.call(&["XINFO", "STREAM", k, "FULL", "COUNT", "0"]),
            false,
        ));
        v.push(mask(&r.call(&["XINFO", "GROUPS", k]), false));
    }
    v.push(mask(
        &r.call(&["XPENDING", "big", "g1", "-", "+", "100"]),
        true,
    ));
    v.push(r.call(&["XPENDING", "big", "g1"]));
    v
}

#[test]
fn rdb_and_dump_interop() {
    if !have_redis() {
        return;
    }
    // Redust writes, Redis (and redis-check-rdb) reads.
    let us = Server::start(&[]);
    let mut c = us.raw();
    build(&mut c);
    let want = state(&mut c);
    assert_eq!(c.call(&["SAVE"]), simple("OK"));
    let rdb = us.dir.join("dump.rdb");
    let check = helpers::run_to_exit(
        "redis-check-rdb",
        &[rdb.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert!(
        check.status.success(),
        "redis-check-rdb: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    let dir = us.dir.display().to_string();
    let them = Server::start_redis(&["--dir", &dir, "--dbfilename", "dump.rdb"]);
    let mut t = them.raw();
    assert_eq!(state(&mut t), want, "Redis loading Redust's RDB");
    // Redis writes, Redust reads.
    let them2 = Server::start_redis(&[]);
    let mut t2 = them2.raw();
    build(&mut t2);
    let want2 = state(&mut t2);
    assert_eq!(t2.call(&["SAVE"]), simple("OK"));
    let dir2 = them2.dir.display().to_string();
    let us2 = Server::start(&["--dir", &dir2, "--dbfilename", "dump.rdb"]);
    let mut c2 = us2.raw();
    assert_eq!(state(&mut c2), want2, "Redust loading Redis's RDB");
    assert_eq!(want, want2, "both built the same streams");
    // DUMP / RESTORE both ways.
    for k in ["big", "empty", "fresh", "small"] {
        let from_us = match c.call(&["DUMP", k]) {
            Frame::Bulk(Some(b)) => b,
            f => panic!("DUMP {k}: {f:?}"),
        };
        let from_them = match t2.call(&["DUMP", k]) {
            Frame::Bulk(Some(b)) => b,
            f => panic!("DUMP {k}: {f:?}"),
        };
        let nk = format!("{k}-copy");
        assert_eq!(
            t.call(&[&b"RESTORE"[..], nk.as_bytes(), &b"0"[..], &from_us[..]]),
            simple("OK")
        );
        assert_eq!(
            c2.call(&[&b"RESTORE"[..], nk.as_bytes(), &b"0"[..], &from_them[..]]),
            simple("OK")
        );
        for r in [&mut t, &mut c2] {
            assert_eq!(
                r.call(&["XRANGE", &nk, "-", "+"]),
                r.call(&["XRANGE", k, "-", "+"])
            );
            assert_eq!(
                mask(
                    &r.call(&["XINFO", "STREAM", &nk, "FULL", "COUNT", "0"]),
                    false
                ),
                mask(
                    &r.call(&["XINFO", "STREAM", k, "FULL", "COUNT", "0"]),
                    false
                )
            );
        }
    }
}

/// Waits for an AOF rewrite to finish.
fn wait_rewrite(r: &mut Raw) {
    assert!(wait_until(Duration::from_secs(20), || {
        let info = helpers::info(r, &["persistence"]);
        helpers::info_field(&info, "aof_rewrite_in_progress").as_deref() == Some("0")
            && helpers::info_field(&info, "aof_rewrite_scheduled").as_deref() == Some("0")
    }));
}

#[test]
fn aof_interop() {
    if !have_redis() {
        return;
    }
    for preamble in ["no", "yes"] {
        let us = Server::start(&["--appendonly", "yes", "--aof-use-rdb-preamble", preamble]);
        let mut c = us.raw();
        build(&mut c);
        // Commands whose propagation differs from what was sent.
        c.call(&["XADD", "auto", "*", "a", "1"]);
        c.call(&["XADD", "auto", "*", "a", "2"]);
        c.call(&[
            "XADD", "auto", "MAXLEN", "~", "1", "LIMIT", "5", "*", "a", "3",
        ]);
        c.call(&["XGROUP", "CREATE", "auto", "g", "0"]);
        c.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "x",
            "COUNT",
            "1",
            "STREAMS",
            "auto",
            ">",
        ]);
        c.call(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "y",
            "NOACK",
            "COUNT",
            "1",
            "STREAMS",
            "auto",
            ">",
        ]);
        c.call(&["XAUTOCLAIM", "auto", "g", "z", "0", "0"]);
        c.call(&["XCLAIM", "big", "g1", "erin", "0", "5-1", "IDLE", "1000"]);
        c.call(&["XDEL", "big", "1-1"]);
        c.call(&["XAUTOCLAIM", "big", "g1", "frank", "0", "0", "COUNT", "2"]);
        let mut want = state(&mut c);
        want.push(c.call(&["XRANGE", "auto", "-", "+"]));
        want.push(mask(&c.call(&["XINFO", "STREAM", "auto", "FULL"]), false));
        let snapshot = |r: &mut Raw| {
            let mut v = state(r);
            v.push(r.call(&["XRANGE", "auto", "-", "+"]));
            v.push(mask(&r.call(&["XINFO", "STREAM", "auto", "FULL"]), false));
            v
        };
        for rewrite in [false, true] {
            if rewrite {
                c.call(&["BGREWRITEAOF"]);
                wait_rewrite(&mut c);
            }
            // The incremental file is on disk once a command's reply is.
            c.call(&["PING"]);
            let dir = us.dir.display().to_string();
            let copy = temp_dir("streams-aof");
            let status = std::process::Command::new("cp")
                .args([
                    "-r",
                    &format!("{dir}/appendonlydir"),
                    &copy.display().to_string(),
                ])
                .status()
                .expect("cp");
            assert!(status.success());
            let cd = copy.display().to_string();
            let again = Server::start(&["--appendonly", "yes", "--dir", &cd]);
            assert_eq!(
                snapshot(&mut again.raw()),
                want,
                "Redust reloading its AOF (rewrite: {rewrite}, preamble: {preamble})"
            );
            drop(again);
            let copy2 = temp_dir("streams-aof-redis");
            let status = std::process::Command::new("cp")
                .args([
                    "-r",
                    &format!("{dir}/appendonlydir"),
                    &copy2.display().to_string(),
                ])
                .status()
                .expect("cp");
            assert!(status.success());
            let cd2 = copy2.display().to_string();
            let them = Server::start_redis(&["--appendonly", "yes", "--dir", &cd2]);
            assert_eq!(
                snapshot(&mut them.raw()),
                want,
                "Redis loading Redust's AOF (rewrite: {rewrite}, preamble: {preamble})"
            );
        }
    }
}

#[test]
fn keyspace_events_and_types() {
    let s = Server::start(&["--notify-keyspace-events", "Et"]);
    let mut sub = s.raw();
    sub.call(&["PSUBSCRIBE", "__keyevent@0__:*"]);
    let mut c = s.raw();
    let script: &[(&[&str], &[&str])] = &[
        (&["XADD", "s", "1-1", "a", "b"], &["xadd"]),
        (
            &["XADD", "s", "MAXLEN", "0", "2-1", "a", "b"],
            &["xadd", "xtrim"],
        ),
        (&["XADD", "s", "3-1", "a", "b"], &["xadd"]),
        (&["XDEL", "s", "3-1"], &["xdel"]),
        (&["XADD", "s", "4-1", "a", "b"], &["xadd"]),
        (&["XTRIM", "s", "MAXLEN", "0"], &["xtrim"]),
        (&["XGROUP", "CREATE", "s", "g", "0"], &["xgroup-create"]),
        (
            &["XGROUP", "CREATECONSUMER", "s", "g", "c"],
            &["xgroup-createconsumer"],
        ),
        (
            &["XGROUP", "DELCONSUMER", "s", "g", "c"],
            &["xgroup-delconsumer"],
        ),
        (&["XGROUP", "SETID", "s", "g", "0"], &["xgroup-setid"]),
        (&["XGROUP", "DESTROY", "s", "g"], &["xgroup-destroy"]),
        (&["XSETID", "s", "9-9"], &["xsetid"]),
    ];
    for (cmd, events) in script {
        c.call(cmd);
        for e in *events {
            let f = sub.read();
            let channel = match &f {
                Frame::Array(Some(v)) if v.len() == 4 => v[2].clone(),
                Frame::Push(v) if v.len() == 4 => v[2].clone(),
                other => panic!("{cmd:?}: not a pmessage: {other:?}"),
            };
            assert_eq!(channel, bulk(&format!("__keyevent@0__:{e}")), "{cmd:?}");
        }
    }
    assert_eq!(c.call(&["TYPE", "s"]), simple("stream"));
    assert_eq!(c.call(&["OBJECT", "ENCODING", "s"]), bulk("stream"));
    c.call(&["SET", "str", "x"]);
    let scan = c.call(&["SCAN", "0", "TYPE", "stream"]);
    let keys = match &scan {
        Frame::Array(Some(v)) if v.len() == 2 => v[1].clone(),
        f => panic!("SCAN: {f:?}"),
    };
    assert_eq!(keys, Frame::Array(Some(vec![bulk("s")])));
    match c.call(&["MEMORY", "USAGE", "s"]) {
        Frame::Int(n) => assert!(n > 0),
        f => panic!("MEMORY USAGE: {f:?}"),
    }
    // WATCH sees stream writes.
    let mut w = s.raw();
    w.call(&["WATCH", "s"]);
    c.call(&["XADD", "s", "10-1", "a", "b"]);
    w.call(&["MULTI"]);
    w.call(&["PING"]);
    assert_eq!(w.call_raw(&["EXEC"]), b"*-1\r\n");
}
