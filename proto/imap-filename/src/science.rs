//! Science file names (spec 2.2) and the quicklook and dependency names that share their grammar (2.3).

use std::sync::LazyLock;

use regex_lite::Regex;

use super::{Attempt, FileNameError, Version, check_bare_name, diagnose, fixed_regex, parse_name_date};
use super::{VALID_DATALEVELS, VALID_INSTRUMENTS};
use crate::date::Date;

pub const SCIENCE_EXTENSIONS: &[&str] = &["cdf", "pkts"];
pub const QUICKLOOK_EXTENSIONS: &[&str] = &["jpg", "pdf", "png"];
pub const DEPENDENCY_EXTENSIONS: &[&str] = &["json"];
/// Every extension some science-grammar kind accepts, for the message when none does.
pub(crate) const SCIENCE_GRAMMAR_EXTENSIONS: &[&str] = &["cdf", "pkts", "jpg", "pdf", "png", "json"];

/// `imap_<instrument>_<level>_<descriptor>_<YYYYMMDD>[-(repoint|cr)NNNNN]_<version>.<extension>`, anchored at
/// both ends. The version alternation tries the dotted form first, as upstream's does.
static SCIENCE_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    fixed_regex(
        r"^imap_([^_]+)_([^_]+)_([^_]+)_([0-9]{8})(?:-(repoint|cr)([0-9]{5}))?_(v[0-9]{3}\.[0-9]{4}|v[0-9]{3})\.([^.]+)$",
    )
});

/// The three kinds written in the science grammar; they differ in extensions and archive prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScienceFamily {
    Science,
    Quicklook,
    Dependency,
}

impl ScienceFamily {
    pub fn allowed_extensions(self) -> &'static [&'static str] {
        match self {
            ScienceFamily::Science => SCIENCE_EXTENSIONS,
            ScienceFamily::Quicklook => QUICKLOOK_EXTENSIONS,
            ScienceFamily::Dependency => DEPENDENCY_EXTENSIONS,
        }
    }

    pub fn allows(self, extension: &str) -> bool {
        self.allowed_extensions().contains(&extension)
    }

    /// Archive directory above `<instrument>/<level>/<YYYY>/<MM>/`.
    pub fn archive_prefix(self) -> &'static str {
        match self {
            ScienceFamily::Science => "imap",
            ScienceFamily::Quicklook => "imap/quicklook",
            ScienceFamily::Dependency => "imap/dependency",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ScienceFamily::Science => "science",
            ScienceFamily::Quicklook => "quicklook",
            ScienceFamily::Dependency => "dependency",
        }
    }
}

/// A validated science-grammar name. Build one with [`ScienceFileName::parse`] or
/// [`ScienceFileName::generate`]; the fields are public for reading.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScienceFileName {
    pub family: ScienceFamily,
    pub instrument: String,
    pub data_level: String,
    pub descriptor: String,
    pub start_date: Date,
    pub repointing: Option<u32>,
    /// Carrington rotation; never set together with `repointing`.
    pub cr: Option<u32>,
    pub version: Version,
    pub extension: String,
}

/// Inputs for [`ScienceFileName::generate`], mirroring upstream `generate_from_inputs`.
#[derive(Debug, Clone)]
pub struct ScienceNameInputs<'a> {
    pub family: ScienceFamily,
    pub instrument: &'a str,
    pub data_level: &'a str,
    pub descriptor: &'a str,
    pub start_date: Date,
    pub version: Version,
    /// Ignored for level `l0`, which is always `pkts`.
    pub extension: &'a str,
    pub repointing: Option<u32>,
    pub cr: Option<u32>,
}

impl ScienceFileName {
    /// Parses a science name (`cdf` or `pkts`).
    pub fn parse(name: &str) -> Result<ScienceFileName, FileNameError> {
        ScienceFileName::parse_as(ScienceFamily::Science, name)
    }

    /// Parses a name of the given science-grammar kind.
    pub fn parse_as(family: ScienceFamily, name: &str) -> Result<ScienceFileName, FileNameError> {
        check_bare_name(name)?;
        let parsed = match match_grammar(name) {
            Ok(parsed) => parsed,
            Err(Attempt::Invalid(error)) => return Err(error),
            Err(Attempt::NoMatch) => {
                return Err(FileNameError::Unrecognised {
                    name: name.to_string(),
                    reason: diagnose::why_unrecognised(name),
                });
            }
        };
        if !family.allows(&parsed.extension) {
            return Err(FileNameError::ExtensionNotAllowed {
                name: name.to_string(),
                extension: parsed.extension,
                kind: family.as_str(),
                allowed: family.allowed_extensions(),
            });
        }
        Ok(ScienceFileName { family, ..parsed })
    }

    /// Writes the name from its parts and validates it by parsing it back, as upstream does.
    /// Level `l0` forces `pkts`; a repointing and a Carrington rotation exclude each other.
    pub fn generate(inputs: &ScienceNameInputs<'_>) -> Result<ScienceFileName, FileNameError> {
        let extension = if inputs.data_level == "l0" { "pkts" } else { inputs.extension };
        let mut time_field = inputs.start_date.yyyymmdd();
        let interval = match (inputs.repointing, inputs.cr) {
            (Some(_), Some(_)) => None,
            (Some(repointing), None) => Some(("repoint", repointing)),
            (None, Some(cr)) => Some(("cr", cr)),
            (None, None) => None,
        };
        if let Some((label, number)) = interval {
            time_field.push_str(&format!("-{label}{number:05}"));
        }
        let name = format!(
            "imap_{}_{}_{}_{time_field}_{}.{extension}",
            inputs.instrument, inputs.data_level, inputs.descriptor, inputs.version
        );
        if inputs.repointing.is_some() && inputs.cr.is_some() {
            return Err(FileNameError::RepointingAndCarringtonRotation { name });
        }
        if let Some((label, number)) = interval
            && number > 99_999
        {
            let field = if label == "cr" { "carrington rotation" } else { "repointing" };
            return Err(FileNameError::IntervalTooLarge { name, field, value: number });
        }
        ScienceFileName::parse_as(inputs.family, &name)
    }

    /// The canonical name, identical to the text it was parsed from.
    pub fn file_name(&self) -> String {
        let interval = match (self.repointing, self.cr) {
            (Some(repointing), _) => format!("-repoint{repointing:05}"),
            (None, Some(cr)) => format!("-cr{cr:05}"),
            (None, None) => String::new(),
        };
        format!(
            "imap_{}_{}_{}_{}{interval}_{}.{}",
            self.instrument,
            self.data_level,
            self.descriptor,
            self.start_date.yyyymmdd(),
            self.version,
            self.extension
        )
    }

    /// `<prefix>/<instrument>/<level>/<YYYY>/<MM>/<name>`, year and month of the start date.
    pub fn archive_path(&self) -> String {
        format!(
            "{}/{}/{}/{:04}/{:02}/{}",
            self.family.archive_prefix(),
            self.instrument,
            self.data_level,
            self.start_date.year(),
            self.start_date.month(),
            self.file_name()
        )
    }

    /// Science files match exactly their own start date.
    pub fn is_valid_for_start_date(&self, date: Date) -> bool {
        self.start_date == date
    }
}

/// Matches the science grammar and checks every field except the extension, which decides the kind.
/// The family of the result is `Science` until the caller picks another.
pub(crate) fn match_grammar(name: &str) -> Result<ScienceFileName, Attempt> {
    let captures = SCIENCE_PATTERN.captures(name).ok_or(Attempt::NoMatch)?;
    let group = |index: usize| captures.get(index).map_or("", |found| found.as_str());
    let invalid = |error| Attempt::Invalid(error);
    let (instrument, data_level) = (group(1), group(2));
    if !VALID_INSTRUMENTS.contains(&instrument) {
        return Err(invalid(FileNameError::UnknownInstrument {
            name: name.to_string(),
            instrument: instrument.to_string(),
        }));
    }
    if !VALID_DATALEVELS.contains(&data_level) {
        return Err(invalid(FileNameError::UnknownDataLevel {
            name: name.to_string(),
            data_level: data_level.to_string(),
        }));
    }
    let start_date = parse_name_date(name, group(4)).map_err(invalid)?;
    let version = group(7).parse::<Version>().map_err(invalid)?;
    // The pattern guarantees five ASCII digits, so these always fit.
    let interval_number = group(6).parse::<u32>().ok();
    let (repointing, cr) = match group(5) {
        "repoint" => (interval_number, None),
        "cr" => (None, interval_number),
        _ => (None, None),
    };
    Ok(ScienceFileName {
        family: ScienceFamily::Science,
        instrument: instrument.to_string(),
        data_level: data_level.to_string(),
        descriptor: group(3).to_string(),
        start_date,
        repointing,
        cr,
        version,
        extension: group(8).to_string(),
    })
}

/// `repointNNNNN` (full match) to its number, as the client checks a repointing label.
pub fn parse_repointing_label(text: &str) -> Option<u32> {
    five_digit_suffix(text, "repoint")
}

/// `crNNNNN` (full match) to its number.
pub fn parse_cr_label(text: &str) -> Option<u32> {
    five_digit_suffix(text, "cr")
}

fn five_digit_suffix(text: &str, label: &str) -> Option<u32> {
    let digits = text.strip_prefix(label)?;
    if digits.len() == 5 && digits.bytes().all(|byte| byte.is_ascii_digit()) { digits.parse().ok() } else { None }
}
