//! Reading clips: every frame of an animated GIF, or the numbered PNG frames of a folder.

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

/// The lowercase extension of `path`.
fn extension(path: &Path) -> Option<String> {
    path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase)
}

/// The PNG files of the folder of `path`, in frame order: by the number their name ends
/// with (`frame-7.png` before `frame-10.png`), then by name.
pub(crate) fn frame_files(path: &Path) -> Result<Vec<PathBuf>, TokenError> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(folder).map_err(|e| TokenError::io(folder, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && extension(p).as_deref() == Some("png"))
        .collect();
    let number = |p: &PathBuf| {
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let digits = stem.len() - stem.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        stem[stem.len() - digits..].parse::<u64>().ok()
    };
    files.sort_by_cached_key(|p| (number(p), p.clone()));
    Ok(files)
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

/// The frames of the clip that `source` opens, its first `max` at most, each named for
/// errors: an animated GIF's frames, or the PNG frames of the folder of the first of
/// them. A later PNG of a folder opens no clip (its frames are read with the first).
pub(crate) fn read_clip(source: &Source, max: usize) -> Result<Vec<(DynamicImage, String)>, TokenError> {
    let name = source.name();
    match image::guess_format(source.bytes) {
        Ok(ImageFormat::Gif) => read_gif(source.bytes, max, &name),
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

/// The PNG frames of the folder of `source`, when it is the folder's first.
fn read_folder(source: &Source, max: usize) -> Result<Vec<(DynamicImage, String)>, TokenError> {
    let files = frame_files(source.path)?;
    if !first_of(&files, source.path) {
        return Ok(Vec::new());
    }
    let mut frames: Vec<(DynamicImage, String)> = Vec::new();
    for file in files.iter().take(max) {
        let name = file.display().to_string();
        let corrupt = |e: image::ImageError| TokenError::format(&name, format!("corrupt PNG: {e}"));
        let reader = ImageReader::open(file).map_err(|e| TokenError::io(file, e))?.with_guessed_format();
        let reader = reader.map_err(|e| TokenError::io(file, e))?;
        let (width, height) = reader.into_dimensions().map_err(corrupt)?;
        check_frame(width, height, &name)?;
        if let Some((first, first_name)) = frames.first()
            && (first.width(), first.height()) != (width, height)
        {
            return Err(TokenError::format(
                &name,
                format!(
                    "a frame of {width}x{height} pixels, but the clip's first frame {first_name} is {}x{}: \
                     every frame of a folder must have one size",
                    first.width(),
                    first.height()
                ),
            ));
        }
        check_clip(files.len().min(max), width, height, &name)?;
        let image = image::open(file).map_err(corrupt)?;
        frames.push((image, name));
    }
    Ok(frames)
}
