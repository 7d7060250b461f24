//! Time arithmetic of windows: date ranges, Carrington rotations, and the inverse question
//! "which product dates use a file covering these days?".

use std::fmt;

use super::Date;
use super::model::{Cadence, MapSeason, TimeWindow};

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

/// How far back a `LastProcessed` window looks: files older than this are not looked for.
pub const LAST_PROCESSED_LOOKBACK_DAYS: u32 = 366;

/// Files are dated by day: a window reaching any part of a day needs that day.
fn hours_as_days(hours: u32) -> i32 {
    hours.div_ceil(24) as i32
}

impl TimeWindow {
    /// The dates in which to look for the files of a product at `product_date` (already its
    /// canonical date); not meaningful for windows that choose files by repointing number.
    pub fn input_dates(self, cadence: Cadence, product_date: Date) -> DateRange {
        let period = cadence.period(product_date);
        let around_period =
            |before: i32, after: i32| DateRange::new(period.first.add_days(-before), period.last.add_days(after));
        match self {
            TimeWindow::SameDay => DateRange::single(product_date),
            TimeWindow::Days { before, after } => {
                DateRange::new(product_date.add_days(-(before as i32)), product_date.add_days(after as i32))
            }
            TimeWindow::CalendarMonth => DateRange::new(product_date.month_start(), product_date.month_end()),
            TimeWindow::CarringtonRotation => carrington_rotation_days(carrington_rotation(product_date)),
            TimeWindow::Hours { before, after } => around_period(hours_as_days(before), hours_as_days(after)),
            TimeWindow::Period { before, after } => around_period(before as i32, after as i32),
            TimeWindow::NearestDays { count } => around_period(count as i32, count as i32),
            TimeWindow::LastProcessed { .. } => {
                DateRange::new(period.last.add_days(-(LAST_PROCESSED_LOOKBACK_DAYS as i32)), period.last)
            }
            TimeWindow::Repointings { .. } | TimeWindow::NearestRepointings { .. } => DateRange::single(product_date),
        }
    }

    /// A date range holding every canonical date (of `cadence`) whose product may use a file
    /// covering `covered`: the inverse of `input_dates`; `None` for repointing windows. The range
    /// may hold other dates too: callers keep the canonical ones.
    ///
    /// A `LastProcessed` input concerns the products of the dates the file covers only: later
    /// products pick it up when something else triggers them.
    pub fn product_dates_using(self, cadence: Cadence, covered: DateRange) -> Option<DateRange> {
        // Every period meeting `first ..= last` starts in `canonical(first) ..= last`.
        let periods_meeting = |before: i32, after: i32| {
            DateRange::new(cadence.canonical_date(covered.first.add_days(-after)), covered.last.add_days(before))
        };
        let dates = match self {
            TimeWindow::SameDay => covered,
            TimeWindow::Days { before, after } => {
                DateRange::new(covered.first.add_days(-(after as i32)), covered.last.add_days(before as i32))
            }
            TimeWindow::CalendarMonth => DateRange::new(covered.first.month_start(), covered.last.month_end()),
            TimeWindow::CarringtonRotation => DateRange::new(
                carrington_rotation_days(carrington_rotation(covered.first)).first,
                carrington_rotation_days(carrington_rotation(covered.last)).last,
            ),
            TimeWindow::Hours { before, after } => periods_meeting(hours_as_days(before), hours_as_days(after)),
            TimeWindow::Period { before, after } => periods_meeting(before as i32, after as i32),
            TimeWindow::NearestDays { count } => periods_meeting(count as i32, count as i32),
            TimeWindow::LastProcessed { .. } => periods_meeting(0, 0),
            TimeWindow::Repointings { .. } | TimeWindow::NearestRepointings { .. } => return None,
        };
        Some(dates)
    }
}

impl Cadence {
    /// The span of dates the product of `date` stands for.
    pub fn period(self, date: Date) -> DateRange {
        match self {
            Cadence::Daily | Cadence::Repointing => DateRange::single(date),
            Cadence::Monthly => DateRange::new(date.month_start(), date.month_end()),
            Cadence::CarringtonRotation => carrington_rotation_days(carrington_rotation(date)),
            Cadence::DayBlocks(days) => {
                let days = i32::from(days.max(1));
                let first = date.days_since_epoch().div_euclid(days) * days;
                DateRange::new(Date::from_days_since_epoch(first), Date::from_days_since_epoch(first + days - 1))
            }
            Cadence::MapSeason(season) => season.period(date),
        }
    }

    /// The product date standing for every date of its period: the period's first day.
    pub fn canonical_date(self, date: Date) -> Date {
        self.period(date).first
    }
}

impl MapSeason {
    /// Season starts within a year, as (month, day), in order.
    fn boundaries(self) -> &'static [(u32, u32)] {
        match self {
            MapSeason::ThreeMonths => &[(1, 17), (4, 18), (7, 18), (10, 17)],
            MapSeason::SixMonths => &[(1, 17), (7, 18)],
            MapSeason::OneYear => &[(1, 17)],
        }
    }

    fn starts_of_year(self, year: i32) -> impl Iterator<Item = Date> {
        self.boundaries().iter().filter_map(move |&(month, day)| Date::from_ymd(year, month, day))
    }

    /// The season containing `date`: from the latest start at or before it to the day before
    /// the next start.
    pub fn period(self, date: Date) -> DateRange {
        let year = date.year();
        let starts: Vec<Date> = self
            .starts_of_year(year - 1)
            .chain(self.starts_of_year(year))
            .chain(self.starts_of_year(year + 1))
            .collect();
        let position = starts.iter().rposition(|&start| start <= date).unwrap_or(0);
        let next_start = starts.get(position + 1).copied().unwrap_or(starts[position]);
        DateRange::new(starts[position], next_start.add_days(-1))
    }
}
