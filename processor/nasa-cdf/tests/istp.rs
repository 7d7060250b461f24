//! The ISTP builder: required global and variable attributes, their defaults and checks.

mod common;

use common::round_trip;
use nasa_cdf::*;

#[test]
fn istp_dataset_has_required_attributes_with_variable_types() {
    let globals = IstpGlobals {
        logical_file_id: "demo_swe_l1a_sci_20260101_v001".to_string(),
        generation_date: Some("20260102".to_string()),
        parents: vec!["demo_swe_l0_raw_20260101_v001.pkts".to_string()],
        ..IstpGlobals::default()
    };
    let start = utc_to_tt2000(2026, 1, 1, 0, 0, 0, 0).unwrap();
    let epochs: Vec<i64> = (0..4).map(|i| start + i * 1_000_000_000).collect();
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
    assert_eq!(text("Logical_file_id"), "demo_swe_l1a_sci_20260101_v001");
    assert_eq!(text("Generation_date"), "20260102");
    assert_eq!(text("Project"), " ", "an empty global is written as one space, as ISTP tools want");

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

#[test]
fn time_variables_get_the_dataset_valid_times() {
    let time = |year| utc_to_tt2000(year, 1, 1, 0, 0, 0, 0).unwrap();
    let valid_range = |cdf: &Cdf| {
        let epoch = cdf.variable("epoch").unwrap();
        (epoch.attribute("VALIDMIN").unwrap().values.clone(), epoch.attribute("VALIDMAX").unwrap().values.clone())
    };
    let mut generic = IstpDataset::new(IstpGlobals::default());
    generic.add_epoch("epoch", vec![time(2026)]);
    assert_eq!(
        valid_range(&generic.build().unwrap()),
        (Values::TimeTt2000(vec![time(1990)]), Values::TimeTt2000(vec![time(2100)]))
    );
    let mut narrowed = IstpDataset::new(IstpGlobals::default()).with_valid_times(time(2010), time(2030));
    narrowed.add_epoch("epoch", vec![time(2026)]);
    assert_eq!(
        valid_range(&narrowed.build().unwrap()),
        (Values::TimeTt2000(vec![time(2010)]), Values::TimeTt2000(vec![time(2030)]))
    );
}
