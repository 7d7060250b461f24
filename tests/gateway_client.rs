//! The gateway against the mission's own client, unmodified: `imap-data-access` 1.3.0 uploads level-0
//! files to a running `imap-sdc`, the pipeline makes products from them, and the client queries
//! (table and JSON), downloads (bytes compared) and asks for reprocessing; refused cases get the
//! status and reason they should. Ignored, with the reason, where the client is not installed.

mod gateway_common;
mod support;

use std::time::Duration;

use gateway_common::{Node, client, client_with, files_made_by_jobs, get_json, http, real_level0_dir, text, wait_for};
use support::{TempDir, synthetic_level0};

const SYNTHETIC: &str = "imap_swe_l0_raw_20240924_v001.0001.pkts";
const REAL: &str = "imap_swapi_l0_raw_20240924_v001.0001.pkts";

#[test]
#[cfg_attr(not(has_imap_data_access), ignore = "needs python3 with imap-data-access 1.3.0 (.ci/python-venv.sh)")]
fn imap_data_access_client_drives_the_gateway() {
    let home = TempDir::new("client");
    let uploads = home.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join(SYNTHETIC), synthetic_level0(40)).unwrap();
    let real = real_level0_dir();
    if let Some(dir) = &real {
        std::fs::copy(dir.join("imap_swapi_l0_raw_20240924_v001.pkts"), uploads.join(REAL)).unwrap();
    } else {
        println!("no real level-0 data beside this checkout: uploading the synthetic file only");
    }
    let node = Node::start(home.path(), "all");
    let downloads = home.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let uploader = node.create_key("instrument-team", "upload");
    let reader = node.create_key("scientist", "read");
    let admin = node.create_key("operator", "admin");
    let run = |key: Option<&str>, args: &[&str]| client(&node.url, &downloads, key, args);
    let upload_path = |name: &str| uploads.join(name).display().to_string();

    // Refused: anonymous and read-only uploads, a name the grammar rejects.
    let anonymous = run(None, &["upload", &upload_path(SYNTHETIC)]);
    assert!(!anonymous.status.success() && text(&anonymous).contains("401"), "{}", text(&anonymous));
    let read_only = run(Some(&reader), &["upload", &upload_path(SYNTHETIC)]);
    assert!(!read_only.status.success() && text(&read_only).contains("403"), "{}", text(&read_only));
    let bad_name = "imap_nosuch_l0_raw_20240924_v001.0001.pkts";
    std::fs::write(uploads.join(bad_name), b"x").unwrap();
    let refused = run(Some(&uploader), &["upload", &upload_path(bad_name)]);
    assert!(
        !refused.status.success() && text(&refused).contains("400") && text(&refused).contains("nosuch"),
        "{}",
        text(&refused)
    );

    // Accepted uploads, then the same name again.
    let mut uploaded = vec![SYNTHETIC];
    if real.is_some() {
        uploaded.push(REAL);
    }
    for name in &uploaded {
        let accepted = run(Some(&uploader), &["upload", &upload_path(name)]);
        assert!(accepted.status.success(), "upload {name}: {}", text(&accepted));
    }
    let duplicate = run(Some(&uploader), &["upload", &upload_path(SYNTHETIC)]);
    assert!(text(&duplicate).contains("409") && text(&duplicate).contains("FileAlreadyExists"), "{}", text(&duplicate));

    // The uploads trigger processing: wait until every uploaded instrument has products made by jobs.
    let address = node.address();
    let instruments: Vec<&str> = uploaded.iter().map(|name| name.split('_').nth(1).unwrap()).collect();
    let products = wait_for(
        "products made from every upload",
        Duration::from_secs(120),
        || {
            let made = files_made_by_jobs(&address, "kind=science&limit=1000");
            let complete =
                instruments.iter().all(|instrument| made.iter().any(|file| file["instrument"] == *instrument));
            complete.then_some(made)
        },
        || format!("jobs: {}", get_json(&address, "/api/jobs")),
    );
    println!(
        "products made: {}",
        products.iter().map(|file| file["file_name"].as_str().unwrap()).collect::<Vec<_>>().join(", ")
    );

    // Query (the table, then JSON with exactly the science fields) and download one product per
    // instrument: the bytes are the archive's.
    for instrument in &instruments {
        let product = products.iter().find(|file| file["instrument"] == *instrument).unwrap();
        let product_name = product["file_name"].as_str().unwrap();
        let product_key = product["archive_key"].as_str().unwrap();
        let table = run(None, &["query", "--instrument", instrument]);
        let table_text = text(&table);
        assert!(
            table.status.success() && table_text.contains("in science table") && table_text.contains(product_name),
            "{table_text}"
        );
        let as_json = run(Some(&reader), &["query", "--instrument", instrument, "--output-format", "json"]);
        assert!(as_json.status.success(), "{}", text(&as_json));
        let json_text = String::from_utf8_lossy(&as_json.stdout).to_string();
        let rows: Vec<serde_json::Value> = serde_json::from_str(json_text.trim().lines().last().unwrap()).unwrap();
        assert!(rows.iter().any(|row| row["file_path"] == product_key), "{json_text}");
        assert!(rows.iter().all(|row| row.get("repointing").is_some() && row.get("end_date").is_none()), "{json_text}");
        let fetched = run(None, &["download", product_name]);
        assert!(fetched.status.success(), "{}", text(&fetched));
        assert_eq!(
            std::fs::read(downloads.join(product_key)).unwrap(),
            std::fs::read(node.archive_file(product_key)).unwrap()
        );
    }
    let level_zero = run(
        None,
        &["query", "--instrument", "swe", "--data-level", "l0", "--version", "latest", "--output-format", "json"],
    );
    assert!(text(&level_zero).contains(SYNTHETIC), "{}", text(&level_zero));

    // Version rules through the client: by default every minor of the newest major, `latest` the
    // newest only, an explicit major all of its minors. (A descriptor no product consumes.)
    let versions = ["v001.0001", "v001.0002", "v002.0001"]
        .map(|version| format!("imap_swe_l3_version-test_20240101_{version}.cdf"));
    for name in &versions {
        std::fs::write(uploads.join(name), name.as_bytes()).unwrap();
        let accepted = run(Some(&uploader), &["upload", &upload_path(name)]);
        assert!(accepted.status.success(), "upload {name}: {}", text(&accepted));
    }
    let found = |args: &[&str]| -> Vec<String> {
        let base = ["query", "--instrument", "swe", "--descriptor", "version-test", "--output-format", "json"];
        let output = run(None, &[&base[..], args].concat());
        let rows: Vec<serde_json::Value> = serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim())
            .unwrap_or_else(|_| panic!("{}", text(&output)));
        rows.iter().map(|row| row["file_path"].as_str().unwrap().rsplit('/').next().unwrap().to_string()).collect()
    };
    assert_eq!(found(&[]), [versions[2].clone()]);
    assert_eq!(found(&["--version", "latest"]), [versions[2].clone()]);
    assert_eq!(found(&["--major-version", "1"]), [versions[0].clone(), versions[1].clone()]);
    assert_eq!(found(&["--major-version", "1", "--minor-version", "2"]), [versions[1].clone()]);

    // Ancillary and SPICE tables, the latter through /authorized with a Bearer token.
    let ancillary = "imap_swe_test-calibration_20240901_20241231_v001.csv";
    let kernel = "imap_pred_20240901_20241231_v01.bsp";
    std::fs::write(uploads.join(ancillary), b"energy,factor\n1,0.5\n").unwrap();
    std::fs::write(uploads.join(kernel), b"DAF/SPK").unwrap();
    for name in [ancillary, kernel] {
        let accepted = run(Some(&uploader), &["upload", &upload_path(name)]);
        assert!(accepted.status.success(), "upload {name}: {}", text(&accepted));
    }
    let ancillary_table = run(None, &["query", "--table", "ancillary", "--instrument", "swe"]);
    assert!(
        text(&ancillary_table).contains("in ancillary table") && text(&ancillary_table).contains(ancillary),
        "{}",
        text(&ancillary_table)
    );
    let ancillary_json =
        run(None, &["query", "--table", "ancillary", "--instrument", "swe", "--output-format", "json"]);
    assert!(text(&ancillary_json).contains("\"end_date\": \"20241231\""), "{}", text(&ancillary_json));
    let token = [("IMAP_ACCESS_TOKEN", reader.as_str())];
    let spice = client_with(
        &node.url,
        &downloads,
        &token,
        &["query", "--table", "spice", "--type", "ephemeris_predicted", "--start-date", "20241001"],
    );
    assert!(text(&spice).contains("in spice table") && text(&spice).contains(kernel), "{}", text(&spice));
    let forged = [("IMAP_ACCESS_TOKEN", "not-a-key")];
    let refused = client_with(&node.url, &downloads, &forged, &["query", "--instrument", "swe"]);
    assert!(!refused.status.success() && text(&refused).contains("401"), "{}", text(&refused));

    // webpoda's repoint table: the newest repoint kernel, found and downloaded by the client library.
    let repoint = "imap_2025_100_01.repoint.csv";
    std::fs::write(uploads.join(repoint), b"repoint_id,start\n1,2025-04-10\n").unwrap();
    let accepted = run(Some(&uploader), &["upload", &upload_path(repoint)]);
    assert!(accepted.status.success(), "upload {repoint}: {}", text(&accepted));
    let webpoda = std::process::Command::new("python3")
        .args(["-c", "from imap_data_access.webpoda import get_repoint_file; print(get_repoint_file())"])
        .env("IMAP_DATA_ACCESS_URL", &node.url)
        .env("IMAP_DATA_DIR", &downloads)
        .env_remove("IMAP_API_KEY")
        .env_remove("IMAP_ACCESS_TOKEN")
        .output()
        .unwrap();
    let repoint_path = String::from_utf8_lossy(&webpoda.stdout).trim().to_string();
    assert!(repoint_path.ends_with(&format!("imap/spice/repoint/{repoint}")), "{}", text(&webpoda));
    assert_eq!(std::fs::read(&repoint_path).unwrap(), std::fs::read(uploads.join(repoint)).unwrap());

    // Download an upload: the bytes are the original's.
    let upload_key = format!("imap/swe/l0/2024/09/{SYNTHETIC}");
    let original = run(Some(&reader), &["download", SYNTHETIC]);
    assert!(original.status.success(), "{}", text(&original));
    assert_eq!(std::fs::read(downloads.join(&upload_key)).unwrap(), std::fs::read(uploads.join(SYNTHETIC)).unwrap());
    let missing = run(None, &["download", "imap_swe_l0_raw_20240925_v001.0001.pkts"]);
    assert!(!missing.status.success() && text(&missing).contains("404"), "{}", text(&missing));

    // Reprocess: admin only.
    let not_admin = run(Some(&uploader), &["reprocess", "--start-date", "20240924", "--end-date", "20240924"]);
    assert!(!not_admin.status.success() && text(&not_admin).contains("403"), "{}", text(&not_admin));
    let reprocess =
        run(Some(&admin), &["reprocess", "--start-date", "20240924", "--end-date", "20240925", "--instrument", "swe"]);
    assert!(reprocess.status.success(), "{}", text(&reprocess));
    let (status, body) = http(
        &address,
        "POST",
        "/api-key/reprocess?start_date=20240924&end_date=20240924&reprocessing=True",
        &[("x-api-key", &admin)],
    );
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, answer["message"].as_str()), (200, Some("Reprocess job queued")), "{answer}");
    assert!(!answer["reprocess_id"].as_str().unwrap().is_empty(), "{answer}");
    println!("reprocess answered {answer}");
    let campaign = get_json(&address, &format!("/api/campaigns/{}", answer["reprocess_id"].as_str().unwrap()));
    assert_eq!(campaign["planned_runs"], answer["planned_runs"], "{campaign}");

    // Keys can never lead a download out of the archive.
    for target in [
        "/download/imap/../../etc/passwd",
        "/download/%2e%2e/etc/passwd",
        "/download//etc/passwd",
        "/api-key/download/imap/swe/l0/2024/09/..%2f..%2fx",
    ] {
        let (status, body) = http(&address, "GET", target, &[("x-api-key", &reader)]);
        assert!(status == 400 || status == 404, "{target}: {status} {}", String::from_utf8_lossy(&body));
        assert_ne!(status, 200);
    }
}
