//! A hook for tests only, so that they can kill or interrupt a run at an exact moment
//! without sleeping: with `AUTOREG_TEST_PAUSE=POINT:STEP:FILE` set, the trainer creates
//! FILE (holding its PID) when it reaches POINT at step STEP, then waits there until
//! the wait ends (never, for the points of a save: the test kills it).
//!
//! With `AUTOREG_TEST_PAUSE_RANK=R` too, only the rank whose `RANK` is R pauses.
//!
//! Points: `step` (optimizer step STEP done; waits for the stop flag, i.e. Ctrl-C), and
//! the phases of saving checkpoint STEP: `written` (files complete in the temporary
//! folder), `renamed` (folder in place, links not swapped), `last` (`last` swapped,
//! `best` not yet), `linked` (links swapped, old checkpoints not yet pruned).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable that sets the pause.
const VAR: &str = "AUTOREG_TEST_PAUSE";

/// The environment variable that limits the pause to one rank.
const RANK_VAR: &str = "AUTOREG_TEST_PAUSE_RANK";

/// The pause asked for: point, step, file.
fn wanted() -> Option<&'static (String, i64, PathBuf)> {
    static PAUSE: OnceLock<Option<(String, i64, PathBuf)>> = OnceLock::new();
    PAUSE
        .get_or_init(|| {
            let value = std::env::var(VAR).ok()?;
            if let Ok(rank) = std::env::var(RANK_VAR)
                && std::env::var("RANK").ok() != Some(rank)
            {
                return None;
            }
            let mut parts = value.splitn(3, ':');
            let parsed = (|| Some((parts.next()?.to_owned(), parts.next()?.parse().ok()?, parts.next()?.into())))();
            if parsed.is_none() {
                log::warn!("{VAR}={value:?} is not POINT:STEP:FILE: ignored");
            }
            parsed
        })
        .as_ref()
}

/// At `point` of `step`, if the hook asks for it: creates the file, then waits until
/// `done()` is true.
pub(crate) fn pause(point: &str, step: i64, done: impl Fn() -> bool) {
    let Some((p, s, file)) = wanted() else { return };
    if p != point || *s != step {
        return;
    }
    if let Err(e) = std::fs::write(file, std::process::id().to_string()) {
        log::warn!("{VAR}: cannot write {}: {e}", file.display());
    }
    while !done() {
        std::thread::sleep(Duration::from_millis(5));
    }
}
