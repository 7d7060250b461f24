//! Reading the mission's YAML: the vendored files, anchors, every field, and the error messages.

use super::super::{GraphProblem, MISSION_YAML_FILES, MapSeason, check};
use super::*;

fn key(text: &str) -> ProductKey {
    ProductKey::parse_words(text).expect("three words")
}

fn job<'graph>(graph: &'graph Graph, text: &str) -> &'graph Product {
    graph.product(&key(text)).unwrap_or_else(|| panic!("no job {text}"))
}

fn load_error(file: &str, text: &str) -> String {
    match Graph::from_mission_yaml(&[(file, text)]) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(error) => error.to_string(),
    }
}

fn swapi_error(text: &str) -> String {
    load_error("imap_swapi_dependencies.yaml", text)
}

const GOOD_JOB: &str =
    "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n";

#[test]
fn all_eleven_mission_files_load_and_pass_check() {
    assert_eq!(MISSION_YAML_FILES.len(), 11);
    let graph = Graph::mission_yaml();
    let instruments: std::collections::BTreeSet<&str> =
        graph.products().iter().map(|product| product.key.instrument.as_str()).collect();
    assert_eq!(
        instruments.into_iter().collect::<Vec<_>>(),
        ["codice", "glows", "hi", "hit", "idex", "lo", "mag", "spacecraft", "swapi", "swe", "ultra"]
    );
    assert_eq!(graph.products().len(), 289);
    let problems = check(&graph);
    let errors: Vec<String> =
        problems.iter().filter(|problem| !problem.is_warning()).map(ToString::to_string).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_mission_files_read_as_documented() {
    let graph = Graph::mission_yaml();
    let swapi_hk = job(&graph, "swapi l1 hk");
    assert_eq!(swapi_hk.cadence, Cadence::Daily);
    assert_eq!(
        swapi_hk.outputs,
        [ProductOutput { stream: OutputStream::Science(key("swapi l1a hk")), major_version: Some(1) }]
    );
    assert_eq!(
        swapi_hk.inputs.iter().map(|input| (input.source.to_string(), input.relationship)).collect::<Vec<_>>(),
        [
            ("science swapi l0 raw".to_string(), Relationship::Hard),
            ("spice leapseconds".to_string(), Relationship::HardNoTrigger),
            ("spice spacecraft_clock".to_string(), Relationship::HardNoTrigger),
        ]
    );
    assert_eq!(graph.producer_of(&key("swapi l1a hk")).map(|product| &product.key), Some(&key("swapi l1 hk")));
    // Hi: a repointing job reading the 8 nearest pointings of DE.
    let goodtimes = job(&graph, "hi l1b 45sensor-goodtimes");
    assert_eq!(goodtimes.cadence, Cadence::Repointing);
    let de =
        goodtimes.inputs.iter().find(|input| input.source.to_string() == "science hi l1b 45sensor-de").expect("de");
    assert_eq!(de.window, TimeWindow::NearestRepointings { count: 8 });
    // Hi maps: a season, with optional non-triggering PSETs over the whole season.
    let map = job(&graph, "hi l2 h45-ena-h-hf-nsp-anti-hae-4deg-1yr");
    assert_eq!(map.cadence, Cadence::MapSeason(MapSeason::OneYear));
    let pset = map.inputs.iter().find(|input| matches!(&input.source, InputSource::Science(_))).expect("pset");
    assert_eq!(
        (pset.relationship, pset.window),
        (Relationship::SoftNoTrigger, TimeWindow::Period { before: 0, after: 0 })
    );
    assert!(map.inputs.iter().any(|input| input.source
        == InputSource::Spice {
            kernel_types: vec!["ephemeris_predicted".into()],
            descriptor: SpiceDescriptor::Historical
        }));
    let pset_job = job(&graph, "hi l1c 45sensor-pset");
    assert!(pset_job.inputs.iter().any(|input| input.source
        == InputSource::Spice { kernel_types: vec!["ephemeris_90days".into()], descriptor: SpiceDescriptor::Best }));
    // MAG: require_coverage on the spin table.
    let srf = job(&graph, "mag l1d norm-srf");
    let spin = srf.inputs.iter().find(|input| input.source == InputSource::Spin).expect("spin");
    assert!(spin.every_day);
    assert_eq!(srf.outputs.len(), 11);
    // IDEX 10-day and 30-day blocks, GLOWS ancillary outputs, the spacecraft's per-pointing job.
    assert_eq!(job(&graph, "idex l1a all").cadence, Cadence::DayBlocks(10));
    assert_eq!(job(&graph, "idex l2b all-30days").cadence, Cadence::DayBlocks(30));
    let glows = job(&graph, "glows l3b ion-rate-profile");
    assert!(
        glows.outputs.iter().any(|output| output.stream
            == OutputStream::Ancillary { instrument: "glows".into(), descriptor: "uv-anis".into() })
    );
    assert_eq!(job(&graph, "spacecraft l1a pointing-attitude").cadence, Cadence::Repointing);
}

#[test]
fn anchors_are_flattened_wherever_they_appear() {
    let graph = Graph::mission_yaml();
    // CoDICE: `- *lo_l3a_dist_common` inside inputs, a 7-input block.
    assert_eq!(job(&graph, "codice l3b lo-hplus-3d-distribution").inputs.len(), 7);
    // Lo: `inputs: *lo_l2_map_inputs`, a block holding two other blocks (9 + 1) and 5 inputs.
    assert_eq!(job(&graph, "lo l2 l090-ena-h-hf-nsp-ram-hae-6deg-1yr").inputs.len(), 15);
    // Ultra: two blocks (18 lookup tables, 12 kernels) and 2 inputs.
    assert_eq!(job(&graph, "ultra l1b 45sensor-de").inputs.len(), 32);
    let text = "shared: &shared\n  - source: leapseconds\n    data_type: spice\n    descriptor: historical\n    trigger_job: false\n\
                nested: &nested\n  - *shared\n  - source: spin\n    data_type: spin\n    descriptor: historical\n\
                (l1, hk):\n  partition: daily\n  inputs:\n    - *nested\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n";
    let graph = Graph::from_mission_yaml(&[("imap_swapi_dependencies.yaml", text)]).expect("parses");
    let sources: Vec<String> = graph.products()[0].inputs.iter().map(|input| input.source.to_string()).collect();
    assert_eq!(sources, ["spice leapseconds", "spin", "science swapi l0 raw"]);
}

#[test]
fn the_mission_graph_round_trips_through_our_toml() {
    let graph = Graph::mission_yaml();
    let toml_text = graph.to_toml_string().expect("writes");
    let again = Graph::from_toml_str(&toml_text).expect("reads back");
    assert_eq!(again.products(), graph.products());
}

#[test]
fn errors_name_the_file_line_job_and_field() {
    let cases: [(&str, &str, &str); 16] = [
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n      date_range: [\"-1w\", \"1d\"]\n",
            "imap_swapi_dependencies.yaml line 7, job (l1, hk), inputs[1].date_range",
            "unknown unit \"w\" in \"-1w\"",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n      trigger: false\n",
            "line 7, job (l1, hk), inputs[1]",
            "unknown key \"trigger\"",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: sunclock\n      data_type: spice\n      descriptor: historical\n",
            "job (l1, hk), inputs[1] (sunclock spice historical)",
            "unknown SPICE source \"sunclock\"",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapy\n      data_type: l0\n      descriptor: raw\n",
            "job (l1, hk), inputs[1] (swapy l0 raw)",
            "unknown source \"swapy\"",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l9\n      descriptor: raw\n",
            "job (l1, hk), inputs[1] (swapi l9 raw)",
            "unknown data_type \"l9\"",
        ),
        (
            "(l9, hk):\n  partition: daily\n  inputs: []\n",
            "imap_swapi_dependencies.yaml line 1",
            "unknown level \"l9\"",
        ),
        ("(l1 hk):\n  partition: daily\n  inputs: []\n", "line 1", "is not \"(level, descriptor)\""),
        (
            "(l1, hk):\n  partition: weekly\n  inputs: []\n",
            "line 2, job (l1, hk), partition",
            "unknown partition \"weekly\"",
        ),
        ("(l1, hk):\n  inputs: []\n", "job (l1, hk), partition", "missing"),
        (
            "(l1, hk):\n  partition: daily\n  output: []\n  inputs: []\n",
            "line 3, job (l1, hk)",
            "unknown key \"output\"",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n      required: \"no\"\n",
            "line 7, job (l1, hk), inputs[1].required",
            "must be true or false",
        ),
        // The malformed input list of an older lo file: one field per list item.
        (
            "(l1b, goodtimes):\n  partition: repoint\n  inputs:\n    - source: repoint\n    - data_type: repoint\n    - descriptor: historical\n",
            "line 4, job (l1b, goodtimes), inputs[1].data_type",
            "missing",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs: []\n  outputs:\n    - source: swapi\n      data_type: l1a\n      descriptor: hk\n      major_version: one\n",
            "line 8, job (l1, hk), outputs[1].major_version",
            "must be a whole number",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: spin\n      data_type: spin\n      descriptor: best\n",
            "job (l1, hk), inputs[1] (spin spin best)",
            "a spin input's descriptor is historical",
        ),
        (
            "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l1a\n      descriptor: hk\n      require_coverage: true\n      date_range: [\"3nd\",]\n",
            "job (l1, hk), inputs[1].require_coverage",
            "needs a fixed date_range",
        ),
        (
            "spice_basics:\n  source: leapseconds\n",
            "line 1",
            "neither a job \"(level, descriptor)\" nor a shared input block",
        ),
    ];
    for (text, location, message) in cases {
        let error = swapi_error(text);
        assert!(
            error.contains(location) && error.contains(message),
            "expected {location:?} and {message:?} in: {error}"
        );
    }
}

#[test]
fn bad_yaml_and_bad_file_names_are_named() {
    let error = swapi_error("(l1, hk):\n  partition: daily\n  partition: repoint\n  inputs: []\n");
    assert!(error.starts_with("imap_swapi_dependencies.yaml line 3: invalid YAML"), "{error}");
    let error = swapi_error("(l1, hk):\n  partition: [daily\n");
    assert!(error.contains("invalid YAML"), "{error}");
    let error = swapi_error("inputs: *undefined\n");
    assert!(error.contains("invalid YAML"), "{error}");
    let error = load_error("swapi.yaml", GOOD_JOB);
    assert!(error.contains("named imap_<instrument>_dependencies.yaml"), "{error}");
    let error = load_error("imap_pluto_dependencies.yaml", GOOD_JOB);
    assert!(error.contains("unknown instrument \"pluto\""), "{error}");
    assert!(Graph::from_mission_yaml(&[("deps/imap_swapi_dependencies.yaml", GOOD_JOB)]).is_ok());
}

#[test]
fn check_enforces_the_documented_assumptions_and_warns_on_best_practice() {
    let text = "(l2, sci):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l1\n      descriptor: sci\n\
                \x20 outputs:\n    - source: swapi\n      data_type: l3a\n      descriptor: sci\n      major_version: 1\n\
                \x20   - source: swapi\n      data_type: l3b\n      descriptor: sci\n      major_version: 2\n\
                (l1, sci):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n\
                \x20 outputs:\n    - source: swapi\n      data_type: l1\n      descriptor: sci\n      major_version: 3\n";
    let graph = Graph::from_mission_yaml(&[("imap_swapi_dependencies.yaml", text)]).expect("parses");
    let problems = check(&graph);
    let messages: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(problems.contains(&GraphProblem::LevelMatchesNoOutput {
        product: key("swapi l2 sci"),
        output_levels: vec!["l3a".into(), "l3b".into()],
    }));
    assert!(
        messages.contains(
            &"job swapi l2 sci: outputs with descriptor sci must share a major version, found l3a v001, l3b v002"
                .to_string()
        )
    );
    let warnings: Vec<&GraphProblem> = problems.iter().filter(|problem| problem.is_warning()).collect();
    assert_eq!(warnings.len(), 2, "{messages:#?}");
    assert_eq!(
        warnings[0].to_string(),
        "job swapi l2 sci: output swapi l3a sci has major version 1, below the 3 of its input swapi l1 sci"
    );
    // A job level without a sub-level letter matches its sub-levels (the mission's own swapi l1 hk).
    let graph = Graph::from_mission_yaml(&[(
        "imap_swapi_dependencies.yaml",
        "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n\
         \x20 outputs:\n    - source: swapi\n      data_type: l1a\n      descriptor: hk\n",
    )])
    .expect("parses");
    assert!(check(&graph).is_empty(), "{:?}", check(&graph));
}

#[test]
fn check_flags_repointing_windows_without_repointings_and_double_writers() {
    let text = "(l2, sci):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n      date_range: [\"-1p\", \"1p\"]\n\
                (l2, other):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n\
                \x20 outputs:\n    - source: swapi\n      data_type: l2\n      descriptor: sci\n";
    let graph = Graph::from_mission_yaml(&[("imap_swapi_dependencies.yaml", text)]).expect("parses");
    let messages: Vec<String> = check(&graph).iter().map(ToString::to_string).collect();
    assert!(messages.contains(&"product swapi l2 sci: input science swapi l0 raw has a repointing window but the product is not made per repointing".to_string()), "{messages:#?}");
    assert!(
        messages.contains(&"output swapi l2 sci is written by two jobs: swapi l2 sci and swapi l2 other".to_string()),
        "{messages:#?}"
    );
}
