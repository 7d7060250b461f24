//! Best-effort reasons for names that no grammar matched at all, so callers learn what to fix.

use super::Version;
use super::ancillary::{ANCILLARY_EXTENSIONS, RELEASE_EXTENSIONS};
use super::science::SCIENCE_GRAMMAR_EXTENSIONS;

const SCIENCE_SHAPE: &str =
    "imap_<instrument>_<data level>_<descriptor>_<YYYYMMDD>[-repointNNNNN|-crNNNNN]_<version>.<extension>";
const ANCILLARY_SHAPE: &str = "imap_<instrument>_<descriptor>_<YYYYMMDD>[_<YYYYMMDD>|-repointNNNNN]_vNNN.<extension>";

/// Explains why `name` fits none of the grammars, judging by its `_`-separated fields.
pub(crate) fn why_unrecognised(name: &str) -> String {
    let Some(rest) = name.strip_prefix("imap_") else {
        return "matches no imap file-name pattern (science and ancillary names start with \"imap_\"; \
                not a known spice kernel name either)"
            .to_string();
    };
    let fields: Vec<&str> = rest.split('_').collect();
    let [.., time_field, version_and_extension] = fields.as_slice() else {
        return format!("too few \"_\"-separated fields (expected {SCIENCE_SHAPE} or {ANCILLARY_SHAPE})");
    };
    if let Some(reason) = version_problem(version_and_extension) {
        return reason;
    }
    if let Some(reason) = time_field_problem(time_field) {
        return reason;
    }
    // `rest` holds instrument, [level,] descriptor, [start date,] date field, version: 4 to 5 fields.
    match fields.len() {
        0..=3 => format!("too few \"_\"-separated fields (expected {SCIENCE_SHAPE} or {ANCILLARY_SHAPE})"),
        4 | 5 => ancillary_shaped_problem(time_field, version_and_extension)
            .unwrap_or_else(|| format!("does not match {SCIENCE_SHAPE} or {ANCILLARY_SHAPE}")),
        _ => "too many \"_\"-separated fields (a descriptor may contain \"-\" but not \"_\")".to_string(),
    }
}

/// `<version>.<extension>`: the version is everything up to the last dot.
fn version_problem(version_and_extension: &str) -> Option<String> {
    let Some((version, extension)) = version_and_extension.rsplit_once('.') else {
        return Some(format!("\"{version_and_extension}\" lacks \".<extension>\" after the version"));
    };
    if extension.is_empty() {
        return Some("empty extension".to_string());
    }
    if version.parse::<Version>().is_err() {
        return Some(format!("version \"{version}\" is not vNNN or vNNN.NNNN"));
    }
    None
}

/// `YYYYMMDD` optionally followed by `-repointNNNNN` or `-crNNNNN`.
fn time_field_problem(time_field: &str) -> Option<String> {
    let (date, interval) = match time_field.split_once('-') {
        Some((date, interval)) => (date, Some(interval)),
        None => (time_field, None),
    };
    if date.len() != 8 || !date.bytes().all(|byte| byte.is_ascii_digit()) {
        return Some(format!("date \"{date}\" is not YYYYMMDD (exactly 8 digits)"));
    }
    let interval = interval?;
    let five_digits = |digits: &str| digits.len() == 5 && digits.bytes().all(|byte| byte.is_ascii_digit());
    let well_formed = interval.strip_prefix("repoint").or_else(|| interval.strip_prefix("cr")).is_some_and(five_digits);
    (!well_formed).then(|| format!("\"-{interval}\" after the date is not -repointNNNNN or -crNNNNN"))
}

/// The name has the ancillary field count; say which ancillary rule it breaks.
fn ancillary_shaped_problem(time_field: &str, version_and_extension: &str) -> Option<String> {
    let (version, extension) = version_and_extension.rsplit_once('.')?;
    if version.contains('.') {
        return Some(format!("ancillary and release names take the legacy version vNNN, not \"{version}\""));
    }
    if time_field.contains("-cr") {
        return Some("ancillary and release names allow -repointNNNNN but not -crNNNNN".to_string());
    }
    let known = ANCILLARY_EXTENSIONS.iter().chain(RELEASE_EXTENSIONS).chain(SCIENCE_GRAMMAR_EXTENSIONS);
    if !known.clone().any(|allowed| *allowed == extension) {
        return Some(format!(
            "extension \"{extension}\" not allowed for any file kind (ancillary: {}; release: {}; science, \
             quicklook, dependency: {})",
            ANCILLARY_EXTENSIONS.join(", "),
            RELEASE_EXTENSIONS.join(", "),
            SCIENCE_GRAMMAR_EXTENSIONS.join(", ")
        ));
    }
    None
}
