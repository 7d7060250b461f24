//! Ancillary file names and release manifests, which share their grammar (spec 2.4).

use std::sync::LazyLock;

use regex_lite::Regex;

use super::VALID_INSTRUMENTS;
use super::science::QUICKLOOK_EXTENSIONS;
use super::{Attempt, FileNameError, Version, check_bare_name, diagnose, fixed_regex, parse_name_date};
use crate::date::Date;

pub const ANCILLARY_EXTENSIONS: &[&str] = &["cdf", "csv", "dat", "json", "zip", "tsv", "pgm", "xlsx"];
pub const RELEASE_EXTENSIONS: &[&str] = &["txt"];

/// `imap_<instrument>_<descriptor>_<YYYYMMDD>[_<YYYYMMDD>|-repointNNNNN]_vNNN.<extension>`, anchored at both
/// ends. Upstream lists the extensions in the pattern; here the extension is captured whole and checked
/// against the same set afterwards (see [`match_grammar`]), which accepts exactly the same names.
static ANCILLARY_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(r"^imap_([^_]+)_([^_]+)_([0-9]{8})(?:_([0-9]{8})|-repoint([0-9]{5}))?_(v[0-9]{3})\.(.+)$")
});

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AncillaryFamily {
    Ancillary,
    Release,
}

impl AncillaryFamily {
    pub fn allowed_extensions(self) -> &'static [&'static str] {
        match self {
            AncillaryFamily::Ancillary => ANCILLARY_EXTENSIONS,
            AncillaryFamily::Release => RELEASE_EXTENSIONS,
        }
    }

    pub fn archive_prefix(self) -> &'static str {
        match self {
            AncillaryFamily::Ancillary => "imap/ancillary",
            AncillaryFamily::Release => "imap/release",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AncillaryFamily::Ancillary => "ancillary",
            AncillaryFamily::Release => "release",
        }
    }

    /// Extensions the upstream pattern itself accepts: the family's own plus the quicklook ones, which
    /// validation then refuses (so a quicklook-looking name gets a precise error instead of "no match").
    fn pattern_accepts(self, extension: &str) -> bool {
        self.allowed_extensions().contains(&extension) || QUICKLOOK_EXTENSIONS.contains(&extension)
    }
}

/// A validated ancillary or release name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AncillaryFileName {
    pub family: AncillaryFamily,
    pub instrument: String,
    pub descriptor: String,
    pub start_date: Date,
    /// Last day of validity; never set together with `repointing`.
    pub end_date: Option<Date>,
    pub repointing: Option<u32>,
    /// Always the legacy `vNNN` form.
    pub version: Version,
    pub extension: String,
}

/// Inputs for [`AncillaryFileName::generate`].
#[derive(Debug, Clone)]
pub struct AncillaryNameInputs<'a> {
    pub family: AncillaryFamily,
    pub instrument: &'a str,
    pub descriptor: &'a str,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub repointing: Option<u32>,
    pub version: Version,
    pub extension: &'a str,
}

impl AncillaryFileName {
    pub fn parse(name: &str) -> Result<AncillaryFileName, FileNameError> {
        AncillaryFileName::parse_as(AncillaryFamily::Ancillary, name)
    }

    pub fn parse_as(family: AncillaryFamily, name: &str) -> Result<AncillaryFileName, FileNameError> {
        check_bare_name(name)?;
        match match_grammar(family, name) {
            Ok(parsed) => Ok(parsed),
            Err(Attempt::Invalid(error)) => Err(error),
            Err(Attempt::NoMatch) => {
                Err(FileNameError::Unrecognised { name: name.to_string(), reason: diagnose::why_unrecognised(name) })
            }
        }
    }

    /// Writes the name from its parts and validates it by parsing it back.
    pub fn generate(inputs: &AncillaryNameInputs<'_>) -> Result<AncillaryFileName, FileNameError> {
        let interval = match (inputs.end_date, inputs.repointing) {
            (Some(end_date), _) => format!("_{}", end_date.yyyymmdd()),
            (None, Some(repointing)) => format!("-repoint{repointing:05}"),
            (None, None) => String::new(),
        };
        let name = format!(
            "imap_{}_{}_{}{interval}_{}.{}",
            inputs.instrument,
            inputs.descriptor,
            inputs.start_date.yyyymmdd(),
            inputs.version,
            inputs.extension
        );
        if inputs.end_date.is_some() && inputs.repointing.is_some() {
            return Err(FileNameError::EndDateAndRepointing { name });
        }
        if let Some(repointing) = inputs.repointing
            && repointing > 99_999
        {
            return Err(FileNameError::IntervalTooLarge { name, field: "repointing", value: repointing });
        }
        AncillaryFileName::parse_as(inputs.family, &name)
    }

    pub fn file_name(&self) -> String {
        let interval = match (self.end_date, self.repointing) {
            (Some(end_date), _) => format!("_{}", end_date.yyyymmdd()),
            (None, Some(repointing)) => format!("-repoint{repointing:05}"),
            (None, None) => String::new(),
        };
        format!(
            "imap_{}_{}_{}{interval}_{}.{}",
            self.instrument,
            self.descriptor,
            self.start_date.yyyymmdd(),
            self.version,
            self.extension
        )
    }

    /// `imap/ancillary/<instrument>/<name>` or `imap/release/<instrument>/<name>`.
    pub fn archive_path(&self) -> String {
        format!("{}/{}/{}", self.family.archive_prefix(), self.instrument, self.file_name())
    }

    /// With an end date the file covers `start..=end`; without one, every day from its start on.
    pub fn is_valid_for_start_date(&self, date: Date) -> bool {
        match self.end_date {
            Some(end_date) => self.start_date <= date && date <= end_date,
            None => self.start_date <= date,
        }
    }
}

/// Matches the grammar for one family and validates instrument, extension and dates, in upstream's order.
pub(crate) fn match_grammar(family: AncillaryFamily, name: &str) -> Result<AncillaryFileName, Attempt> {
    let captures = ANCILLARY_PATTERN.captures(name).ok_or(Attempt::NoMatch)?;
    let group = |index: usize| captures.get(index).map(|found| found.as_str());
    let extension = group(7).unwrap_or("");
    if !family.pattern_accepts(extension) {
        return Err(Attempt::NoMatch);
    }
    let invalid = |error| Attempt::Invalid(error);
    let instrument = group(1).unwrap_or("");
    if !VALID_INSTRUMENTS.contains(&instrument) {
        return Err(invalid(FileNameError::UnknownInstrument {
            name: name.to_string(),
            instrument: instrument.to_string(),
        }));
    }
    if !family.allowed_extensions().contains(&extension) {
        return Err(invalid(FileNameError::ExtensionNotAllowed {
            name: name.to_string(),
            extension: extension.to_string(),
            kind: family.as_str(),
            allowed: family.allowed_extensions(),
        }));
    }
    let start_date = parse_name_date(name, group(3).unwrap_or("")).map_err(invalid)?;
    let end_date = group(4).map(|text| parse_name_date(name, text)).transpose().map_err(invalid)?;
    let version = group(6).unwrap_or("").parse::<Version>().map_err(invalid)?;
    Ok(AncillaryFileName {
        family,
        instrument: instrument.to_string(),
        descriptor: group(2).unwrap_or("").to_string(),
        start_date,
        end_date,
        repointing: group(5).and_then(|digits| digits.parse().ok()),
        version,
        extension: extension.to_string(),
    })
}
