//! The PROXY protocol header parser on arbitrary bytes, with the
//! invariants the server's header reader relies on.
#![no_main]

use ftpdlib::proxy_protocol::{parse, Parsed, MAX_HEADER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(Parsed::Header { header, len }) => {
            // A header never claims more than it was given or the reader
            // holds, and it alone parses to the same header.
            assert!(len <= data.len() && len <= MAX_HEADER, "{len}");
            assert_eq!(
                parse(&data[..len]),
                Ok(Parsed::Header { header, len }),
                "{data:?}"
            );
        }
        // More bytes are only asked for while the reader can still hold
        // them: a reader of MAX_HEADER bytes always gets an answer.
        Ok(Parsed::Incomplete) => assert!(data.len() < MAX_HEADER, "{}", data.len()),
        Ok(Parsed::NotProxy) | Err(_) => {}
    }
});
