//! "What is downstream of this file?": the products, and product times, a new file triggers.

use std::collections::{BTreeSet, HashMap};

use super::file_record::{FileKind, FileRecord};
use super::model::{Cadence, Graph, InputSource, ProductKey, ProductTime, TimeWindow};
use super::resolve::{InputQuery, QueryRange, in_range};
use super::window::{DateRange, RepointingRange};
use super::{Catalog, Date, GraphError};

impl Graph {
    /// The products a newly arrived file triggers (through `Hard` and `SoftTrigger` inputs),
    /// in graph order.
    pub fn downstream_products(&self, file: &FileRecord) -> Vec<ProductKey> {
        let mut product_indexes: Vec<usize> =
            self.triggered_by(&file.source_key()).iter().map(|&(product_index, _)| product_index).collect();
        product_indexes.sort_unstable();
        product_indexes.dedup();
        product_indexes.into_iter().map(|index| self.products()[index].key.clone()).collect()
    }

    /// Every (product, product time) whose inputs include the new file and that it triggers.
    ///
    /// - Same-day input: the dates the file covers.
    /// - Window input: every canonical product date whose window meets the file (a monthly
    ///   product with a month window gives the first of each month concerned).
    /// - Repointing window (fixed or nearest): the repointings whose span contains the file's
    ///   repointing (files without a repointing trigger nothing through it); the product date is
    ///   then the file's date, since mapping other repointings to dates needs the pointing table.
    /// - Nearest-days window: every product whose search range holds the file.
    /// - Last-processed window: the products of the dates the file covers only.
    ///
    /// Open-ended validity (ancillary, SPICE) stops at `open_validity_end`, normally today.
    /// The repointing of a product time is the file's for same-day inputs and repointing
    /// products, else `None`.
    pub fn downstream(&self, file: &FileRecord, open_validity_end: Date) -> Vec<(ProductKey, ProductTime)> {
        let covered =
            DateRange::new(file.start_date, file.coverage_end().unwrap_or(open_validity_end).max(file.start_date));
        let mut triggered = self.triggered_by(&file.source_key()).to_vec();
        triggered.sort_unstable();
        let mut result = Vec::new();
        let mut current_product: Option<usize> = None;
        let mut times: BTreeSet<ProductTime> = BTreeSet::new();
        for (product_index, input_index) in triggered {
            if current_product != Some(product_index) {
                self.flush_times(current_product, &mut times, &mut result);
                current_product = Some(product_index);
            }
            let product = &self.products()[product_index];
            let input = &product.inputs[input_index];
            product_times_for_file(product.cadence, input.window, file, covered, &mut times);
        }
        self.flush_times(current_product, &mut times, &mut result);
        result
    }

    /// Phase one of narrowing what a file that is not science (an ancillary table, a kernel, whose
    /// validity may span years) triggers to the runs with science to process: for each product
    /// among `runs` and each of its science inputs, one query spanning the windows of all its runs.
    pub fn science_queries(&self, runs: &[(ProductKey, ProductTime)]) -> Vec<(ProductKey, InputQuery)> {
        let mut merged: Vec<(ProductKey, InputQuery)> = Vec::new();
        let mut position_of: HashMap<(&ProductKey, usize), usize> = HashMap::new();
        for (key, time) in runs {
            for query in self.run_science_queries(key, *time).queries {
                match position_of.get(&(key, query.input_index)) {
                    Some(&position) => {
                        let widened = &mut merged[position].1.range;
                        *widened = spanning(*widened, query.range);
                    }
                    None => {
                        position_of.insert((key, query.input_index), merged.len());
                        merged.push((key.clone(), query));
                    }
                }
            }
        }
        merged
    }

    /// Phase two: of `runs`, those with at least one file (`found`, in the order of
    /// [`Graph::science_queries`]) for one of their science inputs, and those of products without
    /// science inputs. A run without science cannot be ready (its science arriving triggers it
    /// anyway), so re-running "every day of the validity" means every day that has data. A run of
    /// a per-repointing product comes without its repointing (a file valid by date names none):
    /// it becomes the runs of the repointings whose science files start on its date.
    pub fn runs_with_science(
        &self,
        runs: Vec<(ProductKey, ProductTime)>,
        queries: &[(ProductKey, InputQuery)],
        found: &[Vec<FileRecord>],
    ) -> Vec<(ProductKey, ProductTime)> {
        let found_for: HashMap<(&ProductKey, usize), &Vec<FileRecord>> =
            queries.iter().zip(found).map(|((key, query), files)| ((key, query.input_index), files)).collect();
        let mut kept: Vec<(ProductKey, ProductTime)> = Vec::new();
        for (key, time) in runs {
            let run = self.run_science_queries(&key, time);
            if run.queries.is_empty() {
                if run.resolvable {
                    kept.push((key, time));
                }
                continue;
            }
            let files_of = |query: &InputQuery| {
                found_for
                    .get(&(&key, query.input_index))
                    .into_iter()
                    .flat_map(|files| files.iter())
                    .filter(|file| query.source.matches(file) && in_range(&query.range, file))
                    .collect::<Vec<&FileRecord>>()
            };
            if run.by_repointing {
                let mut times: BTreeSet<ProductTime> = BTreeSet::new();
                for query in &run.queries {
                    let repointing_files = files_of(query).into_iter().filter(|file| file.start_date == time.date);
                    times.extend(repointing_files.filter_map(|file| {
                        file.repointing
                            .map(|repointing| ProductTime { date: file.start_date, repointing: Some(repointing) })
                    }));
                }
                kept.extend(times.into_iter().map(|time| (key.clone(), time)));
            } else if run.queries.iter().any(|query| !files_of(query).is_empty()) {
                kept.push((key, time));
            }
        }
        kept
    }

    /// The science queries of one run. A run lacking the repointing its product's windows need
    /// looks for that science by the run's date instead.
    fn run_science_queries(&self, key: &ProductKey, time: ProductTime) -> RunScience {
        let science_only = |queries: Vec<InputQuery>| -> Vec<InputQuery> {
            queries.into_iter().filter(|query| matches!(query.source, InputSource::Science(_))).collect()
        };
        match self.input_queries(key, time) {
            Ok(queries) => RunScience { queries: science_only(queries), by_repointing: false, resolvable: true },
            Err(GraphError::RepointingRequired { .. }) => {
                let Some(product) = self.product(key) else { return RunScience::unresolvable() };
                let date = product.cadence.canonical_date(time.date);
                let by_date = product.inputs.iter().enumerate().map(|(input_index, input)| InputQuery {
                    input_index,
                    source: input.source.clone(),
                    relationship: input.relationship,
                    range: QueryRange::Dates(match input.window.repointing_reach() {
                        Some(_) => DateRange::single(date),
                        None => input.window.input_dates(product.cadence, date),
                    }),
                });
                RunScience { queries: science_only(by_date.collect()), by_repointing: true, resolvable: false }
            }
            Err(_) => RunScience::unresolvable(),
        }
    }

    fn flush_times(
        &self,
        product_index: Option<usize>,
        times: &mut BTreeSet<ProductTime>,
        result: &mut Vec<(ProductKey, ProductTime)>,
    ) {
        if let Some(index) = product_index {
            let key = &self.products()[index].key;
            result.extend(std::mem::take(times).into_iter().map(|time| (key.clone(), time)));
        }
    }
}

fn product_times_for_file(
    cadence: Cadence,
    window: TimeWindow,
    file: &FileRecord,
    covered: DateRange,
    times: &mut BTreeSet<ProductTime>,
) {
    if let Some((before, after)) = window.repointing_reach() {
        let Some(repointing) = file.repointing else {
            return;
        };
        let first = repointing.saturating_sub(after);
        let last = repointing.saturating_add(before);
        times.extend(
            (first..=last).map(|repointing| ProductTime { date: file.start_date, repointing: Some(repointing) }),
        );
        return;
    }
    let carried_repointing =
        if window == TimeWindow::SameDay || cadence == Cadence::Repointing { file.repointing } else { None };
    let Some(product_dates) = window.product_dates_using(cadence, covered) else {
        return;
    };
    // Only canonical dates are product dates: a monthly product exists on the 1st only.
    let canonical_dates = product_dates.days().filter(|&date| cadence.canonical_date(date) == date);
    times.extend(canonical_dates.map(|date| ProductTime { date, repointing: carried_repointing }));
}

/// A run's science queries, and how to read what they find.
struct RunScience {
    queries: Vec<InputQuery>,
    /// Found by date for a run without its repointing: the files' repointings make the runs.
    by_repointing: bool,
    /// Whether the run itself can be resolved as it is.
    resolvable: bool,
}

impl RunScience {
    fn unresolvable() -> RunScience {
        RunScience { queries: Vec::new(), by_repointing: false, resolvable: false }
    }
}

/// A range holding both (ranges of one input are all dates or all repointings).
fn spanning(left: QueryRange, right: QueryRange) -> QueryRange {
    match (left, right) {
        (QueryRange::Dates(left), QueryRange::Dates(right)) => {
            QueryRange::Dates(DateRange::new(left.first.min(right.first), left.last.max(right.last)))
        }
        (QueryRange::Repointings(left), QueryRange::Repointings(right)) => QueryRange::Repointings(RepointingRange {
            first: left.first.min(right.first),
            last: left.last.max(right.last),
        }),
        (left, _) => left,
    }
}

/// What a new file triggers, over a catalog: [`Graph::downstream`], narrowed for files that are
/// not science to the runs with science to process ([`Graph::science_queries`],
/// [`Graph::runs_with_science`]).
pub fn downstream_with_science(
    graph: &Graph,
    catalog: &impl Catalog,
    file: &FileRecord,
    open_validity_end: Date,
) -> Vec<(ProductKey, ProductTime)> {
    let runs = graph.downstream(file, open_validity_end);
    if file.kind == FileKind::Science {
        return runs;
    }
    let queries = graph.science_queries(&runs);
    let found: Vec<Vec<FileRecord>> = queries.iter().map(|(_, query)| catalog.candidates(query)).collect();
    graph.runs_with_science(runs, &queries, &found)
}
