//! The isolation report as one self-contained HTML page (`pgsec isolation --format
//! html`): verdict, what was checked, the counterexample as numbered SQL steps with the
//! violations under the step that caused them, and the coverage. Every string from the
//! database (table names, rows, tenant ids) is HTML-escaped.

use std::fmt::Write as _;

use pgsec_core::render::escape_html as e;

use crate::isolation::{IsolationReport, Verdict};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#111}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}\
.verdict{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:600}\
.clean{background:#15803d}.leak{background:#b91c1c}.incomplete{background:#b45309}\
ol.steps>li{margin:.8em 0}pre{background:#f3f4f6;padding:.5em;margin:.3em 0;white-space:pre-wrap;\
font:12px/1.4 ui-monospace,monospace}.violation{border-left:4px solid #b91c1c;padding-left:.6em;margin:.4em 0}\
table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}";

impl IsolationReport {
    /// The report as one self-contained HTML page (inline CSS, no script, nothing
    /// fetched at view time): the counterexample's steps are a numbered list of SQL.
    #[must_use]
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(4096);
        let verdict = self.verdict();
        let class = match verdict {
            Verdict::Clean => "clean",
            Verdict::Leak => "leak",
            _ => "incomplete",
        };
        // Writing into a String does not fail.
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'\"><title>pgsec isolation: {v}</title>\
             <style>{STYLE}</style></head><body>\n<h1>Tenant isolation \
             <span class=\"verdict {class}\">{v}</span></h1>\n<p>seed {seed}, {run} of {asked} \
             cases run, {ops} operations, {ms} ms. Tenant tables: {tables}{views}.</p>\n",
            v = e(verdict.as_str()),
            seed = self.seed,
            run = self.cases_run,
            asked = self.cases_requested,
            ops = self.operations_run,
            ms = self.elapsed.as_millis(),
            tables = if self.tables.is_empty() {
                "none".to_owned()
            } else {
                e(&self.tables.join(", "))
            },
            views = if self.views.is_empty() {
                String::new()
            } else {
                format!("; views over them: {}", e(&self.views.join(", ")))
            },
        );
        if let Some(cx) = &self.counterexample {
            let _ = write!(
                h,
                "<h2>Counterexample</h2>\n<p>Case {} failed; shrunk from {} to {} steps in {} \
                 runs. Replay with seed {}.</p>\n<ol class=\"steps\">\n",
                cx.case,
                cx.original_steps,
                cx.steps.len(),
                cx.shrink_runs,
                self.seed
            );
            for step in &cx.steps {
                let _ = write!(
                    h,
                    "<li value=\"{}\"><strong>{}</strong><pre>{}</pre>",
                    step.number,
                    e(&step.title),
                    e(&step.sql.join("\n"))
                );
                for v in cx.violations.iter().filter(|v| v.step == step.number) {
                    let _ = write!(
                        h,
                        "<div class=\"violation\"><strong>VIOLATION [{}]</strong> on {}: {}",
                        e(&v.kind.to_string()),
                        e(&v.relation),
                        e(&v.message)
                    );
                    if !v.rows.is_empty() {
                        h.push_str("<pre>");
                        for row in &v.rows {
                            match &row.owner {
                                Some(owner) => {
                                    let _ = writeln!(h, "tenant {}: {}", e(owner), e(&row.row));
                                }
                                None => {
                                    let _ = writeln!(h, "{}", e(&row.row));
                                }
                            }
                        }
                        h.push_str("</pre>");
                    }
                    let _ = write!(
                        h,
                        "<div>predicted by: {}</div></div>",
                        if v.predicted_by.is_empty() {
                            "no static rule".to_owned()
                        } else {
                            e(&v.predicted_by.join("; "))
                        }
                    );
                }
                h.push_str("</li>\n");
            }
            h.push_str("</ol>\n");
        }
        if !self.coverage.is_empty() {
            h.push_str(
                "<h2>Coverage</h2>\n<table><thead><tr><th>Relation</th><th>Status</th>\
                 <th>Tenants</th><th>Rows seen</th><th>Rows written</th></tr></thead><tbody>\n",
            );
            for c in &self.coverage {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    e(&c.name),
                    e(c.status.as_str()),
                    c.tenants,
                    c.rows_seen,
                    c.rows_written
                );
            }
            h.push_str("</tbody></table>\n");
        }
        if !self.notes.is_empty() {
            h.push_str("<h2>Notes</h2>\n<ul>");
            for n in &self.notes {
                let _ = write!(h, "<li>{}</li>", e(n));
            }
            h.push_str("</ul>\n");
        }
        h.push_str("<h2>Text report</h2>\n<pre>");
        h.push_str(&e(&self.to_string()));
        h.push_str("</pre>\n</body></html>\n");
        h
    }
}
