//! Release manifests and the anonymous rule, without the rest of the mesh.

use super::*;
use crate::key_store::ApiKey;

const MANIFEST: &str = "imap_hit_data-release-001_20260101_20260131_v001.txt";

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

fn refusal(result: Result<impl std::fmt::Debug, GatewayError>) -> String {
    match result {
        Err(GatewayError::InvalidRequest(message)) => message,
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn a_release_names_its_type_and_a_dated_manifest() {
    let manifest = manifest_from_params(&params(&[("release_type", "release"), ("manifest_file", MANIFEST)])).unwrap();
    assert_eq!((manifest.instrument.as_str(), manifest.start_date.yyyymmdd()), ("hit", "20260101".to_string()));
    assert_eq!(manifest.end_date.map(|date| date.yyyymmdd()), Some("20260131".to_string()));
    assert_eq!(manifest.archive_path(), format!("imap/release/hit/{MANIFEST}"));

    let unsupported =
        refusal(manifest_from_params(&params(&[("release_type", "unrelease"), ("manifest_file", MANIFEST)])));
    assert!(unsupported.contains("'unrelease' is not supported"), "{unsupported}");
    let early =
        refusal(manifest_from_params(&params(&[("release_type", "early-release"), ("manifest_file", MANIFEST)])));
    assert!(early.contains("not supported"), "{early}");
    let unknown = refusal(manifest_from_params(&params(&[("release_type", "publish"), ("manifest_file", MANIFEST)])));
    assert!(unknown.contains("unknown release_type \"publish\""), "{unknown}");
    assert!(refusal(manifest_from_params(&params(&[("manifest_file", MANIFEST)]))).contains("release_type=release"));
    assert!(refusal(manifest_from_params(&params(&[("release_type", "release")]))).contains("manifest_file"));
    let extra = refusal(manifest_from_params(&params(&[
        ("release_type", "release"),
        ("manifest_file", MANIFEST),
        ("force", "1"),
    ])));
    assert!(extra.contains("unknown parameter \"force\""), "{extra}");

    let ancillary = refusal(manifest_from_params(&params(&[
        ("release_type", "release"),
        ("manifest_file", "imap_hit_cal_20260101_v001.csv"),
    ])));
    assert!(ancillary.contains("classified as ancillary, not release"), "{ancillary}");
    let open_ended = refusal(manifest_from_params(&params(&[
        ("release_type", "release"),
        ("manifest_file", "imap_hit_data-release-001_20260101_v001.txt"),
    ])));
    assert!(open_ended.contains("names no end date"), "{open_ended}");
    let unparsable = manifest_from_params(&params(&[
        ("release_type", "release"),
        ("manifest_file", "imap_hit_notes_20260132_v001.txt"),
    ]));
    assert!(matches!(unparsable, Err(GatewayError::InvalidFileName(_))), "{unparsable:?}");
}

#[test]
fn manifests_list_withheld_files_by_name_or_key() {
    let text = "\u{feff}# withheld from the January release\n\
                imap_hit_l1a_sci_20260105_v001.0001.cdf\r\n\
                \n   \n\
                  imap/hit/l2/2026/01/imap_hit_l2_sci_20260106_v001.0001.cdf  \n\
                # imap_hit_l1a_sci_20260107_v001.0001.cdf is not withheld\n";
    let withheld = withheld_lines(MANIFEST, text).unwrap();
    let found: Vec<(usize, &str)> = withheld.iter().map(|line| (line.number, line.file_name.as_str())).collect();
    assert_eq!(found, [(2, "imap_hit_l1a_sci_20260105_v001.0001.cdf"), (5, "imap_hit_l2_sci_20260106_v001.0001.cdf")]);
    assert_eq!(withheld[1].text, "imap/hit/l2/2026/01/imap_hit_l2_sci_20260106_v001.0001.cdf");
    assert!(withheld_lines(MANIFEST, "# nothing withheld\n").unwrap().is_empty());
}

#[test]
fn a_bad_manifest_line_is_named() {
    let bad_name = refusal(withheld_lines(MANIFEST, "imap_hit_l1a_sci_20260105_v001.0001.cdf\nnot a file\n"));
    assert!(bad_name.contains(&format!("{MANIFEST} line 2 \"not a file\"")), "{bad_name}");
    // A key must be the file's own archive key.
    let misplaced = refusal(withheld_lines(MANIFEST, "imap/hit/l1a/2025/01/imap_hit_l1a_sci_20260105_v001.0001.cdf"));
    assert!(misplaced.contains("line 1") && misplaced.contains("imap/hit/l1a/2026/01/"), "{misplaced}");
}

#[test]
fn withheld_files_the_release_does_not_cover_are_named_by_line() {
    let manifest = AncillaryFileName::parse_as(imap_filename::AncillaryFamily::Release, MANIFEST).unwrap();
    let text = "imap_hit_l1a_sci_20260105_v001.0001.cdf\nimap_hit_l1a_sci_20260301_v001.0001.cdf\n";
    let withheld = withheld_lines(MANIFEST, text).unwrap();
    let refusal = outside_the_release(&manifest, &withheld, &["imap_hit_l1a_sci_20260301_v001.0001.cdf".to_string()]);
    let message = refusal.to_string();
    assert!(matches!(refusal, GatewayError::InvalidRequest(_)));
    assert!(
        message.contains("of hit starting 20260101 to 20260131: line 2 \"imap_hit_l1a_sci_20260301_v001.0001.cdf\""),
        "{message}"
    );
    assert!(!message.contains("line 1"), "{message}");
}

fn caller_with(scope: Scope) -> Caller {
    let scopes = vec![scope];
    let key =
        ApiKey { id: "k1".into(), name: "scientist".into(), scopes, created_at: 0, revoked: false, expires_at: None };
    Caller { key: Some(key) }
}

#[test]
fn under_the_released_rule_anonymous_and_read_only_callers_see_released_files_only() {
    let anonymous = Caller { key: None };
    assert!(sees_released_only(AnonymousAccess::Released, &anonymous));
    assert!(sees_released_only(AnonymousAccess::Released, &caller_with(Scope::Read)));
    for scope in [Scope::Upload, Scope::Operator, Scope::Admin] {
        assert!(!sees_released_only(AnonymousAccess::Released, &caller_with(scope)), "{scope}");
    }
    assert!(!sees_released_only(AnonymousAccess::All, &caller_with(Scope::Read)));
    assert!(!sees_released_only(AnonymousAccess::All, &anonymous));
    assert_eq!(AnonymousAccess::default(), AnonymousAccess::All, "the default keeps the open archive");
    let parsed: AnonymousAccess = serde_json::from_str("\"released\"").unwrap();
    assert_eq!(parsed, AnonymousAccess::Released);
}

#[test]
fn released_only_downloads_follow_the_tracker() {
    let key = "imap/hit/l1a/2026/01/imap_hit_l1a_sci_20260105_v001.0001.cdf";
    let released = FileRecord { released: true, ..Default::default() };
    assert!(released_or_refused(key, Ok(released)).is_ok());
    // Unreleased is answered as missing: the same refusal, word for word.
    let not_found = |result: Result<(), GatewayError>| match result {
        Err(GatewayError::NotFound(message)) => message,
        other => panic!("expected a 404, got {other:?}"),
    };
    let unreleased = not_found(released_or_refused(key, Ok(FileRecord::default())));
    assert_eq!(unreleased, not_found(released_or_refused(key, Err(tonic::Status::not_found("no")))));
    assert!(matches!(
        released_or_refused(key, Err(tonic::Status::unavailable("down"))),
        Err(GatewayError::Upstream { .. })
    ));
}
