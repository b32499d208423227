//! Clips in and out: GIFs and frame folders encode to the same frames, decoded GIFs
//! come back as they were, prompts keep whole frames, and bad input is named.

use autoreg_pixels::image::{self, AnimationDecoder, DynamicImage, GrayImage, Luma};
use autoreg_tokens::{Modality, ModalityBuilder, Source};
use autoreg_video::{VideoConfig, VideoTokenizer, encode_gif};
use std::path::{Path, PathBuf};

/// Grey value of level `l` of 4, as the tokenizer decodes it.
fn grey(l: u32) -> u8 {
    (l * 85) as u8
}

/// Frame `f` of a clip: a bright 2x2 square moving one pixel right per frame on a
/// background of level 1, 8x6 pixels.
fn frame(f: u32) -> DynamicImage {
    GrayImage::from_fn(8, 6, |x, y| Luma([grey(if (f..f + 2).contains(&x) && (2..4).contains(&y) { 3 } else { 1 })]))
        .into()
}

fn clip(frames: u32) -> Vec<DynamicImage> {
    (0..frames).map(frame).collect()
}

/// A tokenizer of 8x6 frames in 4 levels fitted on `files`, resizing `resize`.
fn tokenizer(files: &[PathBuf], resize: bool) -> VideoTokenizer {
    let config: VideoConfig = serde_json::from_value(serde_json::json!({
        "frame": {"width": 8, "height": 6, "levels": 4, "resize": resize, "scale": 2},
        "max_frames": 50,
    }))
    .unwrap();
    config.build(files).unwrap()
}

fn write_gif(path: &Path, frames: &[DynamicImage]) {
    std::fs::write(path, encode_gif(frames, 100).unwrap()).unwrap();
}

fn encode(tok: &VideoTokenizer, path: &Path) -> Result<Vec<Vec<u32>>, String> {
    let bytes = std::fs::read(path).unwrap();
    tok.encode(&Source::new(path, &bytes)).map_err(|e| e.to_string())
}

/// The frames of a GIF, as 8-bit grey.
fn gif_frames(bytes: &[u8]) -> Vec<GrayImage> {
    let decoder = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(bytes)).unwrap();
    decoder.into_frames().map(|f| DynamicImage::ImageRgba8(f.unwrap().into_buffer()).to_luma8()).collect()
}

#[test]
fn gifs_and_frame_folders_encode_alike_and_decode_back() {
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("clip.gif");
    write_gif(&gif, &clip(5));
    // The same frames as numbered PNGs, named so that a name sort would misorder them.
    let folder = dir.path().join("frames");
    std::fs::create_dir(&folder).unwrap();
    for (f, image) in clip(5).iter().enumerate() {
        image.save(folder.join(format!("f{}.png", [8, 9, 10, 11, 12][f]))).unwrap();
    }
    let first = folder.join("f8.png");
    let tok = tokenizer(&[gif.clone(), first.clone()], false);
    let docs = encode(&tok, &gif).unwrap();
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    let (frame_id, bos, eos) = (tok.frame_id(), tok.specials().bos, tok.specials().eos);
    assert_eq!(doc.len(), 2 + 5 * 49, "BOS, five frames of the frame token and 48 pixels, EOS");
    assert_eq!((doc[0], doc[1], doc[doc.len() - 1]), (bos, frame_id, eos));
    assert_eq!(doc.iter().filter(|&&t| t == frame_id).count(), 5);
    assert_eq!(encode(&tok, &first).unwrap(), docs, "a folder of frames is the same clip");
    assert_eq!(encode(&tok, &folder.join("f10.png")).unwrap(), Vec::<Vec<u32>>::new(), "later frames give none");
    assert_eq!(tok.extras().inputs.unwrap().companion_inputs(&first).len(), 4);

    // Decoded: a GIF of five frames, enlarged twice, whose pixels are the levels.
    let decoded = tok.decode(doc).unwrap();
    assert_eq!((decoded.extension.as_str(), decoded.repairs), ("gif", 0));
    let frames = gif_frames(&decoded.bytes);
    assert_eq!(frames.len(), 5);
    for (f, out) in frames.iter().enumerate() {
        assert_eq!(out.dimensions(), (16, 12));
        let want = frame(f as u32).to_luma8();
        assert!(out.enumerate_pixels().all(|(x, y, p)| p == want.get_pixel(x / 2, y / 2)), "frame {f}");
    }
    // ...which is a prompt that comes back unchanged, cut to whole frames.
    let again = dir.path().join("again.gif");
    std::fs::write(&again, &decoded.bytes).unwrap();
    let bytes = std::fs::read(&again).unwrap();
    let prompts = tok.extras().prompts.unwrap();
    assert_eq!(prompts.unit(), "frames");
    let prompt = prompts.prompt(&Source::new(&again, &bytes), Some(3.0)).unwrap();
    assert_eq!(prompt, doc[..1 + 3 * 49]);
    let err = prompts.prompt(&Source::new(&again, &bytes), Some(6.0)).unwrap_err().to_string();
    assert!(err.contains("again.gif") && err.contains("cannot keep 6 frames of a clip of 5 frames"), "{err}");

    // The contact sheet: five frames side by side with 1-pixel gaps.
    let companions = tok.extras().companions.unwrap().write_companions(doc, &dir.path().join("s.gif")).unwrap();
    assert_eq!(companions, [dir.path().join("s.png")]);
    assert_eq!(image::image_dimensions(&companions[0]).unwrap(), (5 * 17 - 1, 12));
    // The tokenizer round-trips through JSON.
    let json = serde_json::to_string(&tok).unwrap();
    assert_eq!(serde_json::from_str::<VideoTokenizer>(&json).unwrap(), tok);
}

#[test]
fn frames_that_break_the_layout_are_repaired_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("clip.gif");
    write_gif(&gif, &clip(2));
    let tok = tokenizer(&[gif], false);
    let f = tok.frame_id();
    // Pixels before any frame token start a frame; a short frame is filled; an empty
    // last frame is dropped; decoding stops at EOS.
    let ids = [tok.specials().bos, 3, 3, f, 1, 1, 1, f, tok.specials().eos, f, 2];
    let (frames, repairs) = tok.frames_of(&ids);
    assert_eq!(frames, [vec![3, 3], vec![1, 1, 1]]);
    assert_eq!(repairs, 2);
    assert_eq!(tok.decode(&ids).unwrap().repairs, 2);
    assert_eq!(gif_frames(&tok.decode(&ids).unwrap().bytes).len(), 2);
}

#[test]
fn bad_clips_are_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.gif");
    write_gif(&good, &clip(3));
    let tok = tokenizer(std::slice::from_ref(&good), false);

    // Another size with resizing off.
    let wrong = dir.path().join("wrong.gif");
    write_gif(&wrong, &[GrayImage::new(10, 10).into(), GrayImage::new(10, 10).into()]);
    let err = encode(&tok, &wrong).unwrap_err();
    assert!(err.contains("wrong.gif frame 0") && err.contains("10x10, not 8x6, and resize is off"), "{err}");
    // ...which resizing brings to size.
    let resizing = tokenizer(std::slice::from_ref(&good), true);
    assert_eq!(encode(&resizing, &wrong).unwrap()[0].len(), 2 + 2 * 49);

    // Corrupt and cut GIFs.
    let corrupt = dir.path().join("corrupt.gif");
    std::fs::write(&corrupt, b"GIF89a\x08\x00\x06\x00garbage").unwrap();
    let err = encode(&tok, &corrupt).unwrap_err();
    assert!(err.contains("corrupt.gif") && err.contains("corrupt GIF"), "{err}");
    let cut = dir.path().join("cut.gif");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = encode(&tok, &cut).unwrap_err();
    assert!(err.contains("cut.gif") && err.contains("corrupt GIF"), "{err}");
    let text = dir.path().join("notes.gif");
    std::fs::write(&text, "not a picture").unwrap();
    assert!(encode(&tok, &text).unwrap_err().contains("not a GIF or PNG file"));

    // A frame folder of mixed sizes, even with resizing on: the frame of another size
    // is refused, naming it, and its clip goes on without it.
    let folder = dir.path().join("mixed");
    std::fs::create_dir(&folder).unwrap();
    frame(0).save(folder.join("0.png")).unwrap();
    GrayImage::new(9, 6).save(folder.join("1.png")).unwrap();
    let err = encode(&resizing, &folder.join("1.png")).unwrap_err();
    assert!(err.contains("1.png") && err.contains("9x6") && err.contains("0.png is 8x6"), "{err}");
    assert_eq!(encode(&resizing, &folder.join("0.png")).unwrap().iter().map(Vec::len).collect::<Vec<_>>(), [2 + 49]);

    // Settings that cannot work name their key.
    let conditional: VideoConfig = serde_json::from_str(r#"{"frame": {"conditional": true}}"#).unwrap();
    let err = conditional.build(std::slice::from_ref(&good)).unwrap_err().to_string();
    assert!(err.contains("tokenizer.frame.conditional"), "{err}");
}

#[test]
fn a_long_clip_keeps_its_first_frames() {
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("long.gif");
    write_gif(&gif, &clip(7));
    let config: VideoConfig =
        serde_json::from_str(r#"{"frame": {"width": 8, "height": 6, "levels": 4}, "max_frames": 4}"#).unwrap();
    let tok = config.build(std::slice::from_ref(&gif)).unwrap();
    assert_eq!(encode(&tok, &gif).unwrap()[0].len(), 2 + 4 * 49);
}

/// Writes frames `f` of `frames` as `names[f]` in a new folder `name` under `dir`.
fn folder(dir: &Path, name: &str, names: &[&str], frames: &[DynamicImage]) -> PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir(&folder).unwrap();
    for (name, image) in names.iter().zip(frames) {
        image.save(folder.join(name)).unwrap();
    }
    folder
}

#[test]
fn a_frame_of_another_size_is_skipped_naming_it_and_cuts_the_clip() {
    autoreg_tokens::testing::keep_logs();
    let dir = tempfile::tempdir().unwrap();
    let mut frames = clip(6);
    frames[2] = GrayImage::new(9, 7).into();
    let names = ["f0.png", "f1.png", "f2.png", "f3.png", "f4.png", "f5.png"];
    let folder = folder(dir.path(), "odd", &names, &frames);
    let tok = tokenizer(&[folder.join("f0.png")], false);
    // The clip's first frame reads it: the frames before the odd one and those after,
    // two documents of frames that follow each other.
    let docs = encode(&tok, &folder.join("f0.png")).unwrap();
    assert_eq!(docs.iter().map(Vec::len).collect::<Vec<_>>(), [2 + 2 * 49, 2 + 3 * 49]);
    let gif = dir.path().join("same.gif");
    write_gif(&gif, &[&frames[..2], &frames[3..]].concat());
    let whole = &encode(&tok, &gif).unwrap()[0];
    assert_eq!(docs[0][..docs[0].len() - 1], whole[..1 + 2 * 49], "frames 0 and 1");
    assert_eq!(docs[1][1..], whole[1 + 2 * 49..], "frames 3 to 5");
    // The odd frame's own file is refused, naming it and what is wrong; the others
    // give no document of their own.
    let err = encode(&tok, &folder.join("f2.png")).unwrap_err();
    assert!(err.contains("f2.png: a frame of 9x7 pixels, but the clip's first frame"), "{err}");
    assert!(err.contains("f0.png is 8x6: skipped, and the clip is cut there in two"), "{err}");
    for name in ["f1.png", "f3.png", "f5.png"] {
        assert_eq!(encode(&tok, &folder.join(name)).unwrap(), Vec::<Vec<u32>>::new(), "{name}");
    }
    // A prompt keeps the frames up to the odd one, and says so.
    let first = folder.join("f0.png");
    let bytes = std::fs::read(&first).unwrap();
    let prompt = tok.extras().prompts.unwrap().prompt(&Source::new(&first, &bytes), None).unwrap();
    assert_eq!(prompt, docs[0][..docs[0].len() - 1]);
    let said = autoreg_tokens::testing::logged("the prompt keeps the clip's first 2 frames");
    assert!(said.len() == 1 && said[0].contains("f2.png: a frame of 9x7 pixels"), "{said:?}");
    // Past max_frames nothing is read, so nothing is refused.
    let short: VideoConfig = serde_json::from_value(serde_json::json!({
        "frame": {"width": 8, "height": 6, "levels": 4}, "max_frames": 2,
    }))
    .unwrap();
    let short = short.build(std::slice::from_ref(&first)).unwrap();
    assert_eq!(encode(&short, &folder.join("f2.png")).unwrap(), Vec::<Vec<u32>>::new());
    assert_eq!(encode(&short, &first).unwrap().len(), 1);
}

#[test]
fn frames_go_by_number_or_by_name_and_a_folder_that_mixes_them_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let frames = clip(3);
    let gif = dir.path().join("clip.gif");
    write_gif(&gif, &frames);
    let tok = tokenizer(std::slice::from_ref(&gif), false);
    let want = encode(&tok, &gif).unwrap();
    // Numbers of any length, leading zeros or not.
    let big = ["x99999999999999999999999.png", "x0100000000000000000000000.png", "x100000000000000000000001.png"];
    let by_number = folder(dir.path(), "big", &big, &frames);
    assert_eq!(encode(&tok, &by_number.join(big[0])).unwrap(), want);
    // No numbers at all: by name.
    let by_name = folder(dir.path(), "names", &["alpha.png", "beta.png", "gamma.png"], &frames);
    assert_eq!(encode(&tok, &by_name.join("alpha.png")).unwrap(), want);
    assert_eq!(encode(&tok, &by_name.join("beta.png")).unwrap(), Vec::<Vec<u32>>::new());
    // Some of each: refused by the clip's first file, naming a file of each kind.
    let mixed = folder(dir.path(), "mixed", &["cover.png", "frame1.png", "frame2.png"], &frames);
    let err = encode(&tok, &mixed.join("cover.png")).unwrap_err();
    assert!(
        err.contains(&format!("the frames of {} mix names that end in a number (frame1.png)", mixed.display()))
            && err.contains("and names that do not (cover.png)")
            && err.contains("number every frame (they go by number), or none (they go by name)"),
        "{err}"
    );
    assert_eq!(encode(&tok, &mixed.join("frame2.png")).unwrap(), Vec::<Vec<u32>>::new());
}

#[test]
fn a_conditional_tokenizer_takes_the_class_from_the_clip_name_and_puts_it_in_every_frame() {
    use autoreg_tokens::{Frames, Signal};
    let dir = tempfile::tempdir().unwrap();
    let (three, seven) = (dir.path().join("3_00001.gif"), dir.path().join("7_00002.gif"));
    write_gif(&three, &clip(3));
    write_gif(&seven, &clip(2));
    // Frames of a folder take the folder's name.
    let folder = dir.path().join("3_00003");
    std::fs::create_dir(&folder).unwrap();
    frame(0).save(folder.join("f1.png")).unwrap();
    let config: VideoConfig = serde_json::from_value(serde_json::json!({
        "frame": {"width": 8, "height": 6, "levels": 4},
        "conditional": true,
    }))
    .unwrap();
    let tok = config.build(&[three.clone(), seven.clone(), folder.join("f1.png")]).unwrap();
    let classes = tok.extras().classes.unwrap();
    assert_eq!(classes.names(), ["3", "7"]);
    let (frame_id, bos, eos) = (tok.frame_id(), tok.specials().bos, tok.specials().eos);
    assert_eq!(classes.ids(), frame_id + 1..frame_id + 3);
    assert_eq!(tok.vocab_size(), 4 + 1 + 2 + 3);
    assert_eq!(tok.token_name(frame_id + 2).as_deref(), Some("Class_7"));
    assert_eq!(Frames::frame_len(&tok), 1 + 1 + 48, "the frame token, the class, the pixels");
    let doc = &encode(&tok, &seven).unwrap()[0];
    let seven_id = frame_id + 2;
    assert_eq!(doc.len(), 2 + 2 * 50 + 1);
    assert_eq!(
        (doc[0], doc[1], doc[2], doc[3], doc[52], doc[53]),
        (bos, seven_id, frame_id, seven_id, frame_id, seven_id)
    );
    assert_eq!(doc[doc.len() - 1], eos);
    assert_eq!(encode(&tok, &folder.join("f1.png")).unwrap()[0][1], frame_id + 1, "the folder's name gives 3");
    // Decoding skips the classes; the frames' pixels are a signal of their image.
    let (frames, repairs) = tok.frames_of(doc);
    assert_eq!((frames.len(), frames[0].len(), repairs), (2, 48, 0));
    assert_eq!(Signal::shape(&tok), autoreg_tokens::SignalShape::Image { width: 8, height: 6, channels: 1 });
    // A name without a label, or with an unknown one, is refused naming the file.
    let other = dir.path().join("clip.gif");
    write_gif(&other, &clip(1));
    let err = encode(&tok, &other).unwrap_err();
    assert!(err.contains("clip.gif") && err.contains("does not match the label pattern"), "{err}");
    let unknown = dir.path().join("5_00009.gif");
    write_gif(&unknown, &clip(1));
    let err = encode(&tok, &unknown).unwrap_err();
    assert!(err.contains("label \"5\" is not one of the 2 classes"), "{err}");
    // A prompt's class is given, never taken from its name.
    let bytes = std::fs::read(&seven).unwrap();
    let prompts = tok.extras().prompts.unwrap();
    let err = prompts.prompt(&Source::new(&seven, &bytes), Some(1.0)).unwrap_err().to_string();
    assert!(err.contains("it must be given"), "{err}");
    let given = Source { label: Some("3"), ..Source::new(&seven, &bytes) };
    let prompt = prompts.prompt(&given, Some(1.0)).unwrap();
    assert_eq!((prompt.len(), prompt[1], prompt[3]), (2 + 50, frame_id + 1, frame_id + 1));
    // A class prompt opens the first frame with the class, as every frame is.
    let class_prompt = autoreg_tokens::testing::Tokenize::class_prompt(&tok, 1).unwrap();
    assert_eq!(class_prompt, [bos, seven_id, frame_id, seven_id]);
    // Saved and loaded, it is the same tokenizer.
    let json = serde_json::to_string(&tok).unwrap();
    assert_eq!(serde_json::from_str::<VideoTokenizer>(&json).unwrap(), tok);
    // No clip's name matches: refused naming the key.
    let none: VideoConfig =
        serde_json::from_value(serde_json::json!({"conditional": true, "label_pattern": "{label}-x.gif"})).unwrap();
    let err = none.build(&[three]).unwrap_err().to_string();
    assert!(err.contains("no clip's name matches tokenizer.label_pattern"), "{err}");
}
