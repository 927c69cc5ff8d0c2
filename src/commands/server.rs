//! Server commands: COMMAND, CONFIG, INFO, TIME, DEBUG, SHUTDOWN, LASTSAVE.

use bytes::Bytes;

use super::{
    cmd, container, is, table, Command, ADMIN, ALLOW_BUSY, C_CONNECTION, C_DANGEROUS, FAST,
    LOADING, NOSCRIPT, NO_KEYS, NO_MULTI, STALE,
};
use crate::config::{self, file, D, TABLE};
use crate::errors::{CmdResult, Error};
use crate::server::{Ctx, ShutdownMode};

const G: &str = "server";
const LS: u32 = LOADING | STALE;

pub static COMMANDS: &[Command] = &[
    cmd(
        "command",
        -1,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_all,
        G,
        "2.8.13",
        "Returns detailed information about all commands.",
    ),
    container(
        "config",
        0,
        G,
        "2.0.0",
        "A container for server configuration commands.",
        CONFIG_SUBS,
    ),
    cmd(
        "info",
        -1,
        LS,
        NO_KEYS,
        C_DANGEROUS,
        info,
        G,
        "1.0.0",
        "Returns information and statistics about the server.",
    ),
    cmd(
        "time",
        1,
        LS | FAST,
        NO_KEYS,
        0,
        time,
        G,
        "2.6.0",
        "Returns the server time.",
    ),
    cmd("save", 1, ADMIN | NOSCRIPT | NO_MULTI, NO_KEYS, 0, save, G, "1.0.0", "Synchronously saves the database(s) to disk."),
    cmd("bgrewriteaof", 1, ADMIN | NOSCRIPT, NO_KEYS, 0, bgrewriteaof, G, "1.0.0", "Asynchronously rewrites the append-only file to disk."),
    cmd("bgsave", -1, ADMIN | NOSCRIPT, NO_KEYS, 0, bgsave, G, "1.0.0", "Asynchronously saves the database(s) to disk."),
    cmd(
        "lastsave",
        1,
        LS | FAST,
        NO_KEYS,
        super::C_ADMIN | super::C_DANGEROUS,
        lastsave,
        G,
        "1.0.0",
        "Returns the Unix timestamp of the last successful save to disk.",
    ),
    cmd(
        "debug",
        -2,
        ADMIN | NOSCRIPT | LS,
        NO_KEYS,
        0,
        debug,
        G,
        "1.0.0",
        "A container for debugging commands.",
    ),
    cmd(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LS | NO_MULTI | ALLOW_BUSY,
        NO_KEYS,
        0,
        shutdown,
        G,
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
    ),
];

static CONFIG_SUBS: &[Command] = &[
    cmd(
        "config|get",
        -3,
        ADMIN | NOSCRIPT | LS,
        NO_KEYS,
        0,
        config_get,
        G,
        "2.0.0",
        "Returns the effective values of configuration parameters.",
    ),
    cmd(
        "config|set",
        -4,
        ADMIN | NOSCRIPT | LS,
        NO_KEYS,
        0,
        config_set,
        G,
        "2.0.0",
        "Sets configuration parameters in-flight.",
    ),
    cmd(
        "config|resetstat",
        2,
        ADMIN | NOSCRIPT | LS,
        NO_KEYS,
        0,
        config_resetstat,
        G,
        "2.0.0",
        "Resets the server's statistics.",
    ),
    cmd(
        "config|rewrite",
        2,
        ADMIN | NOSCRIPT | LS,
        NO_KEYS,
        0,
        config_rewrite,
        G,
        "2.8.0",
        "Persists the effective configuration to file.",
    ),
    cmd(
        "config|help",
        2,
        LS,
        NO_KEYS,
        0,
        config_help,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

// ---- COMMAND ----

static COMMAND_SUBS: &[Command] = &[
    cmd(
        "command|count",
        2,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_count,
        G,
        "2.8.13",
        "Returns a count of commands.",
    ),
    cmd(
        "command|info",
        -2,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_info,
        G,
        "2.8.13",
        "Returns information about one, multiple or all commands.",
    ),
    cmd(
        "command|docs",
        -2,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_docs,
        G,
        "7.0.0",
        "Returns documentary information about one, multiple or all commands.",
    ),
    cmd(
        "command|list",
        -2,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_list,
        G,
        "7.0.0",
        "Returns a list of command names.",
    ),
    cmd(
        "command|getkeys",
        -4,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_getkeys,
        G,
        "2.8.13",
        "Extracts the key names from an arbitrary command.",
    ),
    cmd(
        "command|getkeysandflags",
        -4,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_getkeysandflags,
        G,
        "7.0.0",
        "Extracts the key names and access flags for an arbitrary command.",
    ),
    cmd(
        "command|help",
        2,
        LS,
        NO_KEYS,
        C_CONNECTION,
        command_help,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

/// COMMAND is both callable bare and a container: dispatch by hand.
fn command_all(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 1 {
        let cmds = &table().commands;
        ctx.out.array(cmds.len());
        for c in cmds {
            command_entry(ctx, c);
        }
        return Ok(());
    }
    match super::find_sub(&COMMAND_CONTAINER, &a[1]) {
        Some(sub) => {
            let argc = a.len() as i32;
            if (sub.arity > 0 && argc != sub.arity) || argc < -sub.arity {
                return Err(crate::errors::wrong_arity(sub.name));
            }
            (sub.handler)(ctx, a)
        }
        None => Err(Error::err(format!(
            "unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&a[1])
                .chars()
                .take(128)
                .collect::<String>()
        ))),
    }
}

static COMMAND_CONTAINER: Command = container(
    "command",
    C_CONNECTION,
    G,
    "2.8.13",
    "Returns detailed information about all commands.",
    COMMAND_SUBS,
);

/// The subcommands of a table entry (COMMAND keeps its own list above).
fn subs_of(c: &Command) -> &'static [Command] {
    if c.name == "command" {
        COMMAND_SUBS
    } else {
        c.subs
    }
}

fn command_entry(ctx: &mut Ctx, c: &Command) {
    let subs = subs_of(c);
    let out = &mut *ctx.out;
    out.array(10);
    out.bulk(c.name.as_bytes());
    out.int(c.arity as i64);
    let flags: Vec<&str> = c.flag_names().collect();
    out.set(flags.len());
    for f in flags {
        out.simple(f);
    }
    out.int(c.keys.first as i64);
    out.int(c.keys.last as i64);
    out.int(c.keys.step as i64);
    let cats = c.acl_categories();
    let names: Vec<&str> = super::CATEGORIES
        .iter()
        .filter(|(b, _)| cats & b != 0)
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(&format!("@{n}"));
    }
    // Tips, key specs and subcommands are sets in RESP3, as in Redis.
    out.set(0); // tips
    if c.keys.first > 0 {
        out.set(1);
        out.map(3);
        out.bulk(b"flags");
        let flags = key_spec_flags(c, false);
        out.set(flags.len());
        for f in flags {
            out.simple(f);
        }
        out.bulk(b"begin_search");
        out.map(2);
        out.bulk(b"type");
        out.bulk(b"index");
        out.bulk(b"spec");
        out.map(1);
        out.bulk(b"index");
        out.int(c.keys.first as i64);
        out.bulk(b"find_keys");
        out.map(2);
        out.bulk(b"type");
        out.bulk(b"range");
        out.bulk(b"spec");
        out.map(3);
        out.bulk(b"lastkey");
        out.int(if c.keys.last < 0 {
            c.keys.last as i64
        } else {
            (c.keys.last - c.keys.first) as i64
        });
        out.bulk(b"keystep");
        out.int(c.keys.step as i64);
        out.bulk(b"limit");
        out.int(0);
    } else {
        out.set(0);
    }
    out.set(subs.len());
    for s in subs {
        command_entry(ctx, s);
    }
}

fn command_count(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.out.int(table().commands.len() as i64);
    Ok(())
}

/// Finds a command or `container|sub` by name.
fn lookup_any(name: &[u8]) -> Option<&'static Command> {
    let n = String::from_utf8_lossy(name).to_ascii_lowercase();
    match n.split_once('|') {
        None => table().get(&n),
        Some((c, s)) => table().get(c).and_then(|c| {
            subs_of(c)
                .iter()
                .find(|x| x.name.rsplit('|').next() == Some(s))
        }),
    }
}

fn command_info(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 2 {
        return command_all(ctx, &a[..1]);
    }
    ctx.out.array(a.len() - 2);
    for n in &a[2..] {
        match lookup_any(n) {
            Some(c) => command_entry(ctx, c),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn doc_entry(ctx: &mut Ctx, c: &Command) {
    let subs = subs_of(c);
    let out = &mut *ctx.out;
    out.map(if subs.is_empty() { 3 } else { 4 });
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(c.since.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        ctx.out.map(subs.len());
        for s in subs {
            ctx.out.bulk(s.name.as_bytes());
            doc_entry(ctx, s);
        }
    }
}

fn command_docs(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cmds: Vec<&'static Command> = if a.len() == 2 {
        table().commands.clone()
    } else {
        a[2..].iter().filter_map(|n| lookup_any(n)).collect()
    };
    ctx.out.map(cmds.len());
    for c in cmds {
        ctx.out.bulk(c.name.as_bytes());
        doc_entry(ctx, c);
    }
    Ok(())
}

fn command_list(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut all: Vec<&'static Command> = Vec::new();
    for c in &table().commands {
        all.push(c);
        all.extend(subs_of(c).iter());
    }
    let names: Vec<&str> = match a.len() {
        2 => all.iter().map(|c| c.name).collect(),
        5 if is(&a[2], "filterby") => {
            let v = &a[4];
            if is(&a[3], "aclcat") {
                let cat = super::CATEGORIES
                    .iter()
                    .find(|(_, n)| is(v, n))
                    .map(|(b, _)| *b);
                all.iter()
                    .filter(|c| cat.is_some_and(|b| c.acl_categories() & b != 0))
                    .map(|c| c.name)
                    .collect()
            } else if is(&a[3], "pattern") {
                all.iter()
                    .filter(|c| crate::util::glob::glob_match(v, c.name.as_bytes(), true))
                    .map(|c| c.name)
                    .collect()
            } else if is(&a[3], "module") {
                Vec::new()
            } else {
                return Err(Error::Syntax);
            }
        }
        _ => return Err(Error::Syntax),
    };
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn getkeys(a: &[Bytes]) -> Result<(&'static Command, Vec<usize>), Error> {
    let args = &a[2..];
    let c = {
        let mut buf = [0u8; 32];
        let n = &args[0];
        let name = (n.len() <= 32)
            .then(|| {
                for (d, s) in buf.iter_mut().zip(n.iter()) {
                    *d = s.to_ascii_lowercase();
                }
                std::str::from_utf8(&buf[..n.len()])
                    .ok()
                    .and_then(|s| table().get(s))
            })
            .flatten()
            .ok_or_else(|| Error::msg("ERR Invalid command specified"))?;
        if !name.subs.is_empty() {
            match args.get(1).and_then(|s| super::find_sub(name, s)) {
                Some(s) => s,
                None => return Err(Error::msg("ERR Invalid command specified")),
            }
        } else {
            name
        }
    };
    let argc = args.len() as i32;
    if (c.arity > 0 && argc != c.arity) || argc < -c.arity {
        return Err(Error::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = c
        .try_keys(args)
        .ok_or_else(|| Error::msg("ERR Invalid arguments specified for command"))?;
    if keys.is_empty() {
        return Err(Error::msg("ERR The command has no key arguments"));
    }
    Ok((c, keys))
}

fn command_getkeys(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (_, keys) = getkeys(a)?;
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(&a[2 + k]);
    }
    Ok(())
}

/// Key-spec flags of a command's first key (or of its second group).
fn key_spec_flags(c: &Command, second: bool) -> &'static [&'static str] {
    super::keyspecs::key_flags(c, usize::from(second), &[])
}

fn command_getkeysandflags(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (c, keys) = getkeys(a)?;
    ctx.out.array(keys.len());
    for (i, k) in keys.into_iter().enumerate() {
        ctx.out.array(2);
        ctx.out.bulk(&a[2 + k]);
        let flags = super::keyspecs::key_flags(c, i, &a[2..]);
        ctx.out.set(flags.len());
        for f in flags {
            ctx.out.simple(f);
        }
    }
    Ok(())
}

fn command_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    );
    Ok(())
}

// ---- CONFIG ----

fn config_get(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let pats: Vec<&[u8]> = a[2..].iter().map(|b| &b[..]).collect();
    let found = ctx.srv.cfg.matching(&pats);
    ctx.out.map(found.len());
    for (k, v) in found {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

/// Whether enable-protected-configs lets this client change protected
/// parameters (dir, dbfilename).
fn protected_allowed(ctx: &Ctx) -> bool {
    match ctx.srv.cfg.str(D::ENABLE_PROTECTED_CONFIGS) {
        "yes" => true,
        "local" => is_local(ctx),
        _ => false,
    }
}

pub(crate) fn is_local(ctx: &Ctx) -> bool {
    ctx.client.unix || ctx.client.addr.starts_with("127.") || ctx.client.addr.starts_with("[::1]")
}

/// The text of an I/O error without Rust's " (os error N)" suffix, as
/// strerror() prints it.
fn io_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn config_set(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    // An odd number of arguments (a name without a value): Redis says
    // "syntax error" here, after the arity check.
    if !a.len().is_multiple_of(2) {
        return Err(Error::Syntax);
    }
    let fail = |name: &str, why: &str| {
        Error::err(format!(
            "CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    // First the names (all of them), then the values, so that the change
    // is all or nothing and errors are reported in Redis's order.
    let mut targets: Vec<(usize, &'static config::Directive, String)> = Vec::new();
    for p in a[2..].chunks(2) {
        let name = String::from_utf8_lossy(&p[0]).into_owned();
        let Some((idx, d)) = config::table::find(&name) else {
            return Err(Error::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        if d.flags & config::table::IMMUTABLE != 0 {
            return Err(fail(&name, "can't set immutable config"));
        }
        if d.flags & config::table::PROTECTED != 0 && !protected_allowed(ctx) {
            return Err(fail(&name, "can't set protected config"));
        }
        if targets
            .iter()
            .any(|(_, _, n)| n.eq_ignore_ascii_case(&name))
        {
            return Err(fail(&name, "duplicate parameter"));
        }
        targets.push((idx, d, name));
    }
    let mut changes: Vec<(usize, config::Val)> = Vec::new();
    for ((idx, d, name), p) in targets.iter().zip(a[2..].chunks(2)) {
        let value = String::from_utf8_lossy(&p[1]).into_owned();
        let value = if d.name == "client-output-buffer-limit" {
            file::merge_output_limits(&ctx.srv.cfg.display(*idx), &value)
                .map_err(|e| fail(name, &e))?
        } else {
            value
        };
        let v = config::parse_value(d, &value).map_err(|e| fail(name, &e))?;
        if d.name == "dir" {
            if let config::Val::Str(path) = &v {
                match std::fs::metadata(path) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(fail(name, "Not a directory")),
                    Err(e) => return Err(fail(name, &io_error_text(&e))),
                }
            }
        }
        changes.push((*idx, v));
    }
    // Values first, side effects after: a change that fails part-way (a
    // directory that cannot be entered, TLS files that do not load) is
    // undone whole, and nothing outside the config has seen it yet.
    let before = ctx.srv.cfg.clone();
    let undo = |ctx: &mut Ctx, before: config::Config| {
        if ctx.srv.cfg.str(D::DIR) != before.str(D::DIR) {
            let _ = std::env::set_current_dir(before.str(D::DIR));
        }
        ctx.srv.cfg = before;
    };
    for (idx, v) in changes {
        let v = match (&v, TABLE[idx].name) {
            (config::Val::Str(path), "dir") => {
                if let Err(e) = std::env::set_current_dir(path) {
                    undo(ctx, before);
                    return Err(fail("dir", &io_error_text(&e)));
                }
                config::Val::Str(
                    std::env::current_dir()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                )
            }
            _ => v,
        };
        ctx.srv.cfg.set_index(idx, v);
    }
    // A TLS directive rebuilds the TLS configuration.
    let tls_rebuilt =
        ctx.srv.tls.is_some() && targets.iter().any(|t| crate::net::tls::configures(t.0));
    if tls_rebuilt {
        match crate::net::tls::build(&ctx.srv.cfg) {
            Ok(tls) => ctx.srv.tls = Some(tls),
            Err(e) => {
                tracing::warn!("Failed to update TLS configuration: {e}");
                undo(ctx, before);
                let name = targets
                    .iter()
                    .find(|t| crate::net::tls::configures(t.0))
                    .map_or("", |t| t.2.as_str());
                return Err(fail(
                    name,
                    "Unable to update TLS configuration. Check server logs.",
                ));
            }
        }
    }
    // Turning the AOF on can fail (its directory cannot be made); it undoes
    // itself then, and the rest of the change goes with it, as in Redis.
    if let Err(e) = ctx.srv.aof_config_changed() {
        tracing::warn!("{e}");
        tracing::warn!("Failed applying new configuration. Possibly related to new appendonly setting. Restoring previous settings.");
        undo(ctx, before);
        if tls_rebuilt {
            if let Ok(tls) = crate::net::tls::build(&ctx.srv.cfg) {
                ctx.srv.tls = Some(tls);
            }
        }
        return Err(fail("appendonly", "Unable to turn on AOF. Check server logs."));
    }
    for t in &targets {
        apply_directive(ctx, t.0);
    }
    ctx.srv.apply_access_config();
    ctx.srv.apply_notify_config();
    ctx.out.ok();
    Ok(())
}

/// What a directive's new value does outside the config, once CONFIG SET
/// can no longer be undone.
fn apply_directive(ctx: &mut Ctx, idx: usize) {
    if idx == D::REQUIREPASS as usize {
        let p = ctx.srv.cfg.str(D::REQUIREPASS).to_string();
        ctx.srv.acl.set_requirepass(&p);
    } else if idx == D::LOGLEVEL as usize {
        crate::logging::set_level(ctx.srv.cfg.str(D::LOGLEVEL));
    } else if idx == D::TIMEOUT as usize {
        // Connections compute their idle deadline when they go to sleep;
        // wake them all so that the new timeout applies to clients that
        // are idle right now too.
        for c in ctx.srv.clients.values() {
            c.wake.notify_one();
        }
    } else if idx == D::JEMALLOC_BG_THREAD as usize {
        crate::server::info::set_allocator_bg_thread(ctx.srv.cfg.bool(D::JEMALLOC_BG_THREAD));
    }
}

fn config_resetstat(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.srv.stats = Default::default();
    ctx.srv.cmd_stats.clear();
    ctx.srv.error_stats.clear();
    for db in ctx.srv.ks.dbs.iter_mut() {
        db.expired = 0;
    }
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let Some(path) = ctx.srv.cfg.file.clone() else {
        return Err(Error::msg(
            "ERR The server is running without a config file",
        ));
    };
    let original = std::fs::read_to_string(&path).unwrap_or_default();
    let mut text = file::rewrite_text(&original, &ctx.srv.cfg);
    // Users live in the ACL file when there is one; otherwise their
    // current rules replace the file's `user` lines, as in Redis.
    if ctx.srv.cfg.str(D::ACLFILE).is_empty() {
        text = crate::acl::rewrite_user_lines(&text, &ctx.srv.acl.file_text());
    }
    let tmp = path.with_extension("rewrite.tmp");
    let res = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!("CONFIG REWRITE failed: {e}");
        return Err(Error::err(format!("Rewriting config file: {e}")));
    }
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

// ---- INFO, TIME, LASTSAVE ----

fn info(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sections: Vec<String> = a[1..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = crate::server::info::render(ctx.srv, &sections);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn time(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk(d.as_secs().to_string().as_bytes());
    ctx.out.bulk(d.subsec_micros().to_string().as_bytes());
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.srv.last_save);
    Ok(())
}

// ---- SHUTDOWN ----

fn save(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.srv.persist.bgsave.is_some() {
        return Err(Error::msg("ERR Background save already in progress"));
    }
    ctx.srv.save_now().map_err(|e| {
        tracing::warn!("Error saving DB on disk: {e}");
        Error::msg("ERR")
    })?;
    ctx.out.ok();
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.srv.aof.rewrite.is_none() && ctx.srv.snapshot_running() {
        ctx.srv.aof.scheduled = true;
        ctx.out.simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    ctx.srv.aof_rewrite_start().map_err(Error::err)?;
    ctx.out.simple("Background append only file rewriting started");
    Ok(())
}

fn bgsave(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let schedule = match a.len() {
        1 => false,
        2 if is(&a[1], "schedule") => true,
        _ => return Err(Error::Syntax),
    };
    // (A full sync's snapshot is an RDB save too, as Redis's child is.)
    if ctx.srv.persist.bgsave.is_some() || ctx.srv.repl.sync.is_some() {
        return Err(Error::msg("ERR Background save already in progress"));
    }
    // Another snapshot (an AOF rewrite) is being taken.
    if ctx.srv.snapshot_running() {
        if schedule {
            ctx.srv.persist.scheduled = true;
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(Error::err(crate::errors::BGSAVE_BUSY));
    }
    ctx.srv.bgsave().map_err(|e| Error::err(e))?;
    ctx.out.simple("Background saving started");
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] | ABORT (the wait for lagging
/// replicas is in `server::shutdown`).
fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut mode = ShutdownMode::Default;
    let (mut now, mut force, mut abort) = (false, false, false);
    for o in &a[1..] {
        if is(o, "nosave") {
            mode = ShutdownMode::NoSave;
        } else if is(o, "save") {
            mode = ShutdownMode::Save;
        } else if is(o, "now") {
            now = true;
        } else if is(o, "force") {
            force = true;
        } else if is(o, "abort") {
            abort = true;
        } else {
            return Err(Error::Syntax);
        }
    }
    if abort {
        if a.len() > 2 {
            return Err(Error::Syntax);
        }
        if !ctx.srv.shutdown_abort() {
            return Err(Error::msg("ERR No shutdown in progress."));
        }
        ctx.out.ok();
        return Ok(());
    }
    tracing::warn!("User requested shutdown...");
    let id = ctx.client.id;
    if !now && ctx.srv.shutdown_wait(mode, force, Some(id)) {
        ctx.block_on(Vec::new(), None, crate::server::blocking::TimeoutReply::NullArray);
        return Ok(());
    }
    ctx.srv.shutdown_save(mode, force)
}

// ---- DEBUG ----

fn debug_allowed(ctx: &Ctx) -> bool {
    match ctx.srv.cfg.str(D::ENABLE_DEBUG_COMMAND) {
        "yes" => true,
        "local" => is_local(ctx),
        _ => false,
    }
}

/// The longest numeric prefix of `b` as a float (0 when there is none).
fn leading_f64(b: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    (1..=s.len())
        .rev()
        .filter(|&i| s.is_char_boundary(i))
        .find_map(|i| s[..i].parse::<f64>().ok().filter(|v| v.is_finite()))
        .unwrap_or(0.0)
}

fn debug(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if !debug_allowed(ctx) {
        return Err(Error::msg("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."));
    }
    let sub = String::from_utf8_lossy(&a[1]).to_ascii_lowercase();
    let now = ctx.now_ms;
    match (sub.as_str(), a.len()) {
        ("help", _) => {
            super::help_reply(ctx, "DEBUG", &[
                "HTSTATS <dbid> [full]",
                "    Return hash table statistics of the specified Redis database.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "OBJECT <key>",
                "    Show low level info about `key` and associated value.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type. <type> can be: string,",
                "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
                "    true, false.",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
                "JMAP",
                "    Accepted and ignored (no allocator debugging).",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> string keys named key:<num>. If <prefix> is specified then",
                "    it is used instead of the 'key' prefix.",
            ]);
        }
        ("sleep", 3) => {
            // Like Redis (strtod), a malformed number sleeps for what its
            // numeric prefix says, possibly nothing.
            let secs = leading_f64(&a[2]);
            if secs > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
            }
            ctx.out.ok();
        }
        ("set-active-expire", 3) => {
            ctx.srv.active_expire = &a[2][..] != b"0";
            ctx.out.ok();
        }
        ("log", 3) => {
            tracing::warn!("DEBUG LOG: {}", String::from_utf8_lossy(&a[2]));
            ctx.out.ok();
        }
        ("reload", _) => {
            // The keyspace is replaced: a snapshot under way must end first.
            ctx.srv.finish_snapshot_now();
            ctx.srv.save_now().map_err(|e| Error::err(format!("Error trying to save the DB: {e}")))?;
            let n = ctx.srv.ks.dbs.len();
            ctx.srv.ks = crate::db::Keyspace::new(n);
            ctx.srv.load_rdb().map_err(|e| Error::err(format!("Error trying to load the RDB dump: {e}")))?;
            ctx.out.ok();
        }
        ("populate", 3..=5) => {
            let count = crate::util::num::parse_i64(&a[2]).filter(|n| *n >= 0).ok_or(Error::msg("ERR count is negative or not an integer"))?;
            let prefix = a.get(3).map_or(&b"key"[..], |p| &p[..]);
            let size = match a.get(4) {
                Some(s) => Some(crate::util::num::parse_i64(s).filter(|n| *n > 0).ok_or(Error::msg("ERR size is negative or not an integer"))? as usize),
                None => None,
            };
            let db = ctx.db();
            for i in 0..count {
                let mut key = prefix.to_vec();
                key.extend_from_slice(format!(":{i}").as_bytes());
                if db.exists(&key, now) {
                    continue;
                }
                // Redis's values: "value:N", cut or padded with zero bytes to `size`.
                let mut v = format!("value:{i}").into_bytes();
                if let Some(n) = size {
                    v.resize(n, 0);
                }
                db.add(&key, crate::db::Value::bytes(&v), now);
            }
            ctx.out.ok();
        }
        ("jmap", 2) | ("quicklist-packed-threshold", 3) | ("set-skip-checksum-validation", 3) => {
            ctx.out.ok()
        }
        ("change-repl-id", 2) => ctx.out.ok(),
        ("digest", 2) => {
            let d = crate::db::digest::dataset(&ctx.srv.ks, now);
            ctx.out.simple(&crate::db::digest::hex(&d));
        }
        ("digest-value", _) => {
            // Like Redis, logically expired keys that are still stored count.
            let db = &ctx.srv.ks.dbs[ctx.db_index()];
            ctx.out.array(a.len() - 2);
            for key in &a[2..] {
                let d = match db.dict().get(key) {
                    Some(e) => crate::db::digest::value(&e.val, db.expire_at(key)),
                    None => [0; 20],
                };
                ctx.out.simple(&crate::db::digest::hex(&d));
            }
        }
        ("object", 3) => {
            let compress = ctx.srv.cfg.bool(D::RDBCOMPRESSION);
            let i = ctx.db_index();
            let db = &mut ctx.srv.ks.dbs[i];
            let Some(e) = db.peek(&a[2], now) else {
                return Err(Error::NoSuchKey);
            };
            let idle = crate::db::lru_clock(now).saturating_sub(e.lru);
            // What the value takes in an RDB file, as Redis reports it.
            let mut serialized = Vec::new();
            crate::persist::rdb::write_payload(&mut serialized, &e.val, compress);
            let line = format!(
                "Value at:0x{:x} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                e as *const _ as usize,
                e.val.encoding(),
                serialized.len(),
                e.lru & 0xFFFFFF,
                idle
            );
            ctx.out.simple(&line);
        }
        ("htstats", 3 | 4) => {
            let i = crate::util::num::parse_i64(&a[2]).ok_or(Error::NotInteger)?;
            if i < 0 || i >= ctx.srv.ks.dbs.len() as i64 {
                return Err(Error::msg("ERR Out of range database"));
            }
            // Redis 7.2: chain-length statistics only when asked ("full").
            let full = a.len() == 4 && a[3].eq_ignore_ascii_case(b"full");
            let db = &ctx.srv.ks.dbs[i as usize];
            let s = format!(
                "[Dictionary HT]\n{}[Expires HT]\n{}",
                db.dict().stats(full),
                db.expires().stats(full)
            );
            ctx.out.verbatim(s.as_bytes());
        }
        ("protocol", 3) => {
            let t = String::from_utf8_lossy(&a[2]).to_ascii_lowercase();
            let out = &mut *ctx.out;
            match t.as_str() {
                "string" => out.bulk(b"Hello World"),
                "integer" => out.int(12345),
                // Redis's own test value, not an approximation of pi.
                #[allow(clippy::approx_constant)]
                "double" => out.double(3.141),
                "bignum" => out.big_number("1234567999999999999999999999999999999"),
                "null" => out.null(),
                "array" => {
                    out.array(3);
                    for i in 0..3 {
                        out.int(i);
                    }
                }
                "set" => {
                    out.set(3);
                    for i in 0..3 {
                        out.int(i);
                    }
                }
                "map" => {
                    out.map(3);
                    for i in 0..3 {
                        out.int(i);
                        out.boolean(i == 1);
                    }
                }
                "attrib" => {
                    if out.resp3 {
                        out.buf.extend_from_slice(b"|1\r\n");
                        out.bulk(b"key-popularity");
                        out.array(2);
                        out.bulk(b"key:123");
                        out.int(90);
                    }
                    out.bulk(b"Some real reply following the attribute");
                }
                "push" => {
                    if !out.resp3 {
                        return Err(Error::msg("ERR RESP2 is not supported by this command"));
                    }
                    out.push(2);
                    out.bulk(b"server-cpu-usage");
                    out.int(42);
                    out.bulk(b"Some real reply following the push reply");
                }
                "true" => out.boolean(true),
                "false" => out.boolean(false),
                "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
                _ => return Err(Error::msg("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")),
            }
        }
        _ => {
            return Err(Error::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(&a[1])
            )))
        }
    }
    Ok(())
}
