//! Numeric addresses as the server reads and prints them: glibc's
//! `getaddrinfo(AI_NUMERICHOST)` (`inet_aton` forms such as `10.1` and `0x7f.1`, IPv6
//! with a zone), `pg_sockaddr_cidr_mask()` and `getnameinfo(NI_NUMERICHOST)`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `__inet_aton_exact()`: `a`, `a.b`, `a.b.c` or `a.b.c.d`, each part decimal, octal
/// (leading `0`) or hex (`0x`), the last part filling the remaining bytes.
pub(crate) fn inet_aton_exact(s: &str) -> Option<Ipv4Addr> {
    const MAX: [u64; 4] = [0xffff_ffff, 0x00ff_ffff, 0xffff, 0xff];
    let b = s.as_bytes();
    let mut parts = [0u64; 3];
    let mut nparts = 0usize;
    let mut i = 0usize;
    let val;
    loop {
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let (v, used) = strtoul_base0(&b[i..])?;
        i += used;
        if b.get(i) == Some(&b'.') {
            if nparts > 2 || v > 0xff {
                return None;
            }
            parts[nparts] = v;
            nparts += 1;
            i += 1;
        } else {
            val = v;
            break;
        }
    }
    if i != b.len() {
        return None;
    }
    if val > MAX[nparts] {
        return None;
    }
    let mut word: u32 = 0;
    for (k, p) in parts[..nparts].iter().enumerate() {
        word |= (*p as u32) << (24 - 8 * k);
    }
    word |= val as u32;
    Some(Ipv4Addr::from(word))
}

/// `strtoul(s, &end, 0)` on a string that starts with a digit: value and bytes used.
/// None when the value does not fit in 32 bits (the caller rejects those anyway).
fn strtoul_base0(b: &[u8]) -> Option<(u64, usize)> {
    let (base, start) = if b.first() == Some(&b'0') {
        if matches!(b.get(1), Some(b'x' | b'X')) && b.get(2).is_some_and(u8::is_ascii_hexdigit) {
            (16, 2)
        } else {
            (8, 0)
        }
    } else {
        (10, 0)
    };
    let mut v: u64 = 0;
    let mut i = start;
    while let Some(&c) = b.get(i) {
        let d = match c {
            b'0'..=b'9' => u64::from(c - b'0'),
            b'a'..=b'f' => u64::from(c - b'a' + 10),
            b'A'..=b'F' => u64::from(c - b'A' + 10),
            _ => break,
        };
        if d >= base {
            break;
        }
        v = v.saturating_mul(base).saturating_add(d);
        i += 1;
    }
    if v > 0xffff_ffff {
        return None;
    }
    Some((v, i))
}

/// A numeric host as `getaddrinfo(AI_NUMERICHOST)` accepts it, or None (the server
/// then treats the text as a host name).
pub(crate) fn parse_numeric_host(s: &str) -> Option<IpAddr> {
    if let Some(v4) = inet_aton_exact(s) {
        return Some(IpAddr::V4(v4));
    }
    let (addr, zone) = match s.bytes().position(|c| c == b'%') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let v6: Ipv6Addr = addr.parse().ok()?;
    if let Some(zone) = zone {
        // A numeric zone is always accepted; an interface name only for link-local
        // addresses (glibc asks if_nametoindex(), which we cannot; assume it exists).
        let link_local =
            (v6.segments()[0] & 0xffc0) == 0xfe80 || (v6.segments()[0] & 0xff0f) == 0xff02;
        let numeric = !zone.is_empty() && zone.bytes().all(|c| c.is_ascii_digit());
        if !(numeric || (link_local && !zone.is_empty())) {
            return None;
        }
    }
    Some(IpAddr::V6(v6))
}

/// Where the digits of a C `strtol()`/`atoi()` number start: skips C white space and
/// one sign. Returns (negative, index of the first digit candidate).
pub(crate) fn c_number_start(b: &[u8]) -> (bool, usize) {
    let mut i = 0;
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
    {
        i += 1;
    }
    match b.get(i) {
        Some(b'-') => (true, i + 1),
        Some(b'+') => (false, i + 1),
        _ => (false, i),
    }
}

/// `pg_sockaddr_cidr_mask()`: the prefix length after `/`, or None when invalid.
pub(crate) fn cidr_bits(numbits: &str, v6: bool) -> Option<u8> {
    let b = numbits.as_bytes();
    if b.is_empty() {
        return None;
    }
    // strtol(numbits, &endptr, 10): leading white space, a sign, digits; all consumed.
    let (neg, mut i) = c_number_start(b);
    let digits_start = i;
    let mut v: i64 = 0;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add(i64::from(c - b'0'));
        i += 1;
    }
    if i == digits_start || i != b.len() {
        return None;
    }
    if neg {
        v = -v;
    }
    let max = if v6 { 128 } else { 32 };
    if !(0..=max).contains(&v) {
        return None;
    }
    u8::try_from(v).ok()
}

/// The netmask of a prefix length.
pub(crate) fn mask_of(prefix: u8, v6: bool) -> IpAddr {
    if v6 {
        let bits: u128 = if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(prefix))
        };
        IpAddr::V6(Ipv6Addr::from(bits))
    } else {
        let bits: u32 = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        };
        IpAddr::V4(Ipv4Addr::from(bits))
    }
}

/// Leading one bits of a mask (its prefix length when contiguous).
pub(crate) fn leading_ones(mask: IpAddr) -> u8 {
    let n = match mask {
        IpAddr::V4(m) => u32::from(m).leading_ones(),
        IpAddr::V6(m) => u128::from(m).leading_ones(),
    };
    u8::try_from(n).unwrap_or(0)
}

/// `getnameinfo(NI_NUMERICHOST)` as glibc prints an address (`inet_ntop`).
pub(crate) fn format_addr(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => inet_ntop6(a),
    }
}

/// glibc's `inet_ntop6()`: the longest run (first on ties) of two or more zero words
/// becomes `::`; `::a.b.c.d` and `::ffff:a.b.c.d` print the IPv4 part dotted.
fn inet_ntop6(a: Ipv6Addr) -> String {
    let words = a.segments();
    let mut best: Option<(usize, usize)> = None;
    let mut cur: Option<(usize, usize)> = None;
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            cur = Some(match cur {
                None => (i, 1),
                Some((b, l)) => (b, l + 1),
            });
        } else if let Some(c) = cur.take() {
            if best.is_none_or(|b| c.1 > b.1) {
                best = Some(c);
            }
        }
    }
    if let Some(c) = cur {
        if best.is_none_or(|b| c.1 > b.1) {
            best = Some(c);
        }
    }
    if best.is_some_and(|b| b.1 < 2) {
        best = None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some((b, l)) = best {
            if i >= b && i < b + l {
                if i == b {
                    out.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 {
            if let Some((0, l)) = best {
                if l == 6 || (l == 5 && words[5] == 0xffff) {
                    let o = a.octets();
                    let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
                    return out;
                }
            }
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if let Some((b, l)) = best {
        if b + l == 8 {
            out.push(':');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton_exact("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton_exact("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton_exact("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            inet_aton_exact("010.0.0.1"),
            Some(Ipv4Addr::new(8, 0, 0, 1))
        );
        assert_eq!(inet_aton_exact("1.2.3"), Some(Ipv4Addr::new(1, 2, 0, 3)));
        assert_eq!(inet_aton_exact("16909060"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(inet_aton_exact("1.2.3.256"), None);
        assert_eq!(inet_aton_exact("1.2.3.4.5"), None);
        assert_eq!(inet_aton_exact("09.1.1.1"), None);
        assert_eq!(inet_aton_exact("1.2.3.4 "), None);
        assert_eq!(inet_aton_exact(""), None);
        assert_eq!(inet_aton_exact("a.b.c.d"), None);
        assert_eq!(inet_aton_exact("1..2"), None);
        assert_eq!(inet_aton_exact("4294967296"), None);
    }

    #[test]
    fn numeric_hosts() {
        assert!(parse_numeric_host("::1").is_some());
        assert!(parse_numeric_host("fe80::1%eth0").is_some());
        assert!(parse_numeric_host("2001:db8::1%eth0").is_none());
        assert!(parse_numeric_host("2001:db8::1%3").is_some());
        assert!(parse_numeric_host("example.com").is_none());
    }

    #[test]
    fn cidr() {
        assert_eq!(cidr_bits("24", false), Some(24));
        assert_eq!(cidr_bits("+24", false), Some(24));
        assert_eq!(cidr_bits("-0", false), Some(0));
        assert_eq!(cidr_bits(" 8", false), Some(8));
        assert_eq!(cidr_bits("33", false), None);
        assert_eq!(cidr_bits("128", true), Some(128));
        assert_eq!(cidr_bits("", false), None);
        assert_eq!(cidr_bits("8x", false), None);
        assert_eq!(cidr_bits("-", false), None);
    }

    #[test]
    fn glibc_formatting() {
        let f = |s: &str| format_addr(s.parse().unwrap());
        assert_eq!(f("::1"), "::1");
        assert_eq!(f("::"), "::");
        assert_eq!(f("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
        assert_eq!(f("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
        assert_eq!(f("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        assert_eq!(f("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(f("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(f("ffff:ffff:ffff:ffff::"), "ffff:ffff:ffff:ffff::");
        assert_eq!(format_addr(mask_of(64, true)), "ffff:ffff:ffff:ffff::");
        assert_eq!(format_addr(mask_of(0, false)), "0.0.0.0");
        assert_eq!(format_addr(mask_of(20, false)), "255.255.240.0");
        assert_eq!(leading_ones(mask_of(20, false)), 20);
    }
}
