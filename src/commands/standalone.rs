//! Commands of Redis features Redust does not have, answered exactly as a
//! standalone (cluster-disabled), module-less Redis answers them: clients
//! and tools (RedisInsight, client libraries) send CLUSTER INFO or MODULE
//! LIST to detect cluster mode and modules and parse these exact replies.
//! LOLWUT is here too.

use bytes::Bytes;

use super::{
    cmd, container, help_reply, is, Command, ADMIN, C_CONNECTION, FAST, LOADING, NOSCRIPT,
    NO_ASYNC_LOADING, NO_KEYS, READONLY, STALE,
};
use crate::errors::{CmdResult, Error, CLUSTER_DISABLED};
use crate::server::Ctx;

const ADM: u32 = ADMIN | STALE | NO_ASYNC_LOADING;

macro_rules! cluster_subs {
    ($(($name:literal, $arity:literal, $flags:expr, $since:literal, $summary:literal)),* $(,)?) => {
        &[$(cmd(concat!("cluster|", $name), $arity, $flags, NO_KEYS, 0, cluster_disabled, "cluster", $since, $summary)),*]
    };
}

// Every subcommand Redis 7 has, so arity errors and unknown-subcommand
// errors match; all of them (HELP too, as in Redis) say cluster is off.
static CLUSTER_SUBS: &[Command] = cluster_subs![
    (
        "addslots",
        -3,
        ADM,
        "3.0.0",
        "Assign new hash slots to receiving node"
    ),
    (
        "addslotsrange",
        -4,
        ADM,
        "7.0.0",
        "Assign new hash slots to receiving node"
    ),
    (
        "bumpepoch",
        2,
        ADM,
        "3.0.0",
        "Advance the cluster config epoch"
    ),
    (
        "count-failure-reports",
        3,
        ADMIN | STALE,
        "3.0.0",
        "Return the number of failure reports active for a given node"
    ),
    (
        "countkeysinslot",
        3,
        STALE,
        "3.0.0",
        "Return the number of local keys in the specified hash slot"
    ),
    (
        "delslots",
        -3,
        ADM,
        "3.0.0",
        "Set hash slots as unbound in receiving node"
    ),
    (
        "delslotsrange",
        -4,
        ADM,
        "7.0.0",
        "Set hash slots as unbound in receiving node"
    ),
    (
        "failover",
        -2,
        ADM,
        "3.0.0",
        "Forces a replica to perform a manual failover of its master."
    ),
    (
        "flushslots",
        2,
        ADM,
        "3.0.0",
        "Delete a node's own slots information"
    ),
    (
        "forget",
        3,
        ADM,
        "3.0.0",
        "Remove a node from the nodes table"
    ),
    (
        "getkeysinslot",
        4,
        STALE,
        "3.0.0",
        "Return local key names in the specified hash slot"
    ),
    (
        "help",
        2,
        LOADING | STALE,
        "5.0.0",
        "Show helpful text about the different subcommands"
    ),
    (
        "info",
        2,
        STALE,
        "3.0.0",
        "Provides info about Redis Cluster node state"
    ),
    (
        "keyslot",
        3,
        STALE,
        "3.0.0",
        "Returns the hash slot of the specified key"
    ),
    (
        "links",
        2,
        STALE,
        "7.0.0",
        "Returns a list of all TCP links to and from peer nodes in cluster"
    ),
    (
        "meet",
        -4,
        ADM,
        "3.0.0",
        "Force a node cluster to handshake with another node"
    ),
    ("myid", 2, STALE, "3.0.0", "Return the node id"),
    ("myshardid", 2, STALE, "7.2.0", "Return the node shard id"),
    (
        "nodes",
        2,
        STALE,
        "3.0.0",
        "Get Cluster config for the node"
    ),
    (
        "replicas",
        3,
        ADMIN | STALE,
        "5.0.0",
        "List replica nodes of the specified master node"
    ),
    (
        "replicate",
        3,
        ADM,
        "3.0.0",
        "Reconfigure a node as a replica of the specified master node"
    ),
    (
        "reset",
        -2,
        ADMIN | NOSCRIPT | STALE,
        "3.0.0",
        "Reset a Redis Cluster node"
    ),
    (
        "saveconfig",
        2,
        ADM,
        "3.0.0",
        "Forces the node to save cluster state on disk"
    ),
    (
        "set-config-epoch",
        3,
        ADM,
        "3.0.0",
        "Set the configuration epoch in a new node"
    ),
    (
        "setslot",
        -4,
        ADM,
        "3.0.0",
        "Bind a hash slot to a specific node"
    ),
    (
        "shards",
        2,
        STALE,
        "7.0.0",
        "Get array of cluster slots to node mappings"
    ),
    (
        "slaves",
        3,
        ADMIN | STALE,
        "3.0.0",
        "List replica nodes of the specified master node"
    ),
    (
        "slots",
        2,
        STALE,
        "3.0.0",
        "Get array of Cluster slot to node mappings"
    ),
];

const MOD: u32 = ADMIN | NOSCRIPT | NO_ASYNC_LOADING;
const S: &str = "server";

static MODULE_SUBS: &[Command] = &[
    cmd(
        "module|help",
        2,
        LOADING | STALE,
        NO_KEYS,
        0,
        module_help,
        S,
        "5.0.0",
        "Show helpful text about the different subcommands",
    ),
    cmd(
        "module|list",
        2,
        ADMIN | NOSCRIPT,
        NO_KEYS,
        0,
        module_list,
        S,
        "4.0.0",
        "List all modules loaded by the server",
    ),
    cmd(
        "module|load",
        -3,
        MOD,
        NO_KEYS,
        0,
        module_load,
        S,
        "4.0.0",
        "Load a module",
    ),
    cmd(
        "module|loadex",
        -3,
        MOD,
        NO_KEYS,
        0,
        module_load,
        S,
        "7.0.0",
        "Load a module with extended parameters",
    ),
    cmd(
        "module|unload",
        3,
        MOD,
        NO_KEYS,
        0,
        module_unload,
        S,
        "4.0.0",
        "Unload a module",
    ),
];

const CONN: u32 = LOADING | STALE | FAST;

pub static COMMANDS: &[Command] = &[
    container(
        "cluster",
        0,
        "cluster",
        "3.0.0",
        "A container for cluster commands",
        CLUSTER_SUBS,
    ),
    cmd(
        "readonly",
        1,
        CONN,
        NO_KEYS,
        C_CONNECTION,
        cluster_disabled,
        "cluster",
        "3.0.0",
        "Enables read queries for a connection to a cluster replica node",
    ),
    cmd(
        "readwrite",
        1,
        CONN,
        NO_KEYS,
        C_CONNECTION,
        cluster_disabled,
        "cluster",
        "3.0.0",
        "Disables read queries for a connection to a cluster replica node",
    ),
    cmd(
        "asking",
        1,
        FAST,
        NO_KEYS,
        C_CONNECTION,
        cluster_disabled,
        "cluster",
        "3.0.0",
        "Sent by cluster clients after an -ASK redirect",
    ),
    container(
        "module",
        0,
        S,
        "4.0.0",
        "A container for module commands",
        MODULE_SUBS,
    ),
    cmd(
        "lolwut",
        -1,
        READONLY | FAST,
        NO_KEYS,
        0,
        lolwut,
        S,
        "5.0.0",
        "Display some computer art and the Redis version",
    ),
];

fn cluster_disabled(_ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    Err(Error::msg(CLUSTER_DISABLED))
}

fn module_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    help_reply(
        ctx,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    );
    Ok(())
}

fn module_list(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

/// LOAD, LOADEX and UNLOAD are protected as in Redis: refused unless
/// enable-module-command allows this client.
fn module_allowed(ctx: &Ctx) -> CmdResult {
    match ctx.srv.cfg.str(crate::config::D::ENABLE_MODULE_COMMAND) {
        "yes" => Ok(()),
        "local" if super::server::is_local(ctx) => Ok(()),
        _ => Err(Error::msg("ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.")),
    }
}

/// Redust cannot load Redis modules (they are C shared objects written
/// against Redis's internals), so every load fails as a Redis load of a
/// missing file does: the reason in the log, a fixed error to the client.
fn module_load(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    module_allowed(ctx)?;
    tracing::warn!(
        "Module {} failed to load: Redust does not support modules",
        String::from_utf8_lossy(&a[2])
    );
    Err(Error::msg(
        "ERR Error loading the extension. Please check the server logs.",
    ))
}

fn module_unload(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    module_allowed(ctx)?;
    Err(Error::msg(
        "ERR Error unloading module: no such module with that name",
    ))
}

/// LOLWUT [VERSION v]: Redis 7 draws art only for versions 5 and 6 and
/// otherwise prints just its version line; Redust prints that line for
/// every version.
fn lolwut(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut j = 1;
    while j + 1 < a.len() {
        if is(&a[j], "version") {
            super::int_arg(&a[j + 1])?;
            j += 1;
        }
        j += 1;
    }
    let text = format!("Redis ver. {}\n", crate::REDIS_VERSION);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}
