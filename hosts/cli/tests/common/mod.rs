//! What the CLI's test files share: the binary, a run of it with its output, scratch folders.
//! Each test file uses what it needs of this (`mod common;`), hence the allow.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_resource-limits");

/// `hosts/cli/tests/fixtures`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A run's exit code and output.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary in `dir` with `stdin` as its standard input (`input` written to it when it
/// is piped); no run may panic.
pub fn run_with(dir: &Path, args: &[&str], stdin: Stdio, input: &[u8]) -> Out {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    if let Some(mut w) = child.stdin.take() {
        let _ = w.write_all(input);
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{BIN}: {e}"));
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !o.stderr.contains("panicked"),
        "{args:?} panicked: {}",
        o.stderr
    );
    o
}

/// Runs the binary in `dir`, `input` piped to its standard input.
pub fn run_in(dir: &Path, args: &[&str], input: &[u8]) -> Out {
    run_with(dir, args, Stdio::piped(), input)
}

/// A fresh scratch folder `resource-limits-cli-NAME-PID` in the temporary folder.
pub fn tmp(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("resource-limits-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}
