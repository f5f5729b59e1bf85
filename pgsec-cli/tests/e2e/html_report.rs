//! `pgsec audit --format html` opened in a real browser: headless Chromium (Debian's
//! `chromium`, installed by scripts/test.sh) renders the page of a report whose
//! configuration files carry markup and script; the screenshot must not be blank, the
//! DOM after scripts ran must hold every finding of the JSON report, and none of the
//! hostile markup may have become an element or run.

use std::path::Path;
use std::process::Command;

fn pgsec(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pgsec"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run pgsec")
}

/// Weak files whose values are markup: the evidence quotes them.
const CONF: &str = "listen_addresses = '*'\nssl = off\npassword_encryption = md5\n\
cluster_name = '<script>document.title=\"pwned\"</script>'\n";
const HBA: &str = "local all all trust\n\
host \"<img src=x onerror=document.title='pwned'>\" all 0.0.0.0/0 trust\n\
host all all 10.0.0.0/8 md5\n";

fn chromium() -> String {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return c.to_owned();
        }
    }
    panic!(
        "this test needs headless Chromium: `apt-get install chromium` (scripts/test.sh \
         installs it)"
    );
}

fn browser(bin: &str, args: &[&str], page: &Path) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
            "--window-size=1280,1024",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

#[test]
fn html_report_renders_every_finding_in_chromium_and_runs_no_hostile_markup() {
    let bin = chromium();
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("postgresql.conf"), CONF).unwrap();
    std::fs::write(d.path().join("pg_hba.conf"), HBA).unwrap();
    let files = [
        "audit",
        "--config",
        "postgresql.conf",
        "--hba",
        "pg_hba.conf",
        "--format",
    ];
    let json = pgsec(&[&files[..], &["json"]].concat(), d.path());
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json report");
    let findings = report["findings"].as_array().expect("findings").clone();
    assert!(
        findings.len() >= 4,
        "the weak files give findings: {report}"
    );

    let html = pgsec(&[&files[..], &["html"]].concat(), d.path());
    assert_eq!(
        html.status.code(),
        Some(1),
        "findings at or above high exit 1"
    );
    let page = d.path().join("report.html");
    std::fs::write(&page, &html.stdout).unwrap();
    let source = String::from_utf8(html.stdout).unwrap();
    assert!(
        source.contains("pwned"),
        "the hostile values are quoted in the report (else this test proves nothing)"
    );

    // The DOM after the page's own script ran.
    let dom = browser(&bin, &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(dom.contains("</html>"), "chromium printed no DOM: {dom}");
    assert_eq!(
        dom.matches("<tr class=\"finding\"").count(),
        findings.len(),
        "one row per finding"
    );
    for f in &findings {
        let fp = f["fingerprint"].as_str().unwrap();
        assert!(dom.contains(fp), "finding {fp} missing from the DOM");
        let id = f["id"].as_str().unwrap();
        assert!(dom.contains(id), "rule {id} missing from the DOM");
    }
    assert!(!dom.contains("<title>pwned"), "a hostile script ran");
    assert!(!dom.contains("<img"), "hostile markup became an element");
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(dom.contains("<svg"), "the charts are there");

    // The screenshot is not blank: many pixels differ from the background.
    let shot = d.path().join("shot.png");
    let out = browser(&bin, &[&format!("--screenshot={}", shot.display())], &page);
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bytes = &buf[..info.buffer_size()];
    let px = info.color_type.samples();
    let first = &bytes[..px];
    let differing = bytes.chunks(px).filter(|p| *p != first).count();
    let total = bytes.len() / px;
    assert!(
        differing * 100 > total,
        "screenshot nearly blank: {differing} of {total} pixels differ from the corner"
    );
    // Colour: the severity bars are drawn (some pixel with red well above blue).
    assert!(
        bytes
            .chunks(px)
            .any(|p| p.len() >= 3 && p[0] > 150 && p[2] < 80),
        "no red severity bar in the screenshot"
    );
}
