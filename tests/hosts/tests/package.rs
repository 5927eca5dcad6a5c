//! The package Artifact Hub and Rancher show: `artifacthub-pkg.yml` is what `make artifacthub`
//! makes with kwctl from `policy-metadata.yaml` and `questions-ui.yml`, so the settings form
//! it embeds can never lag the settings again (it once lacked enforcement, forbidLimit and
//! ignoreContainers). The test runs the Makefile's own rule, with its output in a scratch
//! folder, and compares that with the committed file, less the `createdAt` line.

use host_tests::repo_root;
use host_tests::scratch::Scratch;
use std::process::Command;

/// The file without its `createdAt:` line (kwctl stamps the time it ran).
fn without_timestamp(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("createdAt:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_committed_artifacthub_package_is_what_make_artifacthub_makes() {
    let root = repo_root();
    // The rule's commands as make would run them (-B: as if out of date; -n: not run).
    let out = Command::new("make")
        .args([
            "-s",
            "--no-print-directory",
            "-n",
            "-B",
            "artifacthub-pkg.yml",
        ])
        .current_dir(&root)
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .expect("make runs");
    assert!(
        out.status.success(),
        "make -n artifacthub-pkg.yml: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recipe = String::from_utf8_lossy(&out.stdout).replace("\\\n", " ");
    let line = recipe
        .lines()
        .find(|l| l.contains("scaffold artifacthub"))
        .unwrap_or_else(|| panic!("the rule runs no kwctl scaffold artifacthub:\n{recipe}"));
    assert!(
        line.contains("--questions-path questions-ui.yml")
            && line.contains("--metadata-path policy-metadata.yaml"),
        "the rule must make the package from the metadata and the UI form: {line}"
    );

    let s = Scratch::new("artifacthub");
    let args: Vec<String> = line
        .split_whitespace()
        .skip_while(|w| *w != "scaffold")
        .map(str::to_owned)
        .collect();
    let mut args_out = Vec::new();
    let mut words = args.iter();
    while let Some(w) = words.next() {
        if w == "--output" || w == "-o" {
            words.next();
            continue;
        }
        args_out.push(w.clone());
    }
    args_out.push("--output".into());
    args_out.push(s.str("artifacthub-pkg.yml"));
    let arg_refs: Vec<&str> = args_out.iter().map(String::as_str).collect();
    let mut kwctl = s.kwctl();
    kwctl.current_dir(&root).args(&arg_refs);
    let made = kwctl.output().expect("kwctl runs (is it on PATH?)");
    assert!(
        made.status.success(),
        "kwctl {arg_refs:?}: {}",
        String::from_utf8_lossy(&made.stderr)
    );

    let fresh = std::fs::read_to_string(s.path("artifacthub-pkg.yml")).expect("kwctl's output");
    let committed =
        std::fs::read_to_string(root.join("artifacthub-pkg.yml")).expect("artifacthub-pkg.yml");
    assert!(
        committed.lines().any(|l| l.starts_with("createdAt: ")),
        "the committed package has no createdAt"
    );
    assert_eq!(
        without_timestamp(&committed),
        without_timestamp(&fresh),
        "artifacthub-pkg.yml is not what `make artifacthub` makes: run it and commit the file"
    );
    // The form names every settings key a user sets from Rancher.
    for key in [
        "enforcement",
        "cpu.enforcement",
        "memory.enforcement",
        "cpu.forbidLimit",
        "ignoreContainers",
    ] {
        assert!(
            committed.contains(&format!("variable: {key}\n")),
            "artifacthub-pkg.yml's form lacks {key}"
        );
    }
}
