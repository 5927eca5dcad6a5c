// The playground: two editors, the verdict of the resource-limits rule as you type.
// The rule itself is the project's Rust core, compiled to wasm (pkg/, made by `make web`).
//
// A classic script, inlined at the end of the page by `make web` after the module's
// wasm-bindgen bindings (`wasm_bindgen`, the no-modules flavour) and samples.js. The module is
// already being fetched and compiled: the page's head started `playgroundWasm` (a promise of
// the compiled WebAssembly.Module) before anything else.
(() => {
const { validate, exportCel } = wasm_bindgen;

const $ = (id) => document.getElementById(id);
const settingsBox = $("settings");
const manifestBox = $("manifest");
const gutter = $("gutter");
const answersBox = $("answers");

// Exposed for the browser test (and the curious): timings in ms since navigation start.
// startMs is when the page's first script ran; firstVerdictPaintMs is when the browser painted
// the first verdict's badge (Element Timing).
const playground = { startMs: window.playgroundStartMs ?? null, moduleReadyMs: null, firstVerdictMs: null, firstVerdictPaintMs: null, verdicts: 0, lastVerdictMs: null };
window.playground = playground;
if (PerformanceObserver.supportedEntryTypes?.includes("element")) {
  const painted = new PerformanceObserver((list) => {
    const e = list.getEntries().find((x) => x.identifier === "verdict");
    if (e) {
      playground.firstVerdictPaintMs = e.renderTime || e.loadTime;
      painted.disconnect();
    }
  });
  painted.observe({ type: "element", buffered: true });
}

function fillSelect(select, list, box) {
  list.forEach((s, i) => select.add(new Option(s.name, String(i))));
  select.addEventListener("change", () => {
    box.value = list[Number(select.value)].text;
    schedule();
  });
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-") || k === "elementtiming") e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

// Line diff (longest common subsequence) of the object before and after the mutation.
// The mutation only adds, so the result is the original with the added lines marked.
function lineDiff(before, after) {
  // Lines match whatever their trailing comma: an added key makes the line before it end in one.
  const bare = (l) => l.replace(/,$/, "");
  const a = before.split("\n").map(bare);
  const shown = after.split("\n");
  const b = shown.map(bare);
  const n = a.length;
  const m = b.length;
  if (n * m > 4_000_000) return shown.map((l) => ({ op: " ", line: l }));
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { out.push({ op: " ", line: shown[j] }); i++; j++; }
    else if (j < m && (i >= n || lcs[i * w + j + 1] >= lcs[(i + 1) * w + j])) { out.push({ op: "+", line: shown[j] }); j++; }
    else { out.push({ op: "-", line: a[i] }); i++; }
  }
  return out;
}

function renderDiff(before, after) {
  const rows = lineDiff(before, after);
  const pre = el("pre", { class: "diff" });
  const context = 3;
  const near = rows.map(() => false);
  rows.forEach((r, k) => {
    if (r.op !== " ") for (let d = -context; d <= context; d++) if (rows[k + d]) near[k + d] = true;
  });
  let skipped = 0;
  const flush = () => {
    if (skipped) pre.append(el("span", { class: "skip" }, `  … ${skipped} unchanged line${skipped > 1 ? "s" : ""}`));
    skipped = 0;
  };
  rows.forEach((r, k) => {
    if (!near[k]) { skipped++; return; }
    flush();
    pre.append(el("span", { class: r.op === "+" ? "add" : r.op === "-" ? "del" : "" }, `${r.op} ${r.line}`));
  });
  flush();
  return pre;
}

function gotoLine(box, line) {
  const lines = box.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((s, l) => s + l.length + 1, 0);
  const end = start + (lines[line - 1] || "").length;
  box.focus();
  box.setSelectionRange(start, end);
  const lineHeight = parseFloat(getComputedStyle(box).lineHeight) || 18;
  box.scrollTop = Math.max(0, (line - 4) * lineHeight);
  syncGutter();
}

function renderGutter(badLines) {
  const count = manifestBox.value.split("\n").length;
  gutter.replaceChildren();
  for (let i = 1; i <= count; i++) {
    gutter.append(el("span", badLines.has(i) ? { class: "bad" } : {}, String(i)), "\n");
  }
  // In the next frame: reading the editor's scrollTop now would force a layout before the
  // verdict is on the page.
  requestAnimationFrame(syncGutter);
}

function syncGutter() {
  gutter.scrollTop = manifestBox.scrollTop;
}

// A list of violations or warnings, each with a link to its line.
function findingList(kind, findings, text) {
  const list = el("ol", { class: kind });
  for (const v of findings) {
    const where = v.container == null ? v.path : `${v.path} ${JSON.stringify(v.container)}`;
    const item = el("li", { "data-resource": v.resource });
    if (v.line) {
      const link = el("a", { href: `#line-${v.line}`, class: "goto", "data-line": String(v.line), title: "show in the manifest" }, `line ${v.line}`);
      link.addEventListener("click", (ev) => { ev.preventDefault(); gotoLine(manifestBox, v.line); });
      item.append(link, " ");
    }
    item.append(el("span", { class: "path" }, where), `: ${text(v)}`);
    list.append(item);
  }
  return list;
}

function renderAnswer(a, many) {
  const mutated = a.allowed && a.patch && a.patch.length > 0;
  const badge = a.allowed ? (mutated ? ["mutated", "Allowed, with a mutation"] : ["allowed", "Allowed"]) : ["rejected", "Rejected"];
  const what = [a.kind, a.name && `"${a.name}"`].filter(Boolean).join(" ");
  const head = el("div", { class: "head" },
    el("span", { class: `badge ${badge[0]}`, "data-verdict": badge[0], elementtiming: "verdict" }, badge[1]),
    el("span", {}, [what, a.input && `(${a.input})`, many && `document ${a.document + 1}, line ${a.line}`].filter(Boolean).join(" ")));
  const box = el("div", { class: "answer", "data-allowed": String(a.allowed) }, head);
  if (!a.allowed && a.code) box.append(el("p", { class: "muted" }, `code ${a.code}`));
  if (a.message && a.violations.length === 0) box.append(el("p", { class: "message" }, a.message));
  if (a.violations.length) {
    box.append(findingList("violations", a.violations, (v) => v.problem));
    if (a.message) {
      box.append(el("details", {}, el("summary", {}, "the rejection message"), el("p", { class: "message" }, a.message)));
    }
  }
  const warnings = a.warnings || [];
  if (warnings.length) {
    box.append(el("p", { class: "muted" }, warnings.length === 1 ? "1 warning (kubectl prints it; it does not reject):" : `${warnings.length} warnings (kubectl prints them; they do not reject):`));
    box.append(findingList("warnings", warnings, (w) => w.notice));
  }
  if (mutated) {
    box.append(el("p", {}, "The defaults to add, as a diff of the object:"));
    box.append(renderDiff(a.originalText, a.patchedText));
    box.append(el("details", {}, el("summary", {}, "JSONPatch (RFC 6902)"), el("pre", { class: "diff patch" }, JSON.stringify(a.patch, null, 2))));
    box.append(el("details", {}, el("summary", {}, "the patched object"), el("pre", { class: "diff" }, a.patchedText)));
  }
  return box;
}

function run() {
  const started = performance.now();
  // One call: validate() reads the settings first and says why they are not valid
  // (settingsError, the message validateSettings() gives), so they are not parsed twice.
  const v = validate(settingsBox.value, manifestBox.value);
  const status = $("settings-status");
  status.className = `status ${v.settingsError == null ? "valid" : "invalid"}`;
  const problems = v.settingsProblems || [];
  if (v.settingsError == null) status.replaceChildren("Valid settings.");
  else if (problems.length === 0) status.replaceChildren(`Invalid settings: ${v.settingsError}`);
  else {
    // Each problem at its key's line, as `settings check` prints them, with a link there.
    status.replaceChildren("Invalid settings:", el("ul", { class: "problems" }, ...problems.map((p) => {
      const link = el("a", { href: `#settings-line-${p.line}`, class: "goto", "data-line": String(p.line), title: "show in the settings" }, `line ${p.line}`);
      link.addEventListener("click", (ev) => { ev.preventDefault(); gotoLine(settingsBox, p.line); });
      return el("li", {}, link, ` ${p.message}`);
    })));
  }
  renderCel();
  const many = v.answers.length > 1;
  answersBox.replaceChildren(...v.answers.map((a) => renderAnswer(a, many)));
  answersBox.dataset.allowed = String(v.allowed);
  const bad = new Set(v.answers.flatMap((a) => a.violations.map((x) => x.line).filter(Boolean)));
  renderGutter(bad);

  playground.verdicts++;
  playground.lastVerdictMs = performance.now();
  playground.lastRunMs = playground.lastVerdictMs - started;
  if (playground.firstVerdictMs === null) {
    playground.firstVerdictMs = playground.lastVerdictMs;
    playground.firstRunMs = playground.lastRunMs;
    $("timing").textContent = `First verdict ${playground.firstVerdictMs.toFixed(1)} ms after the page started loading (module ready at ${playground.moduleReadyMs.toFixed(1)} ms, verdict and rendering ${playground.firstRunMs.toFixed(1)} ms).`;
    document.body.dataset.ready = "true";
  }
}

// The same settings as the API server's own policies, as `export cel` prints them: made only
// while their section is open (the first verdict does not wait for them).
function renderCel() {
  const section = document.querySelector("#cel details");
  if (!section.open) return;
  const cel = exportCel(settingsBox.value, "resource-limits");
  const box = $("cel-yaml");
  box.textContent = cel.yaml ?? `Not exported: ${cel.error}`;
  box.dataset.exported = String(cel.yaml != null);
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; run(); });
}

// The first verdict before anything else: the sample texts go in, the module (already
// compiling) is instantiated, the verdict is rendered; the sample lists are filled after it.
settingsBox.value = sampleSettings[0].text;
manifestBox.value = sampleManifests[0].text;
settingsBox.addEventListener("input", schedule);
manifestBox.addEventListener("input", schedule);
manifestBox.addEventListener("scroll", syncGutter);
document.querySelector("#cel details").addEventListener("toggle", () => {
  if (playground.moduleReadyMs !== null) renderCel();
});

playgroundWasm
  .then((module) => {
    wasm_bindgen.initSync({ module });
    playground.moduleReadyMs = performance.now();
    run();
  })
  .catch((e) => {
    answersBox.replaceChildren(el("p", { class: "status invalid" }, `The module did not load: ${e}`));
    playground.error = String(e);
  })
  .finally(() => {
    if (playground.firstVerdictMs === null) renderGutter(new Set());
    fillSelect($("settings-sample"), sampleSettings, settingsBox);
    fillSelect($("manifest-sample"), sampleManifests, manifestBox);
  });
})();
