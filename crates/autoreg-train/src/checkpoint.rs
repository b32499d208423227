//! The run directory and its checkpoints.
//!
//! ```text
//! runs/<name>/
//!   config.toml  config.history  tokenizer.json  metrics.jsonl  loss.png  lock
//!   checkpoints/step-000250/{model.safetensors, optimizer.safetensors, state.json}
//!   last -> checkpoints/step-000500
//!   best -> checkpoints/step-000250
//! ```
//!
//! A checkpoint is written into a temporary folder, renamed into place, and only then
//! pointed at by swapping the `last` (and `best`) link atomically. A kill at any moment
//! leaves `last` on a complete checkpoint. `state.json` records the `[model]` section
//! and a blake3 checksum of each weights file, checked when the checkpoint is loaded,
//! and of the run's `tokenizer.json`, checked by [`Checkpoint::verify_tokenizer`].
//! One process at a time writes a run: it holds the advisory lock on the `lock` file.
//! Others read it at any time: the trainer removes the checkpoints it no longer links,
//! so a reader whose checkpoint goes meanwhile opens the one the link names now
//! ([`RunDir::checkpoint`], [`RunDir::read_checkpoint`]).

use crate::error::TrainError;
use crate::testhook::pause;
use autoreg_model::{ModelConfig, Optimizer, Positions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tch::nn::VarStore;

/// Where training stands; saved with every checkpoint as `state.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: i64,
    /// Estimated training loss at the last evaluation (of step `eval_step`).
    pub train_loss: f64,
    /// Estimated validation loss at the last evaluation (of step `eval_step`).
    pub val_loss: f64,
    /// Lowest validation loss so far.
    pub best_val_loss: f64,
    /// Training tokens consumed.
    pub tokens_seen: u64,
    /// Training seconds so far.
    pub elapsed_s: f64,
    /// The device the last session trained on (`Cpu`, `Cuda(0)`); absent in runs
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The step whose weights `train_loss` and `val_loss` were estimated on: `step`
    /// itself once this checkpoint is evaluated, an earlier step while a checkpoint
    /// saved on an interrupt waits for its evaluation. Absent in checkpoints written
    /// before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_step: Option<i64>,
    /// The training seconds (of `elapsed_s`) at which the learning rate's decay ends
    /// when it follows time (`train.max_time`, `train.decay_time`): a resumed run keeps
    /// it. Absent in runs whose schedule follows steps alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay_time_s: Option<f64>,
    /// Where the weights of an imported run came from (`autoreg import`), which has
    /// no training of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
}

impl TrainState {
    /// Checks that the step and every number are finite and not negative; the error
    /// names the key.
    fn validate(&self) -> Result<(), String> {
        if self.step < 0 {
            return Err(format!("`step` must not be negative, got {}", self.step));
        }
        let numbers = [
            ("train_loss", self.train_loss),
            ("val_loss", self.val_loss),
            ("best_val_loss", self.best_val_loss),
            ("elapsed_s", self.elapsed_s),
        ];
        match numbers.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            Some((key, v)) => Err(format!("`{key}` must be a finite number, at least 0, got {v}")),
            None => Ok(()),
        }
    }

    /// Whether `train_loss` and `val_loss` were estimated on this step's weights;
    /// `None` when the checkpoint is older than the record of it (`eval_step`).
    pub fn evaluated(&self) -> Option<bool> {
        self.eval_step.map(|at| at == self.step)
    }
}

/// What `state.json` holds: the state, the model it was trained with and checksums.
#[derive(Serialize, Deserialize)]
struct StateFile {
    #[serde(flatten)]
    state: TrainState,
    /// The `[model]` section the weights belong to (absent before checksums existed).
    model: Option<ModelConfig>,
    /// blake3 (hex) of each weights file, by file name (absent in older checkpoints).
    checksums: Option<BTreeMap<String, String>>,
    /// blake3 (hex) of the run's `tokenizer.json` when the checkpoint was saved, whose
    /// ids the weights were trained on (absent in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tokenizer_checksum: Option<String>,
}

/// A run directory: everything needed to sample from or resume a run.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
}

/// The advisory lock on a run directory, held by the one process that writes it; it is
/// released when dropped (or when the process ends).
#[derive(Debug)]
pub struct RunLock {
    run: RunDir,
    _file: File,
}

impl RunLock {
    /// The locked run directory.
    pub fn run(&self) -> &RunDir {
        &self.run
    }
}

/// One saved checkpoint.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    /// Its folder.
    pub dir: PathBuf,
    /// Its training state.
    pub state: TrainState,
    model: Option<ModelConfig>,
    checksums: Option<BTreeMap<String, String>>,
    tokenizer_checksum: Option<String>,
    /// The run's `config.toml`, named when `[model]` does not match.
    config_path: PathBuf,
    /// The run's `tokenizer.json`, checked against `tokenizer_checksum`.
    tokenizer_path: PathBuf,
}

const WEIGHTS: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";
const LOCK: &str = "lock";

/// How many times a reader opens the checkpoint a link names again when the trainer
/// moved the link while the reader was opening the one it named before.
const MOVED_RETRIES: usize = 10;

/// Whether `name` is a temporary entry of a save (`step-N.tmp-PID`, `.last.tmp-PID`,
/// `.step-N.state.json.tmp-PID`, `.config.toml.tmp-PID`; `step-N.tmp` from older
/// versions).
fn is_temporary(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.contains(".tmp-") || name.ends_with(".tmp")
}

/// The blake3 checksum (hex) of the file at `path`.
fn file_checksum(path: &Path) -> Result<String, TrainError> {
    let file = File::open(path).map_err(|e| TrainError::io(path, e))?;
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(file).map_err(|e| TrainError::io(path, e))?;
    Ok(hasher.finalize().to_hex().to_string())
}

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

    /// One line per `train` of the run: when, and with which `--set` overrides.
    pub fn history_path(&self) -> PathBuf {
        self.root.join("config.history")
    }

    /// One JSON line per evaluation.
    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// One JSON line per `autoreg sample` of the run: what it wrote, for the report.
    pub fn samples_path(&self) -> PathBuf {
        self.root.join("samples.jsonl")
    }

    /// The loss curves.
    pub fn plot_path(&self) -> PathBuf {
        self.root.join("loss.png")
    }

    /// The lock file.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join(LOCK)
    }

    /// Creates the folders and takes the run's lock, writing this process's PID into the
    /// lock file; then removes what an interrupted save left behind. Fails at once with
    /// [`TrainError::Busy`], naming the holder's PID, when another process holds it.
    pub fn lock(&self) -> Result<RunLock, TrainError> {
        let ckpts = self.root.join("checkpoints");
        std::fs::create_dir_all(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?;
        let path = self.lock_path();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may not have written its PID yet: then it is unknown.
                let pid = file.read_to_string(&mut text).ok().and_then(|_| text.trim().parse::<u32>().ok());
                let holder = pid.map_or_else(|| "PID unknown".to_owned(), |p| format!("PID {p}"));
                return Err(TrainError::Busy { run: self.root.clone(), lock: path, holder });
            }
            Err(TryLockError::Error(e)) => return Err(TrainError::io(&path, e)),
        }
        file.set_len(0)
            .and_then(|()| file.write_all(std::process::id().to_string().as_bytes()))
            .map_err(|e| TrainError::io(&path, e))?;
        // Holding the lock, no other process is saving: temporaries are leftovers.
        for dir in [&self.root, &ckpts] {
            for entry in std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?.flatten() {
                if is_temporary(&entry.file_name()) {
                    let p = entry.path();
                    let removed = if p.is_dir() && !p.is_symlink() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                    removed.map_err(|e| TrainError::io(&p, e))?;
                }
            }
        }
        Ok(RunLock { run: self.clone(), _file: file })
    }

    /// Saves weights, optimizer moments (when there is an optimizer: an imported run has
    /// none) and state (with `model`, the `[model]` section) as the `last` checkpoint, and
    /// as `best` too when `best` is set; then removes checkpoints neither points at. Only
    /// the holder of the run's [`RunLock`] may call it.
    pub fn save(
        &self,
        vs: &VarStore,
        opt: Option<&Optimizer>,
        state: &TrainState,
        model: &ModelConfig,
        best: bool,
    ) -> Result<(), TrainError> {
        let step = state.step;
        let name = format!("step-{step:06}");
        let ckpts = self.root.join("checkpoints");
        let tmp = ckpts.join(format!("{name}.tmp-{}", std::process::id()));
        let dir = ckpts.join(&name);
        std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        vs.save(tmp.join(WEIGHTS)).map_err(TrainError::torch(format!("saving {}", tmp.join(WEIGHTS).display())))?;
        let mut files = vec![WEIGHTS];
        if let Some(opt) = opt {
            tch::Tensor::write_safetensors(&opt.state(), tmp.join(OPTIMIZER))
                .map_err(TrainError::torch(format!("saving {}", tmp.join(OPTIMIZER).display())))?;
            files.push(OPTIMIZER);
        }
        let mut checksums = BTreeMap::new();
        for file in &files {
            checksums.insert((*file).to_owned(), file_checksum(&tmp.join(file))?);
        }
        // The tokenizer was written before training (and checked on a resume).
        let tokenizer = self.tokenizer_path();
        let tokenizer_checksum = if tokenizer.is_file() { Some(file_checksum(&tokenizer)?) } else { None };
        let record = StateFile {
            state: state.clone(),
            model: Some(model.clone()),
            checksums: Some(checksums),
            tokenizer_checksum,
        };
        let json = serde_json::to_vec_pretty(&record).map_err(|e| TrainError::checkpoint(&tmp, e.to_string()))?;
        std::fs::write(tmp.join(STATE), json).map_err(|e| TrainError::io(tmp.join(STATE), e))?;
        for file in files.into_iter().chain([STATE]) {
            let f = File::open(tmp.join(file)).and_then(|f| f.sync_all());
            f.map_err(|e| TrainError::io(tmp.join(file), e))?;
        }
        pause("written", step, || false);
        if dir.exists() {
            // A copy of this step left by a killed run: `last` and `best` point before it.
            std::fs::remove_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        }
        std::fs::rename(&tmp, &dir).map_err(|e| TrainError::io(&dir, e))?;
        pause("renamed", step, || false);
        let target = Path::new("checkpoints").join(&name);
        self.point("last", &target)?;
        pause("last", step, || false);
        if best {
            self.point("best", &target)?;
        }
        pause("linked", step, || false);
        self.prune()
    }

    /// Rewrites the `state.json` of the checkpoint of `state.step`, already saved by
    /// [`RunDir::save`], with `state` (the losses of its evaluation), atomically: the
    /// weights and their checksums stay. Then points `best` at it when `best` is set,
    /// and removes checkpoints neither link points at. Only the holder of the run's
    /// [`RunLock`] may call it.
    pub fn update_state(&self, state: &TrainState, best: bool) -> Result<(), TrainError> {
        let name = format!("step-{:06}", state.step);
        let ckpts = self.root.join("checkpoints");
        let path = ckpts.join(&name).join(STATE);
        let bytes = std::fs::read(&path).map_err(|e| TrainError::io(&path, e))?;
        let mut record: StateFile =
            serde_json::from_slice(&bytes).map_err(|e| TrainError::checkpoint(&path, e.to_string()))?;
        if record.state.step != state.step {
            return Err(TrainError::checkpoint(
                &path,
                format!("`step` is {}, not the step {} being recorded", record.state.step, state.step),
            ));
        }
        record.state = state.clone();
        let json = serde_json::to_vec_pretty(&record).map_err(|e| TrainError::checkpoint(&path, e.to_string()))?;
        // Beside the checkpoint folders, where `lock` removes what a kill leaves.
        let tmp = ckpts.join(format!(".{name}.{STATE}.tmp-{}", std::process::id()));
        std::fs::write(&tmp, json).and_then(|()| File::open(&tmp)?.sync_all()).map_err(|e| TrainError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
        if best {
            self.point("best", &Path::new("checkpoints").join(&name))?;
        }
        self.prune()
    }

    /// Atomically points the link `link` at `target` (relative to the run directory).
    fn point(&self, link: &str, target: &Path) -> Result<(), TrainError> {
        let tmp = self.root.join(format!(".{link}.tmp-{}", std::process::id()));
        let path = self.root.join(link);
        std::os::unix::fs::symlink(target, &tmp).map_err(|e| TrainError::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))
    }

    /// The checkpoint folder that the link `which` points at, which must be one of this
    /// run's `checkpoints/`; `None` when there is no such link.
    fn resolve(&self, which: &str) -> Result<Option<PathBuf>, TrainError> {
        let link = self.root.join(which);
        let Ok(meta) = std::fs::symlink_metadata(&link) else { return Ok(None) };
        if !meta.file_type().is_symlink() {
            return Err(TrainError::checkpoint(&link, "not a link to a checkpoint (checkpoints/step-N)"));
        }
        let shown = std::fs::read_link(&link).map_err(|e| TrainError::io(&link, e))?;
        let target = std::fs::canonicalize(&link).map_err(|e| {
            TrainError::checkpoint(&link, format!("points at {}, which cannot be opened: {e}", shown.display()))
        })?;
        let ckpts = self.root.join("checkpoints");
        let own = std::fs::canonicalize(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?;
        match target.file_name() {
            Some(name) if target.parent() == Some(own.as_path()) => Ok(Some(ckpts.join(name))),
            _ => Err(TrainError::checkpoint(
                &link,
                format!(
                    "points at {}, outside this run's checkpoints/: a run only loads its own checkpoints \
                     (point it at checkpoints/step-N)",
                    shown.display()
                ),
            )),
        }
    }

    /// Removes checkpoints that neither `last` nor `best` points at; removes nothing
    /// when either cannot be resolved inside the run.
    fn prune(&self) -> Result<(), TrainError> {
        let mut keep = Vec::new();
        for which in ["last", "best"] {
            match self.resolve(which) {
                Ok(dir) => keep.extend(dir),
                Err(e) => {
                    log::warn!("not removing old checkpoints: {e}");
                    return Ok(());
                }
            }
        }
        let ckpts = self.root.join("checkpoints");
        for entry in std::fs::read_dir(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?.flatten() {
            let path = entry.path();
            if !keep.contains(&path) && !is_temporary(&entry.file_name()) {
                std::fs::remove_dir_all(&path).map_err(|e| TrainError::io(&path, e))?;
            }
        }
        Ok(())
    }

    /// The checkpoint `which` (`"last"` or `"best"`) points at, with its `state.json`
    /// read and checked; the link must point inside this run's `checkpoints/`. When the
    /// trainer moves the link and removes the checkpoint while it is being opened, the
    /// one the link names now is opened instead.
    pub fn checkpoint(&self, which: &str) -> Result<Checkpoint, TrainError> {
        if !self.root.is_dir() {
            return Err(TrainError::checkpoint(&self.root, "not a run directory (no such folder)"));
        }
        let link = self.root.join(which);
        let mut tries = 0;
        loop {
            let named = std::fs::read_link(&link).ok();
            let opened = self.resolve(which).and_then(|dir| match dir {
                Some(dir) => self.open(dir),
                None => Err(TrainError::checkpoint(
                    &self.root,
                    format!(
                        "no `{which}` checkpoint: no weights were saved here (train first, or name a run directory)"
                    ),
                )),
            });
            match opened {
                Err(_) if tries < MOVED_RETRIES && std::fs::read_link(&link).ok() != named => tries += 1,
                opened => return opened,
            }
        }
    }

    /// Runs `read` on `checkpoint`, opened from the link `which`, and returns the
    /// checkpoint it read with what `read` gave. A run is read while it trains: when
    /// `read` fails because the trainer moved the link and removed the checkpoint
    /// meanwhile (the link names another one now), `read` runs again on the checkpoint
    /// the link names now, a few times at most.
    pub fn read_checkpoint<T>(
        &self,
        which: &str,
        mut checkpoint: Checkpoint,
        mut read: impl FnMut(&Checkpoint) -> Result<T, TrainError>,
    ) -> Result<(Checkpoint, T), TrainError> {
        let mut tries = 0;
        loop {
            match read(&checkpoint) {
                Ok(value) => return Ok((checkpoint, value)),
                Err(_) if tries < MOVED_RETRIES && self.moved(which, &checkpoint.dir) => {
                    tries += 1;
                    checkpoint = self.checkpoint(which)?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the link `which` no longer names the checkpoint folder `dir`.
    fn moved(&self, which: &str, dir: &Path) -> bool {
        !matches!(self.resolve(which), Ok(Some(now)) if now == dir)
    }

    /// The checkpoint in the folder `dir`, with its `state.json` read and checked.
    fn open(&self, dir: PathBuf) -> Result<Checkpoint, TrainError> {
        let state_path = dir.join(STATE);
        let bytes = std::fs::read(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
        let file: StateFile =
            serde_json::from_slice(&bytes).map_err(|e| TrainError::checkpoint(&state_path, e.to_string()))?;
        file.state.validate().map_err(|reason| TrainError::checkpoint(&state_path, reason))?;
        let expected = format!("step-{:06}", file.state.step);
        if dir.file_name().is_none_or(|n| n.to_string_lossy() != expected) {
            return Err(TrainError::checkpoint(
                &state_path,
                format!("`step` is {}, but the checkpoint folder is not {expected}", file.state.step),
            ));
        }
        if let Some(at) = file.state.eval_step.filter(|at| !(0..=file.state.step).contains(at)) {
            let reason = format!("`eval_step` must be between 0 and `step` ({}), got {at}", file.state.step);
            return Err(TrainError::checkpoint(&state_path, reason));
        }
        for (key, missing) in [("model", file.model.is_none()), ("checksums", file.checksums.is_none())] {
            if missing {
                log::warn!("{}: no `{key}` (a checkpoint from an older autoreg): not verified", state_path.display());
            }
        }
        if !dir.join(WEIGHTS).is_file() {
            return Err(TrainError::checkpoint(&dir, format!("{WEIGHTS} is missing")));
        }
        Ok(Checkpoint {
            dir,
            state: file.state,
            model: file.model,
            checksums: file.checksums,
            tokenizer_checksum: file.tokenizer_checksum,
            config_path: self.config_path(),
            tokenizer_path: self.tokenizer_path(),
        })
    }
}

impl Checkpoint {
    /// Checks the run's `tokenizer.json` against the checksum that `state.json` records:
    /// the weights were trained on its ids, and an edited tokenizer would give them other
    /// meanings. Checkpoints older than the record are not checked.
    pub fn verify_tokenizer(&self) -> Result<(), TrainError> {
        let Some(expected) = &self.tokenizer_checksum else { return Ok(()) };
        if file_checksum(&self.tokenizer_path)? != *expected {
            return Err(TrainError::checkpoint(
                &self.tokenizer_path,
                format!(
                    "does not match its checksum in {STATE} (edited after training?): {} was trained on the \
                     tokenizer that checksum records, and cannot be used with another",
                    self.dir.display()
                ),
            ));
        }
        Ok(())
    }

    /// Loads the weights into `vs`, the variables of a model built from `model`: that
    /// must be the `[model]` the checkpoint was trained with, the file must match its
    /// checksum, and its tensors the variables, by name and shape, with none left over.
    pub fn load_weights(&self, vs: &mut VarStore, model: &ModelConfig) -> Result<(), TrainError> {
        let now = as_read_back(model).map_err(|e| TrainError::checkpoint(&self.config_path, e.to_string()))?;
        if let Some(saved) = self.model.as_ref().filter(|saved| **saved != now) {
            return Err(TrainError::checkpoint(
                &self.config_path,
                format!(
                    "[model] differs from the one {} was trained with: {}; [model] cannot change after training",
                    self.dir.display(),
                    differences(saved, model).join(", ")
                ),
            ));
        }
        self.copy_weights(vs, None)
    }

    /// Loads the weights into `vs` as the start of another run (`model.init_from`), a
    /// model built from `model`: the `[model]` the checkpoint was trained with but for
    /// `dropout`, and `block_size`, which may be smaller (learned positions past it are
    /// dropped, as nanoGPT's `crop_block_size`).
    pub fn init_weights(&self, vs: &mut VarStore, model: &ModelConfig) -> Result<(), TrainError> {
        let Some(saved) = &self.model else {
            return self.copy_weights(vs, None);
        };
        let shape = ModelConfig {
            dropout: saved.dropout,
            block_size: saved.block_size,
            init_from: saved.init_from.clone(),
            ..model.clone()
        };
        let now = as_read_back(&shape).map_err(|e| TrainError::checkpoint(&self.config_path, e.to_string()))?;
        if now != *saved {
            return Err(TrainError::checkpoint(
                &self.config_path,
                format!(
                    "[model] differs from the one {} was trained with: {}; a run that starts from it keeps its shape",
                    self.dir.display(),
                    differences(saved, &shape).join(", ")
                ),
            ));
        }
        if model.block_size > saved.block_size && model.positions == Positions::Learned {
            return Err(TrainError::Config(format!(
                "model.block_size = {} is more than the {} learned positions of {}",
                model.block_size,
                saved.block_size,
                self.dir.display()
            )));
        }
        self.copy_weights(vs, Some(model.block_size))
    }

    /// Copies the checked weights file's tensors into the variables of `vs`, by name and
    /// shape, with none left over; with `positions`, the learned position embedding
    /// keeps its first rows only.
    fn copy_weights(&self, vs: &mut VarStore, positions: Option<i64>) -> Result<(), TrainError> {
        let path = self.verified(WEIGHTS)?;
        let mut named =
            tch::Tensor::read_safetensors(&path).map_err(TrainError::torch(format!("loading {}", path.display())))?;
        if let Some(rows) = positions {
            for (name, t) in named.iter_mut().filter(|(name, _)| name == "wpe.weight") {
                if t.size()[0] < rows {
                    return Err(TrainError::checkpoint(&path, format!("`{name}` has fewer than {rows} rows")));
                }
                *t = t.narrow(0, 0, rows);
            }
        }
        let variables = vs.variables();
        if let Some((name, _)) = named.iter().find(|(name, _)| !variables.contains_key(name)) {
            return Err(TrainError::checkpoint(&path, format!("holds `{name}`, which the model has no place for")));
        }
        for (name, var) in &variables {
            let Some((_, src)) = named.iter().find(|(n, _)| n == name) else {
                return Err(TrainError::checkpoint(&path, format!("has no `{name}`, which the model needs")));
            };
            if src.size() != var.size() {
                return Err(TrainError::checkpoint(
                    &path,
                    format!("`{name}` has shape {:?}, the model needs {:?}", src.size(), var.size()),
                ));
            }
            let mut var = var.shallow_clone();
            tch::no_grad(|| var.f_copy_(src))
                .map_err(TrainError::torch(format!("loading `{name}` of {}", path.display())))?;
        }
        Ok(())
    }

    /// Loads the optimizer moments and step count into `opt`, once the file matches
    /// its checksum.
    pub fn load_optimizer(&self, opt: &mut Optimizer) -> Result<(), TrainError> {
        if self.state.imported_from.is_some() && !self.dir.join(OPTIMIZER).exists() {
            return Err(TrainError::checkpoint(
                &self.dir,
                "holds no optimizer state (an imported run): start a run from it with --init-from, \
                 not --resume",
            ));
        }
        let path = self.verified(OPTIMIZER)?;
        let named =
            tch::Tensor::read_safetensors(&path).map_err(TrainError::torch(format!("loading {}", path.display())))?;
        opt.load_state(&named, self.state.step).map_err(|reason| TrainError::checkpoint(&path, reason))
    }

    /// The path of the checkpoint's `file`, checked against the checksum in `state.json`
    /// (when it records checksums).
    fn verified(&self, file: &str) -> Result<PathBuf, TrainError> {
        let path = self.dir.join(file);
        let Some(checksums) = &self.checksums else { return Ok(path) };
        let Some(expected) = checksums.get(file) else {
            return Err(TrainError::checkpoint(self.dir.join(STATE), format!("records no checksum of {file}")));
        };
        if file_checksum(&path)? != *expected {
            return Err(TrainError::checkpoint(
                &path,
                format!("does not match its checksum in {STATE}: the file was changed or damaged"),
            ));
        }
        Ok(path)
    }
}

/// `model` as `state.json` gives it back: JSON numbers are read back to the nearest
/// float only most of the time, but a config saved and read back the same way compares
/// exactly.
fn as_read_back(model: &ModelConfig) -> Result<ModelConfig, serde_json::Error> {
    serde_json::from_str(&serde_json::to_string(model)?)
}

/// The keys of `[model]` whose values differ, as `key = saved here, now in config`.
fn differences(saved: &ModelConfig, now: &ModelConfig) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(saved), serde_json::to_value(now))
    else {
        return vec![format!("{saved:?} vs {now:?}")];
    };
    a.iter()
        .filter(|(key, value)| b.get(*key) != Some(value))
        .map(|(key, value)| {
            let current = b.get(key).map_or_else(|| "unset".to_owned(), ToString::to_string);
            format!("{key} = {current} in the config, {value} in the checkpoint")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_model::{OptimConfig, Positions};
    use tch::{Device, nn};

    /// A run with one variable, saved at steps 10 (best) and 20.
    fn saved_run() -> (tempfile::TempDir, RunDir, RunLock, VarStore, Optimizer) {
        let dir = tempfile::tempdir().unwrap();
        let (run, lock, vs, opt) = saved_run_at(dir.path().join("run"));
        (dir, run, lock, vs, opt)
    }

    fn saved_run_at(path: PathBuf) -> (RunDir, RunLock, VarStore, Optimizer) {
        let run = RunDir::new(path);
        let lock = run.lock().unwrap();
        let vs = VarStore::new(Device::Cpu);
        let _w = vs.root().var("w", &[2, 3], nn::Init::Const(0.5));
        let opt =
            Optimizer::new(&vs, OptimConfig { beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.0, muon: None });
        for (step, best) in [(10, true), (20, false)] {
            let state = TrainState { step, train_loss: 1.0, val_loss: 2.0, best_val_loss: 2.0, ..Default::default() };
            run.save(&vs, Some(&opt), &state, &ModelConfig::default(), best).unwrap();
        }
        (run, lock, vs, opt)
    }

    fn load(run: &RunDir, vs: &mut VarStore, model: &ModelConfig) -> Result<(), TrainError> {
        run.checkpoint("last")?.load_weights(vs, model)
    }

    #[test]
    fn saves_and_loads_back_with_checksums_and_leaves_no_temporaries() {
        let (_d, run, _lock, mut vs, mut opt) = saved_run();
        let ckpt = run.checkpoint("last").unwrap();
        assert_eq!(ckpt.state.step, 20);
        ckpt.load_weights(&mut vs, &ModelConfig::default()).unwrap();
        ckpt.load_optimizer(&mut opt).unwrap();
        let names: Vec<_> =
            std::fs::read_dir(run.path().join("checkpoints")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 2, "last and best: {names:?}");
        let root: Vec<_> = std::fs::read_dir(run.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(!root.iter().any(|n| is_temporary(n)), "{root:?}");
        let json = std::fs::read_to_string(ckpt.dir.join(STATE)).unwrap();
        assert!(json.contains("\"model\"") && json.contains("\"model.safetensors\""), "{json}");
    }

    #[test]
    fn a_checkpoint_saved_before_its_evaluation_records_it_and_becomes_best() {
        let (_d, run, _lock, mut vs, opt) = saved_run();
        // Saved on a stop with step 20's losses not yet estimated: those of step 10.
        let stale = TrainState {
            step: 25,
            train_loss: 1.0,
            val_loss: 2.0,
            best_val_loss: 2.0,
            eval_step: Some(10),
            ..Default::default()
        };
        run.save(&vs, Some(&opt), &stale, &ModelConfig::default(), false).unwrap();
        let last = run.checkpoint("last").unwrap();
        assert_eq!(last.state.evaluated(), Some(false));
        let evaluated =
            TrainState { train_loss: 0.5, val_loss: 1.5, best_val_loss: 1.5, eval_step: Some(25), ..stale.clone() };
        run.update_state(&evaluated, true).unwrap();
        for which in ["last", "best"] {
            let ckpt = run.checkpoint(which).unwrap();
            assert_eq!(ckpt.state, evaluated, "{which}");
            assert_eq!(ckpt.state.evaluated(), Some(true));
            // The checksums still hold.
            ckpt.load_weights(&mut vs, &ModelConfig::default()).unwrap();
        }
        // The old `best` (step 10) and step 20 are gone; no temporary is left.
        let names: Vec<_> =
            std::fs::read_dir(run.path().join("checkpoints")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["step-000025"]);
        // A state of another step is refused.
        let err = run.update_state(&TrainState { step: 30, ..evaluated }, false).unwrap_err().to_string();
        assert!(err.contains("step-000030/state.json"), "{err}");
    }

    #[test]
    fn a_weights_file_changed_at_the_same_size_is_refused() {
        let (_d, run, _lock, mut vs, mut opt) = saved_run();
        for file in [WEIGHTS, OPTIMIZER] {
            let path = run.path().join("last").join(file);
            let mut bytes = std::fs::read(&path).unwrap();
            *bytes.last_mut().unwrap() ^= 1;
            std::fs::write(&path, bytes).unwrap();
        }
        let ckpt = run.checkpoint("last").unwrap();
        let err = ckpt.load_weights(&mut vs, &ModelConfig::default()).unwrap_err().to_string();
        assert!(err.contains("model.safetensors: does not match its checksum in state.json"), "{err}");
        let err = ckpt.load_optimizer(&mut opt).unwrap_err().to_string();
        assert!(err.contains("optimizer.safetensors: does not match its checksum"), "{err}");
    }

    #[test]
    fn another_model_config_or_extra_tensors_are_refused() {
        let (_d, run, _lock, mut vs, _opt) = saved_run();
        let rope = ModelConfig { positions: Positions::Rope, ..ModelConfig::default() };
        let err = load(&run, &mut vs, &rope).unwrap_err().to_string();
        assert!(err.contains("config.toml: [model] differs from the one"), "{err}");
        assert!(err.contains("positions = \"rope\" in the config, \"learned\" in the checkpoint"), "{err}");
        // A model without the variable `w`: the file holds a tensor it has no place for.
        let mut other = VarStore::new(Device::Cpu);
        let _v = other.root().var("v", &[2, 3], nn::Init::Const(0.0));
        let err = load(&run, &mut other, &ModelConfig::default()).unwrap_err().to_string();
        assert!(err.contains("holds `w`, which the model has no place for"), "{err}");
    }

    #[test]
    fn bad_state_values_are_named() {
        let (_d, run, _lock, _vs, _opt) = saved_run();
        let path = run.path().join("last").join(STATE);
        let good = std::fs::read_to_string(&path).unwrap();
        for (from, to, want) in [
            ("\"step\": 20", "\"step\": -7", "`step` must not be negative, got -7"),
            ("\"step\": 20", "\"step\": 19", "`step` is 19, but the checkpoint folder is not step-000019"),
            ("\"train_loss\": 1.0", "\"train_loss\": -1.0", "`train_loss` must be a finite number"),
            ("\"val_loss\": 2.0", "\"val_loss\": 1e999", "number out of range"),
            (
                "\"step\": 20,",
                "\"step\": 20, \"eval_step\": 21,",
                "`eval_step` must be between 0 and `step` (20), got 21",
            ),
        ] {
            std::fs::write(&path, good.replace(from, to)).unwrap();
            let err = run.checkpoint("last").unwrap_err().to_string();
            assert!(err.contains("state.json") && err.contains(want), "{err}");
        }
    }

    #[test]
    fn links_outside_the_run_are_refused_and_protect_its_checkpoints_from_pruning() {
        let (d, run, _lock, vs, opt) = saved_run();
        let (other, ..) = saved_run_at(d.path().join("other"));
        let last = run.path().join("last");
        std::fs::remove_file(&last).unwrap();
        std::os::unix::fs::symlink(other.path().join("checkpoints/step-000020"), &last).unwrap();
        let err = run.checkpoint("last").unwrap_err().to_string();
        assert!(err.contains("outside this run's checkpoints/"), "{err}");
        // A save leaves `best` alone; pruning is skipped while a link points outside.
        std::fs::remove_file(&last).unwrap();
        std::fs::remove_file(run.path().join("best")).unwrap();
        std::os::unix::fs::symlink("../other/checkpoints/step-000020", run.path().join("best")).unwrap();
        let state = TrainState { step: 30, train_loss: 1.0, val_loss: 2.0, best_val_loss: 2.0, ..Default::default() };
        run.save(&vs, Some(&opt), &state, &ModelConfig::default(), false).unwrap();
        for step in ["step-000010", "step-000020", "step-000030"] {
            assert!(run.path().join("checkpoints").join(step).is_dir(), "{step} was removed");
        }
    }

    #[test]
    fn a_checkpoint_removed_while_it_is_read_is_replaced_by_the_one_the_link_names_now() {
        let (_d, run, _lock, mut vs, opt) = saved_run();
        let opened = run.checkpoint("last").unwrap();
        assert_eq!(opened.state.step, 20);
        // The trainer saves step 30 and removes step 20, which no link names any more.
        let state = TrainState { step: 30, train_loss: 1.0, val_loss: 2.0, best_val_loss: 2.0, ..Default::default() };
        run.save(&vs, Some(&opt), &state, &ModelConfig::default(), false).unwrap();
        assert!(!opened.dir.exists());
        let mut reads = 0;
        let (read, ()) = run
            .read_checkpoint("last", opened, |c| {
                reads += 1;
                c.load_weights(&mut vs, &ModelConfig::default())
            })
            .unwrap();
        assert_eq!((read.state.step, reads), (30, 2));
        // A failure of a checkpoint that the link still names is not tried again.
        let mut reads = 0;
        let err = run
            .read_checkpoint("last", read, |c| {
                reads += 1;
                Err::<(), _>(TrainError::checkpoint(&c.dir, "damaged"))
            })
            .unwrap_err();
        assert_eq!(reads, 1, "{err}");
        // No link: the error says so.
        std::fs::remove_file(run.path().join("last")).unwrap();
        let err = run.checkpoint("last").unwrap_err().to_string();
        assert!(err.contains("no `last` checkpoint: no weights were saved here"), "{err}");
    }

    #[test]
    fn the_tokenizer_is_checked_against_the_checksum_of_each_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("run"));
        std::fs::create_dir_all(run.path()).unwrap();
        std::fs::write(run.tokenizer_path(), "{\"kind\": \"text\"}").unwrap();
        let (run, _lock, ..) = saved_run_at(run.path().to_owned());
        let state = run.path().join("last").join(STATE);
        let json = std::fs::read_to_string(&state).unwrap();
        assert!(json.contains("\"tokenizer_checksum\""), "{json}");
        for which in ["last", "best"] {
            run.checkpoint(which).unwrap().verify_tokenizer().unwrap();
        }
        std::fs::write(run.tokenizer_path(), "{\"kind\":  \"text\"}").unwrap();
        let err = run.checkpoint("last").unwrap().verify_tokenizer().unwrap_err().to_string();
        assert!(
            err.contains("run/tokenizer.json: does not match its checksum in state.json (edited after training?)"),
            "{err}"
        );
        // A checkpoint older than the record is not checked.
        let mut record: serde_json::Value = serde_json::from_str(&json).unwrap();
        record.as_object_mut().unwrap().remove("tokenizer_checksum").unwrap();
        std::fs::write(&state, record.to_string()).unwrap();
        run.checkpoint("last").unwrap().verify_tokenizer().unwrap();
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let (_d, run, lock, ..) = saved_run();
        match run.lock() {
            Err(TrainError::Busy { holder, .. }) => assert_eq!(holder, format!("PID {}", std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(lock);
        run.lock().unwrap();
    }
}
