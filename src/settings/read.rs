//! Reading settings from their JSON text: every key of the settings and of each rule, each
//! problem found where it is (all of them at once), then the rules' consistency
//! ([`super::rules`]).

use super::problem::{shorten, At, Expected, PatternList, ProblemKind, Problems};
use super::{
    is_extended, rules, Bound, Enforcement, ImagePattern, ResourceRule, Settings, SettingsError,
    RULE_KEYS, TOP_KEYS,
};
use crate::json::view::{Object, Shape, View};
use crate::quantity::Quantity;
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

impl Settings {
    /// Parses and checks a settings document (JSON).
    pub fn from_json(bytes: &[u8]) -> Result<Settings, SettingsError> {
        // serde_json checks the whole text (syntax, UTF-8, depth) without building anything;
        // the walk below then only steps over text known to be valid.
        match serde_json::from_slice::<&RawValue>(bytes) {
            Ok(raw) => read(View::whole(raw.get())),
            // Read again as a tree for the error: stepping over a string, serde_json places
            // a control character inside it at the string's start rather than where it is.
            Err(e) => Err(SettingsError::whole(ProblemKind::NotJson(
                serde_json::from_slice::<Value>(bytes)
                    .err()
                    .unwrap_or(e)
                    .to_string(),
            ))),
        }
    }
}

/// The settings of a checked JSON text.
fn read(v: View<'_>) -> Result<Settings, SettingsError> {
    let mut p = Problems::default();
    let root = At::Root;
    let top = match v.shape() {
        Shape::Null => Object::default(),
        Shape::Object => object(&root, v, &mut p),
        found => {
            return Err(SettingsError::whole(ProblemKind::WrongType {
                expected: Expected::Settings,
                found,
            }))
        }
    };
    for (key, _) in top.iter() {
        if !TOP_KEYS.contains(&key.as_ref()) {
            p.add(
                &At::Key(&root, key),
                ProblemKind::UnknownKey { expected: TOP_KEYS },
            );
        }
    }
    let enforcement = parse_enforcement(
        &At::Key(&root, "enforcement"),
        top.get("enforcement"),
        &mut p,
    )
    .unwrap_or_default();
    let mut rules = Vec::new();
    for name in ["cpu", "memory"] {
        if let Some(rule) = top
            .get(name)
            .and_then(|v| parse_rule(&At::Key(&root, name), name, v, enforcement, &mut p))
        {
            rules.push(rule);
        }
    }
    let resources = At::Key(&root, "resources");
    match top.get("resources") {
        None => {}
        Some(v) => match v.shape() {
            Shape::Null => {}
            Shape::Object => {
                let map = object(&resources, v, &mut p);
                let mut names: Vec<&(Cow<'_, str>, View<'_>)> = map.iter().collect();
                names.sort_by(|a, b| a.0.cmp(&b.0));
                for (name, value) in names {
                    let at = At::Key(&resources, name);
                    if !is_resource_name(name) {
                        p.add(
                            &at,
                            ProblemKind::NotAResourceName {
                                name: name.to_string(),
                            },
                        );
                        continue;
                    }
                    if (name == "cpu" || name == "memory")
                        && top.get(name).is_some_and(|v| !v.is_null())
                    {
                        p.add(
                            &at,
                            ProblemKind::ConfiguredAtTop {
                                name: name.to_string(),
                            },
                        );
                        continue;
                    }
                    if let Some(rule) = parse_rule(&at, name, *value, enforcement, &mut p) {
                        rules.push(rule);
                    }
                }
            }
            found => p.add(
                &resources,
                ProblemKind::WrongType {
                    expected: Expected::Resources,
                    found,
                },
            ),
        },
    }
    let ignore_images = parse_patterns(&root, PatternList::IgnoreImages, &top, &mut p);
    let ignore_containers = parse_patterns(&root, PatternList::IgnoreContainers, &top, &mut p);
    let ignore_init_containers = parse_bool(
        &At::Key(&root, "ignoreInitContainers"),
        top.get("ignoreInitContainers"),
        false,
        &mut p,
    );
    if let Some(e) = p.into_error() {
        return Err(e);
    }
    if rules.is_empty() {
        rules = Settings::default().rules;
        for rule in &mut rules {
            rule.enforcement = enforcement;
        }
    }
    Ok(Settings {
        rules,
        ignore_images,
        ignore_init_containers,
        ignore_containers,
    })
}

/// The members of the object setting `v` at `at`. A key given twice is a problem (JSON
/// readers differ on which one counts); the first one is kept.
fn object<'a>(at: &At<'_>, v: View<'a>, p: &mut Problems) -> Object<'a> {
    let (mut all, error) = v.members();
    if let Some(e) = error {
        p.add(&At::Root, ProblemKind::Unreadable(e));
    }
    for key in all.take_repeated() {
        p.add(&At::Key(at, &key), ProblemKind::GivenTwice);
    }
    all
}

/// A value as a problem shows it: as written, compact, cut when long.
fn shown(v: &View<'_>) -> String {
    shorten(v.compact())
}

/// One rule, for `resource`, at `at`; `enforcement` is the top-level default.
fn parse_rule(
    at: &At<'_>,
    resource: &str,
    v: View<'_>,
    enforcement: Enforcement,
    p: &mut Problems,
) -> Option<ResourceRule> {
    let before = p.len();
    let map = match v.shape() {
        Shape::Null => return None,
        Shape::Object => object(at, v, p),
        found => {
            p.add(
                at,
                ProblemKind::WrongType {
                    expected: Expected::Rule,
                    found,
                },
            );
            return None;
        }
    };
    for (key, _) in map.iter() {
        if !RULE_KEYS.contains(&key.as_ref()) {
            p.add(
                &At::Key(at, key),
                ProblemKind::UnknownKey {
                    expected: RULE_KEYS,
                },
            );
        }
    }
    let mut q = |key: &str| parse_bound(&At::Key(at, key), map.get(key), p);
    let mut rule = ResourceRule::presence(resource);
    // Extended resources (`nvidia.com/gpu`) are declared only by the containers that use
    // them: capping them must not demand them of every container.
    let required = !is_extended(resource);
    rule.min_request = q("minRequest");
    rule.max_request = q("maxRequest");
    rule.min_limit = q("minLimit");
    rule.max_limit = q("maxLimit");
    rule.default_request = q("defaultRequest");
    rule.default_limit = q("defaultLimit");
    rule.max_limit_request_ratio = q("maxLimitRequestRatio");
    let flag = |key: &str, default: bool, p: &mut Problems| {
        parse_bool(&At::Key(at, key), map.get(key), default, p)
    };
    rule.require_request = flag("requireRequest", required, p);
    rule.forbid_limit = flag("forbidLimit", false, p);
    // A forbidden limit is not required either (unless the operator says so: a conflict).
    rule.require_limit = flag("requireLimit", required && !rule.forbid_limit, p);
    rule.ignore_values = flag("ignoreValues", false, p);
    rule.enforcement = parse_enforcement(&At::Key(at, "enforcement"), map.get("enforcement"), p)
        .unwrap_or(enforcement);
    if p.len() > before {
        return None;
    }
    rules::check(at, &rule, p);
    Some(rule)
}

/// A quantity: absent, `null`, `""` or zero is not set.
fn parse_bound(at: &At<'_>, v: Option<View<'_>>, p: &mut Problems) -> Option<Bound> {
    let v = v?;
    let text = match v.shape() {
        Shape::Null => return None,
        Shape::String => {
            let s = v.string();
            // Kubewarden's UI (Rancher) sends "" for a field left blank: not set, as in the
            // official policy.
            if s.trim().is_empty() {
                return None;
            }
            // Trimmed as the API server trims a quoted quantity.
            s.trim().to_owned()
        }
        Shape::Number => v.raw().to_owned(),
        _ => {
            p.add(at, ProblemKind::QuantityType { value: shown(&v) });
            return None;
        }
    };
    match Quantity::parse(&text) {
        Err(_) => {
            p.add(at, ProblemKind::NotAQuantity { value: shown(&v) });
            None
        }
        Ok(q) if q.is_negative() => {
            p.add(at, ProblemKind::Negative { value: shown(&v) });
            None
        }
        // Zero means "not set", as in Kubewarden's container-resources policy.
        Ok(q) if q.is_zero() => None,
        Ok(value) => Some(Bound { value, text }),
    }
}

/// `deny` or `warn`; absent, `null` or `""` (a blank field of Kubewarden's UI): not set.
fn parse_enforcement(at: &At<'_>, v: Option<View<'_>>, p: &mut Problems) -> Option<Enforcement> {
    let v = v?;
    match v.shape() {
        Shape::Null => return None,
        Shape::String => match v.string().as_ref() {
            "" => return None,
            "deny" => return Some(Enforcement::Deny),
            "warn" => return Some(Enforcement::Warn),
            _ => {}
        },
        _ => {}
    }
    p.add(at, ProblemKind::NotEnforcement { value: shown(&v) });
    None
}

/// `true` or `false`; absent or `null`: `default`.
fn parse_bool(at: &At<'_>, v: Option<View<'_>>, default: bool, p: &mut Problems) -> bool {
    let Some(v) = v else { return default };
    match v.shape() {
        Shape::Null => default,
        Shape::True => true,
        Shape::False => false,
        _ => {
            p.add(at, ProblemKind::NotABoolean { value: shown(&v) });
            default
        }
    }
}

/// A list of exact-or-trailing-`*` patterns (`ignoreImages`: images, `ignoreContainers`:
/// container names), the member `list` of `top`.
fn parse_patterns(
    root: &At<'_>,
    list: PatternList,
    top: &Object<'_>,
    p: &mut Problems,
) -> Vec<ImagePattern> {
    let at = At::Key(root, list.key());
    let Some(v) = top.get(list.key()) else {
        return Vec::new();
    };
    let items = match v.shape() {
        Shape::Null => return Vec::new(),
        Shape::Array => match v.items() {
            Ok(items) => items,
            Err(e) => {
                p.add(&At::Root, ProblemKind::Unreadable(e));
                return Vec::new();
            }
        },
        found => {
            p.add(
                &at,
                ProblemKind::WrongType {
                    expected: Expected::Patterns(list),
                    found,
                },
            );
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = At::Index(&at, i);
        if item.shape() != Shape::String {
            p.add(
                &at,
                ProblemKind::PatternNotString {
                    list,
                    value: shown(&item),
                },
            );
            continue;
        }
        let s = item.string();
        match s.find('*') {
            _ if s.is_empty() => p.add(&at, ProblemKind::EmptyPattern { list }),
            None => out.push(ImagePattern::Exact(s.into_owned())),
            Some(star) if star == s.len() - 1 => {
                out.push(ImagePattern::Prefix(s[..star].to_owned()))
            }
            Some(_) => p.add(
                &at,
                ProblemKind::StarInside {
                    pattern: s.into_owned(),
                },
            ),
        }
    }
    out
}

/// A Kubernetes resource name: `cpu`, `hugepages-2Mi`, `nvidia.com/gpu`.
fn is_resource_name(name: &str) -> bool {
    let (prefix, base) = match name.split_once('/') {
        Some((prefix, base)) => (Some(prefix), base),
        None => (None, name),
    };
    let prefix_ok = prefix.is_none_or(|s| {
        !s.is_empty()
            && s.len() <= 253
            && s.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    });
    prefix_ok
        && !base.is_empty()
        && base.len() <= 63
        && base
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && base.starts_with(|c: char| c.is_ascii_alphanumeric())
        && base.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::super::{ProblemKind, Settings, SettingsError, SettingsProblem};

    /// A key given twice is a problem where it is, at any depth (which one would count
    /// differs from one JSON reader to another).
    #[test]
    fn a_key_given_twice_is_a_problem() {
        let e = Settings::from_json(
            br#"{"cpu": {"maxLimit": "2", "maxLimit": "4"}, "memory": {}, "memory": null,
                 "resources": {"nvidia.com/gpu": {}, "nvidia.com/gpu": {}}}"#,
        )
        .err()
        .map(|e| e.problems)
        .unwrap_or_default();
        assert_eq!(
            e,
            [
                "memory: given more than once",
                "cpu.maxLimit: given more than once",
                r#"resources["nvidia.com/gpu"]: given more than once"#,
            ]
        );
    }

    /// Keys given again among many are each found once, in the order given (the search is
    /// not quadratic: with a linear search per key, 50,000 keys took 1.4 s).
    #[test]
    fn keys_given_again_among_many() {
        let members: Vec<String> = (0..50_000)
            .map(|i| format!("\"k{}\": 1", i % 40_000))
            .collect();
        let text = format!("{{\"resources\": {{{}}}}}", members.join(","));
        let problems = Settings::from_json(text.as_bytes())
            .err()
            .map(|e| e.problems)
            .unwrap_or_default();
        let again: Vec<&String> = problems
            .iter()
            .filter(|p| p.ends_with("given more than once"))
            .collect();
        assert_eq!(again.len(), 10_000);
        assert_eq!(
            again.first().map(|p| p.as_str()),
            Some(r#"resources["k0"]: given more than once"#)
        );
        assert_eq!(
            again.last().map(|p| p.as_str()),
            Some(r#"resources["k9999"]: given more than once"#)
        );
    }

    /// serde_json's private number token (what a Rust tool produces when it writes a
    /// `Value` with `arbitrary_precision` through another format) is not a number: the
    /// problem shows it as written.
    #[test]
    fn another_tools_number_token_is_not_a_quantity() {
        let e = Settings::from_json(
            br#"{"cpu": {"maxLimitRequestRatio": {"$serde_json::private::Number" : "4"}}}"#,
        );
        assert_eq!(
            e.err().map(|e| e.problems),
            Some(vec![r#"cpu.maxLimitRequestRatio: {"$serde_json::private::Number":"4"} is not a Kubernetes quantity (expected a string such as "500m" or a number)"#.to_owned()])
        );
    }

    /// Keys and strings are read unescaped, numbers as written, and a document from a
    /// `Value` (the YAML readers') as that value's JSON text.
    #[test]
    fn escapes_are_read_and_values_read_as_their_text() {
        let text = br#"{"cpu": {"maxLimit": " 2 ", "maxLimitRequestRatio": 1.5e0},
                        "ignoreImages": ["a\"b", "reg/*"], "enforcement": "warn"}"#;
        let s = Settings::from_json(text);
        assert!(s.is_ok(), "{s:?}");
        let s = s.unwrap_or_default();
        let cpu = &s.rules[0];
        assert_eq!(cpu.resource, "cpu");
        assert_eq!(cpu.max_limit.as_ref().map(|b| b.text.as_str()), Some("2"));
        assert_eq!(
            cpu.max_limit_request_ratio
                .as_ref()
                .map(|b| b.text.as_str()),
            Some("1.5e0")
        );
        assert_eq!(cpu.enforcement, crate::settings::Enforcement::Warn);
        assert!(s.ignores_image("a\"b") && s.ignores_image("reg/x"));
        // A number as written (serde_json's own tree writes this one as 1.5e+0).
        let value: serde_json::Value = serde_json::from_slice(text).unwrap_or_default();
        let from_value = Settings::from_json(&serde_json::to_vec(&value).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(
            from_value.rules[0].max_limit_request_ratio,
            cpu.max_limit_request_ratio
                .clone()
                .map(|b| crate::settings::Bound {
                    text: "1.5e+0".into(),
                    ..b
                })
        );
        assert_eq!(
            Settings::from_json(b"[1]").err().map(|e| e.problems),
            Some(vec!["settings must be an object, not a list".to_owned()])
        );
    }

    /// Each problem is where its field is, as a path a host can point at, and its text is
    /// the problem's `Display` (word for word what `problems` holds).
    #[test]
    fn each_problem_has_its_field_path() {
        let e = Settings::from_json(
            br#"{"cpu": {"maxLimit": "4 cores", "minLimit": "2", "defaultLimit": "1",
                         "maxLimitRequestRatio": "0.5"},
                 "resources": {"nvidia.com/gpu": {"maxLimit": -1}, "a b": {}},
                 "ignoreImages": ["ok", "a*b"], "memory": {"x": 1}}"#,
        )
        .err()
        .unwrap_or_else(|| SettingsError::new(Vec::new()));
        let paths: Vec<(String, String)> = e
            .located()
            .iter()
            .map(|p| (p.path.pointer(), p.field()))
            .collect();
        let expected = [
            ("/cpu/maxLimit", "cpu.maxLimit"),
            ("/memory/x", "memory.x"),
            ("/resources/a b", r#"resources["a b"]"#),
            (
                "/resources/nvidia.com~1gpu/maxLimit",
                r#"resources["nvidia.com/gpu"].maxLimit"#,
            ),
            ("/ignoreImages/1", "ignoreImages[1]"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(p, f)| ((*p).to_owned(), (*f).to_owned()))
            .collect();
        assert_eq!(paths, expected);
        let shown: Vec<String> = e.located().iter().map(ToString::to_string).collect();
        assert_eq!(shown, e.problems);
        assert_eq!(
            e.located()[0].kind,
            ProblemKind::NotAQuantity {
                value: r#""4 cores""#.to_owned()
            }
        );
        // The rules' problems: at the rule, or at the key the text names.
        let e = Settings::from_json(
            br#"{"cpu": {"minLimit": "2", "maxLimit": "1", "maxLimitRequestRatio": "0.5"}}"#,
        )
        .err()
        .unwrap_or_else(|| SettingsError::new(Vec::new()));
        let fields: Vec<String> = e.located().iter().map(SettingsProblem::field).collect();
        assert_eq!(fields, ["cpu", "cpu.maxLimitRequestRatio"]);
        assert_eq!(
            e.to_string(),
            "cpu: minLimit 2 is greater than maxLimit 1; cpu.maxLimitRequestRatio: 0.5 is less than 1 (a limit is never below its request)"
        );
        // A problem of the whole document is at the root, its text without a field.
        let e = Settings::from_json(b"[1").err();
        let root = e.as_ref().and_then(|e| e.located().first());
        assert_eq!(root.map(|p| p.path.segments().len()), Some(0));
        assert!(root
            .is_some_and(|p| p.field().is_empty()
                && p.to_string().starts_with("settings are not valid JSON: ")));
    }
}
