//! Shared by the integration tests: a dataset that uses every feature the writer supports.

// Each test target uses some of these helpers.
#![allow(dead_code)]

use nasa_cdf::*;

/// A dataset with every supported type, scalar and multi-dimensional,
/// record-varying and not, and typed attributes.
pub fn sample_cdf(compression: Compression) -> Cdf {
    let start = utc_to_tt2000(2026, 1, 1, 0, 0, 0, 0).unwrap();
    let epochs: Vec<i64> = (0..5).map(|i| start + i * 250_000_000).collect();
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
        let fill = nasa_cdf::istp::istp_fill_value(variable.data_type, variable.num_elems);
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

/// Writes `cdf` and reads it back.
pub fn round_trip(cdf: &Cdf) -> Cdf {
    let bytes = cdf.to_bytes().expect("writes");
    Cdf::from_bytes(&bytes).expect("reads back")
}
