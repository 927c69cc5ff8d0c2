//! Failover by an unmodified Redis Sentinel (Debian's redis-sentinel): three
//! sentinels watch one Redust primary and two Redust replicas on loopback.
//! The primary is killed while a client that finds the primary through
//! Sentinel keeps writing; Sentinel promotes a replica (REPLICAOF NO ONE
//! inside MULTI/EXEC with CONFIG REWRITE and CLIENT KILL), repoints the
//! other, and no write acknowledged by WAIT 1 is lost.
mod common;
mod helpers;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use helpers::*;
use redust::resp::reply::Frame;

struct Sentinel {
    port: u16,
    child: Child,
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sentinel(dir: &std::path::Path, i: usize, primary: u16) -> Sentinel {
    let port = free_port();
    let conf = write_file(
        dir,
        &format!("sentinel{i}.conf"),
        &format!(
            "port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/sentinel{i}.log\n\
             sentinel monitor mymaster 127.0.0.1 {primary} 2\n\
             sentinel down-after-milliseconds mymaster 1000\n\
             sentinel failover-timeout mymaster 6000\n\
             sentinel parallel-syncs mymaster 2\n",
            d = dir.display()
        ),
    );
    let child = Command::new("redis-sentinel")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-sentinel");
    let s = Sentinel { port, child };
    assert!(
        wait_until(Duration::from_secs(10), || std::net::TcpStream::connect((
            "127.0.0.1",
            port
        ))
        .is_ok()),
        "sentinel {i} did not start"
    );
    s
}

/// The primary's port as Sentinel `s` reports it.
fn primary_from(s: u16) -> Option<u16> {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", s)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    use std::io::{Read, Write};
    c.write_all(b"*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$8\r\nmymaster\r\n")
        .ok()?;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 512];
    loop {
        if let Ok(Some((f, _))) = redust::resp::reply::read_frame(&buf) {
            return match f {
                Frame::Array(Some(v)) if v.len() == 2 => match &v[1] {
                    Frame::Bulk(Some(p)) => String::from_utf8_lossy(p).parse().ok(),
                    _ => None,
                },
                _ => None,
            };
        }
        let n = c.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

fn connect(port: u16) -> Option<redis::Connection> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).ok()?;
    let conn = c.get_connection_with_timeout(Duration::from_secs(1)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    conn.set_write_timeout(Some(Duration::from_secs(3))).ok()?;
    Some(conn)
}

fn replica(dir: &std::path::Path, name: &str, primary: Option<u16>) -> Server {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).expect("dir");
    let mut conf = "save \"\"\nbind 127.0.0.1\nrepl-timeout 5\n".to_string();
    if let Some(p) = primary {
        conf.push_str(&format!("replicaof 127.0.0.1 {p}\n"));
    }
    let conf = write_file(&d, "redis.conf", &conf);
    let log = d.join("server.log");
    let c = conf.display().to_string();
    let l = log.display().to_string();
    let dd = d.display().to_string();
    start_exact(redust_bin(), &d, &log, &[&c, "--logfile", &l, "--dir", &dd])
}

fn role_of(port: u16) -> String {
    let mut r = Raw::connect(port);
    info_field(&info(&mut r, &["replication"]), "role").unwrap_or_default()
}

#[test]
fn sentinel_fails_over_without_losing_acknowledged_writes() {
    if !have_program("redis-sentinel") {
        eprintln!("redis-sentinel not installed; skipping");
        return;
    }
    let (dir, _g) = scratch_dir("sentinel");
    let mut primary = replica(&dir, "p", None);
    let r1 = replica(&dir, "r1", Some(primary.port));
    let r2 = replica(&dir, "r2", Some(primary.port));
    for r in [&r1, &r2] {
        assert!(wait_until(Duration::from_secs(20), || {
            let mut c = Raw::connect(r.port);
            info_field(&info(&mut c, &["replication"]), "master_link_status").as_deref()
                == Some("up")
        }));
    }
    let sentinels: Vec<Sentinel> = (0..3)
        .map(|i| start_sentinel(&dir, i, primary.port))
        .collect();
    // Sentinels must have found the replicas and each other before the
    // primary goes away.
    assert!(
        wait_until(Duration::from_secs(30), || {
            sentinels.iter().all(|s| {
                let mut c = Raw::connect(s.port);
                match c.call(&["SENTINEL", "MASTER", "mymaster"]) {
                    Frame::Array(Some(v)) => {
                        let kv: BTreeMap<String, String> = v
                            .chunks(2)
                            .filter_map(|p| match (&p[0], p.get(1)) {
                                (Frame::Bulk(Some(k)), Some(Frame::Bulk(Some(v)))) => Some((
                                    String::from_utf8_lossy(k).into_owned(),
                                    String::from_utf8_lossy(v).into_owned(),
                                )),
                                _ => None,
                            })
                            .collect();
                        kv.get("num-slaves").map(String::as_str) == Some("2")
                            && kv.get("num-other-sentinels").map(String::as_str) == Some("2")
                    }
                    _ => false,
                }
            })
        }),
        "sentinels did not discover the group; logs in {}",
        dir.display()
    );
    let ports: Vec<u16> = sentinels.iter().map(|s| s.port).collect();
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = std::thread::spawn({
        let (acked, stop, ports) = (acked.clone(), stop.clone(), ports.clone());
        move || {
            let mut conn: Option<(u16, redis::Connection)> = None;
            let mut i = 0u64;
            let mut errors = 0u64;
            while !stop.load(Ordering::SeqCst) {
                if conn.is_none() {
                    let p = ports.iter().find_map(|&s| primary_from(s));
                    conn = p.and_then(|p| connect(p).map(|c| (p, c)));
                    if conn.is_none() {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                }
                let Some((port, c)) = conn.as_mut() else {
                    continue;
                };
                i += 1;
                let r: redis::RedisResult<i64> = redis::cmd("SET")
                    .arg(format!("w:{i}"))
                    .arg(i)
                    .query::<()>(c)
                    .and_then(|()| redis::cmd("WAIT").arg(1).arg(1000).query(c));
                match r {
                    Ok(n) if n >= 1 => acked.lock().expect("lock").push(i),
                    Ok(_) => {}
                    Err(e) => {
                        // A demoted primary answers READONLY: ask Sentinel again.
                        errors += 1;
                        let _ = (port, e);
                        conn = None;
                    }
                }
            }
            errors
        }
    });
    assert!(wait_until(Duration::from_secs(20), || acked
        .lock()
        .expect("lock")
        .len()
        >= 50));
    let old = primary.port;
    let killed_at = Instant::now();
    primary.stop();
    // A new primary, found through Sentinel, acknowledges writes again.
    let before = acked.lock().expect("lock").len();
    let failed_over = wait_until(Duration::from_secs(40), || {
        let p = ports.iter().find_map(|&s| primary_from(s));
        p.is_some_and(|p| p != old) && acked.lock().expect("lock").len() >= before + 50
    });
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    assert!(failed_over, "no failover; logs in {}", dir.display());
    eprintln!(
        "failover: writes acknowledged again after {:?}",
        killed_at.elapsed()
    );
    let new = primary_from(ports[0]).expect("primary");
    let (promoted, other) = if new == r1.port {
        (&r1, &r2)
    } else {
        (&r2, &r1)
    };
    assert_eq!(new, promoted.port);
    assert_eq!(role_of(promoted.port), "master");
    // The other replica follows the new primary and has everything.
    assert!(
        wait_until(Duration::from_secs(20), || {
            let mut c = Raw::connect(other.port);
            let i = info(&mut c, &["replication"]);
            info_field(&i, "master_port") == Some(new.to_string())
                && info_field(&i, "master_link_status").as_deref() == Some("up")
        }),
        "the other replica was not repointed"
    );
    let mut c = connect(promoted.port).expect("connect");
    let acked = acked.lock().expect("lock").clone();
    for i in &acked {
        let v: Option<u64> = redis::cmd("GET")
            .arg(format!("w:{i}"))
            .query(&mut c)
            .expect("get");
        assert_eq!(v, Some(*i), "acknowledged write w:{i} lost");
    }
    let mut o = connect(other.port).expect("connect");
    assert!(wait_until(Duration::from_secs(10), || {
        let a: i64 = redis::cmd("DBSIZE").query(&mut c).expect("dbsize");
        let b: i64 = redis::cmd("DBSIZE").query(&mut o).expect("dbsize");
        a == b
    }));
    // Sentinel rewrote the promoted server's config file: no replicaof.
    let conf = std::fs::read_to_string(promoted.dir.join("redis.conf")).expect("conf");
    assert!(!conf.contains("replicaof"), "{conf}");
}
