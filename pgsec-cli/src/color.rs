//! `--color auto|always|never`: one decision for the whole process, taken once in
//! `main` and read by whatever writes ANSI colour to standard output.
//!
//! `auto` colours only a terminal, and never when `NO_COLOR` is set to a non-empty value
//! (<https://no-color.org>). Machine-readable formats (JSON, SARIF, HTML) never carry
//! escape codes, whatever the choice: the renderers are asked for colour in text only.

use std::ffi::OsString;
use std::io::IsTerminal as _;
use std::sync::OnceLock;

/// When output is coloured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorWhen {
    /// Colour when standard output is a terminal and NO_COLOR is unset or empty.
    #[default]
    Auto,
    /// Always colour, even into a pipe or a file.
    Always,
    /// Never colour.
    Never,
}

impl From<ColorWhen> for clap::ColorChoice {
    fn from(when: ColorWhen) -> Self {
        match when {
            // clap's own auto checks the stream it writes to and NO_COLOR too.
            ColorWhen::Auto => clap::ColorChoice::Auto,
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
        }
    }
}

static CHOSEN: OnceLock<ColorWhen> = OnceLock::new();

/// Records the process's choice (the first call wins).
pub(crate) fn choose(when: ColorWhen) {
    let _ = CHOSEN.set(when);
}

/// Whether text written to standard output may carry ANSI colour.
pub(crate) fn on_stdout() -> bool {
    match CHOSEN.get().copied().unwrap_or_default() {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto => std::io::stdout().is_terminal() && !no_color_env(),
    }
}

/// `NO_COLOR` present and not empty, as no-color.org defines it.
fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// The `--color` value in raw arguments, before clap parses them: clap's own help and
/// errors are coloured by the command it parses with, so the choice must be known first.
/// The last `--color WHEN` / `--color=WHEN` before `--` wins; anything unreadable is
/// `auto` (clap then reports it).
pub(crate) fn from_args(args: impl IntoIterator<Item = OsString>) -> ColorWhen {
    let mut when = ColorWhen::Auto;
    let mut args = args.into_iter().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.to_str() {
            Some("--") => break,
            Some("--color") => args.next(),
            Some(a) => match a.strip_prefix("--color=") {
                Some(v) => Some(OsString::from(v)),
                None => continue,
            },
            None => continue,
        };
        if let Some(v) = value.as_deref().and_then(|v| v.to_str()) {
            when = clap::ValueEnum::from_str(v, true).unwrap_or(ColorWhen::Auto);
        }
    }
    when
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(args: &[&str]) -> ColorWhen {
        from_args(
            std::iter::once("pgsec")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    #[test]
    fn reads_color_before_clap_does() {
        assert_eq!(scan(&[]), ColorWhen::Auto);
        assert_eq!(scan(&["--color", "always", "hba"]), ColorWhen::Always);
        assert_eq!(
            scan(&["hba", "lint", "f", "--color=never"]),
            ColorWhen::Never
        );
        assert_eq!(
            scan(&["--color", "never", "--color", "always"]),
            ColorWhen::Always
        );
        assert_eq!(scan(&["--color", "sometimes"]), ColorWhen::Auto);
        assert_eq!(scan(&["--color"]), ColorWhen::Auto);
        assert_eq!(scan(&["--", "--color", "always"]), ColorWhen::Auto);
    }
}
