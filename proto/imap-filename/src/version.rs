//! Data versions (spec 2.1): legacy minor-only `vNNN` and science `vMMM.mmmm`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use super::FileNameError;

/// A data version. `major` is `None` for the legacy `vNNN` form (then `minor` is 0..=999);
/// with a major, both are shown zero-padded as `vMMM.mmmm` (major 0..=999, minor 0..=9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: Option<u16>,
    pub minor: u16,
}

impl Version {
    /// The first science version, `v001.0001`.
    pub fn first() -> Version {
        Version { major: Some(1), minor: 1 }
    }

    /// Same major, minor + 1; `None` once the minor has no room left (9999, or 999 for legacy versions).
    pub fn next_minor(self) -> Option<Version> {
        let limit = if self.major.is_some() { 9999 } else { 999 };
        (self.minor < limit).then(|| Version { major: self.major, minor: self.minor + 1 })
    }

    /// True when no later minor version can be written (9999, or 999 for legacy versions).
    pub fn is_last_minor(self) -> bool {
        self.next_minor().is_none()
    }

    /// True for the legacy `vNNN` form, which science uploads refuse (spec 1.3).
    pub fn is_minor_only(self) -> bool {
        self.major.is_none()
    }
}

impl FromStr for Version {
    type Err = FileNameError;

    /// Strict: exactly `v` + 3 digits, optionally `.` + 4 digits (a full match, as standalone checks use).
    fn from_str(text: &str) -> Result<Version, FileNameError> {
        let invalid = || FileNameError::InvalidVersion { text: text.to_string() };
        let digits = text.strip_prefix('v').ok_or_else(invalid)?;
        let number = |part: &str, width: usize| {
            (part.len() == width && part.bytes().all(|byte| byte.is_ascii_digit()))
                .then(|| part.bytes().fold(0u16, |value, digit| value * 10 + u16::from(digit - b'0')))
        };
        match digits.split_once('.') {
            None => Ok(Version { major: None, minor: number(digits, 3).ok_or_else(invalid)? }),
            Some((major, minor)) => Ok(Version {
                major: Some(number(major, 3).ok_or_else(invalid)?),
                minor: number(minor, 4).ok_or_else(invalid)?,
            }),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.major {
            Some(major) => write!(formatter, "v{major:03}.{:04}", self.minor),
            None => write!(formatter, "v{:03}", self.minor),
        }
    }
}

impl Ord for Version {
    /// Any legacy (no-major) version sorts before any version with a major; otherwise (major, minor).
    fn cmp(&self, other: &Version) -> Ordering {
        match (self.major, other.major) {
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (left, right) => (left, self.minor).cmp(&(right, other.minor)),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
