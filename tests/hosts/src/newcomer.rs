//! A newcomer's machine, as far as a test can make one: a fresh clone of the committed HEAD,
//! PATH without a tool, a shell without the variables the test harness or an outer make set,
//! and a rustup home holding the toolchain of `rust-toolchain.toml` without its wasm targets.

use crate::repo_root;
use crate::scratch::Scratch;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `git clone` of this repository into `scratch/name`: the committed HEAD only.
///
/// The clone goes one level down in the scratch folder, so its `../shared/bin` (where the
/// Makefile and scripts look for kwctl in this project's sandbox) does not exist.
pub fn fresh_clone(scratch: &Scratch, name: &str) -> PathBuf {
    let clone = scratch.path(name);
    let root = repo_root().canonicalize().expect("the repository root");
    let out = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(&root)
        .arg(&clone)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!clone.join("../shared/bin").exists());
    clone
}

/// PATH without any folder that holds `tool`.
pub fn path_without(tool: &str) -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|dir| !dir.join(tool).exists())
        .collect();
    std::env::join_paths(kept).expect("PATH folders join")
}

/// The main tree's cargo target folder.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// A command line run in `dir` as a user's shell would run it, with `path` as PATH and none of
/// the variables the test harness or an outer make set; `env` adds or replaces variables.
///
/// Cargo's intermediate artifacts go to the main tree's target folder (`build-dir`), so the
/// clone does not build wasmtime again; its final artifacts (the built wasm, the runner) go
/// to `target`, so the clone never replaces the main tree's while other tests use them.
pub fn shell(
    line: &str,
    dir: &Path,
    path: &OsString,
    target: &Path,
    env: &[(&str, &OsString)],
) -> Output {
    let mut cmd = Command::new("bash");
    cmd.args(["-c", line]).current_dir(dir).env("PATH", path);
    for var in [
        "CARGO",
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "POLICY_WASM",
        "RUN_EXAMPLES_ENGINE",
        "KWCTL",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("CARGO_BUILD_BUILD_DIR", target_dir())
        .env("CARGO_TARGET_DIR", target);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// The rustup home this machine uses (RUSTUP_HOME, else ~/.rustup).
pub fn rustup_home() -> PathBuf {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".rustup")))
        .expect("RUSTUP_HOME or HOME")
}

/// The toolchain `rust-toolchain.toml` names, as rustup names its folder (`1.95.0-<host>`).
pub fn pinned_toolchain() -> String {
    let file = std::fs::read_to_string(repo_root().join("rust-toolchain.toml"))
        .expect("rust-toolchain.toml");
    let table: toml::Table = file.parse().expect("rust-toolchain.toml is TOML");
    let channel = table
        .get("toolchain")
        .and_then(|t| t.get("channel"))
        .and_then(|c| c.as_str())
        .expect("rust-toolchain.toml: toolchain.channel")
        .to_owned();
    let out = Command::new("rustc")
        .arg("-vV")
        .current_dir(repo_root())
        .output()
        .expect("rustc runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names its host");
    format!("{channel}-{host}")
}

/// A rustup home in `dir` holding the pinned toolchain with only its host's standard library:
/// the state of a new machine of this project's kind, where the toolchain is there without
/// the wasm targets. The big folders are hard links to this machine's toolchain (rustup adds
/// a target in folders of its own and rewrites only its small metadata files, which are
/// copies here, so nothing it does reaches the real toolchain).
pub fn rustup_home_without_wasm_targets(dir: &Path) -> PathBuf {
    let real_home = rustup_home();
    let name = pinned_toolchain();
    let real = real_home
        .join("toolchains")
        .join(&name)
        .canonicalize()
        .unwrap_or_else(|e| panic!("the toolchain {name} in {}: {e}", real_home.display()));
    std::fs::create_dir_all(dir.join("toolchains")).expect("scratch rustup home");
    std::fs::copy(real_home.join("settings.toml"), dir.join("settings.toml"))
        .expect("rustup settings.toml");
    let hash = real_home.join("update-hashes").join(&name);
    if hash.exists() {
        std::fs::create_dir_all(dir.join("update-hashes")).expect("update-hashes");
        std::fs::copy(&hash, dir.join("update-hashes").join(&name)).expect("update hash");
    }
    let to = dir.join("toolchains").join(&name);
    link_tree(&real, &to, &|rel: &Path| {
        // Leave out the wasm targets: their files and rustup's record of them.
        let s = rel.to_string_lossy();
        !(s.starts_with("lib/rustlib/wasm32-")
            || s.starts_with("lib/rustlib/manifest-rust-std-wasm32-"))
    });
    let components = to.join("lib/rustlib/components");
    let kept: String = std::fs::read_to_string(&components)
        .expect("lib/rustlib/components")
        .lines()
        .filter(|l| !l.starts_with("rust-std-wasm32-"))
        .map(|l| format!("{l}\n"))
        .collect();
    // Copies, never links: rustup rewrites them.
    std::fs::remove_file(&components).expect("components");
    std::fs::write(&components, kept).expect("components");
    // rustup's own list of what is installed, where `rustup target list` reads it.
    let config = to.join("lib/rustlib/multirust-config.toml");
    let mut table: toml::Table = std::fs::read_to_string(&config)
        .expect("lib/rustlib/multirust-config.toml")
        .parse()
        .expect("multirust-config.toml is TOML");
    if let Some(toml::Value::Array(list)) = table.get_mut("components") {
        list.retain(|c| {
            !c.get("target")
                .and_then(|t| t.as_str())
                .is_some_and(|t| t.starts_with("wasm32-"))
        });
    }
    std::fs::remove_file(&config).expect("multirust-config.toml");
    std::fs::write(&config, toml::to_string(&table).expect("TOML")).expect("multirust-config");
    dir.to_path_buf()
}

/// `from` into `to`: folders made, files under `lib/rustlib` itself copied (rustup's metadata),
/// every other file hard-linked; `keep` decides by the path relative to `from`.
fn link_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) {
    fn walk(root: &Path, dir: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a folder entry").path();
            let rel = path.strip_prefix(root).expect("under the root");
            if !keep(rel) {
                continue;
            }
            let dest = to.join(rel);
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                std::fs::create_dir_all(&dest).expect("a folder");
                walk(root, &path, to, keep);
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).expect("a link");
                std::os::unix::fs::symlink(target, &dest).expect("a link");
            } else if rel.parent() == Some(Path::new("lib/rustlib"))
                || std::fs::hard_link(&path, &dest).is_err()
            {
                // rustup's metadata is a copy (it rewrites it); a link that fails is too.
                std::fs::copy(&path, &dest).expect("a copy");
            }
        }
    }
    std::fs::create_dir_all(to).expect("the toolchain folder");
    walk(from, from, to, keep);
}

/// The targets rustup lists as installed for the toolchain of `rust-toolchain.toml`, with
/// `rustup_home` as its home, asked from `dir` (where the file is).
pub fn installed_targets(dir: &Path, rustup_home: &Path, path: &OsString) -> Vec<String> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(dir)
        .env("PATH", path)
        .env("RUSTUP_HOME", rustup_home)
        .env("RUSTUP_AUTO_INSTALL", "0")
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .expect("rustup runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
