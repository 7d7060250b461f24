//! IMAP's clock and product conventions.

use nasa_cdf::utc_to_tt2000;

use super::*;

#[test]
fn met_zero_is_2010_01_01_utc() {
    assert_eq!(met_to_tt2000(0.0), utc_to_tt2000(2010, 1, 1, 0, 0, 0, 0).unwrap());
    assert_eq!(tt2000_to_met(IMAP_MET_EPOCH_TT2000), 0.0);
    assert_eq!(imap_valid_times().0, met_to_tt2000(0.0));
}

#[test]
fn met_matches_imap_processing_nominal_kernel_case() {
    // imap_processing's test converts UTC 2026-01-01T00:00:00.125 to SCLK with
    // the nominal kernel and expects met_to_ttj2000ns to give that UTC's TT.
    let expected = 820_497_669_309_000_000; // cdflib compute_tt2000 of that UTC
    let met = 504_921_603.125;
    assert_eq!(met_to_tt2000(met), expected);
    assert_eq!(tt2000_to_met(expected), met);
    assert_eq!(SclkKernel::nominal().met_to_tt2000(met), expected);
}

#[test]
fn sclk_kernel_applies_the_coefficient_in_force() {
    let kernel_text = r"
\begindata
SCLK01_COEFFICIENTS_43     = (
                   0     @01-JAN-2010-00:01:06.184000     1.00000000000
      24822451300000     @24-SEP-2025-22:31:35.831485     1.00000000000
      24831795450000     @27-SEP-2025-02:26:18.660826     0.99999908847
)
\begintext
";
    let kernel = SclkKernel::parse(kernel_text).unwrap();
    assert_eq!(kernel.coefficients.len(), 3);
    assert_eq!(kernel.met_to_tt2000(0.0), IMAP_MET_EPOCH_TT2000);
    assert_eq!(kernel.met_to_tt2000(1000.0), met_to_tt2000(1000.0));
    // Exactly at a triple: its TDT calendar time.
    let triple_met = 24_822_451_300_000.0 / 50_000.0;
    let triple_tt = utc_to_tt2000(2025, 9, 24, 22, 30, 26, 647_485_000).unwrap(); // TT - UTC = 37 s + 32.184 s
    assert_eq!(kernel.met_to_tt2000(triple_met), triple_tt);
    // One day after the drifting triple: 86400 clock seconds are 86399.92124... TT seconds.
    let drift_met = 24_831_795_450_000.0 / 50_000.0 + 86_400.0;
    let drift_start = kernel.coefficients[2].tt2000;
    assert_eq!(kernel.met_to_tt2000(drift_met) - drift_start, 86_399_921_243_808);
    let error = SclkKernel::parse("SCLK01_COEFFICIENTS_43 = ( 0 @01-JAN-2010 )").unwrap_err();
    assert_eq!(error.to_string(), "invalid sclk kernel: 2 coefficient values are not whole triples");
}

#[test]
fn imap_globals_name_the_product_as_the_mission_does() {
    let globals = imap_globals("swe", "l1a", "sci", "20260101", "v001");
    assert_eq!(globals.logical_source, "imap_swe_l1a_sci");
    assert_eq!(globals.logical_file_id, "imap_swe_l1a_sci_20260101_v001");
    assert_eq!(globals.data_type, "L1A_sci>Level-1A sci");
    assert_eq!(globals.descriptor, "SWE>IMAP swe");
    assert_eq!(globals.mission_group, "IMAP");
    assert!(globals.generation_date.is_none(), "the day of writing unless a job sets it");
}
