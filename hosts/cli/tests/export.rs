//! `resource-limits export cel`: the policies as a YAML stream kubectl reads back as the core
//! wrote them, the JSON List, the refusals. (What the API server makes of them is proven in
//! tests/hosts/tests/cel.rs, through a real kube-apiserver.)

mod common;

use serde_json::Value;

#[test]
fn the_yaml_stream_reads_back_as_the_policies() {
    let dir = common::tmp("export");
    std::fs::write(
        dir.join("s.yaml"),
        "cpu: {maxLimit: \"2\", defaultLimit: \"1\"}\nmemory: {maxLimit: 1Gi, enforcement: warn}\nresources:\n  nvidia.com/gpu: {maxLimit: \"1\", requireRequest: false}\n",
    )
    .expect("write");
    let yaml = common::run_in(
        &dir,
        &["export", "cel", "-s", "s.yaml", "--name", "limits"],
        b"",
    );
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    let json = common::run_in(
        &dir,
        &[
            "export", "cel", "-s", "s.yaml", "--name", "limits", "-o", "json",
        ],
        b"",
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let list: Value = serde_json::from_str(&json.stdout).expect("a JSON List");
    assert_eq!(list["kind"], "List");
    // The YAML documents are the List's items, in order.
    let docs: Vec<Value> = resource_limits_yaml::documents::documents(
        &yaml.stdout,
        resource_limits_yaml::documents::Json::AsYaml,
    )
    .expect("YAML")
    .into_iter()
    .filter_map(|d| d.manifest)
    .map(|m| serde_json::from_str(&m.json).expect("JSON"))
    .collect();
    assert_eq!(Value::Array(docs), list["items"]);
    let names: Vec<String> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "MutatingAdmissionPolicy/limits-defaults",
            "MutatingAdmissionPolicyBinding/limits-defaults",
            "ValidatingAdmissionPolicy/limits",
            "ValidatingAdmissionPolicyBinding/limits",
            "ValidatingAdmissionPolicy/limits-warn",
            "ValidatingAdmissionPolicyBinding/limits-warn",
        ]
    );
    // The extended resource is looked up by its name and patched by its pointer token.
    assert!(json.stdout.contains("limits[?'nvidia.com/gpu']"));
}

#[test]
fn what_cannot_be_exported_is_refused() {
    let dir = common::tmp("export-refused");
    std::fs::write(
        dir.join("s.json"),
        r#"{"cpu": {"maxLimitRequestRatio": "2.001"}}"#,
    )
    .expect("write");
    let out = common::run_in(&dir, &["export", "cel", "-s", "s.json"], b"");
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.starts_with("resource-limits: s.json cannot be exported: cpu.maxLimitRequestRatio 2.001 cannot be compiled exactly"),
        "{}",
        out.stderr
    );
    let out = common::run_in(
        &dir,
        &["export", "cel", "-s", "s.json", "--name", "Bad_Name"],
        b"",
    );
    assert_eq!(out.code, 2);
    std::fs::write(dir.join("bad.json"), r#"{"cpu": {"maxLimit": "x"}}"#).expect("write");
    let out = common::run_in(&dir, &["export", "cel", "-s", "bad.json"], b"");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid settings"), "{}", out.stderr);
}
