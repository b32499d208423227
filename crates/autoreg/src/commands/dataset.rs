//! `autoreg dataset`: makes a data set with the tool that [`crate::tools`] lists for the
//! subcommand, drawing its progress.

use crate::progress::Bar;
use crate::tools::DatasetCommand;
use anyhow::Result;

/// Makes the data set the subcommand names, with a progress bar on a terminal, and says
/// what it wrote.
pub fn dataset(command: &DatasetCommand) -> Result<()> {
    eprintln!("{}", command.write(&Bar::new())?);
    Ok(())
}
