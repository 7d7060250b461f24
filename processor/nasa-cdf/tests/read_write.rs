//! Round trips through our own reader, the bytes of the header, malformed input and what the
//! writer refuses. The cdflib cross-check is in `cdflib.rs`.

mod common;

use common::{round_trip, sample_cdf};
use nasa_cdf::*;

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
fn a_selected_read_keeps_exactly_the_accepted_variables_with_their_attributes() {
    for compression in [Compression::None, Compression::Gzip { level: 1 }] {
        let bytes = sample_cdf(compression).to_bytes().expect("writes");
        let whole = Cdf::from_bytes(&bytes).expect("reads");
        let numeric = read_cdf_selected(&bytes, ReadLimits::default(), &|_, data_type| !data_type.is_char())
            .expect("reads the numbers");
        let expected: Vec<&Variable> =
            whole.variables.iter().filter(|variable| !variable.data_type.is_char()).collect();
        assert!(expected.len() < whole.variables.len(), "the sample has text variables to skip");
        assert_eq!(numeric.variables.iter().collect::<Vec<_>>(), expected, "values and attributes as a whole read");
        assert_eq!(numeric.global_attributes, whole.global_attributes);

        let by_name = read_cdf_selected(&bytes, ReadLimits::default(), &|name, _| name == "real4" || name == "text")
            .expect("reads two variables");
        let names: Vec<&str> = by_name.variables.iter().map(|variable| variable.name.as_str()).collect();
        assert_eq!(names, ["real4", "text"]);
        assert_eq!(by_name.variable("text"), whole.variable("text"));
    }
}

#[test]
fn a_variable_left_out_of_a_read_costs_none_of_the_decoding_budget() {
    let mut cdf = Cdf::new();
    cdf.add_variable(Variable::new("big", Values::Real8(vec![0.0; 4096]), &[]));
    cdf.add_variable(Variable::new("small", Values::UInt1(vec![1, 2, 3]), &[]));
    let bytes = cdf.to_bytes().expect("writes");
    let tight = ReadLimits { max_decoded_bytes: 1024 };
    assert!(read_cdf_with_limits(&bytes, tight).is_err(), "the whole file needs more than the limit");
    let small = read_cdf_selected(&bytes, tight, &|name, _| name == "small").expect("the small variable fits");
    assert_eq!(small.variables.len(), 1);
    assert_eq!(small.variables[0].values, Values::UInt1(vec![1, 2, 3]));
}
