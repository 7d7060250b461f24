use super::*;

pub(super) fn date(text: &str) -> Date {
    Date::parse_yyyymmdd(text).expect("test dates are valid")
}

pub(super) fn key(text: &str) -> ProductKey {
    ProductKey::parse_words(text).expect("test keys have three words")
}

pub(super) fn science_file(source: &str, day: &str, version: Version) -> FileRecord {
    let source_key = key(source);
    let version_text = match version {
        (Some(major), minor) => format!("v{major:03}.{minor:04}"),
        (None, minor) => format!("v{minor:03}"),
    };
    FileRecord {
        file_name: format!(
            "imap_{}_{}_{}_{day}_{version_text}.cdf",
            source_key.instrument, source_key.data_level, source_key.descriptor
        ),
        kind: FileKind::Science,
        instrument: source_key.instrument,
        data_level: source_key.data_level,
        descriptor: source_key.descriptor,
        start_date: date(day),
        end_date: None,
        repointing: None,
        version,
    }
}

pub(super) fn ranged_file(
    kind: FileKind,
    instrument: &str,
    descriptor: &str,
    start: &str,
    end: Option<&str>,
) -> FileRecord {
    let data_level = match kind {
        FileKind::Ancillary => "ancillary",
        FileKind::Spice => "spice",
        FileKind::Spin => "spin",
        FileKind::Repoint => "repoint",
        FileKind::Science => "l1a",
    };
    FileRecord {
        file_name: format!("imap_{instrument}_{descriptor}_{start}_v001.dat"),
        kind,
        instrument: instrument.to_string(),
        data_level: data_level.to_string(),
        descriptor: descriptor.to_string(),
        start_date: date(start),
        end_date: end.map(date),
        repointing: None,
        version: (None, 1),
    }
}

fn graph(toml_text: &str) -> Graph {
    Graph::from_toml_str(toml_text).expect("test graph parses")
}

fn times_of(downstream: &[(ProductKey, ProductTime)], product: &str) -> Vec<String> {
    downstream
        .iter()
        .filter(|(key, _)| key.to_string() == product)
        .map(|(_, time)| match time.repointing {
            Some(repointing) => format!("{}-r{repointing}", time.date),
            None => time.date.to_string(),
        })
        .collect()
}

const WINDOWS_GRAPH: &str = r#"
[[product]]
instrument = "mag"
level = "l1a"
descriptor = "all"
input = [{ science = "mag l0 raw" }]

[[product]]
instrument = "mag"
level = "l1b"
descriptor = "norm-mago"
input = [
  { science = "mag l1a norm-mago" },
  { ancillary = "mag calibration", relationship = "soft_trigger" },
  { spice = ["leapseconds", "spacecraft_clock"], relationship = "hard_no_trigger" },
]

[[product]]
instrument = "mag"
level = "l2"
descriptor = "norm-3day"
input = [{ science = "mag l1b norm-mago", days_before = 1, days_after = 1, every_day = true }]

[[product]]
instrument = "mag"
level = "l3"
descriptor = "norm-1mo"
cadence = "monthly"
input = [
  { science = "mag l1b norm-mago", window = "month" },
  { ancillary = "mag offsets", relationship = "soft_no_trigger" },
]

[[product]]
instrument = "mag"
level = "l3"
descriptor = "norm-cr"
cadence = "carrington"
input = [{ science = "mag l1b norm-mago", window = "carrington" }]

[[product]]
instrument = "hi"
level = "l2"
descriptor = "map"
cadence = "repointing"
input = [
  { science = "hi l1c 45sensor-pset", repointings_before = 1, repointings_after = 1, every_day = true },
  { spin = true, relationship = "hard_no_trigger" },
  { repoint = true, relationship = "soft_trigger" },
]

[[product]]
instrument = "hi"
level = "l1c"
descriptor = "45sensor-pset"
cadence = "repointing"
input = [{ science = "hi l0 raw" }]
"#;

// ---------------------------------------------------------------- toml

#[test]
fn toml_round_trip_keeps_every_field() {
    let original = graph(WINDOWS_GRAPH);
    let written = original.to_toml_string().expect("writes");
    let reread = Graph::from_toml_str(&written).expect("reads back");
    assert_eq!(reread.products(), original.products());
    let three_day = &original.product(&key("mag l2 norm-3day")).expect("exists").inputs[0];
    assert_eq!(three_day.window, TimeWindow::Days { before: 1, after: 1 });
    assert!(three_day.every_day);
    let map = original.product(&key("hi l2 map")).expect("exists");
    assert_eq!(map.cadence, Cadence::Repointing);
    assert_eq!(map.inputs[0].window, TimeWindow::Repointings { before: 1, after: 1 });
    assert_eq!(map.inputs[1].source, InputSource::Spin);
}

#[test]
fn mission_graph_round_trips_through_toml() {
    let mission = Graph::project();
    let reread = Graph::from_toml_str(&mission.to_toml_string().expect("writes")).expect("reads back");
    assert_eq!(reread.products(), mission.products());
}

#[test]
fn toml_errors_name_the_product_and_the_problem() {
    let two_sources = "[[product]]\ninstrument = \"mag\"\nlevel = \"l1b\"\ndescriptor = \"x\"\ninput = [{ science = \"mag l1a x\", spin = true }]\n";
    let error = Graph::from_toml_str(two_sources).expect_err("two sources");
    assert_eq!(
        error.to_string(),
        "product mag l1b x: input 1: expected exactly one source (science, ancillary, spice, spin, repoint), found 2"
    );
    let bad_science =
        "[[product]]\ninstrument = \"mag\"\nlevel = \"l1b\"\ndescriptor = \"x\"\ninput = [{ science = \"mag l1a\" }]\n";
    let error = Graph::from_toml_str(bad_science).expect_err("two words");
    assert!(error.to_string().contains("is not \"instrument level descriptor\""), "{error}");
    let conflicting = "[[product]]\ninstrument = \"mag\"\nlevel = \"l1b\"\ndescriptor = \"x\"\ninput = [{ science = \"mag l1a x\", window = \"month\", days_before = 2 }]\n";
    let error = Graph::from_toml_str(conflicting).expect_err("month with days");
    assert!(error.to_string().contains("window \"month\" does not fit"), "{error}");
    let typo = "[[product]]\ninstrument = \"mag\"\nlevel = \"l1b\"\ndescriptor = \"x\"\ninput = [{ sciense = \"mag l1a x\" }]\n";
    assert!(matches!(Graph::from_toml_str(typo), Err(GraphError::Toml(_))));
}

// ---------------------------------------------------------------- csv

#[test]
fn old_csv_format_is_imported() {
    let csv = "# primary, level, ...\n\nmag, l0, raw, mag, l1a, all, HARD, DOWNSTREAM\nmag,l1a,norm-mago,mag,l1b,norm-mago,HARD,DOWNSTREAM\n  \nmag, l1b, norm-mago, mag, l1c, norm-mago, HARD, UPSTREAM\nmag, l1b, burst-mago, mag, l1c, norm-mago, SOFT, DOWNSTREAM\n";
    let imported = Graph::from_dependency_csv(csv).expect("imports");
    let keys: Vec<String> = imported.products().iter().map(|product| product.key.to_string()).collect();
    assert_eq!(keys, ["mag l1a all", "mag l1b norm-mago", "mag l1c norm-mago"]);
    let l1c = imported.product(&key("mag l1c norm-mago")).expect("exists");
    assert_eq!(l1c.inputs.len(), 2);
    assert_eq!(l1c.inputs[0].source, InputSource::Science(key("mag l1b norm-mago")));
    assert_eq!(l1c.inputs[1].relationship, Relationship::SoftTrigger);
}

#[test]
fn old_csv_errors_carry_the_line_number() {
    let seven_fields = "# header comment\nmag, l0, raw, mag, l1a, all, HARD, DOWNSTREAM\n\nmag, l1a, norm-mago, mag, l1b, norm-mago, HARD\n";
    assert_eq!(
        Graph::from_dependency_csv(seven_fields).err(),
        Some(GraphError::Csv { line: 4, message: "expected 8 fields, found 7".to_string() })
    );
    let bad_relationship = "mag, l0, raw, mag, l1a, all, HARD_NO_TRIGGER, DOWNSTREAM\n";
    let error = Graph::from_dependency_csv(bad_relationship).expect_err("old format has no HARD_NO_TRIGGER");
    assert_eq!(error.to_string(), "dependency csv line 1: unknown relationship \"HARD_NO_TRIGGER\"");
}

#[test]
fn later_csv_format_reads_spice_spin_repoint_and_ancillary_sources() {
    let csv = "primary_source,primary_data_type,primary_descriptor,dependent_source,dependent_data_type,dependent_descriptor,relationship,dependency_type\n\
        idex,l0,raw,idex,l1a,all,HARD,DOWNSTREAM\n\
        leapseconds,spice,historical,idex,l1a,all,HARD_NO_TRIGGER,DOWNSTREAM\n\
        spin,spin,historical,hi,l1b,45sensor-de,HARD_NO_TRIGGER,DOWNSTREAM\n\
        repoint,repoint,historical,hi,l1b,45sensor-de,SOFT_TRIGGER,DOWNSTREAM\n\
        hi,ancillary,cal-table,hi,l1b,45sensor-de,SOFT,DOWNSTREAM\n\
        hi,l1a,45sensor-de,hi,l1b,45sensor-de,HARD,DOWNSTREAM\n";
    let imported = Graph::from_dependency_csv(csv).expect("imports");
    let idex = imported.product(&key("idex l1a all")).expect("exists");
    assert_eq!(idex.inputs[1].source, InputSource::spice("leapseconds"));
    assert_eq!(idex.inputs[1].relationship, Relationship::HardNoTrigger);
    let hi = imported.product(&key("hi l1b 45sensor-de")).expect("exists");
    let sources: Vec<(String, Relationship)> =
        hi.inputs.iter().map(|input| (input.source.to_string(), input.relationship)).collect();
    assert_eq!(
        sources,
        [
            ("spin".to_string(), Relationship::HardNoTrigger),
            ("repoint".to_string(), Relationship::SoftTrigger),
            ("ancillary hi cal-table".to_string(), Relationship::SoftTrigger),
            ("science hi l1a 45sensor-de".to_string(), Relationship::Hard),
        ]
    );
}

#[test]
fn later_csv_errors_carry_the_line_number() {
    let missing_column = "primary_source,primary_data_type,primary_descriptor,dependent_source,dependent_data_type,dependent_descriptor,relationship\n";
    assert_eq!(
        Graph::from_dependency_csv(missing_column).err(),
        Some(GraphError::Csv { line: 1, message: "header lacks column dependency_type".to_string() })
    );
    let short_row = "primary_source,primary_data_type,primary_descriptor,dependent_source,dependent_data_type,dependent_descriptor,relationship,dependency_type\n# note\nidex,l0,raw,idex,l1a,all,HARD\n";
    assert_eq!(
        Graph::from_dependency_csv(short_row).err(),
        Some(GraphError::Csv { line: 3, message: "expected 8 fields, found 7".to_string() })
    );
    let spice_dependent = "primary_source,primary_data_type,primary_descriptor,dependent_source,dependent_data_type,dependent_descriptor,relationship,dependency_type\nidex,l0,raw,leapseconds,spice,historical,HARD,DOWNSTREAM\n";
    let error = Graph::from_dependency_csv(spice_dependent).expect_err("spice is not a product");
    assert_eq!(error.to_string(), "dependency csv line 2: dependent leapseconds spice is not a science product");
}

// ---------------------------------------------------------------- mission graph

/// The 86 rows of the reference CSV (imap-sdc-api.md 3.8), as `primary -> dependent`.
fn reference_rows() -> Vec<(String, String)> {
    let codice = [
        "hskp",
        "lo-counters-aggregated",
        "lo-counters-singles",
        "hi-counters-aggregated",
        "hi-counters-singles",
        "lo-sw-priority",
        "lo-sw-angular",
        "lo-sw-species",
        "lo-nsw-priority",
        "lo-nsw-angular",
        "lo-nsw-species",
        "lo-pha",
        "hi-pha",
        "hi-omni",
        "hi-sectored",
        "lo-ialirt",
        "hi-ialirt",
    ];
    let mut rows: Vec<(String, String)> = Vec::new();
    for descriptor in codice {
        rows.push((format!("codice l0 {descriptor}"), format!("codice l1a {descriptor}")));
        rows.push((format!("codice l1a {descriptor}"), format!("codice l1b {descriptor}")));
    }
    let listed = "glows l0 raw > glows l1a all; glows l1a de > glows l1b de; glows l1a hist > glows l1b hist;
        hi l0 raw > hi l1a all; hi l1a 45sensor-histogram > hi l1b 45sensor-histogram; hi l1a 45sensor-de > hi l1b 45sensor-de;
        hi l1a 45sensor-hk > hi l1b 45sensor-hk; hi l1b 45sensor-de > hi l1c 45sensor-pset;
        hit l0 raw > hit l1a all; hit l1a sci > hit l1b sci; hit l1a hk > hit l1b hk;
        idex l0 raw > idex l1a sci; idex l1a sci > idex l1b sci;
        lo l0 raw > lo l1a all; lo l1a de > lo l1b de; lo l1a spin > lo l1b de; lo l1a TODO > lo l1b badtimes;
        lo l1a histogram > lo l1b monitorrates; lo l1a spin > lo l1b monitorrates;
        lo l1a histogram > lo l1b histogramrates; lo l1a spin > lo l1b histogramrates;
        lo l1a histogram > lo l1b derates; lo l1a spin > lo l1b derates;
        lo l1a star > lo l1b prostar; lo l1a hk > lo l1b hk; lo l1b de > lo l1c pset;
        mag l0 raw > mag l1a all; mag l1a norm-mago > mag l1b norm-mago; mag l1a norm-magi > mag l1b norm-magi;
        mag l1a burst-mago > mag l1b burst-mago; mag l1a burst-magi > mag l1b burst-magi;
        mag l1b norm-mago > mag l1c norm-mago; mag l1b burst-mago > mag l1c norm-mago;
        mag l1b norm-magi > mag l1c norm-magi; mag l1b burst-magi > mag l1c norm-magi;
        swapi l0 raw > swapi l1 all; swapi l1 sci > swapi l2 sci; swapi l2 sci > swapi l3a alpha-sw;
        swapi l2 sci > swapi l3a proton-sw; swapi l2 sci > swapi l3b combined;
        swe l0 raw > swe l1a sci; swe l1a sci > swe l1b sci; swe l1b sci > swe l2 sci;
        ultra l0 raw > ultra l1a all; ultra l1a 45sensor-de > ultra l1b 45sensor-de; ultra l1a 45sensor-aux > ultra l1b 45sensor-de;
        ultra l1a 45sensor-rates > ultra l1b 45sensor-extendedspin;
        ultra l1b 45sensor-de > ultra l1c 45sensor-pset; ultra l1b 45sensor-extendedspin > ultra l1c 45sensor-pset;
        ultra l1b 45sensor-cullingmask > ultra l1c 45sensor-pset;
        ultra l1a 45sensor-histogram > ultra l1c 45sensor-histogram; ultra l1b 45sensor-cullingmask > ultra l1c 45sensor-histogram";
    for row in listed.split(';') {
        let (primary, dependent) = row.split_once('>').expect("rows have a >");
        rows.push((primary.trim().to_string(), dependent.trim().to_string()));
    }
    rows
}

fn has_edge(graph: &Graph, primary: &str, dependent: &str) -> bool {
    graph
        .product(&key(dependent))
        .is_some_and(|product| product.inputs.iter().any(|input| input.source == InputSource::Science(key(primary))))
}

#[test]
fn mission_graph_passes_check() {
    let problems = check(&Graph::project());
    let messages: Vec<String> = problems.iter().map(GraphProblem::to_string).collect();
    assert!(messages.is_empty(), "{messages:#?}");
}

#[test]
fn mission_graph_contains_every_reference_row() {
    let mission = Graph::project();
    let rows = reference_rows();
    assert_eq!(rows.len(), 86);
    let absent: Vec<String> = rows
        .iter()
        .filter(|(primary, dependent)| !has_edge(&mission, primary, dependent))
        .map(|(primary, dependent)| format!("{primary} -> {dependent}"))
        .collect();
    assert!(absent.is_empty(), "{absent:#?}");
}

#[test]
fn mission_graph_contains_the_cross_instrument_edges() {
    let mission = Graph::project();
    for (primary, dependent) in [
        ("mag l1d norm-dsrf", "codice l3b hi-pitch-angle"),
        ("mag l1d norm-dsrf", "hit l3 macropixel"),
        ("mag l1d norm-dsrf", "swe l3 sci"),
        ("swapi l3a proton-sw", "swe l3 sci"),
        ("mag l1c norm-mago", "mag l1d norm-dsrf"),
        ("swe l2 sci", "swe l3 sci"),
    ] {
        assert!(has_edge(&mission, primary, dependent), "{primary} -> {dependent}");
    }
}

// ---------------------------------------------------------------- check

#[test]
fn check_reports_each_kind_of_problem() {
    let broken = graph(
        r#"
[[product]]
instrument = "mag"
level = "l2"
descriptor = "a"
input = [{ science = "mag l2 b" }]

[[product]]
instrument = "mag"
level = "l2"
descriptor = "b"
input = [{ science = "mag l2 a" }]

[[product]]
instrument = "mag"
level = "l2"
descriptor = "b"
input = [{ science = "mag l0 raw" }]

[[product]]
instrument = "magnet"
level = "l9"
descriptor = "x"
input = [{ science = "mag l1c nowhere" }, { spice = ["leapsecs"] }]

[[product]]
instrument = "swe"
level = "l2"
descriptor = "quiet"
input = [{ science = "swe l0 raw", relationship = "hard_no_trigger" }]
"#,
    );
    let messages: Vec<String> = check(&broken).iter().map(GraphProblem::to_string).collect();
    assert_eq!(
        messages,
        [
            "product mag l2 b is defined more than once",
            "product magnet l9 x: unknown instrument \"magnet\"",
            "product magnet l9 x: unknown data level \"l9\"",
            "product magnet l9 x: input mag l1c nowhere is made by no product and is not level 0",
            "product magnet l9 x: unknown spice kernel type \"leapsecs\"",
            "product swe l2 quiet: no input triggers it (all are no-trigger)",
            "cycle: mag l2 a -> mag l2 b -> mag l2 a",
        ]
    );
}

// ---------------------------------------------------------------- downstream

const LATE: &str = "20300101";

#[test]
fn a_raw_file_triggers_the_l1a_all_job_and_l1a_files_the_l1b_products() {
    let mission = Graph::project();
    let raw = science_file("mag l0 raw", "20250312", (None, 1));
    assert_eq!(mission.downstream(&raw, date(LATE)), [(key("mag l1a all"), ProductTime::on(date("20250312")))]);
    let l1a = science_file("mag l1a norm-mago", "20250312", (Some(1), 0));
    assert_eq!(mission.downstream_products(&l1a), [key("mag l1b norm-mago")]);
    let swapi_raw = science_file("swapi l0 raw", "20250312", (None, 1));
    assert_eq!(mission.downstream_products(&swapi_raw), [key("swapi l1 all")]);
}

#[test]
fn a_file_triggers_products_of_other_instruments() {
    let mission = Graph::project();
    let dsrf = science_file("mag l1d norm-dsrf", "20250312", (Some(1), 0));
    let products: Vec<String> = mission.downstream_products(&dsrf).iter().map(ProductKey::to_string).collect();
    assert_eq!(products, ["codice l3b hi-pitch-angle", "hit l3 macropixel", "swe l3 sci"]);
    let proton = science_file("swapi l3a proton-sw", "20250312", (Some(1), 0));
    let downstream = mission.downstream(&proton, date(LATE));
    assert_eq!(downstream, [(key("swe l3 sci"), ProductTime::on(date("20250312")))]);
}

#[test]
fn window_inputs_trigger_every_product_date_whose_window_holds_the_file() {
    let windows = graph(WINDOWS_GRAPH);
    let l1b = science_file("mag l1b norm-mago", "20250315", (Some(1), 0));
    let downstream = windows.downstream(&l1b, date(LATE));
    assert_eq!(times_of(&downstream, "mag l2 norm-3day"), ["20250314", "20250315", "20250316"]);
    assert_eq!(times_of(&downstream, "mag l3 norm-1mo"), ["20250301"]);
    // Rotation 2295 began 2025-03-02 22:31 UTC and 2296 2025-03-29 17:05 UTC.
    assert_eq!(carrington_rotation(date("20250315")), 2295);
    assert_eq!(times_of(&downstream, "mag l3 norm-cr"), ["20250303"]);
    let late_in_rotation = science_file("mag l1b norm-mago", "20250329", (Some(1), 0));
    assert_eq!(times_of(&windows.downstream(&late_in_rotation, date(LATE)), "mag l3 norm-cr"), ["20250303"]);
    let next_rotation = science_file("mag l1b norm-mago", "20250330", (Some(1), 0));
    assert_eq!(times_of(&windows.downstream(&next_rotation, date(LATE)), "mag l3 norm-cr"), ["20250330"]);
}

#[test]
fn carrington_rotations_follow_the_standard_formula() {
    // Rotation 2292 began at JD 2460655.11 (2024-12-10 14:41 UTC).
    assert_eq!(carrington_rotation(date("20241210")), 2291);
    assert_eq!(carrington_rotation(date("20241211")), 2292);
    assert_eq!(carrington_rotation(date("18531110")), 1);
    let rotation = carrington_rotation_days(2292);
    assert_eq!(rotation.first, date("20241211"));
    assert_eq!(rotation.last.add_days(1), carrington_rotation_days(2293).first);
    assert!(rotation.days().all(|day| carrington_rotation(day) == 2292));
}

#[test]
fn ancillary_files_trigger_every_date_of_their_validity() {
    let windows = graph(WINDOWS_GRAPH);
    let bounded = ranged_file(FileKind::Ancillary, "mag", "calibration", "20250301", Some("20250303"));
    assert_eq!(
        times_of(&windows.downstream(&bounded, date(LATE)), "mag l1b norm-mago"),
        ["20250301", "20250302", "20250303"]
    );
    let open_ended = ranged_file(FileKind::Ancillary, "mag", "calibration", "20250301", None);
    assert_eq!(
        times_of(&windows.downstream(&open_ended, date("20250302")), "mag l1b norm-mago"),
        ["20250301", "20250302"]
    );
    // soft_no_trigger inputs never trigger.
    let offsets = ranged_file(FileKind::Ancillary, "mag", "offsets", "20250301", None);
    assert!(windows.downstream(&offsets, date(LATE)).is_empty());
}

#[test]
fn hard_no_trigger_inputs_never_trigger_and_soft_trigger_ones_do() {
    let windows = graph(WINDOWS_GRAPH);
    let leapseconds = ranged_file(FileKind::Spice, "spice", "leapseconds", "20250101", None);
    assert!(windows.downstream_products(&leapseconds).is_empty());
    let spin = ranged_file(FileKind::Spin, "spin", "spin", "20250101", Some("20250102"));
    assert!(windows.downstream_products(&spin).is_empty());
    let repoint = ranged_file(FileKind::Repoint, "repoint", "repoint", "20250101", Some("20250102"));
    assert_eq!(windows.downstream_products(&repoint), [key("hi l2 map")]);
}

#[test]
fn repointing_windows_trigger_the_neighbouring_repointings() {
    let windows = graph(WINDOWS_GRAPH);
    let mut pset = science_file("hi l1c 45sensor-pset", "20250501", (Some(1), 0));
    pset.repointing = Some(40);
    let downstream = windows.downstream(&pset, date(LATE));
    assert_eq!(times_of(&downstream, "hi l2 map"), ["20250501-r39", "20250501-r40", "20250501-r41"]);
}

// ---------------------------------------------------------------- resolution

pub(super) fn catalog_of(files: Vec<FileRecord>) -> MemoryCatalog {
    files.into_iter().collect()
}

#[test]
fn resolution_waits_and_names_what_is_missing() {
    let mission = Graph::project();
    let day = ProductTime::on(date("20250312"));
    let partial = catalog_of(vec![
        science_file("swe l2 sci", "20250312", (Some(1), 0)),
        science_file("mag l1d norm-dsrf", "20250311", (Some(1), 0)),
    ]);
    let Resolution::Waiting { missing } = resolve(&mission, &partial, &key("swe l3 sci"), day).expect("resolves")
    else {
        panic!("inputs are missing");
    };
    let messages: Vec<String> = missing.iter().map(MissingInput::to_string).collect();
    assert_eq!(
        messages,
        ["science mag l1d norm-dsrf: no file in 20250312", "science swapi l3a proton-sw: no file in 20250312"]
    );
}

#[test]
fn resolution_is_ready_with_the_newest_version_of_each_input() {
    let mission = Graph::project();
    let day = ProductTime::on(date("20250312"));
    let complete = catalog_of(vec![
        science_file("swe l2 sci", "20250312", (None, 7)),
        science_file("swe l2 sci", "20250312", (Some(1), 0)),
        science_file("swe l2 sci", "20250312", (Some(1), 2)),
        science_file("swe l2 sci", "20250313", (Some(9), 0)),
        science_file("mag l1d norm-dsrf", "20250312", (Some(2), 0)),
        science_file("swapi l3a proton-sw", "20250312", (Some(1), 0)),
    ]);
    let Resolution::Ready { inputs } = resolve(&mission, &complete, &key("swe l3 sci"), day).expect("resolves") else {
        panic!("all inputs are present");
    };
    let chosen: Vec<Vec<&str>> =
        inputs.iter().map(|input| input.files.iter().map(|file| file.file_name.as_str()).collect()).collect();
    assert_eq!(
        chosen,
        [
            vec!["imap_swe_l2_sci_20250312_v001.0002.cdf"],
            vec!["imap_mag_l1d_norm-dsrf_20250312_v002.0000.cdf"],
            vec!["imap_swapi_l3a_proton-sw_20250312_v001.0000.cdf"],
        ]
    );
}

#[test]
fn soft_inputs_are_optional_and_used_when_present() {
    let windows = graph(WINDOWS_GRAPH);
    let day = ProductTime::on(date("20250312"));
    let mut files = vec![
        science_file("mag l1a norm-mago", "20250312", (Some(1), 0)),
        ranged_file(FileKind::Spice, "spice", "leapseconds", "20150101", None),
        ranged_file(FileKind::Spice, "spice", "spacecraft_clock", "20250101", Some("20251231")),
    ];
    let without_calibration =
        resolve(&windows, &catalog_of(files.clone()), &key("mag l1b norm-mago"), day).expect("resolves");
    let Resolution::Ready { inputs } = without_calibration else { panic!("soft inputs do not block") };
    assert_eq!(inputs.len(), 2);
    files.push(ranged_file(FileKind::Ancillary, "mag", "calibration", "20250101", None));
    let with_calibration = resolve(&windows, &catalog_of(files), &key("mag l1b norm-mago"), day).expect("resolves");
    let Resolution::Ready { inputs } = with_calibration else { panic!("still ready") };
    assert_eq!(inputs[1].source.to_string(), "ancillary mag calibration");
    assert_eq!(inputs[2].files.len(), 2, "both kernel types");
}

#[test]
fn a_spice_input_needs_each_of_its_kernel_types() {
    let windows = graph(WINDOWS_GRAPH);
    let files = vec![
        science_file("mag l1a norm-mago", "20250312", (Some(1), 0)),
        ranged_file(FileKind::Spice, "spice", "leapseconds", "20150101", None),
        ranged_file(FileKind::Spice, "spice", "spacecraft_clock", "20240101", Some("20241231")),
    ];
    let resolution =
        resolve(&windows, &catalog_of(files), &key("mag l1b norm-mago"), ProductTime::on(date("20250312")));
    let Ok(Resolution::Waiting { missing }) = resolution else { panic!("the clock kernel does not cover the day") };
    assert_eq!(missing[0].to_string(), "spice spacecraft_clock: no file in 20250312");
}

#[test]
fn every_day_windows_name_the_missing_days_and_month_windows_need_one_file() {
    let windows = graph(WINDOWS_GRAPH);
    let files = vec![
        science_file("mag l1b norm-mago", "20250311", (Some(1), 0)),
        science_file("mag l1b norm-mago", "20250313", (Some(1), 0)),
    ];
    let catalog = catalog_of(files);
    let three_day = resolve(&windows, &catalog, &key("mag l2 norm-3day"), ProductTime::on(date("20250312")));
    let Ok(Resolution::Waiting { missing }) = three_day else { panic!("the middle day is missing") };
    assert_eq!(missing[0].absent, Absent::Days(vec![date("20250312")]));
    assert_eq!(missing[0].to_string(), "science mag l1b norm-mago: no file for days 20250312");
    // Asked for the 20th, the monthly product is the one of the 1st and sees the whole month.
    let monthly =
        resolve(&windows, &catalog, &key("mag l3 norm-1mo"), ProductTime::on(date("20250320"))).expect("resolves");
    let Resolution::Ready { inputs } = monthly else { panic!("one file in the month is enough") };
    assert_eq!(inputs[0].files.len(), 2);
    let april =
        resolve(&windows, &catalog, &key("mag l3 norm-1mo"), ProductTime::on(date("20250401"))).expect("resolves");
    let Resolution::Waiting { missing } = april else { panic!("nothing in april") };
    assert_eq!(missing[0].to_string(), "science mag l1b norm-mago: no file in 20250401..=20250430");
}

#[test]
fn repointing_windows_resolve_by_repointing_number() {
    let windows = graph(WINDOWS_GRAPH);
    let pset = |repointing: u32, day: &str| {
        let mut file = science_file("hi l1c 45sensor-pset", day, (Some(1), 0));
        file.repointing = Some(repointing);
        file
    };
    let mut files = vec![pset(39, "20250430"), pset(41, "20250502")];
    files.push(ranged_file(FileKind::Spin, "spin", "spin", "20250101", None));
    let time = ProductTime { date: date("20250501"), repointing: Some(40) };
    let Ok(Resolution::Waiting { missing }) = resolve(&windows, &catalog_of(files.clone()), &key("hi l2 map"), time)
    else {
        panic!("repointing 40 is missing");
    };
    assert_eq!(missing[0].to_string(), "science hi l1c 45sensor-pset: no file for repointings 40");
    files.push(pset(40, "20250501"));
    let ready = resolve(&windows, &catalog_of(files), &key("hi l2 map"), time).expect("resolves");
    assert!(ready.is_ready());
    let without_repointing = windows.input_queries(&key("hi l2 map"), ProductTime::on(date("20250501")));
    assert_eq!(without_repointing, Err(GraphError::RepointingRequired { product: key("hi l2 map") }));
}

#[test]
fn select_refilters_candidates_and_checks_their_count() {
    let mission = Graph::project();
    let time = ProductTime::on(date("20250312"));
    let product = key("mag l1b norm-mago");
    let queries = mission.input_queries(&product, time).expect("known product");
    assert_eq!(queries.len(), 1);
    assert_eq!(queries[0].range, QueryRange::Dates(DateRange::single(date("20250312"))));
    // A remote lookup may return a superset: other days and other sources are ignored.
    let superset = vec![vec![
        science_file("mag l1a norm-mago", "20250311", (Some(1), 0)),
        science_file("mag l1a norm-magi", "20250312", (Some(1), 0)),
    ]];
    assert!(!mission.select(&product, time, &superset).expect("selects").is_ready());
    assert_eq!(mission.select(&product, time, &[]), Err(GraphError::CandidateCountMismatch { expected: 1, got: 0 }));
    assert_eq!(
        mission.input_queries(&key("mag l9 nothing"), time),
        Err(GraphError::UnknownProduct(key("mag l9 nothing")))
    );
}

#[test]
fn the_memory_catalog_finds_long_and_open_validity_files() {
    let old_open = ranged_file(FileKind::Ancillary, "mag", "calibration", "20100101", None);
    let long_bounded = ranged_file(FileKind::Ancillary, "mag", "calibration", "20200101", Some("20251231"));
    let expired = ranged_file(FileKind::Ancillary, "mag", "calibration", "20200101", Some("20200201"));
    let future = ranged_file(FileKind::Ancillary, "mag", "calibration", "20260101", None);
    let catalog = catalog_of(vec![old_open.clone(), long_bounded.clone(), expired, future]);
    let query = InputQuery {
        input_index: 0,
        source: InputSource::Ancillary { instrument: "mag".to_string(), descriptor: "calibration".to_string() },
        relationship: Relationship::Hard,
        range: QueryRange::Dates(DateRange::single(date("20250312"))),
    };
    let mut found = catalog.candidates(&query);
    found.sort_by_key(|file| file.start_date);
    assert_eq!(found, [old_open, long_bounded]);
    assert_eq!(catalog.len(), 4);
}

// ---------------------------------------------------------------- show

#[test]
fn dot_output_draws_the_expected_edges() {
    let dot = Graph::project().to_dot();
    assert!(dot.starts_with("digraph products {"));
    for edge in [
        "\"mag l0 raw\" -> \"mag l1a all\" [style=solid];",
        "\"mag l1a all\" -> \"mag l1b norm-mago\" [style=solid, label=\"norm-mago\"];",
        "\"mag l1d norm-dsrf\" -> \"swe l3 sci\" [style=solid];",
        "\"swapi l3a proton-sw\" -> \"swe l3 sci\" [style=solid];",
        "\"mag l1d norm-dsrf\" -> \"codice l3b hi-pitch-angle\" [style=solid];",
    ] {
        assert!(dot.contains(edge), "missing {edge}");
    }
    let windows_dot = graph(WINDOWS_GRAPH).to_dot();
    assert!(windows_dot.contains("\"spice leapseconds+spacecraft_clock\" -> \"mag l1b norm-mago\" [style=dashed];"));
    assert!(windows_dot.contains("\"ancillary mag calibration\" -> \"mag l1b norm-mago\" [style=dotted];"));
}

#[test]
fn text_listing_shows_inputs_with_relationship_and_window() {
    let text = graph(WINDOWS_GRAPH).to_text();
    assert!(text.starts_with("# hi (2 products)\nhi l2 map (repointing)\n"), "{text}");
    assert!(
        text.contains(
            "mag l2 norm-3day (daily)\n  <- science mag l1b norm-mago [required, triggers, days -1..+1, every day]\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "mag l3 norm-1mo (monthly)\n  <- science mag l1b norm-mago [required, triggers, calendar month]\n  \
             <- ancillary mag offsets [optional, no trigger, same day]\n"
        ),
        "{text}"
    );
}
