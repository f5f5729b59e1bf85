//! `TenantSchema` on a real server: the application role sees only its tenant's rows,
//! RLS is forced, and a non-superuser owner is held to the policy too.

use pgsec_testkit::{shared, TenantSchema, APP_USER};

/// The tenants of the rows `client` sees in `items` with the setting at `tenant`
/// (`None`: unset), in one transaction.
async fn visible(client: &tokio_postgres::Client, tenant: Option<&str>) -> Vec<String> {
    client.batch_execute("begin").await.unwrap();
    if let Some(t) = tenant {
        client
            .execute(
                "select pg_catalog.set_config('app.current_tenant_id', $1, true)",
                &[&t],
            )
            .await
            .unwrap();
    }
    let rows = client
        .query("select tenant_id from items order by id", &[])
        .await
        .unwrap();
    client.batch_execute("commit").await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

#[tokio::test]
async fn the_tenant_schema_shows_the_app_role_only_its_tenants_rows() {
    let db = shared().await.unwrap().fresh_database().await.unwrap();
    TenantSchema::new("items")
        .serial_id()
        .column("body", "text not null")
        .apply(&db)
        .await
        .unwrap();
    let admin = db.admin_client().await.unwrap();
    admin
        .batch_execute(
            "insert into items (tenant_id, body) values ('a', 'a1'), ('b', 'b1'), ('a', 'a2')",
        )
        .await
        .unwrap();

    let row = admin
        .query_one(
            "select c.relrowsecurity, c.relforcerowsecurity, \
                    pg_catalog.pg_get_userbyid(c.relowner) <> $1 \
             from pg_catalog.pg_class c where c.oid = 'items'::regclass",
            &[&APP_USER],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, bool>(0),
            row.get::<_, bool>(1),
            row.get::<_, bool>(2)
        ),
        (true, true, true),
        "RLS enabled, forced, not owned by the application role"
    );

    let app = db.app_client().await.unwrap();
    assert_eq!(visible(&app, Some("a")).await, ["a", "a"]);
    assert_eq!(visible(&app, Some("b")).await, ["b"]);
    assert!(visible(&app, Some("c")).await.is_empty());
    assert!(
        visible(&app, None).await.is_empty(),
        "unset matches nothing"
    );

    // Inserts take the tenant from the setting; another tenant's row is refused.
    app.batch_execute(
        "begin; select pg_catalog.set_config('app.current_tenant_id', 'b', true);
         insert into items (body) values ('b2'); commit;",
    )
    .await
    .unwrap();
    assert_eq!(visible(&app, Some("b")).await, ["b", "b"]);
    let refused = app
        .batch_execute(
            "begin; select pg_catalog.set_config('app.current_tenant_id', 'b', true);
             insert into items (tenant_id, body) values ('a', 'smuggled');",
        )
        .await
        .unwrap_err();
    assert!(
        refused
            .as_db_error()
            .is_some_and(|e| e.message().contains("row-level security")),
        "{refused:?}"
    );
    app.batch_execute("rollback").await.unwrap();

    // FORCE: an owner that is not a superuser does not bypass the policy.
    let owner = format!("{}_owner", db.name());
    admin
        .batch_execute(&format!(
            "create role \"{owner}\" nologin;
             grant usage on schema public to \"{owner}\";
             alter table items owner to \"{owner}\";
             set role \"{owner}\";"
        ))
        .await
        .unwrap();
    let owner_sees = visible(&admin, Some("a")).await;
    admin
        .batch_execute(&format!(
            "reset role;
             alter table items owner to current_user;
             drop owned by \"{owner}\";
             drop role \"{owner}\";"
        ))
        .await
        .unwrap();
    assert_eq!(owner_sees, ["a", "a"], "the owner bypassed the policy");
}
