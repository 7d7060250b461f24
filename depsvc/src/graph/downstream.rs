//! "What is downstream of this file?": the products, and product times, a new file triggers.

use std::collections::BTreeSet;

use super::Date;
use super::file_record::FileRecord;
use super::model::{Cadence, Graph, ProductKey, ProductTime, TimeWindow};
use super::window::DateRange;

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
