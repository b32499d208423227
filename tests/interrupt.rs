//! Ctrl-C (SIGINT) and SIGTERM finish the step, save and evaluate it, and say how to
//! resume; the resumed run ends on the weights of an uninterrupted one. One process at a
//! time trains a run. Sampling or evaluating an untrained checkpoint warns.

use crate::common;
use common::{Scratch, autoreg, fails, finish, ok, signal, start_paused, tensors};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The entries under `dir`, at any depth, that a save or a state update leaves while
/// it runs (`*.tmp-PID`).
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().contains(".tmp") {
            found.push(path.clone());
        }
        if entry.file_type().unwrap().is_dir() {
            found.extend(temporaries(&path));
        }
    }
    found
}

/// The `state.json` of the checkpoint that `link` (`last`, `best`) of `run` points at.
fn state(run: &Path, link: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join(link).join("state.json")).unwrap()).unwrap()
}

/// Asserts that the `last` weights of runs `a` and `b` are equal, tensor by tensor.
fn assert_same_weights(a: &Path, b: &Path) {
    let (a, b) = (tensors(&a.join("last/model.safetensors")), tensors(&b.join("last/model.safetensors")));
    assert_eq!(a.len(), b.len());
    for ((name, x), (other, y)) in a.iter().zip(&b) {
        assert_eq!(name, other);
        assert!(x.equal(y), "{name} differs from the uninterrupted run's");
    }
}

/// A step in 1..20 drawn from `seed` (a fixed LCG draw: the same step every run).
fn seeded_step(seed: u64) -> i64 {
    let draw = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    1 + ((draw >> 33) % 19) as i64
}

/// Trains a run whole, and the same run stopped by `sig` after a step drawn from `seed`
/// and resumed; checks the stop's messages, that nothing temporary is left, and that
/// both runs end on the same weights (dropout too, so that the dropout masks must follow
/// the step as well).
fn stop_then_resume_ends_on_the_uninterrupted_weights(sig: &str, seed: u64) {
    let s = Scratch::new();
    let extra = "decay_steps = 20\n";
    let set = ["--set", "model.dropout=0.1"];
    let whole = s.config("whole", extra);
    ok(s.path(), &["train", whole.to_str().unwrap(), set[0], set[1]]);
    let split = s.config("split", extra);
    let step = seeded_step(seed);
    eprintln!("SIG{sig} after step {step}");
    let child = start_paused(s.path(), &["train", split.to_str().unwrap(), set[0], set[1]], "step", step);
    signal(&child, sig);
    let (status, stderr) = finish(child, 120);
    let run = s.run_dir("split");
    let r = run.to_str().unwrap();
    // Not killed by the signal: the handler stopped training after the step, saved.
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("stopping after this step"), "{stderr}");
    let resume = format!("interrupted at step {step}, which is saved: continue with `autoreg train --resume {r}`");
    assert!(stderr.contains(&resume), "{stderr}");
    assert!(temporaries(&run).is_empty(), "left behind: {:?}", temporaries(&run));
    assert_eq!(state(&run, "last")["step"], step);
    assert!(ok(s.path(), &["info", r]).contains(&format!("last       step {step} ")));
    ok(s.path(), &["train", "--resume", r]);
    assert_same_weights(&s.run_dir("whole"), &run);
    assert!(temporaries(&run).is_empty(), "left behind: {:?}", temporaries(&run));
}

#[test]
fn ctrl_c_at_a_random_step_then_resume_ends_on_the_uninterrupted_weights() {
    stop_then_resume_ends_on_the_uninterrupted_weights("INT", 9);
}

#[test]
fn sigterm_at_a_step_is_a_ctrl_c_resume_ends_on_the_uninterrupted_weights_and_no_temporary_is_left() {
    stop_then_resume_ends_on_the_uninterrupted_weights("TERM", 11);
}

#[test]
fn a_stop_before_the_first_evaluation_is_evaluated_and_best_is_not_the_untrained_step_0() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    // eval_interval is 10: only step 0 was evaluated when Ctrl-C comes after step 4.
    let child = start_paused(s.path(), &["train", cfg.to_str().unwrap()], "step", 4);
    signal(&child, "INT");
    let (status, stderr) = finish(child, 120);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("step 4: evaluating ..."), "progress is shown: {stderr}");
    assert!(stderr.contains("interrupted at step 4, which is saved"), "{stderr}");
    let untrained = common::metrics(&run)[0]["val_loss"].as_f64().unwrap();
    for link in ["last", "best"] {
        let target = std::fs::read_link(run.join(link)).unwrap();
        assert_eq!(target, Path::new("checkpoints/step-000004"), "{link}");
    }
    // Its own losses, estimated on its weights, not step 0's.
    let saved = state(&run, "best");
    assert_eq!(saved["step"], 4);
    assert_eq!(saved["eval_step"], 4, "{saved}");
    let (train, val) = (saved["train_loss"].as_f64().unwrap(), saved["val_loss"].as_f64().unwrap());
    assert!(val.is_finite() && val < untrained, "val loss {val}, untrained {untrained}");
    assert_eq!(saved["best_val_loss"].as_f64().unwrap(), val);
    assert!(stderr.contains(&format!("step 4: train loss {train:.4}, val loss {val:.4}")), "{stderr}");
    // `info` shows each checkpoint's own step and losses.
    let info = ok(s.path(), &["info", r]);
    let own = format!("step 4 (train loss {train:.4}, val loss {val:.4}) in ");
    for link in ["last", "best"] {
        assert!(info.contains(&format!("{link:<10} {own}")), "{info}");
    }
    // The metrics keep the schedule's evaluations only.
    let steps: Vec<i64> = common::metrics(&run).iter().map(|v| v["step"].as_i64().unwrap()).collect();
    assert_eq!(steps, [0]);
    // `best` is trained: no warning when sampling it.
    let out = autoreg(s.path(), &["sample", r, "--max-tokens", "5", "--out", "o"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("saw no training"), "{err}");

    // A process ended between the save on a stop and its evaluation leaves a checkpoint
    // holding an earlier step's losses (here written by hand): `info` says so, and a
    // resume evaluates it first.
    let path = run.join("last/state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"eval_step\": 4", "\"eval_step\": 0")).unwrap();
    let info = ok(s.path(), &["info", r]);
    assert!(info.contains("last       step 4 (not evaluated: "), "{info}");
    let out = autoreg(s.path(), &["train", "--resume", r]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("step 4: train loss {train:.4}, val loss {val:.4}\n")), "{err}");
    let steps: Vec<i64> = common::metrics(&run).iter().map(|v| v["step"].as_i64().unwrap()).collect();
    assert_eq!(steps, [0, 10, 20]);
}

#[test]
fn sampling_or_evaluating_an_untrained_checkpoint_warns() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    ok(s.path(), &["train", cfg.to_str().unwrap(), "--set", "train.max_steps=0"]);
    let r = s.run_dir("t");
    let r = r.to_str().unwrap();
    for args in [&["sample", r, "--max-tokens", "5", "--out", "o"][..], &["eval", r]] {
        let out = autoreg(s.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        let warning = stderr.lines().find(|l| l.starts_with("warning: ") && l.contains("step 0"));
        assert!(warning.is_some_and(|l| l.contains("the model saw no training")), "{args:?}: {stderr}");
    }
    // A trained checkpoint does not warn.
    ok(s.path(), &["train", "--resume", r, "--set", "train.max_steps=2"]);
    let out = autoreg(s.path(), &["sample", r, "--checkpoint", "last", "--max-tokens", "5", "--out", "o"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("saw no training"), "{stderr}");
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    // Held in the middle of saving step 10, which the first Ctrl-C waits for.
    let mut child = start_paused(s.path(), &["train", cfg.to_str().unwrap()], "written", 10);
    signal(&child, "INT");
    // Once the first is seen (two pending signals would count as one), the second.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines().map(Result::unwrap);
    assert!(lines.any(|l| l.starts_with("stopping after this step")));
    signal(&child, "INT");
    let (status, _) = finish(child, 60);
    assert_eq!(status.code(), Some(130));
    // `last` is still the checkpoint of step 0.
    let info = ok(s.path(), &["info", s.run_dir("t").to_str().unwrap()]);
    assert!(info.contains("last       step 0 "), "{info}");
}

#[test]
fn a_second_trainer_of_a_run_is_refused_and_the_first_one_s_work_is_intact() {
    let s = Scratch::new();
    let cfg = s.config("t", "");
    let cfg = cfg.to_str().unwrap();
    ok(s.path(), &["train", cfg, "--set", "train.max_steps=10"]);
    let run = s.run_dir("t");
    let r = run.to_str().unwrap();
    let first = start_paused(s.path(), &["train", "--resume", r, "--set", "train.max_steps=20"], "step", 15);
    let metrics = std::fs::read(run.join("metrics.jsonl")).unwrap();
    let holder = format!("is in use by another training process (PID {}", first.id());
    for args in
        [&["train", "--resume", r][..], &["train", "--resume", r, "--set", "train.max_steps=30"], &["train", cfg]]
    {
        let err = fails(s.path(), args);
        assert!(err.contains(&holder), "{args:?}: {err}");
    }
    // Readers need no lock.
    ok(s.path(), &["sample", r, "--max-tokens", "5", "--out", "o"]);
    assert_eq!(std::fs::read(run.join("metrics.jsonl")).unwrap(), metrics, "the refused ones changed nothing");
    signal(&first, "INT");
    let (status, stderr) = finish(first, 120);
    assert!(stderr.contains("interrupted at step 15"), "{stderr}");
    assert_eq!(status.code(), Some(1));
    ok(s.path(), &["train", "--resume", r]);
    let steps: Vec<i64> = common::metrics(&run).iter().map(|v| v["step"].as_i64().unwrap()).collect();
    assert_eq!(steps, [0, 10, 20]);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("max_steps = 20"), "the first resume's override is kept: {config}");
}
