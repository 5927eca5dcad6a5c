//! Checking manifests: every object of every document through the core, as a CREATE.

use crate::manifest::{self, InputError, Source};
use crate::yaml::documents::{documents, Entry, Json};
use crate::yaml::Node;
use resource_limits::patch::Addition;
use resource_limits::review::evaluate_manifest;
use resource_limits::{Location, Settings, Verdict};

/// What the policy says about one object.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Not a kind the policy checks (or an empty document).
    Skipped { reason: String },
    /// Admitted; `defaults` are what the policy would add (empty: admitted untouched).
    Passed { defaults: Vec<DefaultAdded> },
    /// Rejected: every violation, or (when the object cannot be read) only the message.
    Failed {
        message: String,
        violations: Vec<Finding>,
    },
}

/// One violation, located.
#[derive(Debug, Clone)]
pub struct Finding {
    pub line: usize,
    pub path: String,
    pub container: Option<String>,
    pub resource: String,
    pub problem: String,
    /// `path "name": problem`, as in the admission message.
    pub message: String,
}

/// One default the policy would inject.
#[derive(Debug, Clone)]
pub struct DefaultAdded {
    pub line: usize,
    /// The container's path (`spec.template.spec.containers[0]`).
    pub path: String,
    pub container: Option<String>,
    pub addition: Addition,
    /// The JSON pointer of the added field in the document (list items included).
    pub pointer: String,
    /// Where the object is in the document (the root, or `items[3]`).
    pub object: Location,
}

impl DefaultAdded {
    /// `spec.template.spec.containers[0] "app": add limits.cpu: 1`.
    pub fn describe(&self) -> String {
        let name = self
            .container
            .as_ref()
            .and_then(|n| serde_json::to_string(n).ok())
            .map(|q| format!(" {q}"))
            .unwrap_or_default();
        format!(
            "{}{name}: add resources.{}.{}: {}",
            self.path,
            self.addition.section.key(),
            self.addition.resource,
            self.addition.value
        )
    }
}

/// One object (or empty document) and its outcome.
#[derive(Debug, Clone)]
pub struct ObjectResult {
    pub line: usize,
    /// 1-based document number in its file.
    pub document: usize,
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub outcome: Outcome,
}

impl ObjectResult {
    /// `Deployment/web`, or `document 3` for an empty one.
    pub fn label(&self) -> String {
        match &self.kind {
            Some(k) => format!("{k}/{}", self.name.as_deref().unwrap_or("<unnamed>")),
            None => format!("document {}", self.document),
        }
    }
}

/// Everything found in one input.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub source: String,
    pub objects: Vec<ObjectResult>,
    pub errors: Vec<InputError>,
}

/// Reads and checks one input.
pub fn check_source(settings: &Settings, src: &Source) -> FileReport {
    let name = src.display();
    let mut report = FileReport {
        source: name.clone(),
        objects: Vec::new(),
        errors: Vec::new(),
    };
    let text = match src.read() {
        Ok(t) => t,
        Err(e) => {
            report.errors.push(InputError {
                source: name,
                line: None,
                message: e.to_string(),
            });
            return report;
        }
    };
    match documents(&text, Json::AsYaml) {
        Ok(docs) => check_docs(settings, &docs, &mut report),
        Err(e) => report.errors.push(InputError {
            source: name,
            line: Some(e.line),
            message: e.kind.to_string(),
        }),
    }
    report
}

/// Checks every object of the documents.
pub fn check_docs(settings: &Settings, docs: &[Entry], report: &mut FileReport) {
    for doc in docs {
        let document = doc.number;
        let Some(m) = &doc.manifest else {
            report.objects.push(ObjectResult {
                line: doc.line,
                document,
                api_version: None,
                kind: None,
                name: None,
                namespace: None,
                outcome: Outcome::Skipped {
                    reason: "empty document".into(),
                },
            });
            continue;
        };
        match manifest::objects(m) {
            Ok(objects) => {
                for o in objects {
                    report.objects.push(ObjectResult {
                        line: o.line,
                        document,
                        outcome: check_object(settings, &o),
                        api_version: Some(o.api_version),
                        kind: Some(o.kind),
                        name: o.name,
                        namespace: o.namespace,
                    });
                }
            }
            Err(e) => report.errors.push(InputError {
                source: report.source.clone(),
                line: Some(m.line),
                message: format!("document {document}: {e}"),
            }),
        }
    }
}

/// The core's verdict on one object, located in the file.
pub fn check_object(settings: &Settings, o: &manifest::Object<'_>) -> Outcome {
    let verdict = evaluate_manifest(settings, Some(&o.api_version), &o.kind, &o.json);
    if let Verdict::Skipped(why) = &verdict {
        return Outcome::Skipped {
            reason: why.to_string(),
        };
    }
    if !verdict.allowed() {
        return Outcome::Failed {
            message: verdict.message().unwrap_or_default(),
            violations: verdict
                .violations()
                .iter()
                .map(|v| Finding {
                    line: o.line_at(&v.quantity_location()),
                    message: v.to_string(),
                    path: v.location.to_string(),
                    resource: v.resource().to_owned(),
                    problem: v.problem.to_string(),
                    container: v.container.clone(),
                })
                .collect(),
        };
    }
    let defaults = verdict
        .mutation()
        .map(|m| m.additions().to_vec())
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            let container = o.node_at(&a.container);
            DefaultAdded {
                line: container.map_or(o.line, |c| c.line),
                path: a.container.to_string(),
                container: container
                    .and_then(|c| c.get("name"))
                    .and_then(Node::as_str)
                    .map(str::to_owned),
                pointer: o.at.join(&a.location()).pointer(),
                object: o.at.clone(),
                addition: a,
            }
        })
        .collect();
    Outcome::Passed { defaults }
}

/// Checks every input, on all cores; reports come back in input order.
pub fn check_all(settings: &Settings, sources: &[Source]) -> Vec<FileReport> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(sources.len().max(1));
    if workers <= 1 {
        return sources.iter().map(|s| check_source(settings, s)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<FileReport>> = vec![None; sources.len()];
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(src) = sources.get(i) else { break };
                        done.push((i, check_source(settings, src)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            // A worker only panics on a bug; its inputs are then reported as not checked.
            for (i, r) in h.join().unwrap_or_default() {
                slots[i] = Some(r);
            }
        }
    });
    slots
        .into_iter()
        .zip(sources)
        .map(|(slot, src)| {
            slot.unwrap_or_else(|| FileReport {
                source: src.display(),
                objects: Vec::new(),
                errors: vec![InputError {
                    source: src.display(),
                    line: None,
                    message: "internal error: not checked".into(),
                }],
            })
        })
        .collect()
}
