//! Errors follow one convention (issue 13): the message describes its own layer, the
//! cause sits in `source()`, and `pgsec_core::display_chain` (what the CLI prints) shows
//! each cause once. What a person sees says why, and never holds the password.

use pgsec_client::{Config, Error, TenantPool};
use pgsec_testkit::Credentials;

#[tokio::test]
async fn a_pool_with_a_wrong_password_says_password_authentication_failed() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let wrong = "Zx9-Wr0ng-Pool-Passw0rd";
    let conninfo = server.conninfo("postgres", &Credentials::new(&info.app.user, wrong));
    let config = Config::parse(&conninfo).unwrap();
    let e = TenantPool::builder(&config).build().await.unwrap_err();
    assert!(matches!(e, Error::PoolConnect { .. }), "{e:?}");
    let msg = pgsec_core::display_chain(&e);
    assert!(
        msg.starts_with("could not connect while building the TenantPool: "),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "password authentication failed for user \"{}\"",
            info.app.user
        )),
        "{msg}"
    );
    assert!(!msg.contains("db error") && !msg.contains('\n'), "{msg}");
    // The message is this layer's; the cause is not repeated in it.
    assert_eq!(
        e.to_string(),
        "could not connect while building the TenantPool"
    );
    assert_eq!(
        msg.matches("password authentication failed").count(),
        1,
        "{msg}"
    );
    for text in [msg, format!("{e:?}")] {
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(info.app.password()), "{text}");
    }
    // The cause is still reachable the Rust way.
    assert!(std::error::Error::source(&e).is_some());
}

#[tokio::test]
async fn a_pool_refusing_the_certificate_names_the_certificate_problem() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let conninfo = info
        .conninfo_for(&info.app.user, "postgres")
        .host("db.elsewhere.test")
        .password(info.app.password())
        .build();
    let e = TenantPool::builder(&Config::parse(&conninfo).unwrap())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::PoolConnect { .. }), "{e:?}");
    let msg = pgsec_core::display_chain(&e);
    assert!(
        msg.contains(
            "server certificate is valid for localhost, 127.0.0.1, ::1, not db.elsewhere.test"
        ),
        "{msg}"
    );
    assert!(pgsec_client::certificate_refusal(&e).is_some());
    assert!(!msg.contains(info.app.password()));
}

#[tokio::test]
async fn connect_errors_carry_the_server_message() {
    let server = pgsec_testkit::shared().await.unwrap();
    let info = server.info();
    let wrong = "Zx9-Wr0ng-Connect-Passw0rd";
    let conninfo = server.conninfo("postgres", &Credentials::new(&info.app.user, wrong));
    let e = pgsec_client::connect(&Config::parse(&conninfo).unwrap())
        .await
        .unwrap_err();
    let msg = pgsec_core::display_chain(&e);
    assert_eq!(
        msg.matches("password authentication failed").count(),
        1,
        "{msg}"
    );
    assert!(
        !e.to_string().contains("password authentication failed"),
        "{e}"
    );
    assert!(!msg.contains(wrong), "{msg}");
}
