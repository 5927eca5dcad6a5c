//! Our reader against kubectl's: every YAML and JSON file of the repository's tests and
//! examples, the settings texts of the manifest table, and thousands of generated documents
//! full of YAML 1.1's traps, read by this crate (as the CLI reads files) and by kubectl's own
//! code (`scripts/cluster/cmd/kubectlyaml`: apimachinery's YAMLOrJSONDecoder and
//! sigs.k8s.io/yaml, as `kubectl apply -f` calls them). Each text must give the same JSON
//! documents, or be refused by both. The one difference on purpose: a key written twice in one
//! mapping, which kubectl resolves silently (the last wins) and we refuse, so there the
//! helper's duplicate must be our `DuplicateKey`; read as the CLI's `check` reads it
//! (`Json::AsKubectl`), such a YAML text must give kubectl's JSON and list the key.
//!
//! The helper is built with the control plane by `scripts/cluster/build.sh` (which
//! `scripts/setup.sh` runs) into `target/cluster/<version>/bin`; without it the test fails
//! saying how to build it.

use resource_limits_yaml::documents::{documents, Json};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The helper, as `scripts/cluster/build.sh` builds it: the script prints its binaries' folder
/// (and builds them first where they are missing or older than their sources; scripts/setup.sh
/// and `make cluster-tools` run it too, so here it only checks).
fn helper() -> PathBuf {
    let out = Command::new(root().join("scripts/cluster/build.sh"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("scripts/cluster/build.sh: {e}"));
    assert!(
        out.status.success(),
        "scripts/cluster/build.sh failed ({}), so kubectl's YAML reading (cmd/kubectlyaml) is \
         not built:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let helper = Path::new(&bin).join("kubectlyaml");
    assert!(helper.is_file(), "{} is not built", helper.display());
    helper
}

/// What kubectl makes of one file.
#[derive(Debug)]
struct Kubectl {
    documents: Vec<Value>,
    /// A key written twice, in a document read before any error.
    duplicate: Option<String>,
    /// A member two different keys give (one merged): kubectl keeps either, by Go's map order.
    ambiguous: Option<String>,
    error: Option<String>,
}

fn kubectl(files: &[PathBuf]) -> Vec<Kubectl> {
    let mut all = Vec::with_capacity(files.len());
    let helper = helper();
    // In batches, to stay well within the command line's limit.
    for batch in files.chunks(2000) {
        let out = Command::new(&helper)
            .args(batch)
            .output()
            .unwrap_or_else(|e| panic!("kubectlyaml: {e}"));
        assert!(
            out.status.success(),
            "kubectlyaml: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("kubectlyaml: {e}: {line}"));
            let docs = v["documents"].as_array().cloned().unwrap_or_default();
            all.push(Kubectl {
                duplicate: docs
                    .iter()
                    .find_map(|d| d["duplicate"].as_str().map(str::to_owned)),
                ambiguous: docs
                    .iter()
                    .find_map(|d| d["ambiguous"].as_str().map(str::to_owned)),
                documents: docs.into_iter().map(|d| d["json"].clone()).collect(),
                error: v["error"].as_str().map(str::to_owned),
            });
        }
    }
    assert_eq!(all.len(), files.len(), "one answer a file");
    all
}

/// What we make of one text: its documents that hold something, as JSON.
fn ours(text: &str) -> Result<Vec<Value>, resource_limits_yaml::Error> {
    read_as(text, Json::AsYaml)
}

fn read_as(text: &str, json: Json) -> Result<Vec<Value>, resource_limits_yaml::Error> {
    let entries = documents(text, json)?;
    Ok(entries
        .into_iter()
        .filter_map(|e| e.manifest)
        .map(|m| {
            serde_json::from_str(&m.json).unwrap_or_else(|e| panic!("not JSON ({e}): {}", m.json))
        })
        .collect())
}

/// Where we and kubectl part, if we do.
fn differs(text: &str, theirs: &Kubectl) -> Option<String> {
    let mine = ours(text);
    match (&mine, theirs) {
        // We refuse it; where the key's first value is one kubectl cannot send either (it
        // never sees it), that may be the first thing we refuse. Read as kubectl reads it,
        // a YAML text gives kubectl's JSON and lists a key written twice (a JSON text is sent
        // as written, keys twice and all; where two keys meet only as one JSON name, kubectl
        // keeps either, by Go's map order).
        (
            Err(_),
            Kubectl {
                duplicate: Some(_),
                ambiguous,
                error,
                documents,
            },
        ) => {
            if resource_limits_yaml::documents::looks_like_json(text)
                || ambiguous.is_some()
                || error.is_some()
            {
                return None;
            }
            let listed = resource_limits_yaml::documents::documents(text, Json::AsKubectl)
                .map(|d| d.iter().map(|e| e.duplicates.len()).sum::<usize>())
                .unwrap_or_default();
            match read_as(text, Json::AsKubectl) {
                Ok(docs) if docs == *documents && listed > 0 => None,
                // A key kubectl cannot name (null, an integer beyond int64) inside the value
                // a key written again replaces: kubectl drops that value before it names the
                // key; we refuse the text when we read the key. Refused, never misread.
                Err(resource_limits_yaml::Error {
                    kind: resource_limits_yaml::ErrorKind::KeyNotJson(_),
                    ..
                }) => None,
                other => Some(format!(
                    "read as kubectl reads it: {other:?} ({listed} keys listed twice)\n\
                     kubectl: {documents:?}"
                )),
            }
        }
        (
            _,
            Kubectl {
                duplicate: Some(k), ..
            },
        ) => Some(format!(
            "kubectl keeps one of the keys {k:?} written twice; we give {mine:?}"
        )),
        (Err(_), Kubectl { error: Some(_), .. }) => None,
        // No one answer to hold ours against.
        (
            _,
            Kubectl {
                ambiguous: Some(_), ..
            },
        ) => None,
        (
            Ok(docs),
            Kubectl {
                error: None,
                documents,
                ..
            },
        ) if docs == documents => None,
        _ => Some(format!(
            "ours: {mine:?}\nkubectl: {:?} {:?}",
            theirs.documents, theirs.error
        )),
    }
}

/// The YAML and JSON files under a folder, hidden ones included.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(path);
        }
    }
}

/// A small deterministic generator (xorshift64*), so a failure is found again.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Plain scalars where YAML 1.1, YAML 1.2, Go and JSON part ways.
const TRICKY: &[&str] = &[
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Y",
    "N",
    "Yes",
    "NO",
    "On",
    "OFF",
    "yEs",
    "oN",
    "t",
    "f",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "tRUE",
    "null",
    "Null",
    "NULL",
    "nULL",
    "~",
    "0",
    "-0",
    "+0",
    "00",
    "007",
    "0777",
    "08",
    "09",
    "0x1F",
    "0X1f",
    "-0x1F",
    "+0x10",
    "0o17",
    "0O17",
    "0b101",
    "-0b11",
    "0x",
    "0b",
    "0o",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "0_7",
    "0x_1F",
    "1e3",
    "1E3",
    "1e+3",
    "1e-3",
    "-1e3",
    "1.5e3",
    "1.e3",
    ".5",
    ".5e3",
    "._5",
    ".5_5",
    ".5e1_0",
    "1.",
    "1.0",
    "1.50",
    "-0.0",
    "0.1",
    "0.30000000000000004",
    "123456789012345678901234567890",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "+18446744073709551615",
    "1e21",
    "1e20",
    "1e-6",
    "1e-7",
    "1e400",
    "-1e400",
    "1e-400",
    "inf",
    "nan",
    "Infinity",
    "1:20",
    "190:20:30",
    "-1:30",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "2001-12-14T21:59:43Z",
    "2001-13-14",
    "500m",
    "1Gi",
    "0.5Gi",
    "2",
    "100",
    "1k",
    "12e03",
    "0e0",
    "-0e-0",
    "+.5",
    "-.5",
    "+",
    "-5",
    "3.14159265358979323846",
    "0.1e-1",
    "1e01",
    "0x7FFFFFFFFFFFFFFF",
    "0xFFFFFFFFFFFFFFFF",
    "0x10000000000000000",
    "0b1111111111111111111111111111111111111111111111111111111111111111",
    "=",
    "<<x",
    "é",
    "日本",
    "a b",
    "a#b",
    "x:y",
    "nvidia.com/gpu",
    "registry.example.com/tools/*",
];

/// Scalars with a tag or quotes.
const TAGGED: &[&str] = &[
    "!!int \"0x1F\"",
    "!!int '12'",
    "!!float 1",
    "!!float \"1e3\"",
    "!!float 0x10",
    "!!bool yes",
    "!!bool \"on\"",
    "!!null \"\"",
    "!!null ~",
    "!!str 0777",
    "!!str yes",
    "!!str",
    "!!binary aGVsbG8=",
    "!!binary /w==",
    "!custom 12",
    "! 12",
    "! yes",
    "!!timestamp 2001-12-14",
    "'yes'",
    "\"0x1F\"",
    "'1e3'",
    "\"\"",
    "''",
    "\"a\\tb\\u00e9\"",
    "'it''s'",
    "!!int 0b11",
    "!!float '-0'",
    "!<tag:yaml.org,2002:int> \"7\"",
];

/// Scalars kubectl refuses: floats JSON cannot hold, a tag its scalar does not fit, a
/// character no scalar may start with.
const REFUSED: &[&str] = &[
    ".inf",
    ".Inf",
    "+.inf",
    "-.inf",
    ".nan",
    ".NaN",
    "@",
    "!!int x",
    "!!int 1.5",
    "!!int \"\"",
    "!!float yes",
    "!!bool 1",
    "!!null x",
    "!!binary \"%%\"",
    "!!timestamp 12",
    "!!float .inf",
];

/// Keys, a few of which name the same JSON member.
const KEYS: &[&str] = &[
    "cpu",
    "memory",
    "name",
    "image",
    "yes",
    "on",
    "n",
    "Y",
    "1",
    "\"1\"",
    "0x10",
    "16",
    "1.5",
    "1e3",
    "1000",
    "123456789.0",
    "-0.0",
    ".inf",
    "0.00001",
    "1e10",
    "'yes'",
    "true",
    "\"on\"",
    "9223372036854775807",
    "0o17",
    "2001-12-14",
    "!!str 12",
    "!!int '12'",
    "x_y",
    "a-b",
    "nvidia.com/gpu",
    "'<<'",
];

/// Keys kubectl cannot name in JSON.
const REFUSED_KEYS: &[&str] = &["~", "null", "18446744073709551615", ""];

fn scalar(r: &mut Rng, flow: bool) -> String {
    let s = match r.below(100) {
        0..=1 => r.pick(REFUSED),
        2..=11 => r.pick(TAGGED),
        _ => r.pick(TRICKY),
    };
    // In a flow collection, no plain flow indicator, and no tag without its scalar (the
    // YAML 1.1 parser kubectl uses reads `!!str,` as one tag: a YAML 1.1 difference).
    if flow && (s.contains([',', '[', ']', '{', '}']) || (s.starts_with('!') && !s.contains(' '))) {
        return "x".into();
    }
    s.to_owned()
}

fn key(r: &mut Rng, used: &mut Vec<String>) -> String {
    // Now and then, a key already used (a duplicate, or the same member another way).
    if !used.is_empty() && r.chance(1) {
        return used[r.below(used.len())].clone();
    }
    let k = match r.below(100) {
        0 => r.pick(REFUSED_KEYS).to_owned(),
        1..=50 => format!("k{}", r.below(1000)),
        _ => r.pick(KEYS).to_owned(),
    };
    used.push(k.clone());
    k
}

fn flow_value(r: &mut Rng, depth: usize) -> String {
    match r.below(if depth > 2 { 1 } else { 5 }) {
        0..=2 => scalar(r, true),
        3 => {
            let n = r.below(4);
            let items: Vec<String> = (0..n).map(|_| flow_value(r, depth + 1)).collect();
            format!("[{}]", items.join(", "))
        }
        _ => {
            let mut used = Vec::new();
            let n = r.below(4);
            let items: Vec<String> = (0..n)
                .map(|_| format!("{}: {}", key(r, &mut used), flow_value(r, depth + 1)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A block mapping at `indent`, with anchors for merges and aliases later in the document.
fn block_map(r: &mut Rng, indent: usize, depth: usize, anchors: &mut Vec<String>) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    let mut used = Vec::new();
    for _ in 0..1 + r.below(6) {
        let k = key(r, &mut used);
        match r.below(if depth > 3 { 3 } else { 10 }) {
            0..=2 => out.push_str(&format!("{pad}{k}: {}\n", scalar(r, false))),
            3 => out.push_str(&format!("{pad}{k}: {}\n", flow_value(r, depth))),
            4 | 5 => {
                // An anchor is usable once its node is complete.
                let anchor = r.chance(30).then(|| format!("a{}", r.next() % 1_000_000));
                match &anchor {
                    Some(a) => out.push_str(&format!("{pad}{k}: &{a}\n")),
                    None => out.push_str(&format!("{pad}{k}:\n")),
                }
                out.push_str(&block_map(r, indent + 2, depth + 1, anchors));
                anchors.extend(anchor);
            }
            6 => {
                out.push_str(&format!("{pad}{k}:\n"));
                for _ in 0..1 + r.below(3) {
                    if r.chance(50) {
                        out.push_str(&format!("{pad}- {}\n", scalar(r, false)));
                    } else {
                        let inner = block_map(r, indent + 2, depth + 1, anchors);
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                }
            }
            7 if !anchors.is_empty() => {
                let a = anchors[r.below(anchors.len())].clone();
                out.push_str(&format!("{pad}{k}: *{a}\n"));
            }
            8 if !anchors.is_empty() => {
                let a = anchors[r.below(anchors.len())].clone();
                if r.chance(30) && anchors.len() > 1 {
                    let b = anchors[r.below(anchors.len())].clone();
                    out.push_str(&format!("{pad}<<: [*{a}, *{b}]\n"));
                } else {
                    out.push_str(&format!("{pad}<<: *{a}\n"));
                }
            }
            _ => out.push_str(&format!("{pad}{k}: {}\n", scalar(r, false))),
        }
    }
    out
}

/// A workload whose quantities and switches are written in YAML 1.1's ways.
fn workload(r: &mut Rng) -> String {
    let q = |r: &mut Rng| {
        r.pick(&[
            "1",
            "0.5",
            "1e3",
            "0x10",
            "0777",
            "1_000",
            "500m",
            "1Gi",
            "2.0",
            "1.",
            ".5",
            "+1",
            "1e-3",
            "yes",
            "~",
            "'1'",
            "!!int '2'",
            "1e400",
            "012",
        ])
        .to_owned()
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: w{}\n  labels: {{on: {}, y: n}}\nspec:\n  replicas: {}\n  template:\n    spec:\n      automountServiceAccountToken: {}\n      containers:\n      - name: app\n        image: nginx\n        resources:\n          limits: {{cpu: {}, memory: {}}}\n          requests:\n            cpu: {}\n            memory: {}\n",
        r.below(100),
        q(r),
        q(r),
        r.pick(&["yes", "no", "on", "off", "true", "y", "N"]),
        q(r),
        q(r),
        q(r),
        q(r)
    )
}

/// Streams and documents at the edges of how kubectl splits and tells JSON from YAML.
const EDGES: &[&str] = &[
    "--- {a: 1}\n",
    "---x\n",
    "--- # a comment\na: 1\n",
    "---\n---\na: 1\n---\n",
    "a: 1\n---   \nb: 2\n",
    "null\n---\n~\n---\na: 1\n",
    "{\"a\": 1.0, \"b\": 1e400, \"c\": -0, \"d\": 12345678901234567890123}\n",
    "  {\"kind\": \"Pod\"}  \n",
    "{\"a\": {\"b\": [1, 2.50, {\"c\": true}]}}",
    "{\"a\": 1, \"a\": 2}",
    "{\"a\": 1.0}{\"b\": 2e3}\n{\"c\": [yes]}\n",
    "{\"a\": 1}\n{\"b\": 2}\n",
    "{\"a\": 1}\n---\nb: 1.0\n",
    "a: 1\n...\nb: 2\n",
    "a: 1\n...\n---\nb: 2\n",
    "{a: 1.0}\n",
    "[1.0, 1e3]\n",
    "- a\n- b\n",
    "plain text\n",
    "\"a string\"\n",
    "a: 1\r\nb: yes\r\n",
    "a: |\n  x\n  y\nb: >\n  folded\n  text\n",
    "a: 'multi\n  line'\nb: \"esc\\x41\\u00e9\\n\"\n",
    "a:\n  - b: 1\n    c: 2\n",
    "? a\n: 1\n",
    "a: &x 1\nb: *x\n",
    "\u{feff}a: 1\n",
    "a: b # comment\nc: d#e\n",
    "",
    "# only a comment\n",
];

/// Where our YAML parser (YAML 1.2) and kubectl's (libyaml's, YAML 1.1) part on syntax: texts
/// kubectl reads and we refuse. Held here so that a change on either side shows.
const KNOWN_DIFFERENCES: &[&str] = &[
    // A tab after a key's colon.
    "a:\tb\n",
];

fn generated(seed: u64, n: usize) -> Vec<String> {
    let mut r = Rng(seed);
    (0..n)
        .map(|i| {
            let mut anchors = Vec::new();
            match i % 4 {
                0 => workload(&mut r),
                1 => format!("{{{}}}\n", {
                    let mut used = Vec::new();
                    (0..1 + r.below(5))
                        .map(|_| format!("{}: {}", key(&mut r, &mut used), flow_value(&mut r, 0)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
                _ => {
                    let mut text = block_map(&mut r, 0, 0, &mut anchors);
                    if r.chance(20) {
                        text.push_str("---\n");
                        text.push_str(&block_map(&mut r, 0, 0, &mut Vec::new()));
                    }
                    text
                }
            }
        })
        .collect()
}

#[test]
fn every_text_reads_as_kubectl_reads_it() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["tests", "examples", "hosts/cli/tests/fixtures"] {
        files_under(&root.join(dir), &mut files);
    }
    files.retain(|f| !f.components().any(|c| c.as_os_str() == "target"));
    let repository_files = files.len();
    assert!(repository_files >= 50, "{repository_files} files");

    let scratch =
        std::env::temp_dir().join(format!("resource-limits-kubectl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap_or_else(|e| panic!("{}: {e}", scratch.display()));
    // The settings texts of the manifest table (the CLI's and the browser's).
    let table: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/manifests/cases.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    let mut texts: Vec<String> = table
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["settings"].as_str().map(str::to_owned))
        .collect();
    let table_texts = texts.len();
    texts.extend(EDGES.iter().map(|e| (*e).to_owned()));
    let gen = generated(0x5EED_1234_ABCD, 10_000);
    let generated_cases = gen.len();
    texts.extend(gen);
    for (i, text) in texts.iter().enumerate() {
        let f = scratch.join(format!("{i}.yaml"));
        std::fs::write(&f, text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        files.push(f);
    }

    let known: Vec<PathBuf> = KNOWN_DIFFERENCES
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let f = scratch.join(format!("known-{i}.yaml"));
            std::fs::write(&f, text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            f
        })
        .collect();
    for (text, theirs) in KNOWN_DIFFERENCES.iter().zip(kubectl(&known)) {
        assert!(
            theirs.error.is_none() && ours(text).is_err(),
            "{text:?}: no longer a known difference: ours {:?}, kubectl {theirs:?}",
            ours(text)
        );
    }

    let answers = kubectl(&files);
    let mut failures = Vec::new();
    let (mut documents, mut refused, mut duplicates) = (0, 0, 0);
    let (mut same_json, mut ambiguous, mut kept_last) = (0, 0, 0);
    for (file, theirs) in files.iter().zip(&answers) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        documents += theirs.documents.len();
        refused += usize::from(theirs.error.is_some());
        duplicates += usize::from(theirs.duplicate.is_some());
        kept_last += usize::from(
            theirs.duplicate.is_some()
                && theirs.ambiguous.is_none()
                && theirs.error.is_none()
                && !resource_limits_yaml::documents::looks_like_json(&text),
        );
        ambiguous += usize::from(theirs.duplicate.is_none() && theirs.ambiguous.is_some());
        same_json += usize::from(
            theirs.error.is_none() && theirs.duplicate.is_none() && theirs.ambiguous.is_none(),
        );
        if let Some(d) = differs(&text, theirs) {
            failures.push(format!("{}:\n{text}\n{d}", file.display()));
        }
    }
    if std::env::var_os("KUBECTL_DIFF_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    if let Ok(path) = std::env::var("KUBECTL_DIFF_OUT") {
        let _ = std::fs::write(path, failures.join("\n\n=====\n"));
    }
    eprintln!(
        "{} texts ({repository_files} files of the repository, {table_texts} settings of the \
         manifest table, {} edges of splitting, {generated_cases} generated): {documents} documents read by kubectl; \
         {same_json} texts read to the same JSON, {refused} refused by both, {duplicates} with \
         a key written twice (refused by us; {kept_last} of them YAML that `check` reads to \
         kubectl's JSON, the key listed), {ambiguous} that kubectl reads by Go's map order",
        files.len(),
        EDGES.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} texts read otherwise than kubectl reads them; the first:\n\n{}",
        failures.len(),
        files.len(),
        failures
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}
