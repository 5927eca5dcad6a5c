//! The README's first command on a new machine of this project's kind: the toolchain that
//! `rust-toolchain.toml` names is installed, but without its wasm targets, and rustup's
//! automatic install is off (`RUSTUP_AUTO_INSTALL=0`). Cargo then fails at once (`can't find
//! crate for core ... the wasm32-wasip1 target may not be installed`) unless our own files
//! install the targets: every Make target that builds starts with the one toolchain step
//! (scripts/toolchain.sh). The test makes that machine (a rustup home of its own, holding the
//! toolchain without the wasm targets) and runs `make run` in a fresh clone there.
//!
//! It needs what a new machine needs for that step: rustup's distribution server, from which
//! the three wasm standard libraries are downloaded into the scratch home.

use host_tests::newcomer::{
    fresh_clone, installed_targets, path_without, rustup_home_without_wasm_targets, shell,
};
use host_tests::scratch::Scratch;
use std::ffi::OsString;

const WASM_TARGETS: [&str; 3] = ["wasm32-unknown-unknown", "wasm32-wasip1", "wasm32-wasip2"];

#[test]
fn make_run_installs_the_missing_wasm_targets_with_automatic_install_off() {
    let scratch = Scratch::new("toolchain-without-targets");
    let clone = fresh_clone(&scratch, "resource-limits");
    let home = rustup_home_without_wasm_targets(&scratch.path("rustup"));
    let path = path_without("kwctl");

    // The machine as the issue found it: the toolchain is there, its wasm targets are not.
    let before = installed_targets(&clone, &home, &path);
    assert!(
        !before.is_empty(),
        "the scratch rustup home lists no target at all"
    );
    for t in WASM_TARGETS {
        assert!(
            !before.iter().any(|b| b == t),
            "{t} is installed in the scratch home: {before:?}"
        );
    }

    let home_var = OsString::from(&home);
    let off = OsString::from("0");
    let env = [("RUSTUP_HOME", &home_var), ("RUSTUP_AUTO_INSTALL", &off)];
    let run = shell("make run", &clone, &path, &scratch.path("target"), &env);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "`make run` on a machine without the wasm targets failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    assert!(
        stdout.contains("examples evaluated through wapc"),
        "`make run` printed no verdicts:\n{stdout}"
    );

    let after = installed_targets(&clone, &home, &path);
    for t in WASM_TARGETS {
        assert!(
            after.iter().any(|a| a == t),
            "{t} is still missing after `make run`: {after:?}"
        );
    }

    // A second run downloads nothing: the step only checks.
    let again = shell(
        "scripts/toolchain.sh",
        &clone,
        &path,
        &scratch.path("target"),
        &env,
    );
    assert!(
        again.status.success() && again.stderr.is_empty(),
        "the toolchain step, run again: {}",
        String::from_utf8_lossy(&again.stderr)
    );
}
