//! Runs of several sources (`[[sources]]`): one model over files of several
//! modalities, each source with its own path, tokenizer, weight and caption. Their
//! tokenizers become the parts of one mixture (one part per kind), and each source's
//! files are read as documents of the mixture, after their caption.

use crate::config::Config;
use crate::registry::{Mixed, SavedModality, SavedTokenizer, TokenizerConfig};
use anyhow::{Context, Result, anyhow, bail};
use autoreg_text::{Level, TextConfig};
use autoreg_tokens::{Caption, Captioned, Identity, Modality, ModalityBuilder, Pipeline};
use autoreg_train::{DataConfig, Dataset, SplitMode, Windows, list_files, load_dataset, resolve_data_path};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The kind of the part that captions are written in.
const CAPTIONS_KIND: &str = "text";

/// One `[[sources]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The source's name, in tables and errors.
    pub name: String,
    /// A file or a folder (searched recursively), relative to the data root.
    pub path: PathBuf,
    /// Its share of training windows, relative to the other sources' (default 1).
    #[serde(default = "one")]
    pub weight: f64,
    /// Its tokenizer. Sources of one kind share one, so theirs must be the same.
    pub tokenizer: TokenizerConfig,
    /// What each document is paired with, written before it in the text part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<Caption>,
    /// `data.split` for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitMode>,
    /// `data.val_fraction` for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_fraction: Option<f64>,
    /// `data.val_files` for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_files: Option<String>,
}

fn one() -> f64 {
    1.0
}

impl SourceConfig {
    /// `[data]` with this source's path and split.
    fn data(&self, data: &DataConfig) -> DataConfig {
        DataConfig {
            path: self.path.clone(),
            split: self.split.unwrap_or(data.split),
            val_fraction: self.val_fraction.unwrap_or(data.val_fraction),
            val_files: self.val_files.clone().or_else(|| data.val_files.clone()),
            ..data.clone()
        }
    }

    /// The kind of its tokenizer.
    fn kind(&self) -> &'static str {
        self.tokenizer.modality.kind()
    }
}

/// Checks a config's sources: a run has `[tokenizer]` or `[[sources]]`, not both; names
/// are unique, weights positive, sources of one kind share one tokenizer, and nothing
/// asks for what a mixture cannot do yet. The error names the key.
pub fn validate(config: &Config) -> Result<(), String> {
    match (&config.tokenizer, config.sources.is_empty()) {
        (None, true) => return Err("give a [tokenizer], or [[sources]] each with its own".into()),
        (Some(_), false) => return Err("give either a [tokenizer] or [[sources]], not both".into()),
        (Some(_), true) => return Ok(()),
        (None, false) => {}
    }
    if !config.data.path.as_os_str().is_empty() {
        return Err("data.path: a run of [[sources]] reads each source's own path".into());
    }
    if config.data.windows == Windows::Frames {
        return Err("data.windows = \"frames\" is for one video source, not [[sources]]".into());
    }
    let mut kinds: Vec<(&str, &SourceConfig)> = Vec::new();
    for (i, source) in config.sources.iter().enumerate() {
        let at = format!("sources[{i}] ({})", source.name);
        if source.name.is_empty() || config.sources[..i].iter().any(|s| s.name == source.name) {
            return Err(format!("{at}: name must be given and be unique"));
        }
        if !(source.weight.is_finite() && source.weight > 0.0) {
            return Err(format!("{at}: weight must be positive, got {}", source.weight));
        }
        if source.tokenizer.bpe.is_some() {
            return Err(format!(
                "{at}: [sources.tokenizer.bpe]: subword merges inside a mixture are not supported yet"
            ));
        }
        source.data(&config.data).validate().map_err(|e| format!("{at}: {e}"))?;
        let kind = source.kind();
        if kind == "video" {
            return Err(format!("{at}: video sources need frame windows, which a mixture has not"));
        }
        match kinds.iter().find(|(k, _)| *k == kind) {
            Some((_, first)) if first.tokenizer != source.tokenizer => {
                return Err(format!(
                    "{at}: its [sources.tokenizer] differs from that of source {}, also {kind}: sources of one \
                     kind share one tokenizer",
                    first.name
                ));
            }
            Some(_) => {}
            None => kinds.push((kind, source)),
        }
    }
    Ok(())
}

/// Each source's files, found from `base` (the config's folder) under the data roots.
pub fn files(config: &Config, base: &Path) -> Result<Vec<Vec<PathBuf>>> {
    config
        .sources
        .iter()
        .map(|s| {
            let path = resolve_data_path(&s.data(&config.data), base).with_context(|| format!("source {}", s.name))?;
            list_files(&path, &s.tokenizer.extensions()).with_context(|| format!("source {}", s.name))
        })
        .collect()
}

/// The mixture of the sources' tokenizers, one part per kind in the order the kinds
/// first come, each fitted on the files of all its sources. Captions are written in the
/// text part; when a source has captions and none is text, a byte-level text part is
/// added for them.
pub fn build(config: &Config, files: &[Vec<PathBuf>]) -> Result<SavedTokenizer> {
    let mut kinds: Vec<(&str, &TokenizerConfig, Vec<PathBuf>)> = Vec::new();
    for (source, files) in config.sources.iter().zip(files) {
        let kind = source.kind();
        match kinds.iter_mut().find(|(k, ..)| *k == kind) {
            Some((.., all)) => all.extend(files.iter().cloned()),
            None => kinds.push((kind, &source.tokenizer, files.clone())),
        }
    }
    let mut parts = Vec::with_capacity(kinds.len() + 1);
    for (kind, tokenizer, files) in &kinds {
        let base = tokenizer.modality.build(files).with_context(|| format!("the {kind} part of the mixture"))?;
        parts.push((SavedTokenizer::new(base, None).map_err(|e| anyhow!(e))?, tokenizer.extensions()));
    }
    let captioned = config.sources.iter().any(|s| s.caption.is_some());
    let mut captions = kinds.iter().position(|(k, ..)| *k == CAPTIONS_KIND);
    if captioned && captions.is_none() {
        let text = TextConfig { level: Level::Byte };
        let base = SavedModality::Text(text.build(&[])?);
        parts.push((SavedTokenizer::new(base, None).map_err(|e| anyhow!(e))?, text.extensions()));
        captions = Some(parts.len() - 1);
    }
    let mixed = Mixed::new(parts, captions.filter(|_| captioned)).map_err(|e| anyhow!(e))?;
    SavedTokenizer::new(SavedModality::Mixed(mixed), None).map_err(|e| anyhow!(e))
}

/// The sources' data in the ids of `tokenizer`, the mixture [`build`] made: each
/// source tokenized (or read from the cache) and split on its own, then put together
/// with its weight.
pub fn load(config: &Config, files: &[Vec<PathBuf>], tokenizer: &SavedTokenizer) -> Result<Dataset> {
    let mixture = tokenizer.mixture().context("the run's tokenizer.json is not a mixture of its [[sources]]")?;
    let json = tokenizer.to_json().context("cannot write the tokenizer as JSON")?;
    let max_caption = Captioned::limit(usize::try_from(config.model.block_size).unwrap_or(0));
    let mut data = Vec::with_capacity(config.sources.len());
    for (source, files) in config.sources.iter().zip(files) {
        let kind = source.kind();
        let part = mixture.part_named(kind).with_context(|| format!("the run's mixture has no {kind} part"))?;
        let reader = Captioned::new(mixture, part, source.caption.as_ref(), max_caption)
            .map_err(|e| anyhow!("source {}: {e}", source.name))?;
        let pipeline = Pipeline { base: &reader, ids: &Identity { vocab_size: reader.vocab_size() } };
        // The cache is keyed by the whole mixture and the source's caption, and by the
        // longest caption taken, which the model's context sets.
        let key = format!("{json}\n{}\nmax_caption {max_caption}", serde_json::to_string(&source.caption)?);
        let loaded = load_dataset(&source.data(&config.data), files, pipeline, &key, config.train.seed)
            .with_context(|| format!("source {}", source.name))?;
        data.push((source.name.clone(), source.weight, loaded));
    }
    Ok(Dataset::mix(data)?)
}

/// Whether `kind`'s part is read only by sources with captions: then a sample of it
/// starts with a caption.
pub fn always_captioned(config: &Config, kind: &str) -> bool {
    let mut of_kind = config.sources.iter().filter(|s| s.kind() == kind).peekable();
    of_kind.peek().is_some() && of_kind.all(|s| s.caption.is_some())
}

/// Fails unless `config` is a run of several sources.
pub fn require(config: &Config, flag: &str) -> Result<()> {
    if config.sources.is_empty() {
        bail!("{flag}: this run has one source; --modality and --text are for runs of [[sources]]");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoreg_pixels::image::GrayImage;
    use autoreg_tokens::{Parts, Stages};

    /// A folder with a text file and two 2x2 images, `3_a.png` and `7_b.png`, and a
    /// config of them: the images captioned by the word of their name's digit.
    fn fixture(extra: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("img")).unwrap();
        std::fs::write(dir.path().join("words.txt"), "three seven, and more words").unwrap();
        for (name, v) in [("3_a.png", 0u8), ("7_b.png", 255)] {
            GrayImage::from_pixel(2, 2, [v].into()).save(dir.path().join("img").join(name)).unwrap();
        }
        let text = format!(
            "name = \"m\"\n[data]\nroot = \"{}\"\nwindows = \"documents\"\n\
             [[sources]]\nname = \"images\"\npath = \"img\"\nsplit = \"files\"\nval_fraction = 0.5\nweight = 2\n\
             caption = {{ from = \"name\", pattern = \"{{label}}_{{_}}.png\", words = {{ \"3\" = \"three\", \"7\" = \"seven\" }} }}\n\
             [sources.tokenizer]\nkind = \"pixels\"\ncolors = \"grey\"\nlevels = 2\n\
             [[sources]]\nname = \"words\"\npath = \"words.txt\"\nsplit = \"tail\"\n[sources.tokenizer]\nkind = \"text\"\nlevel = \"char\"\n{extra}",
            dir.path().display()
        );
        let path = dir.path().join("m.toml");
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
        (dir, config)
    }

    #[test]
    fn a_mixture_of_sources_writes_captions_and_round_trips_through_tokenizer_json() {
        let (dir, mut config) = fixture("");
        config.data.cache_dir = Some(dir.path().join("cache"));
        let files = files(&config, dir.path()).unwrap();
        assert_eq!(files.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let tokenizer = build(&config, &files).unwrap();
        let mixture = tokenizer.mixture().unwrap();
        // Parts in the order their kinds come; captions in the text part.
        let kinds: Vec<&str> = mixture.parts().iter().map(|p| Stages::pipeline(p).kind()).collect();
        assert_eq!((kinds, mixture.captions()), (vec!["pixels", "text"], Some(1)));
        let data = load(&config, &files, &tokenizer).unwrap();
        assert_eq!(
            data.sources.iter().map(|s| (s.name.as_str(), s.weight)).collect::<Vec<_>>(),
            [("images", 2.0), ("words", 1.0)]
        );
        let tok = tokenizer.pipeline();
        let names = |doc: &[u32]| doc.iter().map(|&id| tok.token_name(id).unwrap()).collect::<Vec<_>>().join(" ");
        let images: Vec<String> = [&data.train, &data.val]
            .iter()
            .zip([&data.sources[0].train, &data.sources[0].val])
            .map(|(store, docs)| names(store.doc(docs.start)))
            .collect();
        let mut images = images;
        images.sort();
        assert_eq!(
            images,
            [
                "<bos> <text> text:'s' text:'e' text:'v' text:'e' text:'n' <pixels> pixels:Grey_1 pixels:Grey_1 pixels:Grey_1 pixels:Grey_1 <eos>",
                "<bos> <text> text:'t' text:'h' text:'r' text:'e' text:'e' <pixels> pixels:Grey_0 pixels:Grey_0 pixels:Grey_0 pixels:Grey_0 <eos>",
            ]
        );
        assert!(names(data.train.doc(data.sources[1].train.start)).starts_with("<bos> <text> text:'t' text:'h'"));
        let doc = data.train.doc(data.sources[0].train.start);
        assert_eq!(tok.prefix_len(doc), 8, "a window keeps BOS, the caption and the tag");
        let saved = dir.path().join("tokenizer.json");
        tokenizer.save(&saved).unwrap();
        let back = SavedTokenizer::load(&saved).unwrap();
        assert_eq!(back.to_json().unwrap(), tokenizer.to_json().unwrap());
        assert_eq!(back.pipeline().vocab_size(), tok.vocab_size());
        let parts = back.pipeline().parts().unwrap();
        assert_eq!(parts.segments(doc), tok.parts().unwrap().segments(doc));
        // The cache is used the second time.
        assert!(load(&config, &files, &tokenizer).unwrap().from_cache);
    }

    #[test]
    fn bad_sources_are_named() {
        let (dir, _) = fixture("");
        let path = dir.path().join("m.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let error = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::load(&path, &[]).unwrap_err().to_string()
        };
        assert!(
            error(&text.replace("weight = 2", "weight = -1")).contains("sources[0] (images): weight must be positive")
        );
        assert!(
            error(&text.replace("name = \"words\"", "name = \"images\"")).contains("name must be given and be unique")
        );
        let both = format!("{text}\n[tokenizer]\nkind = \"text\"\n");
        assert!(error(&both).contains("either a [tokenizer] or [[sources]]"));
        let twice = format!(
            "{text}\n[[sources]]\nname = \"more\"\npath = \"words.txt\"\n[sources.tokenizer]\nkind = \"text\"\nlevel = \"byte\"\n"
        );
        let err = error(&twice);
        assert!(err.contains("sources[2] (more)") && err.contains("sources of one kind share one tokenizer"), "{err}");
        let err = error(&text.replace("from = \"name\"", "from = \"smell\""));
        assert!(err.contains("smell") && err.contains("class"), "{err}");
    }

    #[test]
    fn a_caption_the_text_part_cannot_write_skips_its_file_with_the_reason() {
        let (dir, mut config) = fixture("");
        config.data.cache_dir = Some(dir.path().join("cache"));
        std::fs::rename(dir.path().join("img/7_b.png"), dir.path().join("img/9_b.png")).unwrap();
        std::fs::copy(dir.path().join("img/3_a.png"), dir.path().join("img/3_c.png")).unwrap();
        let files = files(&config, dir.path()).unwrap();
        let tokenizer = build(&config, &files).unwrap();
        let data = load(&config, &files, &tokenizer).unwrap();
        assert_eq!(data.skipped.len(), 1, "{:?}", data.skipped);
        assert!(data.skipped[0].contains("9_b.png: label \"9\" has no entry in caption.words"), "{:?}", data.skipped);
    }

    #[test]
    fn a_caption_longer_than_the_limit_skips_its_file_naming_the_sidecar_and_its_length() {
        let (dir, _) = fixture("");
        let path = dir.path().join("m.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "caption = { from = \"name\", pattern = \"{label}_{_}.png\", words = { \"3\" = \"three\", \"7\" = \"seven\" } }",
            "caption = { from = \"sidecar\" }",
        );
        assert!(text.contains("from = \"sidecar\""), "{text}");
        std::fs::write(&path, text).unwrap();
        let mut config = Config::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
        config.data.cache_dir = Some(dir.path().join("cache"));
        config.model.block_size = 80;
        let img = dir.path().join("img");
        for name in ["5_c", "9_d"] {
            std::fs::copy(img.join("3_a.png"), img.join(format!("{name}.png"))).unwrap();
        }
        std::fs::write(img.join("3_a.txt"), "three\n").unwrap();
        std::fs::write(img.join("7_b.txt"), "seven").unwrap();
        // 9.6 MB, refused unread; and 41 characters, past half the context of 80.
        std::fs::write(img.join("5_c.txt"), "three seven ".repeat(800_000)).unwrap();
        std::fs::write(img.join("9_d.txt"), "three seven ".repeat(4).trim_end().to_owned() + " three").unwrap();
        assert_eq!(Captioned::limit(80), 40);
        let files = files(&config, dir.path()).unwrap();
        let tokenizer = build(&config, &files).unwrap();
        let data = load(&config, &files, &tokenizer).unwrap();
        let mut skipped = data.skipped.clone();
        skipped.sort();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        let sidecar = img.join("5_c.txt");
        assert!(
            skipped[0].contains(&format!("5_c.png: its caption file {} is 9600000 bytes", sidecar.display()))
                && skipped[0].contains("a caption takes at most 40 ids here"),
            "{skipped:?}"
        );
        assert!(
            skipped[1].contains(&format!(
                "9_d.png: its caption from {} is 53 ids long (\"three seven three seven three seven thre\"...): a \
                 caption takes at most 40 ids here",
                img.join("9_d.txt").display()
            )),
            "{skipped:?}"
        );
        // The others are read after their caption, trimmed.
        let tok = tokenizer.pipeline();
        let mut prefixes: Vec<usize> = [&data.train, &data.val]
            .iter()
            .zip([&data.sources[0].train, &data.sources[0].val])
            .flat_map(|(store, docs)| docs.clone().map(|d| tok.prefix_len(store.doc(d))))
            .collect();
        prefixes.sort();
        assert_eq!(prefixes, [8, 8], "BOS <text> three/seven <pixels>");
    }
}
