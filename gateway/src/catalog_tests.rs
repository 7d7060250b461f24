use super::*;

fn record(name: &str) -> FileRecord {
    let parsed = imap_filename::ImapFileName::parse(name).unwrap();
    FileRecord {
        file_name: name.to_string(),
        archive_key: parsed.archive_path(),
        kind: proto::pb::FileKind::from(parsed.kind()).into(),
        instrument: parsed.instrument().unwrap_or_default().to_string(),
        data_level: parsed.data_level().unwrap_or_default().to_string(),
        descriptor: parsed.descriptor().unwrap_or_default().to_string(),
        start_date: parsed.start_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
        end_date: parsed.end_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
        repointing: parsed.repointing(),
        cr: parsed.carrington_rotation(),
        version: parsed.version_text().unwrap_or_default(),
        extension: parsed.extension().to_string(),
        // 2026-11-26T06:19:45.123Z
        ingestion_time: Some(proto::time::timestamp(1_795_673_985_123)),
        ..Default::default()
    }
}

fn query(pairs: &[(&str, &str)]) -> Result<CatalogQuery, GatewayError> {
    CatalogQuery::from_params(&pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect())
}

fn names(selected: Vec<FileRecord>) -> Vec<String> {
    selected.into_iter().map(|record| record.file_name).collect()
}

/// Two days of mag l1a: the 1st has v001.0001, v001.0002, v002.0001; the 2nd only v001.0001.
fn versions() -> Vec<FileRecord> {
    [
        "imap_mag_l1a_norm_20250101_v001.0001.cdf",
        "imap_mag_l1a_norm_20250101_v001.0002.cdf",
        "imap_mag_l1a_norm_20250101_v002.0001.cdf",
        "imap_mag_l1a_norm_20250102_v001.0001.cdf",
    ]
    .into_iter()
    .map(record)
    .collect()
}

#[test]
fn default_returns_every_minor_of_the_latest_major() {
    let query = query(&[("instrument", "mag")]).unwrap();
    assert_eq!(query.mode, VersionMode::LatestMajor);
    assert_eq!(
        names(query.select(versions())),
        ["imap_mag_l1a_norm_20250101_v002.0001.cdf", "imap_mag_l1a_norm_20250102_v001.0001.cdf"]
    );
    let mut same_major = versions();
    same_major.remove(2);
    assert_eq!(names(query.select(same_major)).len(), 3);
}

#[test]
fn latest_returns_the_single_newest_per_series() {
    let query = query(&[("instrument", "mag"), ("latest", "true")]).unwrap();
    let mut older_major = versions();
    older_major.remove(2);
    assert_eq!(
        names(query.select(older_major)),
        ["imap_mag_l1a_norm_20250101_v001.0002.cdf", "imap_mag_l1a_norm_20250102_v001.0001.cdf"]
    );
}

#[test]
fn explicit_major_lifts_the_restriction_and_version_aliases_both_columns() {
    let major_one = query(&[("instrument", "mag"), ("major_version", "1")]).unwrap();
    assert_eq!(major_one.mode, VersionMode::All);
    assert_eq!(names(major_one.select(versions())).len(), 3);

    let exact = query(&[("instrument", "mag"), ("version", "v001.0002")]).unwrap();
    assert_eq!((exact.major_version, exact.minor_version), (Some(1), Some(2)));
    assert_eq!(names(exact.select(versions())), ["imap_mag_l1a_norm_20250101_v001.0002.cdf"]);

    // The legacy form names the minor only; the default rule then applies among the matches.
    let minor_one = query(&[("instrument", "mag"), ("version", "v001")]).unwrap();
    assert_eq!((minor_one.major_version, minor_one.minor_version), (None, Some(1)));
    assert_eq!(
        names(minor_one.select(versions())),
        ["imap_mag_l1a_norm_20250101_v002.0001.cdf", "imap_mag_l1a_norm_20250102_v001.0001.cdf"]
    );
    assert!(query(&[("version", "1.2")]).is_err());
}

#[test]
fn filters_map_onto_the_tracker_with_mission_date_rules() {
    let parsed = query(&[
        ("table", "science"),
        ("instrument", "swapi"),
        ("data_level", "l1"),
        ("start_date", "2025011"),
        ("end_date", "20250131"),
        ("ingestion_start_date", "20260101"),
        ("ingestion_end_date", "20261231"),
        ("repointing", "12"),
        ("extension", "cdf"),
    ])
    .unwrap();
    let filter = &parsed.filter;
    assert_eq!(filter.kind(), proto::pb::FileKind::Science);
    assert_eq!((filter.start_date_min.as_str(), filter.start_date_max.as_str()), ("20250101", "20250131"));
    assert_eq!((filter.ingestion_date_min.as_str(), filter.ingestion_date_max.as_str()), ("20260101", "20261231"));
    assert_eq!(filter.repointing, Some(12));
    assert_eq!(query(&[("repointing", "repoint00042")]).unwrap().filter.repointing, Some(42));
}

#[test]
fn bad_parameters_are_refused_with_a_reason() {
    let unknown = query(&[("instrument", "mag"), ("colour", "red")]).unwrap_err().to_string();
    assert!(unknown.contains("colour") && unknown.contains("valid"), "{unknown}");
    assert!(query(&[("start_date", "20250230")]).unwrap_err().to_string().contains("start_date"));
    assert!(query(&[("table", "spice")]).is_err());
    assert!(query(&[("table", "ancillary"), ("data_level", "l1")]).is_err());
    assert!(query(&[("major_version", "x")]).is_err());
}

#[test]
fn rows_carry_exactly_the_fields_the_client_reads() {
    let science = science_row(&record("imap_hi_l1b_45sensor-de_20250101-repoint00012_v001.0002.cdf"));
    let keys: Vec<&str> = science.as_object().unwrap().keys().map(String::as_str).collect();
    assert!(keys.contains(&"repointing") && !keys.contains(&"end_date"), "{keys:?}");
    assert_eq!(science["repointing"], 12);
    assert_eq!(science["major_version"], 1);
    assert_eq!(science["minor_version"], 2);
    assert_eq!(science["file_path"], "imap/hi/l1b/2025/01/imap_hi_l1b_45sensor-de_20250101-repoint00012_v001.0002.cdf");
    assert_eq!(science["ingestion_date"], "20261126 06:19:45");
    assert_eq!(science["released"], false);
    assert_eq!(science.as_object().unwrap().len(), 11);

    let ancillary = ancillary_row(&record("imap_mag_calibration_20250101_20250131_v002.cdf"));
    assert_eq!(ancillary["end_date"], "20250131");
    assert_eq!(ancillary["version"], "v002");
    assert_eq!(ancillary["released"], false);
    assert_eq!(ancillary["file_path"], "imap/ancillary/mag/imap_mag_calibration_20250101_20250131_v002.cdf");
    let open_ended = ancillary_row(&record("imap_mag_calibration_20250101_v002.cdf"));
    assert!(open_ended.as_object().unwrap().contains_key("end_date"));
}

#[test]
fn ancillary_versions_are_matched_as_written() {
    let files: Vec<FileRecord> = ["imap_mag_calibration_20250101_v001.cdf", "imap_mag_calibration_20250101_v002.cdf"]
        .into_iter()
        .map(record)
        .collect();
    let all = query(&[("table", "ancillary"), ("instrument", "mag")]).unwrap();
    assert_eq!(all.select(files.clone()).len(), 2);
    let exact = query(&[("table", "ancillary"), ("version", "v002")]).unwrap();
    assert_eq!(exact.filter.version, "v002");
    let latest = query(&[("table", "ancillary"), ("instrument", "mag"), ("latest", "true")]).unwrap();
    assert_eq!(names(latest.select(files)), ["imap_mag_calibration_20250101_v002.cdf"]);
}
