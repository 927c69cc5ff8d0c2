//! Pub/Sub commands. In RESP2 a client with subscriptions may only run
//! (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET (enforced in
//! `server::exec`); in RESP3 any command may run and messages arrive as
//! push frames.

use bytes::Bytes;

use super::{cmd, container, Command, Keys, FAST, LOADING, NOSCRIPT, NO_KEYS, PUBSUB, STALE, MAY_REPLICATE, C_PUBSUB};
use crate::errors::CmdResult;
use crate::server::pubsub::Kind;
use crate::server::Ctx;

const G: &str = "pubsub";
const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[Command] = &[
    cmd("subscribe", -2, SUB, NO_KEYS, C_PUBSUB, subscribe, G, "2.0.0", "Listens for messages published to channels."),
    cmd("unsubscribe", -1, SUB, NO_KEYS, C_PUBSUB, unsubscribe, G, "2.0.0", "Stops listening to messages posted to channels."),
    cmd("psubscribe", -2, SUB, NO_KEYS, C_PUBSUB, psubscribe, G, "2.0.0", "Listens for messages published to channels that match one or more patterns."),
    cmd("punsubscribe", -1, SUB, NO_KEYS, C_PUBSUB, punsubscribe, G, "2.0.0", "Stops listening to messages published to channels that match one or more patterns."),
    cmd("ssubscribe", -2, SUB, Keys { first: 1, last: -1, step: 1 }, C_PUBSUB, ssubscribe, G, "7.0.0", "Listens for messages published to shard channels."),
    cmd("sunsubscribe", -1, SUB, Keys { first: 1, last: -1, step: 1 }, C_PUBSUB, sunsubscribe, G, "7.0.0", "Stops listening to messages posted to shard channels."),
    cmd("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, NO_KEYS, C_PUBSUB, publish, G, "2.0.0", "Posts a message to a channel."),
    cmd("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, Keys { first: 1, last: 1, step: 1 }, C_PUBSUB, spublish, G, "7.0.0", "Post a message to a shard channel"),
    container("pubsub", C_PUBSUB, G, "2.8.0", "A container for Pub/Sub commands.", PUBSUB_SUBS),
];

static PUBSUB_SUBS: &[Command] = &[
    cmd("pubsub|channels", -2, PUBSUB | LOADING | STALE, NO_KEYS, C_PUBSUB, pubsub_channels, G, "2.8.0", "Returns the active channels."),
    cmd("pubsub|numsub", -2, PUBSUB | LOADING | STALE, NO_KEYS, C_PUBSUB, pubsub_numsub, G, "2.8.0", "Returns a count of subscribers to channels."),
    cmd("pubsub|numpat", 2, PUBSUB | LOADING | STALE, NO_KEYS, C_PUBSUB, pubsub_numpat, G, "2.8.0", "Returns a count of unique pattern subscriptions."),
    cmd("pubsub|shardchannels", -2, PUBSUB | LOADING | STALE, NO_KEYS, C_PUBSUB, pubsub_shardchannels, G, "7.0.0", "Returns the active shard channels."),
    cmd("pubsub|shardnumsub", -2, PUBSUB | LOADING | STALE, NO_KEYS, C_PUBSUB, pubsub_shardnumsub, G, "7.0.0", "Returns the count of subscribers of shard channels."),
    cmd("pubsub|help", 2, LOADING | STALE, NO_KEYS, 0, pubsub_help, G, "6.2.0", "Returns helpful text about the different subcommands."),
];

/// One confirmation frame: [kind, name or nil, count].
fn confirm(ctx: &mut Ctx, what: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(what);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn sub_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind, what: &[u8]) -> CmdResult {
    for name in &a[1..] {
        ctx.srv.subscribe(ctx.client, kind, name);
        let n = ctx.srv.subscriptions(ctx.client, kind);
        confirm(ctx, what, Some(name), n);
    }
    Ok(())
}

fn unsub_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind, what: &[u8]) -> CmdResult {
    let names: Vec<Vec<u8>> = if a.len() > 1 {
        a[1..].iter().map(|b| b.to_vec()).collect()
    } else {
        match kind {
            Kind::Channel => ctx.client.subs.borrow().clone(),
            Kind::Pattern => ctx.client.psubs.borrow().clone(),
            Kind::Shard => ctx.client.ssubs.borrow().clone(),
        }
    };
    if names.is_empty() {
        let n = ctx.srv.subscriptions(ctx.client, kind);
        confirm(ctx, what, None, n);
    }
    for name in names {
        ctx.srv.unsubscribe(ctx.client, kind, &name);
        let n = ctx.srv.subscriptions(ctx.client, kind);
        confirm(ctx, what, Some(&name), n);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    sub_generic(ctx, a, Kind::Channel, b"subscribe")
}

fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    unsub_generic(ctx, a, Kind::Channel, b"unsubscribe")
}

fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    sub_generic(ctx, a, Kind::Pattern, b"psubscribe")
}

fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    unsub_generic(ctx, a, Kind::Pattern, b"punsubscribe")
}

fn ssubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    sub_generic(ctx, a, Kind::Shard, b"ssubscribe")
}

fn sunsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    unsub_generic(ctx, a, Kind::Shard, b"sunsubscribe")
}

fn publish(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = ctx.srv.publish(&a[1], &a[2], false);
    ctx.out.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = ctx.srv.publish(&a[1], &a[2], true);
    ctx.out.int(n as i64);
    Ok(())
}

fn channels_matching(map: &std::collections::HashMap<Vec<u8>, Vec<u64>>, pat: Option<&Bytes>) -> Vec<Vec<u8>> {
    map.keys()
        .filter(|c| pat.map_or(true, |p| crate::util::glob::glob_match(p, c, false)))
        .cloned()
        .collect()
}

fn pubsub_channels(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let v = channels_matching(&ctx.srv.pubsub.channels, a.get(2));
    ctx.out.array(v.len());
    for c in v {
        ctx.out.bulk(&c);
    }
    Ok(())
}

fn pubsub_shardchannels(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let v = channels_matching(&ctx.srv.pubsub.shard_channels, a.get(2));
    ctx.out.array(v.len());
    for c in v {
        ctx.out.bulk(&c);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx, a: &[Bytes], shard: bool) -> CmdResult {
    ctx.out.array((a.len() - 2) * 2);
    for ch in &a[2..] {
        let m = if shard { &ctx.srv.pubsub.shard_channels } else { &ctx.srv.pubsub.channels };
        let n = m.get(&ch[..]).map_or(0, |v| v.len());
        ctx.out.bulk(ch);
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    numsub(ctx, a, false)
}

fn pubsub_shardnumsub(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    numsub(ctx, a, true)
}

fn pubsub_numpat(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let mut pats: Vec<&Vec<u8>> = ctx.srv.pubsub.patterns.iter().map(|(p, _)| p).collect();
    pats.sort();
    pats.dedup();
    ctx.out.int(pats.len() as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::help_reply(ctx, "PUBSUB", &[
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
    ]);
    Ok(())
}
