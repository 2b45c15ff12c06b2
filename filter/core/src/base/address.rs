//! Client addresses in every form proxies write them, and the address ranges trusted proxies
//! are named by.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address range from `actor.trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip.octets(), self.bits) == net.octets(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip.octets(), self.bits) == net.octets(),
            _ => false,
        }
    }
}

/// Parses `10.0.0.0/8`, `2001:db8::/32` or a plain address (a /32 or /128).
pub(crate) fn parse_cidr(s: &str) -> Option<Cidr> {
    let (addr, bits) = match s.trim().split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s.trim(), None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    match addr {
        IpAddr::V4(v4) => {
            let bits = bits.unwrap_or(32);
            (bits <= 32).then(|| Cidr {
                addr: IpAddr::V4(Ipv4Addr::from(mask_v4(v4.octets(), bits))),
                bits,
            })
        }
        IpAddr::V6(v6) => {
            let bits = bits.unwrap_or(128);
            (bits <= 128).then(|| Cidr {
                addr: IpAddr::V6(Ipv6Addr::from(mask_v6(v6.octets(), bits))),
                bits,
            })
        }
    }
}

pub(crate) fn mask_v4(octets: [u8; 4], bits: u8) -> [u8; 4] {
    let n = u32::from_be_bytes(octets);
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits.min(32)))
    };
    (n & mask).to_be_bytes()
}

pub(crate) fn mask_v6(octets: [u8; 16], bits: u8) -> [u8; 16] {
    let n = u128::from_be_bytes(octets);
    let mask = if bits == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(bits.min(128)))
    };
    (n & mask).to_be_bytes()
}

/// Parses a client address as hosts and proxies write it: `1.2.3.4`, `1.2.3.4:80`, `::1`,
/// `[::1]:80`, `fe80::1%eth0`, `[fe80::1%25eth0]:80`, optionally quoted. IPv4-mapped IPv6
/// addresses become IPv4, so a dual-stack listener counts one client once.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    let ip = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(strip_zone(inside).parse().ok()?)
    } else if s.bytes().filter(|b| *b == b':').count() == 1 {
        // One colon: IPv4 with a port (IPv6 has at least two), the form peers come in; tried
        // first, without the failed IPv6 parses the general path would make.
        let (host, port) = s.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse().ok()?)
    } else if let Ok(ip) = s.parse::<IpAddr>() {
        ip
    } else if let Ok(v6) = strip_zone(s).parse::<Ipv6Addr>() {
        IpAddr::V6(v6)
    } else {
        let (host, port) = s.rsplit_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse().ok()?)
    };
    Some(ip.to_canonical())
}

fn strip_zone(s: &str) -> &str {
    match s.find('%') {
        Some(i) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_address_form() {
        let cases = [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7:51234", "203.0.113.7"),
            (" \"203.0.113.7\" ", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("fe80::1%eth0", "fe80::1"),
            ("[fe80::1%25eth0]:8080", "fe80::1"),
            ("::ffff:198.51.100.9", "198.51.100.9"),
            ("[::ffff:198.51.100.9]:80", "198.51.100.9"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_ip(input), Some(ip(want)), "{input}");
        }
        for bad in [
            "",
            "unknown",
            "1.2.3",
            "1.2.3.4:",
            "1.2.3.4:99999x",
            "[::1",
            "[::1]x",
            "::1]:80",
            "a.b.c.d",
        ] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }
}
