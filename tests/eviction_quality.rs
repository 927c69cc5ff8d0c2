//! Eviction quality next to real Redis: the same cache-aside access pattern
//! (a hot set read most of the time, a long cold tail) against both servers
//! with the same memory budget above their own baseline, reporting the hit
//! rate of each. Also the two volatile policies tests/eviction.rs leaves out.
mod common;
use common::*;
use redust::resp::reply::Frame;

fn info_field(r: &mut Raw, section: &str, field: &str) -> i64 {
    let (Frame::Verbatim(t) | Frame::Bulk(Some(t))) = r.call(&["INFO", section]) else {
        panic!()
    };
    let t = String::from_utf8_lossy(&t).to_string();
    t.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {t}"))
}

/// xorshift64*: the same key sequence for both servers.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const KEYS: u64 = 20_000;
const HOT: u64 = 1_000;
const BUDGET: i64 = 3 * 1024 * 1024;

/// Runs the pattern on one server and returns (hit rate, used_memory over
/// the limit at the end). Rounds are spread over seconds because the LRU
/// clock of both servers ticks once a second.
fn hit_rate(s: &Server, policy: &str) -> (f64, i64) {
    let mut r = s.raw();
    let base = info_field(&mut r, "memory", "used_memory");
    let limit = (base + BUDGET).to_string();
    assert_eq!(
        r.call(&["CONFIG", "SET", "maxmemory-policy", policy]),
        simple("OK")
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "maxmemory-samples", "5"]),
        simple("OK")
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "maxmemory", &limit]),
        simple("OK")
    );
    let value = "v".repeat(500);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut hits, mut gets) = (0u64, 0u64);
    for round in 0..8 {
        for _ in 0..10 {
            let keys: Vec<String> = (0..500)
                .map(|_| {
                    let x = rng.next();
                    let k = if x % 10 < 8 {
                        (x >> 8) % HOT
                    } else {
                        HOT + (x >> 8) % (KEYS - HOT)
                    };
                    format!("key:{k}")
                })
                .collect();
            for k in &keys {
                r.send(&["GET", k]);
            }
            let replies: Vec<Frame> = keys.iter().map(|_| r.read()).collect();
            let missed: Vec<&String> = keys
                .iter()
                .zip(&replies)
                .filter(|(_, f)| matches!(f, Frame::Bulk(None) | Frame::Null))
                .map(|(k, _)| k)
                .collect();
            // Only rounds after the warm-up count.
            if round >= 2 {
                gets += keys.len() as u64;
                hits += (keys.len() - missed.len()) as u64;
            }
            for k in &missed {
                r.send(&["SET", k, &value]);
            }
            for _ in &missed {
                assert_eq!(r.read(), simple("OK"));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let over = info_field(&mut r, "memory", "used_memory") - (base + BUDGET);
    (hits as f64 / gets as f64, over)
}

#[test]
fn lru_and_lfu_hit_rates_match_redis_on_a_hot_set_pattern() {
    if !have_redis() {
        eprintln!("skipped: redis-server is not installed (scripts/test.sh installs it)");
        return;
    }
    let runs: Vec<_> = ["allkeys-lru", "allkeys-lfu"]
        .into_iter()
        .flat_map(|p| [(p, true), (p, false)])
        .map(|(policy, redust)| {
            std::thread::spawn(move || {
                let s = if redust {
                    Server::start(&[])
                } else {
                    Server::start_redis(&[])
                };
                (policy, redust, hit_rate(&s, policy))
            })
        })
        .collect();
    let results: Vec<_> = runs.into_iter().map(|h| h.join().expect("run")).collect();
    for policy in ["allkeys-lru", "allkeys-lfu"] {
        let get = |redust| {
            results
                .iter()
                .find(|(p, r, _)| *p == policy && *r == redust)
                .map(|(_, _, x)| *x)
                .unwrap()
        };
        let ((ours, our_over), (theirs, _)) = (get(true), get(false));
        eprintln!("{policy}: hit rate redust {:.3}, redis {:.3}", ours, theirs);
        // The hot set fits in the budget many times over: both must keep it.
        assert!(ours > 0.75, "{policy}: redust hit rate {ours:.3}");
        assert!(
            ours >= theirs - 0.05,
            "{policy}: redust {ours:.3} vs redis {theirs:.3}"
        );
        assert!(
            our_over < 256 * 1024,
            "{policy}: used_memory {our_over} bytes over maxmemory"
        );
    }
}

#[test]
fn volatile_lfu_and_volatile_random_spare_persistent_keys() {
    for policy in ["volatile-lfu", "volatile-random"] {
        let s = Server::start(&["--maxmemory", "3mb", "--maxmemory-policy", policy]);
        let mut r = s.raw();
        let v = "x".repeat(1000);
        for i in 0..800 {
            assert_eq!(r.call(&["SET", &format!("keep:{i}"), &v]), simple("OK"));
        }
        for i in 0..3000 {
            r.call(&["SET", &format!("tmp:{i}"), &v, "EX", "1000"]);
        }
        let kept = (0..800)
            .filter(|i| r.call(&["EXISTS", &format!("keep:{i}")]) == Frame::Int(1))
            .count();
        assert_eq!(kept, 800, "{policy}: a key without TTL was evicted");
        assert!(
            info_field(&mut r, "stats", "evicted_keys") > 1000,
            "{policy}: too few evictions"
        );
        assert!(info_field(&mut r, "memory", "used_memory") <= 3 * 1024 * 1024 + 64 * 1024);
        // No volatile key left to evict: denyoom commands are refused.
        r.call(&["FLUSHALL"]);
        for i in 0..4000 {
            r.call(&["SET", &format!("p:{i}"), &v]);
        }
        // A resize finished by the cron frees the old bucket table, which
        // can make room for a few more keys: keep writing until refused.
        let oom = Frame::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec());
        let reply = (0..200)
            .map(|i| r.call(&["SET", &format!("one-more:{i}"), &v]))
            .find(|reply| *reply != simple("OK"));
        assert_eq!(reply, Some(oom), "{policy}");
        assert_eq!(
            r.call(&["GET", "p:0"]),
            bulk(&v),
            "{policy}: reads still work"
        );
    }
}
