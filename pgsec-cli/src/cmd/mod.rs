//! One module per subcommand; each exposes its clap arguments and `run(args) -> u8`.

pub(crate) mod audit;
pub(crate) mod completions;
pub(crate) mod demo;
pub(crate) mod harden;
pub(crate) mod hba;
pub(crate) mod isolation;
pub(crate) mod man;
pub(crate) mod ping;

use std::io::Write as _;

use pgsec_core::InputLimits;

/// Prints a one-line error and returns exit code 2.
pub(crate) fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("pgsec: error: {msg}");
    2
}

/// [`fail`] with an error and its causes on the one line (`outer: cause: root cause`):
/// library errors describe their own layer and keep the cause in `source()`.
pub(crate) fn fail_error(e: &(dyn std::error::Error + 'static)) -> u8 {
    fail(pgsec_core::display_chain(e))
}

/// Writes `text` to standard output. A closed pipe (`pgsec … | head`) ends the output
/// quietly instead of panicking as `print!` does.
///
/// # Errors
/// Any other write error, as a message.
pub(crate) fn write_stdout(text: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write the output: {e}")),
    }
}

/// Streams output to standard output through `write` (which buffers, see
/// `pgsec_core::render::render_to`), so a large report is never held whole in memory. A
/// closed pipe ends the output quietly, as in [`write_stdout`].
///
/// # Errors
/// Any other write error, as a message.
pub(crate) fn stream_stdout(
    write: impl FnOnce(&mut std::io::StdoutLock<'static>) -> std::io::Result<()>,
) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write the output: {e}")),
    }
}

/// Bounds on what a configuration file and its includes may expand to (shared by the
/// commands that read pg_hba.conf or postgresql.conf).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct InputArgs {
    /// Stop reading after this many bytes in all: the file and every file it includes,
    /// each time it is included (a number, or with K, M or G: 64M = 64 MiB).
    #[arg(long = "max-input-bytes", value_name = "SIZE", default_value = "64M", value_parser = parse_size)]
    pub(crate) max_input_bytes: u64,
    /// Stop reading after this many lines in all, counted like --max-input-bytes (in
    /// pg_hba.conf, every token of a line beyond its 16th counts as a line too).
    #[arg(long = "max-input-lines", value_name = "N", default_value_t = InputLimits::DEFAULT_MAX_LINES)]
    pub(crate) max_input_lines: u64,
}

impl InputArgs {
    pub(crate) fn limits(&self) -> InputLimits {
        InputLimits::new(self.max_input_bytes, self.max_input_lines)
    }
}

/// A byte count: digits, optionally followed by K, M or G (powers of 1024; `KiB`,
/// `MiB`, `GiB` and a trailing `B` are accepted too).
fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = s.split_at(digits);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "`{s}` is not a size; use bytes, or a number with K, M or G"
            ))
        }
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size; use bytes, or a number with K, M or G"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("10"), Ok(10));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1T").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }
}
