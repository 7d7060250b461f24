//! Hand-made hostile files: every size, count and link the reader takes from a file is checked
//! before it allocates or follows it, and each case fails with a reason instead of a panic, an
//! endless loop or an allocation the file cannot justify.

mod common;

use std::io::Write;

use common::sample_cdf;
use flate2::{Compression as GzLevel, write::GzEncoder};
use nasa_cdf::*;

fn be_i64(bytes: &[u8], at: usize) -> usize {
    i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
}

fn put_i64(bytes: &mut [u8], at: usize, value: i64) {
    bytes[at..at + 8].copy_from_slice(&value.to_be_bytes());
}

fn put_i32(bytes: &mut [u8], at: usize, value: i32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// Offsets of the records a test patches, found by following the file's own links.
struct Offsets {
    gdr: usize,
    first_vdr: usize,
    first_adr: usize,
}

fn offsets(bytes: &[u8]) -> Offsets {
    let gdr = be_i64(bytes, 8 + 12);
    Offsets { gdr, first_vdr: be_i64(bytes, gdr + 20), first_adr: be_i64(bytes, gdr + 28) }
}

fn plain_sample() -> Vec<u8> {
    sample_cdf(Compression::None).to_bytes().unwrap()
}

fn malformed_reason(bytes: &[u8]) -> String {
    let error = Cdf::from_bytes(bytes).expect_err("a hostile file is refused");
    assert!(matches!(error, CdfError::Malformed { .. } | CdfError::Unsupported { .. }), "{error}");
    error.to_string()
}

/// A whole-file compressed CDF made by hand: the CCR holds `compressed`, and its header claims
/// `claimed_size` uncompressed bytes.
fn compressed_file(compressed: &[u8], claimed_size: u64) -> Vec<u8> {
    let ccr_size = 32 + compressed.len();
    let cpr_at = 8 + ccr_size;
    let mut bytes = vec![0xCD, 0xF3, 0x00, 0x01, 0xCC, 0xCC, 0x00, 0x01];
    bytes.extend_from_slice(&(ccr_size as i64).to_be_bytes());
    bytes.extend_from_slice(&10i32.to_be_bytes()); // CCR
    bytes.extend_from_slice(&(cpr_at as i64).to_be_bytes());
    bytes.extend_from_slice(&(claimed_size as i64).to_be_bytes());
    bytes.extend_from_slice(&0i32.to_be_bytes());
    bytes.extend_from_slice(compressed);
    bytes.extend_from_slice(&28i64.to_be_bytes());
    for field in [11i32, 5, 0, 1, 6] {
        bytes.extend_from_slice(&field.to_be_bytes()); // CPR: gzip, one parameter, level 6
    }
    bytes
}

/// 16 MiB of zeros in about 16 KiB of gzip.
fn gzip_bomb() -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), GzLevel::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..16 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

#[test]
fn gzip_bomb_claiming_its_real_size_is_refused_before_inflating() {
    let bomb = gzip_bomb();
    let bytes = compressed_file(&bomb, 16 << 20);
    let limits = ReadLimits { max_decoded_bytes: 1 << 20 };
    let error = read_cdf_with_limits(&bytes, limits).unwrap_err().to_string();
    assert!(error.contains("refused as a gzip bomb"), "{error}");
}

#[test]
fn gzip_bomb_claiming_a_small_size_inflates_no_further_than_the_claim() {
    let bytes = compressed_file(&gzip_bomb(), 1000);
    let error = malformed_reason(&bytes);
    assert!(error.contains("ccr inflates to 1001 bytes, header says 1000"), "{error}");
}

#[test]
fn compressed_file_claiming_more_than_deflate_can_give_is_refused() {
    let mut written = sample_cdf(Compression::None);
    written.file_compression = Compression::Gzip { level: 9 };
    let mut bytes = written.to_bytes().unwrap();
    put_i64(&mut bytes, 8 + 20, 1 << 40);
    let error = malformed_reason(&bytes);
    assert!(error.contains("refused as a gzip bomb"), "{error}");
}

#[test]
fn huge_variable_and_attribute_counts_are_refused_before_allocating() {
    let plain = plain_sample();
    let at = offsets(&plain);
    for (field, what) in [(at.gdr + 60, "zvariables"), (at.gdr + 48, "attributes")] {
        let mut bytes = plain.clone();
        put_i32(&mut bytes, field, i32::MAX);
        let error = malformed_reason(&bytes);
        assert!(error.contains(&format!("{} {what}, more than the file holds", i32::MAX)), "{error}");
    }
}

#[test]
fn zvdr_chain_pointing_back_is_refused() {
    let mut bytes = plain_sample();
    let at = offsets(&bytes);
    put_i64(&mut bytes, at.first_vdr + 12, at.first_vdr as i64);
    let error = malformed_reason(&bytes);
    assert!(error.contains("zvdr chain loops"), "{error}");
}

#[test]
fn vxr_chain_pointing_back_is_refused() {
    let mut bytes = plain_sample();
    let at = offsets(&bytes);
    let vxr = be_i64(&bytes, at.first_vdr + 28);
    put_i64(&mut bytes, vxr + 12, vxr as i64);
    let error = malformed_reason(&bytes);
    assert!(error.contains("vxr chain loops"), "{error}");
}

#[test]
fn adr_and_aedr_chains_pointing_back_are_refused() {
    let plain = plain_sample();
    let at = offsets(&plain);
    let mut bytes = plain.clone();
    put_i64(&mut bytes, at.first_adr + 12, at.first_adr as i64);
    assert!(malformed_reason(&bytes).contains("adr chain loops"));

    let mut bytes = plain.clone();
    let first_entry = be_i64(&bytes, at.first_adr + 20);
    put_i64(&mut bytes, first_entry + 12, first_entry as i64);
    assert!(malformed_reason(&bytes).contains("aedr chain loops"));
}

/// The zVDR of the variable called `name`.
fn vdr_of(bytes: &[u8], name: &str) -> usize {
    let mut vdr = offsets(bytes).first_vdr;
    while vdr != 0 {
        let field = &bytes[vdr + 84..vdr + 84 + 256];
        if field.starts_with(name.as_bytes()) && field[name.len()] == 0 {
            return vdr;
        }
        vdr = be_i64(bytes, vdr + 12);
    }
    panic!("no variable {name}");
}

#[test]
fn dimension_products_that_overflow_are_refused() {
    let cdf = Cdf { variables: vec![Variable::new("cube", Values::Real8(vec![1.0; 16]), &[2, 2, 2])], ..Cdf::new() };
    let plain = cdf.to_bytes().unwrap();
    let vdr = vdr_of(&plain, "cube");
    // 3 x 2^31 overflows u64 bytes; 2^32 x 2^32 wraps usize to 0 (a `chunks(0)` panic once).
    for sizes in [[i32::MAX; 3], [1 << 30, 1 << 30, 16]] {
        let mut bytes = plain.clone();
        for (dim, size) in sizes.iter().enumerate() {
            put_i32(&mut bytes, vdr + 344 + 4 * dim, *size);
        }
        let error = malformed_reason(&bytes);
        assert!(error.contains("too big to hold") || error.contains("more than the file can hold"), "{error}");
    }
}

#[test]
fn record_count_beyond_what_the_file_holds_is_refused_before_allocating() {
    let mut bytes = plain_sample();
    let vdr = vdr_of(&bytes, "int8");
    put_i32(&mut bytes, vdr + 24, i32::MAX - 1);
    let error = malformed_reason(&bytes);
    assert!(error.contains("more than the file can hold"), "{error}");
}

#[test]
fn variables_sharing_records_cannot_exceed_the_total_budget() {
    let values = Values::Real8((0..4096).map(f64::from).collect());
    let cdf =
        Cdf { variables: (0..4).map(|n| Variable::new(format!("v{n}"), values.clone(), &[])).collect(), ..Cdf::new() };
    let bytes = cdf.to_bytes().unwrap();
    let each = 4096 * 8;
    assert!(read_cdf_with_limits(&bytes, ReadLimits { max_decoded_bytes: 4 * each }).is_ok());
    let error = read_cdf_with_limits(&bytes, ReadLimits { max_decoded_bytes: 3 * each }).unwrap_err().to_string();
    assert!(error.contains("variable v3") && error.contains("left"), "{error}");
}

#[test]
fn overlapping_vxr_entries_are_refused() {
    let cdf = Cdf { variables: vec![Variable::new("x", Values::Int4((0..10).collect()), &[])], ..Cdf::new() };
    let mut bytes = cdf.to_bytes().unwrap();
    let vdr = vdr_of(&bytes, "x");
    let vxr = be_i64(&bytes, vdr + 28);
    let num_entries = i32::from_be_bytes(bytes[vxr + 20..vxr + 24].try_into().unwrap()) as usize;
    let vvr = be_i64(&bytes, vxr + 28 + 8 * num_entries);
    // A VXR appended to the file with two entries that both cover records 0..9 from the same VVR.
    let appended_at = bytes.len();
    bytes.extend_from_slice(&(28i64 + 32).to_be_bytes());
    for field in [6i32, 0, 0, 2, 2, 0, 0, 9, 9] {
        bytes.extend_from_slice(&field.to_be_bytes()); // type, next (8 bytes), counts, firsts, lasts
    }
    for _ in 0..2 {
        bytes.extend_from_slice(&(vvr as i64).to_be_bytes());
    }
    put_i64(&mut bytes, vdr + 28, appended_at as i64);
    let error = malformed_reason(&bytes);
    assert!(error.contains("cover more than the variable's 10 records"), "{error}");
}
