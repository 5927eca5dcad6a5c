//! `resource-limits audit`: the workloads of a live cluster judged as their CREATE would be,
//! through the core's entry for a manifest, so that a platform team sees what protect mode
//! would refuse (and what it would mutate) before switching it on.
//!
//! Reads what kubectl would read (kube-rs: KUBECONFIG, a context, or in-cluster credentials),
//! lists Pods and the eight workload kinds a page at a time, and reports owners, not copies:
//! a Pod, ReplicaSet or Job that a listed object controls is counted under it, not judged
//! apart. Knows nothing of output formats: the CLI prints the [`Audit`]; [`report`] writes it
//! into the cluster as policy reports when asked.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Selector;
use kube::{Client, Config};
use resource_limits::document;
use resource_limits::{Settings, Verdict, Webhook};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

pub mod outcome;
pub mod report;

/// A kind the policy checks, as the API serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// `apps`, or empty for the core group.
    pub group: &'static str,
    /// `v1`.
    pub version: &'static str,
    /// `Deployment`.
    pub kind: &'static str,
    /// `deployments`.
    pub plural: &'static str,
}

impl Target {
    /// `apps/v1`, or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Every kind audited, owners before what they own (so an owner is known when its Pods come).
pub const TARGETS: [Target; 9] = [
    Target {
        group: "batch",
        version: "v1",
        kind: "CronJob",
        plural: "cronjobs",
    },
    Target {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
    },
    Target {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
    },
    Target {
        group: "apps",
        version: "v1",
        kind: "ReplicaSet",
        plural: "replicasets",
    },
    Target {
        group: "apps",
        version: "v1",
        kind: "StatefulSet",
        plural: "statefulsets",
    },
    Target {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
    },
    Target {
        group: "",
        version: "v1",
        kind: "ReplicationController",
        plural: "replicationcontrollers",
    },
    Target {
        group: "",
        version: "v1",
        kind: "PodTemplate",
        plural: "podtemplates",
    },
    Target {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
    },
];

/// What a Kubewarden policy puts in scope: the kinds its rules name for CREATE, its
/// namespace and object selectors, and for an AdmissionPolicy its own namespace alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    /// `ClusterAdmissionPolicy/NAME` or `AdmissionPolicy/NAMESPACE/NAME`.
    pub policy: String,
    /// The kinds its rules match for CREATE.
    pub kinds: Vec<Target>,
    /// `spec.namespaceSelector`.
    pub namespace_selector: Option<Selector>,
    /// `spec.objectSelector`.
    pub object_selector: Option<Selector>,
    /// An AdmissionPolicy's own namespace.
    pub namespace: Option<String>,
    /// Its `io.kubewarden.policy.category` annotation.
    pub category: Option<String>,
    /// Its `io.kubewarden.policy.severity` annotation.
    pub severity: Option<String>,
    /// Whether it runs in monitor mode (`spec.mode: monitor`).
    pub monitor: bool,
}

impl Scope {
    /// The scope of a ClusterAdmissionPolicy or AdmissionPolicy (as JSON); `Ok(None)` for
    /// anything else (plain settings: every kind, every namespace).
    pub fn of_policy(policy: &serde_json::Value) -> Result<Option<Scope>, String> {
        let kind = policy["kind"].as_str().unwrap_or_default();
        if kind != "ClusterAdmissionPolicy" && kind != "AdmissionPolicy" {
            return Ok(None);
        }
        let name = policy["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = (kind == "AdmissionPolicy").then(|| {
            policy["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned()
        });
        let spec = &policy["spec"];
        let annotation = |key: &str| {
            policy["metadata"]["annotations"][key]
                .as_str()
                .map(str::to_owned)
        };
        let selector = |field: &str| -> Result<Option<Selector>, String> {
            match &spec[field] {
                serde_json::Value::Null => Ok(None),
                v => {
                    let ls: LabelSelector = serde_json::from_value(v.clone())
                        .map_err(|e| format!("spec.{field}: {e}"))?;
                    Selector::try_from(ls)
                        .map(Some)
                        .map_err(|e| format!("spec.{field}: {e}"))
                }
            }
        };
        let has = |list: &serde_json::Value, want: &[&str]| {
            list.as_array().is_some_and(|items| {
                items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .any(|item| want.contains(&item))
            })
        };
        let kinds = TARGETS
            .into_iter()
            .filter(|t| {
                spec["rules"].as_array().into_iter().flatten().any(|rule| {
                    has(&rule["operations"], &["CREATE", "*"])
                        && has(&rule["apiGroups"], &[t.group, "*"])
                        && has(&rule["apiVersions"], &[t.version, "*"])
                        && has(&rule["resources"], &[t.plural, "*", "*/*"])
                })
            })
            .collect();
        Ok(Some(Scope {
            policy: match &namespace {
                Some(ns) => format!("{kind}/{ns}/{name}"),
                None => format!("{kind}/{name}"),
            },
            kinds,
            namespace_selector: selector("namespaceSelector")?,
            object_selector: selector("objectSelector")?,
            namespace,
            category: annotation("io.kubewarden.policy.category"),
            severity: annotation("io.kubewarden.policy.severity"),
            monitor: spec["mode"] == "monitor",
        }))
    }
}

impl Scope {
    /// The policy's name in reports, as Kubewarden's audit-scanner names it:
    /// `clusterwide-NAME`, or `namespaced-NAMESPACE-NAME` for an AdmissionPolicy.
    pub fn report_policy(&self) -> String {
        match self.policy.split('/').collect::<Vec<_>>().as_slice() {
            ["AdmissionPolicy", ns, name] => format!("namespaced-{ns}-{name}"),
            [_, name] => format!("clusterwide-{name}"),
            _ => self.policy.clone(),
        }
    }
}

/// Told after each page listed: the kind, and how many objects of it so far.
pub type Progress = std::sync::Arc<dyn Fn(Target, usize) + Send + Sync>;

/// What to audit and how to reach the cluster.
#[derive(Clone, Default)]
pub struct Options {
    /// One namespace; `None`: all of them.
    pub namespace: Option<String>,
    /// A kubeconfig file (else KUBECONFIG, ~/.kube/config, or in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// A context of the kubeconfig (else its current one).
    pub context: Option<String>,
    /// Objects per page (`limit`); 0 means 500.
    pub page_size: u32,
    /// A policy's scope, when the settings came from one.
    pub scope: Option<Scope>,
    /// Told after each page (a progress bar on a terminal).
    pub progress: Option<Progress>,
    /// At most this many requests a second (0: no limit), to spare a busy API server: the
    /// lists, and with `report` the writes and deletes.
    pub requests_per_second: u32,
    /// Write the audit into the cluster as policy reports.
    pub report: Option<report::Reporting>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("namespace", &self.namespace)
            .field("kubeconfig", &self.kubeconfig)
            .field("context", &self.context)
            .field("page_size", &self.page_size)
            .field("scope", &self.scope)
            .field("requests_per_second", &self.requests_per_second)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// One audited object (an owner, or an object nothing listed controls).
#[derive(Clone, Debug)]
pub struct Audited {
    /// Its namespace.
    pub namespace: String,
    /// Its kind.
    pub target: Target,
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// Its resourceVersion when it was listed.
    pub resource_version: String,
    /// The verdict on it, as its CREATE would get from the mutating webhook.
    pub verdict: Verdict,
    /// What it controls, counted through it (Pods, ReplicaSets, Jobs), by kind.
    pub owns: BTreeMap<&'static str, usize>,
}

/// The result of an audit.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    /// The objects reported, in the order listed (by kind, then as the API server lists).
    pub objects: Vec<Audited>,
    /// The namespaces seen.
    pub namespaces: BTreeSet<String>,
    /// How many objects were counted through their owners rather than reported.
    pub counted_through_owners: usize,
    /// How many objects the policy's namespace selector leaves out.
    pub out_of_scope: usize,
    /// The reports written, when asked for.
    pub reports: Option<report::Written>,
    /// What they were written as.
    pub reporting: Option<report::Reporting>,
}

/// Why the cluster could not be audited (exit code 2).
#[derive(Debug)]
pub enum AuditError {
    /// No cluster configuration (kubeconfig, context, in-cluster).
    Config(String),
    /// A kind could not be listed (a missing permission, most often: the API server's
    /// message names it).
    List {
        /// The kind.
        target: Target,
        /// The namespace, or `None` for all of them.
        namespace: Option<String>,
        /// The HTTP status, where the API server answered.
        status: Option<u16>,
        /// What the API server or the client said.
        error: String,
    },
    /// The async runtime could not start.
    Runtime(std::io::Error),
    /// The audit was done, its reports could not be written.
    Report(report::ReportError),
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::Config(e) => write!(f, "no cluster to audit: {e}"),
            AuditError::List {
                target,
                namespace,
                status,
                error,
            } => {
                let place = namespace
                    .as_ref()
                    .map_or("in any namespace".to_owned(), |n| {
                        format!("in namespace {n}")
                    });
                let verb = match status {
                    Some(403) => format!(
                        "not allowed to list {} ({}) {place}: the audit needs list on {}{}",
                        target.plural,
                        target.api_version(),
                        target.plural,
                        if target.group.is_empty() {
                            String::new()
                        } else {
                            format!(" in API group {}", target.group)
                        }
                    ),
                    _ => format!(
                        "cannot list {} ({}) {place}",
                        target.plural,
                        target.api_version()
                    ),
                };
                write!(f, "{verb}: {error}")
            }
            AuditError::Runtime(e) => write!(f, "cannot start the runtime: {e}"),
            AuditError::Report(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AuditError {}

/// Audits the cluster, on a runtime of its own.
pub fn run(settings: &Settings, options: &Options) -> Result<Audit, AuditError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(AuditError::Runtime)?;
    runtime.block_on(audit(settings, options))
}

async fn client(options: &Options) -> Result<Client, AuditError> {
    let config_error = |e: &dyn fmt::Display| AuditError::Config(e.to_string());
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &options.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|e| config_error(&e))?;
            Config::from_custom_kubeconfig(file, &kube_options)
                .await
                .map_err(|e| config_error(&e))?
        }
        None if options.context.is_some() => Config::from_kubeconfig(&kube_options)
            .await
            .map_err(|e| config_error(&e))?,
        None => Config::infer().await.map_err(|e| config_error(&e))?,
    };
    Client::try_from(config).map_err(|e| config_error(&e))
}

/// An object listed: its verdict and whom it belongs to.
struct Listed {
    audited: Audited,
    /// The uid of its controller, where it has one.
    controller: Option<String>,
}

/// Lists every target, judges each object, then folds what an owner controls into it.
pub async fn audit(settings: &Settings, options: &Options) -> Result<Audit, AuditError> {
    let client = client(options).await?;
    let page = if options.page_size == 0 {
        500
    } else {
        options.page_size
    };
    let scope = options.scope.as_ref();
    // An AdmissionPolicy sees its own namespace only.
    let namespace = scope
        .and_then(|s| s.namespace.clone())
        .or_else(|| options.namespace.clone());
    let selected_namespaces = match scope.and_then(|s| s.namespace_selector.as_ref()) {
        Some(selector) => Some(namespaces_selected(&client, selector).await?),
        None => None,
    };
    let mut listed: Vec<Listed> = Vec::new();
    let mut namespaces = BTreeSet::new();
    let mut out_of_scope = 0;
    let mut pace = (options.requests_per_second > 0).then(|| {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs_f64(
            1.0 / f64::from(options.requests_per_second),
        ));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    let targets: Vec<Target> = match scope {
        Some(s) => s.kinds.clone(),
        None => TARGETS.to_vec(),
    };
    for target in targets {
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(target.group, target.version, target.kind),
            target.plural,
        );
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let api_version = target.api_version();
        let first = || {
            let params = ListParams::default().limit(page);
            match scope.and_then(|s| s.object_selector.clone()) {
                Some(selector) => params.labels_from(&selector),
                None => params,
            }
        };
        let mut params = first();
        let mut seen = 0;
        loop {
            tick(pace.as_mut()).await;
            let list = api
                .list(&params)
                .await
                .map_err(|e| list_error(target, namespace.clone(), &e))?;
            for object in &list.items {
                let namespace = object.metadata.namespace.clone().unwrap_or_default();
                if selected_namespaces
                    .as_ref()
                    .is_some_and(|selected| !selected.contains(&namespace))
                {
                    out_of_scope += 1;
                    continue;
                }
                let name = object.metadata.name.clone().unwrap_or_default();
                let uid = object.metadata.uid.clone().unwrap_or_default();
                let resource_version = object.metadata.resource_version.clone().unwrap_or_default();
                let controller = object
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|r| r.controller == Some(true))
                    .map(|r| r.uid.clone());
                let json = serde_json::to_string(object).unwrap_or_default();
                let verdict = document::evaluate_manifest(
                    settings,
                    Some(&api_version),
                    target.kind,
                    &json,
                    Webhook::Mutating,
                );
                namespaces.insert(namespace.clone());
                listed.push(Listed {
                    audited: Audited {
                        namespace,
                        target,
                        name,
                        uid,
                        resource_version,
                        verdict,
                        owns: BTreeMap::new(),
                    },
                    controller,
                });
            }
            seen += list.items.len();
            if let Some(progress) = &options.progress {
                progress(target, seen);
            }
            match list.metadata.continue_.as_deref() {
                Some(token) if !token.is_empty() => {
                    params = first().continue_token(token);
                }
                _ => break,
            }
        }
    }
    let mut audit = fold(listed, namespaces);
    audit.out_of_scope = out_of_scope;
    if let Some(reporting) = &options.report {
        let written = report::write(
            &client,
            &audit.objects,
            reporting,
            namespace.as_deref(),
            pace.as_mut(),
        )
        .await
        .map_err(AuditError::Report)?;
        audit.reports = Some(written);
        audit.reporting = Some(reporting.clone());
    }
    Ok(audit)
}

/// Waits for the next tick of the request pace, where there is one (`--requests-per-second`).
async fn tick(pace: Option<&mut tokio::time::Interval>) {
    if let Some(wait) = pace {
        wait.tick().await;
    }
}

/// A request that failed: the API server's HTTP status and message where it answered, else
/// what the client said.
fn api_status(e: &kube::Error) -> (Option<u16>, String) {
    match e {
        kube::Error::Api(status) => (Some(status.code), status.message.clone()),
        other => (None, other.to_string()),
    }
}

/// A list that failed: the API server's status and message where it answered.
fn list_error(target: Target, namespace: Option<String>, e: &kube::Error) -> AuditError {
    let (status, error) = api_status(e);
    AuditError::List {
        target,
        namespace,
        status,
        error,
    }
}

/// The names of the namespaces a policy's namespace selector picks.
async fn namespaces_selected(
    client: &Client,
    selector: &Selector,
) -> Result<BTreeSet<String>, AuditError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let list = api
        .list(&ListParams::default().labels_from(selector))
        .await
        .map_err(|e| {
            let namespaces = Target {
                group: "",
                version: "v1",
                kind: "Namespace",
                plural: "namespaces",
            };
            list_error(namespaces, None, &e)
        })?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect())
}

/// Reports owners, not copies: each object that a listed object controls (directly, or
/// through another: a Deployment's ReplicaSet's Pods) is counted under the topmost listed
/// owner.
fn fold(listed: Vec<Listed>, namespaces: BTreeSet<String>) -> Audit {
    let by_uid: HashMap<&str, usize> = listed
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.audited.uid.is_empty())
        .map(|(i, l)| (l.audited.uid.as_str(), i))
        .collect();
    // The topmost listed owner of each object (None: it is reported itself).
    let top: Vec<Option<usize>> = (0..listed.len())
        .map(|i| {
            let mut at = i;
            let mut owner = None;
            // Owner chains are short; the bound guards against a cycle in bad data.
            for _ in 0..8 {
                match listed[at]
                    .controller
                    .as_deref()
                    .and_then(|uid| by_uid.get(uid))
                {
                    Some(&o) if o != at => {
                        owner = Some(o);
                        at = o;
                    }
                    _ => break,
                }
            }
            owner
        })
        .collect();
    let mut counts: Vec<BTreeMap<&'static str, usize>> = vec![BTreeMap::new(); listed.len()];
    let mut counted = 0;
    for (i, owner) in top.iter().enumerate() {
        if let Some(o) = owner {
            *counts[*o].entry(listed[i].audited.target.kind).or_default() += 1;
            counted += 1;
        }
    }
    let objects = listed
        .into_iter()
        .zip(top)
        .zip(counts)
        .filter(|((_, owner), _)| owner.is_none())
        .map(|((l, _), owns)| Audited { owns, ..l.audited })
        .collect();
    Audit {
        objects,
        namespaces,
        counted_through_owners: counted,
        out_of_scope: 0,
        reports: None,
        reporting: None,
    }
}
