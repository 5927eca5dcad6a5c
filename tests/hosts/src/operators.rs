//! The operators users run next to the policy, run out of cluster against the test control
//! plane ([`crate::cluster::Cluster`]): kubewarden-controller and spin-operator, built from
//! their module sources by `scripts/cluster/operators.sh` (with Kubewarden's Helm charts and
//! SpinKube's release manifests beside them); each started as a process of its own on loopback,
//! stopped when dropped. Also what comparing their output with the harness's needs: `helm
//! template`, and a structural diff of two JSON values.

use crate::cluster::run_script;
use crate::repo_root;
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The folder `scripts/cluster/operators.sh` builds (or finds built): `kubewarden-controller`,
/// `spin-operator`, `kubewarden-charts/` (kubewarden-controller's and kubewarden-defaults' Helm
/// charts) and `spin-operator-samples/` (the RuntimeClass and SpinAppExecutor manifests
/// SpinKube's release ships).
pub fn built() -> PathBuf {
    PathBuf::from(run_script(&repo_root().join("scripts/cluster/operators.sh"), &[], &[]).trim())
}

/// helm, at the version scripts/tools.sh pins (built by `make setup`).
pub fn helm() -> PathBuf {
    PathBuf::from(run_script(&repo_root().join("scripts/tools.sh"), &["helm"], &[]).trim())
}

/// `helm template RELEASE CHART -n NAMESPACE --no-hooks`: the objects a `helm install` of the
/// chart with its default values creates, in order.
pub fn helm_template(chart: &Path, release: &str, namespace: &str) -> Vec<Value> {
    let out = Command::new(helm())
        .arg("template")
        .arg(release)
        .arg(chart)
        .args(["--namespace", namespace, "--no-hooks"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("helm template: {e}"));
    assert!(
        out.status.success(),
        "helm template {}: {}",
        chart.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_documents(&String::from_utf8_lossy(&out.stdout))
}

/// The documents of a multi-document YAML stream, empty ones left out.
pub fn yaml_documents(text: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v: Value = serde::Deserialize::deserialize(doc)
            .unwrap_or_else(|e| panic!("YAML document: {e}\n{text}"));
        if !v.is_null() {
            docs.push(v);
        }
    }
    docs
}

/// A process a test started: the leader of a process group of its own, its output (stdout and
/// stderr) in a log file. Dropped, its group is sent TERM, then KILL after five seconds, and it
/// is waited for.
pub struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    /// Starts `command` in a process group of its own, its output appended to `log`.
    pub fn start(name: &str, mut command: Command, log: &Path) -> Process {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = file
            .try_clone()
            .unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Process {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        }
    }

    /// Its pid, also its process group's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails (with its log) when it has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.name, self.log());
        }
    }

    /// Waits until `url` answers 200 (curl, trusting `ca` when given), failing with the log
    /// when it does not within `timeout` or the process exits first.
    pub fn wait_ready(&mut self, url: &str, ca: Option<&Path>, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            self.assert_running();
            if http_status(url, ca).is_some_and(|s| s == 200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer {url} with 200 within {timeout:?}:\n{}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let kill = |signal: &str| {
            let _ = Command::new("kill")
                .args([signal, "--", &group])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        kill("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if crate::cluster::process_group(self.child.id()).is_empty() {
                break;
            }
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(50));
        }
        if !crate::cluster::process_group(self.child.id()).is_empty() {
            kill("-KILL");
        }
        let _ = self.child.wait();
    }
}

/// The HTTP status `url` answers a GET with (curl, within two seconds), `None` when it does not
/// answer.
pub fn http_status(url: &str, ca: Option<&Path>) -> Option<u16> {
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "2",
    ]);
    if let Some(ca) = ca {
        c.arg("--cacert").arg(ca);
    }
    let out = c
        .arg(url)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .ok()
        .filter(|s| *s != 0)
}

/// One place where two JSON values differ: its path (`webhooks[0].clientConfig.url`) and the
/// value on each side (`None` where that side has no such member).
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Where: members joined by `.`, array elements as `[i]`.
    pub path: String,
    /// The left value there.
    pub left: Option<Value>,
    /// The right value there.
    pub right: Option<Value>,
}

/// Where `left` and `right` differ, member by member (arrays element by element), in path
/// order: empty when they are equal.
pub fn differences(left: &Value, right: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_into(String::new(), Some(left), Some(right), &mut out);
    out
}

fn diff_into(path: String, left: Option<&Value>, right: Option<&Value>, out: &mut Vec<Difference>) {
    match (left, right) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_into(p, a.get(k), b.get(k), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                diff_into(format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Difference {
            path,
            left: a.cloned(),
            right: b.cloned(),
        }),
    }
}

/// The program `name` (`spin`, `policy-server`): `../shared/bin/NAME` where it exists (this
/// project's sandbox), else NAME from PATH.
pub fn engine(name: &str) -> PathBuf {
    let shared = repo_root().join("../shared/bin").join(name);
    if shared.exists() {
        shared
    } else {
        PathBuf::from(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_name_each_path() {
        let a = json!({"a": 1, "b": [1, {"c": 2}], "d": {"e": 1}});
        let b = json!({"a": 1, "b": [1, {"c": 3}, 4], "f": true});
        let d = differences(&a, &b);
        let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["b[1].c", "b[2]", "d", "f"]);
        assert_eq!(d[0].left, Some(json!(2)));
        assert_eq!(d[1].left, None);
        assert!(differences(&a, &a.clone()).is_empty());
    }
}
