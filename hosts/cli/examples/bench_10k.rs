//! The CLI benchmark: generates 10,000 manifests (rendered-chart-like Deployments,
//! StatefulSets with an init container and a sidecar, CronJobs, and Services the policy
//! skips) in a temporary folder and times `resource-limits check` over the folder.
//!
//! ```console
//! cargo build --release -p resource-limits-cli --bins --examples
//! target/release/examples/bench_10k          # or $CARGO_TARGET_DIR/release/examples/bench_10k
//! ```
//!
//! The binary is the `resource-limits` next to this example's folder (same build); `--bin
//! PATH` picks another, `--files N` another count, `--dir DIR` keeps the manifests in DIR.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SETTINGS: &str = r#"{
  "cpu": {"minRequest": "50m", "maxRequest": "2", "maxLimit": "4", "defaultRequest": "250m",
          "defaultLimit": "1", "maxLimitRequestRatio": 4},
  "memory": {"minRequest": "32Mi", "maxRequest": "4Gi", "minLimit": "64Mi", "maxLimit": "2Gi",
             "defaultRequest": "128Mi", "defaultLimit": "512Mi"}
}"#;

fn manifest(i: usize) -> String {
    let cpu = ["100m", "250m", "500m", "1", "2", "8"][i % 6];
    let mem = ["64Mi", "256Mi", "1Gi", "3Gi"][i % 4];
    match i % 4 {
        0 => format!(
            r#"---
# Source: app-{i}/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: app-{i}
spec:
  ports:
    - port: 80
      targetPort: http
---
# Source: app-{i}/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  labels:
    app.kubernetes.io/name: app-{i}
    helm.sh/chart: app-1.0.0
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{i}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{i}
    spec:
      containers:
        - name: app
          image: "ghcr.io/example/app:{i}"
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: INDEX
              value: "{i}"
          resources:
            limits:
              cpu: {cpu}
              memory: {mem}
            requests:
              cpu: 100m
              memory: 64Mi
        - name: proxy
          image: "docker.io/library/nginx:1.27"
          resources: {{}}
"#
        ),
        1 => format!(
            r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db-{i}
spec:
  serviceName: db-{i}
  selector:
    matchLabels: {{app: db-{i}}}
  template:
    metadata:
      labels: {{app: db-{i}}}
    spec:
      initContainers:
        - name: init-perms
          image: docker.io/library/busybox:1.36
          command: ["sh", "-c", "chown 1001 /data"]
        - name: log-shipper
          image: docker.io/fluent/fluent-bit:3.1
          restartPolicy: Always
          resources:
            limits: {{cpu: 200m, memory: 128Mi}}
      containers:
        - name: db
          image: docker.io/library/postgres:16
          resources:
            limits:
              cpu: "{cpu}"
              memory: "{mem}"
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 8Gi
"#
        ),
        2 => format!(
            r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: job-{i}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: task
            image: ghcr.io/example/task:{i}
            args: ["--once"]
            resources:
              limits:
                cpu: {cpu}
                memory: {mem}
"#
        ),
        _ => format!(
            r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "pod-{i}"}},
 "spec": {{"containers": [{{"name": "main", "image": "nginx",
   "resources": {{"limits": {{"cpu": "{cpu}", "memory": "{mem}"}}}}}}]}}}}
"#
        ),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let files: usize = arg("--files")
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let bin = arg("--bin").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        exe.parent()
            .and_then(|examples| examples.parent())
            .map(|dir| dir.join("resource-limits"))
            .unwrap_or_default()
    });
    if !bin.is_file() {
        eprintln!(
            "{} not found: build it first (cargo build --release -p resource-limits-cli --bins --examples)",
            bin.display()
        );
        std::process::exit(2);
    }
    // --dir DIR: generate there and keep it (to profile or to time by hand).
    let keep = arg("--dir").map(PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("resource-limits-bench-{}", std::process::id()))
    });
    let _ = std::fs::remove_dir_all(&dir);
    let mut bytes = 0;
    for i in 0..files {
        let sub = dir.join("manifests").join(format!("chart-{:03}", i / 100));
        let ext = if i % 4 == 3 { "json" } else { "yaml" };
        let text = manifest(i);
        bytes += text.len();
        if std::fs::create_dir_all(&sub)
            .and_then(|_| std::fs::write(sub.join(format!("m{i:05}.{ext}")), text))
            .is_err()
        {
            eprintln!("cannot write under {}", dir.display());
            std::process::exit(2);
        }
    }
    let settings = dir.join("settings.json");
    let _ = std::fs::write(&settings, SETTINGS);
    let mut times: Vec<Duration> = Vec::new();
    let mut summary = String::new();
    for _ in 0..7 {
        let start = Instant::now();
        let out = Command::new(&bin)
            .arg("check")
            .arg("--settings")
            .arg(&settings)
            .arg(dir.join("manifests"))
            .stderr(Stdio::inherit())
            .output();
        times.push(start.elapsed());
        match out {
            Ok(o) if o.status.code() == Some(1) => {
                summary = String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .to_owned();
            }
            Ok(o) => {
                eprintln!("unexpected exit {:?}", o.status.code());
                std::process::exit(2);
            }
            Err(e) => {
                eprintln!("cannot run {}: {e}", bin.display());
                std::process::exit(2);
            }
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{files} manifest files ({:.1} MB) under {}",
        bytes as f64 / 1e6,
        dir.display()
    );
    println!("{summary}");
    println!(
        "resource-limits check, 7 runs: best {:.0} ms, median {:.0} ms, worst {:.0} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
