#!/usr/bin/env python3
"""The CLI against the peers users would pick instead (BENCHMARKS.md, "Against the peers").

Generates a seeded mix of manifests (one workload a file: Pods, Deployments, StatefulSets,
DaemonSets, Jobs and CronJobs; containers complete, without requests, without limits,
without a cpu limit, with `resources: {}` or none, over the caps, with quantities written as
numbers; some with a second or third container, an init container or a sidecar), then runs
over the same folder, each timed by its wall time:

- the Kyverno CLI with Kyverno's library policy require-pod-requests-limits (kyverno/),
  and `resource-limits check` with the same rule (settings-kyverno.json: cpu and memory
  requests, a memory limit);
- gator with Gatekeeper's library templates k8scontainerlimits and k8scontainerrequests, their
  Constraints and the documented ExpansionTemplates (gatekeeper/), and `resource-limits
  check` with the same rule (settings-gatekeeper.json: cpu and memory requests and limits,
  with the same caps).

It then compares the verdicts workload by workload and lists every difference with its
reason (target/peers/differences.txt; a summary by reason on standard output). Standard
library only. Run through scripts/peers/compare.sh (make bench-peers), which builds the
binaries first.
"""

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------
# Generation

# (text as written, value in milli-units) for the quantities the generator picks.
CPU = {"50m": 50, "100m": 100, "250m": 250, "500m": 500, "1": 1000, "1500m": 1500,
       "2": 2000, "3": 3000, "4": 4000}
MIB = 1 << 20
MEM = {"64Mi": 64 * MIB, "128Mi": 128 * MIB, "256Mi": 256 * MIB, "512Mi": 512 * MIB,
       "1Gi": 1024 * MIB, "2Gi": 2048 * MIB, "3Gi": 3072 * MIB, "4Gi": 4096 * MIB,
       "6Gi": 6144 * MIB, "8Gi": 8192 * MIB}

# Container profiles and their weights in the mix.
PROFILES = [
    ("complete", 52),      # cpu and memory requests and limits, within the caps
    ("numbers", 5),        # complete, quantities written as YAML numbers (cpu: 0.5, memory: 1073741824)
    ("limits-only", 10),   # limits, no requests
    ("requests-only", 6),  # requests, no limits
    ("no-cpu-limit", 8),   # requests and a memory limit (Kyverno's library rule)
    ("empty", 4),          # resources: {}
    ("none", 5),           # no resources key
    ("over-cap", 10),      # a limit or a request above the caps
]
INIT_PROFILES = [("complete", 50), ("none", 30), ("limits-only", 10), ("over-cap", 10)]
KINDS = [("Pod", 30), ("Deployment", 30), ("StatefulSet", 10), ("DaemonSet", 10),
         ("Job", 10), ("CronJob", 10)]


def pick(rng, weighted):
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def at_least(rng, table, floor, choices):
    return rng.choice([c for c in choices if table[c] >= floor])


def resources(rng, profile):
    """The `resources` of a container of this profile (None: no key)."""
    if profile == "none":
        return None
    if profile == "empty":
        return {}
    rcpu = rng.choice(["50m", "100m", "250m", "500m", "1"])
    rmem = rng.choice(["64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"])
    lcpu = at_least(rng, CPU, CPU[rcpu], ["250m", "500m", "1", "2"])
    lmem = at_least(rng, MEM, MEM[rmem], ["256Mi", "512Mi", "1Gi", "2Gi", "4Gi"])
    if profile == "complete":
        return {"requests": {"cpu": rcpu, "memory": rmem}, "limits": {"cpu": lcpu, "memory": lmem}}
    if profile == "numbers":
        return {"requests": {"cpu": 0.5, "memory": 268435456},
                "limits": {"cpu": 1, "memory": 1073741824}}
    if profile == "limits-only":
        return {"limits": {"cpu": rng.choice(["100m", "500m", "1", "2"]),
                           "memory": rng.choice(["128Mi", "1Gi", "2Gi", "4Gi"])}}
    if profile == "requests-only":
        return {"requests": {"cpu": rcpu, "memory": rmem}}
    if profile == "no-cpu-limit":
        return {"requests": {"cpu": rcpu, "memory": rmem}, "limits": {"memory": lmem}}
    if profile == "over-cap":
        return rng.choice([
            {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "4", "memory": "1Gi"}},
            {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "8Gi"}},
            {"requests": {"cpu": "1500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
            {"requests": {"cpu": "250m", "memory": "3Gi"}, "limits": {"cpu": "1", "memory": "4Gi"}},
        ])
    raise ValueError(profile)


def container(rng, name, profile, image):
    c = {"name": name, "image": image}
    r = resources(rng, profile)
    if r is not None:
        c["resources"] = r
    return c


def workload(rng, i):
    """One workload and the profiles of its containers (for the reasons of differences)."""
    kind = pick(rng, KINDS)
    name = f"w-{i:05d}"
    n = rng.choices([1, 2, 3], weights=[70, 20, 10])[0]
    profiles = [pick(rng, PROFILES) for _ in range(n)]
    containers = [container(rng, ["app", "proxy", "exporter"][k], p,
                            ["ghcr.io/example/app:1.0", "docker.io/library/nginx:1.27",
                             "quay.io/prometheus/node-exporter:v1.8.2"][k])
                  for k, p in enumerate(profiles)]
    tags = [f"containers[{k}]:{p}" for k, p in enumerate(profiles)]
    spec = {"containers": containers}
    if rng.random() < 0.25:
        p = pick(rng, INIT_PROFILES)
        init = container(rng, "init", p, "docker.io/library/busybox:1.36")
        if rng.random() < 0.3:
            init["restartPolicy"] = "Always"
            tags.append(f"sidecar:{p}")
        else:
            tags.append(f"initContainers[0]:{p}")
        spec["initContainers"] = [init]
    labels = {"app.kubernetes.io/name": name}
    meta = {"name": name, "namespace": "default", "labels": labels}
    template = {"metadata": {"labels": labels}, "spec": spec}
    if kind == "Pod":
        obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    elif kind in ("Deployment", "StatefulSet", "DaemonSet"):
        body = {"selector": {"matchLabels": labels}, "template": template}
        if kind != "DaemonSet":
            body = {"replicas": 2, **body}
        if kind == "StatefulSet":
            body["serviceName"] = name
        obj = {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": body}
    elif kind == "Job":
        spec["restartPolicy"] = "Never"
        obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
               "spec": {"template": template}}
    else:
        spec["restartPolicy"] = "OnFailure"
        obj = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
               "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}}
    return obj, tags


def yaml_text(v, indent=0):
    """Block YAML for dicts, lists, strings (JSON-quoted) and numbers."""
    pad = "  " * indent
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append(f"{pad}{k}:\n{yaml_text(x, indent + 1)}")
            else:
                out.append(f"{pad}{k}: {scalar(x)}\n")
    else:
        for x in v:
            if isinstance(x, dict) and x:
                inner = yaml_text(x, indent + 1)
                out.append(f"{pad}- {inner[len(pad) + 2:]}")
            else:
                out.append(f"{pad}- {scalar(x)}\n")
    return "".join(out)


def scalar(x):
    if isinstance(x, dict):
        return "{}"
    if isinstance(x, list):
        return "[]"
    if isinstance(x, (int, float)):
        return str(x)
    return json.dumps(x)


def generate(folder, count, seed):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    index = {}
    for i in range(count):
        obj, tags = workload(rng, i)
        (folder / f"{i:05d}-{obj['kind'].lower()}.yaml").write_text(yaml_text(obj))
        index[obj["metadata"]["name"]] = {"kind": obj["kind"], "tags": tags}
    return index


# ---------------------------------------------------------------------------------------
# Running and reading

def timed(cmd, out_path, runs):
    """Runs cmd `runs` times; returns (wall seconds of each run, CPU seconds (user + system)
    of each run, exit code of the last). The last run's standard output is kept in out_path."""
    times, cpu = [], []
    code = None
    for _ in range(runs):
        with open(out_path, "wb") as out, open(str(out_path) + ".stderr", "wb") as err:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            code = subprocess.run(cmd, stdout=out, stderr=err).returncode
            times.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpu, code


def ours_verdicts(path):
    doc = json.loads(Path(path).read_text())
    verdicts, messages = {}, {}
    for r in doc["results"]:
        if r["status"] == "skipped":
            continue
        verdicts[r["name"]] = r["status"] == "failed"
        if r["status"] == "failed":
            messages[r["name"]] = r.get("message", "")
    return verdicts, messages


def kyverno_verdicts(path):
    """Policy reports as JSON (one a line, between "---" and lines of text): a report, a list
    of them, or a List with items."""
    text = Path(path).read_text()
    docs = []
    dec = json.JSONDecoder()
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        if text[pos] not in "{[":  # "---" between reports, or a line of text
            nl = text.find("\n", pos)
            pos = len(text) if nl < 0 else nl + 1
            continue
        doc, pos = dec.raw_decode(text, pos)
        docs.append(doc)
    reports = []
    for d in docs:
        items = d if isinstance(d, list) else d.get("items", [d]) if isinstance(d, dict) else []
        reports.extend(items)
    verdicts, messages, results = {}, {}, Counter()
    for rep in reports:
        for res in rep.get("results") or []:
            results[res.get("result")] += 1
            for ref in res.get("resources") or []:
                name = ref.get("name")
                failed = res.get("result") in ("fail", "error")
                verdicts[name] = verdicts.get(name, False) or failed
                if failed:
                    messages[name] = res.get("message", "")
    return verdicts, messages, results


def gator_verdicts(path):
    text = Path(path).read_text().strip()
    results = json.loads(text) if text else []
    failed, messages = set(), {}
    for r in results or []:
        obj = r.get("violatingObject") or {}
        name = (obj.get("metadata") or {}).get("name")
        failed.add(name)
        messages.setdefault(name, []).append(r.get("msg", ""))
    return failed, {k: "; ".join(sorted(v)) for k, v in messages.items()}


# ---------------------------------------------------------------------------------------
# Reasons of differences

def reason(pair, kind, tags, ours_failed, peer_failed):
    """Why the two verdicts differ, from the profiles the generator gave the containers."""
    profiles = {t.split(":", 1)[1] for t in tags}
    if "limits-only" in profiles and not ours_failed and peer_failed:
        if kind == "Pod":
            return ("a container with limits and no requests, in a Pod: the API server's defaulting "
                    "sets each missing request to its limit before any admission webhook sees the "
                    f"Pod, so {pair} in a cluster accepts this Pod as the policy does; offline, its "
                    "CLI reads the manifest as written and demands the requests")
        return ("a container with limits and no requests, in a workload's Pod template: its Pods "
                "get the requests from the limits (API server defaulting), which is what the policy "
                f"judges; {pair}'s rule judges the template as written (templates are not "
                "defaulted), in a cluster too, so it rejects a workload whose Pods it accepts")
    return "unexplained: " + ", ".join(tags)


# ---------------------------------------------------------------------------------------

def version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        return (p.stdout + p.stderr).strip().splitlines()[0:3]
    except OSError as e:
        return [str(e)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ours", required=True, help="the resource-limits binary")
    ap.add_argument("--bin", required=True, help="the folder of kubectl-kyverno and gator")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each tool (median shown)")
    ap.add_argument("--out", default="target/peers", help="folder for manifests and outputs")
    a = ap.parse_args()

    out = Path(a.out).resolve()
    manifests = out / "manifests"
    runs_dir = out / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    kyverno = str(Path(a.bin) / "kubectl-kyverno")
    gator = str(Path(a.bin) / "gator")

    t0 = time.perf_counter()
    index = generate(manifests, a.count, a.seed)
    print(f"generated {a.count} manifests (seed {a.seed}) in {manifests} in "
          f"{time.perf_counter() - t0:.1f} s")
    kinds = Counter(v["kind"] for v in index.values())
    print("kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"cores: {os.cpu_count()}; runs of each tool: {a.runs} (median wall time)")

    tools = {
        "resource-limits (Kyverno's rule)": (
            [a.ours, "check", "-s", str(HERE / "settings-kyverno.json"), "-o", "json", str(manifests)],
            "ours-kyverno.json"),
        "kubectl-kyverno apply": (
            [kyverno, "apply", str(HERE / "kyverno" / "require-requests-limits.yaml"),
             "--resource", str(manifests), "--policy-report", "--output-format", "json"],
            "kyverno.json"),
        "resource-limits (Gatekeeper's rule)": (
            [a.ours, "check", "-s", str(HERE / "settings-gatekeeper.json"), "-o", "json", str(manifests)],
            "ours-gatekeeper.json"),
        "gator test": (
            [gator, "test", "-f", str(HERE / "gatekeeper"), "-f", str(manifests), "-o", "json"],
            "gator.json"),
    }
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    times, cpus = {}, {}
    for label, (cmd, file) in tools.items():
        t, c, code = timed(cmd, runs_dir / file, a.runs)
        times[label], cpus[label] = t, c
        print(f"{label}: wall {' '.join(f'{x:.3f}' for x in t)} s, CPU {' '.join(f'{x:.2f}' for x in c)} s"
              f" (exit {code}): {' '.join(cmd)}", flush=True)

    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    ours_k, ours_k_msg = ours_verdicts(runs_dir / "ours-kyverno.json")
    ours_g, ours_g_msg = ours_verdicts(runs_dir / "ours-gatekeeper.json")
    kyv, kyv_msg, kyv_results = kyverno_verdicts(runs_dir / "kyverno.json")
    gat_failed, gat_msg = gator_verdicts(runs_dir / "gator.json")
    print(f"Kyverno rule results: {dict(kyv_results)}")

    diffs = []
    summary = {}
    for pair, ours, ours_msg, peer_failed, peer_msg in [
        ("Kyverno", ours_k, ours_k_msg, lambda n: kyv.get(n), kyv_msg),
        ("Gatekeeper", ours_g, ours_g_msg, lambda n: n in gat_failed, gat_msg),
    ]:
        agree = Counter()
        reasons = Counter()
        unevaluated = 0
        for name, meta in sorted(index.items()):
            o = ours.get(name)
            p = peer_failed(name)
            if p is None:
                unevaluated += 1
                p = False
            if o is None:
                o = False
            if o == p:
                agree["both reject" if o else "both accept"] += 1
                continue
            r = reason(pair, meta["kind"], meta["tags"], o, p)
            reasons[r] += 1
            diffs.append(f"{pair}\t{meta['kind']}/{name}\tours: {'reject' if o else 'accept'}"
                         f"\t{pair}: {'reject' if p else 'accept'}\t{', '.join(meta['tags'])}\t{r}"
                         f"\tours: {ours_msg.get(name, '')}\t{pair}: {peer_msg.get(name, '')}")
        summary[pair] = (agree, reasons, unevaluated)

    (out / "differences.txt").write_text(
        "pair\tworkload\tours\tpeer\tcontainers\treason\tour message\tpeer message\n"
        + "\n".join(diffs) + "\n")

    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    print()
    print(f"| tool | wall time, {a.count} manifests (median of {a.runs}) | CPU time (median) "
          "| wall time vs resource-limits |")
    print("|---|---|---|---|")
    for ours_label, peer_label in [("resource-limits (Kyverno's rule)", "kubectl-kyverno apply"),
                                   ("resource-limits (Gatekeeper's rule)", "gator test")]:
        print(f"| {ours_label} | {med[ours_label]:.3f} s | {cpu[ours_label]:.2f} s | 1x |")
        print(f"| {peer_label} | {med[peer_label]:.3f} s | {cpu[peer_label]:.2f} s | "
              f"{med[peer_label] / med[ours_label]:.0f}x slower |")
    print()
    for pair, (agree, reasons, unevaluated) in summary.items():
        total = a.count
        same = sum(agree.values())
        print(f"{pair}: same verdict on {same} of {total} ({100 * same / total:.1f}%): "
              f"{agree['both reject']} rejected by both, {agree['both accept']} accepted by both; "
              f"{total - same} differ" + (f"; {unevaluated} got no result from {pair}" if unevaluated else ""))
        for r, n in reasons.most_common():
            print(f"  {n}: {r}")
    print(f"\nevery difference, with both messages: {out / 'differences.txt'}")
    print("versions: " + "; ".join(" ".join(version(c)) for c in
                                   ([a.ours, "--version"], [kyverno, "version"], [gator, "--version"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
