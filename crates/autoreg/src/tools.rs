//! The tools that modality crates supply beside their tokenizers: renderers (`autoreg
//! render`: a file of theirs into previews for people) and data sets (`autoreg
//! dataset`). Like [`crate::registry`], this is one of the tables that name modalities;
//! the commands find a tool here by a file's extension or by subcommand and name none.

use anyhow::{Result, bail};
use autoreg_data::Progress;
use autoreg_tokens::{ModalityBuilder, TokenError};
use std::path::{Path, PathBuf};

/// What `autoreg render` does, as its help says.
pub const RENDER_ABOUT: &str = "Draw a MIDI file as a piano roll (PNG) and play it into a WAV preview, in out/";

/// Renders the file at the first path into the folder at the second, which exists,
/// naming the previews after the file; returns the files written.
pub type RenderFn = fn(&Path, &Path) -> Result<Vec<PathBuf>, TokenError>;

/// A renderer: the files it reads, and how.
pub struct Renderer {
    /// Extensions of the files it reads, without the dot: the modality's own.
    pub extensions: Vec<String>,
    /// The function.
    pub render: RenderFn,
}

/// Declares [`renderers`] from one line per modality that renders its files: `Config =>
/// render_fn;`, the config (whose default gives the extensions read) and a [`RenderFn`].
macro_rules! renderers {
    ($($config:ty => $render:path;)+) => {
        /// The renderers, one a modality.
        pub fn renderers() -> Vec<Renderer> {
            vec![$(Renderer { extensions: <$config>::default().extensions(), render: $render },)+]
        }
    };
}

renderers! {
    autoreg_midi::MidiConfig => autoreg_midi::render_previews;
}

/// The renderer for `file`, found by its extension (in any case); the error names the
/// file and the extensions that render.
pub fn renderer_for(file: &Path) -> Result<Renderer> {
    let extension = file.extension().map(|e| e.to_string_lossy().to_lowercase());
    let all = renderers();
    let known: Vec<String> = all.iter().flat_map(|r| r.extensions.iter().map(|e| format!(".{e}"))).collect();
    if let Some(ext) = &extension
        && let Some(renderer) = all.into_iter().find(|r| r.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext)))
    {
        return Ok(renderer);
    }
    let what = match extension {
        Some(ext) => format!("a .{ext} file"),
        None => "a file without an extension".to_owned(),
    };
    bail!("{}: cannot render {what}; the files that render are {}", file.display(), or_list(&known))
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => "none".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Declares `autoreg dataset`'s subcommands from one line per data set, after its doc
/// comment (the subcommand's help): `Variant => "name", Args, write_fn;`, where `Args`
/// derives `clap::Args` and `write_fn(&Args, &dyn Progress)` makes the set, telling the
/// progress of its steps (the command draws them; modality crates draw nothing), and
/// returns what displays as the line that says what it wrote, or an error.
macro_rules! datasets {
    ($($(#[$attr:meta])* $variant:ident => $name:literal, $args:ty, $write:path;)+) => {
        /// `autoreg dataset`: the data sets autoreg can make.
        #[derive(Debug, clap::Subcommand)]
        pub enum DatasetCommand {
            $($(#[$attr])* #[command(name = $name)] $variant($args),)+
        }

        impl DatasetCommand {
            /// Makes the data set, telling `progress` of its steps; returns the line that
            /// says what it wrote.
            pub fn write(&self, progress: &dyn Progress) -> Result<String> {
                match self { $(Self::$variant(args) => Ok($write(args, progress)?.to_string()),)+ }
            }
        }
    };
}

datasets! {
    /// Moving MNIST: MNIST digits bouncing in a square, as animated GIF clips.
    MovingMnist => "moving-mnist", autoreg_video::dataset::MovingMnistArgs, autoreg_video::dataset::write_moving_mnist;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renderers_are_found_by_extension_in_any_case() {
        assert!(renderer_for(Path::new("a/tune.mid")).is_ok());
        assert!(renderer_for(Path::new("tune.MIDI")).is_ok());
        let err = renderer_for(Path::new("notes.txt")).err().unwrap().to_string();
        assert_eq!(err, "notes.txt: cannot render a .txt file; the files that render are .mid or .midi");
        let err = renderer_for(Path::new("README")).err().unwrap().to_string();
        assert!(err.starts_with("README: cannot render a file without an extension; "), "{err}");
        assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");
    }
}
