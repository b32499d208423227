//! Writes `<stem>.png` (piano roll) and `<stem>.wav` (audio preview) beside a MIDI file.
//!
//! `cargo run -p autoreg-midi --example render -- tune.mid`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mid = PathBuf::from(std::env::args().nth(1).ok_or("usage: render FILE.mid")?);
    let (png, wav) = (mid.with_extension("png"), mid.with_extension("wav"));
    autoreg_midi::render_midi_file(&mid, &png, &wav)?;
    println!("{}\n{}", png.display(), wav.display());
    Ok(())
}
