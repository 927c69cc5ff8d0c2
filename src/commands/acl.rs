//! The ACL command: users (SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI),
//! categories (CAT), passwords (GENPASS), the log of refusals (LOG), DRYRUN
//! and the ACL file (SAVE, LOAD).

use bytes::Bytes;

use super::{cmd, container, is, Command, ADMIN, LOADING, NOSCRIPT, NO_KEYS, STALE};
use crate::acl::{self, Denied};
use crate::config::D;
use crate::errors::{self, CmdResult, Error};
use crate::server::{Ctx, Server};

const G: &str = "server";
const F: u32 = NOSCRIPT | LOADING | STALE;
const A: u32 = ADMIN | F;

pub static COMMANDS: &[Command] = &[container(
    "acl",
    0,
    G,
    "6.0.0",
    "A container for Access List Control commands.",
    SUBS,
)];

static SUBS: &[Command] = &[
    cmd(
        "acl|cat",
        -2,
        F,
        NO_KEYS,
        0,
        cat,
        G,
        "6.0.0",
        "Lists the ACL categories, or the commands inside a category.",
    ),
    cmd(
        "acl|deluser",
        -3,
        A,
        NO_KEYS,
        0,
        deluser,
        G,
        "6.0.0",
        "Deletes ACL users, and terminates their connections.",
    ),
    cmd(
        "acl|dryrun",
        -4,
        A,
        NO_KEYS,
        0,
        dryrun,
        G,
        "7.0.0",
        "Simulates the execution of a command by a user, without executing the command.",
    ),
    cmd(
        "acl|genpass",
        -2,
        F,
        NO_KEYS,
        0,
        genpass,
        G,
        "6.0.0",
        "Generates a pseudorandom, secure password that can be used to identify ACL users.",
    ),
    cmd(
        "acl|getuser",
        3,
        A,
        NO_KEYS,
        0,
        getuser,
        G,
        "6.0.0",
        "Lists the ACL rules of a user.",
    ),
    cmd(
        "acl|help",
        2,
        LOADING | STALE,
        NO_KEYS,
        0,
        help,
        G,
        "6.0.0",
        "Returns helpful text about the different subcommands.",
    ),
    cmd(
        "acl|list",
        2,
        A,
        NO_KEYS,
        0,
        list,
        G,
        "6.0.0",
        "Dumps the effective rules in ACL file format.",
    ),
    cmd(
        "acl|load",
        2,
        A,
        NO_KEYS,
        0,
        load,
        G,
        "6.0.0",
        "Reloads the rules from the configured ACL file.",
    ),
    cmd(
        "acl|log",
        -2,
        A,
        NO_KEYS,
        0,
        log,
        G,
        "6.0.0",
        "Lists recent security events generated due to ACL rules.",
    ),
    cmd(
        "acl|save",
        2,
        A,
        NO_KEYS,
        0,
        save,
        G,
        "6.0.0",
        "Saves the effective ACL rules in the configured ACL file.",
    ),
    cmd(
        "acl|setuser",
        -3,
        A,
        NO_KEYS,
        0,
        setuser,
        G,
        "6.0.0",
        "Creates and modifies an ACL user and its rules.",
    ),
    cmd(
        "acl|users",
        2,
        A,
        NO_KEYS,
        0,
        users,
        G,
        "6.0.0",
        "Lists all ACL users.",
    ),
    cmd(
        "acl|whoami",
        2,
        F,
        NO_KEYS,
        0,
        whoami,
        G,
        "6.0.0",
        "Returns the authenticated username of the current connection.",
    ),
];

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn pubsub_default_all(srv: &Server) -> bool {
    srv.cfg.str(D::ACL_PUBSUB_DEFAULT) == "allchannels"
}

fn setuser(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if !acl::user::valid_name(&a[2]) {
        return Err(Error::msg(
            "ERR Usernames can't contain spaces or null characters",
        ));
    }
    let name = String::from_utf8_lossy(&a[2]).into_owned();
    let rules: Vec<Vec<u8>> = a[3..].iter().map(|r| r.to_vec()).collect();
    let all = pubsub_default_all(ctx.srv);
    ctx.srv
        .acl
        .set_user(&name, &rules, all)
        .map_err(|e| Error::err(e.setuser_text()))?;
    ctx.srv.drop_subscribers_without_access(&name);
    ctx.out.ok();
    Ok(())
}

fn getuser(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&a[2]);
    let Some(u) = ctx.srv.acl.users().get(name.as_ref()) else {
        ctx.out.null();
        return Ok(());
    };
    let out = &mut *ctx.out;
    out.map(6);
    out.bulk(b"flags");
    let flags = u.flags();
    out.set(flags.len());
    for f in flags {
        out.bulk(f.as_bytes());
    }
    out.bulk(b"passwords");
    out.array(u.passwords.len());
    for p in &u.passwords {
        out.bulk(p.as_bytes());
    }
    out.bulk(b"commands");
    out.bulk(&u.root.describe_commands());
    out.bulk(b"keys");
    out.bulk(&u.root.describe_keys());
    out.bulk(b"channels");
    out.bulk(&u.root.describe_channels());
    out.bulk(b"selectors");
    out.array(u.selectors.len());
    for s in &u.selectors {
        out.map(3);
        out.bulk(b"commands");
        out.bulk(&s.describe_commands());
        out.bulk(b"keys");
        out.bulk(&s.describe_keys());
        out.bulk(b"channels");
        out.bulk(&s.describe_channels());
    }
    Ok(())
}

fn deluser(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a[2..].iter().any(|n| &n[..] == b"default") {
        return Err(Error::msg("ERR The 'default' user cannot be removed"));
    }
    let mut n = 0;
    for name in &a[2..] {
        let name = String::from_utf8_lossy(name);
        if ctx.srv.acl.users_mut().remove(name.as_ref()).is_some() {
            n += 1;
            ctx.srv.kill_clients_of(&name);
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn list(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let users = ctx.srv.acl.users();
    ctx.out.array(users.len());
    for u in users.values() {
        let mut line = b"user ".to_vec();
        line.extend_from_slice(u.name.as_bytes());
        line.push(b' ');
        line.extend_from_slice(&u.describe());
        ctx.out.bulk(&line);
    }
    Ok(())
}

fn users(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let users = ctx.srv.acl.users();
    ctx.out.array(users.len());
    for name in users.keys() {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let name = ctx.client.user.borrow().clone();
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn cat(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(errors::wrong_arity("acl|cat"));
    }
    let Some(want) = a.get(2) else {
        ctx.out.array(super::CATEGORIES.len());
        for (_, n) in super::CATEGORIES {
            ctx.out.bulk(n.as_bytes());
        }
        return Ok(());
    };
    let bit = super::CATEGORIES
        .iter()
        .find(|(_, n)| is(want, n))
        .map(|(b, _)| *b)
        .ok_or_else(|| errors::quoting("Unknown category '", want, "'"))?;
    let names: Vec<&str> = acl::selector::registry()
        .all
        .iter()
        // A container itself is only @slow, as in Redis; its subcommands
        // carry the real categories.
        .filter(|c| {
            if c.subs.is_empty() {
                c.acl_categories() & bit != 0
            } else {
                bit == super::C_SLOW
            }
        })
        .map(|c| c.name)
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

fn genpass(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(errors::wrong_arity("acl|genpass"));
    }
    let bits = match a.get(2) {
        None => 256,
        Some(b) => super::int_arg(b)?,
    };
    if !(1..=4096).contains(&bits) {
        return Err(Error::msg("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"));
    }
    let chars = (bits as usize).div_ceil(4);
    use rand::RngCore;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(chars);
    ctx.out.bulk(hex.as_bytes());
    Ok(())
}

fn log(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(errors::wrong_arity("acl|log"));
    }
    let mut count = usize::MAX;
    if let Some(arg) = a.get(2) {
        if is(arg, "reset") {
            ctx.srv.acl.log.clear();
            ctx.out.ok();
            return Ok(());
        }
        count = super::int_arg(arg)?.max(0) as usize;
    }
    let now = ctx.now_ms;
    let entries: Vec<_> = ctx.srv.acl.log.iter().take(count).collect();
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.map(10);
        out.bulk(b"count");
        out.int(e.count as i64);
        out.bulk(b"reason");
        out.bulk(e.reason.as_bytes());
        out.bulk(b"context");
        out.bulk(e.context.as_bytes());
        out.bulk(b"object");
        out.bulk(&e.object);
        out.bulk(b"username");
        out.bulk(e.username.as_bytes());
        out.bulk(b"age-seconds");
        out.double((now - e.created_ms).max(0) as f64 / 1000.0);
        out.bulk(b"client-info");
        out.bulk(e.client_info.as_bytes());
        out.bulk(b"entry-id");
        out.int(e.id as i64);
        out.bulk(b"timestamp-created");
        out.int(e.created_ms);
        out.bulk(b"timestamp-last-updated");
        out.int(e.updated_ms);
    }
    Ok(())
}

/// The reply of a refused check, in DRYRUN's wording (naming the key or
/// channel).
pub fn dryrun_text(user: &str, cmd: &Command, args: &[Bytes], d: &Denied) -> Vec<u8> {
    match d {
        Denied::Command => format!(
            "User {user} has no permissions to run the '{}' command",
            cmd.name
        )
        .into_bytes(),
        Denied::Key(i) => [
            format!("User {user} has no permissions to access the '").as_bytes(),
            &args[*i],
            b"' key",
        ]
        .concat(),
        Denied::Channel(i) => [
            format!("User {user} has no permissions to access the '").as_bytes(),
            &args[*i],
            b"' channel",
        ]
        .concat(),
    }
}

fn dryrun(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let user = String::from_utf8_lossy(&a[2]).into_owned();
    if !ctx.srv.acl.users().contains_key(&user) {
        return Err(errors::quoting("User '", &a[2], "' not found"));
    }
    let args = &a[3..];
    let not_found = || errors::quoting("Command '", &args[0], "' not found");
    let base = acl::selector::lookup(&args[0]).ok_or_else(not_found)?;
    let c = if base.subs.is_empty() {
        base
    } else {
        match args.get(1) {
            None => return Err(errors::wrong_arity(base.name)),
            Some(s) => super::find_sub(base, s).ok_or_else(not_found)?,
        }
    };
    let argc = args.len() as i32;
    if (c.arity > 0 && argc != c.arity) || argc < -c.arity {
        return Err(errors::wrong_arity(c.name));
    }
    match ctx.srv.acl.check(&user, c, args) {
        Ok(()) => ctx.out.ok(),
        Err(d) => ctx.out.bulk(&dryrun_text(&user, c, args, &d)),
    }
    Ok(())
}

fn save(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let path = ctx.srv.cfg.str(D::ACLFILE).to_string();
    if path.is_empty() {
        return Err(Error::msg(NO_ACLFILE));
    }
    let tmp = format!("{path}.tmp-{}", std::process::id());
    let text = ctx.srv.acl.file_text();
    let r = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        tracing::warn!("Saving the ACL file {path}: {e}");
        return Err(Error::msg("ERR There was an error trying to save the ACLs. Please check the server logs for more information"));
    }
    ctx.out.ok();
    Ok(())
}

fn load(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let path = ctx.srv.cfg.str(D::ACLFILE).to_string();
    if path.is_empty() {
        return Err(Error::msg(NO_ACLFILE));
    }
    ctx.srv.load_acl_file(&path).map_err(Error::err)?;
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(
        ctx,
        "ACL",
        &[
            "CAT [<category>]",
            "    List all commands that belong to <category>, or all command categories",
            "    when no category is specified.",
            "DELUSER <username> [<username> ...]",
            "    Delete a list of users.",
            "DRYRUN <username> <command> [<arg> ...]",
            "    Returns whether the user can execute the given command without executing the command.",
            "GETUSER <username>",
            "    Get the user's details.",
            "GENPASS [<bits>]",
            "    Generate a secure 256-bit user password. The optional `bits` argument can",
            "    be used to specify a different size.",
            "LIST",
            "    Show users details in config file format.",
            "LOAD",
            "    Reload users from the ACL file.",
            "LOG [<count> | RESET]",
            "    Show the ACL log entries.",
            "SAVE",
            "    Save the current config to the ACL file.",
            "SETUSER <username> <attribute> [<attribute> ...]",
            "    Create or modify a user with the specified attributes.",
            "USERS",
            "    List all the registered usernames.",
            "WHOAMI",
            "    Return the current connection username.",
        ],
    );
    Ok(())
}
