//! Ancillary validity and re-triggering, in the mission's YAML: the file in force on a day is the
//! highest version valid that day (the mission's "Ancillary Files" conventions, whose MAG example
//! is replayed here), and a new version re-runs exactly the runs whose trigger rules say so, on
//! the days that have science to process.

use super::tests::{catalog_of, date, key, ranged_file, science_file};
use super::*;

/// A daily swe job reading L1B science and the calibration table, with `extra` lines for that input.
fn calibrated_job(descriptor: &str, extra: &str) -> String {
    format!(
        "(l2, {descriptor}):\n  partition: daily\n  inputs:\n    - *calibrated_science\n    - source: swe\n      \
         data_type: ancillary\n      descriptor: calibration\n{extra}"
    )
}

/// A day well after every file below: open-ended validity reaches this far.
const TODAY: &str = "20251231";

/// Three swe jobs reading the same calibration table: one triggered by it, one not
/// (`trigger_job: false`), one over a window of three days.
fn graph() -> Graph {
    let science = "calibrated_science: &calibrated_science\n  - source: swe\n    data_type: l1b\n    descriptor: sci\n";
    let text = [
        science.to_string(),
        calibrated_job("sci", ""),
        calibrated_job("moments", "      trigger_job: false\n"),
        calibrated_job("wide", "      date_range: [-1d, 1d]\n"),
    ]
    .concat();
    Graph::from_mission_yaml(&[("imap_swe_dependencies.yaml", &text)]).expect("test yaml parses")
}

/// `imap_swe_calibration_<start>[_<end>]_v<version>.csv`.
fn calibration(start: &str, end: Option<&str>, version: u16) -> FileRecord {
    let mut file = ranged_file(FileKind::Ancillary, "swe", "calibration", start, end);
    let end_part = end.map(|end| format!("_{end}")).unwrap_or_default();
    file.file_name = format!("imap_swe_calibration_{start}{end_part}_v{version:03}.csv");
    file.version = (None, version);
    file
}

fn l1b(day: &str) -> FileRecord {
    science_file("swe l1b sci", day, (Some(1), 1))
}

/// The calibration files a run uses, or what it misses.
fn calibration_used(files: &[FileRecord], product: &str, day: &str) -> Result<Vec<String>, String> {
    let time = ProductTime::on(date(day));
    match resolve(&graph(), &catalog_of(files.to_vec()), &key(product), time).expect("known product") {
        Resolution::Ready { inputs } => Ok(inputs
            .iter()
            .filter(|input| matches!(input.source, InputSource::Ancillary { .. }))
            .flat_map(|input| input.files.iter().map(|file| file.file_name.clone()))
            .collect()),
        Resolution::Waiting { missing } => Err(missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
    }
}

fn runs_text(runs: &[(ProductKey, ProductTime)]) -> Vec<String> {
    runs.iter().map(|(product, time)| format!("{product} {}", time.date.yyyymmdd())).collect()
}

#[test]
fn the_file_in_force_on_a_day_is_the_highest_version_valid_that_day() {
    // The mission's example: a month's table, an open-ended one from February, a correction for
    // two days of March, then a new open-ended one from March.
    let mut files: Vec<FileRecord> = ["20250115", "20250201", "20250215", "20250301", "20250303"]
        .into_iter()
        .map(l1b)
        .chain([
            calibration("20250101", Some("20250201"), 1),
            calibration("20250201", None, 2),
            calibration("20250301", Some("20250302"), 3),
        ])
        .collect();
    let in_force = |files: &[FileRecord], day: &str| calibration_used(files, "swe l2 sci", day).expect("ready");
    assert_eq!(in_force(&files, "20250115"), ["imap_swe_calibration_20250101_20250201_v001.csv"]);
    // Both are valid on 1 February: the higher version wins.
    assert_eq!(in_force(&files, "20250201"), ["imap_swe_calibration_20250201_v002.csv"]);
    assert_eq!(in_force(&files, "20250215"), ["imap_swe_calibration_20250201_v002.csv"]);
    assert_eq!(in_force(&files, "20250301"), ["imap_swe_calibration_20250301_20250302_v003.csv"]);
    // After the correction's last day the open-ended file is in force again.
    assert_eq!(in_force(&files, "20250303"), ["imap_swe_calibration_20250201_v002.csv"]);

    files.push(calibration("20250301", None, 4));
    assert_eq!(in_force(&files, "20250215"), ["imap_swe_calibration_20250201_v002.csv"]);
    assert_eq!(in_force(&files, "20250301"), ["imap_swe_calibration_20250301_v004.csv"]);
    assert_eq!(in_force(&files, "20250303"), ["imap_swe_calibration_20250301_v004.csv"]);

    // Before the first table's start nothing is valid: the run waits for its table.
    let early = vec![l1b("20241231"), calibration("20250101", Some("20250201"), 1)];
    let waiting = calibration_used(&early, "swe l2 sci", "20241231").expect_err("no table valid yet");
    assert!(waiting.contains("ancillary swe calibration"), "{waiting}");
}

#[test]
fn a_window_of_several_days_takes_the_file_in_force_on_each_day() {
    let files = vec![l1b("20250201"), calibration("20250101", Some("20250201"), 1), calibration("20250201", None, 2)];
    // 31 January uses the first table, 1 and 2 February the second (the first is outranked on 1 February).
    assert_eq!(
        calibration_used(&files, "swe l2 wide", "20250201").expect("ready"),
        ["imap_swe_calibration_20250101_20250201_v001.csv", "imap_swe_calibration_20250201_v002.csv"]
    );
    assert_eq!(
        calibration_used(&files, "swe l2 wide", "20250130").expect_err("no science on the 30th"),
        "science swe l1b sci: no file in 20250130"
    );
}

#[test]
fn a_new_version_reruns_exactly_the_runs_it_changes_whose_trigger_rules_say_so() {
    let days = ["20250228", "20250301", "20250302", "20250303"];
    let products = ["swe l2 sci", "swe l2 moments", "swe l2 wide"];
    let before: Vec<FileRecord> = days.into_iter().map(l1b).chain([calibration("20250201", None, 2)]).collect();
    let correction = calibration("20250301", Some("20250302"), 3);
    let mut after = before.clone();
    after.push(correction.clone());

    let triggered = downstream_with_science(&graph(), &catalog_of(after.clone()), &correction, date(TODAY));
    assert_eq!(
        runs_text(&triggered),
        [
            "swe l2 sci 20250301",
            "swe l2 sci 20250302",
            "swe l2 wide 20250228",
            "swe l2 wide 20250301",
            "swe l2 wide 20250302",
            "swe l2 wide 20250303",
        ]
    );
    // Those are exactly the runs of triggering products whose inputs changed (so the starter makes
    // a new job for each and finds the same job for every other); `moments` uses the correction
    // too when something else runs it, but its arrival alone runs nothing.
    for product in products {
        for day in days {
            let changed = calibration_used(&before, product, day) != calibration_used(&after, product, day);
            let rerun = runs_text(&triggered).contains(&format!("{product} {day}"));
            let triggering = product != "swe l2 moments";
            assert_eq!(rerun, changed && triggering, "{product} {day}: changed {changed}");
        }
    }
}

#[test]
fn an_open_ended_table_reruns_the_days_with_science_not_every_day_since_its_start() {
    let days = ["20250301", "20250302", "20250303"];
    let new_table = calibration("20250301", None, 4);
    let files: Vec<FileRecord> = days.into_iter().map(l1b).chain([new_table.clone()]).collect();
    // Unnarrowed: both triggering jobs on every day of its ten months of validity.
    let every_day = graph().downstream(&new_table, date(TODAY));
    assert!(every_day.len() > 2 * 300, "{} runs", every_day.len());
    let triggered = downstream_with_science(&graph(), &catalog_of(files), &new_table, date(TODAY));
    assert_eq!(
        runs_text(&triggered),
        [
            "swe l2 sci 20250301",
            "swe l2 sci 20250302",
            "swe l2 sci 20250303",
            "swe l2 wide 20250301",
            "swe l2 wide 20250302",
            "swe l2 wide 20250303",
        ]
    );
    // A science file is not narrowed: it triggers what its own days make.
    let science = l1b("20250305");
    assert_eq!(
        downstream_with_science(&graph(), &catalog_of(Vec::new()), &science, date(TODAY)),
        graph().downstream(&science, date(TODAY))
    );
}

#[test]
fn a_table_reruns_per_repointing_jobs_at_the_repointings_with_science() {
    let text = "(l1b, de):\n  partition: repoint\n  inputs:\n    - source: hi\n      data_type: l1a\n      descriptor: de\n\
                (l1c, pset):\n  partition: repoint\n  inputs:\n    - source: hi\n      data_type: l1b\n      descriptor: de\n    \
                - source: hi\n      data_type: ancillary\n      descriptor: cal\n";
    let graph = Graph::from_mission_yaml(&[("imap_hi_dependencies.yaml", text)]).expect("test yaml parses");
    let in_repointing = |day: &str, repointing: u32| {
        let mut file = science_file("hi l1b de", day, (Some(1), 1));
        file.repointing = Some(repointing);
        file.file_name = file.file_name.replace(".cdf", &format!("-repoint{repointing:05}.cdf"));
        file
    };
    let mut table = ranged_file(FileKind::Ancillary, "hi", "cal", "20250301", None);
    table.file_name = "imap_hi_cal_20250301_v001.csv".into();
    let files = vec![in_repointing("20250301", 10), in_repointing("20250302", 11), table.clone()];
    let triggered = downstream_with_science(&graph, &catalog_of(files.clone()), &table, date(TODAY));
    let runs: Vec<String> = triggered
        .iter()
        .map(|(product, time)| format!("{product} {} r{}", time.date.yyyymmdd(), time.repointing.unwrap_or_default()))
        .collect();
    assert_eq!(runs, ["hi l1c pset 20250301 r10", "hi l1c pset 20250302 r11"]);
    // Each is a run the starter can resolve: the pointing's science and the table.
    for (product, time) in &triggered {
        let resolution = resolve(&graph, &catalog_of(files.clone()), product, *time).expect("resolves");
        assert!(resolution.is_ready(), "{resolution:?}");
    }
}
