//! The report of `loadgen`: the table rows, the target checks and the JSON
//! summary the phases fill in, and their printing at the end of the run.

use serde_json::{json, Map, Value};

use crate::common::{self, round};
use crate::http_load::HttpOutcome;

/// The report: table rows, target checks and the JSON summary.
#[derive(Default)]
pub struct Report {
    rows: Vec<Vec<String>>,
    checks: Vec<(String, Option<bool>, String)>,
    pub summary: Map<String, Value>,
}

impl Report {
    /// A figure of chatd with the baseline's, if there is one.
    pub fn figure(
        &mut self,
        key: &str,
        test: &str,
        metric: &str,
        chatd: f64,
        baseline: Option<f64>,
    ) {
        let ratio = baseline.filter(|b| *b != 0.0).map(|b| chatd / b);
        let show = |v: f64| {
            if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.3}")
            }
        };
        self.rows.push(vec![
            test.to_string(),
            metric.to_string(),
            show(chatd),
            baseline.map_or("-".into(), show),
            ratio.map_or("-".into(), |r| format!("{r:.2}x")),
        ]);
        self.summary.insert(
            key.to_string(),
            json!({
                "chatd": round(chatd, 3),
                "baseline": baseline.map(|b| round(b, 3)),
                "ratio": ratio.map(|r| round(r, 3)),
            }),
        );
    }

    /// A read page's target (issue 12): >= 0.8x the baseline's req/s and
    /// p99 <= 1.5x, with no errors.
    pub fn read_check(&mut self, name: &str, c: &HttpOutcome, b: &HttpOutcome) {
        let errors = c.errors + b.errors;
        let ok = c.rps / b.rps >= 0.8 && c.p99 / b.p99 <= 1.5 && errors == 0;
        self.check(
            &format!("{name}: >= 0.8x req/s, p99 <= 1.5x"),
            Some(ok),
            format!(
                "{:.2}x req/s, {:.2}x p99, {errors} errors",
                c.rps / b.rps,
                c.p99 / b.p99
            ),
        );
    }

    pub fn check(&mut self, target: &str, met: Option<bool>, detail: String) {
        self.checks.push((target.to_string(), met, detail));
    }
}

/// Prints the table, the targets and the JSON summary.
pub fn print(mut report: Report) {
    println!();
    common::print_table(
        &["test", "metric", "chatd", "baseline", "ratio"],
        &report.rows,
    );
    println!();
    let rows: Vec<Vec<String>> = report
        .checks
        .iter()
        .map(|(target, met, detail)| {
            let met = match met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a",
            };
            vec![target.clone(), met.to_string(), detail.clone()]
        })
        .collect();
    common::print_table(&["target", "status", "measured"], &rows);
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(|(t, met, d)| json!({"target": t, "met": met, "measured": d}))
        .collect();
    report
        .summary
        .insert("targets".into(), Value::Array(checks));
    println!();
    println!("{}", Value::Object(report.summary));
}
