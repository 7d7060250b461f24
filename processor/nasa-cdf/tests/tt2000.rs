//! UTC <-> TT2000 against cdflib's values, around leap seconds.

use nasa_cdf::*;

#[test]
fn utc_to_tt2000_matches_cdflib_values() {
    // Expected values from cdflib.cdfepoch.compute_tt2000 (cdflib 1.3.16).
    type Calendar = (i32, u32, u32, u32, u32, u32, u32);
    let cases: [(Calendar, i64); 11] = [
        ((2000, 1, 1, 12, 0, 0, 0), 64_184_000_000),
        ((2000, 1, 1, 11, 58, 55, 816_000_000), 0),
        ((1972, 1, 1, 0, 0, 0, 0), -883_655_957_816_000_000),
        ((1985, 6, 30, 23, 59, 60, 0), -457_703_945_816_000_000),
        ((1990, 1, 1, 0, 0, 0, 0), -315_575_942_816_000_000),
        ((1999, 12, 31, 23, 59, 59, 999_999_999), -43_135_816_000_001),
        ((2010, 1, 1, 0, 0, 0, 0), 315_576_066_184_000_000),
        ((2016, 12, 31, 23, 59, 59, 0), 536_500_867_184_000_000),
        ((2025, 9, 24, 12, 34, 56, 789_123_456), 811_989_365_973_123_456),
        ((2026, 1, 1, 0, 0, 0, 125_000_000), 820_497_669_309_000_000),
        ((2100, 1, 1, 0, 0, 0, 0), 3_155_716_869_184_000_000),
    ];
    for ((year, month, day, hour, minute, second, nanos), expected) in cases {
        let tt2000 = utc_to_tt2000(year, month, day, hour, minute, second, nanos).unwrap();
        assert_eq!(tt2000, expected, "{year}-{month}-{day}T{hour}:{minute}:{second}.{nanos}");
        let back = tt2000_to_utc(tt2000).unwrap();
        assert_eq!(
            (back.year, back.month, back.day, back.hour, back.minute, back.second, back.nanosecond),
            (year, month, day, hour, minute, second, nanos)
        );
    }
}

#[test]
fn leap_second_2016_is_one_real_second_long() {
    let before = utc_to_tt2000(2016, 12, 31, 23, 59, 59, 0).unwrap();
    let leap = utc_to_tt2000(2016, 12, 31, 23, 59, 60, 0).unwrap();
    let half_leap = utc_to_tt2000(2016, 12, 31, 23, 59, 60, 500_000_000).unwrap();
    let after = utc_to_tt2000(2017, 1, 1, 0, 0, 0, 0).unwrap();
    assert_eq!(leap - before, 1_000_000_000);
    assert_eq!(after - leap, 1_000_000_000);
    assert_eq!(half_leap, 536_500_868_684_000_000); // cdflib
    assert_eq!(tt2000_to_utc(half_leap).unwrap().to_string(), "2016-12-31T23:59:60.500000000");
    assert_eq!(tt2000_to_utc(after - 1).unwrap().to_string(), "2016-12-31T23:59:60.999999999");
    assert_eq!(tt2000_to_utc(after).unwrap().to_string(), "2017-01-01T00:00:00.000000000");
    assert_eq!(tt2000_to_utc(leap - 1).unwrap().to_string(), "2016-12-31T23:59:59.999999999");
}

#[test]
fn second_sixty_only_exists_on_leap_second_days() {
    assert!(utc_to_tt2000(2016, 12, 30, 23, 59, 60, 0).is_err());
    assert!(utc_to_tt2000(2016, 12, 31, 23, 58, 60, 0).is_err());
    assert!(utc_to_tt2000(2015, 6, 30, 23, 59, 60, 0).is_ok());
    assert!(utc_to_tt2000(2015, 2, 29, 0, 0, 0, 0).is_err());
    assert!(utc_to_tt2000(1971, 12, 31, 0, 0, 0, 0).is_err());
}

#[test]
fn tt2000_to_utc_round_trips_every_hour_around_2016_leap_second() {
    let start = utc_to_tt2000(2016, 12, 30, 0, 0, 0, 0).unwrap();
    for step in 0..(72 * 3600 / 997) {
        let tt2000 = start + step * 997_000_000_123;
        let utc = tt2000_to_utc(tt2000).unwrap();
        assert_eq!(utc.to_tt2000().unwrap(), tt2000, "{utc}");
    }
}
