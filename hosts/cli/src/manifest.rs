//! Manifests: finding the files, reading their documents, and the objects in them.

use crate::yaml::documents::Manifest;
use crate::yaml::Node;
use resource_limits::manifest::{manifest_objects, ManifestError};
use resource_limits::Location;
use std::fmt;
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

    /// The text of the input.
    pub fn read(&self) -> Result<String, ReadError> {
        let bytes = match self {
            Source::File(p) => std::fs::read(p).map_err(ReadError::File)?,
            Source::Stdin => {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(ReadError::Stdin)?;
                buf
            }
        };
        String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8(e.utf8_error().valid_up_to()))
    }
}

/// Why an input could not be read; `Display` is the message.
#[derive(Debug)]
pub enum ReadError {
    /// The file cannot be read.
    File(std::io::Error),
    /// Standard input cannot be read.
    Stdin(std::io::Error),
    /// The bytes are not UTF-8 (the offset of the first invalid byte).
    NotUtf8(usize),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::File(e) => write!(f, "cannot read: {e}"),
            ReadError::Stdin(e) => write!(f, "cannot read standard input: {e}"),
            ReadError::NotUtf8(at) => {
                write!(f, "not UTF-8 text (invalid byte at offset {at})")
            }
        }
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
    /// Its node in the document's tree (`None` only where the reader kept no tree).
    pub node: Option<&'a Node>,
    /// Its first line.
    pub line: usize,
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
    /// The line of the node written deepest along `at` (a violation's quantity), or the
    /// object's line.
    pub fn line_at(&self, at: &Location) -> usize {
        self.node.map_or(self.line, |n| n.line_at(at))
    }

    /// The node at `at`, if it is written.
    pub fn node_at(&self, at: &Location) -> Option<&Node> {
        self.node.and_then(|n| n.at(at))
    }
}

/// A document that is not a Kubernetes object or a list of them: the core's error, and the
/// line of the place at fault. `Display` is the message.
#[derive(Debug)]
pub struct ObjectsError {
    /// What is wrong, and where in the document.
    pub error: ManifestError,
    /// The line of the place at fault (a list's item), or the document's first line.
    pub line: usize,
}

impl fmt::Display for ObjectsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.with_line(self.line))
    }
}

/// The objects of a document: its root, or the items of a `List`, as the core finds them
/// (the CLI and the playground read lists alike).
pub fn objects(manifest: &Manifest) -> Result<Vec<Object<'_>>, ObjectsError> {
    let found = manifest_objects(&manifest.json).map_err(|error| ObjectsError {
        line: manifest.line_of(&error.at),
        error,
    })?;
    Ok(found
        .into_iter()
        .map(|o| Object {
            node: manifest.tree.as_ref().map(|t| t.at(&o.at).unwrap_or(t)),
            line: manifest.line_of(&o.at),
            json: o.object.get().to_owned(),
            at: o.at,
            api_version: o.api_version,
            kind: o.kind,
            name: o.name,
            namespace: o.namespace,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::documents::{documents, Json};
    use resource_limits::manifest::ManifestErrorKind;

    fn manifest(text: &str) -> Option<Manifest> {
        documents(text, Json::AsYaml)
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|d| d.manifest)
    }

    #[test]
    fn lists_and_their_items() {
        let Some(m) = manifest(
            "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n  spec: {}\n",
        ) else {
            panic!("a document")
        };
        let Ok(objs) = objects(&m) else {
            panic!("not objects")
        };
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].kind, "Deployment");
        assert_eq!(objs[0].api_version, "apps/v1");
        assert_eq!(objs[0].at.pointer(), "/items/0");
        assert_eq!(objs[0].name.as_deref(), Some("a"));
        assert_eq!(objs[0].line, 4);
        assert_eq!(objs[0].line_at(&Location::of_fields(&["spec", "x"])), 5);
    }

    #[test]
    fn not_objects() {
        for text in ["- a\n", "just text\n", "metadata: {}\n", "kind: Pod\n"] {
            let Some(m) = manifest(text) else {
                panic!("{text}: a document")
            };
            assert!(objects(&m).is_err(), "{text}");
        }
        let Some(m) = manifest("kind: List\napiVersion: v1\nitems:\n- kind: Pod\n") else {
            panic!("a list")
        };
        let e = objects(&m).err();
        assert_eq!(
            e.as_ref().map(|e| (&e.error.kind, e.line)),
            Some((&ManifestErrorKind::NoApiVersion("Pod".into()), 4))
        );
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("items[0] (line 4): the Pod has no apiVersion")
        );
    }

    #[test]
    fn read_errors_say_what() {
        let missing = Source::File(PathBuf::from("/nonexistent/a.yaml")).read();
        assert!(matches!(missing, Err(ReadError::File(_))));
        assert!(missing.is_err_and(|e| e.to_string().starts_with("cannot read: ")));
        assert_eq!(
            ReadError::NotUtf8(3).to_string(),
            "not UTF-8 text (invalid byte at offset 3)"
        );
    }
}
