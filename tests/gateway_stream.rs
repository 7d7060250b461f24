//! Uploads and downloads stream: a 1 GiB file goes through the gateway (presigned PUT, then GET)
//! while the node's peak memory stays far below the file size.

mod gateway_common;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use gateway_common::{Node, http};
use support::TempDir;

const FILE_BYTES: u64 = 1024 * 1024 * 1024;
const BLOCK: usize = 1024 * 1024;
/// The gateway may use this much more memory than it had at rest; far below the file size.
const MEMORY_BUDGET_KIB: u64 = 160 * 1024;
/// An ancillary name nothing in the product graph consumes, so no science runs on it.
const NAME: &str = "imap_idex_stream-test_20240101_v001.dat";
const KEY: &str = "imap/ancillary/idex/imap_idex_stream-test_20240101_v001.dat";

/// One block of the test file: a fixed pattern stamped with the block's index, so misplaced blocks show.
fn stamp(pattern: &mut [u8], index: u64) {
    pattern[..8].copy_from_slice(&index.to_be_bytes());
}

fn pattern() -> Vec<u8> {
    (0..BLOCK).map(|position| (position.wrapping_mul(31) >> 3) as u8).collect()
}

#[test]
fn a_large_upload_and_download_stream_with_bounded_memory() {
    let home = TempDir::new("stream");
    let node = Node::start(home.path(), "indexer,gateway");
    let key = node.create_key("bulk", "upload");
    let address = node.address();
    let (status, body) = http(&address, "GET", &format!("/api-key/upload/{NAME}"), &[("x-api-key", &key)]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let url: String = serde_json::from_slice(&body).unwrap();
    let target = url.split_once(&address).unwrap().1.to_string();
    let at_rest = node.peak_memory_kib();

    let started = Instant::now();
    let mut stream = TcpStream::connect(&address).unwrap();
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {address}\r\nContent-Type: \r\nContent-Length: {FILE_BYTES}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut block = pattern();
    for index in 0..FILE_BYTES / BLOCK as u64 {
        stamp(&mut block, index);
        stream.write_all(&block).unwrap();
    }
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let (status, body) = gateway_common::parse_response(&response);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let upload_seconds = started.elapsed().as_secs_f64();
    let after_upload = node.peak_memory_kib();
    assert_eq!(std::fs::metadata(node.archive_file(KEY)).unwrap().len(), FILE_BYTES);

    let started = Instant::now();
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(stream, "GET /download/{KEY} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut reader = BufReader::with_capacity(BLOCK, stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    assert!(status_line.contains(" 200 "), "{status_line}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
    }
    let mut buffer = vec![0u8; BLOCK];
    for index in 0..FILE_BYTES / BLOCK as u64 {
        reader.read_exact(&mut buffer).unwrap();
        stamp(&mut block, index);
        assert!(buffer == block, "block {index} differs");
    }
    let download_seconds = started.elapsed().as_secs_f64();
    let after_download = node.peak_memory_kib();
    println!(
        "1 GiB: upload {upload_seconds:.1} s, download {download_seconds:.1} s; peak memory at rest {} MiB, after upload {} MiB, after download {} MiB",
        at_rest / 1024,
        after_upload / 1024,
        after_download / 1024
    );
    assert!(after_download - at_rest < MEMORY_BUDGET_KIB, "peak grew by {} MiB", (after_download - at_rest) / 1024);
}
