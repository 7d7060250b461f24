//! The mission's data release end to end, with the unmodified `imap-data-access` 1.3.0 client: a
//! node whose gateway shows anonymous callers released files only (`anonymous_access = released`)
//! makes two days of swe products; the client's own `release` applies a manifest that covers one
//! day and withholds one file; anonymous callers then see and fetch exactly the released files.
//! Refused releases get the status and reason they should. Ignored, with the reason, where the
//! client is not installed.

mod gateway_common;
mod support;

use std::path::Path;
use std::time::Duration;

use gateway_common::{Node, client, get_json_as, http, text, wait_for};
use support::{TempDir, synthetic_level0};

const DAYS: [&str; 2] = ["20240924", "20240925"];
const RELEASED_DAY: &str = "20240924";
const MANIFEST: &str = "imap_swe_data-release-001_20240924_20240924_v001.txt";
const WITHHELD_KEY: &str = "imap/swe/l0/2024/09/imap_swe_l0_raw_20240924_v001.0001.pkts";

fn level0_name(day: &str) -> String {
    format!("imap_swe_l0_raw_{day}_v001.0001.pkts")
}

/// The science rows the client prints with `--output-format json`.
fn json_rows(output: &std::process::Output) -> Vec<serde_json::Value> {
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let last_line = stdout.trim().lines().last().unwrap_or_else(|| panic!("no output: {}", text(output)));
    serde_json::from_str(last_line).unwrap_or_else(|_| panic!("not json rows: {}", text(output)))
}

fn file_paths(rows: &[serde_json::Value]) -> Vec<String> {
    let mut paths: Vec<String> = rows.iter().map(|row| row["file_path"].as_str().unwrap().to_string()).collect();
    paths.sort();
    paths
}

fn new_dir(parent: &Path, name: &str) -> std::path::PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[cfg_attr(not(has_imap_data_access), ignore = "needs python3 with imap-data-access 1.3.0 (.ci/python-venv.sh)")]
fn a_release_opens_exactly_its_files_to_anonymous_callers() {
    let home = TempDir::new("release");
    let uploads = new_dir(home.path(), "uploads");
    // The client skips a download whose file it already has, so each kind of caller gets its own.
    let anonymous_downloads = new_dir(home.path(), "anonymous");
    let keyed_downloads = new_dir(home.path(), "keyed");
    let node = Node::start_with_env(home.path(), "all", &[("IMAP_SDC_GATEWAY__ANONYMOUS_ACCESS", "released")]);
    let uploader = node.create_key("instrument-team", "upload");
    let reader = node.create_key("scientist", "read");
    let operator = node.create_key("night-shift", "operator");
    let admin = node.create_key("release-manager", "admin");
    let anonymous = |args: &[&str]| client(&node.url, &anonymous_downloads, None, args);
    let keyed = |key: &str, args: &[&str]| client(&node.url, &keyed_downloads, Some(key), args);
    let upload_path = |name: &str| uploads.join(name).display().to_string();

    for day in DAYS {
        let name = level0_name(day);
        std::fs::write(uploads.join(&name), synthetic_level0(40)).unwrap();
        let accepted = keyed(&uploader, &["upload", &upload_path(&name)]);
        assert!(accepted.status.success(), "upload {name}: {}", text(&accepted));
    }

    // swe's chain ends at l2 here (l3 needs other instruments): once both days have it, the
    // pipeline adds no more swe files.
    let address = node.address();
    let as_operator = [("x-api-key", operator.as_str())];
    let get_json = |address: &str, target: &str| get_json_as(address, target, &as_operator);
    let swe_files = wait_for(
        "swe l2 products of both days",
        Duration::from_secs(120),
        || {
            let files = get_json(&address, "/api/files?kind=science&instrument=swe&limit=1000");
            let files = files.as_array().unwrap().clone();
            let complete = DAYS
                .iter()
                .all(|day| files.iter().any(|file| file["data_level"] == "l2" && file["start_date"] == *day));
            complete.then_some(files)
        },
        || format!("jobs: {}", get_json(&address, "/api/jobs")),
    );
    let all_keys: Vec<String> = {
        let mut keys: Vec<String> =
            swe_files.iter().map(|file| file["archive_key"].as_str().unwrap().to_string()).collect();
        keys.sort();
        keys
    };
    let key_of = |day: &str, level: &str| -> String {
        let file = swe_files.iter().find(|file| file["start_date"] == day && file["data_level"] == level);
        file.unwrap_or_else(|| panic!("no swe {level} of {day} in {all_keys:?}"))["archive_key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let released_product = key_of(RELEASED_DAY, "l2");
    let other_day_product = key_of(DAYS[1], "l2");
    let mut expected_released: Vec<String> = swe_files
        .iter()
        .filter(|file| file["start_date"] == RELEASED_DAY && file["archive_key"] != WITHHELD_KEY)
        .map(|file| file["archive_key"].as_str().unwrap().to_string())
        .collect();
    expected_released.sort();
    assert!(expected_released.len() >= 3, "l1a, l1b and l2 of the released day: {expected_released:?}");

    // Before any release: anonymous and read-only callers see nothing and may fetch nothing (an
    // unreleased file is answered as a missing one); an operator's key sees it all.
    let swe_json = ["query", "--instrument", "swe", "--output-format", "json"];
    let hidden = anonymous(&swe_json);
    assert!(hidden.status.success(), "{}", text(&hidden));
    assert!(json_rows(&hidden).is_empty(), "{}", text(&hidden));
    let refused = anonymous(&["download", &released_product]);
    assert!(!refused.status.success() && text(&refused).contains("404"), "{}", text(&refused));
    let read_only = keyed(&reader, &swe_json);
    assert!(json_rows(&read_only).is_empty(), "{}", text(&read_only));
    let everything = keyed(&operator, &swe_json);
    let rows = json_rows(&everything);
    assert_eq!(file_paths(&rows), all_keys, "{}", text(&everything));
    assert!(rows.iter().all(|row| row["released"] == false), "{}", text(&everything));
    let fetched = keyed(&operator, &["download", &released_product]);
    assert!(fetched.status.success(), "{}", text(&fetched));

    // The client's own release: it uploads the manifest, waits, then asks for the release.
    std::fs::write(
        uploads.join(MANIFEST),
        format!("# swe release 001: the 24th without its level-0 file\n\n{WITHHELD_KEY}\n"),
    )
    .unwrap();
    let released = keyed(&admin, &["release", "--release-type", "release", "--manifest-file", &upload_path(MANIFEST)]);
    assert!(
        released.status.success() && text(&released).contains("Successfully submitted release request"),
        "{}",
        text(&released)
    );

    // Anonymous callers now see exactly the released files, and can fetch them, but not the others.
    let opened = anonymous(&swe_json);
    let rows = json_rows(&opened);
    assert_eq!(file_paths(&rows), expected_released, "{}", text(&opened));
    assert!(rows.iter().all(|row| row["released"] == true), "{}", text(&opened));
    let fetched = anonymous(&["download", &released_product]);
    assert!(fetched.status.success(), "{}", text(&fetched));
    assert_eq!(
        std::fs::read(anonymous_downloads.join(&released_product)).unwrap(),
        std::fs::read(node.archive_file(&released_product)).unwrap()
    );
    for still_hidden in [WITHHELD_KEY, other_day_product.as_str()] {
        let refused = anonymous(&["download", still_hidden]);
        assert!(!refused.status.success() && text(&refused).contains("404"), "{still_hidden}: {}", text(&refused));
    }
    let level_zero = anonymous(&["query", "--instrument", "swe", "--data-level", "l0", "--output-format", "json"]);
    assert!(json_rows(&level_zero).is_empty(), "the withheld file stays hidden: {}", text(&level_zero));

    // Applying the same manifest again changes nothing.
    let release_target = |release_type: &str, manifest: &str| {
        format!("/api-key/release?release_type={release_type}&manifest_file={manifest}")
    };
    let (status, body) = http(&address, "GET", &release_target("release", MANIFEST), &[("x-api-key", &admin)]);
    let answer: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{status}: {}", String::from_utf8_lossy(&body)));
    assert_eq!(status, 200, "{answer}");
    println!("release applied again answered {answer}");
    assert_eq!(
        (answer["instrument"].as_str(), answer["start_date"].as_str(), answer["end_date"].as_str()),
        (Some("swe"), Some(RELEASED_DAY), Some(RELEASED_DAY)),
        "{answer}"
    );
    assert_eq!(
        (answer["released"].as_u64(), answer["newly_released"].as_u64(), answer["withheld"].as_u64()),
        (Some(expected_released.len() as u64), Some(0), Some(1)),
        "{answer}"
    );

    // Refused releases. Without a key the client refuses by itself, so the route is asked directly.
    let refusals = [
        (release_target("release", MANIFEST), None, 401, "x-api-key"),
        (release_target("release", MANIFEST), Some(reader.as_str()), 403, "'admin' scope"),
        (release_target("publish", MANIFEST), Some(admin.as_str()), 400, "unknown release_type"),
        (release_target("unrelease", MANIFEST), Some(admin.as_str()), 400, "not supported"),
        (
            release_target("release", "imap_swe_data-release-002_20240925_20240925_v001.txt"),
            Some(admin.as_str()),
            404,
            "upload it first",
        ),
    ];
    for (target, key, expected_status, reason) in refusals {
        let headers: Vec<(&str, &str)> = key.map(|key| ("x-api-key", key)).into_iter().collect();
        let (status, body) = http(&address, "GET", &target, &headers);
        let body = String::from_utf8_lossy(&body);
        assert!(status == expected_status && body.contains(reason), "{target}: {status} {body}");
    }

    // A manifest with a line that names no file is refused with that line, and releases nothing.
    let bad_manifest = "imap_swe_data-release-003_20240925_20240925_v001.txt";
    std::fs::write(uploads.join(bad_manifest), format!("{}\nnot-a-file\n", level0_name(DAYS[1]))).unwrap();
    let accepted = keyed(&uploader, &["upload", &upload_path(bad_manifest)]);
    assert!(accepted.status.success(), "upload {bad_manifest}: {}", text(&accepted));
    let (status, body) = http(&address, "GET", &release_target("release", bad_manifest), &[("x-api-key", &admin)]);
    let body = String::from_utf8_lossy(&body);
    assert!(status == 400 && body.contains("line 2") && body.contains("not-a-file"), "{status} {body}");
    // So is one that withholds a file its range does not cover.
    let out_of_range = "imap_swe_data-release-004_20240925_20240925_v001.txt";
    std::fs::write(uploads.join(out_of_range), format!("{}\n", released_product)).unwrap();
    let accepted = keyed(&uploader, &["upload", &upload_path(out_of_range)]);
    assert!(accepted.status.success(), "upload {out_of_range}: {}", text(&accepted));
    let (status, body) = http(&address, "GET", &release_target("release", out_of_range), &[("x-api-key", &admin)]);
    let body = String::from_utf8_lossy(&body);
    assert!(
        status == 400 && body.contains("line 1") && body.contains("not tracked science or quicklook files of swe"),
        "{status} {body}"
    );
    let still_one_day = anonymous(&swe_json);
    assert_eq!(file_paths(&json_rows(&still_one_day)), expected_released, "{}", text(&still_one_day));
}
