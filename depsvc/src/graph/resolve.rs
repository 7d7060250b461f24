//! "For product P at time T, which exact files are its inputs, or what is missing?"
//!
//! Two pure phases, so the lookup in between can be an in-memory catalog or an async call to
//! the file tracker: [`Graph::input_queries`] says what to look for, the caller finds
//! candidates for each query, and [`Graph::select`] decides.
//!
//! Selection rules:
//! - candidates are re-filtered (source and range), so a lookup may return a superset;
//! - of each file series only the newest version is kept. A series is the same
//!   instrument/level/descriptor/start date/repointing for science files, and the same
//!   descriptor and start date for SPICE files;
//! - ancillary files follow the mission's convention (imap_processing's "Ancillary Files"
//!   page): a file is valid from its start date to its end date, or on when it has none, and
//!   each day of the range uses the highest version valid that day (every new file of a
//!   descriptor takes the next version), so a correction for a few days takes over exactly those
//!   days and a new open-ended file everything from its start;
//! - windows that pick among the files found keep only those picked: the `count` nearest days
//!   (or repointings) that have files, or the `count` most recent start dates at or before the
//!   end of the product's period (see [`TimeWindow`] for each window's exact reach);
//! - a required input (`Hard`, `HardNoTrigger`) needs at least one file in its window, or,
//!   with `every_day = true`, a file covering every day (every repointing) of the window.
//!   A SPICE input needs that for each of its kernel types;
//! - optional inputs never block; they are listed only when files were found.

use std::collections::HashMap;
use std::fmt;

use super::file_record::FileRecord;
use super::model::{Graph, InputSource, Product, ProductKey, ProductTime, Relationship, TimeWindow};
use super::window::{DateRange, RepointingRange};
use super::{Catalog, Date, GraphError};

/// Where in time to look for an input's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryRange {
    /// Files whose coverage meets these dates.
    Dates(DateRange),
    /// Files whose repointing is in this range.
    Repointings(RepointingRange),
}

impl fmt::Display for QueryRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryRange::Dates(dates) => write!(formatter, "{dates}"),
            QueryRange::Repointings(repointings) => write!(formatter, "{repointings}"),
        }
    }
}

/// What to look for to resolve one input of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputQuery {
    /// Position of the input in the product's input list.
    pub input_index: usize,
    pub source: InputSource,
    pub relationship: Relationship,
    pub range: QueryRange,
}

/// The files chosen for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedInput {
    pub source: InputSource,
    pub relationship: Relationship,
    /// Newest version of each series, ordered by start date.
    pub files: Vec<FileRecord>,
}

/// What is absent for a required input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Absent {
    /// No file at all in the range.
    AnyFile,
    /// These days have no file (`every_day` inputs).
    Days(Vec<Date>),
    /// These repointings have no file (`every_day` repointing inputs).
    Repointings(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingInput {
    /// The source (for SPICE, the one kernel type that is missing).
    pub source: InputSource,
    pub range: QueryRange,
    pub absent: Absent,
}

impl fmt::Display for MissingInput {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.absent {
            Absent::AnyFile => write!(formatter, "{}: no file in {}", self.source, self.range),
            Absent::Days(days) => {
                let days: Vec<String> = days.iter().map(|day| day.yyyymmdd()).collect();
                write!(formatter, "{}: no file for days {}", self.source, days.join(", "))
            }
            Absent::Repointings(repointings) => {
                let repointings: Vec<String> = repointings.iter().map(u32::to_string).collect();
                write!(formatter, "{}: no file for repointings {}", self.source, repointings.join(", "))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Every required input has its files: the job can run with exactly these.
    Ready { inputs: Vec<ResolvedInput> },
    /// Required inputs are missing; a later arrival will re-trigger the check.
    Waiting { missing: Vec<MissingInput> },
}

impl Resolution {
    pub fn is_ready(&self) -> bool {
        matches!(self, Resolution::Ready { .. })
    }
}

impl Graph {
    /// Phase one: what to look for, one query per input of `product`, in input order.
    ///
    /// The time's date is first moved to the product's canonical date (a monthly product
    /// asked for the 17th is the product of the 1st).
    pub fn input_queries(&self, product_key: &ProductKey, time: ProductTime) -> Result<Vec<InputQuery>, GraphError> {
        let product = self.product(product_key).ok_or_else(|| GraphError::UnknownProduct(product_key.clone()))?;
        let product_date = product.cadence.canonical_date(time.date);
        product
            .inputs
            .iter()
            .enumerate()
            .map(|(input_index, input)| {
                let range = match input.window.repointing_reach() {
                    Some((before, after)) => {
                        let repointing = time
                            .repointing
                            .ok_or_else(|| GraphError::RepointingRequired { product: product_key.clone() })?;
                        QueryRange::Repointings(RepointingRange {
                            first: repointing.saturating_sub(before),
                            last: repointing.saturating_add(after),
                        })
                    }
                    None => QueryRange::Dates(input.window.input_dates(product.cadence, product_date)),
                };
                Ok(InputQuery { input_index, source: input.source.clone(), relationship: input.relationship, range })
            })
            .collect()
    }

    /// Phase two: given the candidates found for each query (same order as
    /// `input_queries`), pick the files or say what is missing.
    pub fn select(
        &self,
        product_key: &ProductKey,
        time: ProductTime,
        candidates_per_query: &[Vec<FileRecord>],
    ) -> Result<Resolution, GraphError> {
        let queries = self.input_queries(product_key, time)?;
        if queries.len() != candidates_per_query.len() {
            return Err(GraphError::CandidateCountMismatch {
                expected: queries.len(),
                got: candidates_per_query.len(),
            });
        }
        let product: &Product =
            self.product(product_key).ok_or_else(|| GraphError::UnknownProduct(product_key.clone()))?;
        let period = product.cadence.period(time.date);
        let mut inputs = Vec::new();
        let mut missing = Vec::new();
        for (query, candidates) in queries.iter().zip(candidates_per_query) {
            let input = &product.inputs[query.input_index];
            let every_day = input.every_day && !input.window.picks_among_files();
            let files = pick_for_window(input.window, period, time.repointing, files_in_effect(query, candidates));
            if query.relationship.is_required() {
                missing.extend(missing_parts(query, every_day, &files));
            }
            if query.relationship.is_required() || !files.is_empty() {
                inputs.push(ResolvedInput { source: query.source.clone(), relationship: query.relationship, files });
            }
        }
        if missing.is_empty() { Ok(Resolution::Ready { inputs }) } else { Ok(Resolution::Waiting { missing }) }
    }
}

/// Both phases over a catalog.
pub fn resolve(
    graph: &Graph,
    catalog: &impl Catalog,
    product: &ProductKey,
    time: ProductTime,
) -> Result<Resolution, GraphError> {
    let queries = graph.input_queries(product, time)?;
    let candidates: Vec<Vec<FileRecord>> = queries.iter().map(|query| catalog.candidates(query)).collect();
    graph.select(product, time, &candidates)
}

/// Whether a file of the right source falls in the query's range.
pub(super) fn in_range(range: &QueryRange, file: &FileRecord) -> bool {
    match range {
        QueryRange::Dates(dates) => dates.overlaps(file.start_date, file.coverage_end()),
        QueryRange::Repointings(repointings) => {
            file.repointing.is_some_and(|repointing| repointings.contains(repointing))
        }
    }
}

/// The candidates the query uses: for ancillary inputs looked for by date, the file in force on
/// each day; otherwise the newest version of each series.
fn files_in_effect(query: &InputQuery, candidates: &[FileRecord]) -> Vec<FileRecord> {
    match (&query.source, query.range) {
        (InputSource::Ancillary { .. }, QueryRange::Dates(dates)) => ancillary_in_force(query, dates, candidates),
        _ => newest_of_each_series(query, candidates),
    }
}

/// For each day of `dates`, the highest version among the ancillary files valid that day (the
/// later start breaks a tie, which the mission's versioning never makes); each file once, by start.
fn ancillary_in_force(query: &InputQuery, dates: DateRange, candidates: &[FileRecord]) -> Vec<FileRecord> {
    let matching: Vec<&FileRecord> = candidates
        .iter()
        .filter(|file| query.source.matches(file) && dates.overlaps(file.start_date, file.coverage_end()))
        .collect();
    let mut chosen: Vec<&FileRecord> = Vec::new();
    for day in dates.days() {
        let in_force = matching
            .iter()
            .filter(|file| file.start_date <= day && file.coverage_end().is_none_or(|end| day <= end))
            .max_by(|left, right| {
                (left.version, left.start_date, &left.file_name).cmp(&(
                    right.version,
                    right.start_date,
                    &right.file_name,
                ))
            });
        if let Some(file) = in_force
            && !chosen.iter().any(|already| already.file_name == file.file_name)
        {
            chosen.push(file);
        }
    }
    let mut files: Vec<FileRecord> = chosen.into_iter().cloned().collect();
    files.sort_by(|left, right| (left.start_date, &left.file_name).cmp(&(right.start_date, &right.file_name)));
    files
}

fn newest_of_each_series(query: &InputQuery, candidates: &[FileRecord]) -> Vec<FileRecord> {
    // Science series also differ by level and instrument, but the source fixes those.
    let mut newest_by_series: HashMap<(&str, Date, Option<u32>), &FileRecord> = HashMap::new();
    for file in candidates.iter().filter(|file| query.source.matches(file) && in_range(&query.range, file)) {
        let series = (file.descriptor.as_str(), file.start_date, file.repointing);
        newest_by_series
            .entry(series)
            .and_modify(|newest| {
                if file.version > newest.version {
                    *newest = file;
                }
            })
            .or_insert(file);
    }
    let mut files: Vec<FileRecord> = newest_by_series.into_values().cloned().collect();
    files.sort_by(|left, right| {
        (left.start_date, left.repointing, &left.descriptor, &left.file_name).cmp(&(
            right.start_date,
            right.repointing,
            &right.descriptor,
            &right.file_name,
        ))
    });
    files
}

/// Keeps the files a nearest or last-processed window picks; other windows keep all.
fn pick_for_window(
    window: TimeWindow,
    period: DateRange,
    repointing: Option<u32>,
    files: Vec<FileRecord>,
) -> Vec<FileRecord> {
    match window {
        TimeWindow::NearestDays { count } => {
            // Days apart from the period; a file overlapping it is at distance 0.
            let distance = |file: &FileRecord| {
                let end = file.coverage_end().unwrap_or(period.last).max(file.start_date);
                if end < period.first {
                    period.first.days_since_epoch() - end.days_since_epoch()
                } else if file.start_date > period.last {
                    file.start_date.days_since_epoch() - period.last.days_since_epoch()
                } else {
                    0
                }
            };
            let mut starts: Vec<(i32, Date)> = files.iter().map(|file| (distance(file), file.start_date)).collect();
            keep_first_units(&mut starts, count, files, |file| file.start_date)
        }
        TimeWindow::NearestRepointings { count } => {
            let target = i64::from(repointing.unwrap_or(0));
            let mut units: Vec<(i64, u32)> = files
                .iter()
                .filter_map(|file| file.repointing)
                .map(|number| ((i64::from(number) - target).abs(), number))
                .collect();
            keep_first_units(&mut units, count, files, |file| file.repointing.unwrap_or(u32::MAX))
        }
        TimeWindow::LastProcessed { count } => {
            // Most recent first: order by the negated day number.
            let mut starts: Vec<(i32, Date)> =
                files.iter().map(|file| (-file.start_date.days_since_epoch(), file.start_date)).collect();
            keep_first_units(&mut starts, count, files, |file| file.start_date)
        }
        _ => files,
    }
}

/// Sorts `(rank, unit)` pairs, keeps the first `count` distinct units (a unit is a day or a
/// repointing; ties in rank go to the smaller unit), then the files of those units.
fn keep_first_units<Rank: Ord + Copy, Unit: Ord + Copy>(
    ranked: &mut Vec<(Rank, Unit)>,
    count: u32,
    files: Vec<FileRecord>,
    unit_of: impl Fn(&FileRecord) -> Unit,
) -> Vec<FileRecord> {
    ranked.sort_unstable();
    ranked.dedup_by_key(|(_, unit)| *unit);
    let mut chosen: Vec<Unit> = Vec::new();
    for (_, unit) in ranked.iter() {
        if chosen.len() == count as usize {
            break;
        }
        if !chosen.contains(unit) {
            chosen.push(*unit);
        }
    }
    files.into_iter().filter(|file| chosen.contains(&unit_of(file))).collect()
}

fn missing_parts(query: &InputQuery, every_day: bool, files: &[FileRecord]) -> Vec<MissingInput> {
    let parts: Vec<(InputSource, Vec<&FileRecord>)> = match &query.source {
        // Each kernel type of a SPICE input is needed on its own.
        InputSource::Spice { kernel_types, descriptor } => kernel_types
            .iter()
            .map(|kernel_type| {
                let source = InputSource::Spice { kernel_types: vec![kernel_type.clone()], descriptor: *descriptor };
                (source, files.iter().filter(|file| &file.descriptor == kernel_type).collect())
            })
            .collect(),
        source => vec![(source.clone(), files.iter().collect())],
    };
    parts
        .into_iter()
        .filter_map(|(source, part_files)| {
            absent_from(&query.range, every_day, &part_files).map(|absent| MissingInput {
                source,
                range: query.range,
                absent,
            })
        })
        .collect()
}

fn absent_from(range: &QueryRange, every_day: bool, files: &[&FileRecord]) -> Option<Absent> {
    if files.is_empty() {
        return Some(Absent::AnyFile);
    }
    if !every_day {
        return None;
    }
    match range {
        QueryRange::Dates(dates) => {
            let mut covered = vec![false; dates.day_count()];
            let first_day = dates.first.days_since_epoch();
            for file in files {
                let start = file.start_date.max(dates.first).days_since_epoch();
                let end = file.coverage_end().map_or(dates.last, |end| end.min(dates.last)).days_since_epoch();
                for day in start..=end {
                    covered[(day - first_day) as usize] = true;
                }
            }
            let uncovered: Vec<Date> =
                dates.days().zip(covered).filter(|(_, covered)| !covered).map(|(day, _)| day).collect();
            (!uncovered.is_empty()).then_some(Absent::Days(uncovered))
        }
        QueryRange::Repointings(repointings) => {
            let uncovered: Vec<u32> = (repointings.first..=repointings.last)
                .filter(|repointing| !files.iter().any(|file| file.repointing == Some(*repointing)))
                .collect();
            (!uncovered.is_empty()).then_some(Absent::Repointings(uncovered))
        }
    }
}
