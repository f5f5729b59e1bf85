//! After the test process ends, no container and no postmaster of the kit is left.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PROBE_ENV: &str = "PGSEC_TESTKIT_LEFTOVER_PROBE";

/// Starts the shared server; when run as the probe child, records what to look for and
/// exits at once, without dropping anything (as a process that ends abruptly would).
#[tokio::test]
async fn probe_shared_server_runs() {
    let server = pgsec_testkit::shared().await.unwrap();
    let admin = server.admin_client().await.unwrap();
    admin.simple_query("select 1").await.unwrap();
    if let Ok(out) = std::env::var(PROBE_ENV) {
        let record = match server.container_id() {
            Some(id) => format!("container {id}"),
            None => {
                let pid = std::fs::read_to_string(format!("{}/postmaster.pid", server.data_dir()))
                    .unwrap();
                format!(
                    "local {} {}",
                    pid.lines().next().unwrap(),
                    server.data_dir()
                )
            }
        };
        std::fs::write(out, record).unwrap();
        std::process::exit(0);
    }
}

fn container_exists(id: &str) -> bool {
    let out = Command::new("docker")
        .args(["ps", "-a", "-q", "--no-trunc"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(id)
}

#[test]
fn nothing_outlives_the_test_process() {
    let record = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "leftovers::probe_shared_server_runs",
            "--nocapture",
        ])
        .env(PROBE_ENV, record.path())
        .status()
        .unwrap();
    assert!(status.success(), "probe process failed: {status}");
    let text = std::fs::read_to_string(record.path()).unwrap();
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert!(!fields.is_empty(), "the probe recorded nothing");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = match fields[0] {
            "container" => container_exists(fields[1]),
            "local" => {
                Path::new(&format!("/proc/{}", fields[1])).exists() || Path::new(fields[2]).exists()
            }
            other => panic!("unknown probe record {other}"),
        };
        if !left {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind after the process ended: {text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
