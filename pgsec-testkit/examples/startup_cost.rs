//! Measures the kit's start-up cost: from the call to the first query, per backend, and
//! for a fresh database. Prints medians of several runs.
//!
//! `cargo run --release -p pgsec-testkit --example startup_cost [runs]`

use std::time::{Duration, Instant};

use pgsec_testkit::{Backend, TestServer};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    for backend in [Backend::Container, Backend::Local] {
        let mut starts = Vec::new();
        let mut fresh = Vec::new();
        let mut create = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let server = match TestServer::builder().backend(backend).start().await {
                Ok(s) => s,
                Err(e) => {
                    println!("{backend}: not available: {e}");
                    break;
                }
            };
            server
                .admin_client()
                .await?
                .simple_query("select 1")
                .await?;
            starts.push(t.elapsed());
            for _ in 0..5 {
                let t = Instant::now();
                let db = server.fresh_database().await?;
                create.push(t.elapsed());
                db.app_client().await?.simple_query("select 1").await?;
                fresh.push(t.elapsed());
            }
        }
        if !starts.is_empty() {
            println!(
                "{backend:>9}: start to first TLS query median {:>5} ms ({} runs); fresh database to first query median {:>4} ms ({} runs; of it CREATE DATABASE {} ms)",
                median(starts.clone()).as_millis(),
                starts.len(),
                median(fresh.clone()).as_millis(),
                fresh.len(),
                median(create).as_millis()
            );
        }
    }
    Ok(())
}
