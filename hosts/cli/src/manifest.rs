//! Manifests: finding the files, reading their documents, and the objects in them.

use crate::yaml::documents::{documents, Json, Manifest};
use crate::yaml::{Node, Value};
use resource_limits::manifest::{manifest_objects, ManifestError};
use resource_limits::Location;
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

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

/// What a file is part of, known before it is read: such a file is not a manifest as it is
/// written, and is skipped with a hint that says how to check what it becomes.
#[derive(Clone, Debug, PartialEq)]
pub enum PartOf {
    /// A file of the Helm chart in this folder (the outermost folder holding a
    /// `Chart.yaml`): `helm template` renders it.
    Chart(PathBuf),
    /// A patch that this kustomization (`kustomization.yaml`) applies: `kubectl kustomize`
    /// of its folder renders it.
    KustomizePatch(PathBuf),
}

/// One input to check.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub source: Source,
    /// Set when the file is part of a chart or a patch, and so is not read.
    pub part_of: Option<PartOf>,
}

/// The `--exclude` globs: gitignore's patterns, relative to the folder the CLI runs in
/// (`vendor` anywhere, `/vendor` only there, `deploy/**/*.json`, `legacy/` folders only).
pub struct Exclude(ignore::gitignore::Gitignore);

impl Exclude {
    /// The matcher of the globs; `Err`: a glob that is not one (its message).
    pub fn new(globs: &[String]) -> Result<Exclude, String> {
        let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let mut b = ignore::gitignore::GitignoreBuilder::new(root);
        for g in globs {
            b.add_line(None, g).map_err(|e| format!("{g}: {e}"))?;
        }
        b.build().map(Exclude).map_err(|e| e.to_string())
    }
}

/// Checks one `--exclude` glob (clap's value parser: a bad one is a usage error).
pub fn exclude_glob(glob: &str) -> Result<String, String> {
    ignore::gitignore::GitignoreBuilder::new(".")
        .add_line(None, glob)
        .map(|_| glob.to_owned())
        .map_err(|e| e.to_string())
}

/// The inputs named on the command line: files as given (always read, whatever
/// `.gitignore` says), folders walked recursively for `*.yaml`, `*.yml` and `*.json` as git
/// sees them (`.gitignore`, `.ignore`, `.git/info/exclude` and the global gitignore
/// respected, hidden entries and symlinked folders skipped, sorted), less what `exclude`
/// matches, `-` for standard input. Files of a Helm chart and patches of a kustomization are
/// marked ([`PartOf`]). Paths that cannot be listed are errors.
pub fn collect(paths: &[PathBuf], exclude: &Exclude) -> (Vec<Input>, Vec<InputError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut explicit_dirs = Vec::new();
    let mut stdin_seen = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if !stdin_seen {
                found.push(Source::Stdin);
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
            Ok(m) if m.is_dir() => walk(p, exclude, &mut found, &mut errors),
            Ok(_) => {
                if let Some(dir) = p.parent() {
                    explicit_dirs.push(dir.to_path_buf());
                }
                found.push(Source::File(p.clone()));
            }
        }
    }
    let patches = kustomize_patches(&found, &explicit_dirs);
    let mut charts = Charts::default();
    let inputs = found
        .into_iter()
        .map(|source| {
            let part_of = match &source {
                Source::Stdin => None,
                Source::File(p) => charts.chart_of(p).map(PartOf::Chart).or_else(|| {
                    patches
                        .get(&lexical(p))
                        .cloned()
                        .map(PartOf::KustomizePatch)
                }),
            };
            Input { source, part_of }
        })
        .collect();
    (inputs, errors)
}

fn walk(dir: &Path, exclude: &Exclude, out: &mut Vec<Source>, errors: &mut Vec<InputError>) {
    let exclude = exclude.0.clone();
    let mut builder = ignore::WalkBuilder::new(dir);
    builder
        .standard_filters(true)
        // A checkout without its .git (a CI artifact, a build context) is read alike.
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            e.depth() == 0 || !exclude.matched(e.path(), is_dir).is_ignore()
        });
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                if e.io_error().is_some() {
                    errors.push(InputError {
                        source: dir.display().to_string(),
                        line: None,
                        message: format!("cannot list the folder: {e}"),
                    });
                } else {
                    // A line of an ignore file that is not a glob: git passes over it too.
                    crate::eprint(&format!("resource-limits: warning: {e}\n"));
                }
                continue;
            }
        };
        let path = entry.path();
        let Some(t) = entry.file_type() else { continue };
        // A symlinked folder is not walked (no loops); a symlinked file is read.
        let is_file =
            t.is_file() || (t.is_symlink() && std::fs::metadata(path).is_ok_and(|m| m.is_file()));
        if entry.depth() > 0 && is_file && is_manifest(path) {
            out.push(Source::File(path.to_path_buf()));
        }
    }
}

/// The outermost folder holding a `Chart.yaml` above each file, looked for up to the
/// repository's root (a folder holding `.git`) or the file system's; one look per folder.
#[derive(Default)]
struct Charts {
    seen: HashMap<PathBuf, Option<PathBuf>>,
}

impl Charts {
    fn chart_of(&mut self, file: &Path) -> Option<PathBuf> {
        let dir = file.parent()?.to_path_buf();
        if let Some(known) = self.seen.get(&dir) {
            return known.clone();
        }
        let found = outermost_chart(&dir);
        self.seen.insert(dir, found.clone());
        found
    }
}

fn outermost_chart(dir: &Path) -> Option<PathBuf> {
    let here = |d: &Path| {
        if d.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            d.to_path_buf()
        }
    };
    let mut chart = None;
    // The folders as written (`charts/shop/templates`, `charts/shop`, `charts`, `.`), then,
    // for a relative path, the working folder's own parents.
    for d in dir.ancestors() {
        let d = here(d);
        if d.join("Chart.yaml").is_file() {
            chart = Some(d.clone());
        }
        if d.join(".git").exists() {
            return chart;
        }
    }
    if dir.is_relative() {
        let cwd = std::env::current_dir().ok()?;
        for d in cwd.ancestors().skip(1) {
            if d.join("Chart.yaml").is_file() {
                chart = Some(d.to_path_buf());
            }
            if d.join(".git").exists() {
                break;
            }
        }
    }
    chart
}

/// The names a kustomization file goes by.
const KUSTOMIZATIONS: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The patch files of the kustomizations among the inputs and in the folders of the files
/// named on the command line: each (its path, lexically) with the kustomization's folder.
fn kustomize_patches(found: &[Source], explicit_dirs: &[PathBuf]) -> HashMap<PathBuf, PathBuf> {
    let mut kustomizations: Vec<PathBuf> = found
        .iter()
        .filter_map(|s| match s {
            Source::File(p)
                if p.file_name()
                    .is_some_and(|n| KUSTOMIZATIONS.iter().any(|k| n == *k)) =>
            {
                Some(p.clone())
            }
            _ => None,
        })
        .collect();
    for dir in explicit_dirs {
        for k in KUSTOMIZATIONS {
            let p = dir.join(k);
            if p.is_file() && !kustomizations.contains(&p) {
                kustomizations.push(p);
            }
        }
    }
    let mut patches = HashMap::new();
    for k in kustomizations {
        let Some(dir) = k.parent() else { continue };
        for patch in patch_paths(&k) {
            let folder = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            };
            patches.entry(lexical(&dir.join(patch))).or_insert(folder);
        }
    }
    patches
}

/// The files a kustomization names as patches: `patches[].path`,
/// `patchesStrategicMerge[]` (those that are paths, not inline patches) and
/// `patchesJson6902[].path`. A kustomization that cannot be read names none.
fn patch_paths(kustomization: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(kustomization) else {
        return Vec::new();
    };
    let Ok(docs) = documents(&text, Json::AsYaml) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for tree in docs
        .iter()
        .filter_map(|d| d.manifest.as_ref()?.tree.as_ref())
    {
        for key in ["patches", "patchesJson6902"] {
            if let Some(Value::Seq(items)) = tree.get(key).map(|n| &n.value) {
                out.extend(
                    items
                        .iter()
                        .filter_map(|i| i.get("path")?.as_str().map(str::to_owned)),
                );
            }
        }
        if let Some(Value::Seq(items)) = tree.get("patchesStrategicMerge").map(|n| &n.value) {
            out.extend(
                items
                    .iter()
                    .filter_map(Node::as_str)
                    .filter(|p| !p.contains('\n'))
                    .map(str::to_owned),
            );
        }
    }
    out
}

/// `path` without `.` components and with `x/..` folded, as written (no file system access).
pub fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !matches!(
                    out.components().next_back(),
                    Some(Component::RootDir | Component::Prefix(_))
                ) {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
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
        assert_eq!(
            objs[0]
                .node
                .map(|n| n.line_at(&Location::of_fields(&["spec", "x"]))),
            Some(5)
        );
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
