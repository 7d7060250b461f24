//! The IMAP mission's file-name grammar (SDC spec sections 2.1 to 2.9), as the `imap-data-access` 1.3.0
//! client applies it.
//!
//! Six kinds of file share one namespace:
//! - science `imap_<instrument>_<level>_<descriptor>_<YYYYMMDD>[-repointNNNNN|-crNNNNN]_<version>.<cdf|pkts>`,
//!   and quicklook (`jpg|pdf|png`) and dependency (`json`) names in the same grammar ([`ScienceFileName`]);
//! - ancillary `imap_<instrument>_<descriptor>_<YYYYMMDD>[_<YYYYMMDD>|-repointNNNNN]_vNNN.<ext>` and release
//!   (`txt`) names in that grammar ([`AncillaryFileName`]);
//! - SPICE kernels, recognised by a fixed list of patterns ([`SpiceFileName`]).
//!
//! [`ImapFileName::parse`] classifies a bare name in the client's order and [`ImapFileName::archive_path`]
//! gives its archive key, which is also its S3 key and its path under the local data directory.
//! [`parse_archive_key`] does the reverse for keys coming from outside and refuses anything that could escape
//! the archive.
#![forbid(unsafe_code)]

pub mod date;

mod ancillary;
mod diagnose;
mod error;
mod key;
mod science;
mod spice;
mod version;

#[cfg(test)]
mod tests;

pub use ancillary::{
    ANCILLARY_EXTENSIONS, AncillaryFamily, AncillaryFileName, AncillaryNameInputs, RELEASE_EXTENSIONS,
};
pub use error::FileNameError;
pub use key::{MAX_KEY_BYTES, parse_archive_key};
pub use science::{
    DEPENDENCY_EXTENSIONS, QUICKLOOK_EXTENSIONS, SCIENCE_EXTENSIONS, ScienceFamily, ScienceFileName, ScienceNameInputs,
    parse_cr_label, parse_repointing_label,
};
pub use spice::{SPICE_KERNEL_TYPES, SPICE_TYPE_TOKENS, SpiceFileName, SpiceKernelType};
pub use version::Version;

pub use date::{Date, DateError};

/// Instruments (and pseudo-instruments) that may appear in a name.
pub const VALID_INSTRUMENTS: &[&str] =
    &["codice", "glows", "hit", "hi", "ialirt", "idex", "l1const", "lo", "mag", "spacecraft", "swapi", "swe", "ultra"];

pub const VALID_DATALEVELS: &[&str] = &[
    "l0", "l1", "l1a", "l1b", "l1c", "l1ca", "l1cb", "l1d", "l2", "l2a", "l2b", "l2c", "l3", "l3a", "l3b", "l3c",
    "l3d", "l3e",
];

/// Catalogue tables a query may name.
pub const VALID_TABLES: &[&str] = &["science", "ancillary", "spice"];

/// Instruments whose products are organised by repointing.
pub const REPOINT_DEPENDENT_INSTRUMENTS: &[&str] = &["glows", "hi", "lo", "ultra"];

/// The six kinds of file name, in the client's classification order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Science,
    Ancillary,
    Spice,
    Quicklook,
    Dependency,
    Release,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Science => "science",
            FileKind::Ancillary => "ancillary",
            FileKind::Spice => "spice",
            FileKind::Quicklook => "quicklook",
            FileKind::Dependency => "dependency",
            FileKind::Release => "release",
        }
    }
}

/// Any valid mission file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImapFileName {
    Science(ScienceFileName),
    Ancillary(AncillaryFileName),
    Spice(SpiceFileName),
    Quicklook(ScienceFileName),
    Dependency(ScienceFileName),
    Release(AncillaryFileName),
}

/// Result of trying one grammar: either its pattern did not fit at all, or it fit and a field was wrong.
/// Only the second kind says something useful about the name, so it wins when every grammar fails.
pub(crate) enum Attempt {
    NoMatch,
    Invalid(FileNameError),
}

impl ImapFileName {
    /// Classifies a bare file name in the client's order: science, ancillary, SPICE, quicklook, dependency,
    /// release; the first grammar that accepts it wins.
    pub fn parse(name: &str) -> Result<ImapFileName, FileNameError> {
        check_bare_name(name)?;
        // The science grammar is shared by three kinds; match it once and pick the kind by extension.
        let science_shaped = science::match_grammar(name);
        if let Ok(parsed) = &science_shaped
            && ScienceFamily::Science.allows(&parsed.extension)
        {
            return Ok(ImapFileName::Science(parsed.clone()));
        }
        let ancillary = ancillary::match_grammar(AncillaryFamily::Ancillary, name);
        if let Ok(parsed) = ancillary {
            return Ok(ImapFileName::Ancillary(parsed));
        }
        let spice = spice::match_grammar(name);
        if let Ok(parsed) = spice {
            return Ok(ImapFileName::Spice(parsed));
        }
        if let Ok(parsed) = &science_shaped {
            for family in [ScienceFamily::Quicklook, ScienceFamily::Dependency] {
                if family.allows(&parsed.extension) {
                    let named = ScienceFileName { family, ..parsed.clone() };
                    return Ok(named.into());
                }
            }
        }
        let release = ancillary::match_grammar(AncillaryFamily::Release, name);
        if let Ok(parsed) = release {
            return Ok(ImapFileName::Release(parsed));
        }

        // Nothing accepted the name: report the first grammar, in classification order, that recognised its
        // shape. An unknown data level is weak evidence (the third field may be an ancillary descriptor), so
        // it only wins when no other grammar recognised the shape.
        let science_extension_error = science_shaped.as_ref().ok().map(|parsed| FileNameError::ExtensionNotAllowed {
            name: name.to_string(),
            extension: parsed.extension.clone(),
            kind: "science, quicklook or dependency",
            allowed: science::SCIENCE_GRAMMAR_EXTENSIONS,
        });
        let candidates: Vec<FileNameError> = [science_shaped.err(), ancillary.err(), spice.err()]
            .into_iter()
            .flatten()
            .filter_map(|attempt| match attempt {
                Attempt::Invalid(error) => Some(error),
                Attempt::NoMatch => None,
            })
            .chain(science_extension_error)
            .chain(release.err().and_then(|attempt| match attempt {
                Attempt::Invalid(error) => Some(error),
                Attempt::NoMatch => None,
            }))
            .collect();
        let is_weak = |error: &FileNameError| matches!(error, FileNameError::UnknownDataLevel { .. });
        let strongest = candidates.iter().position(|error| !is_weak(error)).unwrap_or(0);
        match candidates.into_iter().nth(strongest) {
            Some(error) => Err(error),
            None => {
                Err(FileNameError::Unrecognised { name: name.to_string(), reason: diagnose::why_unrecognised(name) })
            }
        }
    }

    pub fn kind(&self) -> FileKind {
        match self {
            ImapFileName::Science(_) => FileKind::Science,
            ImapFileName::Ancillary(_) => FileKind::Ancillary,
            ImapFileName::Spice(_) => FileKind::Spice,
            ImapFileName::Quicklook(_) => FileKind::Quicklook,
            ImapFileName::Dependency(_) => FileKind::Dependency,
            ImapFileName::Release(_) => FileKind::Release,
        }
    }

    /// The canonical file name (identical to the parsed text).
    pub fn file_name(&self) -> String {
        match self {
            ImapFileName::Science(name) | ImapFileName::Quicklook(name) | ImapFileName::Dependency(name) => {
                name.file_name()
            }
            ImapFileName::Ancillary(name) | ImapFileName::Release(name) => name.file_name(),
            ImapFileName::Spice(name) => name.file_name().to_string(),
        }
    }

    /// The archive key (spec 2.7), relative to the data directory and equal to the S3 key.
    pub fn archive_path(&self) -> String {
        match self {
            ImapFileName::Science(name) | ImapFileName::Quicklook(name) | ImapFileName::Dependency(name) => {
                name.archive_path()
            }
            ImapFileName::Ancillary(name) | ImapFileName::Release(name) => name.archive_path(),
            ImapFileName::Spice(name) => name.archive_path(),
        }
    }

    /// `None` for SPICE kernels, which belong to no instrument.
    pub fn instrument(&self) -> Option<&str> {
        self.science_like()
            .map(|name| name.instrument.as_str())
            .or_else(|| self.ancillary_like().map(|name| name.instrument.as_str()))
    }

    /// Only science-grammar names have a data level.
    pub fn data_level(&self) -> Option<&str> {
        self.science_like().map(|name| name.data_level.as_str())
    }

    pub fn descriptor(&self) -> Option<&str> {
        self.science_like()
            .map(|name| name.descriptor.as_str())
            .or_else(|| self.ancillary_like().map(|name| name.descriptor.as_str()))
    }

    pub fn start_date(&self) -> Option<Date> {
        match self {
            ImapFileName::Spice(name) => name.start_date,
            _ => self
                .science_like()
                .map(|name| name.start_date)
                .or_else(|| self.ancillary_like().map(|name| name.start_date)),
        }
    }

    /// Ancillary/release end date, or a SPICE kernel's end date; science-grammar names have none.
    pub fn end_date(&self) -> Option<Date> {
        match self {
            ImapFileName::Spice(name) => name.end_date,
            _ => self.ancillary_like().and_then(|name| name.end_date),
        }
    }

    /// The version as written: `vMMM.mmmm`/`vNNN`, or a SPICE kernel's version digits (some have none).
    pub fn version_text(&self) -> Option<String> {
        match self {
            ImapFileName::Spice(name) => name.version.clone(),
            _ => self
                .science_like()
                .map(|name| name.version.to_string())
                .or_else(|| self.ancillary_like().map(|name| name.version.to_string())),
        }
    }

    pub fn repointing(&self) -> Option<u32> {
        match self {
            ImapFileName::Spice(name) => name.repointing,
            _ => self
                .science_like()
                .and_then(|name| name.repointing)
                .or_else(|| self.ancillary_like().and_then(|name| name.repointing)),
        }
    }

    /// The Carrington rotation of a science-like name (`-crNNNNN`).
    pub fn carrington_rotation(&self) -> Option<u32> {
        self.science_like().and_then(|name| name.cr)
    }

    /// The file extension; for SPICE kernels only the last suffix (`bc` for `x.ah.bc`).
    pub fn extension(&self) -> &str {
        match self {
            ImapFileName::Science(name) | ImapFileName::Quicklook(name) | ImapFileName::Dependency(name) => {
                &name.extension
            }
            ImapFileName::Ancillary(name) | ImapFileName::Release(name) => &name.extension,
            ImapFileName::Spice(name) => &name.extension,
        }
    }

    fn science_like(&self) -> Option<&ScienceFileName> {
        match self {
            ImapFileName::Science(name) | ImapFileName::Quicklook(name) | ImapFileName::Dependency(name) => Some(name),
            _ => None,
        }
    }

    fn ancillary_like(&self) -> Option<&AncillaryFileName> {
        match self {
            ImapFileName::Ancillary(name) | ImapFileName::Release(name) => Some(name),
            _ => None,
        }
    }
}

impl From<ScienceFileName> for ImapFileName {
    fn from(name: ScienceFileName) -> ImapFileName {
        match name.family {
            ScienceFamily::Science => ImapFileName::Science(name),
            ScienceFamily::Quicklook => ImapFileName::Quicklook(name),
            ScienceFamily::Dependency => ImapFileName::Dependency(name),
        }
    }
}

impl From<AncillaryFileName> for ImapFileName {
    fn from(name: AncillaryFileName) -> ImapFileName {
        match name.family {
            AncillaryFamily::Ancillary => ImapFileName::Ancillary(name),
            AncillaryFamily::Release => ImapFileName::Release(name),
        }
    }
}

impl std::fmt::Display for ImapFileName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.file_name())
    }
}

impl std::str::FromStr for ImapFileName {
    type Err = FileNameError;
    fn from_str(name: &str) -> Result<ImapFileName, FileNameError> {
        ImapFileName::parse(name)
    }
}

/// The grammars describe a single path component. Upstream only ever sees `Path(name).name`, so a name with a
/// separator can never be valid there. Beyond upstream, backslashes, `%` and control characters are refused
/// so that every accepted name yields a key [`parse_archive_key`] accepts, and no name can smuggle a newline
/// past an end anchor or into a log line.
/// Refuses an uploaded science (or quicklook, dependency) file at the last minor version: the
/// processor makes each new version of a product one minor above the newest, so such an upload
/// would leave no version for any later processing of that product and day.
pub fn refuse_upload_at_last_version(name: &ImapFileName) -> Result<(), FileNameError> {
    match name {
        ImapFileName::Science(science) | ImapFileName::Quicklook(science) | ImapFileName::Dependency(science)
            if science.version.is_last_minor() =>
        {
            Err(FileNameError::VersionAtLimit { name: name.file_name(), version: science.version.to_string() })
        }
        _ => Ok(()),
    }
}

/// Longest name accepted: what common file systems allow for one path component, and far more
/// than any grammar here produces, so a hostile megabyte-long name is refused before matching.
pub const MAX_NAME_BYTES: usize = 255;

pub(crate) fn check_bare_name(name: &str) -> Result<(), FileNameError> {
    if name.len() > MAX_NAME_BYTES {
        // The error would otherwise repeat the whole hostile name.
        let shown: String = name.chars().take(64).collect();
        let reason = "longer than 255 bytes";
        return Err(FileNameError::NotABareName { name: format!("{shown}..."), reason });
    }
    let refuse = |reason| Err(FileNameError::NotABareName { name: name.to_string(), reason });
    if name.is_empty() {
        refuse("empty")
    } else if name.contains('/') {
        refuse("contains \"/\"")
    } else if name.contains('\\') {
        refuse("contains \"\\\"")
    } else if name.contains('%') {
        refuse("contains \"%\"")
    } else if name.chars().any(char::is_control) {
        refuse("contains a control character")
    } else {
        Ok(())
    }
}

/// A date field of a name: exactly the digits the pattern captured, checked like Python's strptime.
pub(crate) fn parse_name_date(name: &str, text: &str) -> Result<Date, FileNameError> {
    Date::parse_query_date(text)
        .map_err(|_| FileNameError::NoSuchDay { name: name.to_string(), date: text.to_string() })
}

/// Compiles one of this module's fixed patterns.
pub(crate) fn fixed_regex(pattern: &str) -> regex_lite::Regex {
    regex_lite::Regex::new(pattern).unwrap_or_else(|error| panic!("fixed pattern {pattern:?} is invalid: {error}"))
}
