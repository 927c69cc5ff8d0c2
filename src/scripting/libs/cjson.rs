//! `cjson`: JSON encode/decode with lua-cjson's output and error texts
//! (forward slashes escaped, "%.14g" numbers, sparse-array rules).

use mlua::{Lua, MultiValue, Table, Value};

use super::{lib_fn, lua_number_string, null, number_of, one};

const MAX_DEPTH: usize = 1000;
/// An array may have holes up to this ratio of items to highest index,
/// or any holes below `SPARSE_SAFE`.
const SPARSE_RATIO: f64 = 2.0;
const SPARSE_SAFE: f64 = 10.0;

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lib_fn(lua, |lua, mv| {
            if mv.len() != 1 {
                return Err("bad argument #1 to 'encode' (expected 1 argument)".into());
            }
            let mut out = Vec::new();
            encode(lua, &mv[0], 0, &mut out)?;
            one(Value::String(
                lua.create_string(&out).map_err(|e| e.to_string())?,
            ))
        })?,
    )?;
    t.raw_set(
        "decode",
        lib_fn(lua, |lua, mv| {
            if mv.len() != 1 {
                return Err("bad argument #1 to 'decode' (expected 1 argument)".into());
            }
            let text = match &mv[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                v @ (Value::Integer(_) | Value::Number(_)) => {
                    lua_number_string(lua, number_of(v).unwrap_or(0.0))
                        .map_err(|e| e.to_string())?
                }
                v => return Err(super::bad_arg(1, "decode", "string", v)),
            };
            let mut p = Parser {
                s: &text,
                pos: 0,
                lua,
            };
            let v = p.value(0)?;
            let (tok, at) = p.token()?;
            if !matches!(tok, Tok::End) {
                return Err(format!(
                    "Expected the end but found {} at character {}",
                    tok.name(),
                    at + 1
                ));
            }
            one(v)
        })?,
    )?;
    // Settings: accepted and reported, the defaults stay in force.
    for name in [
        "encode_keep_buffer",
        "encode_max_depth",
        "decode_max_depth",
        "encode_number_precision",
        "encode_sparse_array",
        "encode_invalid_numbers",
        "decode_invalid_numbers",
    ] {
        t.raw_set(name, lib_fn(lua, |_, mv: MultiValue| Ok(mv))?)?;
    }
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

fn type_name(v: &Value) -> &'static str {
    v.type_name()
}

fn encode(lua: &Lua, v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(_) | Value::Number(_) => {
            let n = number_of(v).unwrap_or(0.0);
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            out.extend_from_slice(&lua_number_string(lua, n).map_err(|e| e.to_string())?);
        }
        Value::String(s) => escape(&s.as_bytes(), out),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            match array_length(t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        encode(lua, &item, depth, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => escape(&s.as_bytes(), out),
                            Value::Integer(_) | Value::Number(_) => {
                                out.push(b'"');
                                out.extend_from_slice(
                                    &lua_number_string(lua, number_of(&k).unwrap_or(0.0))
                                        .map_err(|e| e.to_string())?,
                                );
                                out.push(b'"');
                            }
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    type_name(other)
                                ))
                            }
                        }
                        out.push(b':');
                        encode(lua, &val, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                type_name(other)
            ))
        }
    }
    Ok(())
}

/// The array length of `t` if all its keys are positive integers (None
/// for an object); an error if it is too sparse to encode.
fn array_length(t: &Table) -> Result<Option<usize>, String> {
    let (mut max, mut items) = (0f64, 0f64);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        match number_of(&k) {
            Some(n) if n >= 1.0 && n.floor() == n => {
                if n > max {
                    max = n;
                }
                items += 1.0;
            }
            _ => return Ok(None),
        }
    }
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max as usize))
}

fn escape(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str(_) => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    lua: &'a Lua,
}

impl Parser<'_> {
    /// The next token and the offset it starts at.
    fn token(&mut self) -> Result<(Tok, usize), String> {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.s.get(self.pos) else {
            return Ok((Tok::End, at));
        };
        let single = |t: Tok, p: &mut Self| {
            p.pos += 1;
            Ok((t, at))
        };
        match c {
            b'{' => single(Tok::ObjBegin, self),
            b'}' => single(Tok::ObjEnd, self),
            b'[' => single(Tok::ArrBegin, self),
            b']' => single(Tok::ArrEnd, self),
            b':' => single(Tok::Colon, self),
            b',' => single(Tok::Comma, self),
            b'"' => {
                // String errors are reported where they were found.
                let t = self.string();
                let at = if matches!(t, Tok::Error(_)) {
                    self.pos
                } else {
                    at
                };
                Ok((t, at))
            }
            b'-' | b'0'..=b'9' => Ok((self.number(), at)),
            _ => {
                for (word, tok) in [
                    ("true", Tok::Bool(true)),
                    ("false", Tok::Bool(false)),
                    ("null", Tok::Null),
                ] {
                    if self.s[self.pos..].starts_with(word.as_bytes()) {
                        self.pos += word.len();
                        return Ok((tok, at));
                    }
                }
                Ok((Tok::Error("invalid token"), at))
            }
        }
    }

    fn number(&mut self) -> Tok {
        let start = self.pos;
        while self.pos < self.s.len()
            && matches!(
                self.s[self.pos],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.pos += 1;
        }
        match std::str::from_utf8(&self.s[start..self.pos])
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
        {
            Some(n) => Tok::Num(n),
            None => Tok::Error("invalid number"),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.pos..self.pos + 4)?;
        let v = u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()?;
        self.pos += 4;
        Some(v)
    }

    fn string(&mut self) -> Tok {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Tok::Error("unexpected end of string");
            };
            self.pos += 1;
            match c {
                b'"' => return Tok::Str(out),
                b'\\' => {
                    let bs = self.pos - 1;
                    if let Err(e) = self.escape(&mut out) {
                        // Bad escapes are reported at their backslash.
                        if e != "unexpected end of string" {
                            self.pos = bs;
                        }
                        return Tok::Error(e);
                    }
                }
                c => out.push(c),
            }
        }
    }

    /// Decodes one escape (after its backslash) into `out`.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        let bad_u = "invalid unicode escape code";
        let e = *self.s.get(self.pos).ok_or("unexpected end of string")?;
        self.pos += 1;
        match e {
            b'"' | b'\\' | b'/' => out.push(e),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let mut cp = self.hex4().ok_or(bad_u)?;
                if (0xD800..0xDC00).contains(&cp) {
                    if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(bad_u);
                    }
                    self.pos += 2;
                    let lo = self
                        .hex4()
                        .filter(|lo| (0xDC00..0xE000).contains(lo))
                        .ok_or(bad_u)?;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (0xDC00..0xE000).contains(&cp) {
                    return Err(bad_u);
                }
                let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                let mut b = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
            }
            _ => return Err("invalid escape code"),
        }
        Ok(())
    }

    fn expected(what: &str, tok: &Tok, at: usize) -> String {
        format!(
            "Expected {what} but found {} at character {}",
            tok.name(),
            at + 1
        )
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        let (tok, at) = self.token()?;
        self.value_from(tok, at, depth)
    }

    fn value_from(&mut self, tok: Tok, at: usize, depth: usize) -> Result<Value, String> {
        let lerr = |e: mlua::Error| e.to_string();
        Ok(match tok {
            Tok::Str(s) => Value::String(self.lua.create_string(&s).map_err(lerr)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => null(),
            Tok::ArrBegin | Tok::ObjBegin => {
                let depth = depth + 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        at + 1
                    ));
                }
                let t = self.lua.create_table().map_err(lerr)?;
                if matches!(tok, Tok::ArrBegin) {
                    self.array(&t, depth)?;
                } else {
                    self.object(&t, depth)?;
                }
                Value::Table(t)
            }
            other => return Err(Self::expected("value", &other, at)),
        })
    }

    fn array(&mut self, t: &Table, depth: usize) -> Result<(), String> {
        let (tok, at) = self.token()?;
        if matches!(tok, Tok::ArrEnd) {
            return Ok(());
        }
        let mut v = self.value_from(tok, at, depth)?;
        let mut i = 1;
        loop {
            t.raw_set(i, v).map_err(|e| e.to_string())?;
            i += 1;
            let (tok, at) = self.token()?;
            match tok {
                Tok::ArrEnd => return Ok(()),
                Tok::Comma => v = self.value(depth)?,
                other => return Err(Self::expected("comma or array end", &other, at)),
            }
        }
    }

    fn object(&mut self, t: &Table, depth: usize) -> Result<(), String> {
        let (mut tok, mut at) = self.token()?;
        if matches!(tok, Tok::ObjEnd) {
            return Ok(());
        }
        loop {
            let Tok::Str(key) = tok else {
                return Err(Self::expected("object key string", &tok, at));
            };
            let (colon, cat) = self.token()?;
            if !matches!(colon, Tok::Colon) {
                return Err(Self::expected("colon", &colon, cat));
            }
            let v = self.value(depth)?;
            let k = self.lua.create_string(&key).map_err(|e| e.to_string())?;
            t.raw_set(k, v).map_err(|e| e.to_string())?;
            let (next, nat) = self.token()?;
            match next {
                Tok::ObjEnd => return Ok(()),
                Tok::Comma => {
                    (tok, at) = self.token()?;
                }
                other => return Err(Self::expected("comma or object end", &other, nat)),
            }
        }
    }
}
