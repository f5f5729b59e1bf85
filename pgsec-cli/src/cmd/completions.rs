//! `pgsec completions SHELL`: the shell's completion script for pgsec, on standard output.

/// Arguments of `pgsec completions`.
#[derive(Debug, clap::Args)]
#[command(
    long_about = "Prints the completion script of pgsec for SHELL on standard output. \
                  Install it where the shell looks, e.g. \
                  `pgsec completions bash > /etc/bash_completion.d/pgsec`, \
                  `pgsec completions zsh > \"${fpath[1]}/_pgsec\"` or \
                  `pgsec completions fish > ~/.config/fish/completions/pgsec.fish`."
)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Writes the script for `pgsec`, whose full definition is `cli`.
pub(crate) fn run(args: CompletionsArgs, mut cli: clap::Command) -> u8 {
    // Generated into memory first: clap_complete panics on a write error, and a closed
    // pipe must end the output quietly.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, "pgsec", &mut script);
    match super::write_stdout(&String::from_utf8_lossy(&script)) {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}
