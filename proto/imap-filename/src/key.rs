//! Archive keys from outside (download paths, S3 keys): refuse anything that could leave the archive or
//! that names one file two ways, then insist on the one canonical key.

use super::{FileNameError, ImapFileName};

/// Longest archive key accepted: a few directories and one name of at most 255 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Parses a key such as `imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.pkts`.
///
/// Refused before any parsing: empty keys, a leading `/`, backslashes, `%` (percent-encodings would be
/// decoded differently by different layers), NUL and other control characters, empty segments, and `.` or
/// `..` segments. The basename must then be a valid name whose archive path is exactly `key`.
pub fn parse_archive_key(key: &str) -> Result<ImapFileName, FileNameError> {
    if key.len() > MAX_KEY_BYTES {
        let shown: String = key.chars().take(64).collect();
        return Err(FileNameError::UnsafeKey { key: format!("{shown}..."), reason: "longer than 1024 bytes" });
    }
    let refuse = |reason| Err(FileNameError::UnsafeKey { key: key.to_string(), reason });
    if key.is_empty() {
        return refuse("empty");
    }
    if key.starts_with('/') {
        return refuse("absolute path");
    }
    if key.contains('\\') {
        return refuse("contains a backslash");
    }
    if key.contains('%') {
        return refuse("contains \"%\" (percent-encoding is not allowed)");
    }
    if key.contains('\0') {
        return refuse("contains NUL");
    }
    if key.chars().any(char::is_control) {
        return refuse("contains a control character");
    }
    for segment in key.split('/') {
        match segment {
            "" => return refuse("empty path segment"),
            "." => return refuse("\".\" path segment"),
            ".." => return refuse("\"..\" path segment"),
            _ => {}
        }
    }
    let basename = key.rsplit('/').next().unwrap_or(key);
    let parsed = ImapFileName::parse(basename)?;
    let expected = parsed.archive_path();
    if expected != key {
        return Err(FileNameError::KeyNotCanonical { key: key.to_string(), expected });
    }
    Ok(parsed)
}
