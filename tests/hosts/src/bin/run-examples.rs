//! `make run`: evaluates every pair of examples/examples.txt through one engine and prints
//! each verdict.
//!
//! Usage: `run-examples POLICY.wasm`. The engine is kwctl when it is on PATH (POLICY.wasm is
//! then the annotated policy, as `kwctl run` wants it); otherwise the policy runs in wapc +
//! wasmtime-provider, the engine policy-server embeds, through this crate's waPC host
//! (settings validated first, then the request, as policy-server does), and a mutation is
//! shown as the JSON patch policy-server would send. `RUN_EXAMPLES_ENGINE=kwctl|wapc` chooses
//! the engine instead (the Makefile sets it), and `KWCTL` names the kwctl to run. Both engines
//! print the same lines for the same verdict.

use base64::Engine as _;
use host_tests::{repo_root, Policy};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// What both engines answer, as an AdmissionResponse carries it.
struct Verdict {
    allowed: bool,
    code: Option<u64>,
    message: String,
    /// The JSON patch operations of a mutation (empty: none).
    patch: Vec<Value>,
    /// The warnings kubectl would print.
    warnings: Vec<String>,
}

enum Engine {
    /// The kwctl program to run.
    Kwctl(String),
    Wapc(Policy),
}

/// The version of a crate in the workspace's Cargo.lock (what this binary was built with).
fn locked_version(name: &str) -> &'static str {
    const LOCK: &str = include_str!("../../../../Cargo.lock");
    let entry = format!("name = \"{name}\"\nversion = \"");
    LOCK.split_once(entry.as_str())
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("(unknown version)", |(version, _)| version)
}

/// `$KWCTL`, else `kwctl` from PATH.
fn kwctl_program() -> String {
    std::env::var("KWCTL")
        .ok()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "kwctl".into())
}

fn kwctl_version(program: &str) -> Option<String> {
    let out = Command::new(program).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().nth(1)?.to_owned();
    out.status.success().then_some(version)
}

impl Engine {
    fn choose(policy: &Path) -> Result<(Engine, String), String> {
        let wanted = std::env::var("RUN_EXAMPLES_ENGINE").unwrap_or_default();
        let program = kwctl_program();
        let kwctl = kwctl_version(&program);
        match (wanted.as_str(), kwctl) {
            ("" | "kwctl", Some(version)) => {
                let name = format!("kwctl {version}");
                return Ok((Engine::Kwctl(program), name));
            }
            ("kwctl", None) => return Err(format!("{program} is not on PATH")),
            ("" | "wapc", _) => {}
            (other, _) => return Err(format!("RUN_EXAMPLES_ENGINE={other}: kwctl or wapc")),
        }
        let module = std::fs::read(policy).map_err(|e| format!("{}: {e}", policy.display()))?;
        let mut name = format!(
            "wapc + wasmtime-provider {}",
            locked_version("wasmtime-provider")
        );
        if kwctl_version(&program).is_none() {
            name.push_str(" (kwctl not on PATH)");
        }
        Ok((Engine::Wapc(Policy::load(&module)), name))
    }

    fn evaluate(
        &self,
        policy: &Path,
        scratch: &Path,
        settings: &Path,
        request: &Path,
    ) -> Result<Verdict, String> {
        match self {
            Engine::Kwctl(program) => kwctl_run(program, policy, scratch, settings, request),
            Engine::Wapc(p) => wapc_run(p, settings, request),
        }
    }
}

/// `kwctl run`, with a private store under `scratch` so runs never share the user's state.
fn kwctl_run(
    program: &str,
    policy: &Path,
    scratch: &Path,
    settings: &Path,
    request: &Path,
) -> Result<Verdict, String> {
    let out = Command::new(program)
        .arg("run")
        .arg(policy)
        .arg("-r")
        .arg(request)
        .arg("--settings-path")
        .arg(settings)
        .env("XDG_CONFIG_HOME", scratch.join("cfg"))
        .env("XDG_CACHE_HOME", scratch.join("cache"))
        .env("XDG_DATA_HOME", scratch.join("data"))
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG")
                .unwrap_or_else(|_| "kwctl=error,policy_evaluator=error,sigstore=error".into()),
        )
        .output()
        .map_err(|e| format!("kwctl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kwctl failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let response: Value =
        serde_json::from_str(last).map_err(|e| format!("kwctl's answer {last:?}: {e}"))?;
    let patch = match response["patch"].as_str() {
        None => Vec::new(),
        Some(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| format!("kwctl's patch: {e}"))?;
            serde_json::from_slice(&bytes).map_err(|e| format!("kwctl's patch: {e}"))?
        }
    };
    Ok(Verdict {
        allowed: response["allowed"]
            .as_bool()
            .ok_or("kwctl's answer has no `allowed`")?,
        code: response["status"]["code"].as_u64(),
        message: response["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        patch,
        warnings: testkit::strings(&response["warnings"]),
    })
}

/// What policy-server does: validate the settings, then the request; a mutated object
/// becomes the JSON patch from the request's object to it.
fn wapc_run(policy: &Policy, settings: &Path, request: &Path) -> Result<Verdict, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let settings: Value = serde_json::from_slice(&read(settings)?)
        .map_err(|e| format!("{}: {e}", settings.display()))?;
    let request_bytes = read(request)?;
    let request: Value = serde_json::from_slice(&request_bytes)
        .map_err(|e| format!("{}: {e}", request.display()))?;
    let answer = policy.validate_settings(settings.to_string().as_bytes())?;
    if answer["valid"] != Value::Bool(true) {
        return Err(format!("the settings are not valid: {}", answer["message"]));
    }
    let r = policy.validate(&testkit::kubewarden_payload(&settings, &request_bytes))?;
    let patch = match &r["mutated_object"] {
        Value::Null => Vec::new(),
        mutated => {
            let diff = json_patch::diff(&request["object"], mutated);
            match serde_json::to_value(diff).map_err(|e| e.to_string())? {
                Value::Array(ops) => ops,
                other => return Err(format!("a JSON patch that is not a list: {other}")),
            }
        }
    };
    Ok(Verdict {
        allowed: r["accepted"]
            .as_bool()
            .ok_or("the policy's answer has no `accepted`")?,
        code: r["code"].as_u64(),
        message: r["message"].as_str().unwrap_or_default().to_owned(),
        patch,
        warnings: testkit::strings(&r["warnings"]),
    })
}

fn print(verdict: &Verdict) {
    if !verdict.allowed {
        match verdict.code {
            Some(code) => println!("   REJECTED ({code})"),
            None => println!("   REJECTED"),
        }
        for line in verdict.message.split("; ") {
            println!("     - {line}");
        }
    } else if verdict.patch.is_empty() {
        println!("   ALLOWED");
    } else {
        println!("   ALLOWED with mutation:");
        for op in &verdict.patch {
            let (kind, path) = (op["op"].as_str(), op["path"].as_str());
            let value = op.get("value").unwrap_or(&Value::Null);
            println!(
                "     {} {} = {value}",
                kind.unwrap_or("?"),
                path.unwrap_or("?")
            );
        }
    }
    for w in &verdict.warnings {
        println!("   warning: {w}");
    }
}

/// The pairs of examples/examples.txt: (settings file, request file).
fn examples(root: &Path) -> Result<Vec<(String, String)>, String> {
    let list = root.join("examples/examples.txt");
    let text = std::fs::read_to_string(&list).map_err(|e| format!("{}: {e}", list.display()))?;
    let mut pairs = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (None, _) => {}
            (Some(w), _) if w.starts_with('#') => {}
            (Some(settings), Some(request)) => pairs.push((settings.into(), request.into())),
            (Some(_), None) => return Err(format!("examples/examples.txt: {line:?}")),
        }
    }
    Ok(pairs)
}

/// The repository whose examples are run: the current folder when it holds them (`make run`
/// runs the runner from the repository's root), else the one this runner was built from. Not
/// only the latter: clones that share a cargo build folder (the README and toolchain tests)
/// share one built runner, whose build-time path may be another clone's, gone by now.
fn examples_root() -> PathBuf {
    std::env::current_dir()
        .ok()
        .filter(|dir| dir.join("examples/examples.txt").is_file())
        .unwrap_or_else(repo_root)
}

fn run(policy: &Path) -> Result<(), String> {
    let root = examples_root();
    let (engine, name) = Engine::choose(policy)?;
    println!("engine: {name}");
    let scratch = std::env::temp_dir().join(format!("run-examples-{}", std::process::id()));
    let pairs = examples(&root)?;
    let result: Result<(), String> = pairs.iter().try_for_each(|(settings, request)| {
        let s = root.join("examples/settings").join(settings);
        let r = root.join("examples/requests").join(request);
        let verdict = engine
            .evaluate(policy, &scratch, &s, &r)
            .map_err(|e| format!("{request} with settings/{settings}: {e}"))?;
        println!("== {request} with settings/{settings}");
        print(&verdict);
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    println!("{} examples evaluated through {name}", pairs.len());
    Ok(())
}

fn main() -> ExitCode {
    let Some(policy) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: run-examples POLICY.wasm");
        return ExitCode::from(2);
    };
    match run(&policy) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("run-examples: {e}");
            ExitCode::FAILURE
        }
    }
}
