//! One version: the workspace's `[workspace.package] version` (inherited by every crate) is
//! the number policy-metadata.yaml, artifacthub-pkg.yml, spin.toml, the Makefile and every
//! image tag of the README, docs/ and examples/ carry. Bumping the release means changing them all;
//! this test names each one left behind.

use host_tests::repo_root;
use serde_yaml_ng::Value as Yaml;
use std::path::Path;
use std::process::Command;

fn read(rel: &str) -> String {
    let path = repo_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn toml_file(rel: &str) -> toml::Table {
    read(rel)
        .parse()
        .unwrap_or_else(|e| panic!("{rel}: not TOML: {e}"))
}

fn yaml_file(rel: &str) -> Yaml {
    serde_yaml_ng::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: not YAML: {e}"))
}

/// The one place: `[workspace.package] version` in the root Cargo.toml.
fn version() -> String {
    let root = toml_file("Cargo.toml");
    let v = root["workspace"]["package"]["version"].as_str();
    v.expect("Cargo.toml: [workspace.package] version")
        .to_owned()
}

#[test]
fn every_crate_inherits_the_workspace_version() {
    let v = version();
    assert_eq!(env!("CARGO_PKG_VERSION"), v, "host-tests' own version");
    let root = toml_file("Cargo.toml");
    let members = root["workspace"]["members"]
        .as_array()
        .expect("Cargo.toml: [workspace] members");
    assert!(members.len() > 5, "{members:?}");
    for member in members {
        let dir = member.as_str().expect("a member is a path");
        let rel = format!("{dir}/Cargo.toml");
        let manifest = toml_file(&rel);
        let inherited = manifest["package"]
            .get("version")
            .and_then(|v| v.get("workspace"))
            .and_then(toml::Value::as_bool);
        assert_eq!(
            inherited,
            Some(true),
            "{rel}: `version.workspace = true` instead of a version of its own"
        );
    }
}

#[test]
fn the_kubewarden_metadata_and_artifact_hub_carry_the_version() {
    let v = version();
    let metadata = yaml_file("policy-metadata.yaml");
    assert_eq!(
        metadata["annotations"]["io.kubewarden.policy.version"].as_str(),
        Some(v.as_str()),
        "policy-metadata.yaml: io.kubewarden.policy.version"
    );
    let hub = yaml_file("artifacthub-pkg.yml");
    assert_eq!(
        hub["version"].as_str(),
        Some(v.as_str()),
        "artifacthub-pkg.yml: version"
    );
    let images = hub["containersImages"]
        .as_sequence()
        .expect("artifacthub-pkg.yml: containersImages");
    assert!(!images.is_empty());
    for image in images {
        let image = image["image"].as_str().unwrap_or_default();
        assert!(
            image.ends_with(&format!(":v{v}")),
            "artifacthub-pkg.yml: image {image:?} is not tagged v{v}"
        );
    }
    let cap = yaml_file("examples/cluster-admission-policy.yaml");
    let module = cap["spec"]["module"].as_str().unwrap_or_default();
    assert!(
        module.ends_with(&format!("/resource-limits:v{v}")),
        "examples/cluster-admission-policy.yaml: spec.module {module:?} is not tagged v{v}"
    );
    let spin = toml_file("spin.toml");
    assert_eq!(
        spin["application"]["version"].as_str(),
        Some(v.as_str()),
        "spin.toml: [application] version"
    );
}

/// Every `resource-limits:vX`, `resource-limits-spin:vX` and `resource-limits-server:vX`
/// (the native server's image) reference in what users read and apply: the README, the pages under docs/, artifacthub-pkg.yml and the manifests under
/// examples/.
#[test]
fn every_image_tag_users_read_is_the_version() {
    let v = version();
    let mut files = vec![
        repo_root().join("README.md"),
        repo_root().join("artifacthub-pkg.yml"),
    ];
    files.extend(docs());
    collect(&repo_root().join("examples"), &mut files);
    let mut seen = 0;
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            for image in [
                "/resource-limits:v",
                "/resource-limits-spin:v",
                "/resource-limits-server:v",
            ] {
                for (at, _) in line.match_indices(image) {
                    let tag: String = line[at + image.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
                        .collect();
                    seen += 1;
                    if tag != v {
                        wrong.push(format!("{}:{}: v{tag}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(seen >= 4, "only {seen} image references found");
    assert!(wrong.is_empty(), "tags other than v{v}: {wrong:#?}");
}

/// Every page under docs/ (`*.md`).
fn docs() -> Vec<std::path::PathBuf> {
    let mut pages = Vec::new();
    collect(&repo_root().join("docs"), &mut pages);
    pages.retain(|p| p.extension().is_some_and(|e| e == "md"));
    assert!(!pages.is_empty(), "no pages under docs/");
    pages.sort();
    pages
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "md")
        {
            out.push(path);
        }
    }
}

/// `make push` and `make spin-push` tag with the Makefile's VERSION.
#[test]
fn the_makefile_pushes_the_version() {
    let out = Command::new("make")
        .args([
            "-s",
            "--no-print-directory",
            "--eval",
            "print-version: ; @echo $(VERSION)",
        ])
        .arg("print-version")
        .current_dir(repo_root())
        .env_remove("VERSION")
        .output()
        .expect("make runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), version());
}

/// The metadata uses the current key for context awareness, not the legacy boolean.
#[test]
fn the_metadata_declares_no_context_aware_resources() {
    let metadata = yaml_file("policy-metadata.yaml");
    assert!(
        metadata.get("contextAware").is_none(),
        "policy-metadata.yaml: the legacy contextAware key"
    );
    assert_eq!(
        metadata["contextAwareResources"]
            .as_sequence()
            .map(Vec::len),
        Some(0),
        "policy-metadata.yaml: contextAwareResources: []"
    );
}

/// `KEY=value` of scripts/cluster/versions.env.
fn cluster_version(key: &str) -> String {
    read("scripts/cluster/versions.env")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("scripts/cluster/versions.env has no {key}"))
        .to_owned()
}

#[test]
fn the_kubernetes_version_tested_against_is_written_once() {
    let k8s = cluster_version("KUBERNETES_VERSION");
    let etcd = cluster_version("ETCD_VERSION");
    let staging = cluster_version("STAGING_VERSION");
    // v1.36.3 <-> v0.36.3: the staging modules are cut from the same commit.
    assert_eq!(
        staging.replacen("v0.", "v1.", 1),
        k8s,
        "STAGING_VERSION must match KUBERNETES_VERSION"
    );
    let go_mod = read("scripts/cluster/go.mod");
    assert!(
        go_mod.contains(&format!("\tk8s.io/kubernetes {k8s}\n")),
        "go.mod must require k8s.io/kubernetes {k8s}"
    );
    assert!(
        go_mod.contains(&format!("\tgo.etcd.io/etcd/server/v3 {etcd}\n")),
        "go.mod must require etcd {etcd}"
    );
    let replaces = go_mod.lines().filter(|l| l.contains("=> k8s.io/")).count();
    assert!(replaces > 20, "go.mod replaces the staging modules");
    for line in go_mod.lines().filter(|l| l.contains("=> k8s.io/")) {
        assert!(
            line.ends_with(&format!(" {staging}")),
            "{line}: not {staging}"
        );
    }
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("Tested against Kubernetes {k8s}")),
        "the README must say \"Tested against Kubernetes {k8s}\""
    );
    let mut pages = vec![("README.md".to_owned(), readme)];
    for page in docs() {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        pages.push((page.display().to_string(), text));
    }
    for (name, text) in &pages {
        let mentioned: Vec<&str> = text
            .split("Kubernetes v1.")
            .skip(1)
            .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit() && c != '.').next())
            .collect();
        for m in mentioned {
            assert_eq!(
                format!("v1.{}", m.trim_end_matches('.')),
                k8s,
                "{name} names another Kubernetes release"
            );
        }
    }
}
