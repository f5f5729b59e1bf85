//! `cargo +nightly fuzz run render`: reports made of arbitrary strings (ids, titles,
//! evidence, paths, object names, skip reasons), severities and line numbers, in every
//! format: no panic, the streamed output equals the in-memory one, and the JSON and
//! SARIF parse back as JSON.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use pgsec_core::render::{render, render_to, Format};
use pgsec_core::{catalogue, Finding, Location, Report, Severity, Skipped};

fn id(u: &mut Unstructured<'_>) -> Result<String> {
    // Half the time a catalogue id, so that SARIF links results to rules.
    if u.arbitrary()? {
        Ok(u.choose(catalogue())?.id.to_owned())
    } else {
        u.arbitrary()
    }
}

fn finding(u: &mut Unstructured<'_>) -> Result<Finding> {
    let severity = *u.choose(&Severity::ALL_DESCENDING)?;
    let location = match u.int_in_range(0..=2)? {
        0 => Location::file_line(u.arbitrary::<String>()?, u.arbitrary::<usize>()?),
        1 => Location::file(u.arbitrary::<String>()?),
        _ => Location::object(u.arbitrary::<String>()?, u.arbitrary::<String>()?),
    };
    Ok(Finding::new(
        id(u)?,
        severity,
        u.arbitrary::<String>()?,
        u.arbitrary::<String>()?,
        location,
        u.arbitrary::<String>()?,
        u.arbitrary::<String>()?,
    ))
}

fn report(u: &mut Unstructured<'_>) -> Result<Report> {
    let target: String = u.arbitrary()?;
    let mut findings = Vec::new();
    let mut suppressed = Vec::new();
    let mut skipped = Vec::new();
    for _ in 0..u.int_in_range(0..=16)? {
        findings.push(finding(u)?);
    }
    for _ in 0..u.int_in_range(0..=3)? {
        suppressed.push(finding(u)?);
    }
    for _ in 0..u.int_in_range(0..=3)? {
        skipped.push(Skipped {
            id: id(u)?,
            reason: u.arbitrary()?,
        });
    }
    Ok(Report::new(target, findings, skipped, suppressed))
}

fuzz_target!(|data: &[u8]| {
    let Ok(report) = report(&mut Unstructured::new(data)) else {
        return;
    };
    for format in [Format::Text, Format::Json, Format::Sarif] {
        let text = render(&report, format, true);
        let mut streamed = Vec::new();
        render_to(&report, format, true, &mut streamed).expect("a Vec accepts all");
        assert_eq!(streamed, text.as_bytes());
        if format != Format::Text {
            let doc: serde_json::Value =
                serde_json::from_str(&text).expect("JSON and SARIF parse back");
            assert!(doc.is_object());
        }
    }
});
