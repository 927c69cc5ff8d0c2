//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO and
//! the CLIENT family.

use bytes::Bytes;

use super::{
    cmd, container, int_arg, is, Command, ADMIN, ALLOW_BUSY, C_CONNECTION, FAST, LOADING, NOSCRIPT,
    NO_AUTH, NO_KEYS, STALE,
};
use crate::errors::{self, CmdResult, Error};
use crate::server::client::ReplyMode;
use crate::server::Ctx;
use super::client_tracking as ct;

const G: &str = "connection";
const CONN: u32 = LOADING | STALE;

pub static COMMANDS: &[Command] = &[
    cmd(
        "ping",
        -1,
        FAST,
        NO_KEYS,
        C_CONNECTION,
        ping,
        G,
        "1.0.0",
        "Returns the server's liveliness response.",
    ),
    cmd(
        "echo",
        2,
        FAST,
        NO_KEYS,
        C_CONNECTION,
        echo,
        G,
        "1.0.0",
        "Returns the given string.",
    ),
    cmd(
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | CONN | FAST | NO_AUTH,
        NO_KEYS,
        C_CONNECTION,
        quit,
        G,
        "1.0.0",
        "Closes the connection.",
    ),
    cmd(
        "reset",
        1,
        NOSCRIPT | CONN | FAST | NO_AUTH,
        NO_KEYS,
        C_CONNECTION,
        reset,
        G,
        "6.2.0",
        "Resets the connection.",
    ),
    cmd(
        "select",
        2,
        CONN | FAST,
        NO_KEYS,
        C_CONNECTION,
        select,
        G,
        "1.0.0",
        "Changes the selected database.",
    ),
    cmd(
        "auth",
        -2,
        NOSCRIPT | CONN | FAST | NO_AUTH | ALLOW_BUSY,
        NO_KEYS,
        C_CONNECTION,
        auth,
        G,
        "1.0.0",
        "Authenticates the connection.",
    ),
    cmd(
        "hello",
        -1,
        NOSCRIPT | CONN | FAST | NO_AUTH | ALLOW_BUSY,
        NO_KEYS,
        C_CONNECTION,
        hello,
        G,
        "6.0.0",
        "Handshakes with the Redis server.",
    ),
    container(
        "client",
        C_CONNECTION,
        G,
        "2.4.0",
        "A container for client connection commands.",
        CLIENT_SUBS,
    ),
];

const CS: u32 = NOSCRIPT | CONN;

static CLIENT_SUBS: &[Command] = &[
    cmd(
        "client|id",
        2,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_id,
        G,
        "5.0.0",
        "Returns the unique client ID of the connection.",
    ),
    cmd(
        "client|setname",
        3,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_setname,
        G,
        "2.6.9",
        "Sets the connection name.",
    ),
    cmd(
        "client|getname",
        2,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_getname,
        G,
        "2.6.9",
        "Returns the name of the connection.",
    ),
    cmd(
        "client|setinfo",
        4,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_setinfo,
        G,
        "7.2.0",
        "Sets information specific to the client or connection.",
    ),
    cmd(
        "client|list",
        -2,
        ADMIN | CS,
        NO_KEYS,
        C_CONNECTION,
        client_list,
        G,
        "2.4.0",
        "Lists open connections.",
    ),
    cmd(
        "client|info",
        2,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_info,
        G,
        "6.2.0",
        "Returns information about the connection.",
    ),
    cmd(
        "client|kill",
        -3,
        ADMIN | CS,
        NO_KEYS,
        C_CONNECTION,
        client_kill,
        G,
        "2.4.0",
        "Terminates open connections.",
    ),
    cmd(
        "client|reply",
        3,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_reply,
        G,
        "3.2.0",
        "Instructs the server whether to reply to commands.",
    ),
    cmd("client|pause", -3, ADMIN | CS, NO_KEYS, C_CONNECTION, client_pause, G, "3.0.0", "Suspends commands processing."),
    cmd("client|unpause", 2, ADMIN | CS, NO_KEYS, C_CONNECTION, client_unpause, G, "6.2.0", "Resumes processing commands from paused clients."),
    cmd(
        "client|no-evict",
        3,
        ADMIN | CS,
        NO_KEYS,
        C_CONNECTION,
        client_no_evict,
        G,
        "7.0.0",
        "Sets the client eviction mode of the connection.",
    ),
    cmd(
        "client|no-touch",
        3,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_no_touch,
        G,
        "7.2.0",
        "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
    ),
    cmd(
        "client|help",
        2,
        CS,
        NO_KEYS,
        C_CONNECTION,
        client_help,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
    cmd("client|unblock", -3, ADMIN | CS, NO_KEYS, C_CONNECTION, client_unblock, G, "5.0.0", "Unblocks a client blocked by a blocking command from a different connection."),
    cmd("client|tracking", -3, CS, NO_KEYS, C_CONNECTION, ct::client_tracking, G, "6.0.0", "Controls server-assisted client-side caching for the connection."),
    cmd("client|caching", 3, CS, NO_KEYS, C_CONNECTION, ct::client_caching, G, "6.0.0", "Instructs the server whether to track the keys in the next request."),
    cmd("client|getredir", 2, CS, NO_KEYS, C_CONNECTION, ct::client_getredir, G, "6.0.0", "Returns the client ID to which the connection's tracking notifications are redirected."),
    cmd("client|trackinginfo", 2, CS, NO_KEYS, C_CONNECTION, ct::client_trackinginfo, G, "6.2.0", "Returns information about server-assisted client-side caching for the connection."),
];

fn ping(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    // A subscribed RESP2 client gets PING's answer in the message format.
    if ctx.client.resp.get() == 2 && ctx.client.in_pubsub() {
        if a.len() > 2 {
            return Err(errors::wrong_arity("ping"));
        }
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(a.get(1).map_or(&b""[..], |b| &b[..]));
        return Ok(());
    }
    match a.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&a[1]),
        _ => return Err(errors::wrong_arity("ping")),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&a[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.client.close_asap.set(true);
    Ok(())
}

fn reset(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let c = ctx.client;
    *c.multi.borrow_mut() = None;
    ctx.srv.unwatch_all(c);
    ctx.srv.unsubscribe_all(c);
    c.db.set(0);
    c.resp.set(2);
    ctx.out.resp3 = false;
    *c.name.borrow_mut() = None;
    c.reply_mode.set(ReplyMode::On);
    c.no_evict.set(false);
    c.no_touch.set(false);
    if c.monitor.replace(false) {
        ctx.srv.monitors.retain(|&i| i != c.id);
    }
    c.authenticated.set(ctx.srv.auth_on_connect());
    *c.user.borrow_mut() = "default".into();
    ctx.out.simple("RESET");
    Ok(())
}

fn select(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let i = super::generic::db_arg(ctx, &a[1])?;
    ctx.client.db.set(i);
    ctx.out.ok();
    Ok(())
}

/// Logs the client in as `user` if the password opens it; a failure is
/// recorded in ACL LOG.
fn authenticate(ctx: &mut Ctx, user: &[u8], pass: &[u8]) -> CmdResult {
    let name = String::from_utf8_lossy(user);
    if ctx.srv.acl.users().get(name.as_ref()).is_some_and(|u| u.accepts(pass)) {
        ctx.client.authenticated.set(true);
        *ctx.client.user.borrow_mut() = name.into_owned();
        return Ok(());
    }
    let now = ctx.now_ms;
    ctx.srv.log_auth_failure(ctx.client, user, now);
    Err(Error::msg(errors::WRONGPASS))
}

fn auth(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(Error::Syntax);
    }
    if a.len() == 2 && ctx.srv.acl.default_user().is_some_and(|u| u.nopass) {
        return Err(Error::msg(errors::NO_PASSWORD_SET));
    }
    let (user, pass): (&[u8], &[u8]) = if a.len() == 2 {
        (b"default", &a[1])
    } else {
        (&a[1], &a[2])
    };
    authenticate(ctx, user, pass)?;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut ver = None;
    let mut j = 1;
    if a.len() >= 2 {
        let v = crate::util::num::parse_i64(&a[1])
            .ok_or_else(|| Error::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(Error::msg("NOPROTO unsupported protocol version"));
        }
        ver = Some(v as u8);
        j = 2;
    }
    let mut creds: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    while j < a.len() {
        let more = a.len() - j - 1;
        if is(&a[j], "auth") && more >= 2 {
            creds = Some((&a[j + 1], &a[j + 2]));
            j += 3;
        } else if is(&a[j], "setname") && more >= 1 {
            name = Some(&a[j + 1]);
            j += 2;
        } else {
            return Err(errors::quoting(
                "Syntax error in HELLO option '",
                &a[j],
                "'",
            ));
        }
    }
    if let Some((u, p)) = creds {
        authenticate(ctx, u, p)?;
    }
    if creds.is_none() && ctx.srv.requires_auth() && !ctx.client.authenticated.get() {
        return Err(Error::msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(n) = name {
        validate_name(n)?;
    }
    if let Some(n) = name {
        *ctx.client.name.borrow_mut() = (!n.is_empty()).then(|| n.to_vec());
    }
    if let Some(v) = ver {
        ctx.client.resp.set(v);
        ctx.out.resp3 = v == 3;
    }
    let out = &mut *ctx.out;
    out.map(8);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(ctx.client.resp.get() as i64);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    out.bulk(b"redust_version");
    out.bulk(crate::REDUST_VERSION.as_bytes());
    Ok(())
}

fn client_id(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn validate_name(n: &[u8]) -> CmdResult {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Error::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn client_setname(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    validate_name(&a[2])?;
    *ctx.client.name.borrow_mut() = (!a[2].is_empty()).then(|| a[2].to_vec());
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let name = ctx.client.name.borrow().clone();
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let v = &a[3];
    let slot = if is(&a[2], "lib-name") {
        &ctx.client.lib_name
    } else if is(&a[2], "lib-ver") {
        &ctx.client.lib_ver
    } else {
        return Err(errors::quoting("Unrecognized option '", &a[2], "'"));
    };
    if v.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Error::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&a[2]).to_ascii_lowercase()
        )));
    }
    *slot.borrow_mut() = (!v.is_empty()).then(|| v.to_vec());
    ctx.out.ok();
    Ok(())
}

/// CLIENT LIST [TYPE <type> | ID <id> [<id> ...]]: one filter or none.
fn client_list(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    if a.len() == 4 && is(&a[2], "type") {
        let t = &a[3];
        if !["normal", "master", "replica", "slave", "pubsub"]
            .iter()
            .any(|n| is(t, n))
        {
            return Err(errors::quoting("Unknown client type '", t, "'"));
        }
        let kind = crate::server::client::kind_name(t);
        ids = Some(ctx.srv.clients.values().filter(|c| c.kind() == kind).map(|c| c.id).collect());
    } else if a.len() > 3 && is(&a[2], "id") {
        let mut v = Vec::new();
        for x in &a[3..] {
            // Any integer; ids below 1 just match nothing.
            let id = crate::util::num::parse_i64(x)
                .ok_or_else(|| Error::msg("ERR Invalid client ID"))?;
            v.push(id as u64);
        }
        ids = Some(v);
    } else if a.len() != 2 {
        return Err(Error::Syntax);
    }
    let mut text = String::new();
    for (id, c) in &ctx.srv.clients {
        if ids.as_ref().is_some_and(|v| !v.contains(id)) {
            continue;
        }
        if c.id == ctx.client.id {
            text.push_str(&c.info_line_running(a));
        } else {
            text.push_str(&c.info_line());
        }
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut line = ctx.client.info_line_running(a);
    line.push('\n');
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    // Old form: CLIENT KILL addr:port
    if a.len() == 3 {
        let addr = String::from_utf8_lossy(&a[2]).into_owned();
        let target = ctx.srv.clients.values().find(|c| c.addr == addr).cloned();
        return match target {
            Some(c) => {
                c.kill();
                ctx.out.ok();
                Ok(())
            }
            None => Err(Error::msg("ERR No such client")),
        };
    }
    let (mut id, mut addr, mut laddr, mut user, mut maxage) = (None, None, None, None, None);
    let mut kind: Option<&str> = None;
    let mut skipme = true;
    let mut j = 2;
    while j < a.len() {
        if j + 1 >= a.len() {
            return Err(Error::Syntax);
        }
        let v = &a[j + 1];
        let vs = String::from_utf8_lossy(v).into_owned();
        if is(&a[j], "id") {
            id = Some(
                crate::util::num::parse_i64(v)
                    .filter(|&i| i > 0)
                    .ok_or_else(|| Error::msg("ERR client-id should be greater than 0"))?
                    as u64,
            );
        } else if is(&a[j], "addr") {
            addr = Some(vs);
        } else if is(&a[j], "laddr") {
            laddr = Some(vs);
        } else if is(&a[j], "user") {
            if !ctx.srv.acl.users().contains_key(&vs) {
                return Err(errors::quoting("No such user '", v, "'"));
            }
            user = Some(vs);
        } else if is(&a[j], "maxage") {
            maxage = Some(int_arg(v)?);
        } else if is(&a[j], "type") {
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|n| is(v, n))
            {
                return Err(errors::quoting("Unknown client type '", v, "'"));
            }
            kind = Some(crate::server::client::kind_name(v));
        } else if is(&a[j], "skipme") {
            skipme = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(Error::Syntax);
            };
        } else {
            return Err(Error::Syntax);
        }
        j += 2;
    }
    let me = ctx.client.id;
    let victims: Vec<_> = ctx
        .srv
        .clients
        .values()
        .filter(|c| {
            id.is_none_or(|i| c.id == i)
                && addr.as_ref().is_none_or(|x| &c.addr == x)
                && laddr.as_ref().is_none_or(|x| &c.laddr == x)
                && user.as_ref().is_none_or(|u| *c.user.borrow() == *u)
                && maxage.is_none_or(|m| c.created.elapsed().as_secs() as i64 >= m)
                && kind.is_none_or(|k| c.kind() == k)
                && !(skipme && c.id == me)
        })
        .cloned()
        .collect();
    for c in &victims {
        c.kill();
    }
    ctx.out.int(victims.len() as i64);
    Ok(())
}

fn client_reply(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if is(&a[2], "on") {
        ctx.client.reply_mode.set(ReplyMode::On);
        ctx.out.ok();
    } else if is(&a[2], "off") {
        ctx.client.reply_mode.set(ReplyMode::Off);
    } else if is(&a[2], "skip") {
        if ctx.client.reply_mode.get() != ReplyMode::Off {
            ctx.client.reply_mode.set(ReplyMode::SkipNext);
        }
    } else {
        return Err(Error::Syntax);
    }
    Ok(())
}

fn on_off(a: &[u8]) -> Result<bool, Error> {
    if is(a, "on") {
        Ok(true)
    } else if is(a, "off") {
        Ok(false)
    } else {
        Err(Error::Syntax)
    }
}

fn client_no_evict(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ctx.client.no_evict.set(on_off(&a[2])?);
    ctx.out.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    ctx.client.no_touch.set(on_off(&a[2])?);
    ctx.out.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]
fn client_pause(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let ms = crate::util::num::parse_i64(&a[2])
        .ok_or_else(|| Error::msg("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Error::msg("ERR timeout is negative"));
    }
    let all = match a.len() {
        3 => true,
        4 if is(&a[3], "all") => true,
        4 if is(&a[3], "write") => false,
        _ => return Err(Error::msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let until = std::time::Instant::now()
        .checked_add(std::time::Duration::from_millis(ms as u64))
        .unwrap_or_else(|| std::time::Instant::now() + std::time::Duration::from_secs(100 * 365 * 86400));
    ctx.srv.pause(crate::server::pause::Purpose::ClientCommand, until, all);
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.srv.unpause(crate::server::pause::Purpose::ClientCommand);
    ctx.out.ok();
    Ok(())
}

fn client_unblock(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let id = crate::util::num::parse_i64(&a[2]).ok_or(Error::NotInteger)?;
    let as_error = match a.get(3) {
        None => false,
        Some(m) if is(m, "timeout") => false,
        Some(m) if is(m, "error") => true,
        Some(_) => return Err(Error::msg("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    if a.len() > 4 {
        return Err(Error::Syntax);
    }
    let target = ctx.srv.clients.get(&(id as u64)).cloned();
    let Some(t) = target.filter(|t| t.blocked.borrow().is_some()) else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut reply = crate::resp::Out::new(t.resp.get() == 3);
    if as_error {
        ctx.srv.unblock(&t);
        reply.error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        ctx.srv.unblock_timeout(&t, &mut reply);
    }
    t.pending.borrow_mut().extend_from_slice(&reply.buf);
    t.wake.notify_one();
    ctx.out.int(1);
    Ok(())
}

fn client_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    );
    Ok(())
}
