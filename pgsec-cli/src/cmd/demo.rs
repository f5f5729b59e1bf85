//! `pgsec demo`: what pgsec does, end to end, on a throwaway server.
//!
//! Nine steps on one PostgreSQL server from pgsec-testkit (a container when Docker
//! answers, else local binaries), each printing what it proves: the tutorial's weak
//! set-up, its audit, the generated hardening applied with reloads, a clean audit, a
//! two-tenant schema with forced RLS, TenantPool transactions, the isolation checker
//! (clean, then a broken policy and its counterexample), and a verify-full refusal.
//!
//! The weakened server never listens beyond loopback: a local one listens on 127.0.0.1
//! whatever its file says, a container's port is published on 127.0.0.1 only.
//!
//! Output contract (tested): every step prints `[n/9] title` first and, when it behaved
//! as expected, `  ok [n/9] what it proved (t s)`; the run ends with
//! `pgsec demo: all 9 steps behaved as expected` and exit 0. Otherwise the failing step
//! prints `  FAILED [n/9] why` and the run ends with exit 1 naming it.

pub(crate) mod progress;
mod steps;

use std::time::Instant;

use steps::{Demo, StepResult};

/// Arguments of `pgsec demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Cases the isolation checker runs in steps 7 and 8.
    #[arg(
        long,
        default_value_t = pgsec_testkit::isolation::DEFAULT_CASES,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    cases: u32,
    /// Seed of the isolation checker (default: random, printed so that a run can be
    /// replayed).
    #[arg(long)]
    seed: Option<u64>,
}

/// The steps' titles, in order.
const TITLES: [&str; 9] = [
    "Start a server set up like the tutorial (trust, no TLS, md5, superuser app role, no RLS)",
    "Audit it: the live collector over the superuser's connection",
    "Apply `pgsec harden` output: conf fragment, pg_hba.conf, roles.sql, rls.sql",
    "Audit again, as the generated monitoring role over verified TLS",
    "A two-tenant schema with forced Row-Level Security",
    "Tenant transactions through TenantPool",
    "The isolation checker on the hardened schema",
    "A broken policy, and the checker's counterexample",
    "verify-full refuses a wrong host name",
];

pub(crate) fn run(args: DemoArgs) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::fail(format!("cannot start the async runtime: {e}")),
    };
    let started = Instant::now();
    println!("pgsec demo: nine steps on a throwaway PostgreSQL server, removed at the end.");
    let outcome = runtime.block_on(async {
        let mut demo = Demo::new(args.cases, args.seed);
        let outcome = run_steps(&mut demo).await;
        // The server is removed here, on the runtime that started it.
        drop(demo);
        outcome
    });
    let total = started.elapsed().as_secs_f64();
    match outcome {
        Ok(()) => {
            println!("\npgsec demo: all 9 steps behaved as expected in {total:.1} s");
            0
        }
        Err(n) => {
            let title = TITLES.get(n - 1).copied().unwrap_or("?");
            eprintln!(
                "pgsec demo: step {n} ({title}) did not behave as expected (after {total:.1} s)"
            );
            1
        }
    }
}

/// Runs the steps in order; `Err(n)` names the first one that misbehaved.
async fn run_steps(demo: &mut Demo) -> Result<(), usize> {
    for (i, title) in TITLES.iter().enumerate() {
        let n = i + 1;
        println!("\n[{n}/9] {title}");
        let started = Instant::now();
        let result: StepResult = match n {
            1 => demo.start_weak_server().await,
            2 => demo.audit_weak().await,
            3 => demo.harden().await,
            4 => demo.audit_hardened().await,
            5 => demo.tenant_schema().await,
            6 => demo.tenant_transactions().await,
            7 => demo.isolation_check().await,
            8 => demo.broken_policy().await,
            _ => demo.wrong_host().await,
        };
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(proof) => println!("  ok [{n}/9] {proof} ({secs:.1} s)"),
            Err(why) => {
                println!("  FAILED [{n}/9] {why} ({secs:.1} s)");
                if n == 1 && demo.backend().is_none() {
                    println!(
                        "  (the demo needs Docker, or PostgreSQL's initdb and postgres on PATH or in PG_BIN)"
                    );
                }
                return Err(n);
            }
        }
    }
    Ok(())
}
