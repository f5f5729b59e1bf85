//! Severities and rule sources.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing, nothing to fix.
    Info,
    /// Defence in depth.
    Low,
    /// A weakness an attacker needs something else to exploit.
    Medium,
    /// Directly exploitable or a broken security promise.
    High,
    /// Exploitable without credentials or across tenants.
    Critical,
}

impl Severity {
    /// Every severity, most severe first (the order reports use).
    pub const ALL_DESCENDING: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lower-case name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;

    /// Parses `critical`, `high`, `medium`, `low` or `info` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Ok(Severity::Critical),
            "high" => Ok(Severity::High),
            "medium" => Ok(Severity::Medium),
            "low" => Ok(Severity::Low),
            "info" => Ok(Severity::Info),
            _ => Err(Error::UnknownName {
                kind: "severity",
                value: s.to_owned(),
                expected: "critical, high, medium, low, info",
            }),
        }
    }
}

/// Where the facts a rule needs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RuleSource {
    /// A live server (`L` in RULES.md).
    Live,
    /// Configuration files (`F`).
    File,
    /// A client connection (`C`).
    Client,
}

impl RuleSource {
    /// The one-letter code of RULES.md (`L`, `F`, `C`).
    pub fn letter(self) -> char {
        match self {
            RuleSource::Live => 'L',
            RuleSource::File => 'F',
            RuleSource::Client => 'C',
        }
    }
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleSource::Live => "live",
            RuleSource::File => "file",
            RuleSource::Client => "client",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Medium > Severity::Low);
        assert!(Severity::Low > Severity::Info);
    }

    #[test]
    fn severities_round_trip_through_their_names() {
        for s in Severity::ALL_DESCENDING {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), s);
        }
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("severe".parse::<Severity>().is_err());
    }
}
