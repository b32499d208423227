//! The TOML configuration of a run: `name` and the sections `[data]`, `[tokenizer]`
//! (or several `[[sources]]`, each with its own), `[model]`, `[train]` and `[sample]`.
//! Every key but `name` and `[tokenizer] kind` has a default, so a config file is a
//! plain list of overrides.

use crate::registry::{ModalityConfig, TokenizerConfig};
use crate::sources::{Inputs, SourceConfig};
use autoreg_data::DataConfig;
use autoreg_model::{ModelConfig, SampleOptions};
use autoreg_train::TrainConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A whole run configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the run: it trains into `<train.runs_dir>/<name>/`.
    pub name: String,
    /// Where the data is.
    #[serde(default)]
    pub data: DataConfig,
    /// The modality and its tokenizer; a run of several sources has none, each
    /// source having its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<TokenizerConfig>,
    /// The sources of a mixed run: each a path, a tokenizer, a weight and a caption.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceConfig>,
    /// The decoder's shape.
    #[serde(default)]
    pub model: ModelConfig,
    /// Optimisation and hardware.
    #[serde(default)]
    pub train: TrainConfig,
    /// Defaults for `autoreg sample`.
    #[serde(default)]
    pub sample: SampleOptions,
}

/// A configuration that cannot be used; the message names the file, the key and,
/// where known, the line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `path` and applies `overrides` (`section.key=value`, or `key=value` for a
    /// top-level key). The value is read as TOML (`4`, `1e-3`, `true`, `"text"`);
    /// anything that is not TOML is taken as a string (`--set train.device=cuda`).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read the config: {e}", path.display())))?;
        let mut table: toml::Table = toml::from_str(&text).map_err(|e| located(path, &text, &e))?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let source = table.get("model").and_then(|m| m.get("init_from")).and_then(|s| s.as_str()).map(PathBuf::from);
        if overrides.is_empty() && source.is_none() {
            // Parsed from text, so that an error in the file shows its line.
            let config: Self = toml::from_str(&text).map_err(|e| located(path, &text, &e))?;
            return config.validated(path);
        }
        if let Some(source) = source {
            start_from(&mut table, &source, path)?;
        }
        let config = Self::deserialize(toml::Value::Table(table)).map_err(|e| match overrides {
            [] => ConfigError(format!("{}: {}", path.display(), e.message())),
            _ => ConfigError(format!("{} with --set {}: {}", path.display(), overrides.join(" --set "), e.message())),
        })?;
        config.validated(path)
    }

    /// Checks values that types alone cannot (ranges, divisibility), and makes a
    /// relative `data.root` relative to the config file's folder.
    fn validated(mut self, path: &Path) -> Result<Self, ConfigError> {
        if let Some(root) = self.data.root.as_mut().filter(|r| r.is_relative()) {
            let folder = path.parent().unwrap_or(Path::new("."));
            *root = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.to_path_buf()).join(&*root);
        }
        let checks = [
            self.model.validate(),
            self.train.validate(),
            self.sample.validate().map_err(|e| e.to_string()),
            crate::sources::validate(&self),
        ];
        for check in checks {
            check.map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        }
        check_name(&self.name).map_err(|e| ConfigError(format!("{}: {e}", path.display())))?;
        Ok(self)
    }

    /// What the run reads: its one source or its several, resolved.
    pub fn inputs(&self) -> Inputs {
        Inputs::of(self)
    }

    /// The `[tokenizer]` of a run of one source.
    pub fn single(&self) -> Result<&TokenizerConfig, ConfigError> {
        self.tokenizer.as_ref().ok_or_else(|| self.no_single())
    }

    /// The `[tokenizer]` of a run of one source, to change.
    pub fn single_mut(&mut self) -> Result<&mut TokenizerConfig, ConfigError> {
        let error = self.no_single();
        self.tokenizer.as_mut().ok_or(error)
    }

    /// What [`Config::single`] says of a run of several sources.
    fn no_single(&self) -> ConfigError {
        ConfigError(format!("{}: a run of [[sources]] has no one [tokenizer]", self.name))
    }

    /// The run directory: `<train.runs_dir>/<name>`.
    pub fn run_dir(&self) -> PathBuf {
        self.train.runs_dir.join(&self.name)
    }

    /// The configuration as TOML, as saved in the run directory.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Checks a run's name: a plain folder name (no slashes, not starting with a dot).
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!("name {name:?} must be a plain folder name (no slashes, not starting with a dot)"));
    }
    Ok(())
}

/// A TOML error as `FILE, line N: message`, on one line. An error inside `[tokenizer]`
/// is pointed at its key's line (see [`tokenizer_error`]).
fn located(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let at = error.span().map_or(0, |span| line_at(text, span.start));
    let (line, message) = tokenizer_error(text, at).unwrap_or_else(|| (at, error.message().to_owned()));
    match line {
        0 => ConfigError(format!("{}: {message}", path.display())),
        n => ConfigError(format!("{}, line {n}: {message}", path.display())),
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The error in the `[tokenizer]` section's options, read on their own, with its line
/// in the file, when the error at line `at` is in that section; `None` when it is not,
/// or when the section reads well on its own.
fn tokenizer_error(text: &str, at: usize) -> Option<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.iter().position(|l| l.trim() == "[tokenizer]")?;
    let end = lines[header + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |i| header + 1 + i);
    if !(header + 1..=end).contains(&at) {
        return None;
    }
    let body = &lines[header + 1..end];
    let kind = toml::from_str::<toml::Table>(&body.join("\n")).ok()?.get("kind")?.as_str()?.to_owned();
    // The kind's line is blanked rather than removed, so that line numbers still match.
    let without_kind: Vec<&str> =
        body.iter().map(|l| if l.trim_start().starts_with("kind") { "" } else { l }).collect();
    let without_kind = without_kind.join("\n");
    let error = ModalityConfig::check_options(&kind, &without_kind)?.err()?;
    let line = error.span().map_or(0, |span| header + 1 + line_at(&without_kind, span.start));
    Some((line, format!("[tokenizer] {}", error.message())))
}

/// Fills the config `table` (read from `path`) of a run that starts from the run
/// directory `source` (`model.init_from`) with that run's `[model]` and `[tokenizer]`:
/// of `[model]`, the config may give `dropout` and `block_size`, and other keys only
/// with the source's values; `[tokenizer]` is the source's. A source that cannot be read
/// is left for the trainer to name, when the config has all it needs (a saved config of
/// such a run, resumed).
fn start_from(table: &mut toml::Table, source: &Path, path: &Path) -> Result<(), ConfigError> {
    let at = || format!("{}: model.init_from = {:?}", path.display(), source.display().to_string());
    let saved_path = source.join("config.toml");
    let text = match std::fs::read_to_string(&saved_path) {
        Ok(text) => text,
        Err(_) if table.contains_key("tokenizer") => return Ok(()),
        Err(e) => {
            return Err(ConfigError(format!(
                "{}: cannot read {}: {e} (name a run directory)",
                at(),
                saved_path.display()
            )));
        }
    };
    let saved: toml::Table = toml::from_str(&text).map_err(|e| located(&saved_path, &text, &e))?;
    if saved.contains_key("sources") || table.contains_key("sources") {
        return Err(ConfigError(format!(
            "{}: starting from a run is for runs of one [tokenizer], not [[sources]]",
            at()
        )));
    }
    let mut model = saved.get("model").and_then(toml::Value::as_table).cloned().unwrap_or_default();
    model.remove("init_from");
    let given = table.get("model").and_then(toml::Value::as_table).cloned().unwrap_or_default();
    for (key, value) in given {
        let keeps = model.get(&key) == Some(&value);
        if !keeps && !matches!(key.as_str(), "init_from" | "dropout" | "block_size") {
            let theirs = model.get(&key).map_or_else(|| "unset".to_owned(), ToString::to_string);
            return Err(ConfigError(format!(
                "{}: model.{key} = {value}, but the run keeps the [model] of {}, where it is {theirs}: leave it out \
                 (only model.dropout and model.block_size may change)",
                at(),
                source.display()
            )));
        }
        model.insert(key, value);
    }
    table.insert("model".into(), toml::Value::Table(model));
    match (table.get("tokenizer"), saved.get("tokenizer")) {
        (None, Some(theirs)) => {
            table.insert("tokenizer".into(), theirs.clone());
        }
        (Some(mine), theirs) if Some(mine) != theirs => {
            return Err(ConfigError(format!(
                "{}: the run tokenizes with the tokenizer of {}: leave [tokenizer] out",
                at(),
                source.display()
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Sets `key=value` in `table`, creating the section if needed.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| ConfigError(format!("--set {item}: {why}"));
    let (key, raw) = item.split_once('=').ok_or_else(|| bad("expected section.key=value"))?;
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v")) {
        Some(value) => value,
        // A whole number TOML cannot hold would otherwise become a string, refused later
        // as the wrong type.
        None if raw.trim().trim_start_matches(['-', '+']).chars().all(|c| c.is_ascii_digit() || c == '_')
            && raw.trim().chars().any(|c| c.is_ascii_digit()) =>
        {
            return Err(bad(&format!("{} is out of range: TOML integers are at most {}", raw.trim(), i64::MAX)));
        }
        None => toml::Value::String(raw.to_owned()),
    };
    let mut parts: Vec<&str> = key.trim().split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).ok_or_else(|| bad("empty key"))?;
    let mut current = table;
    for section in parts {
        let entry = current.entry(section).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| bad(&format!("`{section}` is not a section")))?;
    }
    current.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    const MINIMAL: &str = "name = \"t\"\n[tokenizer]\nkind = \"text\"\n";

    #[test]
    fn defaults_fill_everything_but_name_and_kind() {
        let (_d, path) = write(MINIMAL);
        let c = Config::load(&path, &[]).unwrap();
        assert_eq!(c.model, ModelConfig::default());
        assert!(c.sources.is_empty());
        assert_eq!(c.run_dir(), PathBuf::from("runs/t"));
    }

    #[test]
    fn unknown_key_names_file_key_line_and_expected_keys() {
        let (_d, path) = write(&format!("{MINIMAL}[model]\nn_layer = 2\nn_layr = 4\n"));
        let err = Config::load(&path, &[]).unwrap_err().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("line 6") && err.contains("unknown field `n_layr`") && err.contains("n_layer"), "{err}");
    }

    #[test]
    fn a_tokenizer_option_error_names_the_key_line() {
        let (_d, path) = write("name = \"t\"\n[tokenizer]\nkind = \"midi\"\nscheme = \"remi\"\nbogus = 3\n[model]\n");
        let err = Config::load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("line 5: [tokenizer] unknown field `bogus`"), "{err}");
        let (_d, path) = write("name = \"t\"\n[tokenizer]\nkind = \"text\"\n\nlevel = 3\n");
        let err = Config::load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("line 5: [tokenizer] "), "{err}");
    }

    #[test]
    fn wrong_type_names_the_line_and_what_was_expected() {
        let (_d, path) = write(&format!("{MINIMAL}[train]\nmax_steps = \"many\"\n"));
        let err = Config::load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("line 5") && err.contains("invalid type: string \"many\", expected i64"), "{err}");
    }

    #[test]
    fn overrides_set_any_key_and_are_checked() {
        let (_d, path) = write(MINIMAL);
        let c = Config::load(
            &path,
            &["model.n_layer=2".into(), "train.device=cpu".into(), "train.lr=3e-4".into(), "name=other".into()],
        )
        .unwrap();
        assert_eq!((c.model.n_layer, c.train.lr, c.name.as_str()), (2, 3e-4, "other"));
        assert_eq!(c.train.device, autoreg_model::DeviceChoice::Cpu);
        let err = Config::load(&path, &["model.n_layr=2".into()]).unwrap_err().to_string();
        assert!(err.contains("--set model.n_layr=2") && err.contains("unknown field `n_layr`"), "{err}");
        let err = Config::load(&path, &["model".into()]).unwrap_err().to_string();
        assert!(err.contains("expected section.key=value"), "{err}");
        // A number too large for TOML is named as such, not refused as a string.
        let err = Config::load(&path, &["train.seed=18446744073709551615".into()]).unwrap_err().to_string();
        assert_eq!(
            err,
            "--set train.seed=18446744073709551615: 18446744073709551615 is out of range: TOML integers are at most 9223372036854775807"
        );
    }

    #[test]
    fn invalid_values_are_named() {
        let (_d, path) = write(&format!("{MINIMAL}[model]\nn_embd = 100\nn_head = 3\n"));
        let err = Config::load(&path, &[]).unwrap_err().to_string();
        assert!(err.contains("model.n_embd (100) must be a multiple of model.n_head (3)"), "{err}");
        let (_d, path) = write("name = \"../x\"\n[tokenizer]\nkind = \"text\"\n");
        assert!(Config::load(&path, &[]).unwrap_err().to_string().contains("plain folder name"));
    }

    #[test]
    fn saved_form_loads_back_the_same() {
        let (_d, path) = write(&format!("{MINIMAL}[data]\npath = \"x.txt\"\n[sample]\ntop_k = 5\n"));
        let c = Config::load(&path, &[]).unwrap();
        let (_d2, again) = write(&c.to_toml());
        assert_eq!(Config::load(&again, &[]).unwrap(), c);
    }
}
