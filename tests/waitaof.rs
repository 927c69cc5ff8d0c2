//! WAITAOF numlocal numreplicas timeout (Redis 7.2): the local AOF's fsync
//! with appendfsync always (at once) and everysec (within about a second),
//! its errors, replicas that report their fsynced offset (Redust replicas
//! with an AOF send REPLCONF ACK ... FACK) and ones that do not (without
//! an AOF, or a real Redis 7.0 replica), timeouts and MULTI.

mod common;

use std::time::{Duration, Instant};

use common::{err, have_redis, Raw, Server};
use redust::resp::reply::Frame;

fn pair(local: i64, replicas: i64) -> Frame {
    Frame::Array(Some(vec![Frame::Int(local), Frame::Int(replicas)]))
}

fn field(c: &mut Raw, section: &str, name: &str) -> Option<String> {
    let Frame::Bulk(Some(b)) = c.call(&["INFO", section]) else {
        return None;
    };
    let prefix = format!("{name}:");
    String::from_utf8_lossy(&b)
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A replica of `primary` whose link is up and that has caught up.
fn replica_of(primary: &Server, extra: &[&str], redis: bool) -> Server {
    let p = primary.port.to_string();
    let mut args = vec!["--replicaof", "127.0.0.1", &p];
    args.extend_from_slice(extra);
    let r = if redis {
        Server::start_redis(&args)
    } else {
        Server::start(&args)
    };
    let mut c = r.raw();
    wait_for("the replica's link", Duration::from_secs(20), || {
        field(&mut c, "replication", "master_link_status").as_deref() == Some("up")
    });
    r
}

#[test]
fn errors_and_aof_off() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let no_aof = "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.";
    assert_eq!(c.call(&["SET", "k", "v"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(c.call(&["WAITAOF", "1", "0", "0"]), err(no_aof));
    assert_eq!(c.call(&["WAITAOF", "0", "0", "0"]), pair(0, 0));
    // Arguments are checked in order before the appendonly check.
    let cases: &[(&[&str], &str)] = &[
        (
            &["WAITAOF", "2", "0", "0"],
            "ERR value is out of range, value must between 0 and 1",
        ),
        (
            &["WAITAOF", "-1", "0", "0"],
            "ERR value is out of range, value must between 0 and 1",
        ),
        (
            &["WAITAOF", "x", "0", "0"],
            "ERR value is not an integer or out of range",
        ),
        (
            &["WAITAOF", "1", "-1", "0"],
            "ERR value is out of range, must be positive",
        ),
        (&["WAITAOF", "1", "0", "-5"], "ERR timeout is negative"),
        (
            &["WAITAOF", "1", "0", "x"],
            "ERR timeout is not an integer or out of range",
        ),
        (
            &["WAITAOF", "1", "0"],
            "ERR wrong number of arguments for 'waitaof' command",
        ),
    ];
    for (call, e) in cases {
        assert_eq!(c.call(call), err(e), "{call:?}");
    }
    // Lua cannot call it (noscript).
    let Frame::Error(e) = c.call(&["EVAL", "return redis.call('waitaof', 0, 0, 0)", "0"]) else {
        panic!("WAITAOF ran in a script")
    };
    assert!(
        String::from_utf8_lossy(&e).contains("This Redis command is not allowed from script"),
        "{e:?}"
    );
}

#[test]
fn local_fsync_always_and_everysec() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = s.raw();
    // Nothing written yet: nothing to wait for.
    assert_eq!(c.call(&["WAITAOF", "1", "0", "0"]), pair(1, 0));
    // always: fsynced before the write's reply, even pipelined.
    c.send_bytes(b"INCR foo\r\nWAITAOF 1 0 0\r\n");
    assert_eq!(c.read(), Frame::Int(1));
    assert_eq!(c.read(), pair(1, 0));
    // No replicas: a request for one times out with what is done.
    let t = Instant::now();
    assert_eq!(c.call(&["WAITAOF", "1", "1", "100"]), pair(1, 0));
    assert!(
        t.elapsed() >= Duration::from_millis(90),
        "{:?}",
        t.elapsed()
    );

    assert_eq!(
        c.call(&["CONFIG", "SET", "appendfsync", "everysec"]),
        Frame::Simple(b"OK".to_vec())
    );
    for i in 2..4 {
        let t = Instant::now();
        c.send_bytes(b"INCR foo\r\nWAITAOF 1 0 0\r\n");
        assert_eq!(c.read(), Frame::Int(i));
        assert_eq!(c.read(), pair(1, 0));
        // The fsync thread runs once a second (generous for a loaded box).
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }
    // Inside MULTI it does not block: the state now, for the writes
    // before the transaction (its own are propagated at EXEC, as in Redis).
    c.send_bytes(b"MULTI\r\nINCR foo\r\nWAITAOF 1 0 0\r\nEXEC\r\n");
    for _ in 0..3 {
        c.read();
    }
    assert_eq!(
        c.read(),
        Frame::Array(Some(vec![Frame::Int(4), pair(1, 0)]))
    );
    assert_eq!(c.call(&["WAITAOF", "1", "0", "0"]), pair(1, 0));

    // Switching the AOF off releases a waiting client with the error.
    let mut b = s.raw();
    b.send_bytes(b"INCR foo\r\nWAITAOF 1 0 0\r\n");
    assert_eq!(b.read(), Frame::Int(5));
    let mut a = s.raw();
    // The everysec fsync may have answered already; that is fine too.
    assert_eq!(
        a.call(&["CONFIG", "SET", "appendonly", "no"]),
        Frame::Simple(b"OK".to_vec())
    );
    let r = b.read();
    assert!(
        r == pair(1, 0)
            || r == err(
                "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."
            ),
        "{r:?}"
    );
}

#[test]
fn replicas_report_their_fsyncs() {
    let primary = Server::start(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let with_aof = replica_of(
        &primary,
        &["--appendonly", "yes", "--appendfsync", "everysec"],
        false,
    );
    let mut c = primary.raw();
    let t = Instant::now();
    c.send_bytes(b"SET a 1\r\nWAITAOF 1 1 0\r\n");
    assert_eq!(c.read(), Frame::Simple(b"OK".to_vec()));
    assert_eq!(c.read(), pair(1, 1));
    // The replica's fsync (once a second) and its next ACK.
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());

    let mut r = with_aof.raw();
    assert_eq!(
        r.call(&["WAITAOF", "0", "0", "0"]),
        err("ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.")
    );

    // A replica without an AOF acknowledges the data but no fsync.
    // (With appendfsync always the replica's ACK right after applying
    // carries the new fsynced offset.)
    assert_eq!(
        r.call(&["CONFIG", "SET", "appendfsync", "always"]),
        Frame::Simple(b"OK".to_vec())
    );
    let without = replica_of(&primary, &[], false);
    // (One command at a time after a blocking one: a reply that arrives
    // while blocked is written after the replies of the commands
    // pipelined behind it, src/net/conn.rs.)
    assert_eq!(c.call(&["SET", "b", "2"]), Frame::Simple(b"OK".to_vec()));
    assert_eq!(c.call(&["WAIT", "2", "10000"]), Frame::Int(2));
    assert_eq!(c.call(&["WAITAOF", "1", "1", "0"]), pair(1, 1));
    assert_eq!(c.call(&["WAITAOF", "0", "2", "300"]), pair(1, 1));
    drop(without);

    // A real Redis 7.0 replica sends no FACK: never counted as fsynced.
    if have_redis() {
        let real = replica_of(
            &primary,
            &["--appendonly", "yes", "--appendfsync", "always"],
            true,
        );
        assert_eq!(c.call(&["SET", "c", "3"]), Frame::Simple(b"OK".to_vec()));
        assert_eq!(c.call(&["WAIT", "2", "10000"]), Frame::Int(2));
        assert_eq!(c.call(&["WAITAOF", "0", "2", "300"]), pair(1, 1));
        drop(real);
    }
}

/// A WAITAOF released by a role change (REPLICAOF) gets Redis's UNBLOCKED
/// error, and its leftover wait answers nothing the client runs later.
#[test]
fn role_change_releases_waitaof() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "everysec"]);
    let mut admin = s.raw();
    let mut c = s.raw();
    // Blocks until the everysec fsync, up to a second.
    c.send_bytes(b"INCR foo\r\nWAITAOF 1 0 0\r\n");
    assert_eq!(c.read(), Frame::Int(1));
    let dead = common::free_port().to_string();
    assert_eq!(
        admin.call(&["REPLICAOF", "127.0.0.1", &dead]),
        Frame::Simple(b"OK".to_vec())
    );
    let r = c.read();
    if r == pair(1, 0) {
        eprintln!("the fsync came first; nothing left to check");
        return;
    }
    assert_eq!(
        r,
        err("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")
    );
    assert_eq!(
        admin.call(&["REPLICAOF", "NO", "ONE"]),
        Frame::Simple(b"OK".to_vec())
    );
    c.send(&["BLPOP", "l", "0"]);
    wait_for("the blocked client", Duration::from_secs(10), || {
        field(&mut admin, "clients", "blocked_clients").as_deref() == Some("1")
    });
    // The fsync of INCR happens meanwhile: the old wait, were it still
    // around, would answer BLPOP with [1, 0].
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(admin.call(&["RPUSH", "l", "v"]), Frame::Int(1));
    assert_eq!(
        c.read(),
        Frame::Array(Some(vec![
            Frame::Bulk(Some(b"l".to_vec())),
            Frame::Bulk(Some(b"v".to_vec()))
        ]))
    );
}

/// no-appendfsync-on-rewrite yes: while a BGSAVE runs, writes reach the
/// AOF without fsync even with appendfsync always, so WAITAOF 1 times out;
/// once the save is over the fsync follows. With the directive off the
/// same write is fsynced at once.
#[test]
fn no_appendfsync_on_rewrite_holds_fsyncs_during_a_save() {
    let s = Server::start(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--enable-debug-command",
        "yes",
    ]);
    let mut c = s.raw();
    let ok = Frame::Simple(b"OK".to_vec());
    // Enough data for a save that lasts well beyond the WAITAOF below.
    assert_eq!(c.call(&["DEBUG", "POPULATE", "1500000", "key", "100"]), ok);
    let saving =
        |c: &mut Raw| field(c, "persistence", "rdb_bgsave_in_progress").as_deref() == Some("1");
    let rewriting =
        |c: &mut Raw| field(c, "persistence", "aof_rewrite_in_progress").as_deref() == Some("1");
    wait_for("the first AOF rewrite", Duration::from_secs(30), || {
        !rewriting(&mut c)
    });
    for (hold, want) in [("no", pair(1, 0)), ("yes", pair(0, 0))] {
        assert_eq!(
            c.call(&["CONFIG", "SET", "no-appendfsync-on-rewrite", hold]),
            ok
        );
        // A save that ended before WAITAOF returned proves nothing: retry.
        let mut seen = false;
        for _ in 0..5 {
            wait_for("the previous save", Duration::from_secs(30), || {
                !saving(&mut c)
            });
            assert_eq!(
                c.call(&["BGSAVE"]),
                Frame::Simple(b"Background saving started".to_vec())
            );
            assert_eq!(c.call(&["SET", "during", hold]), ok);
            let got = c.call(&["WAITAOF", "1", "0", "100"]);
            if saving(&mut c) {
                assert_eq!(got, want, "no-appendfsync-on-rewrite {hold}");
                seen = true;
                break;
            }
        }
        assert!(seen, "every save ended within 100 ms");
        wait_for("the save", Duration::from_secs(30), || !saving(&mut c));
        // Afterwards the held write is fsynced (by the once-a-second thread).
        assert_eq!(c.call(&["WAITAOF", "1", "0", "5000"]), pair(1, 0));
    }
}
