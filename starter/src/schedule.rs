//! Scheduled runs for cadence products (monthly and quarterly maps): each configured schedule
//! fires on its cron expression and plans a campaign over a date range relative to the firing
//! day. The campaign id names the schedule and the firing minute, so a firing is planned at
//! most once however often the starter restarts (or however many starters run).

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use imap_filename::Date;
use proto::pb::StartReprocessingRequest;
use proto::retry::{Outcome, RetryPolicy};
use proto::time::{now_millis, rfc3339_millis};

use super::campaigns::{CampaignPlan, plan_campaign};
use super::config::ScheduleConfig;
use super::cron::CronSchedule;
use super::error::StarterError;
use super::role::StarterShared;

const DAY_MILLIS: i64 = 86_400_000;
/// A firing missed while the starter was down is caught up if it is at most this old.
const CATCH_UP_MILLIS: i64 = DAY_MILLIS;
/// A firing whose planning fails transiently (depsvc unreachable) is tried again for a while; a
/// firing missed for good is made up by the next one.
const PLAN_RETRY: RetryPolicy =
    RetryPolicy::attempts(NonZeroU32::new(10).expect("not zero"), Duration::from_secs(5), Duration::from_secs(60));

#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub cron: CronSchedule,
    instrument: String,
    data_level: String,
    descriptor: String,
    start_days: i32,
    end_days: i32,
}

impl Schedule {
    pub fn from_config(config: &ScheduleConfig) -> Result<Schedule, StarterError> {
        let invalid = |reason: String| StarterError::InvalidSchedule { name: config.name.clone(), reason };
        if config.name.is_empty()
            || !config.name.chars().all(|character| character.is_ascii_alphanumeric() || character == '-')
        {
            return Err(invalid("name must be non-empty letters, digits and dashes".into()));
        }
        let cron = config.cron.parse::<CronSchedule>().map_err(|error| invalid(error.to_string()))?;
        let parts: Vec<&str> = config.products.split_whitespace().collect();
        let [instrument, data_level, descriptor] = parts.as_slice() else {
            return Err(invalid(format!(
                "products {:?}: expected \"instrument level descriptor\" with * for any",
                config.products
            )));
        };
        let any = |part: &str| if part == "*" { String::new() } else { part.to_string() };
        if config.end_days < config.start_days {
            return Err(invalid(format!("end_days {} is before start_days {}", config.end_days, config.start_days)));
        }
        Ok(Schedule {
            name: config.name.clone(),
            cron,
            instrument: any(instrument),
            data_level: any(data_level),
            descriptor: any(descriptor),
            start_days: config.start_days,
            end_days: config.end_days,
        })
    }

    /// The campaign a firing at `fired_at` (milliseconds, UTC) plans.
    pub fn campaign_for(&self, fired_at: i64) -> CampaignPlan {
        let firing_day = Date::from_days_since_epoch(fired_at.div_euclid(DAY_MILLIS) as i32);
        let minute = &rfc3339_millis(fired_at)[..16];
        CampaignPlan {
            id: format!("schedule-{}-{}", self.name, minute.replace([':', '-'], "")),
            request: StartReprocessingRequest {
                start_date: firing_day.add_days(self.start_days).yyyymmdd(),
                end_date: firing_day.add_days(self.end_days).yyyymmdd(),
                instrument: self.instrument.clone(),
                data_level: self.data_level.clone(),
                descriptor: self.descriptor.clone(),
            },
            origin: format!("schedule {}", self.name),
        }
    }
}

/// Parses every configured schedule; one bad entry fails the starter before it listens.
pub fn schedules_from_config(configs: &[ScheduleConfig]) -> Result<Vec<Schedule>, StarterError> {
    configs.iter().map(Schedule::from_config).collect()
}

/// The firings due after `last_checked` up to `now`, oldest first: for each schedule only its
/// latest, so runs missed while the starter was down are made up once, not once per miss.
pub fn due_firings(schedules: &[Schedule], last_checked: i64, now: i64) -> Vec<(usize, i64)> {
    let mut due: Vec<(usize, i64)> = schedules
        .iter()
        .enumerate()
        .filter_map(|(index, schedule)| {
            let latest = schedule.cron.latest_at_or_before(now, now - last_checked - 1)?;
            (latest > last_checked).then_some((index, latest))
        })
        .collect();
    due.sort_by_key(|&(_, firing)| firing);
    due
}

/// Fires schedules until shutdown; a firing missed while down (up to a day old) is caught up.
pub async fn run_schedules(shared: Arc<StarterShared>, schedules: Vec<Schedule>) {
    if schedules.is_empty() {
        return;
    }
    let shutdown = shared.trigger.shutdown.clone();
    let mut last_checked = now_millis() - CATCH_UP_MILLIS;
    loop {
        let now = now_millis();
        for (index, firing) in due_firings(&schedules, last_checked, now) {
            fire(&shared, &schedules[index], firing).await;
        }
        last_checked = now;
        let next = schedules.iter().filter_map(|schedule| schedule.cron.next_after(now)).min();
        let Some(next) = next else {
            tracing::warn!("no schedule fires in the next five years; schedule runner stops");
            return;
        };
        let wait = Duration::from_millis((next - now_millis()).max(0) as u64);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait() => return,
        }
    }
}

async fn fire(shared: &Arc<StarterShared>, schedule: &Schedule, firing: i64) {
    let plan = schedule.campaign_for(firing);
    let planned = PLAN_RETRY
        .run("plan scheduled run", &shared.trigger.shutdown, || plan_campaign(shared.clone(), plan.clone()))
        .await;
    match planned {
        Outcome::Done(response) => {
            tracing::info!(schedule = %schedule.name, campaign = %response.campaign_id, planned_runs = response.planned_runs, "scheduled run fired")
        }
        Outcome::Refused(error) => tracing::error!(schedule = %schedule.name, %error, "scheduled run refused"),
        Outcome::Exhausted(error) => {
            tracing::error!(schedule = %schedule.name, %error, "scheduled run not planned after every attempt")
        }
        Outcome::Stopped => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(cron: &str, products: &str, start_days: i32, end_days: i32) -> ScheduleConfig {
        ScheduleConfig { name: "maps".into(), cron: cron.into(), products: products.into(), start_days, end_days }
    }

    fn at(date: &str, hour: i64) -> i64 {
        i64::from(Date::parse_yyyymmdd(date).unwrap().days_since_epoch()) * DAY_MILLIS + hour * 3_600_000
    }

    #[test]
    fn monthly_schedule_plans_the_previous_month() {
        let schedule = Schedule::from_config(&config("0 3 1 * *", "mag l2 *", -31, -1)).unwrap();
        let plan = schedule.campaign_for(at("20261201", 3));
        assert_eq!(plan.id, "schedule-maps-20261201T0300");
        assert_eq!(plan.origin, "schedule maps");
        assert_eq!((plan.request.start_date.as_str(), plan.request.end_date.as_str()), ("20261031", "20261130"));
        assert_eq!(
            (plan.request.instrument.as_str(), plan.request.data_level.as_str(), plan.request.descriptor.as_str()),
            ("mag", "l2", "")
        );
    }

    #[test]
    fn due_firings_coalesce_missed_runs_per_schedule() {
        let schedules =
            schedules_from_config(&[config("0 3 1 * *", "* l3 *", -31, -1), config("0 0 * * *", "* l3 *", -1, -1)])
                .unwrap();
        // Down from the 30th noon to the 2nd: the daily schedule missed two runs and makes up
        // the latest; the monthly one missed one.
        let due = due_firings(&schedules, at("20261130", 12), at("20261202", 1));
        assert_eq!(due, vec![(0, at("20261201", 3)), (1, at("20261202", 0))]);
        // A firing exactly at `now` is due; one exactly at `last_checked` was already handled.
        assert_eq!(due_firings(&schedules, at("20261201", 1), at("20261201", 3)), vec![(0, at("20261201", 3))]);
        assert!(due_firings(&schedules, at("20261201", 3), at("20261201", 4)).is_empty());
        // Checking again from where we stopped finds nothing new.
        assert!(due_firings(&schedules, at("20261202", 1), at("20261202", 1)).is_empty());
    }

    #[test]
    fn bad_schedules_are_refused_with_the_reason() {
        let refuse = |config: ScheduleConfig| Schedule::from_config(&config).expect_err("refused").to_string();
        assert!(refuse(config("0 3 1 *", "* l3 *", -1, -1)).contains("expected 5 fields"));
        assert!(refuse(config("0 3 1 * *", "l3", -1, -1)).contains("expected \"instrument level descriptor\""));
        assert!(refuse(config("0 3 1 * *", "* l3 *", -1, -5)).contains("end_days -5 is before start_days -1"));
    }
}
