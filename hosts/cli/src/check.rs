//! Checking manifests: every object of every document through the core, as a CREATE.

use crate::manifest::{self, InputError, Source};
use crate::yaml::documents::{documents, Entry, Json};
use crate::yaml::Node;
use resource_limits::patch::Addition;
use resource_limits::review::evaluate_manifest;
use resource_limits::{Location, Notice, Settings, Verdict, Warning};

/// What the policy says about one object.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Not a kind the policy checks (or an empty document).
    Skipped { reason: String },
    /// Admitted; `defaults` are what the policy would add (empty: admitted untouched).
    Passed {
        defaults: Vec<DefaultAdded>,
        warnings: Vec<Finding>,
    },
    /// Rejected: every violation, or (when the object cannot be read) only the message.
    Failed {
        message: String,
        violations: Vec<Finding>,
        warnings: Vec<Finding>,
    },
}

impl Outcome {
    /// The warnings (none for a skipped object).
    pub fn warnings(&self) -> &[Finding] {
        match self {
            Outcome::Passed { warnings, .. } | Outcome::Failed { warnings, .. } => warnings,
            Outcome::Skipped { .. } => &[],
        }
    }
}

/// One violation or warning, located.
#[derive(Debug, Clone)]
pub struct Finding {
    pub line: usize,
    pub path: String,
    pub container: Option<String>,
    pub resource: String,
    /// What is wrong (a violation's problem, a warning's notice).
    pub problem: String,
    /// `path "name": problem`, as in the admission message.
    pub message: String,
}

impl Finding {
    fn of_warning(w: &Warning, o: &manifest::Object<'_>) -> Finding {
        Finding {
            line: o.line_at(&w.quantity_location()),
            message: w.to_string(),
            path: w.location.to_string(),
            resource: w.notice.resource().to_owned(),
            problem: w.notice.to_string(),
            container: w.container.clone(),
        }
    }
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

/// The core's verdict on one object, located in the file. With no API server after the
/// check, what the API server would refuse (a request above its limit) is a violation here,
/// not a warning. The defaults added are listed as `defaults`, not as warnings.
pub fn check_object(settings: &Settings, o: &manifest::Object<'_>) -> Outcome {
    let verdict = evaluate_manifest(settings, Some(&o.api_version), &o.kind, &o.json);
    if let Verdict::Skipped(why) = &verdict {
        return Outcome::Skipped {
            reason: why.to_string(),
        };
    }
    let (refused, warnings): (Vec<&Warning>, Vec<&Warning>) = verdict
        .warnings()
        .iter()
        .filter(|w| !matches!(w.notice, Notice::DefaultAdded { .. }))
        .partition(|w| w.refused_by_api_server());
    let refused: Vec<Finding> = refused
        .into_iter()
        .map(|w| Finding::of_warning(w, o))
        .collect();
    let warnings: Vec<Finding> = warnings
        .into_iter()
        .map(|w| Finding::of_warning(w, o))
        .collect();
    if !verdict.allowed() || !refused.is_empty() {
        let mut message = verdict.message().unwrap_or_default();
        for f in &refused {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(&f.message);
        }
        let mut violations: Vec<Finding> = verdict
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
            .collect();
        violations.extend(refused);
        return Outcome::Failed {
            message,
            violations,
            warnings,
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
    Outcome::Passed { defaults, warnings }
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
