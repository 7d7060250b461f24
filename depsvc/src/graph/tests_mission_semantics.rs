//! The semantics of the mission's `date_range` units, partitions, `required`, `trigger_job` and
//! multi-output jobs, each written in the mission's YAML and resolved over a small catalog.

use super::tests::{catalog_of, date, key, ranged_file, science_file};
use super::*;

/// A one-file graph of the mission's format (as instrument swe unless the jobs say otherwise).
fn yaml_graph(text: &str) -> Graph {
    Graph::from_mission_yaml(&[("imap_swe_dependencies.yaml", text)]).expect("test yaml parses")
}

/// A single-input daily job reading `swe l1b sci` with the given extra input lines.
fn daily_job_reading(extra: &str) -> Graph {
    yaml_graph(&format!(
        "(l2, sci):\n  partition: daily\n  inputs:\n    - source: swe\n      data_type: l1b\n      descriptor: sci\n{extra}"
    ))
}

fn l1b(day: &str) -> FileRecord {
    science_file("swe l1b sci", day, (Some(1), 1))
}

fn in_repointing(mut file: FileRecord, repointing: u32) -> FileRecord {
    file.repointing = Some(repointing);
    file.file_name = file.file_name.replace(".cdf", &format!("-repoint{repointing:05}.cdf"));
    file
}

/// The start dates (or repointings) of the files chosen for each input, or what is missing.
fn resolved(
    graph: &Graph,
    files: Vec<FileRecord>,
    product: &str,
    time: ProductTime,
) -> Result<Vec<Vec<String>>, String> {
    match resolve(graph, &catalog_of(files), &key(product), time).expect("known product") {
        Resolution::Ready { inputs } => Ok(inputs
            .iter()
            .map(|input| {
                input
                    .files
                    .iter()
                    .map(|file| match file.repointing {
                        Some(repointing) => format!("r{repointing}"),
                        None => file.start_date.yyyymmdd(),
                    })
                    .collect()
            })
            .collect()),
        Resolution::Waiting { missing } => Err(missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
    }
}

fn on(day: &str) -> ProductTime {
    ProductTime::on(date(day))
}

fn at_repointing(day: &str, repointing: u32) -> ProductTime {
    ProductTime { date: date(day), repointing: Some(repointing) }
}

#[test]
fn days_take_every_file_from_past_to_future() {
    let graph = daily_job_reading("      date_range: [\"-1d\", \"2d\"]\n");
    assert_eq!(graph.products()[0].inputs[0].window, TimeWindow::Days { before: 1, after: 2 });
    let files = ["20250109", "20250110", "20250112", "20250113"].map(l1b).to_vec();
    assert_eq!(
        resolved(&graph, files, "swe l2 sci", on("20250111")),
        Ok(vec![vec!["20250110".into(), "20250112".into(), "20250113".into()]])
    );
}

#[test]
fn hours_need_each_day_they_reach() {
    // 2 h either side of the day reach into the day before and the day after; 24 h exactly
    // reaches only the day before, 25 h two days back.
    for (range, needed) in [
        ("[\"-2h\", \"2h\"]", "20250110, 20250112"),
        ("[\"-24h\", \"0h\"]", "20250110"),
        ("[\"-25h\", \"0h\"]", "20250109, 20250110"),
    ] {
        let graph = daily_job_reading(&format!("      require_coverage: true\n      date_range: {range}\n"));
        let missing = resolved(&graph, vec![l1b("20250111")], "swe l2 sci", on("20250111")).expect_err("days missing");
        assert!(missing.ends_with(&format!("no file for days {needed}")), "{range}: {missing}");
    }
    let graph = daily_job_reading("      require_coverage: true\n      date_range: [\"-2h\", \"2h\"]\n");
    let files = ["20250110", "20250111", "20250112"].map(l1b).to_vec();
    assert_eq!(resolved(&graph, files, "swe l2 sci", on("20250111")).map(|inputs| inputs[0].len()), Ok(3));
}

#[test]
fn pointings_take_the_neighbouring_repointings() {
    let graph = yaml_graph(
        "(l1a, all):\n  partition: repoint\n  inputs:\n    - source: swe\n      data_type: l0\n      descriptor: raw\n  outputs:\n    - source: swe\n      data_type: l1b\n      descriptor: sci\n\
         (l2, sci):\n  partition: repoint\n  inputs:\n    - source: swe\n      data_type: l1b\n      descriptor: sci\n      date_range: [\"-1p\", \"1p\"]\n",
    );
    assert_eq!(graph.products()[1].inputs[0].window, TimeWindow::Repointings { before: 1, after: 1 });
    let files = [(8, "20250108"), (9, "20250109"), (10, "20250110"), (11, "20250111"), (12, "20250112")]
        .map(|(repointing, day)| in_repointing(l1b(day), repointing))
        .to_vec();
    assert_eq!(
        resolved(&graph, files, "swe l2 sci", at_repointing("20250110", 10)),
        Ok(vec![vec!["r9".into(), "r10".into(), "r11".into()]])
    );
    let error =
        resolve(&graph, &catalog_of(Vec::new()), &key("swe l2 sci"), on("20250110")).expect_err("no repointing");
    assert_eq!(error, GraphError::RepointingRequired { product: key("swe l2 sci") });
}

#[test]
fn nearest_days_take_the_closest_days_that_have_files() {
    let graph = daily_job_reading("      date_range: [\"2nd\",]\n");
    assert_eq!(graph.products()[0].inputs[0].window, TimeWindow::NearestDays { count: 2 });
    // Looked for within 2 days: 20250105 and 20250114 are too far; of the rest, the day itself,
    // then the day before (a tie with the day after goes to the earlier day).
    let files = ["20250105", "20250110", "20250111", "20250112", "20250114"].map(l1b).to_vec();
    assert_eq!(
        resolved(&graph, files, "swe l2 sci", on("20250111")),
        Ok(vec![vec!["20250110".into(), "20250111".into()]])
    );
    let sparse = ["20250105", "20250109", "20250113"].map(l1b).to_vec();
    assert_eq!(
        resolved(&graph, sparse, "swe l2 sci", on("20250111")),
        Ok(vec![vec!["20250109".into(), "20250113".into()]])
    );
    let missing = resolved(&graph, vec![l1b("20250105")], "swe l2 sci", on("20250111")).expect_err("nothing near");
    assert!(missing.contains("no file in 20250109..=20250113"), "{missing}");
}

#[test]
fn nearest_pointings_take_the_closest_repointings_that_have_files() {
    let graph = yaml_graph(
        "(l1a, all):\n  partition: repoint\n  inputs:\n    - source: swe\n      data_type: l0\n      descriptor: raw\n  outputs:\n    - source: swe\n      data_type: l1b\n      descriptor: sci\n\
         (l2, sci):\n  partition: repoint\n  inputs:\n    - source: swe\n      data_type: l1b\n      descriptor: sci\n      date_range: [\"2np\",]\n",
    );
    assert_eq!(graph.products()[1].inputs[0].window, TimeWindow::NearestRepointings { count: 2 });
    // Repointing 10 has no file: 9 and 11 are nearest (8 ties with 12 further out, 13 is beyond reach).
    let files = [(8, "20250108"), (9, "20250109"), (11, "20250111"), (13, "20250113")]
        .map(|(repointing, day)| in_repointing(l1b(day), repointing))
        .to_vec();
    assert_eq!(
        resolved(&graph, files, "swe l2 sci", at_repointing("20250110", 10)),
        Ok(vec![vec!["r9".into(), "r11".into()]])
    );
}

#[test]
fn last_processed_takes_the_most_recent_files_at_or_before_the_day() {
    let graph = daily_job_reading("      date_range: [\"-1l\",]\n");
    assert_eq!(graph.products()[0].inputs[0].window, TimeWindow::LastProcessed { count: 1 });
    let files = ["20240101", "20250101", "20250108", "20250112"].map(l1b).to_vec();
    assert_eq!(resolved(&graph, files.clone(), "swe l2 sci", on("20250111")), Ok(vec![vec!["20250108".into()]]));
    assert_eq!(resolved(&graph, files.clone(), "swe l2 sci", on("20250112")), Ok(vec![vec!["20250112".into()]]));
    let two = daily_job_reading("      date_range: [\"-2l\",]\n");
    assert_eq!(
        resolved(&two, files.clone(), "swe l2 sci", on("20250111")),
        Ok(vec![vec!["20250101".into(), "20250108".into()]])
    );
    // More than a year back is not looked for.
    let missing = resolved(&graph, vec![l1b("20231231")], "swe l2 sci", on("20250111")).expect_err("too old");
    assert!(missing.contains("no file in 20240111..=20250111"), "{missing}");
}

#[test]
fn an_optional_input_never_blocks_and_is_used_when_present() {
    let graph = yaml_graph(
        "(l3, sci):\n  partition: daily\n  inputs:\n    - source: swe\n      data_type: l2\n      descriptor: sci\n\
         \x20   - source: mag\n      data_type: l2\n      descriptor: norm-dsrf\n      required: false\n      trigger_job: false\n",
    );
    assert_eq!(graph.products()[0].inputs[1].relationship, Relationship::SoftNoTrigger);
    let l2 = science_file("swe l2 sci", "20250111", (Some(1), 1));
    assert_eq!(resolved(&graph, vec![l2.clone()], "swe l3 sci", on("20250111")), Ok(vec![vec!["20250111".into()]]));
    let mag = science_file("mag l2 norm-dsrf", "20250111", (Some(1), 2));
    assert_eq!(
        resolved(&graph, vec![l2, mag], "swe l3 sci", on("20250111")),
        Ok(vec![vec!["20250111".into()], vec!["20250111".into()]])
    );
}

#[test]
fn a_non_triggering_input_triggers_nothing_but_is_still_an_input() {
    let graph = yaml_graph(
        "(l3, sci):\n  partition: daily\n  inputs:\n    - source: swe\n      data_type: l2\n      descriptor: sci\n\
         \x20   - source: leapseconds\n      data_type: spice\n      descriptor: historical\n      trigger_job: false\n",
    );
    assert_eq!(graph.products()[0].inputs[1].relationship, Relationship::HardNoTrigger);
    let kernel = ranged_file(FileKind::Spice, "spice", "leapseconds", "20150101", None);
    assert!(graph.downstream(&kernel, date("20250111")).is_empty());
    let l2 = science_file("swe l2 sci", "20250111", (Some(1), 1));
    assert_eq!(times_of_downstream(&graph, &l2), vec!["swe l3 sci 20250111"]);
    let missing = resolved(&graph, vec![l2.clone()], "swe l3 sci", on("20250111")).expect_err("kernel needed");
    assert!(missing.starts_with("spice leapseconds: no file"), "{missing}");
    assert_eq!(
        resolved(&graph, vec![l2, kernel], "swe l3 sci", on("20250111")),
        Ok(vec![vec!["20250111".into()], vec!["20150101".into()]])
    );
}

fn times_of_downstream(graph: &Graph, file: &FileRecord) -> Vec<String> {
    graph
        .downstream(file, date("20251231"))
        .iter()
        .map(|(product, time)| match time.repointing {
            Some(repointing) => format!("{product} {} r{repointing}", time.date),
            None => format!("{product} {}", time.date),
        })
        .collect()
}

#[test]
fn repoint_jobs_match_per_repointing_science_by_number_and_the_rest_by_date() {
    let graph = yaml_graph(
        "(l1a, all):\n  partition: repoint\n  inputs:\n    - source: swe\n      data_type: l0\n      descriptor: raw\n\
         \x20   - source: spacecraft_clock\n      data_type: spice\n      descriptor: historical\n      trigger_job: false\n\
         \x20 outputs:\n    - source: swe\n      data_type: l1a\n      descriptor: sci\n\
         (l1b, sci):\n  partition: repoint\n  inputs:\n    - source: swe\n      data_type: l1a\n      descriptor: sci\n\
         \x20   - source: spin\n      data_type: spin\n      descriptor: historical\n",
    );
    let [l1a_all, l1b_sci] = graph.products() else { panic!("two jobs") };
    assert_eq!(l1a_all.cadence, Cadence::Repointing);
    assert_eq!(l1a_all.inputs.iter().map(|input| input.window).collect::<Vec<_>>(), [TimeWindow::SameDay; 2]);
    assert_eq!(l1b_sci.inputs[0].window, TimeWindow::Repointings { before: 0, after: 0 });
    assert_eq!(l1b_sci.inputs[1].window, TimeWindow::SameDay);
    let l1a = in_repointing(science_file("swe l1a sci", "20250110", (Some(1), 1)), 42);
    assert_eq!(times_of_downstream(&graph, &l1a), vec!["swe l1b sci 20250110 r42"]);
    let spin = ranged_file(FileKind::Spin, "spin", "spin", "20250110", Some("20250110"));
    assert_eq!(
        resolved(&graph, vec![l1a, spin], "swe l1b sci", at_repointing("20250110", 42)),
        Ok(vec![vec!["r42".into()], vec!["20250110".into()]])
    );
}

#[test]
fn a_job_with_several_outputs_is_their_producer_and_their_readers_are_triggered() {
    let graph = yaml_graph(
        "(l1, hk):\n  partition: daily\n  inputs:\n    - source: swapi\n      data_type: l0\n      descriptor: raw\n\
         \x20 outputs:\n    - source: swe\n      data_type: l1a\n      descriptor: hk\n      major_version: 1\n\
         \x20   - source: swe\n      data_type: l1b\n      descriptor: hk\n      major_version: 1\n\
         (l2, hk):\n  partition: daily\n  inputs:\n    - source: swe\n      data_type: l1b\n      descriptor: hk\n",
    );
    let producer = graph.producer_of(&key("swe l1b hk")).expect("written by the l1 hk job");
    assert_eq!(producer.key, key("swe l1 hk"));
    assert_eq!(graph.producer_of(&key("swe l1a hk")).map(|product| &product.key), Some(&key("swe l1 hk")));
    assert_eq!(graph.producer_of(&key("swe l2 hk")).map(|product| &product.key), Some(&key("swe l2 hk")));
    let l1b_hk = science_file("swe l1b hk", "20250111", (Some(1), 1));
    assert_eq!(times_of_downstream(&graph, &l1b_hk), vec!["swe l2 hk 20250111"]);
    let raw = science_file("swapi l0 raw", "20250111", (None, 1));
    assert_eq!(times_of_downstream(&graph, &raw), vec!["swe l1 hk 20250111"]);
}

#[test]
fn map_seasons_are_the_missions_windows() {
    let season = |cadence: &str, day: &str| {
        let range = Cadence::parse(cadence).expect("known").period(date(day));
        format!("{}..{}", range.first.yyyymmdd(), range.last.yyyymmdd())
    };
    assert_eq!(season("3mo", "20260301"), "20260117..20260417");
    assert_eq!(season("3mo", "20260110"), "20251017..20260116");
    assert_eq!(season("3mo", "20260718"), "20260718..20261016");
    assert_eq!(season("6mo", "20260801"), "20260718..20270116");
    assert_eq!(season("6mo", "20260117"), "20260117..20260717");
    assert_eq!(season("1yr", "20260116"), "20250117..20260116");
    assert_eq!(season("10d", "19700115"), "19700111..19700120");
    assert_eq!(season("30d", "20250111"), "20241213..20250111");
    assert_eq!(season("daily", "20250111"), "20250111..20250111");
}

#[test]
fn a_season_job_reads_its_whole_period_and_is_dated_by_its_start() {
    let graph = yaml_graph(
        "(l2, map-3mo):\n  partition: 3mo\n  inputs:\n    - source: swe\n      data_type: l1b\n      descriptor: sci\n\
         \x20   - source: swe\n      data_type: l1b\n      descriptor: sci\n      date_range: [\"-1d\", \"1d\"]\n",
    );
    let map = &graph.products()[0];
    assert_eq!(map.cadence, Cadence::MapSeason(MapSeason::ThreeMonths));
    assert_eq!(map.inputs[0].window, TimeWindow::Period { before: 0, after: 0 });
    assert_eq!(map.inputs[1].window, TimeWindow::Period { before: 1, after: 1 });
    let files = ["20260116", "20260117", "20260301", "20260417", "20260418"].map(l1b).to_vec();
    assert_eq!(
        resolved(&graph, files, "swe l2 map-3mo", on("20260301")),
        Ok(vec![
            vec!["20260117".into(), "20260301".into(), "20260417".into()],
            vec!["20260116".into(), "20260117".into(), "20260301".into(), "20260417".into(), "20260418".into()],
        ])
    );
    // A file of the season's last day concerns this season, and through the widened input the next one.
    assert_eq!(
        times_of_downstream(&graph, &l1b("20260417")),
        vec!["swe l2 map-3mo 20260117", "swe l2 map-3mo 20260418"]
    );
    assert!(check(&graph).iter().all(|problem| !matches!(problem, GraphProblem::NeverTriggered { .. })));
}
