//! The one error type of the file-name grammar: every message names the file and says what is wrong.

/// Why a file name, version or archive key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    #[error("{name:?}: not a bare file name ({reason})")]
    NotABareName { name: String, reason: &'static str },

    /// No grammar matched the name's shape; `reason` is the best guess at what is off.
    #[error("{name}: {reason}")]
    Unrecognised { name: String, reason: String },

    #[error("{name}: unknown instrument \"{instrument}\" (valid: {})", super::VALID_INSTRUMENTS.join(", "))]
    UnknownInstrument { name: String, instrument: String },

    #[error("{name}: unknown data level \"{data_level}\" (valid: {})", super::VALID_DATALEVELS.join(", "))]
    UnknownDataLevel { name: String, data_level: String },

    #[error("{name}: no such calendar day {date}")]
    NoSuchDay { name: String, date: String },

    #[error("{name}: extension \"{extension}\" not allowed for {kind} files (allowed: {})", allowed.join(", "))]
    ExtensionNotAllowed { name: String, extension: String, kind: &'static str, allowed: &'static [&'static str] },

    #[error("{name}: a repointing and a carrington rotation were both given; at most one is allowed")]
    RepointingAndCarringtonRotation { name: String },

    #[error("{name}: an end date and a repointing were both given; at most one is allowed")]
    EndDateAndRepointing { name: String },

    #[error("{name}: {field} {value} does not fit in 5 digits")]
    IntervalTooLarge { name: String, field: &'static str, value: u32 },

    #[error("{name}: unknown spice kernel type \"{token}\" (known: {})", super::spice::SPICE_TYPE_TOKENS.join(", "))]
    UnknownSpiceType { name: String, token: String },

    #[error("{text:?}: not a version (expected vNNN or vNNN.NNNN)")]
    InvalidVersion { text: String },

    #[error("{name}: version {version} must be the legacy form vNNN here")]
    VersionMustBeMinorOnly { name: String, version: String },

    #[error(
        "{name}: version {version} is the last minor version the file-name format allows, so no \
         reprocessing could ever follow it; upload it with a lower minor version"
    )]
    VersionAtLimit { name: String, version: String },

    #[error("{key:?}: unsafe archive key ({reason})")]
    UnsafeKey { key: String, reason: &'static str },

    #[error("{key}: not where this file belongs (expected {expected})")]
    KeyNotCanonical { key: String, expected: String },
}
