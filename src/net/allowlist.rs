//! The `ip-allowlist` directive (a Redust extension): CIDR ranges that TCP
//! and TLS clients must connect from. Clients from anywhere else are told
//! so and disconnected before any command runs; an empty list admits all.
//! Unix-socket clients are local and never checked.

use std::net::IpAddr;

/// One range: a network address and the number of leading bits that must
/// match.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    /// "10.0.0.0/8", "::1/128", or a bare address (a single host).
    fn parse(text: &str) -> Option<Cidr> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let net: IpAddr = addr.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => {
                b.parse::<u8>().ok().filter(|b| *b <= max)?
            }
            Some(_) => return None,
            None => max,
        };
        Some(Cidr { net, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
            let (whole, rest) = ((bits / 8) as usize, bits % 8);
            if a[..whole] != b[..whole] {
                return false;
            }
            rest == 0 || {
                let mask = 0xffu8 << (8 - rest);
                a[whole] & mask == b[whole] & mask
            }
        }
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(i)) => prefix_eq(&n.octets(), &i.octets(), self.bits),
            (IpAddr::V6(n), IpAddr::V6(i)) => prefix_eq(&n.octets(), &i.octets(), self.bits),
            _ => false,
        }
    }
}

/// Validates a list for CONFIG SET and redis.conf, normalised to single
/// spaces.
pub fn validate(text: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for r in text.split_whitespace() {
        if Cidr::parse(r).is_none() {
            return Err(format!("Invalid CIDR range '{r}'"));
        }
        out.push(r);
    }
    Ok(out.join(" "))
}

/// Whether a client from `ip` may connect under the list `text` (a value
/// `validate` accepted).
pub fn allows(text: &str, ip: IpAddr) -> bool {
    let mut ranges = text.split_whitespace().filter_map(Cidr::parse).peekable();
    ranges.peek().is_none() || ranges.any(|c| c.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges() {
        assert!(allows("", ip("10.1.2.3")));
        assert!(allows("127.0.0.1/32", ip("127.0.0.1")));
        assert!(!allows("127.0.0.1/32", ip("127.0.0.2")));
        assert!(allows("10.0.0.0/8 127.0.0.0/30", ip("127.0.0.3")));
        assert!(!allows("10.0.0.0/8 127.0.0.0/30", ip("127.0.0.4")));
        assert!(allows("127.0.0.0/9", ip("127.127.255.255")));
        assert!(!allows("127.0.0.0/9", ip("127.128.0.0")));
        assert!(allows("0.0.0.0/0", ip("1.2.3.4")));
        assert!(!allows("0.0.0.0/0", ip("::2")));
        assert!(allows("::1", ip("::1")));
        assert!(allows("fe80::/10", ip("febf::1")));
        assert!(!allows("fe80::/10", ip("fec0::1")));
        // An IPv4 client reaching an IPv6 socket is matched as IPv4.
        assert!(allows("127.0.0.2", ip("::ffff:127.0.0.2")));
        assert_eq!(validate(" 10.0.0.0/8   ::1 ").unwrap(), "10.0.0.0/8 ::1");
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "x",
            "10.0.0.0/",
            "10.0.0.0/+8",
        ] {
            assert!(validate(bad).is_err(), "{bad}");
        }
    }
}
