//! `cmsgpack`: MessagePack pack/unpack with lua-cmsgpack's choices
//! (smallest integer form, float32 when exact, str8 strings, tables as
//! arrays when their keys are 1..n, nesting beyond 16 packed as nil).

use mlua::{Lua, MultiValue, Table, Value};

use super::{lib_fn, number_of};

const MAX_NESTING: usize = 16;

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lib_fn(lua, |lua, mv| {
            if mv.is_empty() {
                return Err("bad argument #0 to 'pack' (MessagePack pack needs input.)".into());
            }
            let mut out = Vec::new();
            for v in mv.iter() {
                pack(v, 0, &mut out)?;
            }
            Ok(MultiValue::from_vec(vec![Value::String(
                lua.create_string(&out).map_err(|e| e.to_string())?,
            )]))
        })?,
    )?;
    t.raw_set(
        "unpack",
        lib_fn(lua, |lua, mv| {
            let data = match mv.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                other => {
                    return Err(super::bad_arg(
                        1,
                        "unpack",
                        "string",
                        other.unwrap_or(&Value::Nil),
                    ))
                }
            };
            let mut r = Reader {
                b: &data,
                pos: 0,
                lua,
            };
            let mut vals = Vec::new();
            while r.pos < data.len() {
                vals.push(r.value()?);
            }
            Ok(MultiValue::from_vec(vals))
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}

fn pack(v: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => pack_number(number_of(v).unwrap_or(0.0), out),
        Value::String(s) => pack_str(&s.as_bytes(), out),
        Value::Table(t) if depth < MAX_NESTING => pack_table(t, depth + 1, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn pack_number(n: f64, out: &mut Vec<u8>) {
    if n.is_finite() && (n as i64) as f64 == n {
        let i = n as i64;
        if i >= 0 {
            match i {
                0..=127 => out.push(i as u8),
                128..=0xff => out.extend_from_slice(&[0xcc, i as u8]),
                0x100..=0xffff => {
                    out.push(0xcd);
                    out.extend_from_slice(&(i as u16).to_be_bytes());
                }
                0x10000..=0xffff_ffff => {
                    out.push(0xce);
                    out.extend_from_slice(&(i as u32).to_be_bytes());
                }
                _ => {
                    out.push(0xcf);
                    out.extend_from_slice(&(i as u64).to_be_bytes());
                }
            }
        } else if i >= -32 {
            out.push(i as i8 as u8);
        } else if i >= -128 {
            out.extend_from_slice(&[0xd0, i as i8 as u8]);
        } else if i >= -32768 {
            out.push(0xd1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        } else if i >= -(1 << 31) {
            out.push(0xd2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    } else if (n as f32) as f64 == n || n.is_infinite() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_str(s: &[u8], out: &mut Vec<u8>) {
    let n = s.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n <= 0xff {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else if n <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn header(out: &mut Vec<u8>, n: usize, fix: u8, b16: u8, b32: u8) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn pack_table(t: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let pairs: Vec<(Value, Value)> = t
        .pairs::<Value, Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let mut max = 0f64;
    let mut is_array = true;
    for (k, _) in &pairs {
        match number_of(k) {
            Some(n) if n > 0.0 && n.floor() == n => max = max.max(n),
            _ => {
                is_array = false;
                break;
            }
        }
    }
    if is_array && max as usize == pairs.len() {
        header(out, pairs.len(), 0x90, 0xdc, 0xdd);
        for i in 1..=pairs.len() {
            let v: Value = t.raw_get(i).map_err(|e| e.to_string())?;
            pack(&v, depth, out)?;
        }
    } else {
        header(out, pairs.len(), 0x80, 0xde, 0xdf);
        for (k, v) in &pairs {
            pack(k, depth, out)?;
            pack(v, depth, out)?;
        }
    }
    Ok(())
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    lua: &'a Lua,
}

const MISSING: &str = "Missing bytes in input.";

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).ok_or(MISSING)?;
        let s = self.b.get(self.pos..end).ok_or(MISSING)?;
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &c| (acc << 8) | c as u64))
    }

    fn str(&mut self, n: usize) -> Result<Value, String> {
        let s = self.take(n)?.to_vec();
        Ok(Value::String(
            self.lua.create_string(&s).map_err(|e| e.to_string())?,
        ))
    }

    fn array(&mut self, n: usize) -> Result<Value, String> {
        let t = self.lua.create_table().map_err(|e| e.to_string())?;
        for i in 1..=n {
            let v = self.value()?;
            t.raw_set(i, v).map_err(|e| e.to_string())?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, n: usize) -> Result<Value, String> {
        let t = self.lua.create_table().map_err(|e| e.to_string())?;
        for _ in 0..n {
            let k = self.value()?;
            let v = self.value()?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v).map_err(|e| e.to_string())?;
            }
        }
        Ok(Value::Table(t))
    }

    fn value(&mut self) -> Result<Value, String> {
        let c = self.take(1)?[0];
        let num = |n: f64| Ok(Value::Number(n));
        match c {
            0x00..=0x7f => num(c as f64),
            0x80..=0x8f => self.map((c & 0x0f) as usize),
            0x90..=0x9f => self.array((c & 0x0f) as usize),
            0xa0..=0xbf => self.str((c & 0x1f) as usize),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xc4 | 0xd9 => {
                let n = self.uint(1)? as usize;
                self.str(n)
            }
            0xc5 | 0xda => {
                let n = self.uint(2)? as usize;
                self.str(n)
            }
            0xc6 | 0xdb => {
                let n = self.uint(4)? as usize;
                self.str(n)
            }
            0xca => num(f32::from_bits(self.uint(4)? as u32) as f64),
            0xcb => num(f64::from_bits(self.uint(8)?)),
            0xcc => num(self.uint(1)? as f64),
            0xcd => num(self.uint(2)? as f64),
            0xce => num(self.uint(4)? as f64),
            0xcf => num(self.uint(8)? as f64),
            0xd0 => num(self.uint(1)? as u8 as i8 as f64),
            0xd1 => num(self.uint(2)? as u16 as i16 as f64),
            0xd2 => num(self.uint(4)? as u32 as i32 as f64),
            0xd3 => num(self.uint(8)? as i64 as f64),
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(n)
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(n)
            }
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(n)
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(n)
            }
            0xe0..=0xff => num(c as i8 as f64),
            _ => Err("Bad data format in input.".into()),
        }
    }
}
