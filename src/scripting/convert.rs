//! Conversions between Redis replies and Lua values, both ways, with the
//! rules Redis documents for scripts (RESP2 and RESP3).

use mlua::{Lua, Table, Value};

use crate::resp::reply::Frame;
use crate::resp::Out;

/// Deepest table nesting converted to a reply; deeper levels become an
/// error, as Redis's Lua stack limit does (also stops self-references).
const MAX_DEPTH: usize = 1000;

/// A command's reply, as a script sees it.
pub fn frame_to_lua(lua: &Lua, f: Frame) -> mlua::Result<Value> {
    Ok(match f {
        Frame::Simple(s) => single(lua, "ok", Value::String(lua.create_string(&s)?))?,
        Frame::Error(s) => single(lua, "err", Value::String(lua.create_string(&s)?))?,
        Frame::Int(n) => Value::Number(n as f64),
        Frame::Bulk(Some(b)) => Value::String(lua.create_string(&b)?),
        Frame::Bulk(None) | Frame::Array(None) => Value::Boolean(false),
        Frame::Array(Some(v)) | Frame::Push(v) => {
            let t = lua.create_table_with_capacity(v.len(), 0)?;
            for (i, x) in v.into_iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, x)?)?;
            }
            Value::Table(t)
        }
        Frame::Null => Value::Nil,
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::Double(d) => {
            let n = parse_double(&d);
            single(lua, "double", Value::Number(n))?
        }
        Frame::BigNumber(d) => single(lua, "big_number", Value::String(lua.create_string(&d)?))?,
        Frame::Verbatim(v) => {
            let (fmt, body) = if v.len() >= 4 && v[3] == b':' {
                (&v[..3], &v[4..])
            } else {
                (&b"txt"[..], &v[..])
            };
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(fmt)?)?;
            inner.raw_set("string", lua.create_string(body)?)?;
            single(lua, "verbatim_string", Value::Table(inner))?
        }
        Frame::Map(pairs) | Frame::Attribute(pairs) => {
            let inner = lua.create_table()?;
            for (k, v) in pairs {
                inner.raw_set(frame_to_lua(lua, k)?, frame_to_lua(lua, v)?)?;
            }
            single(lua, "map", Value::Table(inner))?
        }
        Frame::Set(items) => {
            let inner = lua.create_table()?;
            for k in items {
                inner.raw_set(frame_to_lua(lua, k)?, true)?;
            }
            single(lua, "set", Value::Table(inner))?
        }
    })
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

/// `{name = v}`: how Redis wraps statuses, errors and RESP3-only types.
fn single(lua: &Lua, name: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, v)?;
    Ok(Value::Table(t))
}

/// A Lua number as a Redis integer: truncated towards zero, as C's cast.
pub fn lua_int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Number(n) => Some(if n.is_nan() { i64::MIN } else { *n as i64 }),
        _ => None,
    }
}

/// Writes a script's return value as a reply. `resp3` is the protocol the
/// script selected with `redis.setresp` (booleans depend on it).
pub fn lua_to_reply(out: &mut Out, v: &Value, resp3: bool) {
    write(out, v, resp3, 0)
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get::<Value>(name).unwrap_or(Value::Nil)
}

fn write(out: &mut Out, v: &Value, resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::Boolean(true) => {
            if resp3 {
                out.boolean(true)
            } else {
                out.int(1)
            }
        }
        Value::Boolean(false) => {
            if resp3 {
                out.boolean(false)
            } else {
                out.null()
            }
        }
        Value::Integer(_) | Value::Number(_) => out.int(lua_int(v).unwrap_or(0)),
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Table(t) => write_table(out, t, resp3, depth),
        _ => out.null(),
    }
}

fn write_table(out: &mut Out, t: &Table, resp3: bool, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        let e = e.as_bytes();
        out.error_bytes(&e);
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        simple_bytes(out, &s.as_bytes());
        return;
    }
    if let Some(d) = number(&field(t, "double")) {
        out.double(d);
        return;
    }
    if let Value::String(s) = field(t, "big_number") {
        let s = s.as_bytes();
        big_number(out, &s);
        return;
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            write(out, k, resp3, depth + 1);
            write(out, v, resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let keys: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|r| r.ok().map(|(k, _)| k))
            .collect();
        out.set(keys.len());
        for k in &keys {
            write(out, k, resp3, depth + 1);
        }
        return;
    }
    if let Value::Table(v) = field(t, "verbatim_string") {
        if let (Value::String(f), Value::String(s)) = (field(&v, "format"), field(&v, "string")) {
            verbatim(out, &f.as_bytes(), &s.as_bytes());
            return;
        }
    }
    // An array, up to the first nil.
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(x) => items.push(x),
        }
        i += 1;
    }
    out.array(items.len());
    for x in &items {
        write(out, x, resp3, depth + 1);
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
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
