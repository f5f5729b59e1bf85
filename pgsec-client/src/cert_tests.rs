//! Verifier tests with rcgen-made chains, called without a network.

use super::*;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

fn intermediate(parent: &Ca, name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.signed_by(&key, &parent.issuer).unwrap();
    Ca {
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

fn leaf(issuer: &Ca, cn: Option<&str>, sans: &[&str]) -> CertificateDer<'static> {
    leaf_with(issuer, cn, sans, |_| {})
}

fn leaf_with(
    issuer: &Ca,
    cn: Option<&str>,
    sans: &[&str],
    edit: impl FnOnce(&mut CertificateParams),
) -> CertificateDer<'static> {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(DnType::CommonName, cn);
    }
    edit(&mut params);
    params
        .signed_by(&key, &issuer.issuer)
        .unwrap()
        .der()
        .clone()
}

fn verifier(roots: &[&Ca], verification: Verification) -> PgsecServerVerifier {
    let mut store = RootCertStore::empty();
    for r in roots {
        store.add(r.der.clone()).unwrap();
    }
    PgsecServerVerifier::new(
        Arc::new(store),
        "sslrootcert=test-ca.pem".into(),
        Arc::new(rustls::crypto::ring::default_provider()),
        verification,
    )
}

fn verify(
    v: &PgsecServerVerifier,
    leaf: &CertificateDer<'static>,
    intermediates: &[CertificateDer<'static>],
    host: &str,
) -> Result<(), CertificateRefusal> {
    let name = ServerName::try_from(host.to_string()).unwrap();
    match v.verify_server_cert(leaf, intermediates, &name, &[], UnixTime::now()) {
        Ok(_) => Ok(()),
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(o))) => Err(o
            .0
            .downcast_ref::<CertificateRefusal>()
            .expect("refusals are CertificateRefusal")
            .clone()),
        Err(other) => panic!("untyped verifier error: {other:?}"),
    }
}

#[test]
fn san_list_with_wildcard() {
    let root = ca("root");
    let cert = leaf(
        &root,
        Some("ignored.example"),
        &[
            "dns1.alt-name.test",
            "dns2.alt-name.test",
            "*.wildcard.test",
        ],
    );
    let v = verifier(&[&root], Verification::Full);
    assert_eq!(verify(&v, &cert, &[], "dns1.alt-name.test"), Ok(()));
    assert_eq!(verify(&v, &cert, &[], "DNS2.Alt-Name.Test"), Ok(()));
    assert_eq!(verify(&v, &cert, &[], "foo.wildcard.test"), Ok(()));
    // The wildcard covers exactly one label.
    let deep = verify(&v, &cert, &[], "deep.sub.wildcard.test").unwrap_err();
    assert!(matches!(deep, CertificateRefusal::NameMismatch { .. }));
    assert!(verify(&v, &cert, &[], "wildcard.test").is_err());
    let wrong = verify(&v, &cert, &[], "wronghost.alt-name.test").unwrap_err();
    assert_eq!(
        wrong,
        CertificateRefusal::NameMismatch {
            expected: "wronghost.alt-name.test".into(),
            presented: vec![
                "dns1.alt-name.test".into(),
                "dns2.alt-name.test".into(),
                "*.wildcard.test".into()
            ],
        }
    );
    let msg = wrong.to_string();
    assert!(msg.contains("valid for dns1.alt-name.test, dns2.alt-name.test, *.wildcard.test"));
    assert!(msg.contains("not wronghost.alt-name.test"), "{msg}");
}

#[test]
fn cn_is_ignored_when_sans_exist_and_never_used_alone() {
    let root = ca("root");
    let v = verifier(&[&root], Verification::Full);
    let both = leaf(&root, Some("common-name.test"), &["dns1.alt-name.test"]);
    assert!(matches!(
        verify(&v, &both, &[], "common-name.test"),
        Err(CertificateRefusal::NameMismatch { .. })
    ));
    let cn_only = leaf(&root, Some("common-name.test"), &[]);
    let refusal = verify(&v, &cn_only, &[], "common-name.test").unwrap_err();
    assert_eq!(
        refusal,
        CertificateRefusal::NoSubjectAltName {
            expected: "common-name.test".into(),
            common_name: Some("common-name.test".into()),
        }
    );
    let msg = refusal.to_string();
    assert!(msg.contains("no subjectAltName"), "{msg}");
    assert!(msg.contains("libpq would accept"), "{msg}");
    let no_names = leaf(&root, None, &[]);
    assert!(matches!(
        verify(&v, &no_names, &[], "common-name.test"),
        Err(CertificateRefusal::NoSubjectAltName {
            common_name: None,
            ..
        })
    ));
}

#[test]
fn ip_hosts_match_ip_sans() {
    let root = ca("root");
    let v = verifier(&[&root], Verification::Full);
    let cert = leaf(
        &root,
        None,
        &["192.0.2.1", "2001:db8::1", "db.example.test"],
    );
    assert_eq!(verify(&v, &cert, &[], "192.0.2.1"), Ok(()));
    assert_eq!(verify(&v, &cert, &[], "2001:db8::1"), Ok(()));
    assert!(matches!(
        verify(&v, &cert, &[], "192.0.2.2"),
        Err(CertificateRefusal::NameMismatch { .. })
    ));
    // A DNS name never matches an IP subjectAltName.
    let ip_only = leaf(&root, None, &["192.0.2.1"]);
    assert!(verify(&v, &ip_only, &[], "db.example.test").is_err());
}

#[test]
fn wrong_ca_is_unknown_issuer() {
    let root = ca("root");
    let other = ca("other root");
    let cert = leaf(&root, None, &["db.example.test"]);
    let v = verifier(&[&other], Verification::Full);
    let refusal = verify(&v, &cert, &[], "db.example.test").unwrap_err();
    match &refusal {
        CertificateRefusal::UnknownIssuer {
            issuer,
            intermediates_sent,
            trusted,
            ..
        } => {
            assert_eq!(issuer, "CN=root");
            assert_eq!(*intermediates_sent, 0);
            assert_eq!(trusted, "sslrootcert=test-ca.pem");
        }
        other => panic!("{other:?}"),
    }
    // Chain errors win over name errors, also in verify-ca mode.
    let chain_only = verifier(&[&other], Verification::ChainOnly);
    assert!(verify(&chain_only, &cert, &[], "elsewhere.test").is_err());
}

#[test]
fn intermediates_sent_by_the_server_are_used() {
    let root = ca("root");
    let mid = intermediate(&root, "intermediate");
    let cert = leaf(&mid, None, &["db.example.test"]);
    let v = verifier(&[&root], Verification::Full);
    assert_eq!(
        verify(&v, &cert, std::slice::from_ref(&mid.der), "db.example.test"),
        Ok(())
    );
    let missing = verify(&v, &cert, &[], "db.example.test").unwrap_err();
    assert!(
        matches!(&missing, CertificateRefusal::UnknownIssuer { issuer, intermediates_sent: 0, .. } if issuer == "CN=intermediate"),
        "{missing:?}"
    );
}

#[test]
fn expired_certificate_is_refused_with_its_dates() {
    let root = ca("root");
    let cert = leaf_with(&root, None, &["db.example.test"], |p| {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    });
    let v = verifier(&[&root], Verification::Full);
    let refusal = verify(&v, &cert, &[], "db.example.test").unwrap_err();
    match &refusal {
        CertificateRefusal::Expired { not_after, .. } => {
            assert_eq!(not_after, "2001-01-01 00:00:00 UTC");
        }
        other => panic!("{other:?}"),
    }
    assert!(refusal.to_string().contains("renew"));
}

#[test]
fn chain_only_mode_skips_names_and_nothing_mode_skips_all() {
    let root = ca("root");
    let cert = leaf(&root, None, &["db.example.test"]);
    let chain_only = verifier(&[&root], Verification::ChainOnly);
    assert_eq!(verify(&chain_only, &cert, &[], "other.test"), Ok(()));
    let nothing = verifier(&[], Verification::Nothing);
    assert_eq!(verify(&nothing, &cert, &[], "other.test"), Ok(()));
}

#[test]
fn peer_certificate_describes_the_certificate() {
    let root = ca("root");
    let cert = leaf_with(&root, Some("db"), &["db.example.test", "10.0.0.1"], |p| {
        p.not_after = rcgen::date_time_ymd(2040, 6, 30);
    });
    let peer = PeerCertificate::from_der(cert.as_ref()).unwrap();
    assert_eq!(peer.facts.subject, "CN=db");
    assert_eq!(peer.facts.issuer, "CN=root");
    assert_eq!(peer.facts.common_name.as_deref(), Some("db"));
    assert_eq!(peer.facts.dns_sans, vec!["db.example.test".to_string()]);
    assert_eq!(
        peer.facts.ip_sans,
        vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(peer.not_after_utc(), "2040-06-30 00:00:00 UTC");
    assert!(peer.has_subject_alt_name());
    let e = PeerCertificate::from_der(b"not a certificate").unwrap_err();
    assert!(matches!(e, pgsec_core::Error::Certificate { .. }), "{e:?}");
}

#[test]
fn wildcard_rules_follow_libpq() {
    assert!(dns_name_matches("*.example.com", "a.example.com"));
    assert!(dns_name_matches("*.EXAMPLE.com", "A.example.COM"));
    assert!(!dns_name_matches("*.example.com", ".example.com"));
    assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
    assert!(!dns_name_matches("*.example.com", "example.com"));
    assert!(!dns_name_matches("f*.example.com", "foo.example.com"));
    assert!(!dns_name_matches("*", "localhost"));
    assert!(dns_name_matches("db.example.com", "DB.example.com"));
}

#[test]
fn channel_binding_hash_follows_the_signature_algorithm() {
    let root = ca("root");
    // rcgen's default key is ECDSA P-256 with SHA-256.
    let cert = leaf(&root, None, &["db.example.test"]);
    let hash = tls_server_end_point(cert.as_ref()).unwrap();
    assert_eq!(hash.len(), 32);
    use sha2::Digest;
    assert_eq!(hash, sha2::Sha256::digest(cert.as_ref()).to_vec());
    assert_eq!(tls_server_end_point(b"not a certificate"), None);
}
