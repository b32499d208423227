//! The learning-rate schedules of `[train]`.

use crate::config::TrainConfig;
use serde::{Deserialize, Serialize};

/// The shape of the learning rate after the linear warm-up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Cosine decay from `lr` to `min_lr` at `decay_steps` (nanoGPT's).
    #[default]
    Cosine,
    /// Warm-up, stable, decay: `lr` held, then a linear cool-down to `min_lr` over the
    /// last `cooldown` fraction of the steps to `decay_steps` (as in the modded-nanogpt
    /// speedrun; Hägele et al. 2024, arXiv 2405.18392).
    Wsd,
}

impl TrainConfig {
    /// The learning rate at `step`: linear warm-up over `warmup_steps`, then the
    /// schedule down to `min_lr` at [`TrainConfig::decay_end`], then `min_lr`.
    pub fn learning_rate(&self, step: i64) -> f64 {
        let (lr, min_lr, warmup, end) = (self.lr, self.min_lr, self.warmup_steps, self.decay_end());
        if step < warmup {
            return lr * (step + 1) as f64 / (warmup + 1) as f64;
        }
        if step >= end {
            return min_lr;
        }
        let ratio = match self.schedule {
            Schedule::Cosine => {
                let t = (step - warmup) as f64 / (end - warmup).max(1) as f64;
                0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            Schedule::Wsd => {
                let cooldown = ((end - warmup) as f64 * self.cooldown).round() as i64;
                let start = end - cooldown;
                if step < start { 1.0 } else { (end - step) as f64 / cooldown.max(1) as f64 }
            }
        };
        min_lr + ratio * (lr - min_lr)
    }

    /// The learning rate at `step` after `elapsed_s` training seconds, when the decay
    /// follows time too and reaches `min_lr` at `decay_time_s` seconds (`train.max_time`,
    /// or `train.decay_time`). The warm-up is the same as [`TrainConfig::learning_rate`]'s,
    /// over `warmup_steps` steps; the schedule then stands at the larger of two
    /// fractions of the decay, that of the steps from the warm-up to
    /// [`TrainConfig::decay_end`] and that of the time `elapsed_s / decay_time_s`, so
    /// that it ends with whichever budget ends first: the time on a machine slower than
    /// the steps expected. Should the time end during the warm-up, the decay caps it.
    pub fn learning_rate_in_time(&self, step: i64, elapsed_s: f64, decay_time_s: f64) -> f64 {
        let (lr, min_lr, warmup, end) = (self.lr, self.min_lr, self.warmup_steps, self.decay_end());
        let by_steps = if step < warmup { 0.0 } else { (step - warmup) as f64 / (end - warmup).max(1) as f64 };
        let t = by_steps.max(elapsed_s / decay_time_s);
        let decayed = if t >= 1.0 { min_lr } else { min_lr + self.ratio(t) * (lr - min_lr) };
        if step < warmup { decayed.min(lr * (step + 1) as f64 / (warmup + 1) as f64) } else { decayed }
    }

    /// The schedule's share of `lr - min_lr` at the fraction `t` in [0, 1) of the decay.
    fn ratio(&self, t: f64) -> f64 {
        match self.schedule {
            Schedule::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * t).cos()),
            Schedule::Wsd if t < 1.0 - self.cooldown => 1.0,
            Schedule::Wsd => (1.0 - t) / self.cooldown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(schedule: Schedule) -> TrainConfig {
        TrainConfig {
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 100,
            max_steps: 2000,
            schedule,
            cooldown: 0.2,
            ..Default::default()
        }
    }

    #[test]
    fn cosine_warms_up_then_decays_to_min_lr() {
        let c = config(Schedule::Cosine);
        let lr = |s| c.learning_rate(s);
        assert!((lr(0) - 1e-3 / 101.0).abs() < 1e-12);
        assert!((lr(99) - 1e-3 * 100.0 / 101.0).abs() < 1e-12);
        assert!((lr(100) - 1e-3).abs() < 1e-12);
        assert!((lr(1050) - 5.5e-4).abs() < 1e-9, "half way is the mean of lr and min_lr");
        assert!((lr(2000) - 1e-4).abs() < 1e-12);
        assert!((lr(5000) - 1e-4).abs() < 1e-12);
        assert!((1..2000).all(|s| lr(s) <= lr(s - 1) + 1e-15 || s <= 100));
    }

    #[test]
    fn wsd_holds_the_peak_then_cools_down_linearly() {
        let c = config(Schedule::Wsd);
        let lr = |s| c.learning_rate(s);
        assert!((lr(50) - config(Schedule::Cosine).learning_rate(50)).abs() < 1e-15, "the same warm-up");
        // 1,900 steps after the warm-up; the last 20% (380) cool down: from step 1620.
        assert!((100..=1620).all(|s| (lr(s) - 1e-3).abs() < 1e-15));
        assert!((lr(1810) - 5.5e-4).abs() < 1e-12, "half way down is the mean");
        assert!((lr(1999) - (1e-4 + 9e-4 / 380.0)).abs() < 1e-12);
        assert!((lr(2000) - 1e-4).abs() < 1e-15 && (lr(9000) - 1e-4).abs() < 1e-15);
        let all_stable = TrainConfig { cooldown: 0.0, ..c.clone() };
        assert!((all_stable.learning_rate(1999) - 1e-3).abs() < 1e-15);
    }

    #[test]
    fn in_time_the_decay_ends_with_the_time_or_the_steps_whichever_first() {
        // A step budget far beyond what the time allows: the time leads the decay.
        let c = TrainConfig { max_steps: 1_000_000_000, ..config(Schedule::Cosine) };
        let lr = |step, s| c.learning_rate_in_time(step, s, 600.0);
        assert!((lr(0, 0.0) - c.learning_rate(0)).abs() < 1e-15, "the same warm-up, in steps");
        assert!((lr(99, 1.0) - c.learning_rate(99)).abs() < 1e-15);
        assert!((lr(100, 0.0) - 1e-3).abs() < 1e-12);
        assert!((lr(5000, 300.0) - 5.5e-4).abs() < 1e-9, "half the time: half way down");
        assert!((lr(9000, 600.0) - 1e-4).abs() < 1e-15 && (lr(9001, 700.0) - 1e-4).abs() < 1e-15);
        let times: Vec<f64> = (0..=60).map(|i| f64::from(i) * 10.0).collect();
        assert!(times.windows(2).all(|w| lr(200, w[1]) <= lr(200, w[0])), "it only goes down");
        // The time ending during the warm-up: the rate is the decay's, at min_lr.
        assert!((lr(50, 600.0) - 1e-4).abs() < 1e-15);
        // Steps ahead of the time lead: the step schedule's rate, at its end min_lr.
        let c = config(Schedule::Cosine);
        assert!((c.learning_rate_in_time(1050, 1.0, 600.0) - c.learning_rate(1050)).abs() < 1e-12);
        assert!((c.learning_rate_in_time(2000, 1.0, 600.0) - 1e-4).abs() < 1e-15);
    }

    #[test]
    fn wsd_in_time_cools_down_over_the_last_part_of_the_time() {
        let c = TrainConfig { max_steps: 1_000_000_000, ..config(Schedule::Wsd) };
        let lr = |s| c.learning_rate_in_time(500, s, 100.0);
        assert!((lr(0.0) - 1e-3).abs() < 1e-15 && (lr(79.9) - 1e-3).abs() < 1e-15, "held until 80%");
        assert!((lr(90.0) - 5.5e-4).abs() < 1e-12, "half the cool-down: the mean");
        assert!((lr(100.0) - 1e-4).abs() < 1e-15);
        let all_stable = TrainConfig { cooldown: 0.0, ..c.clone() };
        assert!((all_stable.learning_rate_in_time(500, 99.9, 100.0) - 1e-3).abs() < 1e-15);
        assert!((all_stable.learning_rate_in_time(500, 100.0, 100.0) - 1e-4).abs() < 1e-15);
    }
}
