//! `struct`: packing numbers and strings into binary strings with a format
//! (`<`, `>`, `!n`, `x`, `b B h H l L T i[n] I[n] f d c[n] s`), as the
//! struct library Redis bundles does on a 64-bit little-endian machine.

use mlua::{Lua, MultiValue, Table, Value};

use super::{arg, bad_arg, lib_fn, number_of, LibResult};

/// Alignment used by a bare `!`: that of a double.
const NATIVE_ALIGN: usize = 8;

pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lib_fn(lua, pack)?)?;
    t.raw_set("unpack", lib_fn(lua, unpack)?)?;
    t.raw_set("size", lib_fn(lua, size)?)?;
    Ok(t)
}

struct Fmt<'a> {
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
    fname: &'static str,
}

/// One item of a format: its option letter and size.
enum Item {
    Opt(u8, usize),
    /// A setting (endianness, alignment) was applied.
    Setting,
}

impl<'a> Fmt<'a> {
    fn new(f: &'a [u8], fname: &'static str) -> Self {
        Fmt {
            fname,
            f,
            i: 0,
            little: true,
            align: 1,
        }
    }

    fn num(&mut self, default: usize) -> usize {
        let start = self.i;
        let mut n = 0usize;
        while let Some(c) = self.f.get(self.i).filter(|c| c.is_ascii_digit()) {
            n = n.saturating_mul(10).saturating_add((c - b'0') as usize);
            self.i += 1;
        }
        if self.i == start {
            default
        } else {
            n
        }
    }

    fn next(&mut self) -> Option<Result<Item, String>> {
        let c = *self.f.get(self.i)?;
        self.i += 1;
        Some(Ok(match c {
            b'b' | b'B' | b'x' => Item::Opt(c, 1),
            b'h' | b'H' => Item::Opt(c, 2),
            b'l' | b'L' | b'T' => Item::Opt(c, 8),
            b'f' => Item::Opt(c, 4),
            b'd' => Item::Opt(c, 8),
            b's' => Item::Opt(c, 0),
            b'c' => Item::Opt(c, self.num(1)),
            b'i' | b'I' => {
                let n = self.num(4);
                if n > 32 {
                    return Some(Err(format!("integral size {n} is larger than limit of 32")));
                }
                Item::Opt(c, n)
            }
            b' ' => Item::Setting,
            b'<' | b'=' => {
                self.little = true;
                Item::Setting
            }
            b'>' => {
                self.little = false;
                Item::Setting
            }
            b'!' => {
                let a = self.num(NATIVE_ALIGN);
                if !a.is_power_of_two() {
                    return Some(Err(format!("alignment {a} is not a power of 2")));
                }
                self.align = a;
                Item::Setting
            }
            other => {
                return Some(Err(format!(
                    "bad argument #1 to '{}' (invalid format option '{}')",
                    self.fname, other as char
                )))
            }
        }))
    }

    /// Padding needed before an item of `size` at offset `len`.
    fn pad(&self, opt: u8, size: usize, len: usize) -> usize {
        if size <= 1 || opt == b'c' {
            return 0;
        }
        let a = size.min(self.align);
        (a - (len & (a - 1))) & (a - 1)
    }
}

fn format_of(mv: &MultiValue, fname: &str) -> Result<Vec<u8>, String> {
    match mv.front() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        other => Err(bad_arg(1, fname, "string", other.unwrap_or(&Value::Nil))),
    }
}

fn pack(lua: &Lua, mv: MultiValue) -> LibResult {
    let f = format_of(&mv, "pack")?;
    let mut fmt = Fmt::new(&f, "pack");
    let mut out: Vec<u8> = Vec::new();
    let mut argn = 1;
    while let Some(item) = fmt.next() {
        let Item::Opt(opt, size) = item? else {
            continue;
        };
        out.resize(out.len() + fmt.pad(opt, size, out.len()), 0);
        match opt {
            b'x' => out.push(0),
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = arg(&mv, argn);
                let n = number_of(&v).ok_or_else(|| bad_arg(argn + 1, "pack", "number", &v))?;
                argn += 1;
                let bits = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                // Sizes past 8 bytes are zero-filled.
                let mut bytes = vec![0; size.max(8)];
                bytes[..8].copy_from_slice(&bits.to_le_bytes());
                if fmt.little {
                    out.extend_from_slice(&bytes[..size]);
                } else {
                    out.extend(bytes[..size].iter().rev());
                }
            }
            b'f' | b'd' => {
                let v = arg(&mv, argn);
                let n = number_of(&v).ok_or_else(|| bad_arg(argn + 1, "pack", "number", &v))?;
                argn += 1;
                let bytes = if opt == b'f' {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if fmt.little {
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend(bytes.iter().rev());
                }
            }
            b'c' | b's' => {
                let v = arg(&mv, argn);
                let s = match &v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Integer(_) | Value::Number(_) => {
                        super::lua_number_string(lua, number_of(&v).unwrap_or(0.0))
                            .map_err(|e| e.to_string())?
                    }
                    _ => return Err(bad_arg(argn + 1, "pack", "string", &v)),
                };
                argn += 1;
                if opt == b's' {
                    out.extend_from_slice(&s);
                    out.push(0);
                } else {
                    let n = if size == 0 { s.len() } else { size };
                    if s.len() < n {
                        return Err(format!(
                            "bad argument #{} to 'pack' (string too short)",
                            argn + 1
                        ));
                    }
                    out.extend_from_slice(&s[..n]);
                }
            }
            _ => {}
        }
    }
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(&out).map_err(|e| e.to_string())?,
    )]))
}

fn unpack(lua: &Lua, mv: MultiValue) -> LibResult {
    let f = format_of(&mv, "unpack")?;
    let data = match arg(&mv, 1) {
        Value::String(s) => s.as_bytes().to_vec(),
        v => return Err(bad_arg(2, "unpack", "string", &v)),
    };
    let mut pos = match arg(&mv, 2) {
        Value::Nil => 0,
        v => match number_of(&v) {
            Some(n) if n >= 1.0 => n as usize - 1,
            _ => return Err("bad argument #3 to 'unpack' (offset must be 1 or greater)".into()),
        },
    };
    let mut fmt = Fmt::new(&f, "unpack");
    let mut vals: Vec<Value> = Vec::new();
    let short = || "bad argument #2 to 'unpack' (data string too short)".to_string();
    while let Some(item) = fmt.next() {
        let Item::Opt(opt, mut size) = item? else {
            continue;
        };
        pos += fmt.pad(opt, size, pos);
        match opt {
            b'x' => pos += 1,
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let raw = data.get(pos..pos + size).ok_or_else(short)?;
                let mut le = raw.to_vec();
                if !fmt.little {
                    le.reverse();
                }
                let mut bytes = [0u8; 8];
                let low = size.min(8);
                bytes[..low].copy_from_slice(&le[..low]);
                let u = u64::from_le_bytes(bytes);
                let size_for_sign = low;
                let signed = matches!(opt, b'b' | b'h' | b'l' | b'i');
                let n = if signed && size_for_sign < 8 {
                    let shift = 64 - 8 * size_for_sign as u32;
                    (((u << shift) as i64) >> shift) as f64
                } else if signed {
                    u as i64 as f64
                } else {
                    u as f64
                };
                vals.push(Value::Number(n));
                pos += size;
            }
            b'f' | b'd' => {
                let raw = data.get(pos..pos + size).ok_or_else(short)?;
                let mut b = raw.to_vec();
                if !fmt.little {
                    b.reverse();
                }
                let n = if opt == b'f' {
                    f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64
                } else {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                };
                vals.push(Value::Number(n));
                pos += size;
            }
            b'c' => {
                if size == 0 {
                    match vals.pop().as_ref().and_then(number_of) {
                        Some(n) if n >= 0.0 => size = n as usize,
                        _ => return Err("format 'c0' needs a previous size".into()),
                    }
                }
                let raw = data.get(pos..pos + size).ok_or_else(short)?;
                vals.push(Value::String(
                    lua.create_string(raw).map_err(|e| e.to_string())?,
                ));
                pos += size;
            }
            b's' => {
                let rest = data.get(pos..).ok_or_else(short)?;
                let end = memchr::memchr(0, rest).ok_or("unfinished string in data")?;
                vals.push(Value::String(
                    lua.create_string(&rest[..end]).map_err(|e| e.to_string())?,
                ));
                pos += end + 1;
            }
            _ => {}
        }
    }
    vals.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(vals))
}

fn size(_lua: &Lua, mv: MultiValue) -> LibResult {
    let f = format_of(&mv, "size")?;
    let mut fmt = Fmt::new(&f, "size");
    let mut total = 0usize;
    while let Some(item) = fmt.next() {
        let Item::Opt(opt, size) = item? else {
            continue;
        };
        if opt == b's' {
            return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into());
        }
        if opt == b'c' && size == 0 {
            return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into());
        }
        total += fmt.pad(opt, size, total) + size;
    }
    Ok(MultiValue::from_vec(vec![Value::Number(total as f64)]))
}
