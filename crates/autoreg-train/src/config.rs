use crate::schedule::Schedule;
use autoreg_model::{DeviceChoice, Precision};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::path::PathBuf;

/// Which optimizer trains the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// AdamW for every parameter.
    #[default]
    Adamw,
    /// Muon for the 2-D matrices of the transformer blocks, AdamW for the embeddings,
    /// norms and biases.
    Muon,
}

/// `[train]`: optimisation, evaluation and hardware.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Where run directories go: `<runs_dir>/<name>/`.
    pub runs_dir: PathBuf,
    /// Sequences per micro-batch.
    pub batch_size: i64,
    /// Micro-batches per optimizer step.
    pub grad_accum: i64,
    /// Optimizer steps in all.
    pub max_steps: i64,
    /// Training seconds in all, over every session of the run (evaluations and
    /// checkpoints included): training stops at `max_steps` or at `max_time`, whichever
    /// comes first, and the decay follows time to end with it. Written as a duration,
    /// `"10m"`, `"1h 30m"`, `"90s"`, or as a number of seconds; unset: steps alone.
    #[serde(deserialize_with = "max_time", serialize_with = "duration", skip_serializing_if = "Option::is_none")]
    pub max_time: Option<f64>,
    /// Peak learning rate.
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    pub min_lr: f64,
    /// Steps of linear warm-up.
    pub warmup_steps: i64,
    /// Step at which the decay reaches `min_lr`; unset: `max_steps`.
    pub decay_steps: Option<i64>,
    /// Training seconds at which the decay reaches `min_lr` (a duration, as `max_time`);
    /// unset: `max_time` (or, resuming, the end the run's checkpoint records).
    #[serde(deserialize_with = "decay_time", serialize_with = "duration", skip_serializing_if = "Option::is_none")]
    pub decay_time: Option<f64>,
    /// `"cosine"` or `"wsd"` (warm-up, stable, linear cool-down).
    pub schedule: Schedule,
    /// With `"wsd"`: the fraction of the steps after the warm-up spent cooling down.
    pub cooldown: f64,
    /// `"adamw"`, or `"muon"`: Muon for the blocks' matrices, AdamW for the rest.
    pub optimizer: OptimizerKind,
    /// Muon's peak learning rate (the schedule scales it as it scales `lr`).
    pub muon_lr: f64,
    /// Muon's momentum.
    pub muon_momentum: f64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// Decoupled weight decay, on matrices only.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this; 0 turns clipping off.
    pub grad_clip: f64,
    /// Evaluate and checkpoint every this many steps (and at the end).
    pub eval_interval: i64,
    /// Batches per split at each evaluation.
    pub eval_batches: i64,
    /// Seed of data order, initialisation, dropout and the split.
    pub seed: u64,
    /// `"auto"`, `"cpu"`, `"cuda"` or `"cuda:N"`.
    pub device: DeviceChoice,
    /// `"auto"` (bf16 on CUDA, f32 on CPU), `"fp32"` or `"bf16"`.
    pub precision: Precision,
    /// CPU threads for libtorch; 0 keeps libtorch's default (with several ranks on one
    /// machine and no `OMP_NUM_THREADS`: its cores shared out among them).
    pub threads: usize,
    /// Seconds a data-parallel rank waits for the others (the rendezvous, each
    /// collective) before it stops with an error.
    pub dist_timeout_s: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            runs_dir: PathBuf::from("runs"),
            batch_size: 12,
            grad_accum: 1,
            max_steps: 2000,
            max_time: None,
            lr: 1e-3,
            min_lr: 1e-4,
            warmup_steps: 100,
            decay_steps: None,
            decay_time: None,
            schedule: Schedule::Cosine,
            cooldown: 0.2,
            optimizer: OptimizerKind::Adamw,
            muon_lr: 0.02,
            muon_momentum: 0.95,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
            grad_clip: 1.0,
            eval_interval: 250,
            eval_batches: 20,
            seed: 1337,
            device: DeviceChoice::Auto,
            precision: Precision::Auto,
            threads: 0,
            dist_timeout_s: 300.0,
        }
    }
}

/// What a duration key (`train.max_time`, `train.decay_time`) may be.
const DURATION: &str = "a duration above 0 (\"10m\", \"1h 30m\", \"90s\", or a number of seconds)";

/// The seconds in `text`: pieces `<number><unit>` (`"1h 30m"`, `"2.5s"`, `"90 s"`) with
/// the units `ms`, `s`, `m`, `h`, `d` (and their long names), or a number alone
/// (seconds); `None` when it is not written so. By hand rather than `humantime`, which
/// reads neither fractions (`"2.5s"`) nor a bare number of seconds.
fn parse_seconds(text: &str) -> Option<f64> {
    let number = |c: char| c.is_ascii_digit() || c == '.';
    let text = text.trim();
    if !text.is_empty() && text.chars().all(number) {
        return text.parse().ok();
    }
    let (mut rest, mut total) = (text, None::<f64>);
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !number(c)).unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let letters = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
        let unit = match &rest[..letters] {
            "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1e-3,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => return None,
        };
        total = Some(total.unwrap_or(0.0) + value * unit);
        rest = rest[letters..].trim_start();
    }
    total
}

/// `seconds` as `parse_seconds` reads it: whole seconds in units (`"1h 30m"`), anything
/// else as `None`.
pub(crate) fn format_seconds(seconds: f64) -> Option<String> {
    if !(seconds.is_finite() && seconds >= 1.0 && seconds.fract() == 0.0 && seconds < 1e15) {
        return None;
    }
    let mut left = seconds as u64;
    let mut pieces = Vec::new();
    for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if left >= size {
            pieces.push(format!("{}{unit}", left / size));
            left %= size;
        }
    }
    Some(pieces.join(" "))
}

/// Reads the duration key `key`: a string `parse_seconds` reads, or a number of seconds.
/// Whether it is above 0 is [`TrainConfig::validate`]'s check.
fn read_duration<'de, D: Deserializer<'de>>(d: D, key: &'static str) -> Result<Option<f64>, D::Error> {
    struct Seconds(&'static str);
    impl serde::de::Visitor<'_> for Seconds {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "{} as {DURATION}", self.0)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<f64, E> {
            parse_seconds(v).ok_or_else(|| E::custom(format!("{} must be {DURATION}, got {v:?}", self.0)))
        }
    }
    d.deserialize_any(Seconds(key)).map(Some)
}

/// Reads `train.max_time`.
fn max_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    read_duration(d, "train.max_time")
}

/// Reads `train.decay_time`.
fn decay_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    read_duration(d, "train.decay_time")
}

/// Writes a duration key as `"1h 30m"` when it is whole seconds, else as a number.
fn duration<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value.map(|v| (v, format_seconds(v))) {
        Some((_, Some(text))) => s.serialize_str(&text),
        Some((v, None)) => s.serialize_f64(v),
        None => s.serialize_none(),
    }
}

/// Most CPU threads `train.threads` may ask for.
const MAX_THREADS: usize = 1024;

/// `Err` naming `key` unless `ok(value)`; `want` says what is allowed.
fn check<T: std::fmt::Display + Copy>(key: &str, value: T, want: &str, ok: impl Fn(T) -> bool) -> Result<(), String> {
    if ok(value) { Ok(()) } else { Err(format!("{key} must be {want}, got {value}")) }
}

impl TrainConfig {
    /// Checks that every number is finite and in range; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        let at_least_one = [
            ("train.batch_size", self.batch_size),
            ("train.grad_accum", self.grad_accum),
            ("train.eval_interval", self.eval_interval),
            ("train.eval_batches", self.eval_batches),
        ];
        for (key, v) in at_least_one {
            check(key, v, "at least 1", |v| v >= 1)?;
        }
        let not_negative = [
            ("train.max_steps", self.max_steps),
            ("train.warmup_steps", self.warmup_steps),
            ("train.decay_steps", self.decay_steps.unwrap_or(0)),
        ];
        for (key, v) in not_negative {
            check(key, v, "at least 0", |v| v >= 0)?;
        }
        for (key, v) in [("train.max_time", self.max_time), ("train.decay_time", self.decay_time)] {
            if let Some(v) = v {
                check(key, v, DURATION, |v| v.is_finite() && v > 0.0)?;
            }
        }
        check("train.lr", self.lr, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.min_lr", self.min_lr, &format!("in [0, train.lr = {}]", self.lr), |v| v >= 0.0 && v <= self.lr)?;
        check("train.cooldown", self.cooldown, "in [0, 1]", |v| (0.0..=1.0).contains(&v))?;
        check("train.muon_lr", self.muon_lr, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.muon_momentum", self.muon_momentum, "in [0, 1)", |v| (0.0..1.0).contains(&v))?;
        for (key, v) in [("train.beta1", self.beta1), ("train.beta2", self.beta2)] {
            check(key, v, "in [0, 1)", |v| (0.0..1.0).contains(&v))?;
        }
        check("train.eps", self.eps, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.weight_decay", self.weight_decay, "a finite number, at least 0", |v| v.is_finite() && v >= 0.0)?;
        check("train.grad_clip", self.grad_clip, "a finite number, at least 0 (0: no clipping)", |v| {
            v.is_finite() && v >= 0.0
        })?;
        check("train.dist_timeout_s", self.dist_timeout_s, "a finite number > 0", |v| v.is_finite() && v > 0.0)?;
        check("train.threads", self.threads, &format!("at most {MAX_THREADS} (0: libtorch's default)"), |v| {
            v <= MAX_THREADS
        })
    }

    /// Step at which the decay reaches `min_lr`.
    pub fn decay_end(&self) -> i64 {
        self.decay_steps.unwrap_or(self.max_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_number_is_checked_and_the_key_named() {
        assert_eq!(TrainConfig::default().validate(), Ok(()));
        type Case = (fn(&mut TrainConfig), &'static str);
        let cases: [Case; 20] = [
            (|c| c.dist_timeout_s = 0.0, "train.dist_timeout_s must be a finite number > 0, got 0"),
            (|c| c.muon_lr = 0.0, "train.muon_lr must be a finite number > 0, got 0"),
            (|c| c.muon_momentum = 1.0, "train.muon_momentum must be in [0, 1), got 1"),
            (|c| c.cooldown = 1.5, "train.cooldown must be in [0, 1], got 1.5"),
            (|c| c.lr = f64::INFINITY, "train.lr must be a finite number > 0, got inf"),
            (|c| c.lr = f64::NAN, "train.lr must be"),
            (|c| c.min_lr = f64::NAN, "train.min_lr must be in [0, train.lr"),
            (|c| c.eps = f64::NAN, "train.eps must be a finite number > 0, got NaN"),
            (|c| c.eps = -1.0, "train.eps must be a finite number > 0, got -1"),
            (|c| c.weight_decay = f64::NAN, "train.weight_decay must be a finite number, at least 0"),
            (|c| c.weight_decay = -100.0, "train.weight_decay must be a finite number, at least 0, got -100"),
            (|c| c.grad_clip = -1.0, "train.grad_clip must be"),
            (|c| c.grad_clip = f64::NAN, "train.grad_clip must be"),
            (|c| c.beta2 = f64::NAN, "train.beta2 must be in [0, 1)"),
            (|c| c.max_steps = -1, "train.max_steps must be at least 0, got -1"),
            (|c| c.warmup_steps = -5, "train.warmup_steps must be at least 0"),
            (|c| c.decay_steps = Some(-1), "train.decay_steps must be at least 0"),
            (|c| c.eval_batches = 0, "train.eval_batches must be at least 1, got 0"),
            (|c| c.grad_accum = -2, "train.grad_accum must be at least 1"),
            (|c| c.threads = 1 << 20, "train.threads must be at most 1024"),
        ];
        for (set, want) in cases {
            let mut c = TrainConfig::default();
            set(&mut c);
            let err = c.validate().unwrap_err();
            assert!(err.contains(want), "{err} (wanted {want})");
        }
    }

    #[test]
    fn durations_read_as_text_or_seconds_and_bad_ones_name_the_key() {
        let read = |json: &str| serde_json::from_str::<TrainConfig>(json).map_err(|e| e.to_string());
        let seconds = |json: &str| read(json).unwrap().max_time.unwrap();
        assert_eq!(seconds(r#"{"max_time": "10m"}"#), 600.0);
        assert_eq!(seconds(r#"{"max_time": "1h 30m"}"#), 5400.0);
        assert_eq!(seconds(r#"{"max_time": "1h30m2s"}"#), 5402.0);
        assert_eq!(seconds(r#"{"max_time": "2.5 s"}"#), 2.5);
        assert_eq!(seconds(r#"{"max_time": "250ms"}"#), 0.25);
        assert_eq!(seconds(r#"{"max_time": "90"}"#), 90.0);
        assert_eq!(seconds(r#"{"max_time": 3}"#), 3.0);
        assert_eq!(seconds(r#"{"max_time": 1.5}"#), 1.5);
        assert_eq!(read(r#"{"decay_time": "2d"}"#).unwrap().decay_time, Some(172_800.0));
        assert_eq!(read("{}").unwrap().max_time, None);
        for bad in [r#""soon""#, r#""-5m""#, r#""10 parsecs""#, r#""""#, r#""5m and""#] {
            let err = read(&format!(r#"{{"max_time": {bad}}}"#)).unwrap_err();
            assert!(err.contains("train.max_time must be a duration above 0"), "{bad}: {err}");
        }
        let err = read(r#"{"decay_time": true}"#).unwrap_err();
        assert!(err.contains("train.decay_time as a duration"), "{err}");
        for (max_time, got) in [(0.0, "got 0"), (-3.0, "got -3"), (f64::NAN, "got NaN"), (f64::INFINITY, "got inf")] {
            let err = TrainConfig { max_time: Some(max_time), ..Default::default() }.validate().unwrap_err();
            assert!(err.starts_with("train.max_time must be a duration above 0") && err.ends_with(got), "{err}");
        }
        let err = TrainConfig { decay_time: Some(0.0), ..Default::default() }.validate().unwrap_err();
        assert!(err.starts_with("train.decay_time must be"), "{err}");
        // Written back as read.
        for (v, text) in [(600.0, "\"10m\""), (5402.0, "\"1h 30m 2s\""), (2.5, "2.5"), (90_061.0, "\"1d 1h 1m 1s\"")] {
            let json = serde_json::to_string(&TrainConfig { max_time: Some(v), ..Default::default() }).unwrap();
            assert!(json.contains(&format!("\"max_time\":{text}")), "{json}");
            assert_eq!(read(&json).unwrap().max_time, Some(v));
        }
        let json = serde_json::to_string(&TrainConfig::default()).unwrap();
        assert!(!json.contains("max_time") && !json.contains("decay_time"), "{json}");
    }
}
