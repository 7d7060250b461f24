//! CDF_TIME_TT2000: nanoseconds since J2000 (2000-01-01T12:00:00 TT), counting
//! leap seconds, and its conversion from and to UTC calendar time.
//!
//! TT = TAI + 32.184 s and TAI = UTC + ΔAT, so for a UTC instant
//! `tt2000 = (UTC calendar seconds since 2000-01-01T12:00:00, no leap seconds)
//!           + ΔAT(date) + 32.184 s`.
//! ΔAT comes from the built-in table below (last leap second: 2016-12-31).
//! Dates before 1972 (fractional ΔAT) are rejected.

use std::fmt;

use crate::{CdfError, Result};

/// ISTP fill value for TT2000 (prints as 9999-12-31T23:59:59.999999999).
pub const TT2000_FILL: i64 = i64::MIN;

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SECOND;
/// TT - TAI, in nanoseconds.
const TT_MINUS_TAI_NANOS: i128 = 32_184_000_000;

/// (year, month, TAI - UTC in seconds) from the first day of that month on.
const LEAP_SECONDS: [(i32, u32, i64); 28] = [
    (1972, 1, 10),
    (1972, 7, 11),
    (1973, 1, 12),
    (1974, 1, 13),
    (1975, 1, 14),
    (1976, 1, 15),
    (1977, 1, 16),
    (1978, 1, 17),
    (1979, 1, 18),
    (1980, 1, 19),
    (1981, 7, 20),
    (1982, 7, 21),
    (1983, 7, 22),
    (1985, 7, 23),
    (1988, 1, 24),
    (1990, 1, 25),
    (1991, 1, 26),
    (1992, 7, 27),
    (1993, 7, 28),
    (1994, 7, 29),
    (1996, 1, 30),
    (1997, 7, 31),
    (1999, 1, 32),
    (2006, 1, 33),
    (2009, 1, 34),
    (2012, 7, 35),
    (2015, 7, 36),
    (2017, 1, 37),
];

/// A UTC calendar instant; `second` is 60 during a leap second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcDateTime {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub nanosecond: u32,
}

impl UtcDateTime {
    pub fn to_tt2000(&self) -> Result<i64> {
        utc_to_tt2000(self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanosecond)
    }
}

impl fmt::Display for UtcDateTime {
    /// ISO 8601 with nanoseconds, as cdflib's `encode_tt2000` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.nanosecond
        )
    }
}

/// Converts a UTC calendar time to TT2000. `second` may be 60 on the last
/// minute of a day that ends with a leap second (e.g. 2016-12-31T23:59:60).
pub fn utc_to_tt2000(year: i32, month: u32, day: u32, hour: u32, minute: u32, second: u32, nanos: u32) -> Result<i64> {
    let invalid = |what: &str| {
        CdfError::InvalidTime(format!(
            "{what} in {year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{nanos:09}"
        ))
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(invalid("no such date"));
    }
    if hour > 23 || minute > 59 || second > 60 || nanos >= 1_000_000_000 {
        return Err(invalid("time of day out of range"));
    }
    let delta_at = tai_minus_utc(year, month).ok_or_else(|| invalid("dates before 1972 are not supported"))?;
    if second == 60 && !(hour == 23 && minute == 59 && day_ends_with_leap_second(year, month, day)) {
        return Err(invalid("second 60 on a day without a leap second"));
    }
    let days = days_from_civil(year, month, day) - days_from_civil(2000, 1, 1);
    let seconds_of_day = i128::from(hour * 3600 + minute * 60 + second);
    // Calendar nanoseconds since 2000-01-01T12:00:00 UTC, as if no leap seconds existed.
    let calendar_nanos =
        i128::from(days) * NANOS_PER_DAY + seconds_of_day * NANOS_PER_SECOND + i128::from(nanos) - NANOS_PER_DAY / 2;
    let tt2000 = calendar_nanos + i128::from(delta_at) * NANOS_PER_SECOND + TT_MINUS_TAI_NANOS;
    i64::try_from(tt2000).map_err(|_| invalid("out of the tt2000 range"))
}

/// Converts TT2000 back to UTC. Instants inside a leap second get second 60.
pub fn tt2000_to_utc(tt2000: i64) -> Result<UtcDateTime> {
    if tt2000 == TT2000_FILL {
        return Ok(UtcDateTime {
            year: 9999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
            nanosecond: 999_999_999,
        });
    }
    let starts: Vec<(i64, i64)> = LEAP_SECONDS
        .iter()
        .map(|&(year, month, delta_at)| {
            let start = utc_to_tt2000(year, month, 1, 0, 0, 0, 0).expect("leap table dates are valid");
            (start, delta_at)
        })
        .collect();
    let Some(index) = starts.iter().rposition(|&(start, _)| start <= tt2000) else {
        return Err(CdfError::InvalidTime(format!("tt2000 {tt2000} is before 1972, which is not supported")));
    };
    let delta_at = starts[index].1;
    let calendar_nanos = i128::from(tt2000) - i128::from(delta_at) * NANOS_PER_SECOND - TT_MINUS_TAI_NANOS;
    // The last second before the next table entry is the inserted leap second.
    let in_leap_second = starts
        .get(index + 1)
        .is_some_and(|&(next_start, _)| i128::from(tt2000) >= i128::from(next_start) - NANOS_PER_SECOND);
    let shown_nanos = if in_leap_second { calendar_nanos - NANOS_PER_SECOND } else { calendar_nanos };
    let mut utc = calendar_to_utc(shown_nanos);
    if in_leap_second {
        utc.second = 60;
    }
    Ok(utc)
}

/// Splits calendar nanoseconds since 2000-01-01T12:00:00 into a date and time.
fn calendar_to_utc(calendar_nanos: i128) -> UtcDateTime {
    let since_midnight = calendar_nanos + NANOS_PER_DAY / 2;
    let days = since_midnight.div_euclid(NANOS_PER_DAY);
    let nanos_of_day = since_midnight.rem_euclid(NANOS_PER_DAY);
    let (year, month, day) = civil_from_days(days as i64 + days_from_civil(2000, 1, 1));
    let seconds_of_day = (nanos_of_day / NANOS_PER_SECOND) as u32;
    UtcDateTime {
        year,
        month,
        day,
        hour: seconds_of_day / 3600,
        minute: seconds_of_day / 60 % 60,
        second: seconds_of_day % 60,
        nanosecond: (nanos_of_day % NANOS_PER_SECOND) as u32,
    }
}

/// TAI - UTC in whole seconds on the given month, `None` before 1972.
fn tai_minus_utc(year: i32, month: u32) -> Option<i64> {
    LEAP_SECONDS.iter().rev().find(|&&(y, m, _)| (y, m) <= (year, month)).map(|&(_, _, delta_at)| delta_at)
}

fn day_ends_with_leap_second(year: i32, month: u32, day: u32) -> bool {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    day == days_in_month(year, month)
        && LEAP_SECONDS.iter().any(|&(y, m, _)| (y, m) == (next_year, next_month))
        && tai_minus_utc(year, month).is_some()
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm), for
/// turning calendar dates of other time scales (TT, TDB) into day counts.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = i64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}
