//! When a job runs: once, every N seconds, or on a cron expression in a time zone ("0 9 * * MON" in
//! Europe/Berlin: every Monday 09:00 Berlin time, DST included). Slots are unix seconds; each run is for one slot,
//! and a slot is run at most once (`UNIQUE (job_id, slot)`).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

/// Slots older than this, or followed by a later due slot, count as missed (the catch-up policy decides).
pub const MISSED_AFTER_SECS: i64 = 300;
/// At most this many runs are created for one job in one pass (a long downtime under `all` catches up in steps).
pub const MAX_SLOTS_PER_PASS: usize = 100;

/// A job's schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// One run, at `at` (unix seconds; now if absent).
    Once {
        /// When.
        #[serde(default)]
        at: Option<i64>,
    },
    /// A run every `every_secs` seconds from `start` (now if absent), until `until` if given.
    Interval {
        /// Seconds between runs (at least 1).
        every_secs: i64,
        /// The first slot.
        #[serde(default)]
        start: Option<i64>,
        /// No slot after this.
        #[serde(default)]
        until: Option<i64>,
    },
    /// A run at each time a cron expression matches, read in a time zone.
    Cron {
        /// Five fields (minute hour day month weekday) or six (with seconds first), e.g. `0 9 * * MON`.
        expr: String,
        /// An IANA time zone, e.g. `Europe/Berlin` (default `UTC`).
        #[serde(default = "utc")]
        tz: String,
        /// No slot after this.
        #[serde(default)]
        until: Option<i64>,
    },
}

fn utc() -> String {
    "UTC".into()
}

/// The slots due now: `(to_run, to_skip, next_slot)`.
pub type Due = (Vec<i64>, Vec<i64>, Option<i64>);

/// What to do with slots missed while the service was down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run every missed slot.
    All,
    /// Run the most recent missed slot only; the others are recorded as skipped.
    Latest,
    /// Run none of them (recorded as skipped); go on with the next slot.
    None,
}

impl CatchUp {
    /// Its name in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Latest => "latest",
            Self::None => "none",
        }
    }

    /// From its name in storage.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" => Some(Self::All),
            "latest" => Some(Self::Latest),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// What a run refused by a period's cap does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnRefused {
    /// Wait for the period's refill and send then.
    Wait,
    /// Record the refusal and skip the run.
    Skip,
}

impl OnRefused {
    /// Its name in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wait => "wait",
            Self::Skip => "skip",
        }
    }
}

impl Schedule {
    /// Checks the schedule; the error names what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Self::Once { at } => match at {
                Some(t) if *t < 0 => Err(format!("schedule.at: {t} is before 1970")),
                _ => Ok(()),
            },
            Self::Interval { every_secs, start, until } => {
                if *every_secs < 1 {
                    return Err(format!("schedule.every_secs must be at least 1, not {every_secs}"));
                }
                if let (Some(s), Some(u)) = (start, until)
                    && u < s
                {
                    return Err(format!("schedule.until ({u}) is before schedule.start ({s})"));
                }
                Ok(())
            }
            Self::Cron { expr, tz, .. } => {
                parse_cron(expr)?;
                parse_tz(tz)?;
                Ok(())
            }
        }
    }

    /// The first slot for a job created at `now`; `None` if there is none.
    pub fn first_slot(&self, now: i64) -> Result<Option<i64>, String> {
        Ok(match self {
            Self::Once { at } => Some(at.unwrap_or(now)),
            Self::Interval { start, until, .. } => {
                Some(start.unwrap_or(now)).filter(|s| until.is_none_or(|u| *s <= u))
            }
            Self::Cron { .. } => self.next_after(now - 1)?,
        })
    }

    /// The first slot after `slot`; `None` when the schedule has ended.
    pub fn next_after(&self, slot: i64) -> Result<Option<i64>, String> {
        Ok(match self {
            Self::Once { .. } => None,
            Self::Interval { every_secs, until, .. } => {
                Some(slot.saturating_add(*every_secs)).filter(|s| until.is_none_or(|u| *s <= u))
            }
            Self::Cron { expr, tz, until } => {
                let cron = parse_cron(expr)?;
                let tz = parse_tz(tz)?;
                let Some(after) = Utc.timestamp_opt(slot, 0).single() else { return Ok(None) };
                let local: DateTime<Tz> = after.with_timezone(&tz);
                match cron.find_next_occurrence(&local, false) {
                    Ok(next) => Some(next.timestamp()).filter(|s| until.is_none_or(|u| *s <= u)),
                    Err(_) => None,
                }
            }
        })
    }

    /// The slots due at `now` from `next` on: `(to_run, to_skip, next_slot)` under `catch_up`. A slot counts as
    /// missed when a later slot is also due or it is more than [`MISSED_AFTER_SECS`] old.
    pub fn due(&self, next: i64, now: i64, catch_up: CatchUp) -> Result<Due, String> {
        let mut due = Vec::new();
        let mut cursor = Some(next);
        while let Some(slot) = cursor {
            if slot > now || due.len() >= MAX_SLOTS_PER_PASS {
                break;
            }
            due.push(slot);
            cursor = self.next_after(slot)?;
        }
        let Some(&last) = due.last() else { return Ok((vec![], vec![], Some(next))) };
        let (run, skip): (Vec<i64>, Vec<i64>) = match catch_up {
            CatchUp::All => (due, vec![]),
            CatchUp::Latest => {
                let skip = due[..due.len() - 1].to_vec();
                (vec![last], skip)
            }
            CatchUp::None => {
                if now - last <= MISSED_AFTER_SECS {
                    (vec![last], due[..due.len() - 1].to_vec())
                } else {
                    (vec![], due)
                }
            }
        };
        Ok((run, skip, cursor))
    }
}

fn parse_cron(expr: &str) -> Result<Cron, String> {
    Cron::from_str(expr).map_err(|e| format!("schedule.expr {expr:?} is not a cron expression: {e}"))
}

fn parse_tz(tz: &str) -> Result<Tz, String> {
    Tz::from_str(tz).map_err(|_| format!("schedule.tz {tz:?} is not an IANA time zone (e.g. Europe/Berlin)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_in_berlin_follows_daylight_saving() {
        let s = Schedule::Cron { expr: "0 9 * * MON".into(), tz: "Europe/Berlin".into(), until: None };
        s.validate().unwrap();
        // 2026-03-23 is a Monday in CET (UTC+1): 08:00 UTC. 2026-03-30 is in CEST (UTC+2): 07:00 UTC.
        let sunday = Utc.with_ymd_and_hms(2026, 3, 22, 12, 0, 0).unwrap().timestamp();
        let first = s.first_slot(sunday).unwrap().unwrap();
        assert_eq!(first, Utc.with_ymd_and_hms(2026, 3, 23, 8, 0, 0).unwrap().timestamp());
        let second = s.next_after(first).unwrap().unwrap();
        assert_eq!(second, Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).unwrap().timestamp());
    }

    #[test]
    fn catch_up_policies() {
        let s = Schedule::Interval { every_secs: 10, start: None, until: None };
        // Down from 100 to 135: slots 100, 110, 120, 130 are due.
        assert_eq!(s.due(100, 135, CatchUp::All).unwrap(), (vec![100, 110, 120, 130], vec![], Some(140)));
        assert_eq!(s.due(100, 135, CatchUp::Latest).unwrap(), (vec![130], vec![100, 110, 120], Some(140)));
        assert_eq!(s.due(100, 135, CatchUp::None).unwrap(), (vec![130], vec![100, 110, 120], Some(140)));
        // The latest missed slot is itself more than MISSED_AFTER_SECS old: none skips it too, latest runs it.
        let hourly = Schedule::Interval { every_secs: 1000, start: None, until: None };
        assert_eq!(hourly.due(100, 2000, CatchUp::None).unwrap(), (vec![], vec![100, 1100], Some(2100)));
        assert_eq!(hourly.due(100, 2000, CatchUp::Latest).unwrap(), (vec![1100], vec![100], Some(2100)));
        // Nothing due yet.
        assert_eq!(s.due(200, 135, CatchUp::All).unwrap(), (vec![], vec![], Some(200)));
    }

    #[test]
    fn bad_schedules_name_the_problem() {
        let e = Schedule::Cron { expr: "61 * * * *".into(), tz: "UTC".into(), until: None }
            .validate()
            .unwrap_err();
        assert!(e.contains("schedule.expr"), "{e}");
        let e = Schedule::Cron { expr: "0 9 * * MON".into(), tz: "Mars/Olympus".into(), until: None }
            .validate()
            .unwrap_err();
        assert!(e.contains("schedule.tz"), "{e}");
        let e = Schedule::Interval { every_secs: 0, start: None, until: None }.validate().unwrap_err();
        assert!(e.contains("every_secs"), "{e}");
    }
}
