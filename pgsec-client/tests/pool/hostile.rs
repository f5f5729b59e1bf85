//! SQL injection through the tenant id or the setting name is impossible by
//! construction: hostile text never becomes a TenantId or SettingName, and accepted
//! values are bound, so the server sees exactly the value.

use std::sync::OnceLock;

use pgsec_client::{SettingName, TenantId, TenantPool};
use pgsec_testkit::TestDatabase;
use proptest::prelude::*;
use tokio::runtime::Runtime;

use crate::{all_items, app_pool, tenant_database};

const HOSTILE: &[&str] = &[
    "'; drop table items; --",
    "x' or '1'='1",
    "a\0b",
    "t1; select pg_sleep(10)",
    "$1",
    "tenant\"",
    "t1\\",
    " t1",
    "t1 ",
    "t1\n",
    "ｔ１",
    "t1'::text",
    "",
];

#[test]
fn hostile_tenant_ids_and_setting_names_do_not_construct() {
    for value in HOSTILE {
        assert!(
            TenantId::text(value).is_err(),
            "{value:?} became a tenant id"
        );
        // Setting names follow the server's rule, which admits non-ASCII letters
        // (`app.ｔ１` is a name `set_config` accepts); tenant ids stay ASCII.
        if !value.chars().all(char::is_alphanumeric) || value.is_empty() {
            assert!(
                SettingName::new(&format!("app.{value}")).is_err(),
                "app.{value:?} became a setting name"
            );
        }
    }
    assert!(
        SettingName::new("app.ｔ１").is_ok(),
        "the server accepts it"
    );
    for name in [
        "app.tenant'); drop table items; --",
        "app.tenant id",
        "app.\"tenant\"",
        "search_path",
        "role",
        "session_authorization",
    ] {
        assert!(
            SettingName::new(name).is_err(),
            "{name:?} became a setting name"
        );
    }
}

struct Fixture {
    runtime: Runtime,
    db: TestDatabase,
    pool: TenantPool,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (db, pool) = runtime.block_on(async {
            let db = tenant_database().await;
            let pool = app_pool(&db).max_size(2).build().await.unwrap();
            (db, pool)
        });
        Fixture { runtime, db, pool }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// Text made of allowed and hostile characters is either refused, or reaches the
    /// server verbatim as the tenant (and the schema is intact afterwards).
    #[test]
    fn accepted_text_reaches_the_server_verbatim(value in "[a-z0-9_.:'\";\\\\ $()=-]{1,24}") {
        let fx = fixture();
        let Ok(tenant) = TenantId::text(&value) else {
            prop_assert!(value.bytes().any(|b| !(b.is_ascii_alphanumeric() || b"_.:-".contains(&b))));
            return Ok(());
        };
        let seen: Result<String, String> = fx.runtime.block_on(async {
            let tx = fx.pool.begin(&tenant).await.map_err(|e| e.to_string())?;
            let row = tx
                .query_one("select pg_catalog.current_setting('app.current_tenant_id')", &[])
                .await
                .map_err(|e| e.to_string())?;
            tx.query("insert into items (body) values ('proptest')", &[])
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            Ok(row.get(0))
        });
        prop_assert_eq!(seen, Ok(value.clone()));
        // The default of items.tenant_id (current_setting) stored exactly the value.
        let stored = fx.runtime.block_on(all_items(&fx.db));
        prop_assert!(stored.iter().any(|(t, _)| *t == value), "{:?} not stored", value);
    }
}

#[tokio::test]
async fn every_accepted_punctuation_and_extreme_ids_round_trip() {
    let db = tenant_database().await;
    let pool = app_pool(&db).max_size(1).build().await.unwrap();
    let ids = [
        TenantId::text("a-b.c:d_e--f").unwrap(),
        TenantId::text(&"Z".repeat(128)).unwrap(),
        TenantId::from(i64::MIN),
        TenantId::from(uuid::Uuid::max()),
    ];
    for id in &ids {
        let tx = pool.begin(id).await.unwrap();
        let seen: String = tx
            .query_one(
                "select pg_catalog.current_setting('app.current_tenant_id')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(seen, id.as_setting_value());
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn a_custom_setting_name_is_used_verbatim() {
    let db = tenant_database().await;
    let setting: SettingName = "myapp.org_id".parse().unwrap();
    let pool = app_pool(&db)
        .tenant_setting(setting.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(pool.tenant_setting(), &setting);
    let tx = pool.begin(&"org-9".parse().unwrap()).await.unwrap();
    let row = tx
        .query_one(
            "select pg_catalog.current_setting('myapp.org_id', true), \
                    pg_catalog.current_setting('app.current_tenant_id', true)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("org-9"));
    assert!(row
        .get::<_, Option<String>>(1)
        .unwrap_or_default()
        .is_empty());
    tx.rollback().await.unwrap();
}
