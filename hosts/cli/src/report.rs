//! The results of `check`: human lines, JSON, or SARIF 2.1.0.

use crate::check::{FileReport, Outcome};
use crate::manifest::InputError;
use serde_json::{json, Value};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `file:line kind/name: message`, one line a violation, and a summary line.
    Human,
    /// One JSON document with every object's outcome.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// Counts over all inputs.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub checked: usize,
    pub passed: usize,
    pub failed: usize,
    pub violations: usize,
    pub skipped: usize,
    pub defaults: usize,
    pub errors: usize,
}

impl Summary {
    pub fn of(reports: &[FileReport], extra_errors: &[InputError]) -> Summary {
        let mut s = Summary {
            files: reports.len(),
            errors: extra_errors.len(),
            ..Summary::default()
        };
        for r in reports {
            s.errors += r.errors.len();
            for o in &r.objects {
                match &o.outcome {
                    Outcome::Skipped { .. } => s.skipped += 1,
                    Outcome::Passed { defaults } => {
                        s.checked += 1;
                        s.passed += 1;
                        s.defaults += defaults.len();
                    }
                    Outcome::Failed { violations, .. } => {
                        s.checked += 1;
                        s.failed += 1;
                        s.violations += violations.len().max(1);
                    }
                }
            }
        }
        s
    }

    /// 2: some input could not be read; 1: some object is rejected; 0: all pass.
    pub fn exit_code(&self) -> i32 {
        if self.errors > 0 {
            2
        } else if self.failed > 0 {
            1
        } else {
            0
        }
    }

    fn line(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut out = format!(
            "{} checked in {}: {} passed, {} failed ({})",
            plural(self.checked, "workload", "workloads"),
            plural(self.files, "file", "files"),
            self.passed,
            self.failed,
            plural(self.violations, "violation", "violations"),
        );
        if self.defaults > 0 {
            let _ = write!(
                out,
                ", {} the policy would add (resource-limits fix)",
                plural(self.defaults, "default", "defaults")
            );
        }
        let _ = write!(out, "; {} skipped", self.skipped);
        if self.errors > 0 {
            let _ = write!(
                out,
                "; {}",
                plural(self.errors, "input error", "input errors")
            );
        }
        out
    }
}

/// Human output: findings on stdout, input errors on stderr.
pub fn human(
    reports: &[FileReport],
    extra_errors: &[InputError],
    verbose: bool,
) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    for e in extra_errors {
        let _ = writeln!(err, "{e}");
    }
    for r in reports {
        for e in &r.errors {
            let _ = writeln!(err, "{e}");
        }
        for o in &r.objects {
            let at = |line: usize| format!("{}:{line} {}", r.source, o.label());
            match &o.outcome {
                Outcome::Failed {
                    message,
                    violations,
                } => {
                    if violations.is_empty() {
                        let _ = writeln!(out, "{}: {message}", at(o.line));
                    }
                    for v in violations {
                        let _ = writeln!(out, "{}: {}", at(v.line), v.message);
                    }
                }
                Outcome::Passed { defaults } if verbose => {
                    let _ = writeln!(out, "{}: ok", at(o.line));
                    for d in defaults {
                        let _ = writeln!(out, "{}: default: {}", at(d.line), d.describe());
                    }
                }
                Outcome::Skipped { reason } if verbose => {
                    let _ = writeln!(out, "{}: skipped: {reason}", at(o.line));
                }
                _ => {}
            }
        }
    }
    let _ = writeln!(out, "{}", Summary::of(reports, extra_errors).line());
    (out, err)
}

fn error_json(e: &InputError) -> Value {
    json!({"file": e.source, "line": e.line, "message": e.message})
}

/// JSON output: every object of every input, with its status.
pub fn json(reports: &[FileReport], extra_errors: &[InputError]) -> Value {
    let s = Summary::of(reports, extra_errors);
    let mut results = Vec::new();
    let mut errors: Vec<Value> = extra_errors.iter().map(error_json).collect();
    for r in reports {
        errors.extend(r.errors.iter().map(error_json));
        for o in &r.objects {
            let mut v = json!({
                "file": r.source,
                "line": o.line,
                "document": o.document,
                "apiVersion": o.api_version,
                "kind": o.kind,
                "name": o.name,
                "namespace": o.namespace,
            });
            let extra = match &o.outcome {
                Outcome::Skipped { reason } => json!({"status": "skipped", "reason": reason}),
                Outcome::Passed { defaults } => json!({
                    "status": "passed",
                    "defaults": defaults.iter().map(|d| json!({
                        "line": d.line,
                        "path": d.path,
                        "container": d.container,
                        "section": d.addition.section.key(),
                        "resource": d.addition.resource,
                        "value": d.addition.value,
                        "pointer": d.pointer,
                    })).collect::<Vec<_>>(),
                }),
                Outcome::Failed {
                    message,
                    violations,
                } => json!({
                    "status": "failed",
                    "message": message,
                    "violations": violations.iter().map(|f| json!({
                        "line": f.line,
                        "path": f.path,
                        "container": f.container,
                        "resource": f.resource,
                        "problem": f.problem,
                        "message": f.message,
                    })).collect::<Vec<_>>(),
                }),
            };
            if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
                m.extend(e);
            }
            results.push(v);
        }
    }
    json!({
        "summary": {
            "files": s.files,
            "checked": s.checked,
            "passed": s.passed,
            "failed": s.failed,
            "violations": s.violations,
            "skipped": s.skipped,
            "defaults": s.defaults,
            "errors": s.errors,
        },
        "results": results,
        "errors": errors,
    })
}

/// A path as a SARIF artifact URI: relative paths stay relative (to the working folder, the
/// usual `%SRCROOT%` of a CI job), with `/` separators and reserved characters escaped.
pub fn artifact_uri(source: &str) -> String {
    let path = source.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::with_capacity(path.len() + 8);
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn location(source: &str, line: usize) -> Value {
    json!({"physicalLocation": {
        "artifactLocation": {"uri": artifact_uri(source)},
        "region": {"startLine": line.max(1)},
    }})
}

/// SARIF 2.1.0: one result per violation, input errors as tool notifications.
pub fn sarif(reports: &[FileReport], extra_errors: &[InputError]) -> Value {
    let mut results = Vec::new();
    let mut notes = Vec::new();
    let note = |e: &InputError| {
        let mut n = json!({"level": "error", "message": {"text": e.message}});
        if let Some(m) = n.as_object_mut() {
            m.insert(
                "locations".into(),
                json!([location(&e.source, e.line.unwrap_or(1))]),
            );
        }
        n
    };
    notes.extend(extra_errors.iter().map(note));
    for r in reports {
        notes.extend(r.errors.iter().map(note));
        for o in &r.objects {
            let Outcome::Failed {
                message,
                violations,
            } = &o.outcome
            else {
                continue;
            };
            if violations.is_empty() {
                results.push(json!({
                    "ruleId": "unreadable-workload",
                    "ruleIndex": 1,
                    "level": "error",
                    "message": {"text": format!("{}: {message}", o.label())},
                    "locations": [location(&r.source, o.line)],
                }));
            }
            for v in violations {
                results.push(json!({
                    "ruleId": "container-resources",
                    "ruleIndex": 0,
                    "level": "error",
                    "message": {"text": format!("{}: {}", o.label(), v.message)},
                    "locations": [location(&r.source, v.line)],
                    "properties": {"path": v.path, "container": v.container, "resource": v.resource},
                }));
            }
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "resource-limits",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": [
                    {
                        "id": "container-resources",
                        "name": "ContainerResources",
                        "shortDescription": {"text": "Every container declares resource requests and limits within the configured bounds"},
                        "help": {"text": "Set resources.requests and resources.limits on the container within the bounds of the policy settings; `resource-limits fix` adds the configured defaults."},
                        "defaultConfiguration": {"level": "error"},
                    },
                    {
                        "id": "unreadable-workload",
                        "name": "UnreadableWorkload",
                        "shortDescription": {"text": "The admission policy cannot read the workload (it would be rejected at admission)"},
                        "defaultConfiguration": {"level": "error"},
                    },
                ],
            }},
            "invocations": [{
                "executionSuccessful": notes.is_empty(),
                "toolExecutionNotifications": notes,
            }],
            "results": results,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(artifact_uri("./charts/a b.yaml"), "charts/a%20b.yaml");
        assert_eq!(artifact_uri("/abs/x.yaml"), "file:///abs/x.yaml");
        assert_eq!(artifact_uri("<stdin>"), "%3Cstdin%3E");
    }
}
