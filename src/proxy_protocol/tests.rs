//! The PROXY parser against headers built from the specification's layout:
//! both versions, every split point, limits, LOCAL / UNKNOWN, IPv6, TLVs
//! and garbage.

use super::*;

fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
    let mut h = V2_SIGNATURE.to_vec();
    h.push(0x20 | cmd);
    h.push(fam);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(body);
    h
}

fn v4_body(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&src);
    b.extend_from_slice(&dst);
    b.extend_from_slice(&sport.to_be_bytes());
    b.extend_from_slice(&dport.to_be_bytes());
    b
}

fn addrs(h: Result<Parsed, ParseError>) -> Option<(SocketAddr, SocketAddr)> {
    match h {
        Ok(Parsed::Header { header, .. }) => header.addresses,
        other => panic!("not a header: {other:?}"),
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Every strict prefix of a header is Incomplete, the whole is the header,
/// and bytes after it are not part of it.
fn check_every_split(header: &[u8]) {
    for cut in 0..header.len() {
        assert_eq!(
            parse(&header[..cut]),
            Ok(Parsed::Incomplete),
            "prefix of {cut} bytes"
        );
    }
    let mut with_tail = header.to_vec();
    with_tail.extend_from_slice(b"USER x\r\n\x16\x03\x01");
    match parse(&with_tail) {
        Ok(Parsed::Header { len, .. }) => assert_eq!(len, header.len()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn v1_tcp4_gives_source_and_destination() {
    let h = b"PROXY TCP4 127.0.0.10 127.0.0.1 40000 21\r\n";
    assert_eq!(
        addrs(parse(h)),
        Some((sa("127.0.0.10:40000"), sa("127.0.0.1:21")))
    );
    check_every_split(h);
}

#[test]
fn v1_tcp6_gives_ipv6_addresses() {
    let h = b"PROXY TCP6 2001:db8::1 ::1 65535 2121\r\n";
    assert_eq!(
        addrs(parse(h)),
        Some((sa("[2001:db8::1]:65535"), sa("[::1]:2121")))
    );
    check_every_split(h);
}

#[test]
fn v1_unknown_keeps_the_socket_addresses() {
    for h in [
        &b"PROXY UNKNOWN\r\n"[..],
        b"PROXY UNKNOWN ffff:: 1.2.3.4 1 2\r\n",
    ] {
        assert_eq!(addrs(parse(h)), None);
        check_every_split(h);
    }
}

#[test]
fn v1_longest_header_fits_and_one_more_byte_is_too_long() {
    // The specification's worst case: TCP6 with the longest addresses.
    let full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let h = format!("PROXY TCP6 {full} {full} 65535 65535\r\n");
    assert!(h.len() <= V1_MAX);
    assert!(parse(h.as_bytes()).is_ok());
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(V1_MAX, b'x');
    assert_eq!(parse(&long), Err(ParseError::TooLong));
    long.extend_from_slice(b"\r\n");
    assert_eq!(parse(&long), Err(ParseError::TooLong));
}

#[test]
fn v1_garbage_is_refused() {
    let bad: &[&[u8]] = &[
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
        b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
        b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\xff\r\n",
        b"PROXY \r\n",
    ];
    for h in bad {
        assert!(
            matches!(parse(h), Err(ParseError::Invalid(_))),
            "{:?}",
            String::from_utf8_lossy(h)
        );
    }
}

#[test]
fn plain_ftp_and_tls_are_not_proxy() {
    for first in [
        &b"USER anonymous\r\n"[..],
        b"\x16\x03\x01\x02\x00",
        b"PROXZ",
        b"\r\nUSER",
        b"\r\n\r\n\0\r\nQUIX\n",
    ] {
        assert_eq!(parse(first), Ok(Parsed::NotProxy));
    }
    // Nothing yet: it could still be either.
    assert_eq!(parse(b""), Ok(Parsed::Incomplete));
}

#[test]
fn v2_proxy_tcp4() {
    let h = v2(
        1,
        0x11,
        &v4_body([127, 0, 0, 10], [127, 0, 0, 1], 40000, 21),
    );
    assert_eq!(
        addrs(parse(&h)),
        Some((sa("127.0.0.10:40000"), sa("127.0.0.1:21")))
    );
    check_every_split(&h);
}

#[test]
fn v2_proxy_tcp6() {
    let mut body = Vec::new();
    body.extend_from_slice(&"2001:db8::10".parse::<Ipv6Addr>().unwrap().octets());
    body.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    body.extend_from_slice(&5000u16.to_be_bytes());
    body.extend_from_slice(&21u16.to_be_bytes());
    let h = v2(1, 0x21, &body);
    assert_eq!(
        addrs(parse(&h)),
        Some((sa("[2001:db8::10]:5000"), sa("[::1]:21")))
    );
    check_every_split(&h);
}

#[test]
fn v2_local_keeps_the_socket_addresses_whatever_its_block() {
    // HAProxy's check-send-proxy: LOCAL with no block, or with one.
    for h in [
        v2(0, 0x00, &[]),
        v2(0, 0x11, &v4_body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)),
    ] {
        assert_eq!(addrs(parse(&h)), None);
        check_every_split(&h);
    }
}

#[test]
fn v2_unspec_and_unix_keep_the_socket_addresses() {
    assert_eq!(addrs(parse(&v2(1, 0x00, &[]))), None);
    assert_eq!(addrs(parse(&v2(1, 0x31, &[0u8; 216]))), None);
}

#[test]
fn v2_tlvs_after_the_addresses_are_skipped() {
    let mut body = v4_body([10, 0, 0, 7], [10, 0, 0, 1], 1234, 990);
    // PP2_TYPE_ALPN "ftp", PP2_TYPE_AUTHORITY "example.org", a NOOP.
    body.extend_from_slice(&[0x01, 0x00, 0x03]);
    body.extend_from_slice(b"ftp");
    body.extend_from_slice(&[0x02, 0x00, 0x0b]);
    body.extend_from_slice(b"example.org");
    body.extend_from_slice(&[0x04, 0x00, 0x02, 0, 0]);
    let h = v2(1, 0x11, &body);
    assert_eq!(
        addrs(parse(&h)),
        Some((sa("10.0.0.7:1234"), sa("10.0.0.1:990")))
    );
    check_every_split(&h);
}

#[test]
fn v2_oversized_is_refused_as_soon_as_its_length_is_known() {
    let mut h = v2(1, 0x11, &[]);
    h[14..16].copy_from_slice(&((V2_MAX_BODY + 1) as u16).to_be_bytes());
    assert_eq!(parse(&h), Err(ParseError::TooLong));
    h[14..16].copy_from_slice(&0xffffu16.to_be_bytes());
    assert_eq!(parse(&h), Err(ParseError::TooLong));
    // The longest accepted one is accepted.
    let mut body = v4_body([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
    body.resize(V2_MAX_BODY, 0);
    let h = v2(1, 0x11, &body);
    assert_eq!(h.len(), MAX_HEADER);
    assert!(matches!(parse(&h), Ok(Parsed::Header { len, .. }) if len == MAX_HEADER));
}

#[test]
fn v2_garbage_is_refused() {
    let ok = v4_body([1, 1, 1, 1], [2, 2, 2, 2], 1, 2);
    let mut bad_version = v2(1, 0x11, &ok);
    bad_version[12] = 0x11;
    let mut bad_command = v2(1, 0x11, &ok);
    bad_command[12] = 0x22;
    let cases = [
        bad_version,
        bad_command,
        v2(1, 0x11, &ok[..11]),
        v2(1, 0x21, &ok),
        v2(1, 0x12, &ok),
        v2(1, 0x41, &ok),
    ];
    for h in cases {
        assert!(matches!(parse(&h), Err(ParseError::Invalid(_))), "{h:?}");
    }
}

#[test]
fn random_bytes_never_panic_and_keep_the_readers_invariants() {
    // A small deterministic generator: no dependency, same bytes each run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..20_000 {
        let len = (next() % 64) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the time behind a real signature, to reach the deeper code.
        if round % 2 == 0 {
            let mut h = V2_SIGNATURE.to_vec();
            h.append(&mut buf);
            buf = h;
        } else if round % 4 == 1 {
            let mut h = b"PROXY TCP4 ".to_vec();
            h.append(&mut buf);
            buf = h;
        }
        // The invariants the header reader relies on (as fuzz/proxy_header).
        match parse(&buf) {
            Ok(Parsed::Header { header, len }) => {
                assert!(len <= buf.len() && len <= MAX_HEADER);
                assert_eq!(parse(&buf[..len]), Ok(Parsed::Header { header, len }));
            }
            Ok(Parsed::Incomplete) => assert!(buf.len() < MAX_HEADER),
            Ok(Parsed::NotProxy) | Err(_) => {}
        }
    }
}

#[test]
fn cidr_lists_match_what_they_say() {
    let nets = parse_cidr_list("127.0.0.1,10.0.0.0/8, ::1/128,2001:db8::/32").unwrap();
    assert!(is_trusted(&nets, "127.0.0.1".parse().unwrap()));
    assert!(!is_trusted(&nets, "127.0.0.2".parse().unwrap()));
    assert!(is_trusted(&nets, "10.255.0.1".parse().unwrap()));
    assert!(is_trusted(&nets, "::ffff:10.1.2.3".parse().unwrap()));
    assert!(is_trusted(&nets, "::1".parse().unwrap()));
    assert!(is_trusted(&nets, "2001:db8:ffff::1".parse().unwrap()));
    assert!(!is_trusted(&nets, "2001:db9::1".parse().unwrap()));
    let all = parse_cidr_list("0.0.0.0/0").unwrap();
    assert!(is_trusted(&all, "8.8.8.8".parse().unwrap()));
    assert!(!is_trusted(&all, "::2".parse().unwrap()));
    for bad in ["10.0.0.0/33", "::/129", "nonsense", "10.0.0.0/x", "1.2.3/8"] {
        assert!(bad.parse::<Cidr>().is_err(), "{bad}");
    }
    assert_eq!(
        "proxy".parse::<ProxyProtocol>().ok(),
        None,
        "a typo is an error"
    );
    assert_eq!("Required".parse(), Ok(ProxyProtocol::Required));
}
