//! Reading clips: every frame of an animated GIF, or the PNG frames of a folder (see the
//! crate docs for their order and sizes).

use autoreg_pixels::narrowed;
use autoreg_tokens::{Source, TokenError};
use image::codecs::gif::GifDecoder;
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Most pixels of one frame: 2^25, as for the pixels tokenizer's input images.
const MAX_FRAME_PIXELS: u64 = 1 << 25;
/// Most pixels of all the frames of one clip kept in memory: 2^28 (1 GiB as RGBA).
const MAX_CLIP_PIXELS: u64 = 1 << 28;

/// Whether `path` opens a clip: a GIF, or the first PNG frame of its folder.
pub(crate) fn opens_clip(path: &Path) -> bool {
    match extension(path).as_deref() {
        Some("gif") => true,
        // A folder that cannot be listed is taken as a clip: encoding it says what is wrong.
        Some("png") => frame_files(path).map(|files| first_of(&files, path)).unwrap_or(true),
        _ => false,
    }
}

/// The name of the clip that `path` opens: a GIF's file name, or the name of the folder
/// of PNG frames.
pub(crate) fn clip_name(path: &Path) -> String {
    let named = if extension(path).as_deref() == Some("png") { folder_of(path) } else { path };
    named.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The lowercase extension of `path`.
fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

/// The PNG files of the folder of `path`, in frame order: by the number their name ends
/// with (`frame-7.png` before `frame-10.png`; of any length), then by name. A folder
/// whose names all lack a number is in name order; one that mixes the two is refused
/// when its clip is read ([`check_names`]).
pub(crate) fn frame_files(path: &Path) -> Result<Vec<PathBuf>, TokenError> {
    let folder = folder_of(path);
    let entries = std::fs::read_dir(folder).map_err(|e| TokenError::io(folder, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && extension(p).as_deref() == Some("png"))
        .collect();
    // Numbers compare by their digits without leading zeros: shorter is smaller.
    files.sort_by_cached_key(|p| {
        let number = frame_number(p).map(|n| n.trim_start_matches('0').to_owned());
        (number.as_ref().map(String::len), number, p.clone())
    });
    Ok(files)
}

/// The folder of `path`.
fn folder_of(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// The digits that the file name of `path` ends with, before its extension.
fn frame_number(path: &Path) -> Option<String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    (digits > 0).then(|| stem[stem.len() - digits..].to_owned())
}

/// Refuses a folder whose frame names mix names that end in a number and names that do
/// not: their order would be a guess. The error names one file of each kind.
fn check_names(files: &[PathBuf], name: &str) -> Result<(), TokenError> {
    let numbered = files.iter().find(|f| frame_number(f).is_some());
    let unnumbered = files.iter().find(|f| frame_number(f).is_none());
    if let (Some(numbered), Some(unnumbered)) = (numbered, unnumbered) {
        let file = |f: &PathBuf| f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Err(TokenError::format(
            name,
            format!(
                "the frames of {} mix names that end in a number ({}) and names that do not ({}), so their order \
                 is unclear: number every frame (they go by number), or none (they go by name)",
                folder_of(files.first().map_or(Path::new("."), PathBuf::as_path)).display(),
                file(numbered),
                file(unnumbered),
            ),
        ));
    }
    Ok(())
}

/// Whether `path` is the first of its folder's `files`, compared by name: `files` are
/// listed from the folder, and `path` may name it otherwise (`./a.png`, `a.png`).
fn first_of(files: &[PathBuf], path: &Path) -> bool {
    files.first().and_then(|f| f.file_name()) == path.file_name()
}

/// Refuses a frame of no pixels or of more than [`MAX_FRAME_PIXELS`].
fn check_frame(width: u32, height: u32, name: &str) -> Result<(), TokenError> {
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_FRAME_PIXELS {
        return Err(TokenError::format(
            name,
            format!("frames are {width}x{height} pixels: a frame holds 1 to {MAX_FRAME_PIXELS} pixels"),
        ));
    }
    Ok(())
}

/// Refuses a clip of `frames` frames of `width` x `height` past [`MAX_CLIP_PIXELS`].
fn check_clip(frames: usize, width: u32, height: u32, name: &str) -> Result<(), TokenError> {
    if frames as u64 * u64::from(width) * u64::from(height) > MAX_CLIP_PIXELS {
        return Err(TokenError::format(
            name,
            format!(
                "{frames} frames of {width}x{height} pixels are more than the {MAX_CLIP_PIXELS} pixels a clip may hold: \
                 lower tokenizer.max_frames"
            ),
        ));
    }
    Ok(())
}

/// The frames of one clip, read: runs of frames that follow each other, and what was
/// left out between them.
pub(crate) struct Clip {
    /// Runs of consecutive frames, each frame named for errors: one run, unless a frame
    /// of a folder was skipped, which cuts the clip there.
    pub runs: Vec<Vec<(DynamicImage, String)>>,
    /// Why each frame left out was, naming it.
    pub skipped: Vec<String>,
}

/// The frames of the clip that `source` opens, its first `max` at most: an animated
/// GIF's frames, or the PNG frames of the folder of the first of them. A later PNG of a
/// folder opens no clip (its frames are read with the first): it gives no run, or an
/// error when it is a frame that its clip skips (another size than the first frame's).
pub(crate) fn read_clip(source: &Source, max: usize) -> Result<Clip, TokenError> {
    let name = source.name();
    match image::guess_format(source.bytes) {
        Ok(ImageFormat::Gif) => Ok(Clip { runs: vec![read_gif(source.bytes, max, &name)?], skipped: Vec::new() }),
        Ok(ImageFormat::Png) => read_folder(source, max),
        _ => Err(TokenError::format(name, "not a GIF or PNG file")),
    }
}
/// The frames of an animated GIF, composed on its canvas as a viewer shows them.
fn read_gif(bytes: &[u8], max: usize, name: &str) -> Result<Vec<(DynamicImage, String)>, TokenError> {
    let corrupt = |e: image::ImageError| TokenError::format(name, format!("corrupt GIF: {e}"));
    let decoder = GifDecoder::new(Cursor::new(bytes)).map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    check_frame(width, height, name)?;
    let mut frames = Vec::new();
    for (i, frame) in decoder.into_frames().take(max).enumerate() {
        check_clip(i + 1, width, height, name)?;
        let image = narrowed(frame.map_err(corrupt)?.into_buffer().into());
        frames.push((image, format!("{name} frame {i}")));
    }
    if frames.is_empty() {
        return Err(TokenError::format(name, "the GIF holds no frame"));
    }
    Ok(frames)
}

/// The size of the PNG `file`, from its header.
fn png_size(file: &Path) -> Result<(u32, u32), TokenError> {
    let name = file.display().to_string();
    let reader = ImageReader::open(file).map_err(|e| TokenError::io(file, e))?.with_guessed_format();
    let reader = reader.map_err(|e| TokenError::io(file, e))?;
    let (width, height) =
        reader.into_dimensions().map_err(|e| TokenError::format(&name, format!("corrupt PNG: {e}")))?;
    check_frame(width, height, &name)?;
    Ok((width, height))
}

/// Why a frame of `(width, height)` pixels is skipped from a clip whose first frame
/// `first` is `size`, if it is.
fn odd_size((width, height): (u32, u32), first: &Path, size: (u32, u32)) -> Option<String> {
    ((width, height) != size).then(|| {
        format!(
            "a frame of {width}x{height} pixels, but the clip's first frame {} is {}x{}: skipped, and the clip is \
             cut there in two (windows of frames need frames that follow each other)",
            first.display(),
            size.0,
            size.1
        )
    })
}

/// The PNG frames of the folder of `source`, when it is the folder's first: every
/// frame takes the first frame's size, and a frame of another size is skipped and cuts
/// the clip. A later frame gives nothing, or the error of its own skipping.
fn read_folder(source: &Source, max: usize) -> Result<Clip, TokenError> {
    let files = frame_files(source.path)?;
    let Some(first) = files.first() else { return Ok(Clip { runs: Vec::new(), skipped: Vec::new() }) };
    if !first_of(&files, source.path) {
        // The first frame reads the clip, and says what is wrong with the folder.
        let at = files.iter().position(|f| f.file_name() == source.path.file_name());
        if check_names(&files, "").is_err() || at.is_none_or(|at| at >= max) {
            return Ok(Clip { runs: Vec::new(), skipped: Vec::new() });
        }
        if let (Ok(size), Ok(own)) = (png_size(first), png_size(source.path))
            && let Some(reason) = odd_size(own, first, size)
        {
            return Err(TokenError::format(source.name(), reason));
        }
        return Ok(Clip { runs: Vec::new(), skipped: Vec::new() });
    }
    check_names(&files, &source.name())?;
    let size = png_size(first)?;
    let kept: Vec<&PathBuf> = files.iter().take(max).collect();
    check_clip(kept.len(), size.0, size.1, &first.display().to_string())?;
    let mut clip = Clip { runs: vec![Vec::new()], skipped: Vec::new() };
    for file in kept {
        let name = file.display().to_string();
        if let Some(reason) = odd_size(png_size(file)?, first, size) {
            clip.skipped.push(format!("{name}: {reason}"));
            clip.runs.push(Vec::new());
            continue;
        }
        let image = image::open(file).map_err(|e| TokenError::format(&name, format!("corrupt PNG: {e}")))?;
        if let Some(run) = clip.runs.last_mut() {
            run.push((image, name));
        }
    }
    clip.runs.retain(|run| !run.is_empty());
    Ok(clip)
}
