//! Calendar dates as the mission uses them: `YYYYMMDD` text, day arithmetic, months.

use std::fmt;
use std::str::FromStr;

/// A proleptic Gregorian calendar date, stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {text:?}: {reason}")]
pub struct DateError {
    pub text: String,
    pub reason: &'static str,
}

impl Date {
    /// Builds a date from its parts, refusing impossible ones such as 2025-02-30.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date { days: days_from_civil(year, month, day) })
    }

    pub fn from_days_since_epoch(days: i32) -> Date {
        Date { days }
    }

    pub fn days_since_epoch(self) -> i32 {
        self.days
    }

    /// Strict `YYYYMMDD`: exactly eight digits, a real calendar date.
    pub fn parse_yyyymmdd(text: &str) -> Result<Date, DateError> {
        let error = |reason| DateError { text: text.to_string(), reason };
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("expected exactly 8 digits YYYYMMDD"));
        }
        let year: i32 = text[0..4].parse().map_err(|_| error("bad year"))?;
        let month: u32 = text[4..6].parse().map_err(|_| error("bad month"))?;
        let day: u32 = text[6..8].parse().map_err(|_| error("bad day"))?;
        Date::from_ymd(year, month, day).ok_or_else(|| error("no such calendar day"))
    }

    /// Python `datetime.strptime(text, "%Y%m%d")`, the client's check for free-form query dates.
    ///
    /// Like Python it takes the *first* way the month and day patterns match (month `1[0-2]|0[1-9]|[1-9]`,
    /// day `3[01]|[12]\d|0[1-9]|[1-9]| [1-9]`) and then insists nothing is left over, so `2025011` and
    /// `202511` mean 2025-01-01, `2025110` means 2025-01-10, while `20250230` and year `0000` are refused.
    pub fn parse_query_date(text: &str) -> Result<Date, DateError> {
        let error = |reason| DateError { text: text.to_string(), reason };
        let bytes = text.as_bytes();
        if bytes.len() < 4 || !bytes[..4].iter().all(u8::is_ascii_digit) {
            return Err(error("does not match YYYYMMDD"));
        }
        let year = bytes[..4].iter().fold(0i32, |year, digit| year * 10 + i32::from(digit - b'0'));
        let rest = &bytes[4..];
        let (month, day, consumed) = first_month_day_match(rest).ok_or_else(|| error("does not match YYYYMMDD"))?;
        if consumed != rest.len() {
            return Err(error("unconverted data remains"));
        }
        if year == 0 {
            // Python's datetime starts at year 1.
            return Err(error("year 0 is out of range"));
        }
        Date::from_ymd(year, month, day).ok_or_else(|| error("no such calendar day"))
    }

    /// `YYYY_DDD` (year and day of year), as SPICE kernel names use it.
    pub fn from_year_day(year: i32, day_of_year: u32) -> Option<Date> {
        let days_in_year = if is_leap(year) { 366 } else { 365 };
        if day_of_year == 0 || day_of_year > days_in_year {
            return None;
        }
        Some(Date { days: days_from_civil(year, 1, 1) + day_of_year as i32 - 1 })
    }

    pub fn year(self) -> i32 {
        civil_from_days(self.days).0
    }

    pub fn month(self) -> u32 {
        civil_from_days(self.days).1
    }

    pub fn day(self) -> u32 {
        civil_from_days(self.days).2
    }

    pub fn add_days(self, days: i32) -> Date {
        Date { days: self.days + days }
    }

    /// First day of this date's month.
    pub fn month_start(self) -> Date {
        let (year, month, _) = civil_from_days(self.days);
        Date { days: days_from_civil(year, month, 1) }
    }

    /// Last day of this date's month.
    pub fn month_end(self) -> Date {
        let (year, month, _) = civil_from_days(self.days);
        Date { days: days_from_civil(year, month, days_in_month(year, month)) }
    }

    /// `YYYYMMDD`.
    pub fn yyyymmdd(self) -> String {
        let (year, month, day) = civil_from_days(self.days);
        format!("{year:04}{month:02}{day:02}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.yyyymmdd())
    }
}

impl FromStr for Date {
    type Err = DateError;
    fn from_str(text: &str) -> Result<Date, DateError> {
        Date::parse_yyyymmdd(text)
    }
}

impl TryFrom<String> for Date {
    type Error = DateError;
    fn try_from(text: String) -> Result<Date, DateError> {
        Date::parse_yyyymmdd(&text)
    }
}

impl From<Date> for String {
    fn from(date: Date) -> String {
        date.yyyymmdd()
    }
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Month candidates at the start of `text`, in the priority order of strptime's `%m` pattern: (value, length).
fn month_candidates(text: &[u8]) -> impl Iterator<Item = (u32, usize)> + '_ {
    let digit = |index: usize| digit_at(text, index);
    let ten_to_twelve = match (digit(0), digit(1)) {
        (Some(1), Some(units @ 0..=2)) => Some((10 + units, 2)),
        _ => None,
    };
    let zero_padded = match (digit(0), digit(1)) {
        (Some(0), Some(units @ 1..=9)) => Some((units, 2)),
        _ => None,
    };
    let single = digit(0).filter(|units| *units >= 1).map(|units| (units, 1));
    [ten_to_twelve, zero_padded, single].into_iter().flatten()
}

/// Day candidates at the start of `text`, in the priority order of strptime's `%d` pattern: (value, length).
fn day_candidates(text: &[u8]) -> impl Iterator<Item = (u32, usize)> + '_ {
    let digit = |index: usize| digit_at(text, index);
    let thirties = match (digit(0), digit(1)) {
        (Some(3), Some(units @ 0..=1)) => Some((30 + units, 2)),
        _ => None,
    };
    let teens_twenties = match (digit(0), digit(1)) {
        (Some(tens @ 1..=2), Some(units)) => Some((tens * 10 + units, 2)),
        _ => None,
    };
    let zero_padded = match (digit(0), digit(1)) {
        (Some(0), Some(units @ 1..=9)) => Some((units, 2)),
        _ => None,
    };
    let single = digit(0).filter(|units| *units >= 1).map(|units| (units, 1));
    let space_padded = match (text.first(), digit(1)) {
        (Some(b' '), Some(units @ 1..=9)) => Some((units, 2)),
        _ => None,
    };
    [thirties, teens_twenties, zero_padded, single, space_padded].into_iter().flatten()
}

fn digit_at(text: &[u8], index: usize) -> Option<u32> {
    text.get(index).filter(|byte| byte.is_ascii_digit()).map(|byte| u32::from(byte - b'0'))
}

/// The first (month, day, bytes consumed) that strptime's regex would pick, ignoring what follows.
fn first_month_day_match(text: &[u8]) -> Option<(u32, u32, usize)> {
    month_candidates(text).find_map(|(month, month_len)| {
        day_candidates(&text[month_len..]).next().map(|(day, day_len)| (month, day, month_len + day_len))
    })
}

// Howard Hinnant's civil-calendar algorithms: exact for every proleptic Gregorian date.
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era as u32 * 365 + year_of_era as u32 / 4 - year_of_era as u32 / 100 + day_of_year;
    era * 146_097 + day_of_era as i32 - 719_468
}

fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = (shifted - era * 146_097) as u32;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era as i32 + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        let start = Date::from_ymd(1900, 1, 1).unwrap();
        for offset in 0..146_097 {
            let date = start.add_days(offset);
            assert_eq!(Date::parse_yyyymmdd(&date.yyyymmdd()).unwrap(), date);
        }
    }

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(Date::from_ymd(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::from_ymd(2000, 3, 1).unwrap().days_since_epoch(), 11_017);
        assert_eq!(Date::from_year_day(2024, 366).unwrap().yyyymmdd(), "20241231");
        assert!(Date::from_year_day(2025, 366).is_none());
    }

    #[test]
    fn refuses_impossible_and_malformed_dates() {
        assert!(Date::parse_yyyymmdd("20250230").is_err());
        assert!(Date::parse_yyyymmdd("20240229").is_ok());
        assert!(Date::parse_yyyymmdd("2025011").is_err());
        assert!(Date::parse_yyyymmdd("2025-01-01").is_err());
        assert!(Date::parse_yyyymmdd("20251301").is_err());
    }

    #[test]
    fn query_dates_follow_python_strptime() {
        let parsed = |text: &str| Date::parse_query_date(text).map(Date::yyyymmdd).ok();
        assert_eq!(parsed("20250101").as_deref(), Some("20250101"));
        assert_eq!(parsed("2025011").as_deref(), Some("20250101"));
        assert_eq!(parsed("202511").as_deref(), Some("20250101"));
        assert_eq!(parsed("2025111").as_deref(), Some("20251101"));
        assert_eq!(parsed("2025110").as_deref(), Some("20250110"));
        assert_eq!(parsed("2025131").as_deref(), Some("20250131"));
        assert_eq!(parsed("202501 1").as_deref(), Some("20250101"));
        assert_eq!(parsed("00010101").as_deref(), Some("00010101"));
        for refused in
            ["20250230", "20251301", "20251", "202501011", "0000101", "2025-1-1", "+2025011", "", "2025", "2025 11"]
        {
            assert_eq!(parsed(refused), None, "{refused:?} should be refused");
        }
    }

    #[test]
    fn month_bounds() {
        let date = Date::parse_yyyymmdd("20240215").unwrap();
        assert_eq!(date.month_start().yyyymmdd(), "20240201");
        assert_eq!(date.month_end().yyyymmdd(), "20240229");
    }
}
