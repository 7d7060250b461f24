use super::*;

/// Milliseconds of a UTC date and time.
fn at(date: &str, hour: i64, minute: i64) -> i64 {
    let date = Date::parse_yyyymmdd(date).expect("test date");
    i64::from(date.days_since_epoch()) * DAY_MILLIS + hour * 3_600_000 + minute * MINUTE_MILLIS
}

fn cron(text: &str) -> CronSchedule {
    text.parse().expect("valid cron expression")
}

#[test]
fn monthly_at_three_on_the_first() {
    let schedule = cron("0 3 1 * *");
    assert_eq!(schedule.next_after(at("20260115", 12, 0)), Some(at("20260201", 3, 0)));
    // Strictly after: the firing time itself yields the next month.
    assert_eq!(schedule.next_after(at("20260201", 3, 0)), Some(at("20260301", 3, 0)));
    assert_eq!(schedule.next_after(at("20261231", 23, 59)), Some(at("20270101", 3, 0)));
}

#[test]
fn every_minute_fires_on_the_next_minute() {
    let schedule = cron("* * * * *");
    assert_eq!(schedule.next_after(at("20260101", 0, 0) + 30_000), Some(at("20260101", 0, 1)));
}

#[test]
fn steps_ranges_and_lists() {
    let schedule = cron("*/15 8-10 * * *");
    assert_eq!(schedule.next_after(at("20260101", 7, 59)), Some(at("20260101", 8, 0)));
    assert_eq!(schedule.next_after(at("20260101", 8, 0)), Some(at("20260101", 8, 15)));
    assert_eq!(schedule.next_after(at("20260101", 10, 45)), Some(at("20260102", 8, 0)));
    let schedule = cron("5,35 1-5/2 * * *");
    assert_eq!(schedule.next_after(at("20260101", 1, 5)), Some(at("20260101", 1, 35)));
    assert_eq!(schedule.next_after(at("20260101", 1, 35)), Some(at("20260101", 3, 5)));
    let schedule = cron("10/20 0 * * *");
    assert_eq!(schedule.next_after(at("20260101", 0, 10)), Some(at("20260101", 0, 30)));
    assert_eq!(schedule.next_after(at("20260101", 0, 50)), Some(at("20260102", 0, 10)));
}

#[test]
fn quarterly_months() {
    let schedule = cron("0 0 1 1,4,7,10 *");
    assert_eq!(schedule.next_after(at("20260215", 0, 0)), Some(at("20260401", 0, 0)));
    assert_eq!(schedule.next_after(at("20261002", 0, 0)), Some(at("20270101", 0, 0)));
}

#[test]
fn day_of_week_with_sunday_as_zero_or_seven() {
    // 2026-11-26 is a Thursday; the next Sunday is the 29th.
    assert_eq!(cron("0 6 * * 0").next_after(at("20261126", 0, 0)), Some(at("20261129", 6, 0)));
    assert_eq!(cron("0 6 * * 7").next_after(at("20261126", 0, 0)), Some(at("20261129", 6, 0)));
    assert_eq!(cron("0 6 * * 1-5").next_after(at("20261127", 7, 0)), Some(at("20261130", 6, 0)));
}

#[test]
fn both_day_fields_restricted_means_either() {
    // The 1st of the month or any Monday: after Thursday 2026-11-26 comes Monday the 30th,
    // then Tuesday 2026-12-01.
    let schedule = cron("0 0 1 * 1");
    assert_eq!(schedule.next_after(at("20261126", 0, 0)), Some(at("20261130", 0, 0)));
    assert_eq!(schedule.next_after(at("20261130", 0, 0)), Some(at("20261201", 0, 0)));
}

#[test]
fn february_29th_waits_for_a_leap_year() {
    assert_eq!(cron("0 0 29 2 *").next_after(at("20260301", 0, 0)), Some(at("20280229", 0, 0)));
}

#[test]
fn impossible_date_never_fires() {
    assert_eq!(cron("0 0 30 2 *").next_after(at("20260101", 0, 0)), None);
}

#[test]
fn latest_firing_within_a_horizon() {
    let schedule = cron("0 3 1 * *");
    let month = 31 * DAY_MILLIS;
    assert_eq!(schedule.latest_at_or_before(at("20261126", 8, 0), month), Some(at("20261101", 3, 0)));
    assert_eq!(schedule.latest_at_or_before(at("20261101", 3, 0), month), Some(at("20261101", 3, 0)));
    assert_eq!(schedule.latest_at_or_before(at("20261126", 8, 0), DAY_MILLIS), None);
}

#[test]
fn bad_expressions_say_what_is_wrong() {
    let message = |text: &str| text.parse::<CronSchedule>().expect_err("must be refused").to_string();
    assert!(message("0 3 1 *").contains("expected 5 fields"), "{}", message("0 3 1 *"));
    assert!(message("60 * * * *").contains("minute field \"60\": 60 is outside 0-59"), "{}", message("60 * * * *"));
    assert!(message("* 24 * * *").contains("hour field"));
    assert!(message("* * 0 * *").contains("day of month field"));
    assert!(message("* * * 13 *").contains("month field"));
    assert!(message("* * * * 8").contains("day of week field"));
    assert!(message("*/0 * * * *").contains("step must be at least 1"));
    assert!(message("5-1 * * * *").contains("backwards"));
    assert!(message("a * * * *").contains("is not a number"));
}

#[test]
fn display_is_the_normalized_text() {
    assert_eq!(cron("0  3 1 * *").to_string(), "0 3 1 * *");
}
