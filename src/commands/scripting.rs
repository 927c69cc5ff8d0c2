//! EVAL, EVALSHA, SCRIPT, FUNCTION and FCALL: argument handling; the engine
//! is `crate::scripting`.

use bytes::Bytes;

use super::{
    cmd, container, help_reply, int_arg, is, Command, ALLOW_BUSY, C_SCRIPTING, DENYOOM,
    MAY_REPLICATE, MOVABLE_KEYS, NOSCRIPT, NO_KEYS, NO_MANDATORY_KEYS, READONLY, SKIP_MONITOR,
    STALE, WRITE,
};
use crate::errors::{CmdResult, Error};
use crate::scripting;
use crate::server::Ctx;

const G: &str = "scripting";
const EVALF: u32 =
    NOSCRIPT | SKIP_MONITOR | MAY_REPLICATE | NO_MANDATORY_KEYS | STALE | MOVABLE_KEYS;
const EVAL_ROF: u32 = NOSCRIPT | SKIP_MONITOR | NO_MANDATORY_KEYS | STALE | READONLY | MOVABLE_KEYS;

pub static COMMANDS: &[Command] = &[
    cmd(
        "eval",
        -3,
        EVALF,
        NO_KEYS,
        C_SCRIPTING,
        eval,
        G,
        "2.6.0",
        "Executes a server-side Lua script.",
    )
    .find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd(
        "evalsha",
        -3,
        EVALF,
        NO_KEYS,
        C_SCRIPTING,
        evalsha,
        G,
        "2.6.0",
        "Executes a server-side Lua script by SHA1 digest.",
    )
    .find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd(
        "eval_ro",
        -3,
        EVAL_ROF,
        NO_KEYS,
        C_SCRIPTING,
        eval_ro,
        G,
        "7.0.0",
        "Executes a read-only server-side Lua script.",
    )
    .find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd(
        "evalsha_ro",
        -3,
        EVAL_ROF,
        NO_KEYS,
        C_SCRIPTING,
        evalsha_ro,
        G,
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
    )
    .find_keys(super::KeyFind::Numkeys { at: 2 }),
    container(
        "script",
        0,
        G,
        "2.6.0",
        "A container for Lua scripts management commands.",
        SCRIPT_SUBS,
    ),
    cmd(
        "fcall",
        -3,
        EVALF,
        NO_KEYS,
        C_SCRIPTING,
        fcall,
        G,
        "7.0.0",
        "Invokes a function.",
    )
    .find_keys(super::KeyFind::Numkeys { at: 2 }),
    cmd(
        "fcall_ro",
        -3,
        EVAL_ROF,
        NO_KEYS,
        C_SCRIPTING,
        fcall_ro,
        G,
        "7.0.0",
        "Invokes a read-only function.",
    )
    .find_keys(super::KeyFind::Numkeys { at: 2 }),
    container(
        "function",
        0,
        G,
        "7.0.0",
        "A container for function commands.",
        FUNCTION_SUBS,
    ),
];

static SCRIPT_SUBS: &[Command] = &[
    cmd(
        "script|debug",
        3,
        NOSCRIPT,
        NO_KEYS,
        C_SCRIPTING,
        script_debug,
        G,
        "3.2.0",
        "Sets the debug mode of server-side Lua scripts.",
    ),
    cmd(
        "script|load",
        3,
        NOSCRIPT | STALE,
        NO_KEYS,
        C_SCRIPTING,
        script_load,
        G,
        "2.6.0",
        "Loads a server-side Lua script to the script cache.",
    ),
    cmd(
        "script|exists",
        -3,
        NOSCRIPT | STALE,
        NO_KEYS,
        C_SCRIPTING,
        script_exists,
        G,
        "2.6.0",
        "Determines whether server-side Lua scripts exist in the script cache.",
    ),
    cmd(
        "script|flush",
        -2,
        NOSCRIPT | STALE,
        NO_KEYS,
        C_SCRIPTING,
        script_flush,
        G,
        "2.6.0",
        "Removes all server-side Lua scripts from the script cache.",
    ),
    cmd(
        "script|kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        NO_KEYS,
        C_SCRIPTING,
        script_kill,
        G,
        "2.6.0",
        "Terminates a server-side Lua script during execution.",
    ),
    cmd(
        "script|help",
        2,
        STALE | super::LOADING,
        NO_KEYS,
        C_SCRIPTING,
        script_help,
        G,
        "5.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

static FUNCTION_SUBS: &[Command] = &[
    cmd(
        "function|load",
        -3,
        NOSCRIPT | WRITE | DENYOOM,
        NO_KEYS,
        C_SCRIPTING,
        function_load,
        G,
        "7.0.0",
        "Creates a library.",
    ),
    cmd(
        "function|delete",
        3,
        NOSCRIPT | WRITE,
        NO_KEYS,
        C_SCRIPTING,
        function_delete,
        G,
        "7.0.0",
        "Deletes a library and its functions.",
    ),
    cmd(
        "function|flush",
        -2,
        NOSCRIPT | WRITE,
        NO_KEYS,
        C_SCRIPTING,
        function_flush,
        G,
        "7.0.0",
        "Deletes all libraries and functions.",
    ),
    cmd(
        "function|list",
        -2,
        NOSCRIPT,
        NO_KEYS,
        C_SCRIPTING,
        function_list,
        G,
        "7.0.0",
        "Returns information about all libraries.",
    ),
    cmd(
        "function|dump",
        2,
        NOSCRIPT,
        NO_KEYS,
        C_SCRIPTING,
        function_dump,
        G,
        "7.0.0",
        "Dumps all libraries into a serialized binary payload.",
    ),
    cmd(
        "function|restore",
        -3,
        NOSCRIPT | WRITE | DENYOOM,
        NO_KEYS,
        C_SCRIPTING,
        function_restore,
        G,
        "7.0.0",
        "Restores all libraries from a payload.",
    ),
    cmd(
        "function|stats",
        2,
        NOSCRIPT | ALLOW_BUSY,
        NO_KEYS,
        C_SCRIPTING,
        function_stats,
        G,
        "7.0.0",
        "Returns information about a function during execution.",
    ),
    cmd(
        "function|kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        NO_KEYS,
        C_SCRIPTING,
        function_kill,
        G,
        "7.0.0",
        "Terminates a function during execution.",
    ),
    cmd(
        "function|help",
        2,
        STALE | super::LOADING,
        NO_KEYS,
        C_SCRIPTING,
        function_help,
        G,
        "7.0.0",
        "Returns helpful text about the different subcommands.",
    ),
];

/// Splits `<numkeys> key... arg...` (starting at a[2]) into keys and args.
pub fn keys_and_args(a: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Error> {
    let n = int_arg(&a[2])?;
    if n < 0 {
        return Err(Error::msg("ERR Number of keys can't be negative"));
    }
    let rest = &a[3..];
    if n as u64 > rest.len() as u64 {
        return Err(Error::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(rest.split_at(n as usize))
}

fn eval_generic(ctx: &mut Ctx, a: &[Bytes], by_sha: bool, read_only: bool) -> CmdResult {
    let (keys, argv) = keys_and_args(a)?;
    let sha = if by_sha {
        // run_eval answers NOSCRIPT for an unknown one (and a SHA1 is ASCII).
        std::str::from_utf8(&a[1]).unwrap_or("").to_ascii_lowercase()
    } else {
        ctx.srv.scripting.load_script(&a[1])?
    };
    scripting::run_eval(ctx, &sha, keys, argv, read_only)
}

fn eval(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, false, false)
}

fn evalsha(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, true, false)
}

fn eval_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, false, true)
}

fn evalsha_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, true, true)
}

fn fcall(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (keys, argv) = keys_and_args(a)?;
    scripting::functions::call(ctx, a, keys, argv, false)
}

fn fcall_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (keys, argv) = keys_and_args(a)?;
    scripting::functions::call(ctx, a, keys, argv, true)
}

fn script_load(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sha = ctx.srv.scripting.load_script(&a[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let s = &ctx.srv.scripting;
    let found: Vec<bool> = a[2..].iter().map(|sha| s.has_script(sha)).collect();
    ctx.out.array(found.len());
    for f in found {
        ctx.out.int(f as i64);
    }
    Ok(())
}

/// The optional ASYNC|SYNC of SCRIPT FLUSH / FUNCTION FLUSH.
pub fn flush_mode(a: &[Bytes], what: &str) -> CmdResult {
    match a.len() {
        2 => Ok(()),
        3 if is(&a[2], "async") || is(&a[2], "sync") => Ok(()),
        // Redis words the two differently.
        _ if what == "FUNCTION" => Err(Error::msg(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        )),
        _ => Err(Error::Msg(
            format!("ERR {what} FLUSH only support SYNC|ASYNC option").into(),
        )),
    }
}

fn script_flush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    flush_mode(a, "SCRIPT")?;
    ctx.srv.scripting.flush_scripts();
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL / FUNCTION KILL: stops the running script if it has not
/// written anything.
pub fn kill_running(ctx: &mut Ctx, function: bool) -> CmdResult {
    let Some(r) = ctx.srv.scripting.running.as_ref() else {
        return Err(Error::msg("NOTBUSY No scripts in execution right now."));
    };
    if r.is_function != function {
        return Err(Error::msg(if function {
            "NOTBUSY No scripts in execution right now."
        } else {
            "NOTBUSY No scripts in execution right now."
        }));
    }
    if r.flags.wrote.get() {
        return Err(Error::msg(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
        ));
    }
    r.flags.kill.set(true);
    ctx.out.ok();
    Ok(())
}

/// SCRIPT DEBUG NO is the mode every script runs in; Redust has no Lua
/// debugger (LDB), so YES and SYNC are refused.
fn script_debug(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    // Redis refuses it with replies pending (a pipeline, or inside MULTI)
    // because the debugger takes over the connection.
    if ctx.no_block || !ctx.out.buf.is_empty() {
        return Err(Error::msg("ERR SCRIPT DEBUG must be called outside a pipeline"));
    }
    if is(&a[2], "no") {
        ctx.out.ok();
        Ok(())
    } else if is(&a[2], "yes") || is(&a[2], "sync") {
        Err(Error::msg("ERR SCRIPT DEBUG YES/SYNC is not supported: Redust has no Lua debugger"))
    } else {
        Err(Error::msg("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
    }
}

fn script_kill(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    kill_running(ctx, false)
}

fn script_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

fn function_load(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    scripting::functions::load_cmd(ctx, a)
}
fn function_delete(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    scripting::functions::delete_cmd(ctx, a)
}
fn function_flush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    flush_mode(a, "FUNCTION")?;
    ctx.srv.scripting.functions.flush();
    ctx.out.ok();
    Ok(())
}
fn function_list(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    scripting::functions::list_cmd(ctx, a)
}
fn function_dump(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let payload = ctx.srv.scripting.functions.dump();
    ctx.out.bulk(&payload);
    Ok(())
}
fn function_restore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    scripting::functions::restore_cmd(ctx, a)
}
fn function_stats(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    scripting::functions::stats_cmd(ctx)
}
fn function_kill(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    kill_running(ctx, true)
}
fn function_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
