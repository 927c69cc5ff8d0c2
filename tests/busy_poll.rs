//! busy-poll-usec: under heavy load the server polls instead of sleeping,
//! and it must stop doing so the moment the load goes, or at low rates
//! it would burn a core for nothing. Throughput is measured in
//! benches/ratio.py; these tests hold the CPU side.

mod common;
mod helpers;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use helpers::cpu_time;
use redust::resp::reply::Frame;

fn pid(s: &Server) -> u32 {
    s.child.as_ref().expect("running").id()
}

/// CPU the server used over `span` of wall time, as a share of one core.
fn cpu_share_over(s: &Server, span: Duration, during: impl FnOnce()) -> f64 {
    let (c0, t0) = (cpu_time(pid(s)), Instant::now());
    during();
    let rest = span.saturating_sub(t0.elapsed());
    std::thread::sleep(rest);
    (cpu_time(pid(s)) - c0).as_secs_f64() / t0.elapsed().as_secs_f64()
}

#[test]
fn server_stops_polling_when_heavy_load_ends() {
    if !have_program("redis-benchmark") {
        eprintln!("skipped: redis-benchmark is not installed (scripts/test.sh installs it)");
        return;
    }
    let s = Server::start(&[]);
    // 50 clients without pipelining: the load under which the loop polls.
    let status = Command::new("redis-benchmark")
        .args(["-p", &s.port.to_string(), "-t", "set,get", "-n", "200000"])
        .args(["-c", "50", "-r", "100000", "-q"])
        .stdout(Stdio::null())
        .status()
        .expect("run redis-benchmark");
    assert!(status.success());
    // Idle again: only the cron's ticks (hz 10) may use CPU. A poller
    // that kept spinning would show as ~100% of a core.
    let share = cpu_share_over(&s, Duration::from_secs(2), || {});
    eprintln!("idle after load: {:.1}% of a core", share * 100.0);
    assert!(
        share < 0.05,
        "idle server used {:.1}% of a core",
        share * 100.0
    );
}

#[test]
fn a_lightly_loaded_server_does_not_spin() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut n = 0u64;
    // About 2,000 requests a second, one at a time: the loop is idle most
    // of the time and must sleep through the gaps, not poll them (~4% of a
    // core; a server that polled 50 us after every request used 14%).
    let share = cpu_share_over(&s, Duration::from_secs(2), || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1900) {
            assert_eq!(r.call(&["SET", "k", "v"]), simple("OK"));
            n += 1;
            std::thread::sleep(Duration::from_micros(300));
        }
    });
    eprintln!("{n} paced requests: {:.1}% of a core", share * 100.0);
    assert!(n > 1000, "only {n} requests");
    assert!(
        share < 0.1,
        "{n} paced requests cost {:.0}% of a core",
        share * 100.0
    );
}

#[test]
fn busy_poll_usec_is_a_runtime_setting() {
    let s = Server::start(&["--busy-poll-usec", "20"]);
    let mut r = s.raw();
    let get = |r: &mut Raw| r.call(&["CONFIG", "GET", "busy-poll-usec"]);
    assert_eq!(
        get(&mut r),
        Frame::Array(Some(vec![bulk("busy-poll-usec"), bulk("20")]))
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "busy-poll-usec", "0"]),
        simple("OK")
    );
    assert_eq!(
        get(&mut r),
        Frame::Array(Some(vec![bulk("busy-poll-usec"), bulk("0")]))
    );
    assert!(matches!(
        r.call(&["CONFIG", "SET", "busy-poll-usec", "-1"]),
        Frame::Error(_)
    ));
    assert_eq!(r.call(&["PING"]), simple("PONG"));
}
