//! Parser-level tests: errors by version, tokens, addresses, the view's shape.

use std::path::Path;

use super::*;

fn v(n: u32) -> PgVersion {
    PgVersion::new(n).unwrap()
}

fn parse(text: &str, version: u32) -> HbaFile {
    HbaFile::parse(
        text,
        Path::new("/d/pg_hba.conf"),
        v(version),
        &MemoryLoader::new(),
    )
}

fn one(line: &str, version: u32) -> Result<HbaRule, String> {
    let f = parse(line, version);
    assert_eq!(f.lines.len(), 1, "{line}");
    f.lines[0].result.clone()
}

#[test]
fn server_error_texts() {
    let cases: &[(&str, &str)] = &[
        ("host", "end-of-line before database specification"),
        ("host all", "end-of-line before role specification"),
        ("host all all", "end-of-line before IP address specification"),
        ("host all all 10.0.0.0/8", "end-of-line before authentication method"),
        ("host all all 10.0.0.0", "end-of-line before netmask specification"),
        ("local all all", "end-of-line before authentication method"),
        ("hots all all all trust", "invalid connection type \"hots\""),
        ("host,local all all all trust", "multiple values specified for connection type"),
        ("host all all a,b trust", "multiple values specified for host address"),
        ("host all all 10.0.0.0 1,2 trust", "multiple values specified for netmask"),
        ("host all all all trust,md5", "multiple values specified for authentication type"),
        ("host all all all foo", "invalid authentication method \"foo\""),
        ("host all all all sspi", "invalid authentication method \"sspi\": not supported by this build"),
        ("host all all 10.0.0.0/33 md5", "invalid CIDR mask in address \"10.0.0.0/33\""),
        ("host all all db.example/8 md5", "specifying both host name and CIDR mask is invalid: \"db.example/8\""),
        ("host all all 10.0.0.0 x md5", "invalid IP mask \"x\": Name or service not known"),
        ("host all all 10.0.0.0 ::ffff md5", "IP address and mask do not match"),
        ("host all all all peer", "peer authentication is only supported on local sockets"),
        ("local all all gss", "gssapi authentication is not supported on local sockets"),
        ("host all all all cert", "cert authentication is only supported on hostssl connections"),
        ("host all all all md5 x", "authentication option not in name=value format: x"),
        ("host all all all md5 x=1", "unrecognized authentication option name: \"x\""),
        ("host all all all md5 map=m", "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, and cert"),
        ("host all all all md5 ldapserver=x", "authentication option \"ldapserver\" is only valid for authentication methods ldap"),
        ("host all all all md5 krb_realm=x", "authentication option \"krb_realm\" is only valid for authentication methods gssapi and sspi"),
        ("host all all all md5 clientcert=verify-ca", "clientcert can only be configured for \"hostssl\" rows"),
        ("hostssl all all all cert clientcert=verify-ca", "clientcert can only be set to \"verify-full\" when using \"cert\" authentication"),
        ("host all all all ldap ldapserver=x", "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set"),
        ("host all all all ldap ldapbasedn=x ldapport=0", "invalid LDAP port number: \"0\""),
        ("host all all all radius radiussecrets=s", "authentication method \"radius\" requires argument \"radiusservers\" to be set"),
        ("host all all all radius radiusservers=\"a,b,c\" radiussecrets=\"x,y\"", "the number of RADIUS secrets (2) must be 1 or the same as the number of RADIUS servers (3)"),
    ];
    for (line, want) in cases {
        assert_eq!(one(line, 15).unwrap_err(), *want, "{line}");
    }
}

#[test]
fn rules_keep_tokens_addresses_and_options() {
    let r = one(
        "hostssl \"all\",db +grp,\"+q\" 192.168.0.7/24 scram-sha-256 clientcert=verify-full",
        15,
    )
    .unwrap();
    assert_eq!(r.conn_type, ConnType::HostSsl);
    assert!(!r.databases[0].is_keyword("all") && r.databases[0].quoted);
    assert_eq!(r.users[0], HbaToken::plain("+grp"));
    assert!(r.users[1].quoted);
    let Some(HbaAddress::Net(n)) = &r.address else {
        panic!("{:?}", r.address)
    };
    assert_eq!(n.to_string(), "192.168.0.7/24");
    assert_eq!(r.option("clientcert"), Some("verify-full"));

    let r = one("local all all ident", 15).unwrap();
    assert_eq!(r.method, AuthMethod::Peer, "ident on local is peer");
    assert_eq!(r.address, None);

    let r = one("host all all .example.com md5", 15).unwrap();
    assert_eq!(r.address, Some(HbaAddress::HostName(".example.com".into())));
    let r = one("host all all \"samenet\" md5", 15).unwrap();
    assert_eq!(r.address, Some(HbaAddress::HostName("samenet".into())));
    let r = one("host all all samenet md5", 15).unwrap();
    assert_eq!(r.address, Some(HbaAddress::SameNet));
}

#[test]
fn non_contiguous_masks() {
    let r = one("host all all 10.1.2.3 255.0.255.0 md5", 15).unwrap();
    let a = r.address.unwrap();
    assert!(matches!(a, HbaAddress::Masked { .. }));
    assert!(a.contains("10.9.2.77".parse().unwrap()));
    assert!(!a.contains("10.9.3.77".parse().unwrap()));
    let r = one("host all all 10.1.2.3 255.255.0.0 md5", 15).unwrap();
    let a = r.address.unwrap();
    assert!(matches!(a, HbaAddress::Net(_)));
    assert!(a.contains("10.1.200.1".parse().unwrap()));
}

#[test]
fn view_shape_15_and_16() {
    let text = "local all all peer\nhostssl all all all md5 clientcert=bogus\nhost all all 10.0.0.1/8 md5\n";
    let f = parse(text, 15);
    let rows = f.to_view_rows(v(15));
    assert_eq!(
        key_order(&rows[2]),
        [
            "line_number",
            "type",
            "database",
            "user_name",
            "address",
            "netmask",
            "auth_method",
            "options",
            "error"
        ]
    );
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(json[2]["address"], "10.0.0.1");
    assert_eq!(json[2]["netmask"], "255.0.0.0");
    assert_eq!(json[2]["database"], serde_json::json!(["all"]));
    assert_eq!(json[0]["options"], serde_json::Value::Null);
    // The server only logs a bad clientcert value: null error, null columns.
    assert_eq!(
        f.lines[1].result,
        Err("invalid value for clientcert: \"bogus\"".to_owned())
    );
    assert_eq!(json[1]["error"], serde_json::Value::Null);
    assert_eq!(json[1]["type"], serde_json::Value::Null);

    let f = parse(text, 16);
    let rows = f.to_view_rows(v(16));
    assert_eq!(
        key_order(&rows[0])[..3],
        ["rule_number", "file_name", "line_number"]
    );
    let json = serde_json::to_value(&rows).unwrap();
    assert_eq!(json[0]["file_name"], "/d/pg_hba.conf");
    // ... and numbers it, as the server does.
    assert_eq!(json[1]["rule_number"], 2);
    assert_eq!(json[2]["rule_number"], 3);
    let f = parse("host all all all bogus\nlocal all all peer\n", 16);
    let rows = f.to_view_rows(v(16));
    assert_eq!(rows[0].rule_number, None);
    assert_eq!(rows[1].rule_number, Some(1));
}

#[test]
fn regex_names_from_16() {
    let r = one("host /^db\\d+$ /^app_ all md5", 16).unwrap();
    assert!(r.databases[0].is_regex(v(16)));
    assert!(!r.databases[0].is_regex(v(15)));
    assert_eq!(
        one("host /(a all all md5", 16).unwrap_err(),
        "invalid regular expression \"(a\": parentheses () not balanced"
    );
    assert!(
        one("host /(a all all md5", 15).is_ok(),
        "before 16 a slash name is a name"
    );
}

#[test]
fn version_13_clientcert() {
    let f = parse("hostssl all all all md5 clientcert=1\nhostssl all all all cert\nhostssl all all all md5 clientcert=no-verify\nhostssl all all all md5 clientname=CN\n", 13);
    let rows = f.to_view_rows(v(13));
    assert_eq!(
        rows[0].options,
        Some(vec!["clientcert=verify-ca".to_owned()])
    );
    assert_eq!(
        rows[1].options,
        Some(vec!["clientcert=verify-ca".to_owned()])
    );
    assert_eq!(rows[2].options, None);
    assert_eq!(
        rows[3].error.as_deref(),
        Some("unrecognized authentication option name: \"clientname\"")
    );
    let f = parse("hostssl all all all md5 clientcert=1\n", 14);
    assert_eq!(
        f.to_view_rows(v(14))[0].error,
        None,
        "an unknown value is only logged"
    );
    assert!(f.lines[0].result.is_err());
}

#[test]
fn ssl_off_and_build_features() {
    let opts = HbaParseOptions::new(v(15)).with_ssl_enabled(false);
    let f = HbaFile::parse_with(
        "hostssl all all all md5\n",
        Path::new("/d/h"),
        &opts,
        &MemoryLoader::new(),
    );
    assert_eq!(
        f.lines[0].result,
        Err("hostssl record cannot match because SSL is disabled".to_owned())
    );
    let build = BuildFeatures {
        ldap: false,
        ..BuildFeatures::default()
    };
    let opts = HbaParseOptions::new(v(15)).with_build(build);
    let f = HbaFile::parse_with(
        "host all all all ldap ldapbasedn=x\n",
        Path::new("/d/h"),
        &opts,
        &MemoryLoader::new(),
    );
    assert_eq!(
        f.lines[0].result,
        Err("invalid authentication method \"ldap\": not supported by this build".to_owned())
    );
}

#[test]
fn load_from_disk_with_includes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("conf.d/sub.conf")).unwrap();
    std::fs::write(root.join("admins"), "alice\nbob\n").unwrap();
    std::fs::write(
        root.join("conf.d/10.conf"),
        "host all @../admins 10.0.0.0/8 scram-sha-256\n",
    )
    .unwrap();
    std::fs::write(
        root.join("pg_hba.conf"),
        "local all all peer\ninclude_dir conf.d\n",
    )
    .unwrap();
    let f = HbaFile::load(&root.join("pg_hba.conf"), v(16)).unwrap();
    assert_eq!(f.lines.len(), 2, "{:?}", f.lines);
    let (line, rule) = f.rules().nth(1).unwrap();
    assert!(line.file.ends_with("conf.d/10.conf"), "{}", line.file);
    assert_eq!(
        rule.users
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert!(HbaFile::load(&root.join("nope"), v(16)).is_err());
    assert_eq!(f.errors().count(), 0);
}

/// The keys of a serialized row in the order they are written.
fn key_order(row: &HbaViewRow) -> Vec<String> {
    let text = serde_json::to_string(row).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<(usize, String)> = value
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}
