//! `--nproc N`: N ranks on this machine, started as torchrun would start them.

use crate::env::RankEnv;
use crate::error::DistError;
use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long the other ranks get to end by themselves after one has failed (they see
/// its connections close) before they are killed.
const GRACE: Duration = Duration::from_secs(10);

/// How often the launcher looks at its ranks.
const POLL: Duration = Duration::from_millis(50);

/// Runs `program args` as `nproc` ranks on this machine, with torchrun's variables
/// (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR=127.0.0.1`,
/// and a free `MASTER_PORT`), and waits for them. When one fails, the others are
/// stopped, and the error names the first that failed and how.
///
/// The ranks run in a process group of their own, so that a terminal's Ctrl-C reaches
/// the launcher only: each time `interrupts` grows (the caller's Ctrl-C handler adds
/// one), every rank gets one SIGINT, and the launcher waits for all of them to end.
pub fn launch_local(
    nproc: usize,
    program: &Path,
    args: &[OsString],
    interrupts: &AtomicUsize,
) -> Result<(), DistError> {
    let fail = |reason: String| DistError::Launch { program: program.to_path_buf(), reason };
    let port = free_port().map_err(|e| fail(format!("cannot find a free port for the rendezvous: {e}")))?;
    let mut ranks: Vec<Option<Child>> = Vec::with_capacity(nproc);
    for rank in 0..nproc {
        let mut child = Command::new(program);
        child
            .args(args)
            .envs(RankEnv::local(rank, nproc, port).vars())
            .env_remove("TORCHELASTIC_USE_AGENT_STORE")
            .process_group(0);
        // SAFETY: prctl is async-signal-safe, as code between fork and exec must be.
        // A rank whose launcher dies (even by SIGKILL) is ended with it, not orphaned.
        let child = unsafe {
            child.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            })
        }
        .spawn();
        match child {
            Ok(child) => ranks.push(Some(child)),
            Err(e) => {
                stop(&mut ranks, Duration::ZERO);
                return Err(fail(format!("cannot start rank {rank}: {e}")));
            }
        }
    }
    let (mut seen, mut interrupted) = (interrupts.load(Ordering::SeqCst), false);
    loop {
        let asked = interrupts.load(Ordering::SeqCst);
        if asked > seen {
            for child in ranks.iter().flatten() {
                // SAFETY: kill(2) on the PID of a child not yet reaped.
                unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            }
            (seen, interrupted) = (asked, true);
        }
        let mut running = 0;
        // Of the ranks found failed in one look, a crash (a signal) is the cause, and an
        // error exit the others' reaction to it.
        let mut failed: Option<(usize, ExitStatus)> = None;
        for (rank, slot) in ranks.iter_mut().enumerate() {
            let Some(child) = slot else { continue };
            match child.try_wait() {
                Ok(None) => running += 1,
                Ok(Some(status)) => {
                    *slot = None;
                    if !status.success() && failed.is_none_or(|(_, first)| first.code().is_some()) {
                        failed = Some((rank, status));
                    }
                }
                Err(e) => {
                    stop(&mut ranks, Duration::ZERO);
                    return Err(fail(format!("cannot watch rank {rank}: {e}")));
                }
            }
        }
        // Interrupted ranks end on their own, at the same step, after saving.
        if let Some((rank, status)) = failed.filter(|_| !interrupted) {
            stop(&mut ranks, GRACE);
            return Err(DistError::RankFailed { rank, how: describe(status) });
        }
        if running == 0 {
            return if interrupted { Err(DistError::Interrupted) } else { Ok(()) };
        }
        std::thread::sleep(POLL);
    }
}

/// A port that nothing listens on now (the rendezvous binds it a moment later, as
/// torchrun's own choice of a free port does).
fn free_port() -> std::io::Result<u16> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr().map(|a| a.port())
}

/// Waits up to `grace` for the running ranks to end, then kills the rest.
fn stop(ranks: &mut [Option<Child>], grace: Duration) {
    let deadline = Instant::now() + grace;
    for child in ranks.iter_mut().flatten() {
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(POLL);
        }
        // A rank that has ended already makes kill fail harmlessly.
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended ({status})"),
    }
}
