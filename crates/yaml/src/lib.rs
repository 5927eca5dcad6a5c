//! YAML (and JSON, a subset of it) read into a small tree that keeps each node's line: the
//! one reader of manifests and settings for the CLI and the browser host, so both read a
//! file the same way.
//!
//! Built from `saphyr-parser`'s events rather than through a serde YAML crate, because the
//! hosts need what serde hides: the line of every node (the CLI's `file:line` output, the
//! playground's link from a violation to its line), the character range of every document
//! (the CLI's `fix`), and numbers exactly as written (a YAML `cpu: 0.1` must reach the core as
//! the JSON number `0.1`, not as the nearest f64).
//!
//! A text is read as kubectl reads it, so that a file gives the hosts the JSON kubectl would
//! send to the API server: scalars typed as sigs.k8s.io/yaml types them (go-yaml v2, YAML 1.1:
//! `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0777` is octal, `1e3` is the number `1000`;
//! the whole rule is in `scalars`), mapping keys named as it names them in JSON (`yes:` is
//! `"true"`), a JSON text's numbers as written. Anchors and aliases are expanded (with a
//! budget, so an alias bomb is an error, not an exhausted machine or a trapped wasm module),
//! merge keys (`<<`) are applied as go-yaml v2 applies them (in document order, a later key
//! setting again what a merge set). A key given twice in one mapping, which kubectl resolves
//! silently (the last wins), is an error ([`parse`]: settings, and what the CLI rewrites) or
//! is read as kubectl reads it and listed ([`parse_as_kubectl`]: the CLI's `check` reports
//! it). `crates/yaml/tests/kubectl.rs` holds our reading against kubectl's own
//! code over every YAML file of the repository and thousands of generated documents.
//!
//! Modules: `events` (saphyr-parser's events to the tree), `tree` ([`Node`], [`Value`],
//! lookups by location), `scalars` (plain scalar typing), `json` (JSON output); for the
//! hosts, [`documents`] (a text split into the documents the core judges) and
//! [`settings_source`] (the settings of a file, whatever holds them).

pub mod documents;
mod events;
mod json;
mod scalars;
pub mod settings_source;
mod tree;
pub mod write;

pub use events::{parse, parse_as_kubectl, ALIAS_BUDGET, MAX_DEPTH, NODE_WEIGHT};
pub use json::write_json_string;
pub use scalars::resolve_plain;
pub use tree::{Document, Duplicate, Error, ErrorKind, Node, Value};

#[cfg(test)]
mod tests {
    use super::*;
    use resource_limits::location::Location;

    /// A location written as a dotted path without dotted keys (`spec.containers[0]`).
    fn loc(path: &str) -> Location {
        let mut at = Location::root();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (name, indexes) = part.split_at(part.find('[').unwrap_or(part.len()));
            if !name.is_empty() {
                at = at.field(name.to_owned());
            }
            for i in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
                at = at.index(i.parse().unwrap_or(usize::MAX));
            }
        }
        at
    }

    /// The node at a dotted path, if it is written.
    fn at_path<'a>(n: &'a Node, path: &str) -> Option<&'a Node> {
        n.at(&loc(path))
    }

    fn one(text: &str) -> Node {
        let docs = parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter()
            .next()
            .and_then(|d| d.root)
            .unwrap_or(Node {
                line: 0,
                value: Value::Null,
            })
    }

    #[test]
    fn plain_scalars_as_kubectl_reads_them() {
        let n = one("a: 2\nb: 0.5\nc: .5\nd: +1\ne: 1e3\nf: 0x1f\ng: 007\nh: true\ni: ~\nj: 500m\nk: '2'\nl: !!str 3\nm: 1.\nnn: yes\no: -0.25E-2\np: !!int '0x10'\nq: 1:20\n");
        assert_eq!(
            n.to_json(),
            r#"{"a":2,"b":0.5,"c":0.5,"d":1,"e":1000,"f":31,"g":7,"h":true,"i":null,"j":"500m","k":"2","l":"3","m":1,"nn":true,"o":-0.0025,"p":16,"q":"1:20"}"#
        );
        // Keys are named as kubectl names them; a JSON text keeps its numbers as written.
        assert_eq!(one("on: 1\n0x10: 2\n").to_json(), r#"{"true":1,"16":2}"#);
        assert_eq!(
            one("{\"a\": 1.0, \"b\": 1e3, \"c\": -0}").to_json(),
            r#"{"a":1.0,"b":1e3,"c":-0}"#
        );
        assert_eq!(one("{a: 1.0}").to_json(), r#"{"a":1}"#);
        for (text, kind) in [
            ("a: .inf\n", ErrorKind::NotFinite(".inf".into())),
            ("~: 1\n", ErrorKind::KeyNotJson("~".into())),
            ("a: !!int x\n", ErrorKind::Tag("x".into(), "int")),
            ("a: !!binary '%'\n", ErrorKind::Binary),
            ("yes: 1\ntrue: 2\n", ErrorKind::DuplicateKey("true".into())),
        ] {
            assert_eq!(parse(text).err().map(|e| e.kind), Some(kind), "{text}");
        }
        assert_eq!(one("a: !!binary aGVsbG8=\n").to_json(), r#"{"a":"hello"}"#);
    }

    /// Read as kubectl reads it, a key written twice keeps its last value and is listed with
    /// both lines and its place; a merged key set again is not written twice.
    #[test]
    fn keys_written_twice_as_kubectl_reads_them() {
        let text = "kind: Pod\nspec:\n  containers:\n  - name: a\n    resources:\n      limits: {cpu: 1, cpu: 2}\n  - name: b\n    name: c\n---\nbase: &b {x: 1}\nm:\n  <<: *b\n  x: 2\nyes: 1\ntrue: 2\n";
        assert_eq!(
            parse(text).err().map(|e| (e.line, e.kind)),
            Some((6, ErrorKind::DuplicateKey("cpu".into())))
        );
        let docs = parse_as_kubectl(text).unwrap_or_else(|e| panic!("{e}"));
        let json: Vec<String> = docs
            .iter()
            .filter_map(|d| d.root.as_ref().map(Node::to_json))
            .collect();
        assert_eq!(
            json,
            [
                r#"{"kind":"Pod","spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":2}}},{"name":"c"}]}}"#,
                r#"{"base":{"x":1},"m":{"x":2},"true":2}"#
            ]
        );
        let listed = |d: &Document| -> Vec<(String, usize, usize, String)> {
            d.duplicates
                .iter()
                .map(|t| (t.key.clone(), t.first, t.line, t.at.to_string()))
                .collect()
        };
        assert_eq!(
            listed(&docs[0]),
            [
                (
                    "cpu".to_owned(),
                    6,
                    6,
                    "spec.containers[0].resources.limits.cpu".to_owned()
                ),
                (
                    "name".to_owned(),
                    7,
                    8,
                    "spec.containers[1].name".to_owned()
                )
            ]
        );
        assert_eq!(
            listed(&docs[1]),
            [("true".to_owned(), 14, 15, "true".to_owned())]
        );
        assert!(docs[0].duplicates[1]
            .to_string()
            .starts_with("key \"name\" written twice in one mapping (lines 7 and 8)"));
    }

    #[test]
    fn lines_documents_and_lists() {
        let text = "# leading\n---\nkind: A\nitems:\n  - name: x\n  - name: y\n---\n# empty\n---\nkind: B\n";
        let docs = parse(text).unwrap_or_default();
        assert_eq!(docs.len(), 3);
        assert!(docs[1].root.is_none());
        let a = docs[0].root.as_ref().and_then(|r| r.at(&loc("items[1]")));
        assert_eq!(a.map(|n| n.line), Some(6));
        assert_eq!(docs[0].start_char, 0);
        assert_eq!(docs[2].line, 9);
        assert_eq!(&text[docs[2].start_char..docs[2].start_char + 3], "---");
    }

    #[test]
    fn anchors_merges_and_errors() {
        let n = one("base: &b {cpu: 1}\nx:\n  <<: *b\n  memory: 2\nz: *b\n");
        assert_eq!(
            n.to_json(),
            r#"{"base":{"cpu":1},"x":{"cpu":1,"memory":2},"z":{"cpu":1}}"#
        );
        assert_eq!(
            parse("a: 1\na: 2\n").err().map(|e| e.kind),
            Some(ErrorKind::DuplicateKey("a".into()))
        );
        assert!(parse("a: [\n").is_err());
        assert!(parse("? [a]\n: 1\n").is_err());
        // "Billion laughs": ten times more at each level.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{p}"); 10].join(", ")
            ));
        }
        assert!(parse(&bomb).is_err_and(|e| e.kind == ErrorKind::AliasBudget
            && e.to_string()
                .ends_with("aliases expand to more than 16 MiB")));
        // Few nodes, but long strings: the budget counts their bytes.
        let long = format!(
            "s: &s {}\nl: &l [{}]\nm: [{}]\n",
            "x".repeat(1 << 20),
            ["*s"; 10].join(", "),
            ["*l"; 10].join(", ")
        );
        assert!(parse(&long).is_err_and(|e| e.kind == ErrorKind::AliasBudget));
        // Within the budget, an alias is its anchor's value: 100,000 expanded nodes pass,
        // 1,000,000 (about 32 MiB as counted) do not.
        let upto = |level: &str| &bomb[..bomb.find(level).unwrap_or(0)];
        assert!(parse(upto("a5:")).is_ok());
        assert!(parse(upto("a6:")).is_err_and(|e| e.kind == ErrorKind::AliasBudget));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        // saphyr-parser's own limit, or ours.
        assert!(parse(&deep).is_err_and(|e| match e.kind {
            ErrorKind::Syntax(info) => info.contains("recursion limit"),
            kind => kind == ErrorKind::TooDeep,
        }));
    }

    #[test]
    fn numbers_as_kubectl_writes_them() {
        let number = |s: &str| match resolve_plain(s) {
            Some(Value::Number(n)) => Some(n),
            _ => None,
        };
        assert_eq!(number("0.1").as_deref(), Some("0.1"));
        assert_eq!(number("+.5").as_deref(), Some("0.5"));
        assert_eq!(number("-007").as_deref(), Some("-7"));
        assert_eq!(number("1e3").as_deref(), Some("1000"));
        assert_eq!(number("1.").as_deref(), Some("1"));
        assert_eq!(number("0x1F").as_deref(), Some("31"));
        assert_eq!(number("-0x1").as_deref(), Some("-1"));
        assert_eq!(number("0o17").as_deref(), Some("15"));
        // Beyond 64-bit integers, a float64, as kubectl sends it.
        let long = "123456789012345678901234567890.000000000000000000001";
        assert_eq!(number(long).as_deref(), Some("1.2345678901234568e+29"));
        for s in [
            "", ".", "-", "e3", "1e", "500m", "1Gi", ".inf", ".nan", "0x", "0xg", "1.2.3",
        ] {
            assert_eq!(number(s), None, "{s}");
        }
    }

    #[test]
    fn block_yaml_becomes_json() {
        let n = one("a: 1\nb: [x, 'y', \"2\", 0.5, ~, true]\nc:\n  d: |\n    text\n");
        assert_eq!(
            n.to_json(),
            r#"{"a":1,"b":["x","y","2",0.5,null,true],"c":{"d":"text\n"}}"#
        );
    }

    #[test]
    fn a_mapping_value_is_on_its_key_line() {
        let text = "kind: Pod\nspec:\n  containers:\n  - name: a\n    resources:\n      limits:\n        nvidia.com/gpu: 2\n";
        let n = one(text);
        let line = |path: &str| at_path(&n, path).map(|x| x.line);
        assert_eq!(line("kind"), Some(1));
        assert_eq!(line("spec"), Some(2));
        assert_eq!(line("spec.containers"), Some(3));
        assert_eq!(line("spec.containers[0]"), Some(4));
        assert_eq!(line("spec.containers[0].resources"), Some(5));
        assert_eq!(line("spec.containers[0].resources.limits"), Some(6));
        assert_eq!(line("spec.containers[1]"), None);
        assert_eq!(line("spec.containers.x"), None);
        let gpu = at_path(&n, "spec.containers[0].resources.limits")
            .and_then(|l| l.get("nvidia.com/gpu"));
        assert_eq!(gpu.map(|g| g.line), Some(7));
        assert_eq!(at_path(&n, ""), Some(&n));
        // The deepest node written along a path and keys.
        let along = |path: &str, keys: &[&str]| {
            let at = keys
                .iter()
                .fold(loc(path), |at, k| at.field((*k).to_owned()));
            n.line_at(&at)
        };
        assert_eq!(
            along(
                "spec.containers[0].resources",
                &["limits", "nvidia.com/gpu"]
            ),
            7
        );
        assert_eq!(along("spec.containers[0].resources", &["limits", "cpu"]), 6);
        assert_eq!(
            along("spec.containers[0].resources", &["requests", "cpu"]),
            5
        );
        assert_eq!(along("spec.containers[0].x.y", &["limits"]), 4);
        assert_eq!(along("spec.containers[3]", &[]), 3);
        assert_eq!(along("status", &[]), n.line);
        // A merged entry keeps the line where it was written.
        let m = one("base: &b\n  cpu: 1\nx:\n  <<: *b\n  memory: 2\n");
        assert_eq!(at_path(&m, "x.cpu").map(|c| c.line), Some(2));
        assert_eq!(at_path(&m, "x.memory").map(|c| c.line), Some(5));
    }

    #[test]
    fn merge_keys_as_go_yaml_applies_them() {
        // A key after a merge sets it again; the first of several merged maps wins.
        let n = one("a: &a {x: 1, w: 1}\nb: &b {w: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 3\n");
        assert_eq!(
            n.get("c").map(Node::to_json).as_deref(),
            Some(r#"{"w":1,"z":2,"x":3}"#)
        );
        // In document order: a merge after a key sets it again (go-yaml v2, so kubectl).
        let n = one("a: &a {x: 1}\nc:\n  x: 3\n  <<: *a\n");
        assert_eq!(n.get("c").map(Node::to_json).as_deref(), Some(r#"{"x":1}"#));
        assert_eq!(
            parse("a: 1\nb:\n  <<: 2\n").err().map(|e| e.kind),
            Some(ErrorKind::MergeNotAMapping)
        );
        // A quoted << is a plain key.
        assert_eq!(one("'<<': 1\n").to_json(), r#"{"<<":1}"#);
    }

    #[test]
    fn a_big_mapping_still_finds_its_duplicate() {
        let mut text: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
        assert!(parse(&text).is_ok_and(|d| d.len() == 1));
        text.push_str("k49999: again\n");
        let e = parse(&text).err();
        assert_eq!(
            e.map(|e| (e.line, e.kind.to_string())),
            Some((50_001, "duplicate key \"k49999\"".to_owned()))
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let n = one("a: \"x\\ty\\u0001\\\"\"\n");
        assert_eq!(n.to_json(), r#"{"a":"x\ty\u0001\""}"#);
        assert!(n.to_value().is_ok());
    }
}
