//! The engine's one clock: what each tick sends the database.
//!
//! A tick sends at most one statement (the ranking refresh: one, in a
//! transaction of its own, and in the first refresh of an hour one more
//! that moves the stored windows), so an instance costs the database about
//! one statement per flush interval, whatever the traffic. Usually that
//! is the flush of pending views; a periodic job that is due (the ranking
//! refresh, the re-reading of the beacon's directory, the roll-up) takes the
//! tick instead. Two such ticks never follow each other, so counted views wait
//! one extra tick at most, and when several are due the one that waited
//! longest goes first.

use std::time::{Duration, Instant};

use super::PopularitySettings;

/// The work of one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Write the pending views.
    Flush,
    /// Recompute the rankings.
    Refresh,
    /// Re-read the articles the beacon's directory remembers.
    Revalidate,
    /// Roll old hourly buckets into days.
    RollUp,
}

struct Periodic {
    job: Job,
    every: Duration,
    last: Option<Instant>,
}

pub struct Schedule {
    tick: Duration,
    periodic: Vec<Periodic>,
    last: Job,
}

impl Schedule {
    pub fn new(settings: &PopularitySettings) -> Self {
        let every = |job, every| Periodic {
            job,
            every,
            last: None,
        };
        let mut periodic = vec![
            every(Job::Refresh, settings.snapshot_interval),
            // What the engine reads is at most one snapshot interval old.
            every(Job::Revalidate, settings.snapshot_interval),
        ];
        periodic.extend(settings.roll_up_interval.map(|at| every(Job::RollUp, at)));
        Self {
            tick: settings.flush_interval,
            periodic,
            last: Job::Flush,
        }
    }

    /// How often the clock ticks.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// The job of the tick at `now`; the first tick refreshes the rankings.
    pub fn next(&mut self, now: Instant) -> Job {
        // Ticks come a little late, never early: allow half a tick.
        let slack = self.tick / 2;
        let due = self
            .periodic
            .iter_mut()
            .filter(|p| {
                p.last
                    .is_none_or(|at| now.saturating_duration_since(at) + slack >= p.every)
            })
            // `None` (never run) sorts first; ties go to the earlier listed.
            .min_by_key(|p| p.last);
        let job = match due {
            Some(periodic) if self.last == Job::Flush => {
                periodic.last = Some(now);
                periodic.job
            }
            _ => Job::Flush,
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

    fn count(jobs: &[Job], job: Job) -> usize {
        jobs.iter().filter(|j| **j == job).count()
    }

    #[test]
    fn by_default_one_tick_in_ten_refreshes_one_revalidates_and_the_roll_up_is_hourly() {
        let jobs = run(&PopularitySettings::default(), 7200);
        assert_eq!(
            jobs[..5],
            [
                Job::Refresh,
                Job::Flush,
                Job::Revalidate,
                Job::Flush,
                Job::RollUp
            ]
        );
        assert_eq!(count(&jobs, Job::Refresh), 720);
        assert_eq!(count(&jobs, Job::Revalidate), 720);
        assert_eq!(count(&jobs, Job::RollUp), 2);
        assert_eq!(count(&jobs, Job::Flush), 7200 - 1442);
        let refreshes: Vec<usize> = (0..jobs.len())
            .filter(|&i| jobs[i] == Job::Refresh)
            .collect();
        assert!(
            refreshes.windows(2).all(|w| w[1] - w[0] == 10),
            "{refreshes:?}"
        );
    }

    #[test]
    fn views_never_wait_two_ticks_and_every_job_gets_its_turn() {
        let settings = PopularitySettings {
            snapshot_interval: Duration::from_millis(1),
            roll_up_interval: Some(Duration::from_millis(1)),
            ..PopularitySettings::default()
        };
        let jobs = run(&settings, 120);
        assert!(jobs.windows(2).all(|w| w.contains(&Job::Flush)), "{jobs:?}");
        for job in [Job::Refresh, Job::Revalidate, Job::RollUp] {
            assert_eq!(count(&jobs, job), 20, "{job:?}");
        }
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
