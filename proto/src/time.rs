//! Instants as the mesh keeps them: milliseconds since the Unix epoch in every table,
//! `google.protobuf.Timestamp` on the wire, RFC 3339 UTC text with milliseconds
//! (`2026-11-26T06:19:45.123Z`) for people.

use imap_filename::Date;
use prost_types::Timestamp;

/// Milliseconds since the Unix epoch: the one time format stored in every table.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

/// RFC 3339 UTC text for a millisecond timestamp, e.g. `2026-11-26T06:19:45.123Z`.
pub fn rfc3339_millis(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let date = Date::from_days_since_epoch(seconds.div_euclid(86_400) as i32);
    let second_of_day = seconds.rem_euclid(86_400);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        date.year(),
        date.month(),
        date.day(),
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60,
        millis.rem_euclid(1000)
    )
}

/// The wire form of a stored instant.
pub fn timestamp(millis: i64) -> Timestamp {
    Timestamp { seconds: millis.div_euclid(1000), nanos: (millis.rem_euclid(1000) * 1_000_000) as i32 }
}

/// The wire form of a stored instant where 0 means "not yet" (a job not started, ...).
pub fn timestamp_if_set(millis: i64) -> Option<Timestamp> {
    (millis != 0).then(|| timestamp(millis))
}

/// Milliseconds since the epoch of a wire instant (sub-millisecond parts dropped).
pub fn millis_of(timestamp: &Timestamp) -> i64 {
    timestamp.seconds * 1000 + i64::from(timestamp.nanos.div_euclid(1_000_000))
}

/// RFC 3339 text of a wire instant, to the millisecond.
pub fn rfc3339(timestamp: &Timestamp) -> String {
    rfc3339_millis(millis_of(timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1_727_136_000_123), "2024-09-24T00:00:00.123Z");
    }

    #[test]
    fn stored_instants_round_trip_through_the_wire() {
        for millis in [0, 1, 999, 1_727_136_000_123, -1, -1_001] {
            assert_eq!(millis_of(&timestamp(millis)), millis, "{millis}");
        }
        assert_eq!(timestamp(-1), Timestamp { seconds: -1, nanos: 999_000_000 });
        assert_eq!(timestamp_if_set(0), None);
        assert_eq!(rfc3339(&timestamp(1_727_136_000_123)), "2024-09-24T00:00:00.123Z");
    }
}
