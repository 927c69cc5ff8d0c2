//! The Rust half of the `redis` table. Each primitive answers
//! `(value, raise)`; the prelude raises the value when asked, so errors carry
//! Redis's `{err=...}` form rather than a Lua position.

use std::rc::Rc;

use mlua::{ffi, Function, Lua, MultiValue, Table, Value};

use super::{err_table, RunFlags};

type Answer = mlua::Result<(Value, bool)>;

fn raise(lua: &Lua, msg: &str) -> Answer {
    Ok((err_table(lua, msg.as_bytes())?, true))
}

fn done(v: Value) -> Answer {
    Ok((v, false))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// Calls its upvalue with the arguments and raises the first result when
/// the second is true. A C function, so that `return redis.call(...)` keeps
/// the script's frame (Lua 5.1 does not tail-call C functions) and errors
/// are reported at the script's line, as Redis does.
unsafe extern "C-unwind" fn raiser(l: *mut ffi::lua_State) -> std::os::raw::c_int {
    let n = ffi::lua_gettop(l);
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, n, 2);
    if ffi::lua_toboolean(l, -1) != 0 {
        ffi::lua_pop(l, 1);
        ffi::lua_error(l);
    }
    ffi::lua_pop(l, 1);
    1
}

/// Wraps a `(value, raise)` primitive into a raising C closure.
fn make_raiser(lua: &Lua, f: Function) -> mlua::Result<Function> {
    // SAFETY: pushes one C closure over `f` (the one argument on the stack).
    unsafe { lua.exec_raw::<Function>(f, |l| ffi::lua_pushcclosure(l, raiser, 1)) }
}

/// Builds `{raising = {...}, plain = {...}, consts = {...}}` for the prelude.
pub fn build(lua: &Lua, flags: &Rc<RunFlags>) -> mlua::Result<Table> {
    let raising = lua.create_table()?;
    let plain = lua.create_table()?;
    let consts = lua.create_table()?;

    raising.raw_set(
        "sha1hex",
        lua.create_function(|lua, mv: MultiValue| {
            if mv.len() != 1 {
                return raise(lua, "ERR wrong number of arguments");
            }
            let s = lua.coerce_string(mv[0].clone())?;
            let hex = super::sha1_hex(
                s.as_ref()
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default()
                    .as_slice(),
            );
            done(Value::String(lua.create_string(hex)?))
        })?,
    )?;
    let f = flags.clone();
    raising.raw_set(
        "setresp",
        lua.create_function(move |lua, mv: MultiValue| {
            if mv.len() != 1 {
                return raise(lua, "ERR redis.setresp() requires one argument.");
            }
            match number(&mv[0]) {
                Some(n) if n == 2.0 || n == 3.0 => {
                    f.resp.set(n as u8);
                    done(Value::Nil)
                }
                _ => raise(lua, "ERR RESP version must be 2 or 3."),
            }
        })?,
    )?;
    raising.raw_set(
        "log",
        lua.create_function(|lua, mv: MultiValue| {
            if mv.len() < 2 {
                return raise(lua, "ERR redis.log() requires two arguments or more.");
            }
            let Some(level) = number(&mv[0]) else {
                return raise(lua, "ERR First argument must be a number (log level).");
            };
            if !(0.0..=3.0).contains(&level) {
                return raise(lua, "ERR Invalid debug level.");
            }
            let mut msg = Vec::new();
            for (i, v) in mv.iter().skip(1).enumerate() {
                if i > 0 {
                    msg.push(b' ');
                }
                if let Ok(Some(s)) = lua.coerce_string(v.clone()) {
                    msg.extend_from_slice(&s.as_bytes());
                }
            }
            let msg = String::from_utf8_lossy(&msg);
            match level as i64 {
                0 => tracing::debug!("{msg}"),
                1 => tracing::debug!("{msg}"),
                2 => tracing::info!("{msg}"),
                _ => tracing::warn!("{msg}"),
            }
            done(Value::Nil)
        })?,
    )?;
    raising.raw_set(
        "set_repl",
        lua.create_function(|lua, mv: MultiValue| {
            if mv.len() != 1 {
                return raise(lua, "ERR redis.set_repl() requires one argument.");
            }
            match number(&mv[0]) {
                Some(n) if (0.0..=3.0).contains(&n) && n.fract() == 0.0 => done(Value::Nil),
                _ => raise(
                    lua,
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ),
            }
        })?,
    )?;

    // error_reply / status_reply return their table, even for bad input.
    for (name, field) in [("error_reply", "err"), ("status_reply", "ok")] {
        plain.raw_set(
            name,
            lua.create_function(move |lua, mv: MultiValue| {
                let v = match (mv.len(), mv.front()) {
                    (1, Some(Value::String(s))) => {
                        let t = lua.create_table()?;
                        t.raw_set(field, s.clone())?;
                        Value::Table(t)
                    }
                    _ => err_table(lua, b"ERR wrong number or type of arguments")?,
                };
                Ok(v)
            })?,
        )?;
    }
    plain.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    plain.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    plain.raw_set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;

    consts.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
    consts.raw_set("REDIS_VERSION_NUM", version_num(crate::REDIS_VERSION))?;
    for (name, v) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        consts.raw_set(name, v)?;
    }

    let api = lua.create_table()?;
    api.raw_set(
        "raiser",
        lua.create_function(|lua, f: Function| make_raiser(lua, f))?,
    )?;
    api.raw_set("raising", raising)?;
    api.raw_set("plain", plain)?;
    api.raw_set("consts", consts)?;
    Ok(api)
}

/// "7.2.4" -> 0x070204.
fn version_num(v: &str) -> i64 {
    v.split('.')
        .take(3)
        .fold(0, |acc, p| acc * 256 + p.parse::<i64>().unwrap_or(0))
}
