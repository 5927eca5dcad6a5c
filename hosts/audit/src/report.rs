//! `audit --report`: the audit written into the cluster as policy reports, one Report per
//! audited object (an owner, or an object nothing listed controls), as Kubewarden's
//! audit-scanner writes them: named after the object's uid (and, here, the policy), owned by
//! the object (so the garbage collector removes it with the object), its `scope` the object,
//! one result for the policy (`fail`: it would be refused; `warn`: it lacks what a default
//! would add, or draws a warning; `pass`), the message saying why. Written with server-side
//! apply, so a second run updates each report in place; the reports of an earlier run that
//! this one did not write (the object is gone, or out of scope now) are deleted.
//!
//! Two formats: `openreports.io/v1alpha1` Report (what Kubewarden writes now) and
//! `wgpolicyk8s.io/v1alpha2` PolicyReport (the Policy Working Group's, which Policy Reporter
//! and older tools read). Their results have the same shape.

use crate::outcome::{lacks, refusals, warnings, Outcome};
use crate::{api_status, tick, Audited};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::Client;
use serde_json::{json, Value};
use std::fmt;

/// The report format: which API group the reports go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `openreports.io/v1alpha1` `Report`.
    OpenReports,
    /// `wgpolicyk8s.io/v1alpha2` `PolicyReport`.
    PolicyReport,
}

impl Format {
    /// The API group.
    pub fn group(self) -> &'static str {
        match self {
            Format::OpenReports => "openreports.io",
            Format::PolicyReport => "wgpolicyk8s.io",
        }
    }

    fn version(self) -> &'static str {
        match self {
            Format::OpenReports => "v1alpha1",
            Format::PolicyReport => "v1alpha2",
        }
    }

    /// The kind.
    pub fn kind(self) -> &'static str {
        match self {
            Format::OpenReports => "Report",
            Format::PolicyReport => "PolicyReport",
        }
    }

    /// The resource's plural name.
    pub fn plural(self) -> &'static str {
        match self {
            Format::OpenReports => "reports",
            Format::PolicyReport => "policyreports",
        }
    }

    /// `openreports.io/v1alpha1`.
    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    fn resource(self) -> ApiResource {
        ApiResource {
            group: self.group().to_owned(),
            version: self.version().to_owned(),
            api_version: self.api_version(),
            kind: self.kind().to_owned(),
            plural: self.plural().to_owned(),
        }
    }
}

/// What to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reporting {
    /// The format.
    pub format: Format,
    /// The policy's name in each result (`clusterwide-NAME` for a ClusterAdmissionPolicy,
    /// `namespaced-NAMESPACE-NAME` for an AdmissionPolicy, as Kubewarden names them;
    /// `resource-limits` for plain settings).
    pub policy: String,
    /// The results' category: the policy's `io.kubewarden.policy.category` annotation, else
    /// [`CATEGORY`].
    pub category: String,
    /// The results' severity: `info` for a policy in monitor mode, else its
    /// `io.kubewarden.policy.severity` annotation, else [`SEVERITY`] (as Kubewarden's
    /// audit-scanner takes them).
    pub severity: String,
}

/// The category policy-metadata.yaml gives the policy (`io.kubewarden.policy.category`).
pub const CATEGORY: &str = "Resource validation";
/// The severity policy-metadata.yaml gives the policy (`io.kubewarden.policy.severity`).
pub const SEVERITY: &str = "medium";

impl Reporting {
    /// What to write for the policy of `scope` (`None`: plain settings), as `format`; the
    /// policy's name in the results is `name`, else the one Kubewarden gives it.
    pub fn of(format: Format, scope: Option<&crate::Scope>, name: Option<String>) -> Reporting {
        Reporting {
            format,
            policy: name.unwrap_or_else(|| {
                scope.map_or_else(|| MANAGED_BY.to_owned(), crate::Scope::report_policy)
            }),
            category: scope
                .and_then(|s| s.category.clone())
                .unwrap_or_else(|| CATEGORY.to_owned()),
            severity: match scope {
                Some(s) if s.monitor => "info".to_owned(),
                _ => scope
                    .and_then(|s| s.severity.clone())
                    .unwrap_or_else(|| SEVERITY.to_owned()),
            },
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Reports written (created or updated).
    pub written: usize,
    /// Reports of earlier runs deleted (their object gone or out of scope).
    pub removed: usize,
    /// Reports whose result is `pass`.
    pub pass: usize,
    /// Reports whose result is `fail`.
    pub fail: usize,
    /// Reports whose result is `warn`.
    pub warn: usize,
}

/// Why the reports could not be written (exit code 2; the audit itself was done).
#[derive(Debug)]
pub struct ReportError {
    /// What was being done: `write`, `list` or `delete`.
    pub verb: &'static str,
    /// The format.
    pub format: Format,
    /// The namespace, where one.
    pub namespace: Option<String>,
    /// The HTTP status, where the API server answered.
    pub status: Option<u16>,
    /// What the API server or the client said.
    pub error: String,
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = self
            .namespace
            .as_ref()
            .map_or(String::new(), |n| format!(" in namespace {n}"));
        let (format, plural, group) = (
            self.format.api_version(),
            self.format.plural(),
            self.format.group(),
        );
        match self.status {
            Some(404) => write!(
                f,
                "cannot {} {plural} ({format}){place}: the cluster does not serve them; install \
                 the {} CustomResourceDefinition, or choose the other --report format: {}",
                self.verb,
                self.format.kind(),
                self.error
            ),
            Some(403) => {
                let needs = match self.verb {
                    "write" => "create and patch",
                    v => v,
                };
                write!(
                    f,
                    "not allowed to {} {plural} ({format}){place}: --report needs {needs} on \
                     {plural} in API group {group} (and list and delete, to remove stale ones): {}",
                    self.verb, self.error
                )
            }
            _ => write!(
                f,
                "cannot {} {plural} ({format}){place}: {}",
                self.verb, self.error
            ),
        }
    }
}

impl std::error::Error for ReportError {}

/// The label every report written here carries (`app.kubernetes.io/managed-by`).
pub const MANAGED_BY: &str = "resource-limits";
/// The label naming the run that wrote a report.
pub const RUN_LABEL: &str = "resource-limits/audit-run";
/// The label naming the policy (as a label value) whose results a report holds.
pub const POLICY_LABEL: &str = "resource-limits/policy";
/// The field manager of the server-side apply.
pub const FIELD_MANAGER: &str = "resource-limits-audit";

/// A name as a label value and a name part: lower case letters, digits, `-` and `.`, at
/// most 63 characters, starting and ending with a letter or digit.
pub fn label_value(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .take(63)
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "policy".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The result for an object: `fail` with each violation, `warn` with what it lacks and its
/// warnings, or `pass`; `None` for an object the policy skips (no report).
pub fn result_of(o: &Audited) -> Option<(&'static str, String)> {
    let verdict = &o.verdict;
    match Outcome::of(verdict) {
        Outcome::Skipped => None,
        Outcome::Refused => Some(("fail", refusals(verdict).join("; "))),
        outcome => {
            let mut notes = if outcome == Outcome::Defaults {
                lacks(verdict)
            } else {
                Vec::new()
            };
            notes.extend(warnings(verdict));
            if notes.is_empty() {
                Some(("pass", "fits the policy's settings".to_owned()))
            } else {
                Some(("warn", notes.join("; ")))
            }
        }
    }
}

/// One report, as applied.
#[derive(Debug)]
pub struct Report {
    /// Its name (`POLICY-UID`).
    pub name: String,
    /// Its one result: `fail`, `warn` or `pass`.
    pub result: &'static str,
    /// The object applied.
    pub body: Value,
}

/// The report for one audited object; `None` for an object the policy skips.
pub fn report_for(o: &Audited, reporting: &Reporting, run: &str, now: i64) -> Option<Report> {
    let (result, message) = result_of(o)?;
    let policy_label = label_value(&reporting.policy);
    let name = format!("{policy_label}-{}", o.uid);
    let count = |r: &str| u64::from(result == r);
    let mut report = json!({
        "apiVersion": reporting.format.api_version(),
        "kind": reporting.format.kind(),
        "metadata": {
            "name": name,
            "namespace": o.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGED_BY,
                RUN_LABEL: run,
                POLICY_LABEL: policy_label,
            },
            "ownerReferences": [{
                "apiVersion": o.target.api_version(),
                "kind": o.target.kind,
                "name": o.name,
                "uid": o.uid,
            }],
        },
        "scope": {
            "apiVersion": o.target.api_version(),
            "kind": o.target.kind,
            "namespace": o.namespace,
            "name": o.name,
            "uid": o.uid,
            "resourceVersion": o.resource_version,
        },
        "summary": {
            "pass": count("pass"), "fail": count("fail"), "warn": count("warn"),
            "error": 0, "skip": 0,
        },
        "results": [{
            "source": MANAGED_BY,
            "policy": reporting.policy,
            "rule": "container-resources",
            "category": reporting.category,
            "severity": reporting.severity,
            "result": result,
            "scored": true,
            "message": message,
            "timestamp": {"seconds": now, "nanos": 0},
            "properties": {
                "outcome": Outcome::of(&o.verdict).name(),
            },
        }],
    });
    if reporting.format == Format::OpenReports {
        report["source"] = json!(MANAGED_BY);
    }
    Some(Report {
        name,
        result,
        body: report,
    })
}

/// Writes a report for each audited object, then deletes this policy's reports of earlier
/// runs in the namespaces audited (`namespace`: one, or all) that this run did not write;
/// each request waits for a tick of `pace`, where there is one (`--requests-per-second`).
pub async fn write(
    client: &Client,
    objects: &[Audited],
    reporting: &Reporting,
    namespace: Option<&str>,
    mut pace: Option<&mut tokio::time::Interval>,
) -> Result<Written, ReportError> {
    let resource = reporting.format.resource();
    let run = run_id();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let error = |verb: &'static str, namespace: Option<String>, e: kube::Error| {
        let (status, error) = api_status(&e);
        ReportError {
            verb,
            format: reporting.format,
            namespace,
            status,
            error,
        }
    };
    let mut written = Written::default();
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    for o in objects {
        let Some(report) = report_for(o, reporting, &run, now) else {
            continue;
        };
        match report.result {
            "fail" => written.fail += 1,
            "warn" => written.warn += 1,
            _ => written.pass += 1,
        }
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &o.namespace, &resource);
        tick(pace.as_deref_mut()).await;
        api.patch(&report.name, &apply, &Patch::Apply(&report.body))
            .await
            .map_err(|e| error("write", Some(o.namespace.clone()), e))?;
        written.written += 1;
    }
    // This policy's reports that this run did not write.
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let selector = format!(
        "app.kubernetes.io/managed-by={MANAGED_BY},{POLICY_LABEL}={},{RUN_LABEL}!={run}",
        label_value(&reporting.policy)
    );
    let first = ListParams::default().labels(&selector).limit(500);
    let mut params = first.clone();
    loop {
        tick(pace.as_deref_mut()).await;
        let list = api
            .list(&params)
            .await
            .map_err(|e| error("list", namespace.map(str::to_owned), e))?;
        for stale in &list.items {
            let (Some(name), Some(ns)) = (&stale.metadata.name, &stale.metadata.namespace) else {
                continue;
            };
            let one: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &resource);
            tick(pace.as_deref_mut()).await;
            match one.delete(name, &DeleteParams::default()).await {
                Ok(_) => written.removed += 1,
                // Gone already (its object's garbage collection).
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(error("delete", Some(ns.clone()), e)),
            }
        }
        match list.metadata.continue_.as_deref() {
            Some(token) if !token.is_empty() => params = first.clone().continue_token(token),
            _ => break,
        }
    }
    Ok(written)
}

/// A run's id: the time in nanoseconds and the process id, as a label value (unique enough
/// for telling this run's reports from earlier ones).
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TARGETS;
    use resource_limits::document;
    use resource_limits::{Settings, Webhook};
    use std::collections::BTreeMap;

    fn audited(settings: &str, pod: &str) -> Audited {
        let settings = Settings::from_json(settings.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let target = TARGETS
            .into_iter()
            .find(|t| t.kind == "Pod")
            .unwrap_or(TARGETS[0]);
        Audited {
            namespace: "shop".into(),
            target,
            name: "web".into(),
            uid: "0b5e6c1a-0000-4000-8000-000000000001".into(),
            resource_version: "42".into(),
            verdict: document::evaluate_manifest(
                &settings,
                Some("v1"),
                "Pod",
                pod,
                Webhook::Mutating,
            ),
            owns: BTreeMap::new(),
        }
    }

    const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"app","image":"nginx","resources":{"limits":{"cpu":"8"}}}]}}"#;

    #[test]
    fn one_result_per_object_fail_warn_or_pass() {
        let reporting = Reporting::of(
            Format::OpenReports,
            None,
            Some("clusterwide-Resource_Limits".into()),
        );
        assert_eq!(
            (reporting.category.as_str(), reporting.severity.as_str()),
            ("Resource validation", "medium")
        );
        let refused = audited(r#"{"cpu":{"maxLimit":"4"}}"#, POD);
        let Some(Report {
            name,
            result,
            body: r,
        }) = report_for(&refused, &reporting, "run1", 7)
        else {
            panic!("a report")
        };
        assert_eq!(result, "fail");
        assert_eq!(
            name,
            "clusterwide-resource-limits-0b5e6c1a-0000-4000-8000-000000000001"
        );
        assert_eq!(r["apiVersion"], "openreports.io/v1alpha1");
        assert_eq!(r["kind"], "Report");
        assert_eq!(r["source"], "resource-limits");
        assert_eq!(r["metadata"]["namespace"], "shop");
        assert_eq!(r["metadata"]["labels"][RUN_LABEL], "run1");
        assert_eq!(r["metadata"]["ownerReferences"][0]["uid"], refused.uid);
        assert_eq!(r["scope"]["resourceVersion"], "42");
        assert_eq!(
            r["summary"],
            json!({"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0})
        );
        let result = &r["results"][0];
        assert_eq!(result["result"], "fail");
        assert_eq!(result["policy"], "clusterwide-Resource_Limits");
        assert_eq!(
            result["message"],
            "spec.containers[0] \"app\": cpu limit 8 exceeds maxLimit 4"
        );
        assert_eq!(result["timestamp"], json!({"seconds": 7, "nanos": 0}));

        let lacking = audited(r#"{"memory":{"defaultLimit":"1Gi"}}"#, POD);
        let policy_report = Reporting {
            format: Format::PolicyReport,
            ..reporting
        };
        let Some(Report {
            result, body: r, ..
        }) = report_for(&lacking, &policy_report, "run1", 7)
        else {
            panic!("a report")
        };
        assert_eq!(result, "warn");
        assert_eq!(r["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert!(r.get("source").is_none(), "{r}");
        assert_eq!(r["results"][0]["result"], "warn");
        assert_eq!(
            r["results"][0]["message"],
            "spec.containers[0] \"app\": memory limit is missing (defaultLimit 1Gi would be added)"
        );
        let fits = audited(r#"{"cpu":{"maxLimit":"8"}}"#, POD);
        assert_eq!(
            result_of(&fits),
            Some(("pass", "fits the policy's settings".to_owned()))
        );
    }

    /// The category and severity are policy-metadata.yaml's, unless the policy file says
    /// otherwise; a policy in monitor mode is `info`, as Kubewarden's audit-scanner has it.
    #[test]
    fn category_and_severity_as_kubewarden_takes_them() {
        let metadata = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policy-metadata.yaml"),
        )
        .unwrap_or_default();
        assert!(metadata.contains(&format!("io.kubewarden.policy.category: {CATEGORY}\n")));
        assert!(metadata.contains(&format!("io.kubewarden.policy.severity: {SEVERITY}\n")));
        let policy = |mode: &str| {
            json!({"apiVersion": "policies.kubewarden.io/v1", "kind": "ClusterAdmissionPolicy",
                "metadata": {"name": "limits", "annotations": {
                    "io.kubewarden.policy.category": "Quotas", "io.kubewarden.policy.severity": "high"}},
                "spec": {"mode": mode, "rules": []}})
        };
        let scope = crate::Scope::of_policy(&policy("protect"))
            .ok()
            .flatten()
            .unwrap_or_default();
        let r = Reporting::of(Format::PolicyReport, Some(&scope), None);
        assert_eq!(
            (r.policy.as_str(), r.category.as_str(), r.severity.as_str()),
            ("clusterwide-limits", "Quotas", "high")
        );
        let monitor = crate::Scope::of_policy(&policy("monitor"))
            .ok()
            .flatten()
            .unwrap_or_default();
        assert_eq!(
            Reporting::of(Format::PolicyReport, Some(&monitor), None).severity,
            "info"
        );
    }

    #[test]
    fn names_as_label_values() {
        assert_eq!(label_value("clusterwide-limits"), "clusterwide-limits");
        assert_eq!(label_value("-Ns/Name_"), "ns-name");
        assert_eq!(label_value(&"a".repeat(80)).len(), 63);
        assert_eq!(label_value("//"), "policy");
    }
}
