//! Settings sources: the policy's settings read from a text the way a user keeps them, for
//! the CLI (`--settings`, `settings check`) and the playground's settings box alike: plain
//! settings (JSON or YAML), the `spec.settings` of a ClusterAdmissionPolicy or
//! AdmissionPolicy, or the `settings` variable of a SpinApp (its `value`, or a
//! `valueFrom.configMapKeyRef` to a ConfigMap in the same text). Empty settings (no text,
//! or only comments and empty documents) are `{}`, as Kubewarden treats absent settings.

use crate::{parse, Node, Value};
use resource_limits::location::{Location, Segment};
use resource_limits::settings::{ProblemKind, SettingsProblem};
use resource_limits::{Settings, SettingsError};
use std::fmt;

/// One settings source found in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// `settings`, `ClusterAdmissionPolicy/name spec.settings`, `SpinApp/name variable settings`.
    pub what: String,
    /// The line of the settings (or of the object that holds them).
    pub line: usize,
    /// The settings as JSON, or why they could not be read.
    pub json: Result<serde_json::Value, ValueError>,
    /// The settings as written, with their lines (for the line of each problem's key);
    /// `None` where they are a string of JSON (a SpinApp's variable) or absent.
    pub tree: Option<Node>,
}

/// Why a text holds no settings to read at all.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceError {
    /// Not YAML (nor JSON).
    Yaml(crate::Error),
    /// The one document is a Kubernetes object of another kind.
    NotSettings {
        /// Its kind.
        kind: String,
    },
    /// Several documents, not all of them Kubernetes objects.
    Mixed,
    /// Kubernetes objects, none of which holds settings.
    NoneFound,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Yaml(e) => write!(f, "{e}"),
            SourceError::NotSettings { kind } => write!(
                f,
                "a {kind} is not settings (expected plain settings, a ClusterAdmissionPolicy, an AdmissionPolicy or a SpinApp)"
            ),
            SourceError::Mixed => f.write_str(
                "several YAML documents, and not all of them Kubernetes objects: give one settings document",
            ),
            SourceError::NoneFound => f.write_str(
                "no settings found (expected plain settings, a ClusterAdmissionPolicy, an AdmissionPolicy or a SpinApp)",
            ),
        }
    }
}

impl std::error::Error for SourceError {}

/// Why one settings source cannot be read as JSON.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueError {
    /// The tree holds something JSON cannot (the reader's message).
    NotJson(String),
    /// A SpinApp's `spec.variables` is not a list.
    VariablesNotList,
    /// A settings variable (or the ConfigMap key it names) is a string, but not JSON.
    StringNotJson {
        /// What holds the string: `the settings variable`, `ConfigMap rl key settings.json`.
        what: String,
        /// The JSON reader's message.
        error: String,
    },
    /// A settings variable (or the ConfigMap key it names) is not a string.
    NotAString {
        /// What holds the value.
        what: String,
    },
    /// The variable comes from a Secret or another source this reader cannot see.
    OtherSource,
    /// A `configMapKeyRef` without a name or a key.
    IncompleteReference,
    /// The ConfigMap named is not in the same text.
    ConfigMapElsewhere {
        /// The ConfigMap's name.
        name: String,
        /// The key named.
        key: String,
    },
    /// The ConfigMap is there, without the key.
    NoKey {
        /// The ConfigMap's name.
        name: String,
        /// The key named.
        key: String,
    },
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueError::NotJson(e) => f.write_str(e),
            ValueError::VariablesNotList => f.write_str("spec.variables is not a list"),
            ValueError::StringNotJson { what, error } => {
                write!(f, "{what} is not valid JSON: {error}")
            }
            ValueError::NotAString { what } => write!(f, "{what} is not a string of JSON"),
            ValueError::OtherSource => f.write_str(
                "the settings variable comes from valueFrom (a Secret, or another source): check that file instead",
            ),
            ValueError::IncompleteReference => {
                f.write_str("the settings variable's configMapKeyRef needs a name and a key")
            }
            ValueError::ConfigMapElsewhere { name, key } => write!(
                f,
                "the settings variable comes from ConfigMap {name} (key {key}), which is not in this file: check the settings it holds instead"
            ),
            ValueError::NoKey { name, key } => {
                write!(f, "ConfigMap {name} has no key {key} under data")
            }
        }
    }
}

impl std::error::Error for ValueError {}

/// Why the one settings of a text cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    /// No settings source in the text.
    Source(SourceError),
    /// More than one settings source.
    Several(usize),
    /// The source is there, its value cannot be read.
    Value {
        /// Where the settings are ([`Found::what`]).
        what: String,
        /// Why.
        error: ValueError,
    },
    /// The settings are read, and the core refuses them.
    Settings {
        /// Where the settings are; `None` for plain settings.
        what: Option<String>,
        /// The core's problems.
        error: SettingsError,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Source(e) => write!(f, "{e}"),
            ReadError::Several(n) => {
                write!(
                    f,
                    "{n} settings documents in one file: give a file with one"
                )
            }
            ReadError::Value { what, error } => write!(f, "{what}: {error}"),
            ReadError::Settings { what: None, error } => write!(f, "{error}"),
            ReadError::Settings {
                what: Some(what),
                error,
            } => write!(f, "{what}: {error}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// One settings problem where it is written: the line of its key (of the deepest key written
/// along its path), and for an unknown key, the known key nearest to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The line.
    pub line: usize,
    /// The problem's field (`cpu.maxLimt`; empty for the whole settings).
    pub field: String,
    /// The problem, as the core words it (`validate_settings`' text).
    pub text: String,
    /// For an unknown key, the field it likely means (`cpu.maxLimit`).
    pub did_you_mean: Option<String>,
}

/// The text, then `; did you mean cpu.maxLimit?` where there is a likely key.
impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        if let Some(s) = &self.did_you_mean {
            write!(f, "; did you mean {s}?")?;
        }
        Ok(())
    }
}

/// The core's problems with the settings of `found`, each at its key's line.
pub fn locate(found: &Found, error: &SettingsError) -> Vec<Located> {
    error
        .located()
        .iter()
        .map(|p| Located {
            line: found
                .tree
                .as_ref()
                .map_or(found.line, |t| t.line_at(&p.path)),
            field: p.field(),
            text: p.to_string(),
            did_you_mean: did_you_mean(p),
        })
        .collect()
}

/// For an unknown key, the field with the known key nearest to it in its place: the same
/// but for case, or at most a third of its letters apart (and at least one).
fn did_you_mean(p: &SettingsProblem) -> Option<String> {
    let ProblemKind::UnknownKey { expected } = &p.kind else {
        return None;
    };
    let (Some(Segment::Field(key)), parents) = (p.path.segments().last(), p.path.segments()) else {
        return None;
    };
    let budget = (key.chars().count() / 3).max(1);
    let best = expected
        .iter()
        .map(|k| {
            let d = if k.eq_ignore_ascii_case(key) {
                0
            } else {
                edit_distance(key, k)
            };
            (d, *k)
        })
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)?
        .1;
    let mut path = Location::root();
    for s in &parents[..parents.len() - 1] {
        path = match s {
            Segment::Field(f) => path.field(f.clone()),
            Segment::Index(i) => path.index(*i),
        };
    }
    let suggested = SettingsProblem {
        path: path.field(best.to_owned()),
        kind: p.kind.clone(),
    };
    Some(suggested.field())
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// No settings: `{}`.
fn empty() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Every settings source of a text. An empty text (or only comments and empty documents) is
/// one plain `{}`.
pub fn find(text: &str) -> Result<Vec<Found>, SourceError> {
    let docs = parse(text).map_err(SourceError::Yaml)?;
    let roots: Vec<&Node> = docs.iter().filter_map(|d| d.root.as_ref()).collect();
    if roots.is_empty() {
        return Ok(vec![Found {
            what: "settings".into(),
            line: 1,
            json: Ok(empty()),
            tree: None,
        }]);
    }
    let mut out = Vec::new();
    for root in &roots {
        let kind = root.get("kind").and_then(Node::as_str);
        let has_api_version = root.get("apiVersion").is_some();
        let name = root
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .unwrap_or("<unnamed>");
        match (kind, has_api_version) {
            (Some(k @ ("ClusterAdmissionPolicy" | "AdmissionPolicy")), true) => {
                let settings = root.get("spec").and_then(|s| s.get("settings"));
                out.push(Found {
                    what: format!("{k}/{name} spec.settings"),
                    line: settings.map_or(root.line, |s| s.line),
                    json: match settings {
                        None => Ok(empty()),
                        Some(s) => s.to_value().map_err(ValueError::NotJson),
                    },
                    tree: settings.cloned(),
                });
            }
            (Some("SpinApp"), true) => out.push(spin_app(root, name, &roots)),
            (Some(k), true) if roots.len() == 1 => {
                return Err(SourceError::NotSettings { kind: k.to_owned() })
            }
            (Some(_), true) => {} // other objects beside the policies in the same text
            _ if roots.len() == 1 => out.push(Found {
                what: "settings".into(),
                line: root.line,
                json: root.to_value().map_err(ValueError::NotJson),
                tree: Some((*root).clone()),
            }),
            _ => return Err(SourceError::Mixed),
        }
    }
    if out.is_empty() {
        return Err(SourceError::NoneFound);
    }
    Ok(out)
}

/// Settings found in a file, read by the core: written out as JSON text and given to
/// [`Settings::from_json`], the path every host's settings take into the core.
pub fn to_settings(json: &serde_json::Value) -> Result<Settings, SettingsError> {
    Settings::from_json(&serde_json::to_vec(json).unwrap_or_default())
}

/// The one settings source of a text, read by the core.
pub fn read(text: &str) -> Result<Settings, ReadError> {
    let found = find(text).map_err(ReadError::Source)?;
    let [one] = found.as_slice() else {
        return Err(ReadError::Several(found.len()));
    };
    let json = one.json.clone().map_err(|error| ReadError::Value {
        what: one.what.clone(),
        error,
    })?;
    to_settings(&json).map_err(|error| ReadError::Settings {
        what: (one.what != "settings").then(|| one.what.clone()),
        error,
    })
}

/// The `settings` variable of a SpinApp: a JSON string in `spec.variables` (default `{}`),
/// given as its `value` or taken (`valueFrom.configMapKeyRef`) from a ConfigMap among `docs`,
/// the documents of the same text.
fn spin_app(root: &Node, name: &str, docs: &[&Node]) -> Found {
    let what = format!("SpinApp/{name} variable settings");
    let vars = root.get("spec").and_then(|s| s.get("variables"));
    let items = match vars.map(|v| &v.value) {
        None | Some(Value::Null) => &[][..],
        Some(Value::Seq(items)) => items.as_slice(),
        Some(_) => {
            return Found {
                what,
                line: vars.map_or(root.line, |v| v.line),
                json: Err(ValueError::VariablesNotList),
                tree: None,
            }
        }
    };
    let Some(var) = items
        .iter()
        .find(|v| v.get("name").and_then(Node::as_str) == Some("settings"))
    else {
        // The component's default.
        return Found {
            what,
            line: root.line,
            json: Ok(empty()),
            tree: None,
        };
    };
    let (line, json) = match (var.get("value"), var.get("valueFrom")) {
        (Some(v), _) => (
            var.line,
            settings_string(v.as_str(), "the settings variable"),
        ),
        (None, Some(from)) => match config_map_value(root, from, docs) {
            Ok((node, what)) => (node.line, settings_string(node.as_str(), &what)),
            Err(e) => (var.line, Err(e)),
        },
        (None, None) => (var.line, Ok(empty())),
    };
    Found {
        what,
        line,
        json,
        tree: None,
    }
}

/// A settings variable's text read as JSON; `what` names it in messages.
fn settings_string(text: Option<&str>, what: &str) -> Result<serde_json::Value, ValueError> {
    match text {
        Some(s) => serde_json::from_str(s).map_err(|e| ValueError::StringNotJson {
            what: what.to_owned(),
            error: e.to_string(),
        }),
        None => Err(ValueError::NotAString {
            what: what.to_owned(),
        }),
    }
}

/// The value a `valueFrom.configMapKeyRef` names, from a ConfigMap in the same text (in the
/// SpinApp's namespace), with a name for messages; a Secret, or a ConfigMap that is not in
/// the text, is an error that says where to look instead.
fn config_map_value<'a>(
    app: &Node,
    from: &Node,
    docs: &[&'a Node],
) -> Result<(&'a Node, String), ValueError> {
    let Some(reference) = from.get("configMapKeyRef") else {
        return Err(ValueError::OtherSource);
    };
    let text = |n: &Node, key: &str| n.get(key).and_then(Node::as_str).map(str::to_owned);
    let (Some(name), Some(key)) = (text(reference, "name"), text(reference, "key")) else {
        return Err(ValueError::IncompleteReference);
    };
    let namespace = |n: &Node| n.get("metadata").and_then(|m| text(m, "namespace"));
    let app_namespace = namespace(app);
    let config_map = docs.iter().find(|d| {
        d.get("kind").and_then(Node::as_str) == Some("ConfigMap")
            && d.get("metadata").and_then(|m| text(m, "name")).as_deref() == Some(name.as_str())
            && namespace(d) == app_namespace
    });
    let Some(config_map) = config_map else {
        return Err(ValueError::ConfigMapElsewhere { name, key });
    };
    match config_map.get("data").and_then(|d| d.get(&key)) {
        Some(node) => Ok((node, format!("ConfigMap {name} key {key}"))),
        None => Err(ValueError::NoKey { name, key }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_at_their_keys_with_a_likely_key() {
        let text = "# settings\ncpu:\n  maxLimt: 2\nmemroy: {}\nresources:\n  nvidia.com/gpu: {maxLimits: 1}\nignoreImages: [1]\nzzz: 1\n";
        let found = find(text).unwrap_or_default();
        let Some(Ok(json)) = found.first().map(|f| f.json.clone()) else {
            panic!("{found:?}")
        };
        let Err(error) = to_settings(&json) else {
            panic!("valid")
        };
        let located = locate(&found[0], &error);
        let got: Vec<(usize, String)> = located.iter().map(|p| (p.line, p.to_string())).collect();
        let want_in = |line: usize, text: &str| {
            assert!(
                got.iter().any(|(l, t)| *l == line && t.contains(text)),
                "no {text:?} at line {line} in {got:?}"
            )
        };
        want_in(3, "cpu.maxLimt: unknown setting");
        want_in(3, "; did you mean cpu.maxLimit?");
        want_in(4, "; did you mean memory?");
        want_in(6, "; did you mean resources[\"nvidia.com/gpu\"].maxLimit?");
        want_in(7, "ignoreImages[0]");
        // Nothing near enough: no guess.
        assert!(
            located
                .iter()
                .any(|p| p.field == "zzz" && p.did_you_mean.is_none()),
            "{located:?}"
        );
        assert_eq!(edit_distance("maxLimt", "maxLimit"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn plain_policy_and_spin_settings() {
        let plain = find("cpu: {maxLimit: 2}\n").unwrap_or_default();
        assert_eq!(plain.len(), 1);
        assert_eq!(
            plain[0].json,
            Ok(serde_json::json!({"cpu": {"maxLimit": 2}}))
        );
        let policy = find("apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\nspec:\n  settings:\n    memory: {}\n").unwrap_or_default();
        assert_eq!(policy[0].what, "ClusterAdmissionPolicy/p spec.settings");
        assert_eq!(policy[0].json, Ok(serde_json::json!({"memory": {}})));
        let spin = find("apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {name: s}\nspec:\n  variables:\n  - name: settings\n    value: '{\"cpu\": {\"maxLimit\": \"1\"}}'\n").unwrap_or_default();
        assert_eq!(
            spin[0].json,
            Ok(serde_json::json!({"cpu": {"maxLimit": "1"}}))
        );
        assert_eq!(
            find("apiVersion: v1\nkind: ConfigMap\n"),
            Err(SourceError::NotSettings {
                kind: "ConfigMap".into()
            })
        );
        let from_config_map = |cm_namespace: &str, key: &str| {
            find(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: rl, namespace: {cm_namespace}}}\ndata:\n  settings.json: |\n    {{\"memory\": {{}}}}\n---\napiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {{name: s, namespace: a}}\nspec:\n  variables:\n  - name: settings\n    valueFrom:\n      configMapKeyRef: {{name: rl, key: {key}}}\n")).unwrap_or_default()
        };
        let found = from_config_map("a", "settings.json");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].json, Ok(serde_json::json!({"memory": {}})));
        assert_eq!(found[0].line, 5);
        let no_key = from_config_map("a", "other.json");
        assert_eq!(
            no_key[0].json.as_ref().map_err(ToString::to_string),
            Err("ConfigMap rl has no key other.json under data".into())
        );
        let elsewhere = from_config_map("b", "settings.json");
        assert!(elsewhere[0].json.as_ref().is_err_and(|e| e
            .to_string()
            .contains("ConfigMap rl (key settings.json), which is not in this file")));
    }

    #[test]
    fn empty_settings_are_an_empty_object() {
        for text in [
            "",
            "   \n",
            "# only a comment\n",
            "---\n# c\n---\n",
            "\n---\n",
        ] {
            let found = find(text).unwrap_or_default();
            assert_eq!(found.len(), 1, "{text:?}");
            assert_eq!(found[0].json, Ok(empty()), "{text:?}");
            assert_eq!(found[0].what, "settings", "{text:?}");
            let read = read(text);
            assert!(read.is_ok(), "{text:?}: {read:?}");
        }
    }

    #[test]
    fn read_names_the_source_in_its_errors() {
        assert_eq!(
            read("a: 1\n---\nb: 2\n").map_err(|e| e.to_string()).err(),
            Some(SourceError::Mixed.to_string())
        );
        let two = "apiVersion: policies.kubewarden.io/v1\nkind: AdmissionPolicy\nmetadata: {name: a}\n---\napiVersion: policies.kubewarden.io/v1\nkind: AdmissionPolicy\nmetadata: {name: b}\n";
        assert_eq!(read(two).err(), Some(ReadError::Several(2)));
        let bad = "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: p}\nspec:\n  settings: [1]\n";
        assert!(matches!(
            read(bad),
            Err(ReadError::Settings { what: Some(ref w), .. }) if w == "ClusterAdmissionPolicy/p spec.settings"
        ));
        assert!(read(bad).err().is_some_and(|e| e
            .to_string()
            .starts_with("ClusterAdmissionPolicy/p spec.settings: ")));
        assert!(matches!(
            read("cpu: ["),
            Err(ReadError::Source(SourceError::Yaml(_)))
        ));
        assert!(matches!(
            read("[1]"),
            Err(ReadError::Settings { what: None, .. })
        ));
    }
}
