//! Validated tenant ids and custom setting names.
//!
//! Both are "parse, don't validate" types: once constructed they cannot hold a value
//! that would need escaping, so the rest of the pool never has to think about it.
//! (Values are bound as parameters anyway; validation is the second fence, and it keeps
//! logs and policies unambiguous.)

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// Longest accepted text tenant id, in bytes (all accepted bytes are ASCII).
pub const TENANT_TEXT_MAX_LEN: usize = 128;

/// Longest accepted setting name, in bytes.
pub const SETTING_NAME_MAX_LEN: usize = 255;

/// Why a tenant id or a setting name was rejected.
///
/// The rejected input is not echoed: it may come from an untrusted request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidName {
    /// The text tenant id is empty.
    #[error("tenant id is empty; use 1 to {TENANT_TEXT_MAX_LEN} characters of [A-Za-z0-9_.:-]")]
    EmptyTenant,
    /// The text tenant id is longer than [`TENANT_TEXT_MAX_LEN`].
    #[error("tenant id is {len} bytes long; at most {TENANT_TEXT_MAX_LEN} are allowed")]
    TenantTooLong {
        /// Length of the rejected input in bytes.
        len: usize,
    },
    /// The text tenant id contains a character outside `[A-Za-z0-9_.:-]`.
    #[error(
        "tenant id has a character outside [A-Za-z0-9_.:-] at byte {position}; \
         use a uuid, an integer, or only those characters"
    )]
    TenantCharacter {
        /// Byte offset of the first rejected character.
        position: usize,
    },
    /// The setting name is not `prefix.name` made of identifiers.
    #[error(
        "setting name must be two or more parts separated by dots, each of letters, \
         digits, `_` and `$`, not starting with a digit or `$`, at most 63 bytes, \
         e.g. app.current_tenant_id: {reason}"
    )]
    SettingName {
        /// What exactly is wrong.
        reason: &'static str,
    },
}

/// The tenant a transaction runs for.
///
/// Three shapes are accepted:
/// - a [`Uuid`] (rendered in its hyphenated lower-case form),
/// - an [`i64`] (rendered in decimal),
/// - constrained text: 1 to [`TENANT_TEXT_MAX_LEN`] characters, each an ASCII letter,
///   digit, `_`, `.`, `:` or `-`. Spaces (including surrounding ones), quotes,
///   backslashes, NUL, control and non-ASCII characters are rejected, so the value
///   reads the same in logs, policies and `current_setting`.
///
/// The value reaches PostgreSQL only as a bound parameter of `set_config`.
///
/// ```
/// use pgsec_client::TenantId;
/// let t: TenantId = "acme-eu.1".parse()?;
/// assert_eq!(t.as_setting_value(), "acme-eu.1");
/// assert_eq!(TenantId::from(42_i64).as_setting_value(), "42");
/// assert!("acme; drop table x".parse::<TenantId>().is_err());
/// # Ok::<(), pgsec_client::InvalidName>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TenantId {
    kind: TenantKind,
    rendered: String,
}

/// Which shape a [`TenantId`] was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TenantKind {
    /// Built from a [`Uuid`].
    Uuid,
    /// Built from an [`i64`].
    Integer,
    /// Built from constrained text.
    Text,
}

impl TenantId {
    /// A tenant id from constrained text (see the type docs for the alphabet).
    ///
    /// # Errors
    /// [`InvalidName::EmptyTenant`], [`InvalidName::TenantTooLong`] or
    /// [`InvalidName::TenantCharacter`] when the text is outside the accepted set.
    pub fn text(value: &str) -> Result<Self, InvalidName> {
        if value.is_empty() {
            return Err(InvalidName::EmptyTenant);
        }
        if value.len() > TENANT_TEXT_MAX_LEN {
            return Err(InvalidName::TenantTooLong { len: value.len() });
        }
        if let Some(position) = value.bytes().position(|b| !is_tenant_byte(b)) {
            return Err(InvalidName::TenantCharacter { position });
        }
        Ok(Self {
            kind: TenantKind::Text,
            rendered: value.to_owned(),
        })
    }

    /// The text written into the tenant setting (`set_config`'s second argument).
    #[must_use]
    pub fn as_setting_value(&self) -> &str {
        &self.rendered
    }

    /// Which shape this id was built from.
    #[must_use]
    pub fn kind(&self) -> TenantKind {
        self.kind
    }
}

fn is_tenant_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-')
}

impl From<Uuid> for TenantId {
    fn from(value: Uuid) -> Self {
        Self {
            kind: TenantKind::Uuid,
            rendered: value.hyphenated().to_string(),
        }
    }
}

impl From<i64> for TenantId {
    fn from(value: i64) -> Self {
        Self {
            kind: TenantKind::Integer,
            rendered: value.to_string(),
        }
    }
}

impl FromStr for TenantId {
    type Err = InvalidName;

    /// Parses constrained text; see [`TenantId::text`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::text(s)
    }
}

impl TryFrom<&str> for TenantId {
    type Error = InvalidName;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::text(value)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenantId").field(&self.rendered).finish()
    }
}

/// A validated custom setting (GUC) name such as `app.current_tenant_id`.
///
/// Accepted exactly when PostgreSQL's `valid_custom_variable_name` (guc.c) accepts the
/// name ([`pgsec_core::sql::check_setting_name`]): two or more parts separated by dots,
/// each starting with a letter (non-ASCII ones included) or `_` and continuing with
/// those, digits or `$`; and each part at most 63 bytes, because the pool sends the name
/// in `SET LOCAL`, where the server truncates longer identifiers; at most
/// [`SETTING_NAME_MAX_LEN`] bytes in all. PostgreSQL compares setting names without
/// regard to case. Prefixes an extension has reserved (PostgreSQL 15+) pass this check but are
/// refused by the server; building a pool tries the name once so that surfaces early.
///
/// ```
/// use pgsec_client::SettingName;
/// assert_eq!(SettingName::default().as_str(), "app.current_tenant_id");
/// assert!(SettingName::new("myapp.tenant").is_ok());
/// assert!(SettingName::new("search_path").is_err()); // not a custom setting
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SettingName(String);

/// The default tenant setting, `app.current_tenant_id`.
pub const DEFAULT_TENANT_SETTING: &str = "app.current_tenant_id";

impl SettingName {
    /// Validates a custom setting name.
    ///
    /// # Errors
    /// [`InvalidName::SettingName`] when the name is not `prefix.name` made of
    /// identifiers.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        if name.len() > SETTING_NAME_MAX_LEN {
            return Err(InvalidName::SettingName {
                reason: "it is longer than 255 bytes",
            });
        }
        // The server's rule (pgsec-core), with each part short enough that `SET LOCAL`
        // does not truncate it: the pool sends the name in SQL text.
        pgsec_core::sql::quote_setting_name(name)
            .map_err(|e| InvalidName::SettingName { reason: e.reason() })?;
        Ok(Self(name.to_owned()))
    }

    /// The name as text (bound as `set_config`'s first argument).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SettingName {
    fn default() -> Self {
        Self(DEFAULT_TENANT_SETTING.to_owned())
    }
}

impl FromStr for SettingName {
    type Err = InvalidName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for SettingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SettingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SettingName").field(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_tenants_accept_the_documented_alphabet() {
        for ok in ["a", "acme", "ACME-1", "t_1.eu:west", &"x".repeat(128)] {
            let t = TenantId::text(ok).unwrap();
            assert_eq!(t.as_setting_value(), ok);
            assert_eq!(t.kind(), TenantKind::Text);
        }
    }

    #[test]
    fn text_tenants_reject_everything_else() {
        assert_eq!(TenantId::text(""), Err(InvalidName::EmptyTenant));
        assert_eq!(
            TenantId::text(&"x".repeat(129)),
            Err(InvalidName::TenantTooLong { len: 129 })
        );
        let hostile = [
            (" acme", 0),
            ("acme ", 4),
            ("ac me", 2),
            ("acme'; drop table t; --", 4),
            ("a\"b", 1),
            ("a\\b", 1),
            ("a\0b", 1),
            ("a\nb", 1),
            ("é", 0),
            ("a$b", 1),
            ("a/b", 1),
            ("a%", 1),
        ];
        for (bad, position) in hostile {
            assert_eq!(
                TenantId::text(bad),
                Err(InvalidName::TenantCharacter { position }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn error_messages_do_not_echo_the_input() {
        let err = TenantId::text("secret'payload").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        let err = SettingName::new("secret payload").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn uuid_and_integer_render_canonically() {
        let u = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let t = TenantId::from(u);
        assert_eq!(t.as_setting_value(), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(t.kind(), TenantKind::Uuid);
        assert_eq!(TenantId::from(-7_i64).as_setting_value(), "-7");
        assert_eq!(TenantId::from(i64::MIN).to_string(), i64::MIN.to_string());
        // Every rendered uuid and integer is also valid constrained text.
        assert!(TenantId::text(t.as_setting_value()).is_ok());
    }

    #[test]
    fn setting_names_follow_postgres_custom_variable_rules() {
        for ok in [
            "app.current_tenant_id",
            "a.b",
            "_x._y",
            "a1.b$2",
            "A.B",
            "one.two.three",
            "a.é",
            "ünï.cödé",
        ] {
            assert_eq!(SettingName::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "app",
            "search_path",
            ".a",
            "a.",
            "a..b",
            "1a.b",
            "a.1b",
            "a.$b",
            "a.b c",
            "a.b;drop",
            "a.b'",
            "a.b\"",
            "a.b-c",
            "a.b\0",
            "app.1tenant",
            "app.x.",
            "app..x",
        ] {
            assert!(SettingName::new(bad).is_err(), "{bad:?} accepted");
        }
        let part = "b".repeat(63);
        let longest = format!("{part}.{part}.{part}.{part}");
        assert_eq!(longest.len(), SETTING_NAME_MAX_LEN);
        assert!(SettingName::new(&longest).is_ok());
        assert!(SettingName::new(&format!("{longest}x")).is_err());
        // set_config would take a 64-byte part; SET LOCAL would truncate it.
        assert!(SettingName::new(&format!("a.{}", "b".repeat(64))).is_err());
    }

    /// Reference model of guc.c's valid_custom_variable_name (non-ASCII characters count
    /// as letters), parts short enough for SET.
    fn postgres_accepts(name: &str) -> bool {
        let parts: Vec<&str> = name.split('.').collect();
        parts.len() >= 2
            && parts.iter().all(|p| {
                let mut chars = p.chars();
                p.len() <= 63
                    && matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
                    && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            })
    }

    proptest! {
        #[test]
        fn setting_name_agrees_with_the_reference_model(name in "[a-zA-Z0-9_$. ;'éü-]{0,12}") {
            prop_assert_eq!(SettingName::new(&name).is_ok(), postgres_accepts(&name));
        }

        #[test]
        fn tenant_text_accepts_exactly_the_alphabet(value in "\\PC{0,20}") {
            let expected = !value.is_empty()
                && value.len() <= TENANT_TEXT_MAX_LEN
                && value.bytes().all(is_tenant_byte);
            prop_assert_eq!(TenantId::text(&value).is_ok(), expected);
        }
    }
}
