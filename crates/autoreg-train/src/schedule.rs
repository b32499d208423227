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
}
