//! `sslcert` / `sslkey`: certificate authentication (`hostssl ... cert`), through psql
//! and pgsec-client.

use pgsec_client::{connect, Config, Environment, Error};
use pgsec_testkit::TestCa;

use crate::harness::{app_client_cert, client_cert_server, run_both, Files};

#[cfg(unix)]
fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[tokio::test]
async fn client_certificate_authenticates_and_its_key_must_be_private() {
    let ca = TestCa::new("cert auth root").unwrap();
    let server = client_cert_server(&ca).await;
    let info = server.info();
    let (client_cert, client_key) = app_client_cert(&ca);
    let files = Files::new();
    let crt = files.write("client.crt", &client_cert);
    let key = files.write("client.key", &client_key);
    chmod(&key, 0o600);
    // The server's CA file is `ca`'s certificate.
    let base = info
        .conninfo_for(&info.app.user, "postgres")
        .option("sslmode", "verify-full")
        .build();

    let with_cert = format!("{base} sslcert={} sslkey={}", crt.display(), key.display());
    let v = run_both(&server, &files, &with_cert).await;
    assert!(v.psql_ok() && v.pgsec_ok(), "{}", v.describe());

    // libpq skips an absent certificate file; the server then refuses both.
    let without = format!("{base} sslcert={}/absent.crt", files.home().display());
    let v = run_both(&server, &files, &without).await;
    assert!(!v.psql_ok() && !v.pgsec_ok(), "{}", v.describe());
    let msg = pgsec_core::display_chain(v.pgsec.as_ref().unwrap_err());
    assert!(
        msg.contains("connection requires a valid client certificate"),
        "{msg}"
    );
    assert!(v
        .psql
        .as_ref()
        .unwrap_err()
        .contains("connection requires a valid client certificate"));

    // A key readable by others is refused before connecting (as libpq does).
    chmod(&key, 0o644);
    let config = Config::parse_with_env(&with_cert, &Environment::empty()).unwrap();
    let e = connect(&config).await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::CertificateFile {
                what: "private key file",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("group or world access"), "{e}");
}
