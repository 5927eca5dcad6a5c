//! The README's first promise: two commands on a fresh machine. The test takes the README's
//! own command block, checks it is the two commands, and runs its `make run` line in a fresh
//! clone with no kwctl on PATH: the examples are then evaluated through wapc +
//! wasmtime-provider, and every example request gets a verdict.
//!
//! The clone is `git clone` of this repository, so it holds the committed HEAD only: changes
//! not yet committed are not seen by this test.

use host_tests::newcomer::{fresh_clone, path_without, shell};
use host_tests::scratch::Scratch;
use host_tests::{policy_wasm, repo_root};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// The lines of the ```console block under "## Two commands", comments dropped.
fn two_commands_block(readme: &str) -> Vec<String> {
    let section = readme
        .split_once("\n## Two commands\n")
        .map(|(_, rest)| rest)
        .expect("README.md: a `## Two commands` section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let block = section
        .split_once("```console\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("README.md: a ```console block under ## Two commands");
    block
        .lines()
        .map(|line| line.split_once(" #").map_or(line, |(cmd, _)| cmd).trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `== REQUEST with settings/SETTINGS` lines: the requests that got a verdict.
fn verdicts(stdout: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = stdout.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("== ") {
            let (request, settings) = rest
                .split_once(" with settings/")
                .unwrap_or_else(|| panic!("a verdict heading: {line:?}"));
            let next = lines.get(i + 1).copied().unwrap_or_default();
            assert!(
                next.starts_with("   ALLOWED") || next.starts_with("   REJECTED"),
                "{line}: no verdict follows, but {next:?}"
            );
            out.push((request.to_owned(), settings.to_owned()));
        }
    }
    out
}

#[test]
fn the_readme_two_commands_make_run_works_in_a_fresh_clone_without_kwctl() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("README.md");
    let block = two_commands_block(&readme);
    assert_eq!(
        block,
        ["make run", "make test"],
        "the README's two commands"
    );

    let scratch = Scratch::new("readme-two-commands");
    let clone = fresh_clone(&scratch, "resource-limits");

    let path = path_without("kwctl");
    let target = scratch.path("target");
    let which = shell("command -v kwctl", &clone, &path, &target, &[]);
    assert!(!which.status.success(), "kwctl is still on PATH");

    let started = Instant::now();
    let run = shell(&block[0], &clone, &path, &target, &[]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "`{}` failed ({}):\n{stdout}\n{stderr}",
        block[0],
        run.status
    );
    println!("{} in the clone: {:.0?}", block[0], started.elapsed());
    // make echoes its recipes' commands first; the runner's first line names the engine.
    let engine = stdout.lines().find(|l| l.starts_with("engine: "));
    assert!(
        engine.is_some_and(|l| l.starts_with("engine: wapc + wasmtime-provider ")),
        "the engine line names another engine:\n{stdout}"
    );
    assert!(stdout.contains("(kwctl not on PATH)"), "{stdout}");

    let seen = verdicts(&stdout);
    let requests: BTreeSet<String> = std::fs::read_dir(clone.join("examples/requests"))
        .expect("examples/requests")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let judged: BTreeSet<String> = seen.iter().map(|(r, _)| r.clone()).collect();
    assert_eq!(
        judged, requests,
        "requests with a verdict vs examples/requests"
    );
    let pairs = std::fs::read_to_string(clone.join("examples/examples.txt"))
        .expect("examples.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(seen.len(), pairs, "one verdict per pair of examples.txt");
    assert!(
        stdout.contains(&format!("{pairs} examples evaluated through wapc")),
        "{stdout}"
    );
}

/// With kwctl on PATH, the same runner goes through kwctl; both engines print the same
/// verdicts (the JSON patch computed from the mutated object as policy-server does equals
/// the one kwctl answers). Uses the policies `make test` builds before the tests, and kwctl
/// from `../shared/bin` where it exists, else from PATH (as the kwctl tests do).
#[test]
fn kwctl_and_wapc_print_the_same_verdicts() {
    let annotated = repo_root().join("annotated-policy.wasm");
    let shared = repo_root().join("../shared/bin/kwctl");
    let kwctl = if shared.exists() {
        shared.into_os_string()
    } else {
        "kwctl".into()
    };
    let run = |engine: &str, policy: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_run-examples"))
            .arg(policy)
            .env("RUN_EXAMPLES_ENGINE", engine)
            .env("KWCTL", &kwctl)
            .output()
            .expect("run-examples runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{engine}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let kwctl = run("kwctl", &annotated);
    let wapc = run("wapc", &policy_wasm());
    assert!(kwctl.starts_with("engine: kwctl "), "{kwctl}");
    assert!(
        wapc.starts_with("engine: wapc + wasmtime-provider "),
        "{wapc}"
    );
    let body = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with("engine: ") && !l.contains("examples evaluated through"))
            .map(str::to_owned)
            .collect()
    };
    assert!(kwctl.contains("ALLOWED with mutation:"), "{kwctl}");
    assert!(kwctl.contains("REJECTED"), "{kwctl}");
    assert_eq!(body(&kwctl), body(&wapc), "kwctl:\n{kwctl}\nwapc:\n{wapc}");
}
