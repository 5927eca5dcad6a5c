//! Reading the policy's settings from a file: plain settings (JSON or YAML), the
//! `spec.settings` of a ClusterAdmissionPolicy or AdmissionPolicy, or the `settings`
//! variable of a SpinApp.

use crate::yaml::{self, Node, Value};
use resource_limits::Settings;
use std::path::Path;

/// Where the settings were found in a file, for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// `settings`, `ClusterAdmissionPolicy/name spec.settings`, `SpinApp/name variable settings`.
    pub what: String,
    pub line: usize,
    /// The settings as JSON, or why they could not be read.
    pub json: Result<serde_json::Value, String>,
}

/// Every settings document of a file. `Err`: the file cannot be read at all.
pub fn find(text: &str) -> Result<Vec<Found>, String> {
    let docs = yaml::parse(text).map_err(|e| e.to_string())?;
    let roots: Vec<&Node> = docs.iter().filter_map(|d| d.root.as_ref()).collect();
    if roots.is_empty() {
        // An empty file is `{}`, as Kubewarden treats absent settings.
        return Ok(vec![Found {
            what: "settings".into(),
            line: 1,
            json: Ok(serde_json::Value::Object(Default::default())),
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
                        None => Ok(serde_json::Value::Object(Default::default())),
                        Some(s) => s.to_value(),
                    },
                });
            }
            (Some("SpinApp"), true) => out.push(spin_app(root, name, &roots)),
            (Some(k), true) if roots.len() == 1 => {
                return Err(format!(
                    "a {k} is not settings (expected plain settings, a ClusterAdmissionPolicy, an AdmissionPolicy or a SpinApp)"
                ))
            }
            (Some(_), true) => {} // other objects beside the policies in the same file
            _ if roots.len() == 1 => out.push(Found {
                what: "settings".into(),
                line: root.line,
                json: root.to_value(),
            }),
            _ => {
                return Err(
                    "several YAML documents, and not all of them Kubernetes objects: give one settings document".into(),
                )
            }
        }
    }
    if out.is_empty() {
        return Err(
            "no settings found (expected plain settings, a ClusterAdmissionPolicy, an AdmissionPolicy or a SpinApp)"
                .into(),
        );
    }
    Ok(out)
}

/// The `settings` variable of a SpinApp: a JSON string in `spec.variables` (default `{}`),
/// given as its `value` or taken (`valueFrom.configMapKeyRef`) from a ConfigMap among `docs`,
/// the documents of the same file.
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
                json: Err("spec.variables is not a list".into()),
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
            json: Ok(serde_json::Value::Object(Default::default())),
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
        (None, None) => (var.line, Ok(serde_json::Value::Object(Default::default()))),
    };
    Found { what, line, json }
}

/// A settings variable's text read as JSON; `what` names it in messages.
fn settings_string(text: Option<&str>, what: &str) -> Result<serde_json::Value, String> {
    match text {
        Some(s) => serde_json::from_str(s).map_err(|e| format!("{what} is not valid JSON: {e}")),
        None => Err(format!("{what} is not a string of JSON")),
    }
}

/// The value a `valueFrom.configMapKeyRef` names, from a ConfigMap in the same file (in the
/// SpinApp's namespace), with a name for messages; a Secret, or a ConfigMap that is not in
/// the file, is an error that says where to look instead.
fn config_map_value<'a>(
    app: &Node,
    from: &Node,
    docs: &[&'a Node],
) -> Result<(&'a Node, String), String> {
    let Some(reference) = from.get("configMapKeyRef") else {
        return Err(
            "the settings variable comes from valueFrom (a Secret, or another source): check that file instead"
                .into(),
        );
    };
    let text = |n: &Node, key: &str| n.get(key).and_then(Node::as_str).map(str::to_owned);
    let (Some(cm), Some(key)) = (text(reference, "name"), text(reference, "key")) else {
        return Err("the settings variable's configMapKeyRef needs a name and a key".into());
    };
    let namespace = |n: &Node| n.get("metadata").and_then(|m| text(m, "namespace"));
    let app_namespace = namespace(app);
    let config_map = docs.iter().find(|d| {
        d.get("kind").and_then(Node::as_str) == Some("ConfigMap")
            && d.get("metadata").and_then(|m| text(m, "name")).as_deref() == Some(cm.as_str())
            && namespace(d) == app_namespace
    });
    let Some(config_map) = config_map else {
        return Err(format!(
            "the settings variable comes from ConfigMap {cm} (key {key}), which is not in this file: check the settings it holds instead"
        ));
    };
    config_map
        .get("data")
        .and_then(|d| d.get(&key))
        .map(|node| (node, format!("ConfigMap {cm} key {key}")))
        .ok_or_else(|| format!("ConfigMap {cm} has no key {key} under data"))
}

/// Reads the one settings document of a file for `check` and `fix`.
pub fn load(path: &Path) -> Result<Settings, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let text = String::from_utf8(text).map_err(|_| "not UTF-8 text".to_owned())?;
    let found = find(&text)?;
    let [one] = found.as_slice() else {
        return Err(format!(
            "{} settings documents in one file: give a file with one",
            found.len()
        ));
    };
    let json = one.json.clone().map_err(|e| format!("{}: {e}", one.what))?;
    Settings::from_value(&json).map_err(|e| {
        if one.what == "settings" {
            e.to_string()
        } else {
            format!("{}: {e}", one.what)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(find("apiVersion: v1\nkind: ConfigMap\n").is_err());
        let from_config_map = |cm_namespace: &str, key: &str| {
            find(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: rl, namespace: {cm_namespace}}}\ndata:\n  settings.json: |\n    {{\"memory\": {{}}}}\n---\napiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata: {{name: s, namespace: a}}\nspec:\n  variables:\n  - name: settings\n    valueFrom:\n      configMapKeyRef: {{name: rl, key: {key}}}\n")).unwrap_or_default()
        };
        let found = from_config_map("a", "settings.json");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].json, Ok(serde_json::json!({"memory": {}})));
        assert_eq!(found[0].line, 5);
        assert_eq!(
            from_config_map("a", "other.json")[0].json,
            Err("ConfigMap rl has no key other.json under data".into())
        );
        let elsewhere = from_config_map("b", "settings.json");
        assert!(elsewhere[0].json.as_ref().is_err_and(
            |e| e.contains("ConfigMap rl (key settings.json), which is not in this file")
        ));
        assert_eq!(find("").map(|f| f.len()), Ok(1));
    }
}
