//! Round trips through our own reader, malformed input, time conversions and
//! the ISTP builder. The cdflib cross-check lives in `tests_cdflib.rs`.

use super::*;

/// A dataset with every supported type, scalar and multi-dimensional,
/// record-varying and not, and typed attributes.
pub(super) fn sample_cdf(compression: Compression) -> Cdf {
    let epochs: Vec<i64> = (0..5).map(|i| met_to_tt2000(504_921_600.0 + f64::from(i) * 0.25)).collect();
    let mut cdf = Cdf::new();
    cdf.set_global_attribute("Project", vec![AttributeEntry::text("STP>Solar-Terrestrial Probes")]);
    cdf.set_global_attribute("Parents", vec![AttributeEntry::text("a.pkts"), AttributeEntry::text("b.pkts")]);
    cdf.set_global_attribute(
        "Numbers",
        vec![
            AttributeEntry::new(Values::Int4(vec![1, -2, 3])),
            AttributeEntry::new(Values::Real8(vec![0.5, -1e31])),
            AttributeEntry::new(Values::Real4(vec![2.5])).with_data_type(DataType::Float),
        ],
    );
    cdf.set_global_attribute(
        "Multi_line",
        vec![AttributeEntry::new(Values::Char(vec!["line one".into(), "line two".into()]))],
    );
    let described = |variable: Variable, units: &str| {
        let fill = super::istp::istp_fill_value(variable.data_type, variable.num_elems);
        variable
            .with_attribute("CATDESC", "test variable")
            .with_attribute("FILLVAL", fill)
            .with_attribute("UNITS", units)
    };
    let variables = vec![
        described(Variable::new("epoch", Values::TimeTt2000(epochs), &[]), "ns"),
        described(Variable::new("int1", Values::Int1(vec![-128, -1, 0, 1, 127]), &[]), "counts"),
        described(Variable::new("int2", Values::Int2((0..15).map(|i| i * 1000 - 7000).collect()), &[3]), "counts"),
        described(
            Variable::new("int4", Values::Int4((0..30).map(|i| (i - 15) * 100_000_000).collect()), &[2, 3]),
            "counts",
        ),
        described(Variable::new("int8", Values::Int8(vec![i64::MIN, -1, 0, 1, i64::MAX]), &[]), "counts"),
        described(Variable::non_record_varying("uint1", Values::UInt1(vec![0, 1, 254, 255]), &[4]), " "),
        described(Variable::new("uint2", Values::UInt2(vec![0, 1, 2, 65534, 65535]), &[]), " "),
        described(
            Variable::non_record_varying("uint4", Values::UInt4(vec![0, 1, 2, 3, 4_000_000_000, u32::MAX]), &[2, 3]),
            " ",
        ),
        described(Variable::new("real4", Values::Real4((0..15).map(|i| i as f32 * 0.1 - 0.7).collect()), &[3]), "nT"),
        described(
            Variable::new("real8", Values::Real8((0..30).map(|i| f64::from(i) * 1e-3 - 1e10).collect()), &[2, 3]),
            "km",
        ),
        described(
            Variable::new("float", Values::Real4(vec![1.5, -2.5, 3.25, 1e-30, -1e31]), &[])
                .with_data_type(DataType::Float),
            "V",
        ),
        described(
            Variable::new("double", Values::Real8(vec![1.5, -2.5, 3.25, 1e-300, 1e300]), &[])
                .with_data_type(DataType::Double),
            "V",
        ),
        described(
            Variable::new("text", Values::Char(["a", "bb", "ccc", "", "eeeee"].map(String::from).to_vec()), &[]),
            " ",
        ),
        described(
            Variable::non_record_varying("labels", Values::Char(vec!["Bx".into(), "By".into(), "Bz".into()]), &[3]),
            " ",
        ),
        described(Variable::new("empty", Values::Real8(Vec::new()), &[2]), "km"),
        // Enough records for several blocks and more than one chained VXR.
        described(Variable::new("long", Values::Real8((0..40_000).map(f64::from).collect()), &[]), "s"),
    ];
    for variable in variables {
        cdf.add_variable(variable.with_compression(compression));
    }
    cdf
}

fn round_trip(cdf: &Cdf) -> Cdf {
    let bytes = cdf.to_bytes().expect("writes");
    Cdf::from_bytes(&bytes).expect("reads back")
}

#[test]
fn round_trip_uncompressed_reproduces_every_variable_and_attribute() {
    let written = sample_cdf(Compression::None);
    assert_eq!(round_trip(&written), written);
}

#[test]
fn round_trip_gzip_variables_reproduces_everything() {
    let written = sample_cdf(Compression::Gzip { level: 6 });
    let read = round_trip(&written);
    assert_eq!(read, written);
    assert!(read.variables.iter().all(|variable| variable.compression == Compression::Gzip { level: 6 }));
}

#[test]
fn round_trip_gzip_file_reproduces_everything() {
    let mut written = sample_cdf(Compression::None);
    written.file_compression = Compression::Gzip { level: 9 };
    let bytes = written.to_bytes().unwrap();
    assert_eq!(&bytes[4..8], &[0xCC, 0xCC, 0x00, 0x01]);
    assert_eq!(Cdf::from_bytes(&bytes).unwrap(), written);
}

#[test]
fn gzip_makes_repetitive_variables_smaller() {
    let plain = sample_cdf(Compression::None).to_bytes().unwrap();
    let compressed = sample_cdf(Compression::Gzip { level: 6 }).to_bytes().unwrap();
    assert!(compressed.len() < plain.len() / 2, "{} vs {}", compressed.len(), plain.len());
}

#[test]
fn written_header_has_cdf3_magic_ibmpc_encoding_and_row_major_flag() {
    let bytes = sample_cdf(Compression::None).to_bytes().unwrap();
    assert_eq!(&bytes[0..8], &[0xCD, 0xF3, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xFF]);
    let field = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(field(8 + 8), 1, "cdr record type");
    assert_eq!(field(8 + 20), 3, "version");
    assert_eq!(field(8 + 28), 6, "ibmpc encoding");
    assert_eq!(field(8 + 32), 3, "row major and single file");
    let eof = i64::from_be_bytes(bytes[320 + 36..320 + 44].try_into().unwrap());
    assert_eq!(eof as usize, bytes.len(), "gdr eof");
}

#[test]
fn variable_attributes_keep_their_types() {
    let read = round_trip(&sample_cdf(Compression::None));
    let uint2 = read.variable("uint2").unwrap();
    assert_eq!(uint2.attribute("FILLVAL").unwrap().values, Values::UInt2(vec![u16::MAX]));
    let epoch = read.variable("epoch").unwrap();
    assert_eq!(epoch.attribute("FILLVAL").unwrap().data_type, DataType::TimeTt2000);
    assert_eq!(epoch.attribute("UNITS").unwrap().as_text().unwrap(), "ns");
    let float = read.variable("float").unwrap();
    assert_eq!(float.data_type, DataType::Float);
    assert_eq!(float.attribute("FILLVAL").unwrap().values, Values::Real4(vec![-1e31]));
}

#[test]
fn reading_truncated_file_reports_offset() {
    let bytes = sample_cdf(Compression::None).to_bytes().unwrap();
    for cut in [4, 100, 400, 2000, bytes.len() / 2, bytes.len() - 1] {
        let error = Cdf::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(matches!(error, CdfError::Malformed { .. }), "cut at {cut}: {error}");
        assert!(error.to_string().contains("at offset"), "{error}");
    }
}

#[test]
fn reading_rejects_wrong_magic_and_version() {
    let mut bytes = sample_cdf(Compression::None).to_bytes().unwrap();
    bytes[0] = 0x00;
    let error = Cdf::from_bytes(&bytes).unwrap_err();
    assert!(matches!(error, CdfError::Unsupported { offset: 0, .. }), "{error}");
    assert!(Cdf::from_bytes(b"").is_err());
}

#[test]
fn reading_reports_corrupt_record_link_with_its_offset() {
    let mut bytes = sample_cdf(Compression::None).to_bytes().unwrap();
    let zvdr_head_at = 320 + 20;
    let zvdr_at = i64::from_be_bytes(bytes[zvdr_head_at..zvdr_head_at + 8].try_into().unwrap()) as usize;
    // Point the first variable's VXRhead at the GDR.
    bytes[zvdr_at + 28..zvdr_at + 36].copy_from_slice(&320i64.to_be_bytes());
    let error = Cdf::from_bytes(&bytes).unwrap_err();
    assert_eq!(error.to_string(), "malformed cdf at offset 320: expected vxr (record type [6]), found type 2");
}

#[test]
fn reading_reports_corrupt_gzip_data() {
    let written = Cdf {
        variables: vec![
            Variable::new("x", Values::Real8(vec![1.0; 100]), &[]).with_compression(Compression::Gzip { level: 6 }),
        ],
        ..Cdf::new()
    };
    let mut bytes = written.to_bytes().unwrap();
    let end = bytes.len();
    bytes[end - 12..end - 4].fill(0xAB); // damage the deflate stream and its crc
    let error = Cdf::from_bytes(&bytes).unwrap_err();
    assert!(
        error.to_string().contains("gzip data does not inflate") || error.to_string().contains("inflates to"),
        "{error}"
    );
}

#[test]
fn writing_rejects_inconsistent_variables() {
    let cases = [
        Variable::non_record_varying("nrv", Values::Int4(vec![1, 2, 3, 4]), &[3]),
        Variable::new("partial", Values::Int4(vec![1, 2, 3, 4]), &[3]),
        Variable::new("mismatch", Values::Int4(vec![1]), &[]).with_data_type(DataType::Real8),
        Variable::new("long_text", Values::Char(vec!["abcdef".into()]), &[]).with_num_elems(3),
        Variable::new("", Values::Int4(vec![1]), &[]),
    ];
    for variable in cases {
        let name = variable.name.clone();
        let cdf = Cdf { variables: vec![variable], ..Cdf::new() };
        let error = cdf.to_bytes().unwrap_err();
        assert!(matches!(error, CdfError::InvalidVariable { .. }), "{name}: {error}");
    }
}

#[test]
fn writing_rejects_duplicate_and_conflicting_names() {
    let variable = Variable::new("x", Values::Int4(vec![1]), &[]);
    let duplicate = Cdf { variables: vec![variable.clone(), variable.clone()], ..Cdf::new() };
    assert!(matches!(duplicate.to_bytes().unwrap_err(), CdfError::InvalidVariable { .. }));
    let mut conflicting = Cdf { variables: vec![variable.with_attribute("UNITS", "m")], ..Cdf::new() };
    conflicting.set_global_attribute("UNITS", vec![AttributeEntry::text("m")]);
    assert_eq!(
        conflicting.to_bytes().unwrap_err().to_string(),
        "invalid attribute UNITS: used both as a global and a variable attribute"
    );
}

#[test]
fn utc_to_tt2000_matches_cdflib_values() {
    // Expected values from cdflib.cdfepoch.compute_tt2000 (cdflib 1.3.16).
    type Calendar = (i32, u32, u32, u32, u32, u32, u32);
    let cases: [(Calendar, i64); 11] = [
        ((2000, 1, 1, 12, 0, 0, 0), 64_184_000_000),
        ((2000, 1, 1, 11, 58, 55, 816_000_000), 0),
        ((1972, 1, 1, 0, 0, 0, 0), -883_655_957_816_000_000),
        ((1985, 6, 30, 23, 59, 60, 0), -457_703_945_816_000_000),
        ((1990, 1, 1, 0, 0, 0, 0), -315_575_942_816_000_000),
        ((1999, 12, 31, 23, 59, 59, 999_999_999), -43_135_816_000_001),
        ((2010, 1, 1, 0, 0, 0, 0), 315_576_066_184_000_000),
        ((2016, 12, 31, 23, 59, 59, 0), 536_500_867_184_000_000),
        ((2025, 9, 24, 12, 34, 56, 789_123_456), 811_989_365_973_123_456),
        ((2026, 1, 1, 0, 0, 0, 125_000_000), 820_497_669_309_000_000),
        ((2100, 1, 1, 0, 0, 0, 0), 3_155_716_869_184_000_000),
    ];
    for ((year, month, day, hour, minute, second, nanos), expected) in cases {
        let tt2000 = utc_to_tt2000(year, month, day, hour, minute, second, nanos).unwrap();
        assert_eq!(tt2000, expected, "{year}-{month}-{day}T{hour}:{minute}:{second}.{nanos}");
        let back = tt2000_to_utc(tt2000).unwrap();
        assert_eq!(
            (back.year, back.month, back.day, back.hour, back.minute, back.second, back.nanosecond),
            (year, month, day, hour, minute, second, nanos)
        );
    }
}

#[test]
fn leap_second_2016_is_one_real_second_long() {
    let before = utc_to_tt2000(2016, 12, 31, 23, 59, 59, 0).unwrap();
    let leap = utc_to_tt2000(2016, 12, 31, 23, 59, 60, 0).unwrap();
    let half_leap = utc_to_tt2000(2016, 12, 31, 23, 59, 60, 500_000_000).unwrap();
    let after = utc_to_tt2000(2017, 1, 1, 0, 0, 0, 0).unwrap();
    assert_eq!(leap - before, 1_000_000_000);
    assert_eq!(after - leap, 1_000_000_000);
    assert_eq!(half_leap, 536_500_868_684_000_000); // cdflib
    assert_eq!(tt2000_to_utc(half_leap).unwrap().to_string(), "2016-12-31T23:59:60.500000000");
    assert_eq!(tt2000_to_utc(after - 1).unwrap().to_string(), "2016-12-31T23:59:60.999999999");
    assert_eq!(tt2000_to_utc(after).unwrap().to_string(), "2017-01-01T00:00:00.000000000");
    assert_eq!(tt2000_to_utc(leap - 1).unwrap().to_string(), "2016-12-31T23:59:59.999999999");
}

#[test]
fn second_sixty_only_exists_on_leap_second_days() {
    assert!(utc_to_tt2000(2016, 12, 30, 23, 59, 60, 0).is_err());
    assert!(utc_to_tt2000(2016, 12, 31, 23, 58, 60, 0).is_err());
    assert!(utc_to_tt2000(2015, 6, 30, 23, 59, 60, 0).is_ok());
    assert!(utc_to_tt2000(2015, 2, 29, 0, 0, 0, 0).is_err());
    assert!(utc_to_tt2000(1971, 12, 31, 0, 0, 0, 0).is_err());
}

#[test]
fn tt2000_to_utc_round_trips_every_hour_around_2016_leap_second() {
    let start = utc_to_tt2000(2016, 12, 30, 0, 0, 0, 0).unwrap();
    for step in 0..(72 * 3600 / 997) {
        let tt2000 = start + step * 997_000_000_123;
        let utc = tt2000_to_utc(tt2000).unwrap();
        assert_eq!(utc.to_tt2000().unwrap(), tt2000, "{utc}");
    }
}

#[test]
fn met_zero_is_2010_01_01_utc() {
    assert_eq!(met_to_tt2000(0.0), utc_to_tt2000(2010, 1, 1, 0, 0, 0, 0).unwrap());
    assert_eq!(tt2000_to_met(IMAP_MET_EPOCH_TT2000), 0.0);
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
    assert!(SclkKernel::parse("SCLK01_COEFFICIENTS_43 = ( 0 @01-JAN-2010 )").is_err());
}

#[test]
fn istp_dataset_has_required_attributes_with_variable_types() {
    let mut globals = IstpGlobals::imap("swe", "l1a", "sci", "20260101", "v001");
    globals.generation_date = Some("20260102".to_string());
    globals.parents = vec!["imap_swe_l0_raw_20260101_v001.pkts".to_string()];
    let epochs: Vec<i64> = (0..4).map(|i| met_to_tt2000(504_921_600.0 + f64::from(i))).collect();
    let mut dataset = IstpDataset::new(globals);
    dataset
        .add_epoch("epoch", epochs)
        .add_variable(
            IstpVariable::data("counts", Values::UInt2(vec![1, 2, 3, 4, 5, 6, 7, 8]), &[2])
                .catdesc("Counts per sector")
                .units("counts")
                .attribute("DEPEND_1", "sector")
                .compression(Compression::Gzip { level: 6 }),
        )
        .add_variable(IstpVariable::new(
            VarType::SupportData,
            Variable::non_record_varying("sector", Values::Real4(vec![0.0, 180.0]), &[2]),
        ));
    let cdf = round_trip(&dataset.build().unwrap());

    for name in [
        "Project",
        "Source_name",
        "Discipline",
        "Data_type",
        "Descriptor",
        "Data_version",
        "Logical_file_id",
        "Logical_source",
        "Logical_source_description",
        "Mission_group",
        "PI_name",
        "PI_affiliation",
        "TEXT",
        "Instrument_type",
        "Parents",
        "Generation_date",
    ] {
        assert!(cdf.global_attribute(name).is_some(), "missing global {name}");
    }
    let text = |name: &str| cdf.global_attribute(name).unwrap().entries[0].as_text().unwrap();
    assert_eq!(text("Logical_file_id"), "imap_swe_l1a_sci_20260101_v001");
    assert_eq!(text("Generation_date"), "20260102");

    let counts = cdf.variable("counts").unwrap();
    for name in [
        "CATDESC",
        "DEPEND_0",
        "DEPEND_1",
        "DISPLAY_TYPE",
        "FIELDNAM",
        "FILLVAL",
        "FORMAT",
        "LABLAXIS",
        "UNITS",
        "VALIDMIN",
        "VALIDMAX",
        "VAR_TYPE",
    ] {
        assert!(counts.attribute(name).is_some(), "counts lacks {name}");
    }
    assert_eq!(counts.attribute("FILLVAL").unwrap().values, Values::UInt2(vec![65535]));
    assert_eq!(counts.attribute("DEPEND_0").unwrap().as_text().unwrap(), "epoch");
    assert_eq!(counts.attribute("CATDESC").unwrap().as_text().unwrap(), "Counts per sector");
    let epoch = cdf.variable("epoch").unwrap();
    assert_eq!(epoch.attribute("FILLVAL").unwrap().values, Values::TimeTt2000(vec![i64::MIN]));
    assert!(epoch.attribute("DEPEND_0").is_none());
    let sector = cdf.variable("sector").unwrap();
    assert_eq!(sector.attribute("VALIDMIN").unwrap().data_type, DataType::Real4);
    assert_eq!(sector.attribute("VAR_TYPE").unwrap().as_text().unwrap(), "support_data");
    assert!(sector.attribute("DEPEND_0").is_none(), "non-record-varying data has no DEPEND_0");
}

#[test]
fn istp_dataset_rejects_record_count_different_from_epoch() {
    let mut dataset = IstpDataset::new(IstpGlobals::default());
    dataset.add_epoch("epoch", vec![0, 1, 2]).add_variable(IstpVariable::data("x", Values::Real8(vec![1.0, 2.0]), &[]));
    let error = dataset.build().unwrap_err();
    assert_eq!(error.to_string(), "invalid variable x: 2 records but the epoch has 3");
}
