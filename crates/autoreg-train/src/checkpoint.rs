//! The run directory and its checkpoints.
//!
//! ```text
//! runs/<name>/
//!   config.toml  tokenizer.json  metrics.jsonl  loss.png
//!   checkpoints/step-000250/{model.safetensors, optimizer.safetensors, state.json}
//!   last -> checkpoints/step-000500
//!   best -> checkpoints/step-000250
//! ```
//!
//! A checkpoint is written into a temporary folder, renamed into place, and only then
//! pointed at by swapping the `last` (and `best`) link atomically. A kill at any moment
//! leaves `last` on a complete checkpoint.

use crate::error::TrainError;
use autoreg_model::AdamW;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;

/// Where training stands; saved with every checkpoint as `state.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: i64,
    /// Estimated training loss at this step.
    pub train_loss: f64,
    /// Estimated validation loss at this step.
    pub val_loss: f64,
    /// Lowest validation loss so far.
    pub best_val_loss: f64,
    /// Training tokens consumed.
    pub tokens_seen: u64,
    /// Training seconds so far.
    pub elapsed_s: f64,
}

/// A run directory: everything needed to sample from or resume a run.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

/// One saved checkpoint.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Its folder.
    pub dir: PathBuf,
    /// Its training state.
    pub state: TrainState,
}

const WEIGHTS: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";

impl RunDir {
    /// The run directory at `root` (not created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The resolved configuration.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The fitted tokenizer.
    pub fn tokenizer_path(&self) -> PathBuf {
        self.root.join("tokenizer.json")
    }

    /// One JSON line per evaluation.
    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// The loss curves.
    pub fn plot_path(&self) -> PathBuf {
        self.root.join("loss.png")
    }

    /// Creates the folders, and removes what an interrupted save left behind.
    pub fn create(&self) -> Result<(), TrainError> {
        let ckpts = self.root.join("checkpoints");
        std::fs::create_dir_all(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?;
        for entry in std::fs::read_dir(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?.flatten() {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// Saves weights, optimizer moments and state as the `last` checkpoint, and as
    /// `best` too when `best` is set; then removes checkpoints neither points at.
    pub fn save(&self, vs: &VarStore, opt: &AdamW, state: &TrainState, best: bool) -> Result<(), TrainError> {
        let name = format!("step-{:06}", state.step);
        let ckpts = self.root.join("checkpoints");
        let tmp = ckpts.join(format!("{name}.tmp"));
        let dir = ckpts.join(&name);
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        vs.save(tmp.join(WEIGHTS)).map_err(TrainError::torch(format!("saving {}", tmp.join(WEIGHTS).display())))?;
        tch::Tensor::write_safetensors(&opt.state(), tmp.join(OPTIMIZER))
            .map_err(TrainError::torch(format!("saving {}", tmp.join(OPTIMIZER).display())))?;
        let json = serde_json::to_vec_pretty(state).map_err(|e| TrainError::checkpoint(&tmp, e.to_string()))?;
        std::fs::write(tmp.join(STATE), json).map_err(|e| TrainError::io(tmp.join(STATE), e))?;
        for file in [WEIGHTS, OPTIMIZER, STATE] {
            let f = std::fs::File::open(tmp.join(file)).and_then(|f| f.sync_all());
            f.map_err(|e| TrainError::io(tmp.join(file), e))?;
        }
        if dir.exists() {
            // Saving the same step twice: the older copy is never the only one pointed at.
            std::fs::remove_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        }
        std::fs::rename(&tmp, &dir).map_err(|e| TrainError::io(&dir, e))?;
        let target = Path::new("checkpoints").join(&name);
        self.point("last", &target)?;
        if best {
            self.point("best", &target)?;
        }
        self.prune()
    }

    /// Atomically points the link `link` at `target` (relative to the run directory).
    fn point(&self, link: &str, target: &Path) -> Result<(), TrainError> {
        let tmp = self.root.join(format!(".{link}.tmp"));
        let path = self.root.join(link);
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp).map_err(|e| TrainError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))
    }

    /// Removes checkpoints that neither `last` nor `best` points at.
    fn prune(&self) -> Result<(), TrainError> {
        let keep: Vec<PathBuf> =
            ["last", "best"].iter().filter_map(|l| std::fs::read_link(self.root.join(l)).ok()).collect();
        let ckpts = self.root.join("checkpoints");
        for entry in std::fs::read_dir(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?.flatten() {
            let name = entry.file_name();
            let rel = Path::new("checkpoints").join(&name);
            if !keep.contains(&rel) && !name.to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// The checkpoint `which` (`"last"` or `"best"`) points at.
    pub fn checkpoint(&self, which: &str) -> Result<Checkpoint, TrainError> {
        let link = self.root.join(which);
        if !self.root.is_dir() {
            return Err(TrainError::checkpoint(&self.root, "not a run directory (no such folder)"));
        }
        if std::fs::symlink_metadata(&link).is_err() {
            return Err(TrainError::checkpoint(
                &self.root,
                format!("no `{which}` checkpoint: no weights were saved here (train first, or name a run directory)"),
            ));
        }
        let dir = self.root.join(std::fs::read_link(&link).map_err(|e| TrainError::io(&link, e))?);
        let state_path = dir.join(STATE);
        let bytes = std::fs::read(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
        let state = serde_json::from_slice(&bytes).map_err(|e| TrainError::checkpoint(&state_path, e.to_string()))?;
        if !dir.join(WEIGHTS).is_file() {
            return Err(TrainError::checkpoint(&dir, format!("{WEIGHTS} is missing")));
        }
        Ok(Checkpoint { dir, state })
    }
}

impl Checkpoint {
    /// Loads the weights into `vs`, whose variables must match by name and shape.
    pub fn load_weights(&self, vs: &mut VarStore) -> Result<(), TrainError> {
        let path = self.dir.join(WEIGHTS);
        vs.load(&path).map_err(TrainError::torch(format!("loading {}", path.display())))
    }

    /// Loads the optimizer moments and step count into `opt`.
    pub fn load_optimizer(&self, opt: &mut AdamW) -> Result<(), TrainError> {
        let path = self.dir.join(OPTIMIZER);
        let named =
            tch::Tensor::read_safetensors(&path).map_err(TrainError::torch(format!("loading {}", path.display())))?;
        opt.load_state(&named, self.state.step).map_err(|reason| TrainError::checkpoint(&path, reason))
    }
}
