//! The business-day rule: a store's sale belongs to the local date of
//! (occurred_at in the store's time zone - the day-start hour), and to the
//! local clock hour. Pure, so it is tested without a database; the same
//! rule in SQL is `jowi_business_day` / `jowi_local_hour` (migration V8),
//! which the rebuild uses and the equality tests compare against.
//!
//! Across DST the rule follows the wall clock: a business day is from the
//! start hour to the start hour (23 or 25 real hours on a change night); on
//! a fall-back night the repeated local hour is one bucket holding both real
//! hours, on a spring-forward night the skipped hour's bucket stays empty.

use crate::error::{Error, Result};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A store's business clock: IANA zone and the hour its day starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessClock {
    pub zone: Tz,
    /// 0..=23, local clock hour at which a new business day begins.
    pub start_hour: u8,
}

/// Where a moment falls in a store's reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusinessSlot {
    pub day: NaiveDate,
    /// Local clock hour, 0..=23.
    pub hour: i16,
}

/// The default zone of a new tenant (the product's home market).
pub const DEFAULT_ZONE: &str = "Asia/Tashkent";

/// An IANA zone name as sent by a client or stored in settings.
pub fn parse_zone(field: &str, raw: &str) -> Result<Tz> {
    raw.parse::<Tz>()
        .map_err(|_| Error::invalid(field, format!("{raw:?} is not an IANA time zone name")))
}

pub fn parse_start_hour(field: &str, raw: i64) -> Result<u8> {
    u8::try_from(raw)
        .ok()
        .filter(|h| *h < 24)
        .ok_or_else(|| Error::invalid(field, "the business day starts at an hour 0 to 23"))
}

impl BusinessClock {
    pub fn new(zone: Tz, start_hour: u8) -> Self {
        BusinessClock {
            zone,
            start_hour: start_hour.min(23),
        }
    }

    /// From stored settings; an unknown zone (never written by this server,
    /// which validates) falls back to UTC rather than failing a sale.
    pub fn from_settings(zone: &str, start_hour: i16) -> Self {
        BusinessClock::new(
            zone.parse().unwrap_or(Tz::UTC),
            u8::try_from(start_hour).unwrap_or(0),
        )
    }

    pub fn slot(&self, at: DateTime<Utc>) -> BusinessSlot {
        let local: NaiveDateTime = at.with_timezone(&self.zone).naive_local();
        let shifted = local - Duration::hours(i64::from(self.start_hour));
        BusinessSlot {
            day: shifted.date(),
            hour: local.hour() as i16,
        }
    }

    /// The UTC instant a business day starts (for receipt listings of a
    /// day). A start hour that the clock skips (spring forward) starts the
    /// day at the first instant after the gap.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        let mut local = day
            .and_hms_opt(u32::from(self.start_hour), 0, 0)
            .unwrap_or_default();
        for _ in 0..4 {
            match self.zone.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => return t.with_timezone(&Utc),
                chrono::LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                chrono::LocalResult::None => local += Duration::minutes(30),
            }
        }
        Utc.from_utc_datetime(&local)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn tashkent_without_dst_shifts_by_five_hours() {
        let c = BusinessClock::new(parse_zone("tz", "Asia/Tashkent").unwrap(), 0);
        // 20:30 UTC is 01:30 next day in Tashkent (UTC+5).
        let s = c.slot(utc("2026-03-01T20:30:00Z"));
        assert_eq!(
            s,
            BusinessSlot {
                day: day("2026-03-02"),
                hour: 1
            }
        );
    }

    #[test]
    fn start_hour_moves_night_sales_to_the_previous_day() {
        let c = BusinessClock::new(parse_zone("tz", "Asia/Tashkent").unwrap(), 4);
        // 03:59 local on the 2nd belongs to the 1st; 04:00 to the 2nd.
        assert_eq!(c.slot(utc("2026-03-01T22:59:00Z")).day, day("2026-03-01"));
        assert_eq!(c.slot(utc("2026-03-01T23:00:00Z")).day, day("2026-03-02"));
        assert_eq!(c.slot(utc("2026-03-01T22:59:00Z")).hour, 3);
    }

    #[test]
    fn spring_forward_day_is_23_hours_and_skips_the_hour() {
        // Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST.
        let c = BusinessClock::new(parse_zone("tz", "Europe/Berlin").unwrap(), 0);
        assert_eq!(c.slot(utc("2026-03-29T00:59:59Z")).hour, 1);
        assert_eq!(c.slot(utc("2026-03-29T01:00:00Z")).hour, 3);
        let start = c.day_start(day("2026-03-29"));
        let next = c.day_start(day("2026-03-30"));
        assert_eq!((next - start).num_hours(), 23);
        // The last instant of the 29th and the first of the 30th.
        assert_eq!(c.slot(next - Duration::seconds(1)).day, day("2026-03-29"));
        assert_eq!(c.slot(next).day, day("2026-03-30"));
    }

    #[test]
    fn fall_back_day_is_25_hours_and_the_repeated_hour_is_one_bucket() {
        // America/New_York: 2026-11-01 02:00 EDT -> 01:00 EST.
        let c = BusinessClock::new(parse_zone("tz", "America/New_York").unwrap(), 0);
        let first = c.slot(utc("2026-11-01T05:30:00Z")); // 01:30 EDT
        let second = c.slot(utc("2026-11-01T06:30:00Z")); // 01:30 EST
        assert_eq!(first, second);
        assert_eq!(
            first,
            BusinessSlot {
                day: day("2026-11-01"),
                hour: 1
            }
        );
        let len = c.day_start(day("2026-11-02")) - c.day_start(day("2026-11-01"));
        assert_eq!(len.num_hours(), 25);
    }

    #[test]
    fn start_hour_inside_the_spring_gap_starts_after_it() {
        // Berlin skips 02:00-03:00 on 2026-03-29; a 2 o'clock start begins at 03:00 CEST.
        let c = BusinessClock::new(parse_zone("tz", "Europe/Berlin").unwrap(), 2);
        assert_eq!(c.day_start(day("2026-03-29")), utc("2026-03-29T01:00:00Z"));
        assert_eq!(c.slot(utc("2026-03-29T00:59:00Z")).day, day("2026-03-28"));
        assert_eq!(c.slot(utc("2026-03-29T01:00:00Z")).day, day("2026-03-29"));
    }

    #[test]
    fn bad_zone_and_hour_are_refused_with_their_field() {
        match parse_zone("time_zone", "Mars/Olympus") {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "time_zone"),
            other => panic!("{other:?}"),
        }
        assert!(parse_start_hour("h", 24).is_err());
        assert!(parse_start_hour("h", -1).is_err());
        assert_eq!(parse_start_hour("h", 23).unwrap(), 23);
    }
}
