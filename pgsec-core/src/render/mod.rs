//! Report renderers: text, JSON and SARIF 2.1.0. Rendering never decides anything.

mod json;
mod sarif;
mod text;

use std::fmt;
use std::str::FromStr;

use crate::{Error, Report};

pub use json::{json, json_value};
pub use sarif::{sarif, sarif_value};
pub use text::text;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// Human-readable text, grouped by severity.
    #[default]
    Text,
    /// The documented JSON format (see [`json()`]).
    Json,
    /// SARIF 2.1.0 (see [`sarif()`]).
    Sarif,
}

impl FromStr for Format {
    type Err = Error;

    /// `text`, `json` or `sarif`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            _ => Err(Error::UnknownName {
                kind: "format",
                value: s.to_owned(),
                expected: "text, json, sarif",
            }),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
        })
    }
}

/// Renders `report` in `format`; `color` applies to text only (decide it with
/// `std::io::IsTerminal`).
pub fn render(report: &Report, format: Format, color: bool) -> String {
    match format {
        Format::Text => text(report, color),
        Format::Json => json(report),
        Format::Sarif => sarif(report),
    }
}
