//! The mission's `date_range: [past, future]` values, read into what they ask for.
//!
//! Each element is a whole number followed by a unit: `d` days, `h` hours, `p` pointings,
//! `l` last processed, `nd` nearest days, `np` nearest pointings. As the mission's validator
//! demands, `past` is zero or negative and `future` zero or positive for `d`, `h`, `p`; `l`
//! counts back (`-1l`); the nearest units count up (`8np`). `l`, `nd` and `np` stand alone
//! (`["8np",]`); a lone `d`, `h` or `p` past means a future of zero. Days and hours may be mixed
//! (both are day-granular here); pointings mix with neither.

/// What a `date_range` asks for, before it is fitted to a job's partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeSpec {
    /// Days before and after.
    Days { before: u32, after: u32 },
    /// Hours before and after (days given with hours are turned into hours).
    Hours { before: u32, after: u32 },
    /// Pointings before and after.
    Pointings { before: u32, after: u32 },
    /// The `count` nearest days that have files.
    NearestDays { count: u32 },
    /// The `count` nearest pointings that have files.
    NearestPointings { count: u32 },
    /// The `count` most recent files (`-1l` is 1; `0l` is read as 1 too).
    LastProcessed { count: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Days,
    Hours,
    Pointings,
    LastProcessed,
    NearestDays,
    NearestPointings,
}

/// One element: its signed amount and unit.
fn parse_element(text: &str) -> Result<(i64, Unit), String> {
    let trimmed = text.trim();
    let unit_start = trimmed.find(|character: char| character.is_ascii_alphabetic()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(unit_start);
    let unit = match unit {
        "d" => Unit::Days,
        "h" => Unit::Hours,
        "p" => Unit::Pointings,
        "l" => Unit::LastProcessed,
        "nd" => Unit::NearestDays,
        "np" => Unit::NearestPointings,
        "" => return Err(format!("{text:?} has no unit (expected d, h, p, l, nd or np)")),
        other => return Err(format!("unknown unit {other:?} in {text:?} (expected d, h, p, l, nd or np)")),
    };
    let amount: i64 = number.parse().map_err(|_| format!("{text:?} does not start with a whole number"))?;
    if amount.unsigned_abs() > u64::from(u32::MAX) {
        return Err(format!("{text:?} is too large"));
    }
    Ok((amount, unit))
}

/// Reads a `date_range`; `None` when it is empty (the job's default applies).
pub(super) fn parse_date_range(elements: &[String]) -> Result<Option<RangeSpec>, String> {
    let (past_text, future_text) = match elements {
        [] => return Ok(None),
        [past] => (past, None),
        [past, future] => (past, Some(future)),
        _ => {
            return Err(format!("has {} elements; expected [past] or [past, future]", elements.len()));
        }
    };
    let (past, past_unit) = parse_element(past_text)?;
    let magnitude = past.unsigned_abs() as u32;
    let one_sided = |what: &str| -> Result<(), String> {
        match future_text {
            Some(future) => Err(format!("{what} takes no future, found {future:?}: write [{past_text:?},]")),
            None => Ok(()),
        }
    };
    match past_unit {
        Unit::NearestDays | Unit::NearestPointings => {
            one_sided("a nearest range")?;
            if past <= 0 {
                return Err(format!("a nearest range counts up from 1, e.g. \"8np\", got {past_text:?}"));
            }
            return Ok(Some(if past_unit == Unit::NearestDays {
                RangeSpec::NearestDays { count: magnitude }
            } else {
                RangeSpec::NearestPointings { count: magnitude }
            }));
        }
        Unit::LastProcessed => {
            one_sided("last processed")?;
            if past > 0 {
                return Err(format!("last processed counts back, e.g. \"-1l\", got {past_text:?}"));
            }
            return Ok(Some(RangeSpec::LastProcessed { count: magnitude.max(1) }));
        }
        Unit::Days | Unit::Hours | Unit::Pointings => {}
    }
    if past > 0 {
        return Err(format!("the past must be zero or negative (e.g. \"-3d\"), got {past_text:?}"));
    }
    let (future, future_unit) = match future_text {
        None => (0, past_unit),
        Some(text) => parse_element(text)?,
    };
    if !matches!(future_unit, Unit::Days | Unit::Hours | Unit::Pointings) {
        return Err(format!("the future must be in d, h or p, got {:?}", future_text.map_or("", String::as_str)));
    }
    if future < 0 {
        return Err(format!(
            "the future must be zero or positive (e.g. \"3d\"), got {:?}",
            future_text.map_or("", String::as_str)
        ));
    }
    let (before, after) = (magnitude, future as u32);
    let in_hours = |amount: u32, unit: Unit| if unit == Unit::Days { amount.saturating_mul(24) } else { amount };
    Ok(Some(match (past_unit, future_unit) {
        (Unit::Days, Unit::Days) => RangeSpec::Days { before, after },
        (Unit::Pointings, Unit::Pointings) => RangeSpec::Pointings { before, after },
        (Unit::Days | Unit::Hours, Unit::Days | Unit::Hours) => {
            RangeSpec::Hours { before: in_hours(before, past_unit), after: in_hours(after, future_unit) }
        }
        _ => return Err("pointings cannot be mixed with days or hours".to_string()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(elements: &[&str]) -> Result<Option<RangeSpec>, String> {
        parse_date_range(&elements.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn every_unit_reads() {
        assert_eq!(range(&[]), Ok(None));
        assert_eq!(range(&["-3d", "5d"]), Ok(Some(RangeSpec::Days { before: 3, after: 5 })));
        assert_eq!(range(&["0d", "0d"]), Ok(Some(RangeSpec::Days { before: 0, after: 0 })));
        assert_eq!(range(&["-2h", "2h"]), Ok(Some(RangeSpec::Hours { before: 2, after: 2 })));
        assert_eq!(range(&["-3p", "+3p"]), Ok(Some(RangeSpec::Pointings { before: 3, after: 3 })));
        assert_eq!(range(&["-1l"]), Ok(Some(RangeSpec::LastProcessed { count: 1 })));
        assert_eq!(range(&["0l"]), Ok(Some(RangeSpec::LastProcessed { count: 1 })));
        assert_eq!(range(&["-4l"]), Ok(Some(RangeSpec::LastProcessed { count: 4 })));
        assert_eq!(range(&["6nd"]), Ok(Some(RangeSpec::NearestDays { count: 6 })));
        assert_eq!(range(&["8np"]), Ok(Some(RangeSpec::NearestPointings { count: 8 })));
    }

    #[test]
    fn a_lone_past_has_a_future_of_zero_and_days_mix_with_hours() {
        assert_eq!(range(&["-2d"]), Ok(Some(RangeSpec::Days { before: 2, after: 0 })));
        assert_eq!(range(&["-1d", "6h"]), Ok(Some(RangeSpec::Hours { before: 24, after: 6 })));
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        let error = |elements: &[&str]| range(elements).expect_err("invalid range");
        assert!(error(&["-3w", "3d"]).contains("unknown unit \"w\""), "{}", error(&["-3w", "3d"]));
        assert!(error(&["3d", "3d"]).contains("past must be zero or negative"));
        assert!(error(&["-3d", "-1d"]).contains("future must be zero or positive"));
        assert!(error(&["-3d", "2np"]).contains("future must be in d, h or p"));
        assert!(error(&["8np", "1d"]).contains("a nearest range takes no future"));
        assert!(error(&["0np"]).contains("counts up from 1"));
        assert!(error(&["2l"]).contains("counts back"));
        assert!(error(&["-1l", "2d"]).contains("last processed takes no future"));
        assert!(error(&["-1p", "1d"]).contains("pointings cannot be mixed"));
        assert!(error(&["d"]).contains("does not start with a whole number"));
        assert!(error(&["-3"]).contains("has no unit"));
        assert!(error(&["-1d", "1d", "2d"]).contains("has 3 elements"));
    }
}
