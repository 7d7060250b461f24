//! Where candidate files come from: the [`Catalog`] trait and an in-memory implementation.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Date;
use super::file_record::{FileRecord, SourceKey};
use super::resolve::{InputQuery, QueryRange, in_range};

/// Anything that can list the files that may answer a query. Returning a superset is fine:
/// `Graph::select` filters again and keeps the newest version of each series.
pub trait Catalog {
    fn candidates(&self, query: &InputQuery) -> Vec<FileRecord>;
}

/// All files of one stream, indexed by start date and by repointing.
#[derive(Debug, Default)]
struct StreamFiles {
    by_start: BTreeMap<Date, Vec<FileRecord>>,
    /// Start dates of the files of each repointing.
    starts_by_repointing: BTreeMap<u32, BTreeSet<Date>>,
    /// Longest `end - start` of bounded files, so a date query knows how far back to look.
    longest_bounded_span_days: i32,
    /// Start dates of open-ended files, which may start long before any query.
    open_ended_starts: BTreeSet<Date>,
}

impl StreamFiles {
    fn insert(&mut self, file: FileRecord) {
        match file.coverage_end() {
            Some(end) => {
                let span = end.days_since_epoch() - file.start_date.days_since_epoch();
                self.longest_bounded_span_days = self.longest_bounded_span_days.max(span);
            }
            None => {
                self.open_ended_starts.insert(file.start_date);
            }
        }
        if let Some(repointing) = file.repointing {
            self.starts_by_repointing.entry(repointing).or_default().insert(file.start_date);
        }
        self.by_start.entry(file.start_date).or_default().push(file);
    }

    fn collect(&self, range: &QueryRange, found: &mut Vec<FileRecord>) {
        let mut take_from = |start: &Date| {
            if let Some(files) = self.by_start.get(start) {
                // Older versions of a series can never be chosen (`Graph::select` keeps the
                // newest), so they are not copied out: a season map reads a year of files.
                let in_range_files: Vec<&FileRecord> = files.iter().filter(|file| in_range(range, file)).collect();
                found.extend(
                    in_range_files
                        .iter()
                        .filter(|file| {
                            !in_range_files.iter().any(|other| {
                                other.descriptor == file.descriptor
                                    && other.repointing == file.repointing
                                    && other.version > file.version
                            })
                        })
                        .map(|file| (*file).clone()),
                );
            }
        };
        match range {
            QueryRange::Dates(dates) => {
                let earliest_start = dates.first.add_days(-self.longest_bounded_span_days);
                for start in self.by_start.range(earliest_start..=dates.last).map(|(start, _)| start) {
                    take_from(start);
                }
                // Open-ended files starting before that are still valid now.
                self.open_ended_starts.range(..earliest_start).for_each(&mut take_from);
            }
            QueryRange::Repointings(repointings) => {
                let starts: BTreeSet<Date> = self
                    .starts_by_repointing
                    .range(repointings.first..=repointings.last)
                    .flat_map(|(_, starts)| starts.iter().copied())
                    .collect();
                starts.iter().for_each(take_from);
            }
        }
    }
}

/// An in-memory catalog: files indexed by stream (science instrument/level/descriptor,
/// ancillary instrument/descriptor, SPICE kernel type, spin, repoint), then by date.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    streams: HashMap<SourceKey, StreamFiles>,
    file_count: usize,
}

impl MemoryCatalog {
    pub fn new() -> MemoryCatalog {
        MemoryCatalog::default()
    }

    pub fn insert(&mut self, file: FileRecord) {
        self.streams.entry(file.source_key()).or_default().insert(file);
        self.file_count += 1;
    }

    pub fn len(&self) -> usize {
        self.file_count
    }

    pub fn is_empty(&self) -> bool {
        self.file_count == 0
    }

    /// A rough heap size: file records and their strings plus index entries.
    pub fn approximate_heap_bytes(&self) -> usize {
        const INDEX_ENTRY_BYTES: usize = 48;
        let file_bytes: usize = self
            .streams
            .values()
            .flat_map(|stream| stream.by_start.values())
            .flat_map(|files| files.iter())
            .map(|file| {
                std::mem::size_of::<FileRecord>()
                    + file.file_name.capacity()
                    + file.instrument.capacity()
                    + file.data_level.capacity()
                    + file.descriptor.capacity()
            })
            .sum();
        let index_entries: usize =
            self.streams.values().map(|stream| stream.by_start.len() + stream.starts_by_repointing.len()).sum();
        file_bytes + index_entries * INDEX_ENTRY_BYTES
    }
}

impl Extend<FileRecord> for MemoryCatalog {
    fn extend<I: IntoIterator<Item = FileRecord>>(&mut self, files: I) {
        files.into_iter().for_each(|file| self.insert(file));
    }
}

impl FromIterator<FileRecord> for MemoryCatalog {
    fn from_iter<I: IntoIterator<Item = FileRecord>>(files: I) -> MemoryCatalog {
        let mut catalog = MemoryCatalog::new();
        catalog.extend(files);
        catalog
    }
}

impl Catalog for MemoryCatalog {
    fn candidates(&self, query: &InputQuery) -> Vec<FileRecord> {
        let mut found = Vec::new();
        for source_key in query.source.source_keys() {
            if let Some(stream) = self.streams.get(&source_key) {
                stream.collect(&query.range, &mut found);
            }
        }
        found
    }
}
