//! The `autoreg` command: parses arguments and hands them to [`autoreg::commands`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = autoreg::cli::Cli::parse();
    autoreg::errors::install_logger();
    match autoreg::commands::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A closed pipe (`autoreg encode ... | head`) is the reader's choice, not a failure.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", autoreg::errors::error_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
