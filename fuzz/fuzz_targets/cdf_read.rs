//! CDF files come from uploads and other instruments' pipelines: any bytes must read or be
//! refused with a reason, within the reader's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nasa_cdf::{ReadLimits, read_cdf_with_limits};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast and catch allocations the file cannot justify.
    let _ = read_cdf_with_limits(data, ReadLimits { max_decoded_bytes: 64 << 20 });
});
