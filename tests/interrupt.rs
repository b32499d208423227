//! Ctrl-C (SIGINT) finishes the step, saves it and says how to resume; the resumed run
//! ends on the weights of an uninterrupted one. One process at a time trains a run.

mod common;
use common::{Scratch, fails, finish, ok, signal, start_paused, tensors};
use std::io::{BufRead, BufReader};

/// A step in 1..20 drawn from `seed` (a fixed LCG draw: the same step every run).
fn seeded_step(seed: u64) -> i64 {
    let draw = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    1 + ((draw >> 33) % 19) as i64
}

#[test]
fn ctrl_c_at_a_random_step_then_resume_ends_on_the_uninterrupted_weights() {
    let s = Scratch::new();
    // Dropout too, so that the dropout masks must follow the step as well.
    let extra = "decay_steps = 20\n";
    let set = ["--set", "model.dropout=0.1"];
    let whole = s.config("whole", extra);
    ok(s.path(), &["train", whole.to_str().unwrap(), set[0], set[1]]);
    let split = s.config("split", extra);
    let step = seeded_step(9);
    eprintln!("Ctrl-C after step {step}");
    let child = start_paused(s.path(), &["train", split.to_str().unwrap(), set[0], set[1]], "step", step);
    signal(&child, "INT");
    let (status, stderr) = finish(child, 120);
    let run = s.run_dir("split");
    let r = run.to_str().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let resume = format!("interrupted at step {step}, which is saved: continue with `autoreg train --resume {r}`");
    assert!(stderr.contains(&resume), "{stderr}");
    assert!(ok(s.path(), &["info", r]).contains(&format!("last       step {step} ")));
    ok(s.path(), &["train", "--resume", r]);
    let (a, b) =
        (tensors(&s.run_dir("whole").join("last/model.safetensors")), tensors(&run.join("last/model.safetensors")));
    assert_eq!(a.len(), b.len());
    for ((name, x), (other, y)) in a.iter().zip(&b) {
        assert_eq!(name, other);
        assert!(x.equal(y), "{name} differs from the uninterrupted run's");
    }
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
