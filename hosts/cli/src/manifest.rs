//! Manifests: finding the files, reading their documents, and the objects in them.

use crate::yaml::{Document, Node};
use resource_limits::manifest::manifest_objects;
use resource_limits::Location;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where a text came from: a file, or standard input (`-`).
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    /// The name shown in output.
    pub fn display(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".into(),
        }
    }

    pub fn read(&self) -> Result<String, String> {
        let bytes = match self {
            Source::File(p) => std::fs::read(p).map_err(|e| format!("cannot read: {e}"))?,
            Source::Stdin => {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| format!("cannot read standard input: {e}"))?;
                buf
            }
        };
        String::from_utf8(bytes).map_err(|e| {
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            )
        })
    }
}

/// A problem with an input as a whole (unreadable, not YAML, ...): exit code 2.
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    pub source: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.source, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// Whether a file found while walking a folder is a manifest.
fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "yaml" | "yml" | "json"))
}

/// The inputs named on the command line: files as given, folders walked recursively for
/// `*.yaml`, `*.yml` and `*.json` (sorted, hidden entries and symlinked folders skipped), `-`
/// for standard input. Paths that cannot be listed are errors.
pub fn collect(paths: &[PathBuf]) -> (Vec<Source>, Vec<InputError>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut stdin_seen = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if !stdin_seen {
                out.push(Source::Stdin);
                stdin_seen = true;
            }
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => errors.push(InputError {
                source: p.display().to_string(),
                line: None,
                message: format!("cannot read: {e}"),
            }),
            Ok(m) if m.is_dir() => walk(p, &mut out, &mut errors),
            Ok(_) => out.push(Source::File(p.clone())),
        }
    }
    (out, errors)
}

fn walk(dir: &Path, out: &mut Vec<Source>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            errors.push(InputError {
                source: dir.display().to_string(),
                line: None,
                message: format!("cannot list the folder: {e}"),
            });
            return;
        }
    };
    let mut items: Vec<(PathBuf, bool)> = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                errors.push(InputError {
                    source: dir.display().to_string(),
                    line: None,
                    message: format!("cannot list the folder: {e}"),
                });
                continue;
            }
        };
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // `file_type` does not follow symlinks: a symlinked folder is not walked (no loops),
        // a symlinked file is read.
        let Ok(t) = entry.file_type() else { continue };
        if t.is_symlink() && !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        items.push((path, t.is_dir()));
    }
    items.sort();
    for (path, is_dir) in items {
        if is_dir {
            walk(&path, out, errors);
        } else if is_manifest(&path) {
            out.push(Source::File(path));
        }
    }
}

/// One Kubernetes object of a document: the document's root, or an item of a `List`.
#[derive(Debug)]
pub struct Object<'a> {
    pub node: &'a Node,
    /// Where the object is in its document: the root, or `items[3]` for a list item.
    pub at: Location,
    /// The object as JSON.
    pub json: String,
    pub api_version: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

impl Object<'_> {
    pub fn line(&self) -> usize {
        self.node.line
    }
}

/// What a document holds.
#[derive(Debug)]
pub enum Content<'a> {
    /// Nothing (only comments): skipped.
    Empty,
    Objects(Vec<Object<'a>>),
}

/// The objects of a document: its root, or the items of a `List`, as the core finds them
/// (the CLI and the playground read lists alike).
pub fn objects(doc: &Document) -> Result<Content<'_>, String> {
    let Some(manifest) = doc.manifest() else {
        return Ok(Content::Empty);
    };
    let root = manifest.tree;
    let found = manifest_objects(&manifest.json)
        .map_err(|e| e.with_line(root.at(&e.at).map_or(manifest.line, |n| n.line)))?;
    Ok(Content::Objects(
        found
            .into_iter()
            .map(|o| Object {
                node: root.at(&o.at).unwrap_or(root),
                json: o.object.get().to_owned(),
                at: o.at,
                api_version: o.api_version,
                kind: o.kind,
                name: o.name,
                namespace: o.namespace,
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[test]
    fn lists_and_their_items() {
        let docs = yaml::parse(
            "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n  spec: {}\n",
        )
        .unwrap_or_default();
        let Ok(Content::Objects(objs)) = objects(&docs[0]) else {
            panic!("not objects")
        };
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].kind, "Deployment");
        assert_eq!(objs[0].api_version, "apps/v1");
        assert_eq!(objs[0].at.pointer(), "/items/0");
        assert_eq!(objs[0].name.as_deref(), Some("a"));
        assert_eq!(objs[0].line(), 4);
    }

    #[test]
    fn not_objects() {
        for text in ["- a\n", "just text\n", "metadata: {}\n", "kind: Pod\n"] {
            let docs = yaml::parse(text).unwrap_or_default();
            assert!(objects(&docs[0]).is_err(), "{text}");
        }
    }
}
