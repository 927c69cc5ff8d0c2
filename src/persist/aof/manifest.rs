//! The manifest of a multi-part AOF (Redis 7): one line per file,
//! `file <name> seq <n> type <b|h|i>`, base first, then the incremental
//! files in order. History files (`h`) are left by an interrupted cleanup
//! and are not loaded.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub seq: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<FileEntry>,
    pub incrs: Vec<FileEntry>,
    pub history: Vec<FileEntry>,
}

/// Splits a manifest line into words; a word may be double-quoted with
/// backslash escapes, as Redis writes names containing spaces.
fn words(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            return Some(out);
        };
        let mut w = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => w.push('\n'),
                        't' => w.push('\t'),
                        'r' => w.push('\r'),
                        o => w.push(o),
                    },
                    o => w.push(o),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        out.push(w);
    }
}

fn quote(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad =
                |why: &str| format!("Invalid AOF manifest file format (line {}: {why})", n + 1);
            let w = words(line).ok_or_else(|| bad("unbalanced quotes"))?;
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in w.chunks(2) {
                match kv {
                    [k, v] if k == "file" => name = Some(v.clone()),
                    [k, v] if k == "seq" => seq = v.parse::<u64>().ok(),
                    [k, v] if k == "type" => kind = Some(v.clone()),
                    [_, _] => {}
                    _ => return Err(bad("odd number of fields")),
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("missing file, seq or type"));
            };
            if name.contains('/') {
                return Err(bad("file names may not contain '/'"));
            }
            let e = FileEntry { name, seq };
            match kind.as_str() {
                "b" => {
                    if m.base.is_some() {
                        return Err(bad("more than one base file"));
                    }
                    m.base = Some(e)
                }
                "i" => {
                    if m.incrs.last().is_some_and(|l| l.seq >= e.seq) {
                        return Err(bad("incr files out of order"));
                    }
                    m.incrs.push(e)
                }
                "h" => m.history.push(e),
                _ => return Err(bad("unknown file type")),
            }
        }
        Ok(m)
    }

    pub fn format(&self) -> String {
        let mut s = String::new();
        let mut line = |e: &FileEntry, t: char| {
            s.push_str(&format!("file {} seq {} type {t}\n", quote(&e.name), e.seq));
        };
        if let Some(b) = &self.base {
            line(b, 'b');
        }
        for h in &self.history {
            line(h, 'h');
        }
        for i in &self.incrs {
            line(i, 'i');
        }
        s
    }

    /// Files to load, in order.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.base.iter().chain(self.incrs.iter())
    }

    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.last().map_or(1, |e| e.seq + 1)
    }

    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(1, |e| e.seq + 1)
    }

    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }
}

/// Redis's file names: `<appendfilename>.<seq>.base.rdb` (or `.base.aof`
/// without the RDB preamble) and `<appendfilename>.<seq>.incr.aof`.
pub fn base_name(prefix: &str, seq: u64, rdb: bool) -> String {
    format!("{prefix}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile \"a b\" seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs[1].name, "a b");
        assert_eq!(m.format(), text);
        assert!(Manifest::parse("file x seq 1 type z\n").is_err());
        assert!(Manifest::parse("file x seq\n").is_err());
    }
}
