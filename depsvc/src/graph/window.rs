//! Time arithmetic of windows: date ranges, Carrington rotations, and the inverse question
//! "which product dates use a file covering these days?".

use std::fmt;

use super::Date;
use super::model::{Cadence, TimeWindow};

/// An inclusive range of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    pub first: Date,
    pub last: Date,
}

impl DateRange {
    pub fn new(first: Date, last: Date) -> DateRange {
        DateRange { first, last }
    }

    pub fn single(date: Date) -> DateRange {
        DateRange { first: date, last: date }
    }

    pub fn contains(&self, date: Date) -> bool {
        self.first <= date && date <= self.last
    }

    /// Whether a coverage `start ..= end` (open-ended when `end` is `None`) meets this range.
    pub fn overlaps(&self, start: Date, end: Option<Date>) -> bool {
        start <= self.last && end.is_none_or(|end| end >= self.first)
    }

    pub fn days(&self) -> impl Iterator<Item = Date> + use<> {
        let first = self.first.days_since_epoch();
        let last = self.last.days_since_epoch();
        (first..=last).map(Date::from_days_since_epoch)
    }

    pub fn day_count(&self) -> usize {
        (self.last.days_since_epoch() - self.first.days_since_epoch() + 1).max(0) as usize
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(formatter, "{}", self.first)
        } else {
            write!(formatter, "{}..={}", self.first, self.last)
        }
    }
}

/// An inclusive range of repointing numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RepointingRange {
    pub first: u32,
    pub last: u32,
}

impl RepointingRange {
    pub fn contains(&self, repointing: u32) -> bool {
        self.first <= repointing && repointing <= self.last
    }
}

impl fmt::Display for RepointingRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "repointings {}..={}", self.first, self.last)
    }
}

// Carrington rotations in units of 1e-4 day, so that boundaries are exact integers:
// rotation 1 began at JD 2398167.4 (1853-11-09), each synodic rotation lasts 27.2753 days.
const CARRINGTON_EPOCH_JD_E4: i64 = 23_981_674_000;
const CARRINGTON_PERIOD_E4: i64 = 272_753;
const UNIX_EPOCH_JD_E4: i64 = 24_405_875_000;

/// The Carrington rotation containing the start (00:00 UTC) of `date`:
/// `floor((JD - 2398167.4) / 27.2753) + 1`.
pub fn carrington_rotation(date: Date) -> u32 {
    let since_epoch = i64::from(date.days_since_epoch()) * 10_000 + UNIX_EPOCH_JD_E4 - CARRINGTON_EPOCH_JD_E4;
    (since_epoch.div_euclid(CARRINGTON_PERIOD_E4) + 1) as u32
}

/// The dates whose start falls in rotation `rotation`.
pub fn carrington_rotation_days(rotation: u32) -> DateRange {
    DateRange::new(first_day_of_rotation(rotation), first_day_of_rotation(rotation + 1).add_days(-1))
}

fn first_day_of_rotation(rotation: u32) -> Date {
    let start_since_unix_e4 =
        (i64::from(rotation) - 1) * CARRINGTON_PERIOD_E4 + CARRINGTON_EPOCH_JD_E4 - UNIX_EPOCH_JD_E4;
    // The first whole day starting at or after the rotation start.
    let days = -((-start_since_unix_e4).div_euclid(10_000));
    Date::from_days_since_epoch(days as i32)
}

impl TimeWindow {
    /// The input dates a product at `product_date` uses (not meaningful for repointing windows,
    /// which are matched by repointing number).
    pub fn input_dates(self, product_date: Date) -> DateRange {
        match self {
            TimeWindow::SameDay | TimeWindow::Repointings { .. } => DateRange::single(product_date),
            TimeWindow::Days { before, after } => {
                DateRange::new(product_date.add_days(-(before as i32)), product_date.add_days(after as i32))
            }
            TimeWindow::CalendarMonth => DateRange::new(product_date.month_start(), product_date.month_end()),
            TimeWindow::CarringtonRotation => carrington_rotation_days(carrington_rotation(product_date)),
        }
    }

    /// The product dates whose window meets a file covering `covered` (the inverse of
    /// `input_dates`); `None` for repointing windows.
    pub fn product_dates_using(self, covered: DateRange) -> Option<DateRange> {
        match self {
            TimeWindow::SameDay => Some(covered),
            TimeWindow::Days { before, after } => {
                Some(DateRange::new(covered.first.add_days(-(after as i32)), covered.last.add_days(before as i32)))
            }
            TimeWindow::CalendarMonth => Some(DateRange::new(covered.first.month_start(), covered.last.month_end())),
            TimeWindow::CarringtonRotation => Some(DateRange::new(
                carrington_rotation_days(carrington_rotation(covered.first)).first,
                carrington_rotation_days(carrington_rotation(covered.last)).last,
            )),
            TimeWindow::Repointings { .. } => None,
        }
    }
}

impl Cadence {
    /// The product date standing for every date of its period.
    pub fn canonical_date(self, date: Date) -> Date {
        match self {
            Cadence::Daily | Cadence::Repointing => date,
            Cadence::Monthly => date.month_start(),
            Cadence::CarringtonRotation => carrington_rotation_days(carrington_rotation(date)).first,
        }
    }
}
