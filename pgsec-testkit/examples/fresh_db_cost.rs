//! Where a fresh database's time goes: `CREATE DATABASE … STRATEGY WAL_LOG` and
//! `FILE_COPY` from the kit's template, on a server with the kit's settings and on one
//! with durability left at PostgreSQL's defaults (`fsync`, `synchronous_commit`,
//! `full_page_writes` on), per backend; then `fresh_database()` to first query as the
//! kit does it. Prints medians.
//!
//! `cargo run --release -p pgsec-testkit --example fresh_db_cost [runs]`

use std::time::{Duration, Instant};

use pgsec_testkit::{Backend, TestServer, TEMPLATE_DB};

fn median(mut v: Vec<Duration>) -> u128 {
    v.sort();
    v[v.len() / 2].as_millis()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    for backend in [Backend::Local, Backend::Container] {
        for durable in [true, false] {
            let mut b = TestServer::builder().backend(backend);
            if durable {
                for k in ["fsync", "synchronous_commit", "full_page_writes"] {
                    b = b.setting(k, "on");
                }
            }
            let server = match b.start().await {
                Ok(s) => s,
                Err(e) => {
                    println!("{backend}: not available: {e}");
                    break;
                }
            };
            let admin = server.admin_client().await?;
            let mut line = format!(
                "{backend:>9} {:<22}",
                if durable {
                    "durable (PG defaults)"
                } else {
                    "kit settings"
                }
            );
            for strategy in ["WAL_LOG", "FILE_COPY"] {
                let mut t = Vec::new();
                for i in 0..runs {
                    let start = Instant::now();
                    admin
                        .batch_execute(&format!(
                            "CREATE DATABASE cost_{strategy}_{i} TEMPLATE {TEMPLATE_DB} \
                             STRATEGY {strategy}"
                        ))
                        .await?;
                    t.push(start.elapsed());
                    // Measured, not kept: the disk may be small.
                    admin
                        .batch_execute(&format!("DROP DATABASE cost_{strategy}_{i}"))
                        .await?;
                }
                line.push_str(&format!(" {strategy} {:>4} ms", median(t)));
            }
            let mut fresh = Vec::new();
            for _ in 0..runs {
                let start = Instant::now();
                let db = server.fresh_database().await?;
                db.app_client().await?.simple_query("select 1").await?;
                fresh.push(start.elapsed());
                admin
                    .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", db.name()))
                    .await?;
            }
            line.push_str(&format!(
                " | fresh_database() to first query {:>4} ms ({runs} runs)",
                median(fresh)
            ));
            println!("{line}");
        }
    }
    // What a test waits for with databases made ahead (the attribute's path): tests
    // that each work 50 ms, one after another.
    let mut waits = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let db = pgsec_testkit::shared_database().await?;
        db.app_client().await?.simple_query("select 1").await?;
        waits.push(start.elapsed());
        db.admin_client().await?.batch_execute("select 1").await?;
        let server = pgsec_testkit::shared().await?;
        server
            .admin_client()
            .await?
            .batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", db.name()))
            .await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The first take waits for the server and the first clone: leave it out.
    let first = waits.remove(0);
    println!(
        "   shared: prepared ahead, fresh database to first query median {:>4} ms ({} runs; \
         first, with server start, {} ms)",
        median(waits),
        runs - 1,
        first.as_millis()
    );
    Ok(())
}
