//! A rank's place in the job, from the environment variables of torchrun's convention.

use crate::error::DistError;

/// Where this process stands in a data-parallel job: the variables torchrun sets
/// (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`,
/// `MASTER_PORT`), which SLURM or Kubernetes jobs set the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankEnv {
    /// This process's rank, in `0..world_size`.
    pub rank: usize,
    /// The number of ranks in the job.
    pub world_size: usize,
    /// This process's rank on its machine (which GPU it takes).
    pub local_rank: usize,
    /// The number of ranks on this machine (they share its CPU cores).
    pub local_world_size: usize,
    /// The host of the rendezvous store.
    pub master_addr: String,
    /// Its port.
    pub master_port: u16,
    /// Whether a launcher hosts the store already (torchrun's agent sets
    /// `TORCHELASTIC_USE_AGENT_STORE=True`): then rank 0 connects to it too.
    pub external_store: bool,
}

impl RankEnv {
    /// The job this process belongs to, or `None` when `WORLD_SIZE` is not set (a
    /// single process).
    pub fn from_env() -> Result<Option<Self>, DistError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// As [`RankEnv::from_env`], reading variables through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, DistError> {
        let Some(world) = var("WORLD_SIZE") else { return Ok(None) };
        let number = |name: &'static str, text: &str| {
            text.trim()
                .parse::<usize>()
                .map_err(|_| DistError::Env { var: name, reason: format!("{text:?} is not a whole number") })
        };
        let required = |name: &'static str| {
            var(name).ok_or(DistError::Env { var: name, reason: "not set, but WORLD_SIZE is".to_owned() })
        };
        let world_size = number("WORLD_SIZE", &world)?;
        if world_size == 0 {
            return Err(DistError::Env { var: "WORLD_SIZE", reason: "must be at least 1".to_owned() });
        }
        let rank = number("RANK", &required("RANK")?)?;
        if rank >= world_size {
            return Err(DistError::Env {
                var: "RANK",
                reason: format!("{rank} is out of range: WORLD_SIZE = {world_size} allows 0 to {}", world_size - 1),
            });
        }
        // Without the local variables, every rank is taken to be on this machine.
        let local_rank = var("LOCAL_RANK").map_or(Ok(rank), |v| number("LOCAL_RANK", &v))?;
        let local_world_size = var("LOCAL_WORLD_SIZE").map_or(Ok(world_size), |v| number("LOCAL_WORLD_SIZE", &v))?;
        if local_rank >= local_world_size.max(1) {
            return Err(DistError::Env {
                var: "LOCAL_RANK",
                reason: format!("{local_rank} is out of range for LOCAL_WORLD_SIZE = {local_world_size}"),
            });
        }
        let master_addr = required("MASTER_ADDR")?;
        let port = required("MASTER_PORT")?;
        let master_port = match port.trim().parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
                return Err(DistError::Env {
                    var: "MASTER_PORT",
                    reason: format!("{port:?} is not a port number (1 to 65535)"),
                });
            }
        };
        let external_store = var("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v == "True");
        Ok(Some(Self { rank, world_size, local_rank, local_world_size, master_addr, master_port, external_store }))
    }

    /// Rank `rank` of `world_size` ranks, all on this machine, meeting at
    /// `127.0.0.1:port` (rank 0 hosts the store).
    pub fn local(rank: usize, world_size: usize, port: u16) -> Self {
        Self {
            rank,
            world_size,
            local_rank: rank,
            local_world_size: world_size,
            master_addr: std::net::Ipv4Addr::LOCALHOST.to_string(),
            master_port: port,
            external_store: false,
        }
    }

    /// The environment variables that describe this rank, as torchrun sets them:
    /// [`RankEnv::from_vars`] reads them back.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("RANK", self.rank.to_string()),
            ("WORLD_SIZE", self.world_size.to_string()),
            ("LOCAL_RANK", self.local_rank.to_string()),
            ("LOCAL_WORLD_SIZE", self.local_world_size.to_string()),
            ("MASTER_ADDR", self.master_addr.clone()),
            ("MASTER_PORT", self.master_port.to_string()),
        ];
        if self.external_store {
            vars.push(("TORCHELASTIC_USE_AGENT_STORE", "True".to_owned()));
        }
        vars
    }

    /// This machine's cores shared out among its ranks (at least 1 each), so that
    /// their thread pools do not fight over the cores.
    pub fn threads_per_rank(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.local_world_size.max(1)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<Option<RankEnv>, DistError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RankEnv::from_vars(|name| map.get(name).cloned())
    }

    const JOB: [(&str, &str); 4] =
        [("WORLD_SIZE", "4"), ("RANK", "3"), ("MASTER_ADDR", "node0"), ("MASTER_PORT", "29500")];

    #[test]
    fn vars_read_back() {
        let mut env = RankEnv::local(1, 3, 29400);
        let read = |env: &RankEnv| {
            let vars = env.vars();
            RankEnv::from_vars(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
        };
        assert_eq!(read(&env).unwrap(), Some(env.clone()));
        env.external_store = true;
        assert_eq!(read(&env).unwrap(), Some(env));
    }

    #[test]
    fn no_world_size_is_a_single_process() {
        assert_eq!(parse(&[("RANK", "2")]).unwrap(), None);
    }

    #[test]
    fn torchrun_variables_are_read() {
        let mut vars = JOB.to_vec();
        vars.extend([("LOCAL_RANK", "1"), ("LOCAL_WORLD_SIZE", "2"), ("TORCHELASTIC_USE_AGENT_STORE", "True")]);
        let env = parse(&vars).unwrap().unwrap();
        let want = RankEnv {
            rank: 3,
            world_size: 4,
            local_rank: 1,
            local_world_size: 2,
            master_addr: "node0".to_owned(),
            master_port: 29500,
            external_store: true,
        };
        assert_eq!(env, want);
        // Without the local variables, all ranks are on this machine.
        let env = parse(&JOB).unwrap().unwrap();
        assert_eq!((env.local_rank, env.local_world_size, env.external_store), (3, 4, false));
    }

    #[test]
    fn bad_variables_are_named() {
        let with = |k: &'static str, v: &'static str| {
            let mut vars: Vec<(&str, &str)> = JOB.iter().filter(|(name, _)| *name != k).copied().collect();
            if !v.is_empty() {
                vars.push((k, v));
            }
            parse(&vars).unwrap_err().to_string()
        };
        assert_eq!(with("RANK", "4"), "RANK: 4 is out of range: WORLD_SIZE = 4 allows 0 to 3");
        assert_eq!(with("RANK", "one"), "RANK: \"one\" is not a whole number");
        assert_eq!(with("RANK", ""), "RANK: not set, but WORLD_SIZE is");
        assert_eq!(with("WORLD_SIZE", "0"), "WORLD_SIZE: must be at least 1");
        assert_eq!(with("MASTER_PORT", "70000"), "MASTER_PORT: \"70000\" is not a port number (1 to 65535)");
        assert_eq!(with("MASTER_ADDR", ""), "MASTER_ADDR: not set, but WORLD_SIZE is");
        assert!(with("LOCAL_RANK", "9").starts_with("LOCAL_RANK: 9 is out of range"));
    }
}
