//! A run killed with SIGKILL at any phase of writing a checkpoint leaves a run directory
//! that loads and resumes. The trainer's test hook (`AUTOREG_TEST_PAUSE`) holds the
//! process at each phase, so that every kill lands there, without sleeps.

use crate::common;
use common::{Scratch, finish, ok, signal, start_paused};

#[test]
fn sigkill_at_every_phase_of_a_checkpoint_leaves_a_loadable_run() {
    let s = Scratch::new();
    let cfg = s.config("k", "").to_str().unwrap().to_owned();
    let run = s.run_dir("k");
    let r = run.to_str().unwrap().to_owned();
    let listing = || -> Vec<String> {
        let entries = std::fs::read_dir(run.join("checkpoints")).unwrap().flatten();
        entries.map(|e| e.file_name().to_string_lossy().into_owned()).collect()
    };
    // (phase, step of the kill, the step `last` is on after it). Checkpoints every 2 steps.
    let kills = [("written", 2, 0), ("renamed", 4, 2), ("last", 6, 6), ("linked", 8, 8), ("step", 9, 8)];
    for (i, (phase, step, last)) in kills.into_iter().enumerate() {
        let fresh = ["train", &cfg, "--set", "train.eval_interval=2", "--set", "train.max_steps=12"];
        let args: &[&str] = if i == 0 { &fresh } else { &["train", "--resume", &r] };
        let child = start_paused(s.path(), args, phase, step);
        signal(&child, "KILL");
        let (status, _) = finish(child, 60);
        assert!(!status.success());
        let names = listing();
        match phase {
            "written" => assert!(names.iter().any(|n| n.starts_with("step-000002.tmp-")), "{names:?}"),
            "renamed" => assert!(names.contains(&"step-000004".to_owned()), "{names:?}"),
            _ => {}
        }
        // Whatever the phase, `last` is a whole checkpoint: info reads it, sampling loads
        // it (checking its checksum).
        let info = ok(s.path(), &["info", &r]);
        assert!(info.contains(&format!("last       step {last} ")), "after a kill at {phase} {step}: {info}");
        ok(s.path(), &["sample", &r, "--checkpoint", "last", "--max-tokens", "5", "--out", "o"]);
    }
    // The run resumes to its end, and only `last` and `best` remain.
    ok(s.path(), &["train", "--resume", &r]);
    let info = ok(s.path(), &["info", &r]);
    assert!(info.contains("last       step 12 "), "{info}");
    let names = listing();
    assert!(names.len() <= 2 && names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
}
