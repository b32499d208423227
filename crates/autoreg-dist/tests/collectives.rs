//! Gloo collectives between real processes on localhost. Each test launches itself as
//! the ranks (`launch_local`): run as a rank (`WORLD_SIZE` set), it does that rank's
//! part and asserts; the launcher fails the test when a rank fails.

use autoreg_dist::{Backend, DistError, ProcessGroup, RankEnv, launch_local};
use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

const TIMEOUT: Duration = Duration::from_secs(20);

/// Launches this test binary's test `name` as `nproc` ranks.
fn launch(nproc: usize, name: &str, envs: &[(&str, &Path)]) -> Result<(), DistError> {
    for (k, v) in envs {
        // SAFETY: set before any rank starts; the tests that set them run one at a time
        // in their own ranks' environment only.
        unsafe { std::env::set_var(k, v) };
    }
    let exe = std::env::current_exe().unwrap();
    let args: Vec<OsString> = [name, "--exact", "--nocapture", "--test-threads=1"].map(OsString::from).to_vec();
    launch_local(nproc, &exe, &args, &AtomicUsize::new(0))
}

fn rank_env() -> Option<RankEnv> {
    RankEnv::from_env().unwrap()
}

#[test]
fn sum_broadcast_barrier_and_buckets() {
    let Some(env) = rank_env() else {
        return launch(2, "sum_broadcast_barrier_and_buckets", &[]).unwrap();
    };
    let mut pg = ProcessGroup::new(&env, Backend::Gloo, TIMEOUT).unwrap();
    let r = pg.rank() as f64;
    assert_eq!((pg.world_size(), pg.local_rank()), (2, env.rank));

    let mut t = Tensor::full([5], r + 1.0, (Kind::Float, Device::Cpu));
    pg.all_reduce_sum(&mut t).unwrap();
    assert_eq!(Vec::<f32>::try_from(&t).unwrap(), vec![3.0; 5]);

    let mut t = Tensor::full([2], r, (Kind::Double, Device::Cpu));
    pg.all_reduce_mean(&mut t).unwrap();
    assert_eq!(Vec::<f64>::try_from(&t).unwrap(), vec![0.5; 2]);

    let mut t = Tensor::full([2, 3], 10.0 * r, (Kind::Double, Device::Cpu));
    pg.broadcast(&mut t, 1).unwrap();
    assert_eq!(Vec::<f64>::try_from(t.reshape([-1])).unwrap(), vec![10.0; 6]);
    pg.barrier(TIMEOUT).unwrap();

    // Mixed kinds and shapes go through buckets and come back in place.
    let mut ts = vec![
        Tensor::arange(6, (Kind::Float, Device::Cpu)).view([2, 3]) * (r + 1.0),
        Tensor::full([4], r as i64 + 5, (Kind::Int64, Device::Cpu)),
        Tensor::full([3], r, (Kind::Float, Device::Cpu)),
    ];
    pg.all_reduce_sum_all(&mut ts).unwrap();
    assert_eq!(Vec::<f32>::try_from(ts[0].reshape([-1])).unwrap(), vec![0.0, 3.0, 6.0, 9.0, 12.0, 15.0]);
    assert_eq!(Vec::<i64>::try_from(&ts[1]).unwrap(), vec![11; 4]);
    assert_eq!(Vec::<f32>::try_from(&ts[2]).unwrap(), vec![1.0; 3]);
    assert_eq!(ts[0].size(), [2, 3]);

    let mut ts =
        vec![Tensor::full([3], r, (Kind::Float, Device::Cpu)), Tensor::full([2], r, (Kind::Int64, Device::Cpu))];
    pg.broadcast_all(&mut ts, 0).unwrap();
    assert_eq!(Vec::<f32>::try_from(&ts[0]).unwrap(), vec![0.0; 3]);
    assert_eq!(Vec::<i64>::try_from(&ts[1]).unwrap(), vec![0; 2]);

    // A view that is not contiguous is refused, not summed wrongly.
    let mut view = Tensor::zeros([3, 3], (Kind::Float, Device::Cpu)).transpose(0, 1);
    assert!(pg.all_reduce_sum(&mut view).unwrap_err().to_string().contains("contiguous"));
}

#[test]
fn a_killed_rank_ends_the_others_with_an_error() {
    let Some(env) = rank_env() else {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("rank0.txt");
        let start = Instant::now();
        let err =
            launch(2, "a_killed_rank_ends_the_others_with_an_error", &[("AUTOREG_TEST_REPORT", &report)]).unwrap_err();
        assert!(start.elapsed() < TIMEOUT, "took {:?}", start.elapsed());
        assert_eq!(err.to_string(), "rank 1 was killed by signal 9; the other ranks were stopped");
        let said = std::fs::read_to_string(&report).unwrap();
        assert!(said.starts_with("all-reduce failed: "), "{said}");
        eprintln!("{said}");
        return;
    };
    let mut pg = ProcessGroup::new(&env, Backend::Gloo, TIMEOUT).unwrap();
    let mut t = Tensor::ones([4], (Kind::Float, Device::Cpu));
    pg.all_reduce_sum(&mut t).unwrap();
    if pg.rank() == 1 {
        let pid = std::process::id().to_string();
        std::process::Command::new("kill").args(["-9", &pid]).status().unwrap();
        unreachable!("rank 1 outlived SIGKILL");
    }
    let err = pg.all_reduce_sum(&mut t).unwrap_err();
    std::fs::write(std::env::var("AUTOREG_TEST_REPORT").unwrap(), err.to_string()).unwrap();
    // The launcher has seen rank 1 die; rank 0 ends by itself within the grace period.
    std::process::exit(3);
}

/// Rank `rank` of 2, alone at `port`: the time it took to fail, and its error.
fn alone(rank: usize, port: u16, timeout: Duration) -> (Duration, String) {
    let start = Instant::now();
    let err = ProcessGroup::new(&RankEnv::local(rank, 2, port), Backend::Gloo, timeout)
        .err()
        .expect("the group formed without its ranks");
    (start.elapsed(), err.to_string())
}

#[test]
fn a_wrong_master_port_or_a_world_nobody_fills_times_out_with_an_error() {
    let timeout = Duration::from_secs(3);
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    // Rank 1 finds no store at the port.
    let (took, err) = alone(1, port, timeout);
    assert!(err.starts_with(&format!("joining the rendezvous at 127.0.0.1:{port} failed: ")), "{err}");
    assert!(took < timeout * 4, "took {took:?}");
    // Rank 0 hosts the store, and nobody joins it.
    let (took, err) = alone(0, port, timeout);
    assert!(err.starts_with(&format!("joining the rendezvous at 127.0.0.1:{port} failed: ")), "{err}");
    assert!(took >= timeout && took < timeout * 4, "took {took:?}");
    eprintln!("{err}");
}
