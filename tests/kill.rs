//! A run killed with SIGKILL at any moment, checkpoint writing included, leaves a run
//! directory that loads and resumes.

mod common;
use common::{Scratch, ok};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn sigkill_during_checkpointing_leaves_a_loadable_run() {
    let s = Scratch::new();
    // A checkpoint at every step: most of the run is spent writing checkpoints.
    let cfg = s.config("k", "").to_str().unwrap().to_owned();
    let text = std::fs::read_to_string(&cfg).unwrap().replace("eval_interval = 10", "eval_interval = 1");
    std::fs::write(&cfg, text.replace("max_steps = 20", "max_steps = 400")).unwrap();
    let run = s.run_dir("k");
    let run_arg = run.to_str().unwrap().to_owned();
    let mut kills = 0;
    for (i, delay_ms) in [900u64, 1300, 700, 1700, 1100, 1500].into_iter().enumerate() {
        let args: Vec<&str> = if i == 0 { vec!["train", &cfg] } else { vec!["train", "--resume", &run_arg] };
        let mut child = Command::new(env!("CARGO_BIN_EXE_autoreg"))
            .current_dir(s.path())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        // Whatever the moment, `last` is a whole checkpoint: info reads it, sampling loads it.
        let info = ok(s.path(), &["info", &run_arg]);
        assert!(info.contains("last       step"), "{info}");
        ok(s.path(), &["sample", &run_arg, "--checkpoint", "last", "--max-tokens", "5", "--out", "o"]);
    }
    assert!(kills >= 3, "the runs ended before they could be killed");
    // And the run resumes to its end.
    ok(s.path(), &["train", "--resume", &run_arg]);
    let info = ok(s.path(), &["info", &run_arg]);
    assert!(info.contains("last       step 400"), "{info}");
    let leftovers: Vec<_> =
        std::fs::read_dir(run.join("checkpoints")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(leftovers.len() <= 2, "only `last` and `best` remain: {leftovers:?}");
}
