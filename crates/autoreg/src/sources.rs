//! What a run reads: `[tokenizer]` with `data.path`, or several `[[sources]]`, each
//! with its own path, tokenizer, weight and caption, resolved into one [`Inputs`]. A run
//! of one source is the one-part case of a run of several: [`crate::prepare`] turns
//! either into a tokenizer and its data.

use crate::config::Config;
use crate::registry::TokenizerConfig;
use autoreg_data::{DataConfig, SplitMode, Windows};
use autoreg_tokens::Caption;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// What each document is paired with, written before it in the captions' part.
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
    /// `data.windows` for this source: `"frames"` for a source whose documents are
    /// frames (with `context_frames`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<Windows>,
    /// `data.context_frames` for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_frames: Option<usize>,
}

fn one() -> f64 {
    1.0
}

impl SourceConfig {
    /// `[data]` with this source's path, split and windows.
    fn data(&self, data: &DataConfig) -> DataConfig {
        let windows = self.windows.unwrap_or(data.windows);
        DataConfig {
            path: self.path.clone(),
            split: self.split.unwrap_or(data.split),
            val_fraction: self.val_fraction.unwrap_or(data.val_fraction),
            val_files: self.val_files.clone().or_else(|| data.val_files.clone()),
            windows,
            context_frames: self.context_frames.or(data.context_frames.filter(|_| windows == data.windows)),
            ..data.clone()
        }
    }
}

/// One source of a run, resolved: its data, its tokenizer, its weight and its caption.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// Its name, in tables and errors (the run's name for a run of one source).
    pub name: String,
    /// `[data]` as it applies to this source.
    pub data: DataConfig,
    /// Its tokenizer.
    pub tokenizer: TokenizerConfig,
    /// Its share of training windows.
    pub weight: f64,
    /// What each document is paired with.
    pub caption: Option<Caption>,
}

/// What a run reads.
// One lives per command; boxing the one source would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Inputs {
    /// `[tokenizer]` over `data.path`: documents in the tokenizer's own ids.
    One(Source),
    /// `[[sources]]`: documents of one mixture of their tokenizers, each after its tag.
    Mixed(Vec<Source>),
}

impl Inputs {
    /// The inputs of a config that [`validate`] accepted.
    pub(crate) fn of(config: &Config) -> Self {
        match &config.tokenizer {
            Some(tokenizer) => Self::One(Source {
                name: config.name.clone(),
                data: config.data.clone(),
                tokenizer: tokenizer.clone(),
                weight: 1.0,
                caption: None,
            }),
            None => Self::Mixed(
                config
                    .sources
                    .iter()
                    .map(|s| Source {
                        name: s.name.clone(),
                        data: s.data(&config.data),
                        tokenizer: s.tokenizer.clone(),
                        weight: s.weight,
                        caption: s.caption.clone(),
                    })
                    .collect(),
            ),
        }
    }

    /// The sources, in order.
    pub fn sources(&self) -> &[Source] {
        match self {
            Self::One(source) => std::slice::from_ref(source),
            Self::Mixed(sources) => sources,
        }
    }

    /// The sources read by part `kind` of a mixture, in order; every source of a run of
    /// one.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Source> {
        self.sources().iter().filter(move |s| s.tokenizer.modality.kind() == kind)
    }

    /// Whether every source of `kind` has captions: then a sample of that part starts
    /// with one.
    pub fn always_captioned(&self, kind: &str) -> bool {
        let mut of_kind = self.of_kind(kind).peekable();
        of_kind.peek().is_some() && of_kind.all(|s| s.caption.is_some())
    }
}

/// Checks a config's sources: a run has `[tokenizer]` or `[[sources]]`, not both; names
/// are unique, weights positive, and sources of one kind share one tokenizer and one
/// way of cutting windows. The error names the key.
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
    let mut kinds: Vec<(&str, &SourceConfig, DataConfig)> = Vec::new();
    for (i, source) in config.sources.iter().enumerate() {
        let at = format!("sources[{i}] ({})", source.name);
        if source.name.is_empty() || config.sources[..i].iter().any(|s| s.name == source.name) {
            return Err(format!("{at}: name must be given and be unique"));
        }
        if !(source.weight.is_finite() && source.weight > 0.0) {
            return Err(format!("{at}: weight must be positive, got {}", source.weight));
        }
        let data = source.data(&config.data);
        data.validate().map_err(|e| format!("{at}: {e}"))?;
        let kind = source.tokenizer.modality.kind();
        match kinds.iter().find(|(k, ..)| *k == kind) {
            Some((_, first, _)) if first.tokenizer != source.tokenizer => {
                return Err(format!(
                    "{at}: its [sources.tokenizer] differs from that of source {}, also {kind}: sources of one \
                     kind share one tokenizer",
                    first.name
                ));
            }
            Some((_, first, windows))
                if (windows.windows, windows.context_frames) != (data.windows, data.context_frames) =>
            {
                return Err(format!(
                    "{at}: its windows differ from those of source {}, also {kind}: sources of one kind are cut \
                     into windows alike (windows, context_frames)",
                    first.name
                ));
            }
            Some(_) => {}
            None => kinds.push((kind, source, data)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prepare::{Prepared, files, prepare, reload};
    use crate::registry::SavedTokenizer;
    use autoreg_data::Silent;
    use autoreg_pixels::image::GrayImage;
    use autoreg_tokens::{Captioned, Parts, Stages};

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
        let files = files(&config.inputs(), dir.path()).unwrap();
        assert_eq!(files.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let Prepared { tokenizer, data } = prepare(&config, dir.path(), &Silent).unwrap();
        let mixture = tokenizer.mixture().unwrap();
        // Parts in the order their kinds come; captions in the text part.
        let kinds: Vec<&str> = mixture.parts().iter().map(|p| Stages::pipeline(p).kind()).collect();
        assert_eq!((kinds, mixture.captions()), (vec!["pixels", "text"], Some(1)));
        assert_eq!(
            data.sources.iter().map(|s| (s.name.as_str(), s.weight)).collect::<Vec<_>>(),
            [("images", 2.0), ("words", 1.0)]
        );
        let tok = tokenizer.pipeline();
        let names = |doc: &[u32]| doc.iter().map(|&id| tok.token_name(id).unwrap()).collect::<Vec<_>>().join(" ");
        let images: Vec<String> = [&data.train, &data.val]
            .iter()
            .zip([&data.sources[0].train, &data.sources[0].val])
            .map(|(store, docs)| names(&store.doc(docs.start)))
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
        assert!(names(&data.train.doc(data.sources[1].train.start)).starts_with("<bos> <text> text:'t' text:'h'"));
        let doc = data.train.doc(data.sources[0].train.start);
        assert_eq!(tok.prefix_len(&doc), 8, "a window keeps BOS, the caption and the tag");
        let saved = dir.path().join("tokenizer.json");
        tokenizer.save(&saved).unwrap();
        let back = SavedTokenizer::load(&saved).unwrap();
        assert_eq!(back.to_json().unwrap(), tokenizer.to_json().unwrap());
        assert_eq!(back.pipeline().vocab_size(), tok.vocab_size());
        let parts = back.pipeline().parts().unwrap();
        assert_eq!(parts.segments(&doc), tok.parts().unwrap().segments(&doc));
        // The cache is used the second time.
        assert!(reload(&config, dir.path(), &tokenizer, &Silent).unwrap().from_cache);
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
        let Prepared { data, .. } = prepare(&config, dir.path(), &Silent).unwrap();
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
        let Prepared { tokenizer, data } = prepare(&config, dir.path(), &Silent).unwrap();
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
            .flat_map(|(store, docs)| docs.clone().map(|d| tok.prefix_len(&store.doc(d))))
            .collect();
        prefixes.sort();
        assert_eq!(prefixes, [8, 8], "BOS <text> three/seven <pixels>");
    }
}
