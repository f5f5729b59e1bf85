//! The verdict matrix of PostgreSQL's src/test/ssl/t/001_ssltests.pl, on testkit
//! servers presenting rcgen certificates. Names are checked against `host` while the
//! socket goes to `hostaddr=127.0.0.1`, so no DNS is involved. psql and pgsec-client must
//! agree, except for certificates without subjectAltName (libpq falls back to the CN;
//! pgsec-client refuses and says why).

use pgsec_client::CertificateRefusal;
use pgsec_testkit::TestCa;

use crate::harness::{conninfo, run_both, CaServer, Files, Verdicts};

/// Expected verdicts: `true` = connects.
struct Expect {
    psql: bool,
    pgsec: bool,
}

const BOTH_OK: Expect = Expect {
    psql: true,
    pgsec: true,
};
const BOTH_REFUSE: Expect = Expect {
    psql: false,
    pgsec: false,
};

fn check(case: &str, v: &Verdicts, expect: Expect) {
    eprintln!(
        "matrix | {case} | psql {} | pgsec {} |\n{}",
        if v.psql_ok() { "ok" } else { "refused" },
        if v.pgsec_ok() { "ok" } else { "refused" },
        v.describe()
    );
    assert_eq!(
        v.psql_ok(),
        expect.psql,
        "{case}: psql verdict\n{}",
        v.describe()
    );
    assert_eq!(
        v.pgsec_ok(),
        expect.pgsec,
        "{case}: pgsec verdict\n{}",
        v.describe()
    );
}

#[tokio::test]
async fn san_list_with_wildcard_and_cn_ignored_and_wrong_ca() {
    let s = CaServer::issued(|ca| {
        ca.issue(
            &[
                "dns1.alt-name.pg-ssltest.test",
                "dns2.alt-name.pg-ssltest.test",
                "*.wildcard.pg-ssltest.test",
            ],
            Some("common-name.pg-ssltest.test"),
        )
    })
    .await;
    let addr = Some("127.0.0.1");

    for host in [
        "dns1.alt-name.pg-ssltest.test",
        "dns2.alt-name.pg-ssltest.test",
        "foo.wildcard.pg-ssltest.test",
    ] {
        let v = s.run(host, addr).await;
        check(&format!("SAN list: host={host}"), &v, BOTH_OK);
        let details = v.pgsec.as_ref().unwrap();
        assert!(details.is_verified());
        let tls = details.tls.as_ref().expect("a TLS session");
        assert_eq!(tls.server_name, host);
        let peer = tls.peer_certificate.as_ref().expect("the peer certificate");
        assert_eq!(peer.facts.dns_sans.len(), 3);
        assert_eq!(
            peer.facts.common_name.as_deref(),
            Some("common-name.pg-ssltest.test")
        );
    }

    for host in [
        "wronghost.alt-name.pg-ssltest.test",
        "deep.subdomain.wildcard.pg-ssltest.test",
        // CN + SANs: the CN is ignored by both.
        "common-name.pg-ssltest.test",
    ] {
        let v = s.run(host, addr).await;
        check(&format!("SAN list: host={host}"), &v, BOTH_REFUSE);
        match v.refusal() {
            Some(CertificateRefusal::NameMismatch {
                expected,
                presented,
            }) => {
                assert_eq!(expected, host);
                assert_eq!(presented.len(), 3);
            }
            other => panic!("{host}: expected a name mismatch, got {other:?}"),
        }
        let msg = pgsec_core::display_chain(v.pgsec.as_ref().unwrap_err());
        assert!(
            msg.contains(&format!(
                "valid for dns1.alt-name.pg-ssltest.test, dns2.alt-name.pg-ssltest.test, \
                 *.wildcard.pg-ssltest.test, not {host}"
            )),
            "{msg}"
        );
    }

    // An IP host is never matched by DNS names (libpq would try the CN, which is not
    // the address either).
    let v = s.run("127.0.0.1", None).await;
    check("SAN list: host=127.0.0.1", &v, BOTH_REFUSE);

    // Wrong CA: the same server checked against another root.
    let other = TestCa::new("some other root").unwrap();
    let wrong = s.files.write("wrong-root.crt", &other.cert_pem);
    let v = s
        .run_trusting("dns1.alt-name.pg-ssltest.test", addr, &wrong)
        .await;
    check("wrong CA", &v, BOTH_REFUSE);
    assert!(
        matches!(v.refusal(), Some(CertificateRefusal::UnknownIssuer { issuer, .. }) if issuer == &format!("CN={}", CaServer::ROOT)),
        "{:?}",
        v.refusal()
    );
}

#[tokio::test]
async fn cn_only_is_the_one_divergence() {
    let s = CaServer::issued(|ca| ca.issue(&[], Some("common-name.pg-ssltest.test"))).await;
    let v = s
        .run("common-name.pg-ssltest.test", Some("127.0.0.1"))
        .await;
    // libpq falls back to the CN; pgsec-client refuses and says why.
    check(
        "CN only (no SAN)",
        &v,
        Expect {
            psql: true,
            pgsec: false,
        },
    );
    assert_eq!(
        v.refusal(),
        Some(&CertificateRefusal::NoSubjectAltName {
            expected: "common-name.pg-ssltest.test".into(),
            common_name: Some("common-name.pg-ssltest.test".into()),
        })
    );
    let msg = pgsec_core::display_chain(v.pgsec.as_ref().unwrap_err());
    assert!(
        msg.contains("no subjectAltName") && msg.contains("libpq would accept"),
        "{msg}"
    );
}

#[tokio::test]
async fn no_names_at_all() {
    let s = CaServer::issued(|ca| ca.issue(&[], None)).await;
    let v = s
        .run("common-name.pg-ssltest.test", Some("127.0.0.1"))
        .await;
    check("no names", &v, BOTH_REFUSE);
    assert!(matches!(
        v.refusal(),
        Some(CertificateRefusal::NoSubjectAltName {
            common_name: None,
            ..
        })
    ));
}

#[tokio::test]
async fn expired_certificate() {
    let s = CaServer::issued(|ca| {
        ca.issue_with(&["db.pg-ssltest.test"], None, |p| {
            p.not_before = rcgen::date_time_ymd(2001, 1, 1);
            p.not_after = rcgen::date_time_ymd(2002, 1, 1);
        })
    })
    .await;
    let v = s.run("db.pg-ssltest.test", Some("127.0.0.1")).await;
    check("expired", &v, BOTH_REFUSE);
    assert!(
        matches!(v.refusal(), Some(CertificateRefusal::Expired { not_after, .. }) if not_after == "2002-01-01 00:00:00 UTC"),
        "{:?}",
        v.refusal()
    );
}

#[tokio::test]
async fn ip_san_for_an_ip_host() {
    let s = CaServer::issued(|ca| ca.issue(&["127.0.0.1"], None)).await;
    let v = s.run("127.0.0.1", None).await;
    check("IP SAN, host=127.0.0.1", &v, BOTH_OK);
    let peer = v
        .pgsec
        .as_ref()
        .unwrap()
        .tls
        .as_ref()
        .unwrap()
        .peer_certificate
        .clone()
        .unwrap();
    assert_eq!(
        peer.facts.ip_sans,
        vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    // The same certificate does not cover a DNS name.
    let v = s.run("db.pg-ssltest.test", Some("127.0.0.1")).await;
    check("IP SAN, host=db.pg-ssltest.test", &v, BOTH_REFUSE);
}

#[tokio::test]
async fn intermediate_sent_by_the_server() {
    let s = CaServer::issued(|root| {
        let mid = root.intermediate("matrix intermediate")?;
        let (cert, key) = mid.issue(&["db.pg-ssltest.test"], None)?;
        Ok((format!("{cert}{}", mid.cert_pem), key))
    })
    .await;
    let v = s.run("db.pg-ssltest.test", Some("127.0.0.1")).await;
    check("intermediate sent by the server", &v, BOTH_OK);
    assert_eq!(
        v.pgsec
            .as_ref()
            .unwrap()
            .tls
            .as_ref()
            .unwrap()
            .certificates_sent,
        2
    );
}

#[tokio::test]
async fn intermediate_not_sent() {
    let mut mid_pem = String::new();
    let s = CaServer::issued(|root| {
        let mid = root.intermediate("matrix intermediate")?;
        mid_pem.clone_from(&mid.cert_pem);
        mid.issue(&["db.pg-ssltest.test"], None)
    })
    .await;
    let v = s.run("db.pg-ssltest.test", Some("127.0.0.1")).await;
    check("intermediate not sent", &v, BOTH_REFUSE);
    assert!(
        matches!(
            v.refusal(),
            Some(CertificateRefusal::UnknownIssuer { issuer, intermediates_sent: 0, .. })
                if issuer == "CN=matrix intermediate"
        ),
        "{:?}",
        v.refusal()
    );
    // With root and intermediate in sslrootcert both accept again (src/test/ssl's
    // root+server_ca.crt).
    let root = std::fs::read_to_string(&s.root).unwrap();
    let both = s.files.write("root+mid.crt", &format!("{root}{mid_pem}"));
    let v = s
        .run_trusting("db.pg-ssltest.test", Some("127.0.0.1"), &both)
        .await;
    check("intermediate in sslrootcert", &v, BOTH_OK);
}

#[tokio::test]
async fn server_with_ssl_off() {
    let server = pgsec_testkit::TestServer::builder()
        .ssl(false)
        .hba_lines(["host all all all scram-sha-256"])
        .start()
        .await
        .expect("a server with ssl = off");
    let files = Files::new();
    let ca = TestCa::new("unused root").unwrap();
    let root = files.write("root.crt", &ca.cert_pem);
    let v = run_both(
        &server,
        &files,
        &conninfo(&server, "localhost", Some("127.0.0.1"), &root, ""),
    )
    .await;
    check("ssl off", &v, BOTH_REFUSE);
    let msg = pgsec_core::display_chain(v.pgsec.as_ref().unwrap_err());
    assert!(msg.contains("server does not support TLS"), "{msg}");
}
