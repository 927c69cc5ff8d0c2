//! MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
//! [AUTH password | AUTH2 username password] [KEYS key ...], and
//! RESTORE-ASKING (RESTORE for cluster slot migration; outside a cluster
//! it is RESTORE).
//!
//! As in Redis, MIGRATE is synchronous: the executor sends the keys' DUMP
//! payloads as RESTORE commands on a plain socket and waits for the
//! target's replies, every read and write bounded by the timeout. The
//! connection to each target is kept for 10 seconds of idleness, with the
//! database it last selected, so a series of MIGRATEs reuses it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    cmd, int_arg, is, Command, KeyFind, Keys, ASKING, C_DANGEROUS, C_KEYSPACE, DENYOOM, KEY1,
    MOVABLE_KEYS, WRITE,
};
use crate::errors::{CmdResult, Error};
use crate::persist::rdb;
use crate::server::{notify, Ctx};

const G: &str = "generic";

pub static COMMANDS: &[Command] = &[
    cmd(
        "migrate",
        -6,
        WRITE | MOVABLE_KEYS,
        Keys {
            first: 3,
            last: 3,
            step: 1,
        },
        C_KEYSPACE | C_DANGEROUS,
        migrate,
        G,
        "2.6.0",
        "Atomically transfers a key from one Redis instance to another.",
    )
    .find_keys(KeyFind::InsteadAfterWord { word: "keys" }),
    cmd(
        "restore-asking",
        -4,
        WRITE | DENYOOM | ASKING,
        KEY1,
        C_KEYSPACE | C_DANGEROUS,
        super::dump::restore,
        "server",
        "3.0.0",
        "An internal command for migrating keys in a cluster.",
    ),
];

/// How long an unused cached connection is kept (Redis's
/// MIGRATE_SOCKET_CACHE_TTL).
const CACHE_TTL: Duration = Duration::from_secs(10);

struct Cached {
    sock: TcpStream,
    last_use: Instant,
}

thread_local! {
    // Only the executor thread runs commands, so this is its cache.
    static CACHE: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

struct Opts {
    copy: bool,
    replace: bool,
    auth: Option<Vec<Bytes>>,
    keys: Vec<Bytes>,
}

fn parse(a: &[Bytes]) -> Result<Opts, Error> {
    let mut o = Opts {
        copy: false,
        replace: false,
        auth: None,
        keys: Vec::new(),
    };
    let mut i = 6;
    while i < a.len() {
        let more = a.len() - i - 1;
        if is(&a[i], "copy") {
            o.copy = true;
        } else if is(&a[i], "replace") {
            o.replace = true;
        } else if is(&a[i], "auth") {
            if more < 1 {
                return Err(Error::Syntax);
            }
            o.auth = Some(vec![a[i + 1].clone()]);
            i += 1;
        } else if is(&a[i], "auth2") {
            if more < 2 {
                return Err(Error::Syntax);
            }
            o.auth = Some(vec![a[i + 1].clone(), a[i + 2].clone()]);
            i += 2;
        } else if is(&a[i], "keys") {
            if !a[3].is_empty() {
                return Err(Error::msg("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"));
            }
            o.keys = a[i + 1..].to_vec();
            break;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if o.keys.is_empty() {
        o.keys.push(a[3].clone());
    }
    Ok(o)
}

fn migrate(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let o = parse(a)?;
    let db = int_arg(&a[4])?;
    let mut timeout = int_arg(&a[5])?;
    if timeout <= 0 {
        timeout = 1000;
    }
    let timeout = Duration::from_millis(timeout as u64);
    // The keys that exist, with their payloads and remaining TTLs.
    let now = ctx.now_ms;
    let mut found: Vec<(Bytes, Vec<u8>, i64)> = Vec::new();
    for k in &o.keys {
        let d = ctx.db();
        let Some(e) = d.lookup(k, now) else { continue };
        let payload = rdb::dump_value(&e.val).map_err(Error::err)?;
        let ttl = d.expire_at(k).map_or(0, |at| (at - now).max(1));
        found.push((k.clone(), payload, ttl));
    }
    if found.is_empty() {
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let target = format!(
        "{}:{}",
        String::from_utf8_lossy(&a[1]),
        String::from_utf8_lossy(&a[2])
    );
    // One retry on a fresh connection when a cached one failed without
    // timing out (the target closed it meanwhile), as Redis does.
    let mut replies = None;
    for attempt in 0..2 {
        let (mut c, reused) = match connect(&target, timeout) {
            Ok(c) => c,
            // Redis connects without waiting, so a refused connection shows
            // up as the write failing.
            Err(Some(std::io::ErrorKind::ConnectionRefused)) => {
                return Err(Error::msg(
                    "IOERR error or timeout writing to target instance",
                ))
            }
            Err(_) => {
                return Err(Error::msg(
                    "IOERR error or timeout connecting to the client",
                ))
            }
        };
        match exchange(&mut c, &o, db, &found, timeout) {
            Ok(r) => {
                c.last_use = Instant::now();
                CACHE.with(|m| m.borrow_mut().insert(target.clone(), c));
                replies = Some(r);
                break;
            }
            Err((what, timed_out)) => {
                if attempt == 0 && reused && !timed_out {
                    continue;
                }
                return Err(Error::msg(format!(
                    "IOERR error or timeout {what} to target instance"
                )));
            }
        }
    }
    let Some(replies) = replies else {
        return Err(Error::msg(
            "IOERR error or timeout reading to target instance",
        ));
    };
    // AUTH and SELECT come first; a failure there moves nothing.
    let skip = o.auth.is_some() as usize + 1;
    let mut first_err: Option<Vec<u8>> = None;
    for r in &replies[..skip] {
        if r.first() == Some(&b'-') {
            first_err = Some(r[1..].to_vec());
            break;
        }
    }
    let mut moved = Vec::new();
    if first_err.is_none() {
        for (r, (k, _, _)) in replies[skip..].iter().zip(&found) {
            if r.first() == Some(&b'-') {
                first_err.get_or_insert_with(|| r[1..].to_vec());
            } else if !o.copy {
                moved.push(k.clone());
            }
        }
    }
    if !moved.is_empty() {
        let d = ctx.db();
        for k in &moved {
            d.remove(k);
        }
        ctx.dirty(moved.len() as u64);
        for k in &moved {
            ctx.notify(notify::GENERIC, "del", k);
        }
        let mut del = vec![Bytes::from_static(b"DEL")];
        del.extend(moved.iter().cloned());
        ctx.propagate(del);
    }
    match first_err {
        Some(e) => {
            let mut m = b"ERR Target instance replied with error: ".to_vec();
            m.extend_from_slice(&e);
            Err(Error::Bytes(m))
        }
        None => {
            ctx.out.ok();
            Ok(())
        }
    }
}

/// The cached connection to `target` (dropping idle ones), or a new one.
fn connect(target: &str, timeout: Duration) -> Result<(Cached, bool), Option<std::io::ErrorKind>> {
    let cached = CACHE.with(|m| {
        let mut m = m.borrow_mut();
        m.retain(|_, c| c.last_use.elapsed() < CACHE_TTL);
        m.remove(target)
    });
    if let Some(c) = cached {
        return Ok((c, true));
    }
    let addr = target
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or(None)?;
    let sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| Some(e.kind()))?;
    sock.set_nodelay(true).map_err(|e| Some(e.kind()))?;
    let last_use = Instant::now();
    Ok((Cached { sock, last_use }, false))
}

/// Sends [AUTH], SELECT and one RESTORE per key, and reads one reply line
/// per command (the first byte tells success from error). Errors name
/// the direction, and whether the timeout expired.
fn exchange(
    c: &mut Cached,
    o: &Opts,
    db: i64,
    keys: &[(Bytes, Vec<u8>, i64)],
    timeout: Duration,
) -> Result<Vec<Vec<u8>>, (&'static str, bool)> {
    let mut buf = Vec::new();
    let mut n = 0;
    if let Some(auth) = &o.auth {
        let mut argv = vec![Bytes::from_static(b"AUTH")];
        argv.extend(auth.iter().cloned());
        crate::persist::aof::argv::encode(&mut buf, &argv);
        n += 1;
    }
    // (Redis skips the SELECT when the cached connection already has the
    // database; sending it every time changes nothing the client sees.)
    crate::persist::aof::argv::encode(
        &mut buf,
        &[Bytes::from_static(b"SELECT"), Bytes::from(db.to_string())],
    );
    n += 1;
    for (k, payload, ttl) in keys {
        let mut argv = vec![
            Bytes::from_static(b"RESTORE"),
            k.clone(),
            Bytes::from(ttl.to_string()),
            Bytes::from(payload.clone()),
        ];
        if o.replace {
            argv.push(Bytes::from_static(b"REPLACE"));
        }
        crate::persist::aof::argv::encode(&mut buf, &argv);
        n += 1;
    }
    let timed_out = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };
    c.sock
        .set_write_timeout(Some(timeout))
        .map_err(|_| ("writing", false))?;
    c.sock
        .set_read_timeout(Some(timeout))
        .map_err(|_| ("reading", false))?;
    c.sock
        .write_all(&buf)
        .map_err(|e| ("writing", timed_out(&e)))?;
    let mut replies = Vec::with_capacity(n);
    let mut pending: Vec<u8> = Vec::new();
    while replies.len() < n {
        if let Some(p) = pending.windows(2).position(|w| w == b"\r\n") {
            replies.push(pending[..p].to_vec());
            pending.drain(..p + 2);
            continue;
        }
        let mut tmp = [0u8; 4096];
        match c.sock.read(&mut tmp) {
            Ok(0) => return Err(("reading", false)),
            Ok(k) => pending.extend_from_slice(&tmp[..k]),
            Err(e) => return Err(("reading", timed_out(&e))),
        }
    }
    Ok(replies)
}
