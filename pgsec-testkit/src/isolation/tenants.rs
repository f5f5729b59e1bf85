//! proptest strategies for tenants: ids of the tenant column's type, chosen to
//! resemble each other in the ways broken policies confuse them.
//!
//! Every id is a tenant whose rows are seeded. Ids that [`TenantId`] accepts also act:
//! they begin TenantPool transactions. Ids it refuses (surrounding spaces, non-ASCII
//! look-alikes) only own rows, which is exactly where they matter: a policy that trims,
//! folds case or normalises Unicode hands their rows to an acting tenant.

use proptest::prelude::*;
use proptest::sample::select;
use uuid::Uuid;

use pgsec_client::TenantId;

use super::schema::IdKind;

/// One generated tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tenant {
    /// The id as text: what `tenant_column::text` shows and the setting carries.
    pub(crate) value: String,
    /// Why it is in the set ("case variant of 'acme'").
    pub(crate) role: String,
    /// `Some` when the id can begin a TenantPool transaction.
    pub(crate) id: Option<TenantId>,
}

impl Tenant {
    fn new(value: String, role: impl Into<String>, id: Option<TenantId>) -> Self {
        Self {
            value,
            role: role.into(),
            id,
        }
    }

    fn text(value: String, role: impl Into<String>) -> Self {
        let id = TenantId::text(&value).ok();
        Self::new(value, role, id)
    }
}

/// Latin letters that have a Cyrillic twin.
const TWINS: [(char, char); 7] = [
    ('a', 'а'),
    ('c', 'с'),
    ('e', 'е'),
    ('o', 'о'),
    ('p', 'р'),
    ('x', 'х'),
    ('y', 'у'),
];

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() {
                char::from_u32(u32::from(c) - 0x21 + 0xFF01).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Text ids: a base id and its adversarial relatives.
///
/// base `acme`; `acme` + suffix (the base is its prefix); `ACME` (case); ` acme `
/// (spaces); `acmе` with a Cyrillic letter and `ａｃｍｅ` in fullwidth (look-alikes);
/// `ac_e` (a LIKE wildcard that matches the base); a 128-character id that starts with
/// the base (long, and another prefix relation); an unrelated id.
pub(crate) fn text_tenants() -> impl Strategy<Value = Vec<Tenant>> {
    (
        "[a-z]{1,3}",
        select(TWINS.to_vec()),
        "[a-z]{0,2}",
        "[a-z0-9]{1,3}",
        "[b-df-hj-np-tv-z]{4,6}",
        any::<prop::sample::Index>(),
    )
        .prop_map(|(head, (latin, cyrillic), tail, suffix, unrelated, at)| {
            let base = format!("{head}{latin}{tail}");
            let lookalike = format!("{head}{cyrillic}{tail}");
            let pos = at.index(base.len());
            let mut wildcard = base.clone();
            wildcard.replace_range(pos..=pos, "_");
            let long = format!("{base}{}", "x".repeat(128 - base.len()));
            let b = &base;
            let candidates = vec![
                Tenant::text(base.clone(), "base"),
                Tenant::text(format!("{base}{suffix}"), format!("'{b}' is its prefix")),
                Tenant::text(base.to_uppercase(), format!("case variant of '{b}'")),
                Tenant::text(wildcard, format!("LIKE pattern that matches '{b}'")),
                Tenant::text(long, format!("128 characters, '{b}' is its prefix")),
                Tenant::text(unrelated, "unrelated"),
                Tenant::text(
                    format!(" {base} "),
                    format!("'{b}' with surrounding spaces"),
                ),
                Tenant::text(lookalike, format!("Cyrillic look-alike of '{b}'")),
                Tenant::text(fullwidth(&base), format!("fullwidth look-alike of '{b}'")),
            ];
            dedup(candidates)
        })
}

/// Integer ids: `k`, `10k + d` and `100k + dd` (decimal prefixes of each other),
/// `-k`, and an unrelated one; all fit a smallint.
pub(crate) fn integer_tenants() -> impl Strategy<Value = Vec<Tenant>> {
    (1i64..100, 0i64..10, 0i64..100, 10_000i64..30_000).prop_map(|(k, d, dd, r)| {
        let int = |v: i64, role: String| Tenant::new(v.to_string(), role, Some(TenantId::from(v)));
        dedup(vec![
            int(k, "base".to_owned()),
            int(10 * k + d, format!("decimal text starts with {k}")),
            int(100 * k + dd, format!("decimal text starts with {k}")),
            int(-k, format!("negative {k}")),
            int(r, "unrelated".to_owned()),
        ])
    })
}

/// uuid ids: one, its twin differing in one hex digit, an unrelated one, and the nil
/// uuid (what a policy may fall back to when the setting is empty).
pub(crate) fn uuid_tenants() -> impl Strategy<Value = Vec<Tenant>> {
    (any::<u128>(), any::<u128>(), 0u32..32, 1u128..16).prop_map(|(a, b, nibble, delta)| {
        let shift = nibble * 4;
        let digit = (a >> shift) & 0xF;
        let twin = (a & !(0xF << shift)) | (((digit + delta) & 0xF) << shift);
        let uuid = |v: u128, role: &str| {
            let u = Uuid::from_u128(v);
            Tenant::new(u.hyphenated().to_string(), role, Some(TenantId::from(u)))
        };
        dedup(vec![
            uuid(a, "base"),
            uuid(twin, "differs from the base in one hex digit"),
            uuid(b, "unrelated"),
            uuid(0, "nil uuid"),
        ])
    })
}

fn dedup(candidates: Vec<Tenant>) -> Vec<Tenant> {
    let mut out: Vec<Tenant> = Vec::with_capacity(candidates.len());
    for t in candidates {
        if !out.iter().any(|o| o.value == t.value) {
            out.push(t);
        }
    }
    out
}

/// The tenants of a run and how many rows each owns per table.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) tenants: Vec<Tenant>,
    /// Rows per tenant, per writable table (same count in every table).
    pub(crate) rows: Vec<usize>,
}

impl World {
    /// Indexes of the tenants that can act.
    pub(crate) fn actors(&self) -> Vec<usize> {
        (0..self.tenants.len())
            .filter(|&i| self.tenants[i].id.is_some())
            .collect()
    }
}

/// Tenants of `kind` and 1 to 3 rows for each.
pub(crate) fn world(kind: IdKind) -> BoxedStrategy<World> {
    let tenants = match kind {
        IdKind::Text => text_tenants().boxed(),
        IdKind::Integer => integer_tenants().boxed(),
        IdKind::Uuid => uuid_tenants().boxed(),
    };
    tenants
        .prop_flat_map(|tenants| {
            let n = tenants.len();
            (Just(tenants), prop::collection::vec(1usize..=3, n))
        })
        .prop_map(|(tenants, rows)| World { tenants, rows })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::test_runner::TestRunner;

    fn sample(kind: IdKind, n: usize) -> Vec<World> {
        let mut runner = TestRunner::deterministic();
        let strategy = world(kind);
        (0..n)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect()
    }

    #[test]
    fn text_tenants_hold_every_adversarial_relation() {
        for w in sample(IdKind::Text, 200) {
            let values: Vec<&str> = w.tenants.iter().map(|t| t.value.as_str()).collect();
            let base = values[0];
            assert!(values
                .iter()
                .any(|v| v.len() > base.len() && v.starts_with(base)));
            assert!(values.contains(&base.to_uppercase().as_str()));
            assert!(values.contains(&format!(" {base} ").as_str()));
            assert!(values.iter().any(|v| v.len() == 128 && v.starts_with(base)));
            assert!(values
                .iter()
                .any(|v| !v.is_ascii() && v.chars().count() == base.chars().count()));
            assert!(values
                .iter()
                .any(|v| v.contains('_') && v.len() == base.len()));
            // Distinct, and the acting ones are exactly those TenantId accepts.
            let mut sorted = values.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), values.len());
            for t in &w.tenants {
                assert_eq!(t.id.is_some(), TenantId::text(&t.value).is_ok(), "{t:?}");
            }
            assert!(w.actors().len() >= 4);
            assert!(w.tenants.iter().any(|t| t.id.is_none()));
            assert_eq!(w.rows.len(), w.tenants.len());
            assert!(w.rows.iter().all(|&r| (1..=3).contains(&r)));
        }
    }

    #[test]
    fn integer_tenants_include_decimal_prefixes_and_fit_smallint() {
        for w in sample(IdKind::Integer, 200) {
            let ints: Vec<i64> = w.tenants.iter().map(|t| t.value.parse().unwrap()).collect();
            assert!(ints.iter().all(|v| i16::try_from(*v).is_ok()));
            let base = &w.tenants[0].value;
            assert!(w.tenants[1..]
                .iter()
                .any(|t| t.value.starts_with(base.as_str())));
            assert!(ints.iter().any(|v| *v < 0));
            assert!(w.tenants.iter().all(|t| t.id.is_some()));
        }
    }

    #[test]
    fn uuid_twins_differ_in_exactly_one_hex_digit() {
        for w in sample(IdKind::Uuid, 200) {
            let a = &w.tenants[0].value;
            let twin = &w.tenants[1].value;
            let differing = a.chars().zip(twin.chars()).filter(|(x, y)| x != y).count();
            assert_eq!(differing, 1, "{a} {twin}");
            assert!(w.tenants.iter().any(|t| t.value == Uuid::nil().to_string()));
        }
    }
}
