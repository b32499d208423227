/// The learning rate at `step`: linear warm-up over `warmup` steps, then cosine decay
/// from `lr` to `min_lr` at `decay_steps`, then `min_lr` (nanoGPT's schedule).
pub fn learning_rate(step: i64, lr: f64, min_lr: f64, warmup: i64, decay_steps: i64) -> f64 {
    if step < warmup {
        return lr * (step + 1) as f64 / (warmup + 1) as f64;
    }
    if step >= decay_steps {
        return min_lr;
    }
    let ratio = (step - warmup) as f64 / (decay_steps - warmup).max(1) as f64;
    let coeff = 0.5 * (1.0 + (std::f64::consts::PI * ratio).cos());
    min_lr + coeff * (lr - min_lr)
}

#[cfg(test)]
mod tests {
    use super::learning_rate;

    #[test]
    fn warms_up_then_decays_to_min_lr() {
        let lr = |s| learning_rate(s, 1e-3, 1e-4, 100, 2000);
        assert!((lr(0) - 1e-3 / 101.0).abs() < 1e-12);
        assert!((lr(99) - 1e-3 * 100.0 / 101.0).abs() < 1e-12);
        assert!((lr(100) - 1e-3).abs() < 1e-12);
        assert!((lr(1050) - 5.5e-4).abs() < 1e-9, "half way is the mean of lr and min_lr");
        assert!((lr(2000) - 1e-4).abs() < 1e-12);
        assert!((lr(5000) - 1e-4).abs() < 1e-12);
        assert!((1..2000).all(|s| lr(s) <= lr(s - 1) + 1e-15 || s <= 100));
    }
}
