//! `resource-limits audit`: what the policy would do to the workloads of a live cluster
//! (hosts/audit reads and judges them), printed as `check` prints files: one line per
//! violation, `NAMESPACE Kind/NAME` where `check` prints `file:line`.

use resource_limits::Verdict;
use resource_limits_audit::outcome::{lacks, refusals, warnings, Outcome};
use resource_limits_audit::{Audit, Audited};
use serde_json::{json, Value};

/// A spinner on standard error while the cluster is listed, where standard error is a
/// terminal (nothing otherwise: CI logs stay clean).
pub fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// The audit's progress, shown on the bar: the kind being listed and how many so far.
pub fn progress_of(bar: &indicatif::ProgressBar) -> resource_limits_audit::Progress {
    let bar = bar.clone();
    std::sync::Arc::new(move |target: resource_limits_audit::Target, seen: usize| {
        bar.set_message(format!("listing {}: {seen}", target.plural));
    })
}

fn subject(o: &Audited) -> String {
    if o.namespace.is_empty() {
        format!("{}/{}", o.target.kind, o.name)
    } else {
        format!("{} {}/{}", o.namespace, o.target.kind, o.name)
    }
}

fn owned(o: &Audited) -> String {
    o.owns
        .iter()
        .map(|(kind, n)| format!("{n} {kind}{}", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The exit code: 1 when something would be refused.
pub fn exit_code(audit: &Audit) -> u8 {
    u8::from(
        audit
            .objects
            .iter()
            .any(|o| Outcome::of(&o.verdict) == Outcome::Refused),
    )
}

/// The human report: every refusal and every default due, one line each (with `verbose`,
/// passing and skipped objects too), then a summary.
pub fn human(audit: &Audit, verbose: bool) -> String {
    let mut out = String::new();
    let mut counts = [0usize; 4];
    let mut violations = 0;
    for o in &audit.objects {
        let outcome = Outcome::of(&o.verdict);
        counts[outcome as usize] += 1;
        let who = subject(o);
        match outcome {
            Outcome::Refused => {
                for r in refusals(&o.verdict) {
                    violations += 1;
                    out.push_str(&format!("{who}: {r}\n"));
                }
            }
            Outcome::Defaults => {
                for l in lacks(&o.verdict) {
                    out.push_str(&format!("{who}: {l}\n"));
                }
            }
            Outcome::Pass if verbose => out.push_str(&format!("{who}: passes\n")),
            Outcome::Skipped if verbose => {
                if let Verdict::Skipped(why) = &o.verdict {
                    out.push_str(&format!("{who}: skipped: {why}\n"));
                }
            }
            _ => {}
        }
        for w in warnings(&o.verdict) {
            out.push_str(&format!("{who}: warning: {w}\n"));
        }
        if verbose && !o.owns.is_empty() {
            out.push_str(&format!("{who}: owns {}\n", owned(o)));
        }
    }
    let [pass, defaults, refused, skipped] = counts;
    if audit.out_of_scope > 0 {
        out.push_str(&format!(
            "{} objects left out by the policy's namespace selector\n",
            audit.out_of_scope
        ));
    }
    out.push_str(&format!(
        "{} objects audited in {} namespaces: {pass} pass, {refused} would be refused ({violations} violations), {defaults} lack defaults the policy would add, {skipped} skipped; {} more counted through their owners\n",
        audit.objects.len(),
        audit.namespaces.len(),
        audit.counted_through_owners,
    ));
    if let (Some(w), Some(r)) = (&audit.reports, &audit.reporting) {
        out.push_str(&format!(
            "{} {} ({}) written for policy {}: {} pass, {} fail, {} warn; {} of earlier runs removed\n",
            w.written,
            if w.written == 1 { r.format.kind().to_owned() } else { format!("{}s", r.format.kind()) },
            r.format.api_version(),
            r.policy,
            w.pass,
            w.fail,
            w.warn,
            w.removed,
        ));
    }
    out
}

/// The JSON report: every object's outcome.
pub fn json(audit: &Audit) -> Value {
    let objects: Vec<Value> = audit
        .objects
        .iter()
        .map(|o| {
            let outcome = Outcome::of(&o.verdict);
            let mut v = json!({
                "namespace": o.namespace,
                "apiVersion": o.target.api_version(),
                "kind": o.target.kind,
                "name": o.name,
                "outcome": outcome.name(),
                "violations": refusals(&o.verdict),
                "defaults": lacks(&o.verdict),
                "warnings": warnings(&o.verdict),
                "owns": o.owns,
            });
            if let Verdict::Skipped(why) = &o.verdict {
                v["skipped"] = json!(why.to_string());
            }
            v
        })
        .collect();
    json!({
        "schemaVersion": crate::report::JSON_SCHEMA_VERSION,
        "namespaces": audit.namespaces,
        "countedThroughOwners": audit.counted_through_owners,
        "outOfScope": audit.out_of_scope,
        "objects": objects,
        "reports": match (&audit.reports, &audit.reporting) {
            (Some(w), Some(r)) => json!({
                "apiVersion": r.format.api_version(),
                "kind": r.format.kind(),
                "policy": r.policy,
                "written": w.written,
                "pass": w.pass,
                "fail": w.fail,
                "warn": w.warn,
                "removed": w.removed,
            }),
            _ => Value::Null,
        },
    })
}
