//! maxmemory and the eviction policies, through a real client.
mod common;
use common::*;
use redust::resp::reply::Frame;

fn info_field(r: &mut Raw, section: &str, field: &str) -> i64 {
    let (Frame::Verbatim(t) | Frame::Bulk(Some(t))) = r.call(&["INFO", section]) else { panic!() };
    let t = String::from_utf8_lossy(&t).to_string();
    t.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {t}"))
}

fn fill(r: &mut Raw, prefix: &str, n: usize, ttl: bool) -> Vec<Frame> {
    let v = "x".repeat(1000);
    let mut replies = Vec::new();
    for i in 0..n {
        let k = format!("{prefix}{i}");
        let reply = if ttl { r.call(&["SET", &k, &v, "EX", "1000"]) } else { r.call(&["SET", &k, &v]) };
        replies.push(reply);
    }
    replies
}

#[test]
fn allkeys_lru_keeps_memory_bounded_and_recent_keys() {
    // The LRU clock ticks in seconds, as Redis's: spread the writes over
    // several seconds and keep touching a hot set between batches.
    let s = Server::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru", "--maxmemory-samples", "10"]);
    let mut r = s.raw();
    fill(&mut r, "old:", 1000, false);
    let v = "y".repeat(1000);
    for batch in 0..10 {
        for h in 0..20 {
            r.call(&["GET", &format!("old:{h}")]);
        }
        for i in 0..1000 {
            assert_eq!(r.call(&["SET", &format!("new:{batch}:{i}"), &v]), simple("OK"));
        }
        std::thread::sleep(std::time::Duration::from_millis(600));
    }
    let used = info_field(&mut r, "memory", "used_memory");
    assert!(used < 6 * 1024 * 1024, "used_memory {used} far over maxmemory");
    assert!(info_field(&mut r, "stats", "evicted_keys") > 5000);
    let hot = (0..20).filter(|h| r.call(&["EXISTS", &format!("old:{h}")]) == Frame::Int(1)).count();
    let cold = (500..1000).filter(|h| r.call(&["EXISTS", &format!("old:{h}")]) == Frame::Int(1)).count();
    assert!(hot >= 15, "recently used keys were evicted: {hot}/20 left");
    assert!(cold < 50, "cold keys survived: {cold}/500");
}

#[test]
fn noeviction_refuses_writes_but_serves_reads_and_deletes() {
    let s = Server::start(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    let mut r = s.raw();
    let replies = fill(&mut r, "k", 5000, false);
    let oom = Frame::Error(b"OOM command not allowed when used memory > 'maxmemory'.".to_vec());
    assert!(replies.contains(&oom), "never refused");
    assert_eq!(r.call(&["GET", "k0"]), bulk(&"x".repeat(1000)));
    assert_eq!(r.call(&["DEL", "k0"]), Frame::Int(1));
    assert_eq!(info_field(&mut r, "stats", "evicted_keys"), 0);
}

#[test]
fn volatile_policies_only_evict_keys_with_ttl() {
    let s = Server::start(&["--maxmemory", "3mb", "--maxmemory-policy", "volatile-lru"]);
    let mut r = s.raw();
    fill(&mut r, "keep:", 1000, false);
    fill(&mut r, "tmp:", 3000, true);
    let kept = (0..1000).filter(|i| r.call(&["EXISTS", &format!("keep:{i}")]) == Frame::Int(1)).count();
    assert_eq!(kept, 1000, "a key without TTL was evicted");
    assert!(info_field(&mut r, "stats", "evicted_keys") > 0);
    // Once no volatile keys are left, writes are refused.
    let replies = fill(&mut r, "more:", 3000, false);
    assert!(replies.iter().any(|f| matches!(f, Frame::Error(e) if e.starts_with(b"OOM"))));
}

#[test]
fn volatile_ttl_evicts_soonest_expiring_first() {
    let s = Server::start(&["--maxmemory", "3mb", "--maxmemory-policy", "volatile-ttl", "--maxmemory-samples", "10"]);
    let mut r = s.raw();
    let v = "x".repeat(1000);
    for i in 0..1500 {
        r.call(&["SET", &format!("short:{i}"), &v, "EX", "100"]);
    }
    for i in 0..1500 {
        r.call(&["SET", &format!("long:{i}"), &v, "EX", "100000"]);
    }
    let short = (0..1500).filter(|i| r.call(&["EXISTS", &format!("short:{i}")]) == Frame::Int(1)).count();
    let long = (0..1500).filter(|i| r.call(&["EXISTS", &format!("long:{i}")]) == Frame::Int(1)).count();
    assert!(long > short, "short-TTL keys should go first (short {short}, long {long})");
}

#[test]
fn lfu_tracks_frequency_and_keeps_hot_keys() {
    let s = Server::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lfu"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "hot", "1"]), simple("OK"));
    for _ in 0..200 {
        r.call(&["GET", "hot"]);
    }
    let Frame::Int(freq) = r.call(&["OBJECT", "FREQ", "hot"]) else { panic!() };
    assert!(freq > 5, "OBJECT FREQ {freq} after 200 reads");
    fill(&mut r, "filler:", 20000, false);
    assert_eq!(r.call(&["EXISTS", "hot"]), Frame::Int(1));
    assert!(info_field(&mut r, "stats", "evicted_keys") > 0);
}

#[test]
fn allkeys_random_and_runtime_policy_change() {
    let s = Server::start(&["--maxmemory-policy", "noeviction"]);
    let mut r = s.raw();
    fill(&mut r, "a", 3000, false);
    assert_eq!(r.call(&["CONFIG", "SET", "maxmemory", "2mb"]), simple("OK"));
    assert!(matches!(r.call(&["SET", "x", "y"]), Frame::Error(e) if e.starts_with(b"OOM")));
    assert_eq!(r.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]), simple("OK"));
    assert_eq!(r.call(&["SET", "x", "y"]), simple("OK"));
    assert!(info_field(&mut r, "stats", "evicted_keys") > 0);
    assert!(info_field(&mut r, "memory", "used_memory") < 3 * 1024 * 1024);
}

#[test]
fn unlink_of_a_huge_set_does_not_stall_other_clients() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let fill = |r: &mut Raw| {
        // 1,000,000 members, added in pipelined batches.
        let mut cmd: Vec<String> = vec!["SADD".into(), "huge".into()];
        for i in 0..1_000_000 {
            cmd.push(format!("member:{i}"));
            if cmd.len() == 10_002 {
                r.call(&cmd);
                cmd.truncate(2);
            }
        }
        assert_eq!(r.call(&["SCARD", "huge"]), Frame::Int(1_000_000));
    };
    fill(&mut r);
    let t = std::time::Instant::now();
    assert_eq!(r.call(&["DEL", "huge"]), Frame::Int(1));
    let del_time = t.elapsed();
    fill(&mut r);
    let t = std::time::Instant::now();
    assert_eq!(r.call(&["UNLINK", "huge"]), Frame::Int(1));
    let unlink_time = t.elapsed();
    assert_eq!(r.call(&["EXISTS", "huge"]), Frame::Int(0));
    // DEL frees a million members before answering; UNLINK hands them to
    // the lazyfree thread.
    assert!(unlink_time * 3 < del_time, "UNLINK {unlink_time:?} vs DEL {del_time:?}");
}

#[test]
fn keyspace_table_does_not_double_into_maxmemory() {
    // A full 65,536-bucket table doubling near maxmemory would take 1 MiB
    // at once and evict thousands of keys to pay for it; as in Redis, the
    // table runs fuller instead (up to 1.618 keys per bucket).
    let s = Server::start(&["--maxmemory-policy", "allkeys-random", "--enable-debug-command", "yes"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["DEBUG", "POPULATE", "65536"]), simple("OK"));
    let buckets = |r: &mut Raw| -> i64 {
        let (Frame::Verbatim(t) | Frame::Bulk(Some(t))) = r.call(&["DEBUG", "HTSTATS", "0"]) else { panic!() };
        let t = String::from_utf8_lossy(&t).to_string();
        t.lines()
            .find_map(|l| l.trim().strip_prefix("table size: "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no table size in {t}"))
    };
    assert_eq!(buckets(&mut r), 65536);
    let max = info_field(&mut r, "memory", "used_memory") + 256 * 1024;
    assert_eq!(r.call(&["CONFIG", "SET", "maxmemory", &max.to_string()]), simple("OK"));
    for i in 0..3000 {
        assert_eq!(r.call(&["SET", &format!("extra:{i}"), "v"]), simple("OK"));
    }
    assert_eq!(info_field(&mut r, "stats", "evicted_keys"), 0);
    assert_eq!(r.call(&["DBSIZE"]), Frame::Int(68536));
    assert_eq!(buckets(&mut r), 65536);
}
