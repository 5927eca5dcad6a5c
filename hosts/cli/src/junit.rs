//! JUnit XML (`check -o junit`), for the CI systems that show test reports (GitLab's test
//! report, Jenkins, Azure Pipelines, the JUnit report actions): one test suite an input file,
//! one test case a Kubernetes object (`Deployment/web`, class the file): passed, failed (each
//! violation a line of the failure's text, `file:line path "container": problem`), or skipped
//! with the reason. An input that could not be read is a test case in error. Warnings are the
//! case's standard error, and a failure with `--warnings-as-errors`. Written with the
//! `quick-junit` crate.

use crate::check::{FileReport, Finding, Outcome};
use crate::manifest::InputError;
use crate::yaml::Duplicate;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write;

fn lines(source: &str, findings: &[Finding]) -> String {
    let mut text = String::new();
    for f in findings {
        let _ = writeln!(text, "{source}:{} {}", f.line, f.message);
    }
    text
}

/// A case's status with its keys written twice: each a line of its failure's text; a case
/// that passed fails with them.
fn with_duplicates(status: TestCaseStatus, source: &str, twice: &[Duplicate]) -> TestCaseStatus {
    if twice.is_empty() {
        return status;
    }
    let mut text = String::new();
    for d in twice {
        let _ = writeln!(text, "{source}:{} {d}", d.line);
    }
    let mut status = status;
    if let TestCaseStatus::NonSuccess { description, .. } = &mut status {
        let before = description.as_deref().unwrap_or_default();
        *description = Some(format!("{before}{text}").into());
        return status;
    }
    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
    s.set_message(if twice.len() == 1 {
        "1 key written twice".to_owned()
    } else {
        format!("{} keys written twice", twice.len())
    })
    .set_type("duplicate-key")
    .set_description(text);
    s
}

fn error_case(e: &InputError) -> TestCase {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status
        .set_message(e.message.as_str())
        .set_type("input-error")
        .set_description(e.to_string());
    let mut case = TestCase::new("input", status);
    case.set_classname(e.source.as_str());
    case
}

/// The JUnit XML document of a run.
pub fn junit(
    reports: &[FileReport],
    extra_errors: &[InputError],
    warnings_as_errors: bool,
) -> String {
    let mut report = Report::new("resource-limits");
    if !extra_errors.is_empty() {
        let mut suite = TestSuite::new("inputs");
        suite.add_test_cases(extra_errors.iter().map(error_case));
        report.add_test_suite(suite);
    }
    for r in reports {
        let mut suite = TestSuite::new(r.source.as_str());
        suite.add_test_cases(r.errors.iter().map(error_case));
        // Documents that are no object (empty ones, a file's non-Kubernetes YAML) are not
        // test cases; what the policy does not check is a skipped one.
        for o in r.objects.iter().filter(|o| o.kind.is_some()) {
            let warnings = o.outcome.warnings();
            let status = match &o.outcome {
                Outcome::Skipped { reason } => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(reason.as_str());
                    s
                }
                Outcome::Failed {
                    message,
                    violations,
                    ..
                } => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    let text = if violations.is_empty() {
                        format!("{}:{} {message}\n", r.source, o.line)
                    } else {
                        lines(&r.source, violations)
                    };
                    let count = violations.len().max(1);
                    s.set_message(format!(
                        "{count} {}",
                        if count == 1 {
                            "violation"
                        } else {
                            "violations"
                        }
                    ))
                    .set_type(if violations.is_empty() {
                        "unreadable-workload"
                    } else {
                        "container-resources"
                    })
                    .set_description(text);
                    s
                }
                Outcome::Passed { .. } if warnings_as_errors && !warnings.is_empty() => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!(
                        "{} {} (--warnings-as-errors)",
                        warnings.len(),
                        if warnings.len() == 1 {
                            "warning"
                        } else {
                            "warnings"
                        }
                    ))
                    .set_type("container-resources-warning")
                    .set_description(lines(&r.source, warnings));
                    s
                }
                Outcome::Passed { .. } => TestCaseStatus::success(),
            };
            let status = with_duplicates(status, &r.source, &o.duplicates);
            let mut case = TestCase::new(o.label(), status);
            case.set_classname(r.source.as_str());
            if let Outcome::Passed { defaults, .. } = &o.outcome {
                if !defaults.is_empty() {
                    let mut text = String::new();
                    for d in defaults {
                        let _ = writeln!(text, "{}:{} default: {}", r.source, d.line, d.describe());
                    }
                    case.set_system_out(text);
                }
            }
            if !warnings.is_empty() {
                case.set_system_err(lines(&r.source, warnings));
            }
            suite.add_test_case(case);
        }
        // A file skipped as a whole (a chart's, a patch) holds no test case.
        if !suite.test_cases.is_empty() {
            report.add_test_suite(suite);
        }
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot write JUnit XML: {e} -->\n"))
}
