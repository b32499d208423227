//! `autoreg codec train`: learns a config's codecs alone, into a run directory that
//! other runs reuse with `[tokenizer.codec] from = "runs/NAME"`.

use crate::cli::{CodecCommand, CodecTrainArgs};
use crate::config::Config;
use crate::prepare;
use crate::progress::Bar;
use crate::run;
use anyhow::{Result, bail};
use autoreg_train::RunDir;
use std::path::Path;

/// Runs an `autoreg codec` subcommand.
pub fn codec(command: &CodecCommand) -> Result<()> {
    match command {
        CodecCommand::Train(args) => train(args),
    }
}

/// Learns the tokenizer of the config, codecs included, and writes it with the config
/// to the run directory; prints what each codec's training measured.
fn train(args: &CodecTrainArgs) -> Result<()> {
    let config = Config::load(&args.config, &args.set)?;
    if !config.inputs().sources().iter().any(|s| s.tokenizer.codec.is_some()) {
        bail!("{}: its tokenizer has no [tokenizer.codec] to train", args.config.display());
    }
    let run = RunDir::new(config.run_dir());
    let _lock = run.lock()?;
    let base = args.config.parent().unwrap_or(Path::new("."));
    let tokenizer = prepare::learn_tokenizer(&config, base, &Bar::new())?;
    run::write_new(&run, &config, &tokenizer)?;
    run::record_history(&run, &format!("codec train {}", args.config.display()), &args.set)?;
    for codec in tokenizer.codecs() {
        let t = codec.trained();
        // Audio's values per second turn them into seconds; an image is a signal.
        let length = match codec.codes_per_second() {
            Some(codes) => format!("{:.0} s", t.values as f64 / (codes * codec.values_per_code() as f64)),
            None => format!("{} values", t.values),
        };
        println!("{}: {codec}", run.path().display());
        println!(
            "  trained on {} signals ({length}, {} values per code): reconstruction L1 {:.3}, \
             code perplexity {:.0} of {}",
            t.signals,
            codec.values_per_code(),
            t.reconstruction_l1,
            t.perplexity,
            codec.codebook_size()
        );
    }
    Ok(())
}
