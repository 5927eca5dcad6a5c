//! The fuzz targets on seeded random inputs, without AFL++ (stable Rust, any machine), and
//! the seed corpora and replays for the coverage-guided runs.
//!
//! ```text
//! fuzz-random run <target> [--runs N] [--seconds S] [--seed N]   random inputs
//! fuzz-random seeds <dir>                                         write seed corpora
//! fuzz-random replay <target> <file>...                           run saved inputs
//! fuzz-random bodies <settings.json> <dir> <n>                    webhook bodies for a soak
//! ```
//! A broken invariant prints the input's seed or file and exits 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("seeds") => match args.get(1) {
            Some(dir) => seeds(Path::new(dir)),
            None => Err("usage: fuzz-random seeds <dir>".into()),
        },
        Some("replay") => replay(&args[1..]),
        Some("bodies") => match (args.get(1), args.get(2), args.get(3).and_then(|n| n.parse().ok())) {
            (Some(settings), Some(dir), Some(n)) => bodies(Path::new(settings), Path::new(dir), n),
            _ => Err("usage: fuzz-random bodies <settings.json> <dir> <n>".into()),
        },
        _ => Err(format!(
            "usage: fuzz-random run <{}> [--runs N] [--seconds S] [--seed N] | seeds <dir> | replay <target> <file>... | bodies <settings.json> <dir> <n>",
            resource_limits_fuzz::TARGETS.join("|")
        )),
    };
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn number(args: &[String], flag: &str, default: u64) -> Result<u64, String> {
    match args.iter().position(|a| a == flag) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} takes a number")),
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let target = args.first().ok_or("run: which target?")?.as_str();
    if !resource_limits_fuzz::TARGETS.contains(&target) {
        return Err(format!("no target {target:?}"));
    }
    let runs = number(args, "--runs", 100_000)?;
    let seconds = number(args, "--seconds", 0)?;
    let seed = number(args, "--seed", 0)?;
    let started = Instant::now();
    let deadline = (seconds > 0).then(|| started + Duration::from_secs(seconds));
    let mut done = 0u64;
    while done < runs || deadline.is_some() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        // One seed per input: `--seed <that> --runs 1` replays it.
        let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(done));
        let input = resource_limits_fuzz::random_input(target, &mut rng);
        let outcome = std::panic::catch_unwind(|| resource_limits_fuzz::run(target, &input));
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some("panicked".to_owned()),
        };
        if let Some(e) = failure {
            let file = save_crash(target, &input);
            return Err(format!(
                "{target}: input of seed {} breaks an invariant: {e}\n  saved as {}",
                seed.wrapping_add(done),
                file.display()
            ));
        }
        done += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(format!(
        "{target}: {done} inputs in {secs:.1} s ({:.0}/s), no invariant broken",
        done as f64 / secs.max(1e-9)
    ))
}

/// Keeps a failing input under target/fuzz/crashes/.
fn save_crash(target: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/fuzz/crashes")
        .join(target);
    let _ = std::fs::create_dir_all(&dir);
    let name = format!("crash-{:016x}", fxhash(input));
    let file = dir.join(name);
    let _ = std::fs::write(&file, input);
    file
}

fn fxhash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100000001b3)
    })
}

fn replay(args: &[String]) -> Result<String, String> {
    let target = args.first().ok_or("replay: which target?")?.as_str();
    let mut n = 0;
    for file in &args[1..] {
        let input = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        let outcome = std::panic::catch_unwind(|| resource_limits_fuzz::run(target, &input));
        match outcome {
            Ok(Ok(())) => n += 1,
            Ok(Err(e)) => return Err(format!("{file}: {e}")),
            Err(_) => return Err(format!("{file}: panicked")),
        }
    }
    Ok(format!(
        "{target}: {n} inputs replayed, no invariant broken"
    ))
}

/// Seed corpora for AFL++, one folder per target, from the shared case table.
fn seeds(dir: &Path) -> Result<String, String> {
    let cases = testkit::load();
    let mut written = 0;
    let mut write = |target: &str, name: String, bytes: &[u8]| -> Result<(), String> {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        std::fs::write(d.join(name), bytes).map_err(|e| e.to_string())?;
        written += 1;
        Ok(())
    };
    let mut quantities = std::collections::BTreeSet::new();
    for (i, c) in cases.iter().enumerate() {
        // AFL++ wants small seeds: the hostile giants are left to the table tests.
        if c.request.len() < 8 * 1024 {
            write("request", format!("case-{i:03}"), c.request.as_bytes())?;
        }
        write(
            "settings",
            format!("case-{i:03}"),
            c.settings.to_string().as_bytes(),
        )?;
        collect_strings(&c.settings, &mut quantities);
        if let Some(o) = &c.object {
            collect_strings(o, &mut quantities);
            let yaml = testkit::block_yaml(o);
            if yaml.len() < 8 * 1024 {
                write("yaml", format!("case-{i:03}"), yaml.as_bytes())?;
            }
        }
    }
    for (i, q) in quantities.iter().filter(|q| q.len() < 32).enumerate() {
        write("quantity", format!("q-{i:03}"), q.as_bytes())?;
    }
    let mut rng = fastrand::Rng::with_seed(7);
    for i in 0..16 {
        write(
            "workload",
            format!("random-{i:02}"),
            &resource_limits_fuzz::random_input("workload", &mut rng),
        )?;
    }
    Ok(format!("{written} seeds written under {}", dir.display()))
}

fn collect_strings(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) => {
            out.insert(s.clone());
        }
        serde_json::Value::Number(n) => {
            out.insert(n.to_string());
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// AdmissionReview bodies for a load test of a webhook (scripts/soak-spin.sh): `n` generated
/// requests plus a few unreadable bodies, as `<dir>/<i>.json`, and `<dir>/expected.txt` with
/// the HTTP status each must get under `settings` (200, or 400 for a body that is no
/// AdmissionReview), one per line.
fn bodies(settings: &Path, dir: &Path, n: usize) -> Result<String, String> {
    let raw = std::fs::read(settings).map_err(|e| format!("{}: {e}", settings.display()))?;
    let s = resource_limits::Settings::from_json(&raw).map_err(|e| format!("settings: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut all: Vec<Vec<u8>> = resource_limits_fuzz::gen::samples(0x50a6, n)
        .into_iter()
        .map(|sample| {
            testkit::review_body(&serde_json::to_vec(&sample.request).unwrap_or_default())
        })
        .collect();
    // Unreadable bodies, every 50th: the contract's 400s.
    let bad: [&[u8]; 4] = [
        b"this is not json",
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
        b"{\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\xff\"}}",
        br#"{"kind":"AdmissionReview","request":{"uid":7}}"#,
    ];
    for i in (0..all.len()).step_by(50) {
        all[i] = bad[(i / 50) % bad.len()].to_vec();
    }
    let (mut expected, mut mix) = (String::new(), [0usize; 4]);
    for (i, body) in all.iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.json")), body).map_err(|e| e.to_string())?;
        let status = match resource_limits::review::admission_review(
            &s,
            body,
            resource_limits::Webhook::Mutating,
        ) {
            Ok(answer) => {
                let r = &answer.response;
                let k = if !r.allowed {
                    1
                } else if r.patch.is_some() {
                    2
                } else {
                    0
                };
                mix[k] += 1;
                200
            }
            Err(_) => {
                mix[3] += 1;
                400
            }
        };
        expected.push_str(&format!("{status}\n"));
    }
    std::fs::write(dir.join("expected.txt"), expected).map_err(|e| e.to_string())?;
    Ok(format!(
        "{} bodies: {} accepted, {} rejected, {} mutated, {} unreadable (400)",
        all.len(),
        mix[0],
        mix[1],
        mix[2],
        mix[3]
    ))
}
