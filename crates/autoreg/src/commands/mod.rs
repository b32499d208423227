//! One module per subcommand.

mod codec;
mod dataset;
mod eval;
mod infill;
mod inspect;
mod interop;
mod report;
mod sample;
mod train;

use crate::cli::{Cli, Command};
use anyhow::Result;

pub use codec::codec;
pub use dataset::dataset;
pub use eval::{eval, eval_infill};
pub use inspect::{decode, encode, info, render};
pub use interop::{export, import, import_hf};
pub use report::report;
pub use sample::sample;
pub use train::{launch, train};

/// Runs the subcommand.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train(args) if args.nproc > 1 => launch(&args),
        Command::Train(args) => train(&args).map(|_| ()),
        Command::Sample(args) => sample(&args).map(|_| ()),
        Command::Eval(args) if args.infill => eval_infill(&args),
        Command::Eval(args) => eval(&args).map(|_| ()),
        Command::Encode(args) => encode(&args),
        Command::Decode(args) => decode(&args),
        Command::Info(args) => info(&args),
        Command::Render(args) => render(&args),
        Command::Report(args) => report(&args).map(|_| ()),
        Command::Dataset(command) => dataset(&command),
        Command::Codec(command) => codec(&command),
        Command::Import(command) => import(&command),
        Command::Export(args) => export(&args),
    }
}

/// Whether standard error is a terminal (progress bars are drawn only there).
fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}
