//! The HTML report: one self-contained file (inline CSS, SVG and a few lines of
//! JavaScript; nothing fetched at view time) with a bar chart of the findings by
//! severity and by category (the rule id's first part: `hba`, `tls`, `role`, …), then
//! a table of the findings with evidence and remediation, sortable by clicking a
//! column heading.
//!
//! Every string from the report is HTML-escaped: findings quote configuration files,
//! which may be hostile. The page also forbids itself any network access with a
//! `Content-Security-Policy` of `default-src 'none'` (its own inline style and script
//! allowed).

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

use super::RenderOptions;
use crate::{Report, Severity};

/// Writes `s` HTML-escaped (text and double-quoted attribute values): `& < > " '`,
/// and control characters other than tab and newline as `U+` code points.
fn esc(out: &mut impl Write, s: &str) -> io::Result<()> {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let rep: Option<std::borrow::Cow<'static, str>> = match c {
            '&' => Some("&amp;".into()),
            '<' => Some("&lt;".into()),
            '>' => Some("&gt;".into()),
            '"' => Some("&quot;".into()),
            '\'' => Some("&#39;".into()),
            '\t' | '\n' => None,
            c if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                Some(format!("\u{fffd}U+{:04X}", c as u32).into())
            }
            _ => None,
        };
        if let Some(rep) = rep {
            out.write_all(&s.as_bytes()[start..i])?;
            out.write_all(rep.as_bytes())?;
            start = i + c.len_utf8();
        }
    }
    out.write_all(&s.as_bytes()[start..])
}

/// `s` HTML-escaped for text and double-quoted attribute values (`& < > " '`; control
/// and bidirectional-override characters shown as `U+` code points), for pages that embed
/// report strings (the isolation report's HTML uses it).
///
/// ```
/// assert_eq!(
///     pgsec_core::render::escape_html("<script>a & 'b'</script>"),
///     "&lt;script&gt;a &amp; &#39;b&#39;&lt;/script&gt;"
/// );
/// ```
pub fn escape_html(s: &str) -> String {
    let mut buf = Vec::with_capacity(s.len());
    // Writing into a Vec does not fail, and only whole UTF-8 sequences are written.
    let _ = esc(&mut buf, s);
    String::from_utf8(buf).unwrap_or_default()
}

/// The category of a rule: its id up to the first dot.
fn category(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

fn sev_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#7f1d1d",
        Severity::High => "#dc2626",
        Severity::Medium => "#d97706",
        Severity::Low => "#0891b2",
        Severity::Info => "#6b7280",
    }
}

/// Rank for sorting: critical first.
fn sev_rank(s: Severity) -> usize {
    Severity::ALL_DESCENDING
        .iter()
        .position(|x| *x == s)
        .unwrap_or(0)
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#111;background:#fff}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}\
th{cursor:pointer;background:#f3f4f6;user-select:none}th:after{content:' \\2195';color:#9ca3af}\
.sev{color:#fff;border-radius:3px;padding:0 .4em;font-weight:600}\
pre{white-space:pre-wrap;margin:0;font:12px/1.4 ui-monospace,monospace}\
.charts{display:flex;flex-wrap:wrap;gap:2em}.muted{color:#6b7280}";

/// Sorts the findings table by the clicked column (numeric when the cell carries
/// `data-key`); a second click reverses.
const SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,col){\
th.addEventListener('click',function(){var tb=th.closest('table').tBodies[0];\
var rows=Array.prototype.slice.call(tb.rows);var dir=th.dataset.dir==='1'?-1:1;th.dataset.dir=dir===1?'1':'0';\
rows.sort(function(a,b){var x=a.cells[col],y=b.cells[col];\
var kx=x.dataset.key!==undefined?Number(x.dataset.key):x.textContent,ky=y.dataset.key!==undefined?Number(y.dataset.key):y.textContent;\
return (kx<ky?-1:kx>ky?1:0)*dir;});rows.forEach(function(r){tb.appendChild(r);});});});";

/// One horizontal bar chart as inline SVG.
fn bar_chart(
    out: &mut impl Write,
    title: &str,
    bars: &[(String, usize, &'static str)],
) -> io::Result<()> {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let row = 24;
    let height = 30 + row * bars.len().max(1);
    write!(
        out,
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"420\" height=\"{height}\" \
         role=\"img\" aria-label=\""
    )?;
    esc(out, title)?;
    write!(
        out,
        "\"><text x=\"0\" y=\"16\" font-weight=\"600\" font-size=\"14\">"
    )?;
    esc(out, title)?;
    out.write_all(b"</text>")?;
    if bars.is_empty() {
        write!(
            out,
            "<text x=\"0\" y=\"44\" font-size=\"13\" fill=\"#6b7280\">no findings</text>"
        )?;
    }
    for (i, (label, n, colour)) in bars.iter().enumerate() {
        let y = 26 + i * row;
        let w = 260 * n / max;
        write!(out, "<text x=\"0\" y=\"{}\" font-size=\"13\">", y + 14)?;
        esc(out, label)?;
        write!(
            out,
            "</text><rect x=\"110\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\">{n}</text>",
            115 + w,
            y + 14
        )?;
    }
    out.write_all(b"</svg></figure>\n")
}

pub(super) fn write_html_with(
    report: &Report,
    options: &RenderOptions,
    out: impl io::Write,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(super::BUFFER, out);
    write_body(report, options, &mut out)?;
    out.flush()
}

/// Writes the report as one self-contained HTML page into `out`, one finding at a time.
/// `out` is buffered here and flushed before returning.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_html(report: &Report, out: impl io::Write) -> io::Result<()> {
    write_html_with(report, &RenderOptions::default(), out)
}

/// The HTML page of `report` (see [`write_html`]).
pub fn html(report: &Report) -> String {
    super::to_string(|out| write_html(report, out))
}

fn write_body(report: &Report, options: &RenderOptions, out: &mut impl Write) -> io::Result<()> {
    let shown = options.shown(report);
    let summary = report.summary();
    out.write_all(
        b"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
          <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
          style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
          <meta name=\"viewport\" content=\"width=device-width\"><title>pgsec report: ",
    )?;
    esc(out, report.target())?;
    write!(
        out,
        "</title><style>{STYLE}</style></head><body>\n<h1>pgsec report: "
    )?;
    esc(out, report.target())?;
    out.write_all(b"</h1>\n<p>")?;
    write!(out, "{} findings", summary.total())?;
    for sev in Severity::ALL_DESCENDING {
        write!(out, ", {} {}", summary.count(sev), sev.as_str())?;
    }
    write!(
        out,
        "; {} rules skipped, {} findings suppressed.</p>\n<div class=\"charts\">",
        report.skipped().len(),
        report.suppressed().len()
    )?;
    let by_sev: Vec<(String, usize, &'static str)> = Severity::ALL_DESCENDING
        .iter()
        .map(|s| (s.as_str().to_owned(), summary.count(*s), sev_colour(*s)))
        .collect();
    bar_chart(out, "Findings by severity", &by_sev)?;
    let mut cats: BTreeMap<&str, usize> = BTreeMap::new();
    for f in report.findings() {
        *cats.entry(category(f.id())).or_default() += 1;
    }
    let by_cat: Vec<(String, usize, &'static str)> = cats
        .into_iter()
        .map(|(c, n)| (c.to_owned(), n, "#2563eb"))
        .collect();
    bar_chart(out, "Findings by category", &by_cat)?;
    out.write_all(b"</div>\n<h2>Findings</h2>\n")?;
    if shown == 0 {
        out.write_all(b"<p class=\"muted\">No findings.</p>\n")?;
    } else {
        out.write_all(
            b"<table class=\"sortable\" id=\"findings\"><thead><tr><th>Severity</th><th>Rule</th>\
              <th>Title</th><th>Location</th><th>Evidence</th><th>Remediation</th></tr></thead><tbody>\n",
        )?;
        for f in &report.findings()[..shown] {
            let sev = f.severity();
            write!(
                out,
                "<tr class=\"finding\" data-fingerprint=\"{}\"><td data-key=\"{}\"><span class=\"sev\" \
                 style=\"background:{}\">{}</span></td><td>",
                // Fingerprints are hex digests; escaped anyway.
                EscDisplay(f.fingerprint()),
                sev_rank(sev),
                sev_colour(sev),
                sev.as_str()
            )?;
            esc(out, f.id())?;
            out.write_all(b"</td><td>")?;
            esc(out, f.title())?;
            out.write_all(b"</td><td>")?;
            esc(out, &f.location().to_string())?;
            out.write_all(b"</td><td><pre>")?;
            esc(out, f.evidence())?;
            out.write_all(b"</pre></td><td><pre>")?;
            esc(out, f.remediation())?;
            out.write_all(b"</pre></td></tr>\n")?;
        }
        out.write_all(b"</tbody></table>\n")?;
    }
    let hidden = report.findings().len() - shown;
    if hidden > 0 {
        writeln!(
            out,
            "<p class=\"muted\">{hidden} more findings not shown (--max-findings).</p>"
        )?;
    }
    if !report.skipped().is_empty() {
        out.write_all(b"<h2>Skipped rules</h2>\n<ul>")?;
        for s in report.skipped() {
            out.write_all(b"<li><code>")?;
            esc(out, &s.id)?;
            out.write_all(b"</code>: ")?;
            esc(out, &s.reason)?;
            out.write_all(b"</li>")?;
        }
        out.write_all(b"</ul>\n")?;
    }
    write!(out, "<script>{SCRIPT}</script>\n</body></html>\n")
}

/// Displays a string HTML-escaped.
struct EscDisplay<'a>(&'a str);

impl std::fmt::Display for EscDisplay<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&escape_html(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Finding, Location};

    fn hostile() -> Report {
        Report::new(
            "<script>alert('target')</script>",
            vec![
                Finding::new(
                    "hba.trust_network",
                    Severity::Critical,
                    "Trust <b>auth</b>",
                    "obj",
                    Location::file_line("pg_hba.conf", 3),
                    "host all all 0.0.0.0/0 trust # <script>alert(1)</script>",
                    "use \"scram-sha-256\" & reload",
                ),
                Finding::new(
                    "tls.ssl_off",
                    Severity::High,
                    "SSL off",
                    "ssl",
                    Location::object("setting", "<img src=x onerror=alert(2)>"),
                    "ssl = off\u{202e}\u{1b}[31m",
                    "ssl = on",
                ),
            ],
            vec![],
            vec![],
        )
    }

    #[test]
    fn hostile_strings_are_escaped() {
        let page = html(&hostile());
        // The only script element is the page's own.
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&quot;scram-sha-256&quot; &amp; reload"));
        assert!(!page.contains('\u{202e}') && !page.contains('\u{1b}'));
        assert!(page.contains("U+202E"));
    }

    #[test]
    fn every_finding_is_a_row_and_the_charts_count_them() {
        let page = html(&hostile());
        assert_eq!(page.matches("<tr class=\"finding\"").count(), 2);
        assert!(page.contains("Findings by severity"));
        assert!(page.contains(">hba</text>") && page.contains(">tls</text>"));
        assert!(page.contains("2 findings, 1 critical, 1 high"));
        // No address but the SVG namespace (an identifier, never fetched).
        assert_eq!(
            page.matches("http").count(),
            page.matches("http://www.w3.org/2000/svg").count() + 1, // + http-equiv
            "{page}"
        );
        assert!(!page.contains("https://"));
    }

    #[test]
    fn capped_and_empty_reports() {
        let mut out = Vec::new();
        write_html_with(
            &hostile(),
            &RenderOptions::default().max_findings(Some(1)),
            &mut out,
        )
        .unwrap();
        let page = String::from_utf8(out).unwrap();
        assert_eq!(page.matches("<tr class=\"finding\"").count(), 1);
        assert!(page.contains("1 more findings not shown"));
        let empty = html(&Report::new("", vec![], vec![], vec![]));
        assert!(empty.contains("No findings.") && empty.ends_with("</html>\n"));
    }
}
