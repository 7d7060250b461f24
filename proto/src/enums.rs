//! The lowercase text of each contract enum (`queued`, `science`, `hard_no_trigger`, ...): what the
//! database columns hold and what people read in REST JSON (each enum serializes as its text) and
//! logs. One function each way per enum; unknown text is refused with the list of valid values.

use crate::pb::{FileKind, JobState, Relationship, SourceType};

/// Text that names no value of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?} (expected one of: {})", expected.join(", "))]
pub struct UnknownText {
    pub what: &'static str,
    pub text: String,
    pub expected: &'static [&'static str],
}

/// Gives an enum `text()` and `from_text()`. The texts are the value names without the enum's
/// prefix, in lowercase; a test holds them to that.
macro_rules! lowercase_text {
    ($enum:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $enum {
            /// Every value with a meaning, in declaration order.
            pub const ALL: &'static [$enum] = &[$($enum::$variant),+];
            const TEXTS: &'static [&'static str] = &[$($text),+];

            /// The lowercase text of this value; empty for `Unspecified`.
            pub fn text(self) -> &'static str {
                match self {
                    $enum::Unspecified => "",
                    $($enum::$variant => $text,)+
                }
            }

            /// The value named by `text`; `Unspecified` has no text and is never parsed.
            pub fn from_text(text: &str) -> Result<$enum, UnknownText> {
                match text {
                    $($text => Ok($enum::$variant),)+
                    _ => Err(UnknownText { what: $what, text: text.to_string(), expected: $enum::TEXTS }),
                }
            }

            /// The text of a wire value (`i32` in generated messages); empty when unspecified or unknown.
            pub fn text_of(value: i32) -> &'static str {
                $enum::try_from(value).map($enum::text).unwrap_or("")
            }
        }

        impl std::fmt::Display for $enum {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.text())
            }
        }

        impl serde::Serialize for $enum {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.text())
            }
        }
    };
}

lowercase_text!(FileKind, "file kind", {
    Science => "science",
    Ancillary => "ancillary",
    Spice => "spice",
    Quicklook => "quicklook",
    Dependency => "dependency",
    Release => "release",
});

lowercase_text!(JobState, "job state", {
    Queued => "queued",
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Dead => "dead",
});

lowercase_text!(Relationship, "relationship", {
    Hard => "hard",
    HardNoTrigger => "hard_no_trigger",
    SoftTrigger => "soft_trigger",
    SoftNoTrigger => "soft_no_trigger",
});

lowercase_text!(SourceType, "source type", {
    Science => "science",
    Ancillary => "ancillary",
    Spice => "spice",
    Spin => "spin",
    Repoint => "repoint",
});

impl From<imap_filename::FileKind> for FileKind {
    fn from(kind: imap_filename::FileKind) -> FileKind {
        match kind {
            imap_filename::FileKind::Science => FileKind::Science,
            imap_filename::FileKind::Ancillary => FileKind::Ancillary,
            imap_filename::FileKind::Spice => FileKind::Spice,
            imap_filename::FileKind::Quicklook => FileKind::Quicklook,
            imap_filename::FileKind::Dependency => FileKind::Dependency,
            imap_filename::FileKind::Release => FileKind::Release,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `values` are all the declared values but Unspecified; each one's text is its protobuf name
    /// without `prefix`, lowercased, and parses back.
    fn check<E: Copy + std::fmt::Debug + PartialEq>(
        values: &[E],
        prefix: &str,
        from_wire: impl Fn(i32) -> Option<E>,
        name: impl Fn(&E) -> &'static str,
        text: impl Fn(E) -> &'static str,
        parse: impl Fn(&str) -> Result<E, UnknownText>,
    ) {
        let declared: Vec<E> = (1..).map_while(&from_wire).collect();
        assert_eq!(declared, values);
        for &value in values {
            assert_eq!(text(value), name(&value).strip_prefix(prefix).unwrap().to_lowercase(), "{value:?}");
            assert_eq!(parse(text(value)), Ok(value));
        }
    }

    #[test]
    fn every_value_has_its_protobuf_name_as_lowercase_text() {
        let wire = |value| FileKind::try_from(value).ok();
        check(FileKind::ALL, "FILE_KIND_", wire, FileKind::as_str_name, FileKind::text, FileKind::from_text);
        let wire = |value| JobState::try_from(value).ok();
        check(JobState::ALL, "JOB_STATE_", wire, JobState::as_str_name, JobState::text, JobState::from_text);
        let wire = |value| Relationship::try_from(value).ok();
        let (name, text) = (Relationship::as_str_name, Relationship::text);
        check(Relationship::ALL, "RELATIONSHIP_", wire, name, text, Relationship::from_text);
        let wire = |value| SourceType::try_from(value).ok();
        check(SourceType::ALL, "SOURCE_TYPE_", wire, SourceType::as_str_name, SourceType::text, SourceType::from_text);
    }

    #[test]
    fn unknown_text_is_refused_with_the_valid_values() {
        let error = JobState::from_text("paused").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown job state \"paused\" (expected one of: queued, running, succeeded, failed, dead)"
        );
        assert!(FileKind::from_text("").is_err());
        assert_eq!(JobState::text_of(99), "");
        assert_eq!(FileKind::text_of(FileKind::Spice as i32), "spice");
    }

    #[test]
    fn the_grammar_kinds_map_onto_the_wire_kinds() {
        use imap_filename::FileKind as Grammar;
        for kind in [
            Grammar::Science,
            Grammar::Ancillary,
            Grammar::Spice,
            Grammar::Quicklook,
            Grammar::Dependency,
            Grammar::Release,
        ] {
            assert_eq!(FileKind::from(kind).text(), kind.as_str());
        }
    }
}
