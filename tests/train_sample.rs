//! Training, resuming, sampling and evaluating end to end through the `autoreg` binary.

use crate::common;
use common::{Scratch, fails, last_val_loss, ok, train_with};
use std::path::Path;

/// 2N steps in one run and N steps resumed for N more end on the same loss, with the
/// `[train]` keys of `extra` and the overrides `sets`; returns the scratch folder and
/// the resumed run.
fn assert_resumes_exactly(extra: &str, sets: &[&str]) -> (Scratch, std::path::PathBuf) {
    let s = Scratch::new();
    // The decay ends at step 40 in both runs, so the schedule does not depend on max_steps.
    let extra = format!("decay_steps = 40\n{extra}");
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let cfg = s.config("whole", &extra);
    common::train_with(s.path(), &cfg, &[&sets[..], &["train.max_steps=40".to_owned()]].concat());
    let cfg = s.config("split", &extra);
    common::train_with(s.path(), &cfg, &sets); // 20 steps
    let run = s.run_dir("split");
    ok(s.path(), &["train", "--resume", run.to_str().unwrap(), "--set", "train.max_steps=40"]);
    let (a, b) = (last_val_loss(&s.run_dir("whole")), last_val_loss(&run));
    eprintln!("{extra:?}: 2N steps: val loss {a:.6}; N + resumed N: {b:.6}");
    assert!((a - b).abs() < 1e-4, "{extra:?}: {a} vs {b}");
    // The resumed run's metrics continue without repeating step 20.
    let steps: Vec<i64> = common::metrics(&run).iter().map(|v| v["step"].as_i64().unwrap()).collect();
    assert_eq!(steps, [0, 10, 20, 30, 40]);
    (s, run)
}

#[test]
fn resume_continues_exactly() {
    assert_resumes_exactly("", &[]);
}

#[test]
fn resume_continues_exactly_with_muon() {
    assert_resumes_exactly("optimizer = \"muon\"\n", &[]);
}

#[test]
fn resume_continues_exactly_on_the_wsd_schedule() {
    // A cool-down of half the steps starts at step 21, after the resume.
    assert_resumes_exactly("schedule = \"wsd\"\ncooldown = 0.5\n", &[]);
}

#[test]
fn every_model_option_trains_resumes_exactly_and_samples_the_same_on_both_decoders() {
    let options = [
        "model.positions=\"rope\"",
        "model.qk_norm=true",
        "model.mlp=\"relu2\"",
        "model.tie_head=false",
        "model.zero_init=true",
        "model.logit_softcap=30.0",
    ];
    let (s, run) = assert_resumes_exactly("optimizer = \"muon\"\n", &options);
    let r = run.to_str().unwrap();
    let info = ok(s.path(), &["info", r]);
    let want = "options    qk_norm, mlp relu2, untied head, zero_init, logit_softcap 30";
    assert!(info.contains(want), "{info}");
    let mut texts = Vec::new();
    for decoder in ["native", "libtorch"] {
        let out = s.path().join(decoder);
        let args = ["sample", r, "--decoder", decoder, "--max-tokens", "24", "--seed", "5", "--out"];
        ok(s.path(), &[&args[..], &[out.to_str().unwrap()]].concat());
        texts.push(std::fs::read_to_string(out.join("split.txt")).unwrap());
    }
    assert_eq!(texts[0], texts[1], "the two decoders drew different tokens");
    assert!(texts[0].chars().count() >= 10, "{:?}", texts[0]);
}

#[test]
fn dropout_runs_resume_exactly_too() {
    let s = Scratch::new();
    let extra = "decay_steps = 20\n";
    let cfg = s.config("whole", extra);
    let set = ["--set", "model.dropout=0.2"];
    ok(s.path(), &["train", cfg.to_str().unwrap(), set[0], set[1], "--set", "train.max_steps=20"]);
    let cfg = s.config("split", extra);
    ok(s.path(), &["train", cfg.to_str().unwrap(), set[0], set[1], "--set", "train.max_steps=10"]);
    let run = s.run_dir("split");
    ok(s.path(), &["train", "--resume", run.to_str().unwrap(), "--set", "train.max_steps=20"]);
    let (a, b) = (last_val_loss(&s.run_dir("whole")), last_val_loss(&run));
    assert!((a - b).abs() < 1e-4, "{a} vs {b}");
}

#[test]
fn fresh_training_refuses_to_overwrite_a_run() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let err = common::fails(s.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("already holds a trained run") && err.contains("--resume"), "{err}");
}

#[test]
fn run_directory_holds_everything_and_samples_are_reproducible() {
    let s = Scratch::new();
    // BOS and 30 new tokens fit the context of 32.
    let cfg = s.config("t", "[sample]\nnum = 3\nmax_tokens = 30\n");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("t");
    for f in [
        "config.toml",
        "tokenizer.json",
        "metrics.jsonl",
        "loss.png",
        "last/model.safetensors",
        "last/optimizer.safetensors",
        "last/state.json",
        "best/model.safetensors",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let r = run.to_str().unwrap();
    let a = ok(s.path(), &["sample", r, "--seed", "5", "--out", "a"]);
    let b = ok(s.path(), &["sample", r, "--seed", "5", "--out", "b", "--no-kv-cache"]);
    let c = ok(s.path(), &["sample", r, "--seed", "6", "--out", "c"]);
    let d = ok(s.path(), &["sample", r, "--seed", "5", "--out", "d", "--decoder", "libtorch", "--threads", "1"]);
    assert_eq!(a, b, "same seed, same text, with or without the cache");
    assert_eq!(a, d, "same seed, same text, on the native decoder and on libtorch");
    assert_ne!(a, c);
    let out = common::autoreg(s.path(), &["sample", r, "--decoder", "fast"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "a usage error: {err}");
    assert!(err.contains("unknown decoder \"fast\"") && err.contains("\"libtorch\""), "{err}");
    for i in 0..3 {
        let f = |d: &str| std::fs::read(s.path().join(d).join(format!("t-{i}.txt"))).unwrap();
        assert_eq!(f("a"), f("b"));
    }
    // A prompt is continued.
    std::fs::write(s.path().join("p.txt"), "the quick").unwrap();
    let out = ok(s.path(), &["sample", r, "--prompt", "p.txt", "--num", "1", "--out", "p"]);
    assert!(out.starts_with("the quick"), "{out}");
    assert!(s.path().join("p/t.txt").is_file());
    // encode --ids and decode give the file back; names are readable.
    let ids = ok(s.path(), &["encode", r, "p.txt", "--ids"]);
    std::fs::write(s.path().join("ids.txt"), ids).unwrap();
    ok(s.path(), &["decode", r, "ids.txt", "--out", "back.txt"]);
    assert_eq!(std::fs::read(s.path().join("back.txt")).unwrap(), b"the quick");
    let names = ok(s.path(), &["encode", &format!("{r}/tokenizer.json"), "p.txt"]);
    assert_eq!(names.trim(), "<bos> 't' 'h' 'e' ' ' 'q' 'u' 'i' 'c' 'k' <eos>");
    let eval = ok(s.path(), &["eval", r]);
    assert!(eval.contains("nats/token") && run.join("eval.json").is_file(), "{eval}");
}

#[test]
fn resuming_with_more_steps_continues_the_schedule() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap()]);
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    let out = common::autoreg(s.path(), &["train", "--resume", r, "--set", "train.max_steps=40"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("its decay ended at step 20"), "{stderr}");
    let lrs: Vec<(i64, f64)> =
        common::metrics(&run).iter().map(|v| (v["step"].as_i64().unwrap(), v["lr"].as_f64().unwrap())).collect();
    let steps: Vec<i64> = lrs.iter().map(|(s, _)| *s).collect();
    assert_eq!(steps, [0, 10, 20, 30, 40], "{lrs:?}");
    // The cosine was near min_lr (1e-4) by step 20 and stays there: no jump back up.
    assert!(lrs[1].1 > 5e-4 && lrs[2].1 < 1.1e-4, "{lrs:?}");
    for &(_, lr) in &lrs[3..] {
        assert!((lr - 1e-4).abs() < 1e-9, "{lrs:?}");
    }
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("decay_steps = 20") && config.contains("max_steps = 40"), "{config}");
}

/// The `state.json` of a run's `last` checkpoint.
fn last_state(run: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("last/state.json")).unwrap()).unwrap()
}

/// `(step, lr, elapsed_s)` of each line of a run's metrics.
fn lr_and_time(run: &std::path::Path) -> Vec<(i64, f64, f64)> {
    let line = |v: &serde_json::Value| {
        (v["step"].as_i64().unwrap(), v["lr"].as_f64().unwrap(), v["elapsed_s"].as_f64().unwrap())
    };
    common::metrics(run).iter().map(line).collect()
}

#[test]
fn max_time_ends_the_run_and_its_decay_and_a_resume_with_more_time_goes_on() {
    let s = Scratch::new();
    // Steps that would never end: the 3 s end the run, and the cosine decays over them.
    let cfg = s.config("t", "max_time = \"3s\"\n");
    let started = std::time::Instant::now();
    common::train_with(s.path(), &cfg, &["train.max_steps=1000000000".to_owned()]);
    let took = started.elapsed().as_secs_f64();
    let run = s.run_dir("t");
    let state = last_state(&run);
    let (step, elapsed) = (state["step"].as_i64().unwrap(), state["elapsed_s"].as_f64().unwrap());
    eprintln!("3 s: {step} steps, {elapsed:.2} training seconds, {took:.1} s in all");
    assert!((3.0..8.0).contains(&elapsed), "{state}");
    assert!(took < 60.0 && step > 10, "{took} s, {step} steps");
    assert_eq!(state["decay_time_s"].as_f64(), Some(3.0), "{state}");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("max_time = \"3s\""), "{config}");
    // The last step is saved and evaluated as at a normal end, its rate at min_lr (1e-4).
    let lines = lr_and_time(&run);
    let &(last_step, last_lr, _) = lines.last().unwrap();
    assert_eq!(last_step, step, "{lines:?}");
    assert!(state["eval_step"].as_i64() == Some(step) && run.join("best/model.safetensors").is_file(), "{state}");
    assert!(last_lr >= 1e-4 && last_lr - 1e-4 < 0.1 * 9e-4, "{lines:?}");
    assert!(lines.windows(2).skip(1).all(|w| w[1].1 <= w[0].1), "after the warm-up it only goes down: {lines:?}");
    assert!(lines.iter().any(|&(_, lr, _)| lr > 5e-4), "{lines:?}");

    // The time is spent: a resume has nothing to train.
    let r = run.to_str().unwrap();
    let out = common::autoreg(s.path(), &["train", "--resume", r]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("nothing to train"), "{stderr}");
    assert_eq!(last_state(&run)["step"].as_i64(), Some(step));

    // 3 s more: the run goes on from its saved time, its decay ended (as with max_steps).
    let out = common::autoreg(s.path(), &["train", "--resume", r, "--set", "train.max_time=6"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("its decay ends at 3s of training (train.decay_time)"), "{stderr}");
    let more = last_state(&run);
    let (step2, elapsed2) = (more["step"].as_i64().unwrap(), more["elapsed_s"].as_f64().unwrap());
    eprintln!("6 s: {step2} steps, {elapsed2:.2} training seconds");
    assert!(step2 > step + 10 && (6.0..11.0).contains(&elapsed2), "{more}");
    let lines = lr_and_time(&run);
    let resumed: Vec<_> = lines.iter().filter(|l| l.0 > step).collect();
    assert_eq!(resumed.last().unwrap().0, step2, "{lines:?}");
    assert!(resumed.iter().all(|&&(_, lr, t)| (lr - 1e-4).abs() < 1e-12 && t > elapsed), "{lines:?}");
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("max_time = \"6s\""), "{config}");
}

#[test]
fn a_run_stopped_before_its_time_resumes_its_time_budget() {
    let s = Scratch::new();
    let cfg = s.config("t", "max_time = 4\n");
    let args = ["train", cfg.to_str().unwrap(), "--set", "train.max_steps=1000000000"];
    let child = common::start_paused(s.path(), &args, "step", 5);
    common::signal(&child, "INT");
    let (status, stderr) = common::finish(child, 120);
    assert!(!status.success() && stderr.contains("--resume"), "{stderr}");
    let run = s.run_dir("t");
    let stopped = last_state(&run);
    let elapsed = stopped["elapsed_s"].as_f64().unwrap();
    assert!(stopped["step"].as_i64() == Some(5) && elapsed < 4.0, "{stopped}");
    let out = common::autoreg(s.path(), &["train", "--resume", run.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("keeps this run's schedule"), "{stderr}");
    let done = last_state(&run);
    assert!((4.0..9.0).contains(&done["elapsed_s"].as_f64().unwrap()), "{done}");
    let lines = lr_and_time(&run);
    assert!(lines.windows(2).all(|w| w[1].0 > w[0].0 && w[1].2 >= w[0].2), "{lines:?}");
    let last_lr = lines.last().unwrap().1;
    assert!(last_lr - 1e-4 < 0.1 * 9e-4, "{lines:?}");
}

#[test]
fn bad_max_time_values_are_refused_naming_the_key() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let c = cfg.to_str().unwrap();
    for value in ["0", "-5", "soon", "-1m", "0s"] {
        let err = common::fails(s.path(), &["train", c, "--set", &format!("train.max_time={value}")]);
        assert!(err.contains("train.max_time must be a duration above 0"), "{value}: {err}");
    }
    let cfg = s.config("u", "max_time = \"ten minutes\"\n");
    let err = common::fails(s.path(), &["train", cfg.to_str().unwrap()]);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let line = 1 + text.lines().position(|l| l.starts_with("max_time")).unwrap();
    assert!(err.contains(&format!("line {line}: train.max_time must be")), "{err}");
    assert!(!s.run_dir("t").exists() && !s.run_dir("u").exists());
}

#[test]
fn two_ranks_stop_together_at_the_end_of_their_time() {
    let s = Scratch::new();
    let cfg = s.config("t", "max_time = \"2s\"\n");
    let (dir, cfg) = (s.path().to_path_buf(), cfg.to_str().unwrap().to_owned());
    // Each rank on its own clock would stop at its own step and leave the other waiting.
    let out = common::within(std::time::Duration::from_secs(120), move || {
        common::autoreg(&dir, &["train", &cfg, "--nproc", "2", "--set", "train.max_steps=1000000000"])
    });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let state = last_state(&s.run_dir("t"));
    assert!((2.0..7.0).contains(&state["elapsed_s"].as_f64().unwrap()), "{state}");
    let lines = lr_and_time(&s.run_dir("t"));
    assert_eq!(lines.last().unwrap().0, state["step"].as_i64().unwrap(), "{lines:?}");
}

#[test]
fn int8_weights_and_speculative_decoding_from_the_command_line() {
    let s = Scratch::new();
    let cfg = s.config("t", "[sample]\nnum = 2\nmax_tokens = 60\n");
    let cfg = cfg.to_str().unwrap();
    train_with(s.path(), Path::new(cfg), &[]);
    // A draft: the same data and tokenizer, a quarter of the width; and a run whose
    // tokenizer reads bytes.
    train_with(s.path(), Path::new(cfg), &["name=\"draft\"".into(), "model.n_embd=8".into()]);
    train_with(s.path(), Path::new(cfg), &["name=\"bytes\"".into(), "tokenizer.level=\"byte\"".into()]);
    let (r, draft, bytes) = (s.run_dir("t"), s.run_dir("draft"), s.run_dir("bytes"));
    let (r, draft, bytes) = (r.to_str().unwrap(), draft.to_str().unwrap(), bytes.to_str().unwrap());
    // Greedy: the same text with either draft (60 tokens pass the context of 32).
    let greedy = ["sample", r, "--temperature", "0", "--out"];
    let plain = ok(s.path(), &[&greedy[..], &["plain"]].concat());
    for (out, extra) in [("ngram", vec!["--draft", "ngram"]), ("model", vec!["--draft", draft, "--draft-tokens", "3"])]
    {
        let args = [&greedy[..], &[out], &extra[..]].concat();
        let output = common::autoreg(s.path(), &args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), plain, "{extra:?}");
        assert!(stderr.contains("drafted tokens accepted") && stderr.contains("tokens/s"), "{stderr}");
    }
    // int8 weights sample, and evaluate within a few percent of f32.
    let int8 = ok(s.path(), &["sample", r, "--weights", "int8", "--out", "int8"]);
    assert!(!int8.is_empty());
    let loss = |args: &[&str]| -> f64 {
        let out = ok(s.path(), &[&["eval", r, "--no-baselines"], args].concat());
        let line = out.lines().find(|l| l.starts_with("transformer, stride")).unwrap_or_else(|| panic!("{out}"));
        // "transformer, stride N  nats/token ..."
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    };
    let (f32s, q) = (loss(&[]), loss(&["--weights", "int8"]));
    assert!(f32s > 1.0 && (q - f32s).abs() < 0.02 * f32s && q != f32s, "int8 {q} vs f32 {f32s}");
    // Saved beside the run's own evaluation, not over it.
    let saved = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(s.run_dir("t").join(name)).unwrap()).unwrap()
    };
    assert_eq!(saved("eval.json").get("weights"), None);
    assert_eq!(saved("eval-int8.json")["weights"], "int8");
    // Bad flags are named.
    let err = fails(s.path(), &["sample", r, "--draft", bytes]);
    assert!(err.contains(&format!("--draft {bytes}: its tokenizer")) && err.contains("share the tokenizer"), "{err}");
    let err = fails(s.path(), &["sample", r, "--weights", "int8", "--decoder", "libtorch"]);
    assert!(err.contains("--weights = \"int8\" runs on the native decoder only"), "{err}");
    let err = fails(s.path(), &["sample", r, "--draft", "ngram", "--draft-tokens", "0"]);
    assert!(err.contains("--draft-tokens must be from 1 to 16"), "{err}");
    let err = fails(s.path(), &["sample", r, "--draft", "runs/missing"]);
    assert!(err.contains("--draft runs/missing: cannot load the draft run"), "{err}");
    for (flag, value, says) in [("--weights", "int4", "unknown weights \"int4\""), ("--draft", "", "an empty draft")] {
        let out = common::autoreg(s.path(), &["sample", r, flag, value]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "a usage error: {err}");
        assert!(err.contains(flag) && err.contains(says), "{err}");
    }
}
