//! An ACL user: enabled or not, its password hashes (SHA-256, never the
//! passwords), its root selector and extra `(...)` selectors, the rules of
//! ACL SETUSER that change them, and the line ACL LIST prints.

use sha2::{Digest, Sha256};

use super::selector::{has_space, RuleError, Selector};

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub enabled: bool,
    pub nopass: bool,
    /// Lowercase hex SHA-256 of each password, in the order added.
    pub passwords: Vec<String>,
    /// "sanitize-payload" or "skip-sanitize-payload" once either was set.
    pub sanitize: Option<&'static str>,
    pub root: Selector,
    pub selectors: Vec<Selector>,
}

pub fn sha256_hex(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

fn valid_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

impl User {
    /// A new user: off, no passwords, no keys, channels per
    /// acl-pubsub-default, no commands.
    pub fn new(name: &str, allchannels: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            sanitize: None,
            root: Selector::new(allchannels),
            selectors: Vec::new(),
        }
    }

    /// Whether `pass` opens this user.
    pub fn accepts(&self, pass: &[u8]) -> bool {
        self.enabled && (self.nopass || self.passwords.contains(&sha256_hex(pass)))
    }

    fn add_hash(&mut self, h: String) {
        if !self.passwords.contains(&h) {
            self.passwords.push(h);
        }
        self.nopass = false;
    }

    fn remove_hash(&mut self, h: &str) -> Result<(), RuleError> {
        let before = self.passwords.len();
        self.passwords.retain(|p| p != h);
        if self.passwords.len() == before {
            return Err(RuleError::NoSuchPassword);
        }
        Ok(())
    }

    /// Applies one rule. `allchannels` is acl-pubsub-default for `reset`.
    pub fn apply(&mut self, op: &[u8], allchannels: bool) -> Result<(), RuleError> {
        if op.first() == Some(&b'(') {
            if op.len() < 2 || op.last() != Some(&b')') {
                return Err(RuleError::Syntax);
            }
            let mut sel = Selector::new(false);
            for r in op[1..op.len() - 1]
                .split(|&c| c == b' ')
                .filter(|r| !r.is_empty())
            {
                sel.apply(r)?;
            }
            self.selectors.push(sel);
            return Ok(());
        }
        match &op.to_ascii_lowercase()[..] {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"sanitize-payload" => self.sanitize = Some("sanitize-payload"),
            b"skip-sanitize-payload" => self.sanitize = Some("skip-sanitize-payload"),
            b"clearselectors" => self.selectors.clear(),
            b"reset" => {
                let name = std::mem::take(&mut self.name);
                *self = User::new(&name, allchannels);
                self.sanitize = Some("sanitize-payload");
            }
            _ => match op.first() {
                Some(b'>') => self.add_hash(sha256_hex(&op[1..])),
                Some(b'<') => self.remove_hash(&sha256_hex(&op[1..]))?,
                Some(b'#') => {
                    if !valid_hash(&op[1..]) {
                        return Err(RuleError::BadHash);
                    }
                    self.add_hash(String::from_utf8_lossy(&op[1..]).into_owned());
                }
                Some(b'!') => {
                    if !valid_hash(&op[1..]) {
                        return Err(RuleError::BadHash);
                    }
                    self.remove_hash(&String::from_utf8_lossy(&op[1..]))?;
                }
                _ => self.root.apply(op)?,
            },
        }
        Ok(())
    }

    /// Flags as ACL GETUSER lists them.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        if let Some(s) = self.sanitize {
            f.push(s);
        }
        f
    }

    /// The rules after `user <name>` as ACL LIST and ACL SAVE write them.
    pub fn describe(&self) -> Vec<u8> {
        let mut s = self.flags().join(" ").into_bytes();
        for p in &self.passwords {
            s.extend_from_slice(b" #");
            s.extend_from_slice(p.as_bytes());
        }
        s.push(b' ');
        s.extend_from_slice(&self.root.describe());
        for sel in &self.selectors {
            s.extend_from_slice(b" (");
            s.extend_from_slice(&sel.describe());
            s.push(b')');
        }
        s
    }
}

/// Joins arguments of a selector split across several arguments
/// (`(~a` `+get)`) into one rule each. The error is Redis's text for an
/// unterminated one.
pub fn merge_selectors(args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    for a in args {
        match open.as_mut() {
            Some(cur) => {
                cur.push(b' ');
                cur.extend_from_slice(a);
                if a.last() == Some(&b')') {
                    out.extend(open.take());
                }
            }
            None if a.first() == Some(&b'(') && a.last() != Some(&b')') => open = Some(a.clone()),
            None => out.push(a.clone()),
        }
    }
    if let Some(cur) = open {
        return Err(format!(
            "Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&cur)
        ));
    }
    Ok(out)
}

/// A valid user name: no spaces or NULs.
pub fn valid_name(name: &[u8]) -> bool {
    !has_space(name)
}
