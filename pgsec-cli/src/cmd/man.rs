//! `pgsec man`: the roff man page of pgsec on standard output, or with `--dir` one page
//! per command (`pgsec.1`, `pgsec-hba.1`, `pgsec-hba-lint.1`, …) written to a directory.

use std::path::{Path, PathBuf};

/// Arguments of `pgsec man`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Prints the man page of pgsec (roff, section 1) on standard output: \
                  `pgsec man > pgsec.1`, `man ./pgsec.1`. With --dir, writes one page per \
                  command and subcommand into DIR instead and prints their paths."
)]
pub(crate) struct ManArgs {
    /// Write pgsec.1 and one page per subcommand (pgsec-audit.1, pgsec-hba-lint.1, …)
    /// into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Renders the page(s) of `pgsec`, whose full definition is `cli`.
pub(crate) fn run(args: ManArgs, cli: clap::Command) -> u8 {
    // Without the `help` subcommand clap adds: `pgsec help X` is `pgsec X --help`.
    let mut cli = cli.disable_help_subcommand(true);
    let result = match args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cli)
                .render(&mut page)
                .map_err(|e| format!("cannot render the man page: {e}"))
                .and_then(|()| super::write_stdout(&String::from_utf8_lossy(&page)))
        }
        Some(dir) => {
            // Building names the subcommands `pgsec-hba-lint` etc., as their pages are.
            cli.build();
            let mut written = Vec::new();
            std::fs::create_dir_all(&dir)
                .and_then(|()| write_pages(cli, &dir, &mut written))
                .map_err(|e| format!("cannot write the man pages to {}: {e}", dir.display()))
                .and_then(|()| {
                    let list: String = written
                        .iter()
                        .map(|p| format!("{}\n", p.display()))
                        .collect();
                    super::write_stdout(&list)
                })
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}

/// The page of `cmd`, then those of its visible subcommands, depth first.
fn write_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let subcommands: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    written.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
    for sub in subcommands {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}
