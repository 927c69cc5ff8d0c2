//! CLIENT TRACKING, CACHING, GETREDIR and TRACKINGINFO: the commands of
//! client-side caching (the machinery is in server::tracking).

use bytes::Bytes;

use super::{int_arg, is};
use crate::errors::{CmdResult, Error};
use crate::server::tracking::Tracking;
use crate::server::Ctx;

pub fn client_tracking(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut t = Tracking::default();
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        if is(&a[j], "redirect") && more {
            j += 1;
            if t.redirect != 0 {
                return Err(Error::msg(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = int_arg(&a[j])?;
            if id <= 0 || !ctx.srv.clients.contains_key(&(id as u64)) {
                return Err(Error::msg(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            t.redirect = id as u64;
        } else if is(&a[j], "bcast") {
            t.bcast = true;
        } else if is(&a[j], "optin") {
            t.optin = true;
        } else if is(&a[j], "optout") {
            t.optout = true;
        } else if is(&a[j], "noloop") {
            t.noloop = true;
        } else if is(&a[j], "prefix") && more {
            j += 1;
            t.prefixes.push(a[j].to_vec());
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    if is(&a[2], "off") {
        ctx.srv.tracking_off(ctx.client);
        ctx.out.ok();
        return Ok(());
    }
    if !is(&a[2], "on") {
        return Err(Error::Syntax);
    }
    let old = ctx.client.tracking.borrow().clone();
    if !t.bcast && !t.prefixes.is_empty() {
        return Err(Error::msg(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if old.as_ref().is_some_and(|o| o.bcast != t.bcast) {
        return Err(Error::msg("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if t.bcast && (t.optin || t.optout) {
        return Err(Error::msg(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if t.optin && t.optout {
        return Err(Error::msg(
            "ERR You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if old
        .as_ref()
        .is_some_and(|o| (t.optin && o.optout) || (t.optout && o.optin))
    {
        return Err(Error::msg("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if t.bcast {
        let existing = old.as_ref().map(|o| o.prefixes.clone()).unwrap_or_default();
        check_prefixes(&existing, &t.prefixes)?;
        if t.prefixes.is_empty() && existing.is_empty() {
            // BCAST without PREFIX: every key.
            t.prefixes.push(Vec::new());
        }
        for p in &existing {
            if !t.prefixes.contains(p) {
                t.prefixes.push(p.clone());
            }
        }
    }
    // Turning it on again keeps the registration but takes new options.
    ctx.srv.tracking_off(ctx.client);
    ctx.srv.tracking_on(ctx.client, t);
    ctx.out.ok();
    Ok(())
}

/// BCAST prefixes of one client must not overlap (one would hide the
/// other's invalidations).
fn check_prefixes(existing: &[Vec<u8>], new: &[Vec<u8>]) -> CmdResult {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| e[..] != p[..] && overlap(e, p)) {
            return Err(Error::msg(format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(e)
            )));
        }
        if let Some(o) = new[i + 1..].iter().find(|o| overlap(o, p)) {
            return Err(Error::msg(format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(o)
            )));
        }
    }
    Ok(())
}

pub fn client_caching(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut tr = ctx.client.tracking.borrow_mut();
    let Some(t) = tr.as_mut() else {
        return Err(Error::msg(
            "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if is(&a[2], "yes") {
        if !t.optin {
            return Err(Error::msg(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
        t.caching = Some(true);
    } else if is(&a[2], "no") {
        if !t.optout {
            return Err(Error::msg(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
        t.caching = Some(false);
    } else {
        return Err(Error::Syntax);
    }
    drop(tr);
    ctx.out.ok();
    Ok(())
}

pub fn client_getredir(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let id = ctx
        .client
        .tracking
        .borrow()
        .as_ref()
        .map_or(-1, |t| t.redirect as i64);
    ctx.out.int(id);
    Ok(())
}

pub fn client_trackinginfo(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let t = ctx.client.tracking.borrow().clone();
    let out = &mut *ctx.out;
    out.map(3);
    out.bulk(b"flags");
    match &t {
        None => {
            out.set(1);
            out.bulk(b"off");
        }
        Some(t) => {
            let mut flags: Vec<&str> = vec!["on"];
            if t.bcast {
                flags.push("bcast");
            }
            if t.optin {
                flags.push("optin");
                if t.caching == Some(true) {
                    flags.push("caching-yes");
                }
            }
            if t.optout {
                flags.push("optout");
                if t.caching == Some(false) {
                    flags.push("caching-no");
                }
            }
            if t.noloop {
                flags.push("noloop");
            }
            if t.broken_redirect {
                flags.push("broken_redirect");
            }
            out.set(flags.len());
            for f in flags {
                out.bulk(f.as_bytes());
            }
        }
    }
    out.bulk(b"redirect");
    out.int(t.as_ref().map_or(-1, |t| t.redirect as i64));
    out.bulk(b"prefixes");
    let mut prefixes: Vec<Vec<u8>> = t
        .map(|t| t.prefixes.into_iter().filter(|p| !p.is_empty()).collect())
        .unwrap_or_default();
    prefixes.sort();
    out.array(prefixes.len());
    for p in &prefixes {
        out.bulk(p);
    }
    Ok(())
}
