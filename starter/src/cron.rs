//! A small cron expression parser and evaluator (UTC): five fields, minute hour day-of-month
//! month day-of-week, each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a
//! comma-separated list of those. Day of week 0 or 7 is Sunday. As in classic cron, when both
//! day fields are restricted a day matches if either matches.

use std::fmt;
use std::str::FromStr;

use imap_filename::Date;

const MINUTE_MILLIS: i64 = 60_000;
const DAY_MILLIS: i64 = 86_400_000;
/// How far ahead `next_after` looks; an expression like `0 0 30 2 *` never fires.
const SEARCH_DAYS: i32 = 366 * 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression {expression:?}: {reason}")]
pub struct CronError {
    pub expression: String,
    pub reason: String,
}

/// A parsed expression: for each field, the set of allowed values as a bit mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    text: String,
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    days_of_week: u64,
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
}

const FIELDS: [Field; 5] = [
    Field { name: "minute", min: 0, max: 59 },
    Field { name: "hour", min: 0, max: 23 },
    Field { name: "day of month", min: 1, max: 31 },
    Field { name: "month", min: 1, max: 12 },
    Field { name: "day of week", min: 0, max: 7 },
];

impl FromStr for CronSchedule {
    type Err = CronError;

    fn from_str(text: &str) -> Result<CronSchedule, CronError> {
        let error = |reason: String| CronError { expression: text.to_string(), reason };
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(error(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), got {}",
                parts.len()
            )));
        }
        let mut masks = [0u64; 5];
        for (index, (part, field)) in parts.iter().zip(FIELDS.iter()).enumerate() {
            masks[index] =
                parse_field(part, field).map_err(|reason| error(format!("{} field {part:?}: {reason}", field.name)))?;
        }
        // Sunday is both 0 and 7.
        let mut days_of_week = masks[4];
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        Ok(CronSchedule {
            text: parts.join(" "),
            minutes: masks[0],
            hours: masks[1],
            days_of_month: masks[2],
            months: masks[3],
            days_of_week: days_of_week & 0x7f,
            day_of_month_restricted: parts[2] != "*",
            day_of_week_restricted: parts[4] != "*",
        })
    }
}

fn parse_field(text: &str, field: &Field) -> Result<u64, String> {
    let mut mask = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| format!("step {step:?} is not a number"))?;
                if step == 0 {
                    return Err("step must be at least 1".into());
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (first, last) = if range == "*" {
            (field.min, field.max)
        } else if let Some((first, last)) = range.split_once('-') {
            (number(first, field)?, number(last, field)?)
        } else {
            let value = number(range, field)?;
            // `5/15` means from 5 to the end, every 15.
            (value, if item.contains('/') { field.max } else { value })
        };
        if first > last {
            return Err(format!("range {first}-{last} is backwards"));
        }
        for value in (first..=last).step_by(step as usize) {
            mask |= 1 << value;
        }
    }
    Ok(mask)
}

fn number(text: &str, field: &Field) -> Result<u32, String> {
    let value: u32 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if value < field.min || value > field.max {
        return Err(format!("{value} is outside {}-{}", field.min, field.max));
    }
    Ok(value)
}

impl CronSchedule {
    fn matches_day(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let weekday = (date.days_since_epoch() + 4).rem_euclid(7); // 1970-01-01 was a Thursday
        let by_month_day = self.days_of_month & (1 << date.day()) != 0;
        let by_weekday = self.days_of_week & (1 << weekday) != 0;
        match (self.day_of_month_restricted, self.day_of_week_restricted) {
            (true, true) => by_month_day || by_weekday,
            (true, false) => by_month_day,
            (false, true) => by_weekday,
            (false, false) => true,
        }
    }

    /// The first firing time strictly after `after` (milliseconds since the epoch, UTC), or
    /// `None` when the expression never fires in the next five years.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start_minute = after.div_euclid(MINUTE_MILLIS) + 1;
        let first_day = start_minute.div_euclid(1440) as i32;
        for day_index in first_day..first_day + SEARCH_DAYS {
            let date = Date::from_days_since_epoch(day_index);
            if !self.matches_day(date) {
                continue;
            }
            let day_start_minute = i64::from(day_index) * 1440;
            let from_minute_of_day = (start_minute - day_start_minute).max(0);
            for minute_of_day in from_minute_of_day..1440 {
                let (hour, minute) = (minute_of_day / 60, minute_of_day % 60);
                if self.hours & (1 << hour) != 0 && self.minutes & (1 << minute) != 0 {
                    return Some(i64::from(day_index) * DAY_MILLIS + minute_of_day * MINUTE_MILLIS);
                }
            }
        }
        None
    }

    /// The latest firing time at or before `at`, looking back at most `horizon` milliseconds.
    pub fn latest_at_or_before(&self, at: i64, horizon: i64) -> Option<i64> {
        let mut candidate = self.next_after(at - horizon - 1)?;
        if candidate > at {
            return None;
        }
        while let Some(next) = self.next_after(candidate).filter(|&next| next <= at) {
            candidate = next;
        }
        Some(candidate)
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;
