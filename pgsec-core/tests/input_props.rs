//! Property tests of pgsec-core's other parsers (pg_hba.conf and postgresql.conf are in
//! `parser_fuzz.rs`): the hardening profile (TOML, networks, tenant tables),
//! certificate facts (PEM and DER) and aclitem text. No input makes them panic, and
//! what they accept behaves: a profile they accept generates a pg_hba.conf the hba
//! parser accepts, a certificate's facts survive a PEM round trip, an aclitem written
//! from its parts parses back into them.
//!
//! The case count follows `PROPTEST_CASES` (CI runs a bounded pass).

use std::path::Path;
use std::sync::OnceLock;

use pgsec_core::harden::{generate, Ident, Network, Profile, TenantTable, PROFILE_TEMPLATE};
use pgsec_core::hba::{HbaFile, PgVersion};
use pgsec_core::snapshot::{AclItem, CertificateFacts};
use pgsec_core::MemoryLoader;
use proptest::prelude::*;

/// Text over the characters TOML and the profile's values care about.
fn toml_text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "\n",
        " ",
        "=",
        "\"",
        "'",
        "[",
        "]",
        "[[",
        "]]",
        "{",
        "}",
        ",",
        ".",
        "#",
        "\\",
        "\\u",
        "\"\"\"",
        "'''",
        "true",
        "false",
        "0",
        "-1",
        "99999999999999999999",
        "1e400",
        "inf",
        "nan",
        "name",
        "database",
        "schema",
        "roles",
        "app",
        "tenant_tables",
        "allowed_networks",
        "listen_addresses",
        "pgaudit",
        "0.0.0.0/0",
        "10.0.2.0/24",
        "fd00::/64",
        "samenet",
        "é",
        "\u{0}",
        "\u{202e}",
        "\t",
        "\r",
    ]);
    prop::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

/// A string value TOML can hold, nasty for the profile's validation.
fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "app",
            "App",
            "a b",
            "x\"y",
            "pg_read",
            "postgres",
            "public",
            "select",
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.0.2.0/24",
            "::/0",
            "fd00:1::/64",
            "10.1.2.3",
            "samenet",
            "samehost",
            "localhost",
            "*",
            "orders",
            "billing.invoices:org_id",
            "a.b.c",
            ":x",
            "x:",
            "peer",
            "scram-sha-256",
            "trust",
            "TLSv1.3",
            "SSLv3",
            "app.current_tenant_id",
            "x'; DROP TABLE t; --",
            "\u{0}",
            "\n",
            "é",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
        "[a-z_][a-z0-9_$]{0,70}",
    ]
}

/// A profile over its own keys: each key present or not, its value mostly one the
/// profile accepts for that key, now and then of the wrong type or any string.
fn profile_toml() -> impl Strategy<Value = String> {
    #[derive(Clone, Copy)]
    enum Kind {
        /// A role, database, schema or column name.
        Name,
        /// Free text (a profile name, a file name).
        Text,
        Method,
        Tls,
        Setting,
        Listen,
        Networks,
        Tables,
        Bool,
        Number,
    }
    const TOP: &[(&str, Kind)] = &[
        ("name", Kind::Text),
        ("database", Kind::Name),
        ("schema", Kind::Name),
        ("listen_addresses", Kind::Listen),
        ("allowed_networks", Kind::Networks),
        ("admin_role", Kind::Name),
        ("admin_local_method", Kind::Method),
        ("ssl_cert_file", Kind::Text),
        ("ssl_key_file", Kind::Text),
        ("ssl_ca_file", Kind::Text),
        ("ssl_min_protocol_version", Kind::Tls),
        ("pgaudit", Kind::Bool),
        ("tenant_setting", Kind::Setting),
        ("tenant_column", Kind::Name),
        ("tenant_tables", Kind::Tables),
    ];
    const ROLES: &[(&str, Kind)] = &[
        ("schema_owner", Kind::Name),
        ("migrator", Kind::Name),
        ("app", Kind::Name),
        ("reporting", Kind::Name),
        ("monitoring", Kind::Name),
        ("app_connection_limit", Kind::Number),
        ("migrator_connection_limit", Kind::Number),
        ("reporting_connection_limit", Kind::Number),
        ("monitoring_connection_limit", Kind::Number),
    ];
    fn quoted(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
        s.prop_map(|v| toml_string(&v)).boxed()
    }
    fn list(s: impl Strategy<Value = String> + 'static) -> BoxedStrategy<String> {
        prop::collection::vec(s, 0..4)
            .prop_map(|v| {
                let items: Vec<String> = v.iter().map(|s| toml_string(s)).collect();
                format!("[{}]", items.join(", "))
            })
            .boxed()
    }
    fn one_of(values: &[&'static str]) -> impl Strategy<Value = String> {
        prop::sample::select(values.to_vec()).prop_map(str::to_owned)
    }
    fn typed(kind: Kind) -> BoxedStrategy<String> {
        let name = "[a-z][a-z0-9_]{2,12}";
        match kind {
            Kind::Name => quoted(name),
            Kind::Text => quoted(prop_oneof![
                one_of(&["strict", "server.crt", "/etc/ssl/a b.pem"]),
                "[ -~]{0,20}"
            ]),
            Kind::Method => quoted(one_of(&["peer", "scram-sha-256"])),
            Kind::Tls => quoted(one_of(&["TLSv1.2", "TLSv1.3"])),
            Kind::Setting => quoted(one_of(&["app.current_tenant_id", "myapp.tenant"])),
            Kind::Listen => list(one_of(&[
                "localhost",
                "*",
                "10.0.0.5",
                "db.internal",
                "::1",
            ])),
            Kind::Networks => list(one_of(&[
                "samenet",
                "samehost",
                "10.0.2.0/24",
                "10.1.0.0/16",
                "fd00:1::/64",
                "10.0.0.7",
            ])),
            Kind::Tables => list(prop_oneof![
                name.prop_map(|t| t.to_string()),
                (name, name).prop_map(|(s, t)| format!("{s}.{t}")),
                (name, name).prop_map(|(t, c)| format!("{t}:{c}")),
            ]),
            Kind::Bool => any::<bool>().prop_map(|b| b.to_string()).boxed(),
            Kind::Number => prop_oneof![8 => 0i64..100, 1 => Just(-1i64), 1 => any::<i64>()]
                .prop_map(|n| n.to_string())
                .boxed(),
        }
    }
    fn entries(keys: &'static [(&'static str, Kind)]) -> Vec<BoxedStrategy<Option<String>>> {
        keys.iter()
            .map(|&(key, kind)| {
                // Now and then a value of another key, or any string.
                let value = prop_oneof![
                    30 => typed(kind),
                    1 => typed(Kind::Networks),
                    1 => typed(Kind::Number),
                    1 => quoted(value_text()),
                ];
                prop::option::weighted(0.3, value.prop_map(move |v| format!("{key} = {v}\n")))
                    .boxed()
            })
            .collect()
    }
    (
        entries(TOP),
        entries(ROLES),
        prop::option::weighted(0.05, Just("surprise = 1\n")),
    )
        .prop_map(|(top, roles, unknown)| {
            let mut text: String = top.into_iter().flatten().collect();
            text.extend(unknown.map(str::to_owned));
            text.push_str("[roles]\n");
            text.extend(roles.into_iter().flatten());
            text
        })
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What an accepted profile must give: files that the generator writes and whose
/// pg_hba.conf the parser accepts line by line.
fn check_profile(text: &str) -> Result<(), TestCaseError> {
    let Ok(profile) = Profile::from_toml(text) else {
        return Ok(());
    };
    let files = generate(&profile);
    for (name, content) in files.files() {
        prop_assert!(!content.is_empty(), "{}", name);
    }
    for major in 13..=17 {
        let version = PgVersion::new(major).unwrap();
        let hba = HbaFile::parse(
            &files.pg_hba_conf,
            Path::new("pg_hba.conf"),
            version,
            &MemoryLoader::new(),
        );
        let errors: Vec<_> = hba
            .errors()
            .map(|(l, e)| (l.line_number, e.to_owned()))
            .collect();
        prop_assert!(
            errors.is_empty(),
            "{:?}\n{}\n--\n{}",
            errors,
            text,
            files.pg_hba_conf
        );
    }
    Ok(())
}

/// One self-signed certificate for the whole run.
fn certificate() -> &'static (Vec<u8>, String) {
    static CERT: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    CERT.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["db.example.com".into(), "10.0.0.5".into()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "db.example.com");
        let cert = params.self_signed(&key).unwrap();
        (cert.der().to_vec(), cert.pem())
    })
}

/// `bytes` with `edits` applied: (position, new byte) overwrites, then a truncation.
fn mutated(bytes: &[u8], edits: &[(usize, u8)], keep: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (at, b) in edits {
        if !out.is_empty() {
            let at = at % out.len();
            out[at] = *b;
        }
    }
    out.truncate(keep.max(1));
    out
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,20}",
        // Anything but a quote, written quoted.
        "[^\"]{0,12}",
        Just(String::new()),
    ]
}

/// `name` as an aclitem writes it: bare when it can be, else double-quoted.
fn acl_name(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare || name.is_empty() {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

proptest! {
    #[test]
    fn profile_any_text(text in any::<String>()) {
        check_profile(&text)?;
    }

    #[test]
    fn profile_toml_shaped_text(text in toml_text()) {
        check_profile(&text)?;
        check_profile(&format!("{PROFILE_TEMPLATE}\n{text}"))?;
    }

    #[test]
    fn profile_keys_with_any_values(text in profile_toml()) {
        check_profile(&text)?;
    }

    #[test]
    fn networks_and_tenant_tables(text in value_text()) {
        if let Ok(Network::Cidr(net)) = Network::parse(&text) {
            let widest = if net.addr().is_ipv4() { 16 } else { 48 };
            prop_assert!(net.prefix_len() >= widest, "{} -> {}", text, net);
        }
        let schema = Ident::new("schema", "app").unwrap();
        let column = Ident::new("tenant_column", "tenant_id").unwrap();
        if let Ok(t) = TenantTable::parse(&text, &schema, &column) {
            prop_assert!(!t.table.as_str().is_empty());
        }
    }

    #[test]
    fn certificate_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = CertificateFacts::from_pem_or_der(&bytes, "x");
        let _ = CertificateFacts::from_der(&bytes, "x");
        let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        pem.extend_from_slice(&bytes);
        let _ = CertificateFacts::from_pem_or_der(&pem, "x");
    }

    #[test]
    fn certificate_mutated(
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        keep in any::<usize>(),
        pem in any::<bool>(),
    ) {
        let (der, text) = certificate();
        let source = if pem { text.as_bytes() } else { der.as_slice() };
        // A quarter of the cases are cut short somewhere.
        let keep = if keep % 4 == 0 { keep % (source.len() + 1) } else { source.len() };
        let bytes = mutated(source, &edits, keep);
        let facts = CertificateFacts::from_pem_or_der(&bytes, "server.crt");
        if bytes == source {
            prop_assert_eq!(facts.ok(), CertificateFacts::from_der(der, "der").ok());
        }
    }

    #[test]
    fn aclitem_any_text(text in any::<String>()) {
        let _ = AclItem::parse(&text);
    }

    #[test]
    fn aclitem_round_trip(
        grantee in name(),
        privileges in "[arwdDxtmUCcTX*]{0,12}",
        grantor in name().prop_filter("a grantor is never PUBLIC", |g| !g.is_empty()),
    ) {
        let text = format!("{}={privileges}/{}", acl_name(&grantee), acl_name(&grantor));
        let item = AclItem::parse(&text);
        prop_assert!(item.is_some(), "{}", text);
        let item = item.unwrap();
        prop_assert_eq!(&item.grantee, &grantee, "{}", text);
        prop_assert_eq!(&item.privileges, &privileges);
        prop_assert_eq!(&item.grantor, &grantor, "{}", text);
        prop_assert_eq!(item.is_public(), grantee.is_empty());
    }
}

#[test]
fn the_sample_certificate_has_its_facts_in_both_encodings() {
    let (der, pem) = certificate();
    let from_der = CertificateFacts::from_der(der, "der").unwrap();
    let from_pem = CertificateFacts::from_pem_or_der(pem.as_bytes(), "pem").unwrap();
    assert_eq!(from_der, from_pem);
    assert!(from_der.subject.contains("db.example.com"));
    assert!(from_der.dns_sans.contains(&"db.example.com".to_owned()));
}

#[test]
fn the_template_and_presets_generate_valid_hba() {
    check_profile(PROFILE_TEMPLATE).unwrap();
    check_profile("").unwrap();
}
