//! Files read as kubectl reads them (YAML 1.1 scalars, as sigs.k8s.io/yaml types them): a
//! policy file with `ignoreInitContainers: yes` is the policy the API server gets, not a
//! settings error; a manifest's `cpu: 1e3` is the quantity kubectl sends, `1000`.

mod common;
use common::{tmp, BIN};
use std::path::Path;
use std::process::Command;

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn yes_no_on_off_are_booleans_as_kubectl_reads_them() {
    let dir = tmp("yaml11");
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    write(
        "policy.yaml",
        "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\nmetadata: {name: rl}\nspec:\n  module: registry.example.com/resource-limits:v0.1.0\n  settings:\n    ignoreInitContainers: yes\n    cpu: {maxLimit: 0x2, requireRequest: off}\n    memory: {maxLimit: 1Gi}\n",
    );
    let (code, out) = run(&dir, &["settings", "check", "policy.yaml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("valid settings"), "{out}");
    // `yes` as a quoted string is what it says: not a boolean, a settings error.
    write("quoted.yaml", "ignoreInitContainers: 'yes'\n");
    let (code, out) = run(&dir, &["settings", "check", "quoted.yaml"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("ignoreInitContainers"), "{out}");
    // The init container without limits is ignored; `cpu: 1e3` is 1000, over maxLimit 2
    // (0x2), and said as kubectl sends it.
    write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n  - {name: init, image: busybox}\n  containers:\n  - name: app\n    image: nginx\n    resources:\n      limits: {cpu: 1e3, memory: 0.5Gi}\n",
    );
    let (code, out) = run(&dir, &["check", "-s", "policy.yaml", "pod.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("pod.yaml:11 Pod/p"), "{out}");
    assert!(out.contains("cpu limit 1000 exceeds maxLimit 2"), "{out}");
    assert!(!out.contains("init"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
