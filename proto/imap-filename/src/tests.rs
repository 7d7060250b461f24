//! Tests for every rule of spec sections 2.1 to 2.9.

use super::*;
use crate::date::Date;

fn date(text: &str) -> Date {
    Date::parse_yyyymmdd(text).unwrap()
}

fn version(text: &str) -> Version {
    text.parse().unwrap()
}

fn parse(name: &str) -> ImapFileName {
    ImapFileName::parse(name).unwrap_or_else(|error| panic!("{name} should parse: {error}"))
}

fn parse_error(name: &str) -> String {
    match ImapFileName::parse(name) {
        Ok(parsed) => panic!("{name} should be refused, got {parsed:?}"),
        Err(error) => error.to_string(),
    }
}

fn spice(name: &str) -> SpiceFileName {
    match parse(name) {
        ImapFileName::Spice(kernel) => kernel,
        other => panic!("{name} should be a spice kernel, got {other:?}"),
    }
}

// ---- 2.1 versions ----

#[test]
fn versions_parse_both_forms_strictly() {
    assert_eq!(version("v001"), Version { major: None, minor: 1 });
    assert_eq!(version("v999"), Version { major: None, minor: 999 });
    assert_eq!(version("v000.0000"), Version { major: Some(0), minor: 0 });
    assert_eq!(version("v012.3456"), Version { major: Some(12), minor: 3456 });
    for refused in [
        "",
        "v",
        "v1",
        "v01",
        "v0001",
        "001",
        "V001",
        "v001.",
        "v001.001",
        "v001.00001",
        "v01.0001",
        "v001.0001.0001",
        "va01",
        "v001 ",
        " v001",
        "v٠٠١",
        "v001.000a",
        "latest",
    ] {
        assert!(refused.parse::<Version>().is_err(), "{refused:?} should be refused");
    }
}

#[test]
fn versions_display_canonically() {
    assert_eq!(Version { major: Some(1), minor: 2 }.to_string(), "v001.0002");
    assert_eq!(Version { major: None, minor: 7 }.to_string(), "v007");
    for text in ["v000", "v123", "v999.9999", "v001.0001"] {
        assert_eq!(version(text).to_string(), text);
    }
}

#[test]
fn versions_order_legacy_first_then_major_minor() {
    assert!(version("v999") < version("v000.0000"));
    assert!(version("v001") < version("v002"));
    assert!(version("v001.0002") < version("v001.0010"));
    assert!(version("v001.9999") < version("v002.0000"));
    assert!(version("v002.0001") > version("v001.0500"));
    let mut versions: Vec<Version> =
        ["v002.0001", "v005", "v001.0002", "v001.0001", "v001"].iter().map(|text| version(text)).collect();
    versions.sort();
    let sorted: Vec<String> = versions.iter().map(Version::to_string).collect();
    assert_eq!(sorted, ["v001", "v005", "v001.0001", "v001.0002", "v002.0001"]);
    // Equality is on (major, minor): the legacy v001 is not v000.0001.
    assert_ne!(version("v001"), version("v000.0001"));
}

#[test]
fn version_first_and_next_minor() {
    assert_eq!(Version::first().to_string(), "v001.0001");
    assert_eq!(Version::first().next_minor().unwrap().to_string(), "v001.0002");
    assert_eq!(version("v003.9999").next_minor(), None);
    assert_eq!(version("v041").next_minor().unwrap().to_string(), "v042");
    assert_eq!(version("v999").next_minor(), None);
    assert!(version("v001").is_minor_only());
    assert!(!Version::first().is_minor_only());
}

// ---- 2.2 science ----

#[test]
fn science_name_parses_into_fields() {
    let name = "imap_mag_l1a_norm-mago_20250101_v001.0002.cdf";
    let parsed = ScienceFileName::parse(name).unwrap();
    assert_eq!(parsed.family, ScienceFamily::Science);
    assert_eq!(parsed.instrument, "mag");
    assert_eq!(parsed.data_level, "l1a");
    assert_eq!(parsed.descriptor, "norm-mago");
    assert_eq!(parsed.start_date, date("20250101"));
    assert_eq!((parsed.repointing, parsed.cr), (None, None));
    assert_eq!(parsed.version, version("v001.0002"));
    assert_eq!(parsed.extension, "cdf");
    assert_eq!(parsed.file_name(), name);
    assert_eq!(parsed.archive_path(), format!("imap/mag/l1a/2025/01/{name}"));
    assert!(parsed.is_valid_for_start_date(date("20250101")));
    assert!(!parsed.is_valid_for_start_date(date("20250102")));
}

#[test]
fn science_accepts_legacy_version_and_pkts() {
    let parsed = ScienceFileName::parse("imap_swapi_l0_raw_20240924_v001.pkts").unwrap();
    assert_eq!(parsed.version, Version { major: None, minor: 1 });
    assert_eq!(parsed.extension, "pkts");
    assert_eq!(parsed.archive_path(), "imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.pkts");
}

#[test]
fn science_repointing_and_carrington_rotation() {
    let name = "imap_hi_l1c_45sensor-pset_20250415-repoint00123_v001.0001.cdf";
    let parsed = ScienceFileName::parse(name).unwrap();
    assert_eq!((parsed.repointing, parsed.cr), (Some(123), None));
    assert_eq!(parsed.start_date, date("20250415"));
    assert_eq!(parsed.file_name(), name);

    let name = "imap_hit_l3_flux_20250101-cr02290_v002.0001.cdf";
    let parsed = ScienceFileName::parse(name).unwrap();
    assert_eq!((parsed.repointing, parsed.cr), (None, Some(2290)));
    assert_eq!(parsed.file_name(), name);

    // Exactly five digits, and only these two labels.
    for refused in [
        "imap_hi_l1c_pset_20250415-repoint0123_v001.cdf",
        "imap_hi_l1c_pset_20250415-repoint000123_v001.cdf",
        "imap_hi_l1c_pset_20250415-orbit00123_v001.cdf",
        "imap_hi_l1c_pset_20250415-repoint00001-cr00001_v001.cdf",
    ] {
        assert!(ScienceFileName::parse(refused).is_err(), "{refused} should be refused");
    }
}

#[test]
fn science_field_validation_messages() {
    assert_eq!(
        parse_error("imap_foo_l1a_sci_20250101_v001.0001.cdf"),
        "imap_foo_l1a_sci_20250101_v001.0001.cdf: unknown instrument \"foo\" (valid: codice, glows, hit, hi, \
         ialirt, idex, l1const, lo, mag, spacecraft, swapi, swe, ultra)"
    );
    assert!(
        parse_error("imap_mag_l4_sci_20250101_v001.0001.cdf").contains("unknown data level \"l4\" (valid: l0, l1, ")
    );
    assert_eq!(
        parse_error("imap_mag_l1a_sci_20250230_v001.0001.cdf"),
        "imap_mag_l1a_sci_20250230_v001.0001.cdf: no such calendar day 20250230"
    );
    assert!(parse_error("imap_mag_l1a_sci_00000101_v001.cdf").contains("no such calendar day 00000101"));
    assert!(parse_error("imap_mag_l1a_sci_20251301_v001.cdf").contains("no such calendar day 20251301"));
    assert_eq!(
        ScienceFileName::parse("imap_mag_l1a_sci_20250101_v001.0001.txt").unwrap_err().to_string(),
        "imap_mag_l1a_sci_20250101_v001.0001.txt: extension \"txt\" not allowed for science files (allowed: cdf, pkts)"
    );
    // Mission and case are literal.
    assert!(ImapFileName::parse("IMAP_mag_l1a_sci_20250101_v001.cdf").is_err());
    assert!(ImapFileName::parse("imap_MAG_l1a_sci_20250101_v001.cdf").is_err());
    assert!(ImapFileName::parse("imap_mag_L1A_sci_20250101_v001.cdf").is_err());
    assert!(ImapFileName::parse("imap_mag_l1a_sci_20250101_v001.CDF").is_err());
}

#[test]
fn every_instrument_and_level_is_accepted() {
    for instrument in VALID_INSTRUMENTS {
        for level in VALID_DATALEVELS {
            let name = format!("imap_{instrument}_{level}_x_20250101_v001.0001.cdf");
            let parsed = ScienceFileName::parse(&name).unwrap();
            assert_eq!((parsed.instrument.as_str(), parsed.data_level.as_str()), (*instrument, *level));
        }
    }
}

#[test]
fn unmatched_science_shapes_get_specific_reasons() {
    let reason = |name: &str| parse_error(name);
    assert!(reason("imap_mag_l1a_sci_2025011_v001.cdf").contains("date \"2025011\" is not YYYYMMDD"));
    assert!(reason("imap_mag_l1a_sci_20250101-repoint1_v001.cdf").contains("not -repointNNNNN or -crNNNNN"));
    assert!(reason("imap_mag_l1a_sci_20250101_v01.cdf").contains("version \"v01\" is not vNNN or vNNN.NNNN"));
    assert!(reason("imap_mag_l1a_sci_20250101_v001").contains("lacks \".<extension>\""));
    assert!(reason("imap_mag_l1a_my_sci_20250101_v001.cdf").contains("descriptor may contain \"-\" but not \"_\""));
    assert!(reason("imap_mag_20250101_v001.cdf").contains("too few"));
    assert!(reason("mag_l1a_sci_20250101_v001.cdf").contains("start with \"imap_\""));
    assert!(
        reason("imap_mag_l1a_sci_20250101_v001.0001.tar.gz")
            .starts_with("imap_mag_l1a_sci_20250101_v001.0001.tar.gz: ")
    );
}

#[test]
fn generate_mirrors_upstream_builder() {
    let inputs = ScienceNameInputs {
        family: ScienceFamily::Science,
        instrument: "mag",
        data_level: "l0",
        descriptor: "raw",
        start_date: date("20250102"),
        version: Version::first(),
        extension: "cdf",
        repointing: None,
        cr: None,
    };
    // Level 0 is always packets.
    assert_eq!(ScienceFileName::generate(&inputs).unwrap().file_name(), "imap_mag_l0_raw_20250102_v001.0001.pkts");

    let with_repointing = ScienceNameInputs { data_level: "l1c", repointing: Some(42), ..inputs.clone() };
    let generated = ScienceFileName::generate(&with_repointing).unwrap();
    assert_eq!(generated.file_name(), "imap_mag_l1c_raw_20250102-repoint00042_v001.0001.cdf");
    assert_eq!(generated.repointing, Some(42));

    let with_cr = ScienceNameInputs { data_level: "l3", cr: Some(2290), ..inputs.clone() };
    assert_eq!(
        ScienceFileName::generate(&with_cr).unwrap().file_name(),
        "imap_mag_l3_raw_20250102-cr02290_v001.0001.cdf"
    );

    let both = ScienceNameInputs { repointing: Some(1), cr: Some(2), ..inputs.clone() };
    let error = ScienceFileName::generate(&both).unwrap_err();
    assert!(matches!(error, FileNameError::RepointingAndCarringtonRotation { .. }), "{error}");
    assert!(error.to_string().contains("at most one is allowed"));

    let too_large = ScienceNameInputs { repointing: Some(100_000), ..inputs.clone() };
    assert!(ScienceFileName::generate(&too_large).unwrap_err().to_string().contains("repointing 100000 does not fit"));

    let bad_instrument = ScienceNameInputs { instrument: "foo", ..inputs.clone() };
    assert!(matches!(ScienceFileName::generate(&bad_instrument), Err(FileNameError::UnknownInstrument { .. })));

    let underscore_descriptor = ScienceNameInputs { descriptor: "a_b", ..inputs.clone() };
    assert!(ScienceFileName::generate(&underscore_descriptor).is_err());

    let quicklook = ScienceNameInputs {
        family: ScienceFamily::Quicklook,
        data_level: "l1b",
        extension: "png",
        version: version("v003"),
        ..inputs.clone()
    };
    let generated = ScienceFileName::generate(&quicklook).unwrap();
    assert_eq!(generated.archive_path(), "imap/quicklook/mag/l1b/2025/01/imap_mag_l1b_raw_20250102_v003.png");
}

#[test]
fn repointing_and_cr_labels() {
    assert_eq!(parse_repointing_label("repoint00012"), Some(12));
    assert_eq!(parse_cr_label("cr02290"), Some(2290));
    for refused in ["repoint0012", "repoint000012", "Repoint00012", "repoint0001a", "cr0229", "12"] {
        assert_eq!(parse_repointing_label(refused).or(parse_cr_label(refused)), None, "{refused}");
    }
}

// ---- 2.3 quicklook and dependency ----

#[test]
fn quicklook_and_dependency_share_the_science_grammar() {
    for extension in QUICKLOOK_EXTENSIONS {
        let name = format!("imap_swe_l1b_sci_20250310_v001.0001.{extension}");
        let parsed = parse(&name);
        assert_eq!(parsed.kind(), FileKind::Quicklook);
        assert_eq!(parsed.archive_path(), format!("imap/quicklook/swe/l1b/2025/03/{name}"));
    }
    let name = "imap_codice_l2_hi-omni-1a2b3c4d_20250310-repoint00007_v002.json";
    let parsed = parse(name);
    assert_eq!(parsed.kind(), FileKind::Dependency);
    assert_eq!(parsed.repointing(), Some(7));
    assert_eq!(parsed.version_text().as_deref(), Some("v002"));
    assert_eq!(parsed.archive_path(), format!("imap/dependency/codice/l2/2025/03/{name}"));

    assert_eq!(
        ScienceFileName::parse_as(ScienceFamily::Quicklook, "imap_swe_l1b_sci_20250310_v001.cdf")
            .unwrap_err()
            .to_string(),
        "imap_swe_l1b_sci_20250310_v001.cdf: extension \"cdf\" not allowed for quicklook files (allowed: jpg, pdf, png)"
    );
    assert!(ScienceFileName::parse_as(ScienceFamily::Dependency, "imap_swe_l1b_sci_20250310_v001.json").is_ok());
    // No science-grammar kind takes txt: the message lists them all.
    assert!(
        parse_error("imap_swe_l1b_sci_20250310_v001.txt").contains(
            "not allowed for science, quicklook or dependency files (allowed: cdf, pkts, jpg, pdf, png, json)"
        )
    );
}

// ---- 2.4 ancillary and release ----

#[test]
fn ancillary_names_with_start_end_or_repointing() {
    let parsed = AncillaryFileName::parse("imap_mag_calibration_20250101_v001.cdf").unwrap();
    assert_eq!((parsed.instrument.as_str(), parsed.descriptor.as_str()), ("mag", "calibration"));
    assert_eq!((parsed.start_date, parsed.end_date, parsed.repointing), (date("20250101"), None, None));
    assert!(parsed.is_valid_for_start_date(date("20990101")));
    assert!(!parsed.is_valid_for_start_date(date("20241231")));

    let name = "imap_mag_calibration_20250101_20251231_v002.csv";
    let parsed = AncillaryFileName::parse(name).unwrap();
    assert_eq!(parsed.end_date, Some(date("20251231")));
    assert!(parsed.is_valid_for_start_date(date("20250101")));
    assert!(parsed.is_valid_for_start_date(date("20251231")));
    assert!(!parsed.is_valid_for_start_date(date("20260101")));
    assert_eq!(parsed.file_name(), name);
    assert_eq!(parsed.archive_path(), format!("imap/ancillary/mag/{name}"));

    let name = "imap_ultra_l1c-cal_20250101-repoint00042_v001.json";
    let parsed = AncillaryFileName::parse(name).unwrap();
    assert_eq!((parsed.end_date, parsed.repointing), (None, Some(42)));
    assert_eq!(parsed.file_name(), name);
    assert!(parsed.is_valid_for_start_date(date("20250102")));
}

#[test]
fn ancillary_rules() {
    for extension in ANCILLARY_EXTENSIONS {
        assert_eq!(parse(&format!("imap_hit_table_20250101_v001.{extension}")).kind(), FileKind::Ancillary);
    }
    // End date and repointing exclude each other; there is no carrington rotation.
    assert!(ImapFileName::parse("imap_mag_cal_20250101_20250102-repoint00001_v001.csv").is_err());
    assert!(ImapFileName::parse("imap_mag_cal_20250101-repoint00001_20250102_v001.csv").is_err());
    assert!(parse_error("imap_mag_cal_20250101-cr00001_v001.csv").contains("not -crNNNNN"));
    // Only the legacy version form.
    assert!(parse_error("imap_mag_cal_20250101_v001.0001.csv").contains("legacy version vNNN"));
    assert!(parse_error("imap_mag_cal_20250101_v001.exe").contains("extension \"exe\" not allowed for any file kind"));
    assert_eq!(
        parse_error("imap_mag_cal_20250101_v001.png"),
        "imap_mag_cal_20250101_v001.png: extension \"png\" not allowed for ancillary files (allowed: cdf, csv, dat, \
         json, zip, tsv, pgm, xlsx)"
    );
    assert!(parse_error("imap_foo_cal_20250101_v001.csv").contains("unknown instrument \"foo\""));
    assert!(parse_error("imap_mag_cal_20250101_20250231_v001.csv").contains("no such calendar day 20250231"));
    assert!(parse_error("imap_mag_cal_20250132_v001.csv").contains("no such calendar day 20250132"));

    let inputs = AncillaryNameInputs {
        family: AncillaryFamily::Ancillary,
        instrument: "glows",
        descriptor: "map-of-excluded-regions",
        start_date: date("20250101"),
        end_date: Some(date("20250201")),
        repointing: None,
        version: version("v003"),
        extension: "dat",
    };
    let generated = AncillaryFileName::generate(&inputs).unwrap();
    assert_eq!(generated.file_name(), "imap_glows_map-of-excluded-regions_20250101_20250201_v003.dat");
    let both = AncillaryNameInputs { repointing: Some(3), ..inputs.clone() };
    assert!(matches!(AncillaryFileName::generate(&both), Err(FileNameError::EndDateAndRepointing { .. })));
    let dotted = AncillaryNameInputs { version: Version::first(), ..inputs.clone() };
    assert!(AncillaryFileName::generate(&dotted).is_err());
}

#[test]
fn release_manifests() {
    let name = "imap_hit_data-release-001_20260101_20260131_v001.txt";
    let parsed = parse(name);
    assert_eq!(parsed.kind(), FileKind::Release);
    assert_eq!(parsed.end_date(), Some(date("20260131")));
    assert_eq!(parsed.archive_path(), format!("imap/release/hit/{name}"));
    assert!(AncillaryFileName::parse_as(AncillaryFamily::Release, name).is_ok());
    assert_eq!(
        AncillaryFileName::parse_as(AncillaryFamily::Release, "imap_hit_rel_20260101_v001.pdf")
            .unwrap_err()
            .to_string(),
        "imap_hit_rel_20260101_v001.pdf: extension \"pdf\" not allowed for release files (allowed: txt)"
    );
    assert!(AncillaryFileName::parse_as(AncillaryFamily::Release, "imap_hit_rel_20260101_v001.csv").is_err());
}

// ---- 2.5 SPICE ----

/// (name, kernel type, subdir, start, end, version, extension).
type SpiceExample = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

/// At least one positive example per row of the spec table.
#[rustfmt::skip]
const SPICE_EXAMPLES: &[SpiceExample] = &[
    ("imap_2025_032_2025_033_001.ah.bc", "attitude_history", "ck", Some("20250201"), Some("20250202"), Some("001"), "bc"),
    ("imap_2025_032_2025_033_001.ap.bc", "attitude_predict", "ck", Some("20250201"), Some("20250202"), Some("001"), "bc"),
    ("imap_2025_032_2025_033_01.spin.csv", "spin", "spin", Some("20250201"), Some("20250202"), Some("01"), "csv"),
    ("imap_2025_032_2025_033_01.spin", "spin", "spin", Some("20250201"), Some("20250202"), Some("01"), "spin"),
    ("imap_dps_2025_032_2025_033_002.ah.bc", "pointing_attitude", "ck", Some("20250201"), Some("20250202"), Some("002"), "bc"),
    ("imap_lopivot-repoint00101_2025_314_2025_314_003.bc", "lo_pivot_attitude", "ck", Some("20251110"), Some("20251110"), Some("003"), "bc"),
    ("imap_2025_100_01.repoint.csv", "repoint", "repoint", None, Some("20250410"), Some("01"), "csv"),
    ("imap_2025_100_01.repoint", "repoint", "repoint", None, Some("20250410"), Some("01"), "repoint"),
    ("imap_recon_20250101_20250201_v01.bsp", "ephemeris_reconstructed", "spk", Some("20250101"), Some("20250201"), Some("01"), "bsp"),
    ("imap_nom_20250101_20260101.bsp", "ephemeris_nominal", "spk", Some("20250101"), Some("20260101"), None, "bsp"),
    ("imap_pred_od123_20250101_20250201_v2.bsp", "ephemeris_predicted", "spk", Some("20250101"), Some("20250201"), Some("2"), "bsp"),
    ("imap_90days_20250101_20250401_v.bsp", "ephemeris_90days", "spk", Some("20250101"), Some("20250401"), Some(""), "bsp"),
    ("imap_long_20250101_20300101_v001.bsp", "ephemeris_long", "spk", Some("20250101"), Some("20300101"), Some("001"), "bsp"),
    ("imap_launch_20250923_20251023.bsp", "ephemeris_launch", "spk", Some("20250923"), Some("20251023"), None, "bsp"),
    ("de440.bsp", "planetary_ephemeris", "spk", None, None, Some("440"), "bsp"),
    ("L1_de431.bsp", "lagrange_point", "spk", None, None, Some("431"), "bsp"),
    ("pck00011.tpc", "planetary_constants", "pck", None, None, Some("00011"), "tpc"),
    ("naif0012.tls", "leapseconds", "lsk", None, None, Some("0012"), "tls"),
    ("imap_sclk_0042.tsc", "spacecraft_clock", "sclk", None, None, Some("0042"), "tsc"),
    ("imap_001.tf", "imap_frames", "fk", None, None, Some("001"), "tf"),
    ("imap_2025_032_2025_033_burn_dv-1_07.sff", "thruster", "activities", Some("20250201"), Some("20250202"), Some("07"), "sff"),
    ("imap_sdc_metakernel_2025_v003.tm", "metakernel", "mk", Some("20250101"), None, Some("003"), "tm"),
    ("imap_2025_032_a01.spice.mk", "metakernel", "mk", Some("20250201"), None, Some("01"), "mk"),
    ("IMAP_2025_032_e02.mk", "metakernel", "mk", Some("20250201"), None, Some("02"), "mk"),
    ("imap_science_0100.tf", "science_frames", "fk", None, None, Some("0100"), "tf"),
    ("earth_000101_250101_241225.bpc", "earth_attitude", "pck", Some("20000101"), Some("20250101"), None, "bpc"),
];

#[test]
fn every_spice_pattern_has_a_working_example() {
    for (name, kernel_type, subdir, start, end, kernel_version, extension) in SPICE_EXAMPLES {
        let kernel = spice(name);
        assert_eq!(kernel.kernel_type.as_str(), *kernel_type, "{name}");
        assert_eq!(kernel.kernel_type.subdir(), *subdir, "{name}");
        assert_eq!(kernel.start_date, start.map(date), "{name} start");
        assert_eq!(kernel.end_date, end.map(date), "{name} end");
        assert_eq!(kernel.version.as_deref(), *kernel_version, "{name} version");
        assert_eq!(kernel.extension, *extension, "{name} extension");
        assert_eq!(kernel.file_name(), *name);
        assert_eq!(parse(name).archive_path(), format!("imap/spice/{subdir}/{name}"));
        assert_eq!(SpiceKernelType::from_name(kernel_type), Some(kernel.kernel_type));
    }
    assert_eq!(spice("imap_lopivot-repoint00101_2025_314_2025_314_003.bc").repointing, Some(101));
    // Every kernel type is reachable from some example.
    for kernel_type in SpiceKernelType::ALL {
        assert!(SPICE_EXAMPLES.iter().any(|example| example.1 == kernel_type.as_str()), "{}", kernel_type.as_str());
    }
    assert_eq!(SPICE_KERNEL_TYPES.len(), SpiceKernelType::ALL.len());
}

#[test]
fn spice_first_matching_pattern_decides() {
    // The ephemeris pattern matches, its token is unknown, and no later pattern is tried.
    assert_eq!(
        parse_error("imap_foo_20250101_20250102.bsp"),
        format!(
            "imap_foo_20250101_20250102.bsp: unknown spice kernel type \"foo\" (known: {})",
            SPICE_TYPE_TOKENS.join(", ")
        )
    );
    // Case-insensitive patterns still need the token spelled as in the mapping.
    assert!(parse_error("imap_RECON_20250101_20250201.bsp").contains("unknown spice kernel type \"RECON\""));
    assert!(parse_error("imap_2025_032_2025_033_001.AH.BC").contains("\"AH.BC\""));
    assert!(parse_error("NAIF0012.TLS").contains("\"NAIF\""));
    assert!(parse_error("l1_de431.bsp").contains("\"l1_de\""));
    assert!(parse_error("IMAP_DPS_2025_032_2025_033_002.ah.bc").contains("\"IMAP_DPS\""));
    // Upstream's unescaped "." in "spin.csv" matches any character, so this captures an unknown token.
    assert!(parse_error("imap_2025_032_2025_033_001.spin_csv").contains("\"spin_csv\""));
    assert!(parse_error("Imap_Sclk_0042.tsc").contains("\"Imap_Sclk_\""));
    assert!(parse_error("imap_2025_032_e02.MK").contains("\"MK\""));
    // Case is ignored everywhere outside the token.
    assert_eq!(spice("IMAP_2025_032_2025_033_001.ah.bc").kernel_type, SpiceKernelType::AttitudeHistory);
    assert_eq!(spice("naif0012.TLS").kernel_type, SpiceKernelType::Leapseconds);
    assert_eq!(spice("imap_2025_032_e02.mk").kernel_type, SpiceKernelType::Metakernel);
    assert_eq!(spice("IMAP_2025_032_A01.SPICE.mk").kernel_type, SpiceKernelType::Metakernel);
    assert_eq!(spice("IMAP_001.tf").kernel_type, SpiceKernelType::ImapFrames);
    assert_eq!(spice("IMAP_nom_20250101_20260101.BSP").kernel_type, SpiceKernelType::EphemerisNominal);
}

#[test]
fn spice_patterns_anchor_at_the_start_only_except_lo_pivot() {
    let kernel = spice("imap_2025_032_2025_033_001.ah.bc.gz");
    assert_eq!((kernel.kernel_type, kernel.extension.as_str()), (SpiceKernelType::AttitudeHistory, "gz"));
    assert_eq!(
        parse("imap_2025_032_2025_033_001.ah.bc.gz").archive_path(),
        "imap/spice/ck/imap_2025_032_2025_033_001.ah.bc.gz"
    );
    assert_eq!(spice("naif0012.tls.").extension, "");
    assert_eq!(spice("de440.bspanything").kernel_type, SpiceKernelType::PlanetaryEphemeris);
    assert_eq!(spice("de440.bspanything").extension, "bspanything");
    assert!(ImapFileName::parse("imap_lopivot-repoint00101_2025_314_2025_314_003.bc.bak").is_err());
    assert!(ImapFileName::parse("imap_lopivot-repoint0101_2025_314_2025_314_003.bc").is_err());
    // Nothing may precede the match.
    assert!(parse_error("xnaif0012.tls").contains("unknown spice kernel type \"xnaif\""));
    assert!(ImapFileName::parse("0naif0012.tls").is_err());
    assert!(ImapFileName::parse("v2_imap_001.tf").is_err());
}

#[test]
fn sdc_metakernel_pattern_is_case_sensitive() {
    assert!(ImapFileName::parse("imap_sdc_metakernel_2025_v003.tm").is_ok());
    assert!(ImapFileName::parse("IMAP_SDC_METAKERNEL_2025_v003.tm").is_err());
    assert!(ImapFileName::parse("imap_sdc_metakernel_2025_V003.tm").is_err());
    assert!(ImapFileName::parse("imap_sdc_metakernel_2025_v003.TM").is_err());
    assert!(parse_error("imap_sdc_metakernel_0000_v003.tm").contains("no such calendar day"));
}

#[test]
fn spice_dates_follow_strptime() {
    // Day of year 1..=366; day 366 of a common year rolls over to 1 January, as Python's strptime does.
    assert_eq!(spice("imap_2024_366_2025_366_1.ah.bc").start_date, Some(date("20241231")));
    assert_eq!(spice("imap_2024_366_2025_366_1.ah.bc").end_date, Some(date("20260101")));
    assert!(parse_error("imap_2025_000_2025_001_1.ah.bc").contains("no such calendar day 2025_000"));
    assert!(parse_error("imap_2025_367_2025_001_1.ah.bc").contains("no such calendar day 2025_367"));
    assert!(parse_error("imap_0000_001_2025_001_1.ah.bc").contains("no such calendar day 0000_001"));
    assert!(parse_error("imap_recon_20250230_20250301.bsp").contains("no such calendar day 20250230"));
    // Two-digit years: 69..=99 are the 1900s, 00..=68 the 2000s; the prediction date is checked too.
    assert_eq!(spice("earth_690101_681231_000101.bpc").start_date, Some(date("19690101")));
    assert_eq!(spice("earth_690101_681231_000101.bpc").end_date, Some(date("20681231")));
    assert!(parse_error("earth_000101_250101_241332.bpc").contains("no such calendar day 241332"));
    assert!(parse_error("earth_000230_250101_241201.bpc").contains("no such calendar day 000230"));
}

// ---- 2.6 classification order ----

#[test]
fn classification_follows_the_client_order() {
    // Valid as science and as ancillary (descriptor "20250101"): science comes first.
    let both = "imap_mag_l1a_20250101_20250102_v001.cdf";
    assert!(AncillaryFileName::parse(both).is_ok());
    assert_eq!(parse(both).kind(), FileKind::Science);
    // Valid as ancillary and as dependency: ancillary comes first.
    let both = "imap_mag_l1a_20250101_20250102_v001.json";
    assert!(ScienceFileName::parse_as(ScienceFamily::Dependency, both).is_ok());
    assert_eq!(parse(both).kind(), FileKind::Ancillary);
    // The ancillary grammar refuses png, so quicklook gets it.
    assert_eq!(parse("imap_mag_l1a_20250101_20250102_v001.png").kind(), FileKind::Quicklook);
    // Neither science-grammar kind takes txt, so release gets it.
    assert_eq!(parse("imap_mag_l1a_20250101_20250102_v001.txt").kind(), FileKind::Release);
    // A science-shaped name with a bad level is still a valid ancillary name.
    assert_eq!(parse("imap_mag_x_20250101_20250102_v001.cdf").kind(), FileKind::Ancillary);
}

#[test]
fn kinds_and_accessors() {
    let names = [
        ("imap_mag_l1a_norm_20250101-repoint00009_v001.0002.cdf", FileKind::Science),
        ("imap_mag_cal_20250101_20250131_v004.csv", FileKind::Ancillary),
        ("imap_dps_2025_032_2025_033_002.ah.bc", FileKind::Spice),
        ("imap_mag_l1a_norm_20250101_v001.pdf", FileKind::Quicklook),
        ("imap_mag_l1a_norm_20250101_v001.0001.json", FileKind::Dependency),
        ("imap_mag_notes_20250101_v001.txt", FileKind::Release),
    ];
    for (name, kind) in names {
        let parsed = parse(name);
        assert_eq!(parsed.kind(), kind);
        assert_eq!(parsed.file_name(), name);
        assert_eq!(parsed.to_string(), name);
        assert_eq!(name.parse::<ImapFileName>().unwrap(), parsed);
        assert_eq!(parse_archive_key(&parsed.archive_path()).unwrap(), parsed);
    }
    let kinds: Vec<&str> = names.iter().map(|(_, kind)| kind.as_str()).collect();
    assert_eq!(kinds, ["science", "ancillary", "spice", "quicklook", "dependency", "release"]);

    let science = parse(names[0].0);
    assert_eq!(
        (science.instrument(), science.data_level(), science.descriptor()),
        (Some("mag"), Some("l1a"), Some("norm"))
    );
    assert_eq!((science.start_date(), science.end_date()), (Some(date("20250101")), None));
    assert_eq!(
        (science.version_text().as_deref(), science.repointing(), science.extension()),
        (Some("v001.0002"), Some(9), "cdf")
    );

    let ancillary = parse(names[1].0);
    assert_eq!(
        (ancillary.instrument(), ancillary.data_level(), ancillary.descriptor()),
        (Some("mag"), None, Some("cal"))
    );
    assert_eq!((ancillary.start_date(), ancillary.end_date()), (Some(date("20250101")), Some(date("20250131"))));
    assert_eq!(
        (ancillary.version_text().as_deref(), ancillary.repointing(), ancillary.extension()),
        (Some("v004"), None, "csv")
    );

    let kernel = parse(names[2].0);
    assert_eq!((kernel.instrument(), kernel.data_level(), kernel.descriptor()), (None, None, None));
    assert_eq!((kernel.start_date(), kernel.end_date()), (Some(date("20250201")), Some(date("20250202"))));
    assert_eq!((kernel.version_text().as_deref(), kernel.repointing(), kernel.extension()), (Some("002"), None, "bc"));
}

#[test]
fn enumerations() {
    assert_eq!(VALID_INSTRUMENTS.len(), 13);
    assert_eq!(VALID_DATALEVELS.len(), 18);
    assert_eq!(VALID_TABLES, ["science", "ancillary", "spice"]);
    assert_eq!(REPOINT_DEPENDENT_INSTRUMENTS, ["glows", "hi", "lo", "ultra"]);
    assert_eq!(SCIENCE_EXTENSIONS, ["cdf", "pkts"]);
    assert_eq!(DEPENDENCY_EXTENSIONS, ["json"]);
    assert_eq!(RELEASE_EXTENSIONS, ["txt"]);
}

// ---- 2.7 archive keys ----

#[test]
fn archive_keys_round_trip() {
    let key = "imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.pkts";
    assert_eq!(parse_archive_key(key).unwrap().kind(), FileKind::Science);
    assert_eq!(parse_archive_key("imap/spice/ck/imap_2025_032_2025_033_001.ah.bc").unwrap().kind(), FileKind::Spice);
    assert_eq!(
        parse_archive_key("imap/ancillary/mag/imap_mag_cal_20250101_v001.cdf").unwrap().kind(),
        FileKind::Ancillary
    );
}

#[test]
fn archive_keys_refuse_escapes_and_ambiguity() {
    let name = "imap_swapi_l0_raw_20240924_v001.pkts";
    let unsafe_keys = [
        ("", "empty"),
        ("/imap/swapi/l0/2024/09/x", "absolute path"),
        ("imap/../swapi/l0/2024/09/x", "\"..\" path segment"),
        ("imap/swapi/l0/2024/09/..", "\"..\" path segment"),
        ("imap/./swapi/l0/2024/09/x", "\".\" path segment"),
        ("imap//swapi/l0/2024/09/x", "empty path segment"),
        ("imap/swapi/l0/2024/09/", "empty path segment"),
        ("imap\\swapi\\l0", "backslash"),
        ("imap/%2e%2e/swapi", "percent-encoding"),
        ("imap/swapi\0/l0", "NUL"),
        ("imap/swapi\n/l0", "control character"),
    ];
    for (key, reason) in unsafe_keys {
        let error = parse_archive_key(key).unwrap_err();
        assert!(matches!(error, FileNameError::UnsafeKey { .. }), "{key:?}: {error}");
        assert!(error.to_string().contains(reason), "{key:?}: {error}");
    }
    // A valid name in the wrong place is refused and the right place is named.
    let error = parse_archive_key(&format!("imap/mag/l0/2024/09/{name}")).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("imap/mag/l0/2024/09/{name}: not where this file belongs (expected imap/swapi/l0/2024/09/{name})")
    );
    assert!(parse_archive_key(name).is_err());
    assert!(parse_archive_key(&format!("data/imap/swapi/l0/2024/09/{name}")).is_err());
    assert!(parse_archive_key("imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.exe").is_err());
}

#[test]
fn names_must_be_bare() {
    for (name, reason) in [
        ("", "empty"),
        ("dir/imap_swapi_l0_raw_20240924_v001.pkts", "\"/\""),
        ("imap_swapi_l0_raw_20240924_v001.pkts\n", "control character"),
        ("imap_swapi_l0_raw\\x_20240924_v001.pkts", "\"\\\""),
        ("de440.bsp%20", "\"%\""),
    ] {
        let error = ImapFileName::parse(name).unwrap_err();
        assert!(matches!(error, FileNameError::NotABareName { .. }), "{name:?}: {error}");
        assert!(error.to_string().contains(reason), "{name:?}: {error}");
    }
}

// ---- robustness ----

/// A small deterministic generator, so the mutation test needs no dependency and always runs the same cases.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

#[test]
fn mutated_names_never_panic_and_valid_ones_round_trip() {
    let mut seeds: Vec<String> = SPICE_EXAMPLES.iter().map(|example| example.0.to_string()).collect();
    seeds.extend(
        [
            "imap_mag_l1a_norm-mago_20250101-repoint00001_v001.0002.cdf",
            "imap_hit_l3_flux_20250101-cr02290_v002.pkts",
            "imap_mag_cal_20250101_20251231_v002.csv",
            "imap_hit_data-release-001_20260101_20260131_v001.txt",
            "imap_swe_l1b_sci_20250310_v001.0001.png",
        ]
        .map(String::from),
    );
    let alphabet: Vec<char> = "imap_-.0123456789vVrepointcdfbspah/\\%\0 é日".chars().collect();
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for round in 0..3000 {
        let mut chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..=random.next(3) {
            let position = random.next(chars.len() + 1);
            match random.next(4) {
                0 if position < chars.len() => {
                    chars.remove(position);
                }
                1 if position < chars.len() => chars[position] = alphabet[random.next(alphabet.len())],
                2 => chars.truncate(position),
                _ => chars.insert(position, alphabet[random.next(alphabet.len())]),
            }
        }
        let name: String = chars.into_iter().collect();
        let _ = ScienceFileName::parse(&name);
        let _ = AncillaryFileName::parse(&name);
        let _ = SpiceFileName::parse(&name);
        let _ = name.parse::<Version>();
        let _ = Date::parse_query_date(&name);
        let _ = parse_archive_key(&format!("imap/spice/ck/{name}"));
        if let Ok(parsed) = ImapFileName::parse(&name) {
            accepted += 1;
            assert_eq!(parsed.file_name(), name, "canonical text differs");
            assert_eq!(parse_archive_key(&parsed.archive_path()).as_ref(), Ok(&parsed), "{name}");
        } else {
            let message = ImapFileName::parse(&name).unwrap_err().to_string();
            assert!(!message.is_empty() && !message.ends_with('.'), "{message}");
        }
    }
    // The mutations keep some names valid, so the round trip above really ran.
    assert!(accepted > 100, "only {accepted} mutated names were valid");
}

#[test]
fn hostile_lengths_are_refused_without_echoing_the_whole_input() {
    let long_name = format!("imap_swapi_l1_{}_20240924_v001.0001.cdf", "a".repeat(1 << 20));
    let error = ImapFileName::parse(&long_name).unwrap_err().to_string();
    assert!(error.contains("longer than 255 bytes") && error.len() < 200, "{error}");
    let long_key = format!("imap/{}/imap_swapi_l0_raw_20240924_v001.pkts", "d/".repeat(1 << 20));
    let error = parse_archive_key(&long_key).unwrap_err().to_string();
    assert!(error.contains("longer than 1024 bytes") && error.len() < 200, "{error}");
    // The longest real names are well inside the cap.
    assert!(ImapFileName::parse("imap_swapi_l1_sci-1min_20240924-repoint00042_v001.0001.cdf").is_ok());
}

#[test]
fn uploads_at_the_last_minor_version_are_refused_with_the_reason() {
    let last = parse("imap_swapi_l1_sci_20240924_v001.9999.cdf");
    let error = refuse_upload_at_last_version(&last).unwrap_err().to_string();
    assert!(error.contains("v001.9999 is the last minor version") && error.contains("lower minor version"), "{error}");
    assert!(refuse_upload_at_last_version(&parse("imap_swapi_l1_sci_20240924_v001.9998.cdf")).is_ok());
    assert!(refuse_upload_at_last_version(&parse("imap_swapi_l0_raw_20240924_v999.pkts")).is_err());
    // Ancillary and SPICE files are not versioned by the processor.
    assert!(refuse_upload_at_last_version(&parse("imap_mag_l1b-calibration_20250101_20251231_v999.cdf")).is_ok());
}
