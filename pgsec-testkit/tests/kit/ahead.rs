//! Databases made ahead by `TestServer::fresh_database`: each handed out once, each a
//! clone of the untouched template, never more spares than asked for, and the task that
//! makes them survives a server restart.

use std::time::Duration;

use pgsec_testkit::{Backend, TestServer, DATABASES_AHEAD};

/// The kit's test databases that exist on the server.
async fn test_databases(server: &TestServer) -> Vec<String> {
    server
        .admin_client()
        .await
        .unwrap()
        .query(
            "select datname from pg_database where datname like 'pgsec\\_test\\_%' order by oid",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Waits until the background task has made what it will make (bounded).
async fn settle(server: &TestServer, at_least: usize) -> Vec<String> {
    let mut seen = test_databases(server).await;
    for _ in 0..100 {
        if seen.len() >= at_least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = test_databases(server).await;
    }
    // A moment more: a clone beyond the bound would show up now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    test_databases(server).await
}

#[tokio::test]
async fn clones_made_ahead_are_distinct_fresh_and_bounded() {
    let server = TestServer::builder().start().await.unwrap();
    let mut handed = Vec::new();
    for i in 0..5 {
        let db = server.fresh_database().await.unwrap();
        assert!(
            !handed.contains(&db.name().to_owned()),
            "{} twice",
            db.name()
        );
        let app = db.app_client().await.unwrap();
        // Each is a clone of the untouched template: what earlier tests wrote is absent.
        let n: i64 = app
            .query_one(
                "select count(*) from pg_class where relname like 'written_by_%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "database {i} saw an earlier database's table");
        app.batch_execute(&format!("create table written_by_{i} (id int)"))
            .await
            .unwrap();
        handed.push(db.name().to_owned());
    }
    let all = settle(&server, handed.len() + DATABASES_AHEAD).await;
    for name in &handed {
        assert!(all.contains(name), "{name} missing from {all:?}");
    }
    let spares = all.len() - handed.len();
    assert!(
        spares <= DATABASES_AHEAD,
        "{spares} spare databases, at most {DATABASES_AHEAD} asked for: {all:?}"
    );
    assert!(spares >= 1, "no database made ahead: {all:?}");
}

#[tokio::test]
async fn zero_ahead_makes_only_what_is_asked_for() {
    let server = TestServer::builder()
        .databases_ahead(0)
        .start()
        .await
        .unwrap();
    let db = server.fresh_database().await.unwrap();
    let all = settle(&server, 1).await;
    assert_eq!(all, vec![db.name().to_owned()]);
}

#[tokio::test]
async fn a_restart_does_not_break_fresh_databases() {
    // restart() is the local backend's (an operator's pg_ctl restart).
    let mut server = TestServer::builder()
        .backend(Backend::Local)
        .start()
        .await
        .unwrap();
    let before = server.fresh_database().await.unwrap();
    server.restart().await.unwrap();
    // The clones made ahead survive (they are committed databases); the task's session
    // did not: the next calls still succeed, a new task taking over.
    let mut names = vec![before.name().to_owned()];
    for _ in 0..DATABASES_AHEAD + 2 {
        let db = server.fresh_database().await.unwrap();
        db.app_client()
            .await
            .unwrap()
            .simple_query("select 1")
            .await
            .unwrap();
        assert!(!names.contains(&db.name().to_owned()));
        names.push(db.name().to_owned());
    }
}
