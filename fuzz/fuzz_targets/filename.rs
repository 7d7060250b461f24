//! File names and archive keys come from uploads and download paths: any text must parse or be
//! refused, and a parsed name's archive key must parse back to the same name.
#![no_main]

use imap_filename::{ImapFileName, parse_archive_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(name) = ImapFileName::parse(text) {
        let key = name.archive_path();
        let reparsed = parse_archive_key(&key).unwrap_or_else(|error| panic!("{text:?} -> key {key:?}: {error}"));
        assert_eq!(reparsed, name, "{key}");
    }
    let _ = parse_archive_key(text);
});
