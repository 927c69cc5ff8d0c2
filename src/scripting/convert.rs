//! Conversions between Redis replies and Lua values, both ways, with the
//! rules Redis documents for scripts (RESP2 and RESP3).
//!
//! Both work on the raw Lua stack: every `redis.call` and every script's
//! return value pass through here, and an mlua `Value` would cost a slot in
//! mlua's reference thread per string or table. Nothing here can raise a Lua
//! error short of running out of memory: tables are fresh (no metamethods)
//! and only raw accesses are used.

use std::os::raw::{c_char, c_int};

use mlua::ffi::{self, lua_State};

use crate::resp::reply::Frame;
use crate::resp::Out;

/// Deepest table nesting converted to a reply; deeper levels become an
/// error, as Redis's Lua stack limit does (also stops self-references).
const MAX_DEPTH: usize = 1000;

/// The bytes of the string at `idx` (a string, not a number: `lua_tolstring`
/// would convert a number in place).
///
/// # Safety
/// `idx` must hold a string; the slice lives as long as it stays there.
pub unsafe fn str_at<'a>(l: *mut lua_State, idx: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(p as *const u8, len)
}

/// # Safety
/// Needs one free stack slot.
pub unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    let p = if b.is_empty() {
        c"".as_ptr()
    } else {
        b.as_ptr() as *const c_char
    };
    ffi::lua_pushlstring_(l, p, b.len());
}

/// Pushes a command's reply as a script sees it.
///
/// # Safety
/// `read_frame` bounds the nesting; each level checks for stack room.
pub unsafe fn push_frame(l: *mut lua_State, f: &Frame) {
    ffi::lua_checkstack(l, 4);
    match f {
        Frame::Simple(s) => single_bytes(l, c"ok", s),
        Frame::Error(s) => single_bytes(l, c"err", s),
        Frame::Int(n) => ffi::lua_pushnumber(l, *n as f64),
        Frame::Bulk(Some(b)) => push_bytes(l, b),
        Frame::Bulk(None) | Frame::Array(None) => ffi::lua_pushboolean(l, 0),
        Frame::Array(Some(v)) | Frame::Push(v) => {
            ffi::lua_createtable(l, v.len().min(i32::MAX as usize) as c_int, 0);
            for (i, x) in v.iter().enumerate() {
                push_frame(l, x);
                ffi::lua_rawseti_(l, -2, (i + 1) as c_int);
            }
        }
        Frame::Null => ffi::lua_pushnil(l),
        Frame::Boolean(b) => ffi::lua_pushboolean(l, *b as c_int),
        Frame::Double(d) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_pushnumber(l, parse_double(d));
            ffi::lua_setfield(l, -2, c"double".as_ptr());
        }
        Frame::BigNumber(d) => single_bytes(l, c"big_number", d),
        Frame::Verbatim(v) => {
            let (fmt, body) = if v.len() >= 4 && v[3] == b':' {
                (&v[..3], &v[4..])
            } else {
                (&b"txt"[..], &v[..])
            };
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, 2);
            push_bytes(l, fmt);
            ffi::lua_setfield(l, -2, c"format".as_ptr());
            push_bytes(l, body);
            ffi::lua_setfield(l, -2, c"string".as_ptr());
            ffi::lua_setfield(l, -2, c"verbatim_string".as_ptr());
        }
        Frame::Map(pairs) | Frame::Attribute(pairs) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, pairs.len().min(i32::MAX as usize) as c_int);
            for (k, v) in pairs {
                push_frame(l, k);
                push_frame(l, v);
                set_pair(l);
            }
            ffi::lua_setfield(l, -2, c"map".as_ptr());
        }
        Frame::Set(items) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, items.len().min(i32::MAX as usize) as c_int);
            for k in items {
                push_frame(l, k);
                ffi::lua_pushboolean(l, 1);
                set_pair(l);
            }
            ffi::lua_setfield(l, -2, c"set".as_ptr());
        }
    }
}

/// Sets key -2 to value -1 in the table at -3; a nil key (a null map key,
/// which Lua cannot hold) is dropped rather than raising.
unsafe fn set_pair(l: *mut lua_State) {
    if ffi::lua_type(l, -2) == ffi::LUA_TNIL {
        ffi::lua_pop(l, 2);
    } else {
        ffi::lua_rawset(l, -3);
    }
}

/// `{name = s}`: how Redis wraps statuses, errors and RESP3-only types.
unsafe fn single_bytes(l: *mut lua_State, name: &std::ffi::CStr, s: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, s);
    ffi::lua_setfield(l, -2, name.as_ptr());
}

fn parse_double(d: &[u8]) -> f64 {
    match d {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        _ => std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(f64::NAN),
    }
}

/// A Lua number as a Redis integer: truncated towards zero, as C's cast.
fn lua_int(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

/// Writes the value at stack index `idx` (absolute) as a reply. `resp3` is
/// the protocol the script selected with `redis.setresp` (booleans depend
/// on it).
///
/// # Safety
/// `idx` must be a valid absolute index.
pub unsafe fn write_reply(l: *mut lua_State, idx: c_int, out: &mut Out, resp3: bool) {
    write(l, idx, out, resp3, 0)
}

unsafe fn write(l: *mut lua_State, idx: c_int, out: &mut Out, resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match ffi::lua_type(l, idx) {
        ffi::LUA_TBOOLEAN => match (ffi::lua_toboolean(l, idx) != 0, resp3) {
            (b, true) => out.boolean(b),
            (true, false) => out.int(1),
            (false, false) => out.null(),
        },
        ffi::LUA_TNUMBER => out.int(lua_int(ffi::lua_tonumber(l, idx))),
        ffi::LUA_TSTRING => out.bulk(str_at(l, idx)),
        ffi::LUA_TTABLE => {
            if ffi::lua_checkstack(l, 4) == 0 {
                out.error("ERR reached lua stack limit");
            } else {
                write_table(l, idx, out, resp3, depth);
            }
        }
        _ => out.null(),
    }
}

/// The text of a script's `{err=...}` result at `idx`, which Redis turns
/// into the command's error reply.
///
/// # Safety
/// `idx` must be a valid absolute index with a free slot above the top.
pub unsafe fn error_field(l: *mut lua_State, idx: c_int) -> Option<Vec<u8>> {
    if ffi::lua_type(l, idx) != ffi::LUA_TTABLE {
        return None;
    }
    let e = (field(l, idx, c"err") == ffi::LUA_TSTRING).then(|| str_at(l, -1).to_vec());
    ffi::lua_pop(l, 1);
    e
}

/// Pushes `t[name]` (raw) and returns its type.
unsafe fn field(l: *mut lua_State, t: c_int, name: &std::ffi::CStr) -> c_int {
    ffi::lua_pushstring_(l, name.as_ptr());
    ffi::lua_rawget_(l, t);
    ffi::lua_type(l, -1)
}

unsafe fn write_table(l: *mut lua_State, t: c_int, out: &mut Out, resp3: bool, depth: usize) {
    if field(l, t, c"err") == ffi::LUA_TSTRING {
        out.error_bytes(str_at(l, -1));
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if field(l, t, c"ok") == ffi::LUA_TSTRING {
        simple_bytes(out, str_at(l, -1));
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if field(l, t, c"double") == ffi::LUA_TNUMBER {
        out.double(ffi::lua_tonumber(l, -1));
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if field(l, t, c"big_number") == ffi::LUA_TSTRING {
        big_number(out, str_at(l, -1));
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if field(l, t, c"map") == ffi::LUA_TTABLE {
        let m = ffi::lua_gettop(l);
        out.map(count_pairs(l, m));
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, m) != 0 {
            let top = ffi::lua_gettop(l);
            write(l, top - 1, out, resp3, depth + 1);
            write(l, top, out, resp3, depth + 1);
            ffi::lua_pop(l, 1);
        }
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if field(l, t, c"set") == ffi::LUA_TTABLE {
        let s = ffi::lua_gettop(l);
        out.set(count_pairs(l, s));
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, s) != 0 {
            write(l, ffi::lua_gettop(l) - 1, out, resp3, depth + 1);
            ffi::lua_pop(l, 1);
        }
        ffi::lua_pop(l, 1);
        return;
    }
    ffi::lua_pop(l, 1);
    if field(l, t, c"verbatim_string") == ffi::LUA_TTABLE {
        let v = ffi::lua_gettop(l);
        let is_fmt = field(l, v, c"format") == ffi::LUA_TSTRING;
        let is_str = field(l, v, c"string") == ffi::LUA_TSTRING;
        if is_fmt && is_str {
            verbatim(out, str_at(l, -2), str_at(l, -1));
            ffi::lua_pop(l, 3);
            return;
        }
        ffi::lua_pop(l, 2);
    }
    ffi::lua_pop(l, 1);
    // An array, up to the first nil.
    let mut n: c_int = 0;
    loop {
        ffi::lua_rawgeti_(l, t, n + 1);
        let nil = ffi::lua_type(l, -1) == ffi::LUA_TNIL;
        ffi::lua_pop(l, 1);
        if nil || n == c_int::MAX {
            break;
        }
        n += 1;
    }
    out.array(n as usize);
    for i in 1..=n {
        ffi::lua_rawgeti_(l, t, i);
        write(l, ffi::lua_gettop(l), out, resp3, depth + 1);
        ffi::lua_pop(l, 1);
    }
}

/// Entries of the table at `t`.
unsafe fn count_pairs(l: *mut lua_State, t: c_int) -> usize {
    let mut n = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, t) != 0 {
        n += 1;
        ffi::lua_pop(l, 1);
    }
    n
}

/// A status reply whose text may be any bytes but newlines.
fn simple_bytes(out: &mut Out, s: &[u8]) {
    out.buf.push(b'+');
    out.buf.extend(
        s.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.buf.extend_from_slice(b"\r\n");
}

fn big_number(out: &mut Out, s: &[u8]) {
    if out.resp3 {
        out.buf.push(b'(');
        out.buf.extend(
            s.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(s);
    }
}

fn verbatim(out: &mut Out, format: &[u8], s: &[u8]) {
    if out.resp3 {
        let mut body = format.to_vec();
        body.resize(3, b' ');
        body.push(b':');
        body.extend_from_slice(s);
        out.buf.push(b'=');
        out.buf.extend_from_slice(body.len().to_string().as_bytes());
        out.buf.extend_from_slice(b"\r\n");
        out.buf.extend_from_slice(&body);
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(s);
    }
}
