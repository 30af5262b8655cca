//! The PORT, EPRT and REST argument parsers on arbitrary strings, with the
//! invariants their callers rely on.
#![no_main]

use std::net::SocketAddr;

use ftpdlib::fuzzing::{parse_eprt, parse_port, parse_rest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let arg = String::from_utf8_lossy(data);
    let arg = arg.as_ref();

    if let Some(addr) = parse_port(arg) {
        // PORT is IPv4 only, made of exactly six comma-separated numbers,
        // and formatting the result back parses to the same address.
        let SocketAddr::V4(v4) = addr else {
            panic!("PORT gave a non-IPv4 address {addr} for {arg:?}")
        };
        assert_eq!(arg.matches(',').count(), 5, "{arg:?}");
        let o = v4.ip().octets();
        let again = format!(
            "{},{},{},{},{},{}",
            o[0],
            o[1],
            o[2],
            o[3],
            v4.port() >> 8,
            v4.port() & 0xff
        );
        assert_eq!(parse_port(&again), Some(addr), "{arg:?} -> {again:?}");
    }

    if let Ok(addr) = parse_eprt(arg) {
        // The family matches the protocol number, and the canonical form
        // parses back to the same address (port 0 parses, as for PORT: the
        // privileged-port check refuses it).
        let delim = arg.chars().next().unwrap();
        let proto = arg.split(delim).nth(1).unwrap();
        match addr {
            SocketAddr::V4(_) => assert_eq!(proto, "1", "{arg:?}"),
            SocketAddr::V6(_) => assert_eq!(proto, "2", "{arg:?}"),
        }
        let again = match addr {
            SocketAddr::V4(a) => format!("|1|{}|{}|", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("|2|{}|{}|", a.ip(), a.port()),
        };
        assert_eq!(parse_eprt(&again).ok(), Some(addr), "{arg:?} -> {again:?}");
    }

    if let Some(n) = parse_rest(arg) {
        // Only decimal digits (around blanks) are an offset, and the value
        // is the number they spell.
        let digits = arg.trim();
        assert!(
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
            "REST accepted {arg:?}"
        );
        let significant = digits.trim_start_matches('0');
        let expect = if significant.is_empty() {
            "0"
        } else {
            significant
        };
        assert_eq!(n.to_string(), expect, "{arg:?}");
    } else {
        // ... and every in-range decimal offset is accepted.
        let digits = arg.trim();
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            assert!(digits.parse::<u64>().is_err(), "REST refused {arg:?}");
        }
    }
});
