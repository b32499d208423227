//! The `autoreg` command: parses arguments and hands them to [`autoreg::commands`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = autoreg::cli::Cli::parse();
    match autoreg::commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
