//! The native server's image: `scripts/image.sh push` (crane, no Docker engine) builds it and
//! pushes it to a throwaway registry on 127.0.0.1 (Debian's docker-registry); crane pulls it
//! back, and the pulled image is checked: one layer holding only the binary, the config the
//! Dockerfile also writes (entrypoint, user, port, labels), at most 10 MB, the binary static
//! (no program interpreter, no shared library) and running (`--version`, and `serve` answering
//! `/readyz` over TLS on loopback). The Dockerfile and the script are
//! held to the same image without building the Dockerfile (no Docker engine here).

use host_tests::repo_root;
use host_tests::scratch::{Registry, Scratch};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The image's size limit, compressed (what a node pulls) and uncompressed (what it unpacks).
const MAX_BYTES: u64 = 10_000_000;

/// Runs a command that must succeed; its stdout.
fn run(c: &mut Command) -> String {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{:?}: {e}", c.get_program()));
    assert!(
        out.status.success(),
        "{c:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn image_sh() -> Command {
    Command::new(repo_root().join("scripts/image.sh"))
}

/// What `scripts/image.sh push` sets (`scripts/image.sh config`).
fn script_config() -> Value {
    let text = run(image_sh().arg("config"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("image.sh config: {e}: {text}"))
}

/// The workspace's version.
fn version() -> String {
    let text = std::fs::read_to_string(repo_root().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml is TOML");
    manifest["workspace"]["package"]["version"]
        .as_str()
        .expect("[workspace.package] version")
        .to_owned()
}

/// One stage of the Dockerfile: its `FROM` line and its instructions (continuations joined).
struct Stage {
    from: String,
    instructions: Vec<(String, String)>,
}

impl Stage {
    fn all(&self, name: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, a)| a.as_str())
            .collect()
    }

    /// The one instruction `name` of the stage.
    fn one(&self, name: &str) -> &str {
        let found = self.all(name);
        assert_eq!(found.len(), 1, "one {name} in the stage FROM {}", self.from);
        found[0]
    }
}

fn dockerfile() -> Vec<Stage> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).expect("Dockerfile");
    let mut lines = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && pending.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(start) => {
                pending.push_str(start);
                pending.push(' ');
            }
            None => {
                pending.push_str(t);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in lines {
        let (name, args) = line.split_once(' ').unwrap_or((&line, ""));
        let (name, args) = (name.to_ascii_uppercase(), args.trim().to_owned());
        if name == "FROM" {
            stages.push(Stage {
                from: args,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push((name, args));
        } else {
            assert_eq!(name, "ARG", "Dockerfile: {name} before the first FROM");
        }
    }
    stages
}

/// `KEY="value" KEY2="value 2"` (LABEL's form), `${VERSION}` replaced.
fn labels(args: &str, vars: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').expect("LABEL KEY=value");
        let after = after.strip_prefix('"').expect("LABEL values are quoted");
        let end = after.find('"').expect("a closing quote");
        let mut value = after[..end].to_owned();
        for (k, v) in vars {
            value = value.replace(&format!("${{{k}}}"), v);
        }
        out.insert(key.trim().to_owned(), value);
        rest = after[end + 1..].trim();
    }
    out
}

#[test]
fn the_dockerfile_makes_the_image_the_script_makes() {
    let want = script_config();
    let stages = dockerfile();
    assert_eq!(stages.len(), 2, "a builder stage and the image");
    let (build, image) = (&stages[0], &stages[1]);

    // The builder: Rust at the channel of rust-toolchain.toml, the script's cargo build.
    let toolchain: toml::Table = std::fs::read_to_string(repo_root().join("rust-toolchain.toml"))
        .expect("rust-toolchain.toml")
        .parse()
        .expect("TOML");
    let channel = toolchain["toolchain"]["channel"].as_str().expect("channel");
    assert!(
        build.from.contains(&format!(" rust:{channel}-")) && build.from.ends_with(" AS build"),
        "builder FROM {}: not rust:{channel} AS build",
        build.from
    );
    let script = std::fs::read_to_string(repo_root().join("scripts/image.sh")).expect("image.sh");
    for part in [
        "--profile native",
        "--target x86_64-unknown-linux-musl",
        "-p resource-limits-cli",
        "--no-default-features",
    ] {
        assert!(
            build.all("RUN").iter().any(|r| r.contains(part)),
            "the Dockerfile's cargo build lacks {part}"
        );
        let flag = part.split(' ').next().unwrap_or_default();
        assert!(
            script.contains(flag),
            "scripts/image.sh's build lacks {flag}"
        );
    }

    // The image: scratch, the binary alone at the script's path, its user, port, entrypoint.
    assert_eq!(image.from, "--platform=linux/amd64 scratch");
    assert_eq!(want["platform"], "linux/amd64");
    let path = want["path"].as_str().expect("path");
    assert_eq!(
        image.all("COPY"),
        vec![format!("--from=build {path} {path}")],
        "the image holds the binary alone"
    );
    assert_eq!(image.one("USER"), want["user"]);
    let exposed: Vec<&str> = image.all("EXPOSE");
    assert_eq!(json!(exposed), want["exposedPorts"]);
    let entrypoint: Value =
        serde_json::from_str(image.one("ENTRYPOINT")).expect("ENTRYPOINT in its JSON form");
    assert_eq!(entrypoint, want["entrypoint"]);
    assert_eq!(want["entrypoint"], json!(["/resource-limits", "serve"]));

    // The labels: the same, the version ARG defaulting to the workspace's version.
    let arg = image.one("ARG");
    let default = arg.strip_prefix("VERSION=").expect("ARG VERSION=<default>");
    assert_eq!(default, version(), "the Dockerfile's VERSION default");
    let vars = BTreeMap::from([("VERSION".to_owned(), default.to_owned())]);
    let got: BTreeMap<String, String> = image
        .all("LABEL")
        .iter()
        .flat_map(|l| labels(l, &vars))
        .collect();
    let want_labels: BTreeMap<String, String> =
        serde_json::from_value(want["labels"].clone()).expect("labels");
    assert_eq!(got, want_labels);
    for key in ["source", "version", "licenses"] {
        assert!(
            want_labels.contains_key(&format!("org.opencontainers.image.{key}")),
            "no {key} label"
        );
    }
}

/// A file of the pulled OCI layout, by digest.
fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    std::fs::read(layout.join("blobs/sha256").join(hex))
        .unwrap_or_else(|e| panic!("blob {digest}: {e}"))
}

/// The entries of an uncompressed tar: (name, mode, type flag, content).
fn tar_entries(tar: &[u8]) -> Vec<(String, u32, u8, Vec<u8>)> {
    let octal = |field: &[u8]| -> u64 {
        let text = String::from_utf8_lossy(field);
        let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
        u64::from_str_radix(text, 8).unwrap_or_else(|e| panic!("tar field {text:?}: {e}"))
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at..at + 512].iter().any(|&b| b != 0) {
        let h = &tar[at..at + 512];
        let cstr = |f: &[u8]| {
            String::from_utf8_lossy(&f[..f.iter().position(|&b| b == 0).unwrap_or(f.len())])
                .into_owned()
        };
        let (name, prefix) = (cstr(&h[..100]), cstr(&h[345..500]));
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let mode = u32::try_from(octal(&h[100..108])).expect("a mode");
        let size = usize::try_from(octal(&h[124..136])).expect("a size");
        let start = at + 512;
        out.push((name, mode, h[156], tar[start..start + size].to_vec()));
        at = start + size.div_ceil(512) * 512;
    }
    out
}

/// What of an ELF file says it is linked statically: (x86-64, a PT_INTERP, DT_NEEDED count).
fn elf_linking(elf: &[u8]) -> (bool, bool, usize) {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF");
    assert_eq!(elf[5], 1, "not little-endian");
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| {
        usize::try_from(u64::from_le_bytes(
            elf[o..o + 8].try_into().expect("8 bytes"),
        ))
        .expect("an offset")
    };
    let x86_64 = u16_at(0x12) == 62;
    let (phoff, phentsize, phnum) = (u64_at(0x20), usize::from(u16_at(0x36)), u16_at(0x38));
    let (mut interp, mut needed) = (false, 0);
    for i in 0..usize::from(phnum) {
        let ph = phoff + i * phentsize;
        match u32_at(ph) {
            3 => interp = true, // PT_INTERP
            2 => {
                // PT_DYNAMIC (a static-pie has one, for its own relocations): its DT_NEEDED.
                let (offset, size) = (u64_at(ph + 8), u64_at(ph + 32));
                needed += (offset..offset + size)
                    .step_by(16)
                    .filter(|&d| u64_at(d) == 1)
                    .count();
            }
            _ => {}
        }
    }
    (x86_64, interp, needed)
}

/// crane at the version scripts/tools.sh pins.
fn crane() -> PathBuf {
    PathBuf::from(run(Command::new(repo_root().join("scripts/tools.sh")).arg("crane")).trim())
}

/// `scripts/image.sh push REPOSITORY`: the pushed image by digest.
fn push(repository: &str) -> String {
    let out = run(image_sh().args(["push", repository]));
    let reference = out.lines().last().unwrap_or_default().to_owned();
    assert!(
        reference.starts_with(&format!("{repository}/resource-limits-server@sha256:")),
        "image.sh push printed {out:?}"
    );
    reference
}

#[test]
fn the_pushed_image_holds_the_static_binary_alone() {
    let s = Scratch::new("image");
    let registry = Registry::start(&s);
    let want = script_config();
    let v = version();

    // Pushed twice from the same binary: the same digest (fixed times and owners).
    let repository = format!("{}/test", registry.addr);
    let reference = push(&repository);
    let again = push(&format!("{}/again", registry.addr));
    assert_eq!(
        reference.split('@').nth(1),
        again.split('@').nth(1),
        "two pushes of the same binary differ"
    );

    // Pulled back with crane, by the tag users pull, as an OCI layout.
    let crane = crane();
    let tag = format!("{repository}/resource-limits-server:v{v}");
    let layout = s.path("pulled");
    run(Command::new(&crane)
        .args(["pull", "--format", "oci", &tag])
        .arg(&layout));
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
            .expect("index.json is JSON");
    let manifests = index["manifests"].as_array().expect("index manifests");
    assert_eq!(manifests.len(), 1, "{index}");
    let manifest_digest = manifests[0]["digest"].as_str().expect("manifest digest");
    assert_eq!(reference.split('@').nth(1), Some(manifest_digest));
    let manifest: Value = serde_json::from_slice(&blob(&layout, manifest_digest)).expect("JSON");
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "one layer: {manifest}");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );

    // The config: the platform, and what the script (and so the Dockerfile) sets.
    let config: Value = serde_json::from_slice(&blob(
        &layout,
        manifest["config"]["digest"]
            .as_str()
            .expect("config digest"),
    ))
    .expect("config JSON");
    assert_eq!(
        (&config["os"], &config["architecture"]),
        (&json!("linux"), &json!("amd64"))
    );
    let c = &config["config"];
    assert_eq!(c["Entrypoint"], want["entrypoint"], "{config}");
    assert_eq!(c["Cmd"], Value::Null, "{config}");
    assert_eq!(c["User"], want["user"], "{config}");
    let ports: Vec<&String> = c["ExposedPorts"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(json!(ports), want["exposedPorts"], "{config}");
    assert_eq!(c["Labels"], want["labels"], "{config}");
    assert_eq!(c["Labels"]["org.opencontainers.image.version"], json!(v));
    assert_eq!(
        c["Env"],
        Value::Null,
        "nothing else in the config: {config}"
    );

    // The layer: the binary alone, executable, and nothing else.
    let gz = blob(&layout, layers[0]["digest"].as_str().expect("layer digest"));
    let gz_path = s.path("layer.tar.gz");
    std::fs::write(&gz_path, &gz).expect("write the layer");
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(&gz_path)
        .output()
        .expect("gzip runs");
    assert!(out.status.success(), "the layer is not gzip");
    let tar = out.stdout;
    let entries = tar_entries(&tar);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    let path = want["path"].as_str().expect("path");
    assert_eq!(
        names,
        vec![path.trim_start_matches('/')],
        "the layer's files"
    );
    let (_, mode, kind, binary) = &entries[0];
    assert_eq!(*kind, b'0', "a regular file");
    assert_eq!(mode & 0o7777, 0o755, "mode {mode:o}");

    // At most 10 MB, pulled and unpacked.
    let pulled: u64 = layers
        .iter()
        .chain([&manifest["config"]])
        .map(|d| d["size"].as_u64().expect("a size"))
        .sum();
    let unpacked = u64::try_from(tar.len()).expect("a size");
    eprintln!(
        "image: {pulled} bytes compressed (layer and config), {unpacked} bytes uncompressed, binary {} bytes",
        binary.len()
    );
    assert!(pulled <= MAX_BYTES, "{pulled} bytes compressed");
    assert!(unpacked <= MAX_BYTES, "{unpacked} bytes uncompressed");

    // Static: no program interpreter, no shared library; and it runs on its own.
    let (x86_64, interp, needed) = elf_linking(binary);
    assert!(x86_64, "not an x86-64 binary");
    assert!(!interp, "the binary has a program interpreter (PT_INTERP)");
    assert_eq!(needed, 0, "the binary needs shared libraries (DT_NEEDED)");
    let exe = s.path("resource-limits");
    std::fs::write(&exe, binary).expect("write the binary");
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let version = run(Command::new(&exe).arg("--version").env_clear());
    assert_eq!(version.trim(), format!("resource-limits {v}"));
    // The entrypoint's subcommand: the server, which answers over TLS from the extracted
    // binary (a throwaway certificate, the example settings, loopback only).
    let serve = run(Command::new(&exe).args(["serve", "--help"]).env_clear());
    for flag in ["--settings", "--tls-cert-file", "--tls-private-key-file"] {
        assert!(
            serve.contains(flag),
            "serve --help names no {flag}:\n{serve}"
        );
    }
    let (cert, key) = (s.path("tls.crt"), s.path("tls.key"));
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    let addr = format!("127.0.0.1:{}", host_tests::scratch::free_port());
    let settings = repo_root().join("examples/settings/bounded.json");
    let server = Command::new(&exe)
        .arg("serve")
        .arg("--settings")
        .arg(&settings)
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-private-key-file")
        .arg(&key)
        .args(["--listen", &addr])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the extracted binary starts");
    let server = Server(server);
    let url = format!("https://{addr}/readyz");
    let started = std::time::Instant::now();
    let ready = loop {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "2", "--cacert"])
            .arg(&cert)
            .arg(&url)
            .output()
            .expect("curl runs");
        if out.status.success() || started.elapsed() > std::time::Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    drop(server);
    let body = String::from_utf8_lossy(&ready.stdout);
    assert!(
        ready.status.success(),
        "GET /readyz: {}",
        String::from_utf8_lossy(&ready.stderr)
    );
    let body: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/readyz: {e}: {body}"));
    assert_eq!(body["status"], "ready", "{body}");
}

/// The server started from the pulled image's binary, killed on drop.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
