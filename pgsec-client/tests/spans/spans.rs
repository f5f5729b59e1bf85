//! One tracing span per transaction; the tenant id is recorded only when allowed.

use std::sync::{Arc, Mutex};

use pgsec_client::TenantId;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::{app_pool, tenant_database};

/// Records span fields as `span.field=value` and warnings as `WARN message`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Fields<'a>(&'a mut Vec<String>, &'a str);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push(format!("{}.{}={value:?}", self.1, field.name()));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push(format!("{}.{}={value}", self.1, field.name()));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let mut out = self.0.lock().unwrap();
        let name = attrs.metadata().name();
        out.push(format!("span {name}"));
        attrs.record(&mut Fields(&mut out, name));
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let name = ctx.span(id).map(|s| s.name()).unwrap_or("?");
        values.record(&mut Fields(&mut self.0.lock().unwrap(), name));
    }
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            let mut out = self.0.lock().unwrap();
            event.record(&mut Fields(&mut out, "WARN"));
        }
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

// current_thread runtime: the thread-local subscriber sees the pool's work too. One
// test function, so no other thread of this process creates the pool's spans meanwhile.
#[tokio::test]
async fn spans_and_warnings() {
    spans_carry_the_tenant_only_when_allowed().await;
    skipping_the_guard_and_the_unscoped_path_are_loud().await;
}

async fn spans_carry_the_tenant_only_when_allowed() {
    let db = tenant_database().await;
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let tenant: TenantId = "acme-secret-customer".parse().unwrap();

    let pool = app_pool(&db).max_size(1).build().await.unwrap();
    let tx = pool.begin(&tenant).await.unwrap();
    assert!(!format!("{tx:?}").contains("acme"), "{tx:?}");
    tx.commit().await.unwrap();
    let lines = capture.lines();
    assert!(lines.contains(&"span tenant_tx".to_owned()), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l == "tenant_tx.setting=app.current_tenant_id"),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("acme")),
        "tenant leaked: {lines:?}"
    );

    let pool = app_pool(&db)
        .max_size(1)
        .record_tenant_ids(true)
        .build()
        .await
        .unwrap();
    let tx = pool.begin(&tenant).await.unwrap();
    assert!(format!("{tx:?}").contains("acme-secret-customer"));
    drop(tx);
    let lines = capture.lines();
    assert!(
        lines
            .iter()
            .any(|l| l == "tenant_tx.tenant=acme-secret-customer"),
        "{lines:?}"
    );
    // Each transaction has its own span.
    assert_eq!(
        lines.iter().filter(|l| *l == "span tenant_tx").count(),
        2,
        "{lines:?}"
    );
}

async fn skipping_the_guard_and_the_unscoped_path_are_loud() {
    let db = tenant_database().await;
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let pool = app_pool(&db)
        .dangerous_skip_startup_guard()
        .build()
        .await
        .unwrap();
    let lines = capture.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("WARN.message=") && l.contains("start-up guard SKIPPED")),
        "{lines:?}"
    );
    drop(pool.dangerous_unscoped_connection().await.unwrap());
    let lines = capture.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("WARN.message=") && l.contains("unscoped")),
        "{lines:?}"
    );
}
