//! The coverage-guided fuzz targets under AFL++: `cargo afl build --features afl`, then
//! `cargo afl fuzz -i <seeds> -o <findings> target/debug/afl-target <target>` (`make fuzz`
//! does both). A broken invariant panics, which AFL++ records as a crash.

fn main() {
    let target = std::env::args().nth(1).unwrap_or_default();
    if !resource_limits_fuzz::TARGETS.contains(&target.as_str()) {
        eprintln!(
            "usage: afl-target <{}>",
            resource_limits_fuzz::TARGETS.join("|")
        );
        std::process::exit(2);
    }
    afl::fuzz!(|data: &[u8]| {
        if let Err(e) = resource_limits_fuzz::run(&target, data) {
            panic!("{target}: {e}");
        }
    });
}
