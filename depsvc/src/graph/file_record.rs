//! File records as the graph sees them, and the file streams they belong to.

use super::Date;
use super::model::{InputSource, ProductKey};

/// A file version `(major, minor)`: `vNNN` has no major; any version without a major sorts
/// before any with one, which the tuple order of `Option` already gives.
pub type Version = (Option<u16>, u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Science,
    Ancillary,
    Spice,
    Spin,
    Repoint,
}

/// What the graph needs to know about an indexed file.
///
/// Conventions per kind: ancillary files have `data_level = "ancillary"`; SPICE files have
/// `instrument = "spice"` and the kernel type as `descriptor`; spin and repoint files use
/// `"spin"` / `"repoint"` everywhere. Science `end_date` is normally `None` (one day); for the
/// other kinds `None` means valid from `start_date` on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileRecord {
    pub file_name: String,
    pub kind: FileKind,
    pub instrument: String,
    pub data_level: String,
    pub descriptor: String,
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub repointing: Option<u32>,
    pub version: Version,
}

impl FileRecord {
    /// The last day the file covers, `None` when open-ended.
    pub fn coverage_end(&self) -> Option<Date> {
        match (self.kind, self.end_date) {
            (_, Some(end)) => Some(end),
            (FileKind::Science, None) => Some(self.start_date),
            (_, None) => None,
        }
    }

    pub(super) fn source_key(&self) -> SourceKey {
        match self.kind {
            FileKind::Science => {
                SourceKey::Science(ProductKey::new(&self.instrument, &self.data_level, &self.descriptor))
            }
            FileKind::Ancillary => {
                SourceKey::Ancillary { instrument: self.instrument.clone(), descriptor: self.descriptor.clone() }
            }
            FileKind::Spice => SourceKey::Spice(self.descriptor.clone()),
            FileKind::Spin => SourceKey::Spin,
            FileKind::Repoint => SourceKey::Repoint,
        }
    }
}

/// One stream of files, as indexed by catalogs and trigger tables (a SPICE input with several
/// kernel types is several streams).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum SourceKey {
    Science(ProductKey),
    Ancillary { instrument: String, descriptor: String },
    Spice(String),
    Spin,
    Repoint,
}

impl InputSource {
    pub(super) fn source_keys(&self) -> Vec<SourceKey> {
        match self {
            InputSource::Science(key) => vec![SourceKey::Science(key.clone())],
            InputSource::Ancillary { instrument, descriptor } => {
                vec![SourceKey::Ancillary { instrument: instrument.clone(), descriptor: descriptor.clone() }]
            }
            InputSource::Spice { kernel_types, .. } => kernel_types.iter().cloned().map(SourceKey::Spice).collect(),
            InputSource::Spin => vec![SourceKey::Spin],
            InputSource::Repoint => vec![SourceKey::Repoint],
        }
    }

    /// Whether a file belongs to this source.
    pub fn matches(&self, file: &FileRecord) -> bool {
        match self {
            InputSource::Science(key) => {
                file.kind == FileKind::Science
                    && file.instrument == key.instrument
                    && file.data_level == key.data_level
                    && file.descriptor == key.descriptor
            }
            InputSource::Ancillary { instrument, descriptor } => {
                file.kind == FileKind::Ancillary && &file.instrument == instrument && &file.descriptor == descriptor
            }
            InputSource::Spice { kernel_types, .. } => {
                file.kind == FileKind::Spice && kernel_types.iter().any(|kernel_type| kernel_type == &file.descriptor)
            }
            InputSource::Spin => file.kind == FileKind::Spin,
            InputSource::Repoint => file.kind == FileKind::Repoint,
        }
    }
}
