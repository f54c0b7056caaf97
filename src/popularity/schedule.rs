//! The engine's one clock: what each tick sends the database.
//!
//! A tick sends at most one statement, so an instance costs the database at
//! most one statement per flush interval, whatever the traffic. Usually that
//! is the flush of pending views; when the rankings are due, their refresh
//! takes the tick instead, and when the roll-up is due, the roll-up. Two such
//! ticks never follow each other, so counted views wait one extra tick at most.

use std::time::{Duration, Instant};

use super::PopularitySettings;

/// The work of one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Flush,
    Refresh,
    RollUp,
}

pub struct Schedule {
    tick: Duration,
    refresh_every: Duration,
    roll_up_every: Option<Duration>,
    refreshed: Option<Instant>,
    rolled_up: Option<Instant>,
    last: Job,
}

impl Schedule {
    pub fn new(settings: &PopularitySettings) -> Self {
        Self {
            tick: settings.flush_interval,
            refresh_every: settings.snapshot_interval,
            roll_up_every: settings.roll_up_interval,
            refreshed: None,
            rolled_up: None,
            last: Job::Flush,
        }
    }

    /// How often the clock ticks.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// The job of the tick at `now`: the first tick refreshes the rankings.
    pub fn next(&mut self, now: Instant) -> Job {
        // Ticks come a little late, never early: allow half a tick.
        let slack = self.tick / 2;
        let due = |last: Option<Instant>, every: Duration| {
            last.is_none_or(|at| now.saturating_duration_since(at) + slack >= every)
        };
        let refresh = due(self.refreshed, self.refresh_every);
        let roll_up = self
            .roll_up_every
            .is_some_and(|every| due(self.rolled_up, every));
        // Both due: take turns, so that neither waits for ever.
        let job = if self.last != Job::Flush {
            Job::Flush
        } else if roll_up && (!refresh || self.refreshed > self.rolled_up) {
            self.rolled_up = Some(now);
            Job::RollUp
        } else if refresh {
            self.refreshed = Some(now);
            Job::Refresh
        } else {
            Job::Flush
        };
        self.last = job;
        job
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(settings: &PopularitySettings, ticks: u32) -> Vec<Job> {
        let mut schedule = Schedule::new(settings);
        let start = Instant::now();
        // Each tick a millisecond late, as a loaded runtime delivers them.
        (0..ticks)
            .map(|n| schedule.next(start + settings.flush_interval * n + Duration::from_millis(1)))
            .collect()
    }

    #[test]
    fn by_default_one_tick_in_ten_refreshes_and_the_roll_up_comes_hourly() {
        let settings = PopularitySettings::default();
        let jobs = run(&settings, 7200);
        let count = |job| jobs.iter().filter(|j| **j == job).count();
        assert_eq!(jobs[..3], [Job::Refresh, Job::Flush, Job::RollUp]);
        assert_eq!(count(Job::Refresh), 720);
        assert_eq!(count(Job::RollUp), 2);
        assert_eq!(count(Job::Flush), 7200 - 722);
        let refreshes: Vec<usize> = (0..jobs.len())
            .filter(|&i| jobs[i] == Job::Refresh)
            .collect();
        assert!(
            refreshes.windows(2).all(|w| w[1] - w[0] == 10),
            "{refreshes:?}"
        );
    }

    #[test]
    fn views_never_wait_two_ticks_even_when_everything_is_due_every_tick() {
        let settings = PopularitySettings {
            snapshot_interval: Duration::from_millis(1),
            roll_up_interval: Some(Duration::from_millis(1)),
            ..PopularitySettings::default()
        };
        let jobs = run(&settings, 100);
        assert!(jobs.windows(2).all(|w| w.contains(&Job::Flush)), "{jobs:?}");
        assert!(jobs.contains(&Job::RollUp));
    }

    #[test]
    fn without_a_roll_up_interval_there_is_no_roll_up() {
        let settings = PopularitySettings {
            roll_up_interval: None,
            ..PopularitySettings::default()
        };
        assert!(!run(&settings, 1000).contains(&Job::RollUp));
    }
}
