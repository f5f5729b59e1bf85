//! The major a server runs: asked for with `ServerBuilder::major` or `PGSEC_PG_MAJOR`,
//! reported by `TestServer::major_version()` as the server itself says, and never
//! silently substituted.

use pgsec_testkit::{
    major_from_env, shared, Backend, Error, TestServer, DEFAULT_MAJOR, ENV_IMAGE, ENV_PG_MAJOR,
};

/// `major_version()` is the running server's, and it is the major asked for.
#[tokio::test]
async fn the_shared_server_runs_the_major_asked_for() {
    let server = shared().await.unwrap();
    let major = server.major_version();
    let client = server.admin_client().await.unwrap();
    let version: String = client
        .query_one("select version()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        version.starts_with(&format!("PostgreSQL {major}.")),
        "major_version() says {major}, the server says {version}"
    );
    let num: String = client
        .query_one("show server_version_num", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(num.parse::<u32>().unwrap() / 10000, major);
    match major_from_env().unwrap() {
        Some(asked) => assert_eq!(major, asked, "{ENV_PG_MAJOR}={asked}"),
        None if server.backend() == Backend::Container
            && std::env::var(ENV_IMAGE).map_or(true, |v| v.is_empty()) =>
        {
            assert_eq!(major, DEFAULT_MAJOR, "the container default");
        }
        None => {}
    }
    eprintln!(
        "pgsec-testkit: the {} backend runs PostgreSQL {major} ({version})",
        server.backend()
    );
}

/// A major nobody builds an image or installs binaries for fails before anything
/// starts, with the fix in the message.
#[tokio::test]
async fn a_major_that_is_not_there_is_an_error_naming_the_fix() {
    let err = TestServer::builder().major(42).start().await.unwrap_err();
    let text = err.to_string();
    match &err {
        Error::MajorUnavailable {
            major, asked_by, ..
        } => {
            assert_eq!(*major, 42);
            assert_eq!(*asked_by, "ServerBuilder::major");
        }
        other => panic!("expected MajorUnavailable, got {other:?}"),
    }
    assert!(text.contains("PostgreSQL 42"), "{text}");
    let backend = Backend::from_env().unwrap();
    match backend {
        Backend::Container => assert!(
            text.contains("pgsec/postgres:42") || text.contains(ENV_IMAGE),
            "{text}"
        ),
        _ => assert!(text.contains("postgresql-42"), "{text}"),
    }
}

/// The local backend never runs another major than the one asked for.
#[tokio::test]
async fn the_local_backend_refuses_a_major_that_is_not_installed() {
    let err = TestServer::builder()
        .backend(Backend::Local)
        .major(42)
        .start()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::MajorUnavailable { major: 42, .. }),
        "{text}"
    );
    assert!(
        text.contains("install postgresql-42") && text.contains("container backend"),
        "{text}"
    );
}

/// An image of another major than the one asked for is refused once the server says
/// what it runs (an explicit image outranks the major's own image).
#[tokio::test]
async fn an_image_of_another_major_is_refused() {
    if Backend::from_env().unwrap() != Backend::Container {
        eprintln!("pgsec-testkit: LOUD NOTE: image check needs the container backend; checked the local refusal instead");
        let err = TestServer::builder()
            .backend(Backend::Local)
            .major(42)
            .start()
            .await
            .unwrap_err();
        assert!(matches!(err, Error::MajorUnavailable { .. }), "{err}");
        return;
    }
    let shared_major = shared().await.unwrap().major_version();
    let other = if shared_major == 15 { 17 } else { 15 };
    let err = TestServer::builder()
        .image(format!("pgsec/postgres:{shared_major}"))
        .major(other)
        .start()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::MajorUnavailable { major, .. } if major == other),
        "{text}"
    );
    assert!(
        text.contains(&format!("started PostgreSQL {shared_major}")),
        "{text}"
    );
}
