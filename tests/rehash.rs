//! A forkless BGSAVE while the keyspace's hash table goes through several
//! incremental rehashes, shrinking and then growing, with writes to saved
//! and not-yet-saved keys in between: the dump holds exactly the dataset
//! at BGSAVE, as Redust and real Redis load it.
mod common;
use common::*;
use rand::{Rng, SeedableRng};
use redust::resp::reply::{encode_request, Frame};
use std::time::{Duration, Instant};

/// Keys present at BGSAVE: `orig:<i>` = `value:<i>` (DEBUG POPULATE's
/// values), every seventh with a TTL.
const BASE: usize = 30_000;
/// Keys at BGSAVE: the originals and `pre:<i>` = `value:<i>`, 4000 past
/// the 2^19 that starts a doubling (the first 2048 clear the new table).
const TOTAL: usize = (1 << 19) + 4000;

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(Some(b)) | Frame::Simple(b) | Frame::Verbatim(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => panic!("not a string: {other:?}"),
    }
}

/// Sends the commands as one batch (one read on the server, so the walk
/// gets no slice inside it) and returns the replies.
fn batch(r: &mut Raw, cmds: &[Vec<String>]) -> Vec<Frame> {
    let mut req = Vec::new();
    for c in cmds {
        req.extend(encode_request(c));
    }
    r.send_bytes(&req);
    (0..cmds.len()).map(|_| r.read()).collect()
}

fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// A write to an original key, which the snapshot must not see.
fn scribble(rng: &mut impl Rng, n: usize) -> Vec<String> {
    let k = format!("orig:{}", rng.gen_range(0..BASE));
    let v = format!("changed-{n}");
    match rng.gen_range(0..6) {
        0 => cmd(&["SET", &k, &v]),
        1 => cmd(&["DEL", &k]),
        2 => cmd(&["APPEND", &k, "+"]),
        3 => cmd(&["EXPIRE", &k, "50000"]),
        4 => cmd(&["PERSIST", &k]),
        _ => cmd(&["RENAME", &k, &format!("moved:{n}")]),
    }
}

fn mget(keys: &[String]) -> Vec<String> {
    std::iter::once("MGET".to_string())
        .chain(keys.iter().cloned())
        .collect()
}

fn values(f: &Frame) -> &[Frame] {
    match f {
        Frame::Array(Some(v)) => v,
        other => panic!("not an array: {other:?}"),
    }
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn wait_bgsave(r: &mut Raw) {
    let start = Instant::now();
    loop {
        let i = text(&r.call(&["INFO", "persistence"]));
        if i.contains("rdb_bgsave_in_progress:0") {
            assert!(i.contains("rdb_last_bgsave_status:ok"), "{i}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "BGSAVE never finished: {i}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asked after each batch: is the walk still running, is a rehash under
/// way, and between which table sizes.
fn probes() -> Vec<Vec<String>> {
    vec![
        cmd(&["INFO", "persistence"]),
        cmd(&["DEBUG", "HTSTATS", "0"]),
    ]
}

/// What the batches saw: how many ran while both the walk and a rehash
/// were under way, and the table sizes (old -> new) of those rehashes.
#[derive(Default)]
struct Seen {
    writes: usize,
    overlap: usize,
    sizes: Vec<(usize, usize)>,
}

impl Seen {
    fn note(&mut self, replies: &[Frame]) {
        let n = replies.len();
        let walking = text(&replies[n - 2]).contains("rdb_bgsave_in_progress:1");
        let ht = text(&replies[n - 1]);
        let sizes: Vec<usize> = ht
            .lines()
            .filter_map(|l| l.strip_prefix(" table size: "))
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        if walking && ht.contains("rehashing target") {
            self.overlap += 1;
            // [Dictionary HT]'s two tables come first.
            let shape = (sizes[0], sizes[1]);
            if self.sizes.last() != Some(&shape) {
                self.sizes.push(shape);
            }
        }
    }

    /// Batches of writes to original keys, each followed by the probes.
    fn scribbles(&mut self, rng: &mut impl Rng, r: &mut Raw, batches: usize) {
        for _ in 0..batches {
            let mut cmds: Vec<_> = (0..4).map(|i| scribble(rng, self.writes + i)).collect();
            self.writes += 4;
            cmds.extend(probes());
            let replies = batch(r, &cmds);
            self.note(&replies);
        }
    }
}

#[test]
fn bgsave_across_shrinking_and_growing_rehashes_is_the_state_at_its_start() {
    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut r = s.raw();
    let pop = ["DEBUG", "POPULATE", &BASE.to_string(), "orig"];
    assert_eq!(r.call(&pop), simple("OK"));
    let ttls: Vec<Vec<String>> = (0..BASE)
        .step_by(7)
        .map(|i| cmd(&["EXPIRE", &format!("orig:{i}"), "100000"]))
        .collect();
    assert!(batch(&mut r, &ttls).iter().all(|f| *f == Frame::Int(1)));
    // The snapshot starts just past a doubling, with the table mid-rehash
    // (one batch: nothing runs in between).
    let started = batch(
        &mut r,
        &[
            cmd(&["DEBUG", "POPULATE", &(TOTAL - BASE).to_string(), "pre"]),
            cmd(&["BGSAVE"]),
            cmd(&["DEBUG", "HTSTATS", "0"]),
        ],
    );
    assert_eq!(started[1], simple("Background saving started"));
    assert!(
        text(&started[2]).contains("rehashing target"),
        "{:?}",
        started[2]
    );

    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut seen = Seen::default();
    // Shrink: delete the keys the walk has mostly not reached yet (each
    // is saved first), in batches, so that shrinks start and proceed
    // between slices of the walk.
    let keys: Vec<String> = (0..TOTAL - BASE).map(|i| format!("pre:{i}")).collect();
    for chunk in keys.chunks(20_000) {
        let mut cmds: Vec<Vec<String>> = chunk
            .chunks(1000)
            .map(|c| {
                std::iter::once("UNLINK".to_string())
                    .chain(c.iter().cloned())
                    .collect()
            })
            .collect();
        cmds.extend(probes());
        let replies = batch(&mut r, &cmds);
        seen.note(&replies);
        seen.scribbles(&mut rng, &mut r, 1);
    }
    seen.scribbles(&mut rng, &mut r, 15);
    // Grow again: each round ends just past a doubling (2^15 .. 2^19
    // buckets), so the slices that follow walk a table mid-rehash.
    for g in 0..5 {
        let have = int(&r.call(&["DBSIZE"])) as usize;
        let want = (1usize << (15 + g)) + 4000;
        let add = [
            "DEBUG",
            "POPULATE",
            &(want - have).to_string(),
            &format!("grow{g}"),
        ];
        assert_eq!(r.call(&add), simple("OK"));
        seen.scribbles(&mut rng, &mut r, 15);
    }
    let grew = seen.sizes.iter().any(|(a, b)| b > a);
    let shrank = seen.sizes.iter().any(|(a, b)| b < a);
    assert!(
        seen.overlap >= 20 && grew && shrank,
        "the walk and the rehashes hardly overlapped: {} batches, {:?}",
        seen.overlap,
        seen.sizes
    );
    wait_bgsave(&mut r);

    let dir = temp_dir("bgsave-rehash");
    std::fs::copy(s.dir.join("dump.rdb"), dir.join("dump.rdb")).expect("dump.rdb");
    let d = dir.display().to_string();
    let args = ["--dir", d.as_str(), "--dbfilename", "dump.rdb"];
    let mut loaded = vec![Server::start(&args)];
    if have_redis() {
        loaded.push(Server::start_redis(&args));
    }
    for l in &loaded {
        let mut c = l.raw();
        assert_eq!(c.call(&["DBSIZE"]), Frame::Int(TOTAL as i64));
        for lo in (0..BASE).step_by(1000) {
            let keys: Vec<String> = (lo..(lo + 1000).min(BASE))
                .map(|i| format!("orig:{i}"))
                .collect();
            let mut cmds = vec![mget(&keys)];
            cmds.extend(keys.iter().map(|k| cmd(&["TTL", k])));
            let replies = batch(&mut c, &cmds);
            for (j, (v, ttl)) in values(&replies[0]).iter().zip(&replies[1..]).enumerate() {
                let i = lo + j;
                assert_eq!(text(v), format!("value:{i}"), "orig:{i}");
                let t = int(ttl);
                assert!(if i % 7 == 0 { t > 0 } else { t == -1 }, "orig:{i} TTL {t}");
            }
        }
        let pre: Vec<String> = (0..TOTAL - BASE).map(|i| format!("pre:{i}")).collect();
        for (n, chunk) in pre.chunks(5000).enumerate() {
            let replies = batch(&mut c, &[mget(chunk)]);
            for (j, v) in values(&replies[0]).iter().enumerate() {
                assert_eq!(text(v), format!("value:{}", n * 5000 + j));
            }
        }
    }
    drop(loaded);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rehashing(r: &mut Raw) -> bool {
    text(&r.call(&["DEBUG", "HTSTATS", "0"])).contains("rehashing target")
}

/// Reads never move a rehash on; the cron does, unless told not to.
#[test]
fn the_cron_finishes_an_idle_rehash_when_activerehashing_is_on() {
    let s = Server::start(&["--enable-debug-command", "yes", "--activerehashing", "no"]);
    let mut r = s.raw();
    // Just past a doubling: the rehash to 2^17 buckets has barely begun.
    let n = ((1 << 16) + 100).to_string();
    assert_eq!(r.call(&["DEBUG", "POPULATE", &n]), simple("OK"));
    assert!(rehashing(&mut r));
    let ht = text(&r.call(&["DEBUG", "HTSTATS", "0", "full"]));
    assert!(
        ht.contains("Hash table 1 stats (rehashing target):\n table size: 131072\n"),
        "{ht}"
    );
    assert!(ht.contains(" Chain length distribution:\n"), "{ht}");
    // Several cron ticks (hz 10) would finish it.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(r.call(&["GET", "key:7"]), bulk("value:7"));
    assert!(rehashing(&mut r));
    assert_eq!(
        r.call(&["CONFIG", "SET", "activerehashing", "yes"]),
        simple("OK")
    );
    let start = Instant::now();
    while rehashing(&mut r) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the cron never finished the rehash"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let ht = text(&r.call(&["DEBUG", "HTSTATS", "0"]));
    assert_eq!(
        ht,
        "[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: 131072\n number of elements: 65636\n[Expires HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n"
    );
    assert_eq!(r.call(&["DBSIZE"]), Frame::Int(65636));
}
