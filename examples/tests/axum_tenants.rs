//! The `axum_tenants` service driven over HTTP on a loopback port, with two tenants,
//! against a real PostgreSQL from pgsec-testkit.

use std::net::SocketAddr;

use pgsec_client::{Config, TenantId, TenantPool};
use pgsec_examples::tenants_http::{router, schema_sql, Note, Tokens};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One HTTP/1.1 request on a fresh connection; returns the status and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    if let Some(body) = body {
        request.push_str(body);
    }
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("no end of headers in the response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .ok_or("no status line")?
        .parse()?;
    Ok((status, body.to_owned()))
}

struct App {
    addr: SocketAddr,
    acme_token: String,
    globex_token: String,
}

async fn start_app() -> Result<App, Box<dyn std::error::Error>> {
    let server = pgsec_testkit::shared().await?;
    let db = server.fresh_database().await?;
    db.admin_client()
        .await?
        .batch_execute(&schema_sql(pgsec_testkit::APP_USER)?)
        .await?;
    let pool = TenantPool::builder(&Config::parse(&db.app_conninfo())?)
        .max_size(4)
        .build()
        .await?;
    let acme_token = uuid::Uuid::new_v4().simple().to_string();
    let globex_token = uuid::Uuid::new_v4().simple().to_string();
    let tokens = Tokens::new()
        .with(acme_token.clone(), TenantId::text("acme")?)
        .with(globex_token.clone(), TenantId::text("globex")?);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router(pool, tokens)).await;
    });
    Ok(App {
        addr,
        acme_token,
        globex_token,
    })
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn each_tenant_sees_only_its_own_notes_over_http() -> TestResult {
    let app = start_app().await?;
    let acme = bearer(&app.acme_token);
    let globex = bearer(&app.globex_token);

    // Writes: acme by token, globex once by token and once through the gateway header.
    let (status, body) = http(
        app.addr,
        "POST",
        "/notes",
        &[("Authorization", &acme)],
        Some(r#"{"body":"acme plan"}"#),
    )
    .await?;
    assert_eq!(status, 201, "{body}");
    let acme_note: Note = serde_json::from_str(&body)?;
    assert_eq!(acme_note.tenant_id, "acme");
    let (status, body) = http(
        app.addr,
        "POST",
        "/notes",
        &[("Authorization", &globex)],
        Some(r#"{"body":"globex secret"}"#),
    )
    .await?;
    assert_eq!(status, 201, "{body}");
    let globex_note: Note = serde_json::from_str(&body)?;
    assert_eq!(globex_note.tenant_id, "globex");
    let (status, body) = http(
        app.addr,
        "POST",
        "/notes",
        &[("X-Tenant-Id", "globex")],
        Some(r#"{"body":"via gateway"}"#),
    )
    .await?;
    assert_eq!(status, 201, "{body}");

    // Reads: each tenant sees exactly its own notes.
    let (status, body) = http(app.addr, "GET", "/notes", &[("Authorization", &acme)], None).await?;
    assert_eq!(status, 200, "{body}");
    let notes: Vec<Note> = serde_json::from_str(&body)?;
    assert_eq!(notes, vec![acme_note.clone()]);

    let (status, body) = http(
        app.addr,
        "GET",
        "/notes",
        &[("Authorization", &globex)],
        None,
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    let notes: Vec<Note> = serde_json::from_str(&body)?;
    let bodies: Vec<&str> = notes.iter().map(|n| n.body.as_str()).collect();
    assert_eq!(bodies, ["globex secret", "via gateway"]);
    assert!(notes.iter().all(|n| n.tenant_id == "globex"));

    let (status, body) = http(app.addr, "GET", "/notes", &[("X-Tenant-Id", "acme")], None).await?;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Vec<Note>>(&body)?,
        vec![acme_note.clone()]
    );

    // Another tenant's note by id is a 404, like a missing one.
    let path = format!("/notes/{}", globex_note.id);
    let (status, _) = http(app.addr, "GET", &path, &[("Authorization", &acme)], None).await?;
    assert_eq!(status, 404);
    let (status, body) = http(app.addr, "GET", &path, &[("Authorization", &globex)], None).await?;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Note>(&body)?, globex_note);
    // A tenant with no rows sees none.
    let (status, body) = http(
        app.addr,
        "GET",
        "/notes",
        &[("X-Tenant-Id", "initech")],
        None,
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(body, "[]");
    Ok(())
}

#[tokio::test]
async fn requests_without_a_valid_tenant_are_refused() -> TestResult {
    let app = start_app().await?;
    let acme = bearer(&app.acme_token);

    let (status, body) = http(app.addr, "GET", "/notes", &[], None).await?;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("no tenant"), "{body}");
    let (status, _) = http(app.addr, "POST", "/notes", &[], Some(r#"{"body":"x"}"#)).await?;
    assert_eq!(status, 401);
    let (status, _) = http(
        app.addr,
        "GET",
        "/notes",
        &[("Authorization", "Bearer not-a-token")],
        None,
    )
    .await?;
    assert_eq!(status, 401);
    let (status, _) = http(
        app.addr,
        "GET",
        "/notes",
        &[("Authorization", "Basic YWNtZTpw")],
        None,
    )
    .await?;
    assert_eq!(status, 401);
    for bad in ["acme corp", "acme'--", "x".repeat(200).as_str()] {
        let (status, body) = http(app.addr, "GET", "/notes", &[("X-Tenant-Id", bad)], None).await?;
        assert_eq!(status, 400, "{bad:?}: {body}");
    }
    // A token and a header that disagree.
    let (status, body) = http(
        app.addr,
        "GET",
        "/notes",
        &[("Authorization", &acme), ("X-Tenant-Id", "globex")],
        None,
    )
    .await?;
    assert_eq!(status, 400, "{body}");
    // The one route without a tenant.
    let (status, body) = http(app.addr, "GET", "/health", &[], None).await?;
    assert_eq!((status, body.as_str()), (200, "ok"));
    // A rejected request wrote nothing.
    let (status, body) = http(app.addr, "GET", "/notes", &[("Authorization", &acme)], None).await?;
    assert_eq!((status, body.as_str()), (200, "[]"));
    Ok(())
}
