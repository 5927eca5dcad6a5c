# resource-limits: one Rust core, a Kubewarden policy (policy.wasm) and the tests that run it
# through the engines users run. `make run` and `make test` are the README's two commands;
# `make help` lists every target meant for users (those with a `##` comment).

SHELL := /bin/bash
CARGO ?= cargo
KWCTL ?= kwctl
REGISTRY ?= 127.0.0.1:5000/policies
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
WASM_TARGET := wasm32-wasip1
# Cargo's target folder (CARGO_TARGET_DIR when set, as cargo itself does).
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
BUILT_WASM := $(TARGET_DIR)/$(WASM_TARGET)/release/resource_limits_kubewarden.wasm
# kwctl built for this machine lives in ../shared/bin in this project's sandbox (when it exists).
ifneq ($(wildcard $(CURDIR)/../shared/bin),)
export PATH := $(CURDIR)/../shared/bin:$(PATH)
endif
# `make run` evaluates the examples through kwctl when it is on PATH, else through wapc +
# wasmtime-provider (the engine policy-server embeds), so it needs no kwctl.
HAVE_KWCTL := $(shell PATH='$(PATH)' command -v $(KWCTL))
RUN_POLICY := $(if $(HAVE_KWCTL),annotated-policy.wasm,policy.wasm)
export RUST_LOG ?= kwctl=error,policy_evaluator=error,sigstore=error
# The browser host (hosts/web, web/).
WEB_DIST := web/dist
WEB_WASM := $(TARGET_DIR)/wasm32-unknown-unknown/release/resource_limits_web.wasm
WEB_WASM_OPT := $(WEB_WASM:.wasm=.opt.wasm)
WEB_PAGE := $(TARGET_DIR)/web-page
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
	--enable-mutable-globals --enable-multivalue --enable-reference-types
CHROMEDRIVER ?= /usr/bin/chromedriver
CHROMIUM ?= /usr/bin/chromium
PLAYGROUND_PORT ?= 8000

.PHONY: help toolchain cluster-up cluster-down cluster-tools cluster-tests setup run test spin-component spin-up spin-push spin-tests unit-tests host-tests e2e-tests web-tests web playground lint fmt clean push verify sbom bench fuzz soak artifacthub
.DEFAULT_GOAL := help

## help: list the targets meant for users, with what each does
help:
	@scripts/make-help.sh $(firstword $(MAKEFILE_LIST))

# The one toolchain step (scripts/toolchain.sh): the toolchain of rust-toolchain.toml with its
# wasm targets, installed where missing, in well under a second where present. Every target
# that runs cargo has it as a prerequisite (order-only for files, so it never forces a rebuild):
# a new machine has rustup's automatic install off and the toolchain without its targets.
toolchain:
	@scripts/toolchain.sh

# Built as a cdylib alone: the crate is also an rlib (the native bench and tests link it), and
# cargo silently drops the release profile's LTO when it builds both at once (rust-lang/cargo
# issue 9672), which made the module 56 KB larger and validate about 25% slower.
## policy.wasm: build the Kubewarden policy (wasm32-wasip1, waPC)
policy.wasm: Cargo.toml Cargo.lock $(shell find src hosts/kubewarden -name '*.rs' -o -name Cargo.toml) | toolchain
	$(CARGO) rustc --release --target $(WASM_TARGET) -p resource-limits-kubewarden --crate-type cdylib
	cp $(BUILT_WASM) policy.wasm

# The usage page kwctl inspect and Artifact Hub show is docs/policy.md, a policy-only page.
## annotated-policy.wasm: policy.wasm with its metadata and usage page (kwctl annotate)
annotated-policy.wasm: policy.wasm policy-metadata.yaml docs/policy.md
	$(KWCTL) annotate -m policy-metadata.yaml -u docs/policy.md -o annotated-policy.wasm policy.wasm

# Artifact Hub's package file, made by kwctl from the metadata and the Rancher UI form, so the
# form it embeds can never lag questions-ui.yml (a test compares the committed file with what
# this rule makes, less createdAt). The version is the metadata's io.kubewarden.policy.version.
## artifacthub: write artifacthub-pkg.yml from policy-metadata.yaml and questions-ui.yml
artifacthub: artifacthub-pkg.yml
artifacthub-pkg.yml: policy-metadata.yaml questions-ui.yml
	$(KWCTL) scaffold artifacthub --metadata-path policy-metadata.yaml \
		--questions-path questions-ui.yml --output artifacthub-pkg.yml

# The main job: build the policy and evaluate every example, printing verdicts: through kwctl
# (the annotated policy) when it is on PATH, else through wapc + wasmtime-provider
# (tests/hosts/src/bin/run-examples.rs). The first line names the engine.
## run: build the policy and evaluate every example under examples/, printing each verdict
run: $(RUN_POLICY) | toolchain
	@KWCTL=$(KWCTL) RUN_EXAMPLES_ENGINE=$(if $(HAVE_KWCTL),kwctl,wapc) scripts/run-examples.sh $(RUN_POLICY)

# Installs what `make test` needs (cargo tools, Debian packages); idempotent. .ci/run runs it too.
## setup: install what the tests need (scripts/setup.sh); a second run only checks
setup:
	scripts/setup.sh

# All tests, after the setup: lint, the core over the case table, policy.wasm in wapc + wasmtime-provider,
# kwctl end to end, the Spin component, the browser host, then a short coverage-guided
# fuzzing run of each fuzz target (TEST_FUZZ_SECONDS each).
TEST_FUZZ_SECONDS ?= 30
## test: the setup, then every test (lint, core, policy.wasm, kwctl, Spin, native server, CLI, browser, cluster, fuzz)
# The operators' test (tests/hosts/tests/operators.rs) is left out: its two Go builds take about
# 11 minutes cold, more than CI's budget holds; `make operators-tests` runs it.
test: setup lint policy.wasm annotated-policy.wasm spin-component
	$(CARGO) nextest run --workspace --exclude resource-limits-web --no-fail-fast -E 'not binary(operators)'
	$(MAKE) web-tests
	scripts/fuzz.sh $(TEST_FUZZ_SECONDS)

# Coverage-guided fuzzing with AFL++ (needs `cargo install cargo-afl`): FUZZ_SECONDS per
# target, all targets or FUZZ_TARGETS; findings under target/fuzz/afl/. Without AFL++:
# `cargo run --release -p resource-limits-fuzz --bin fuzz-random -- run workload --runs 1000000`.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
## fuzz: coverage-guided fuzzing with AFL++, FUZZ_SECONDS per target
fuzz: | toolchain
	scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The Spin component under SOAK_REQUESTS mixed reviews, each status checked, RSS sampled.
SOAK_REQUESTS ?= 1000000
## soak: the Spin component under SOAK_REQUESTS mixed reviews, RSS sampled
soak: | toolchain
	scripts/soak-spin.sh $(SOAK_REQUESTS)

# The browser host's tests (wasm32-unknown-unknown in headless Chromium): the case table
# through the exported functions (wasm-bindgen-test), the YAML reader's unit tests, then the
# playground page driven through WebDriver (screenshot under target/web-test-output/).
web-tests: web | toolchain
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=$(CHROMEDRIVER) \
		WASM_BINDGEN_TEST_TIMEOUT=300 \
		$(CARGO) test -p resource-limits-web --target wasm32-unknown-unknown --test browser
	CHROMEDRIVER=$(CHROMEDRIVER) CHROMIUM=$(CHROMIUM) $(CARGO) test -p resource-limits-web --lib --test page -- --nocapture

# The browser host: the playground page, its module (wasm-opt'ed) and the wasm-bindgen
# bindings, in web/dist/. `make playground` serves it on 127.0.0.1. wasm-opt runs before
# wasm-bindgen: run after it, Debian's binaryen 108 points the export of the externref table
# that wasm-bindgen adds at the wrong table, and the page fails to load. Built as a cdylib alone,
# as policy.wasm: cargo drops LTO for a crate built as a cdylib and an rlib at once. Not stripped: wasm-bindgen
# reads the target_features section to know which Wasm features it may use.
#
# The page is one file: the stylesheet, the module's bindings (wasm-bindgen's no-modules
# flavour, a classic script, for the same .wasm), samples.js and app.js are inlined into
# index.html in place of their <link>/<script src> lines, and the module is the only other
# request (the page's head starts compiling it before the rest is parsed).
# Built at opt-level z (the release profile says s, which policy.wasm keeps for validate's
# speed): 127 KB gzipped instead of 143 KB, its first call sooner, later calls up to 1.5x
# slower and still under a millisecond (BENCHMARKS.md).
## web: build the browser module and the playground page into web/dist/
web: | toolchain
	CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_OPT_LEVEL=z $(CARGO) rustc --release --target wasm32-unknown-unknown -p resource-limits-web --crate-type cdylib
	rm -rf $(WEB_DIST) $(WEB_PAGE) && mkdir -p $(WEB_DIST)/pkg $(WEB_PAGE)
	wasm-opt -Oz $(WASM_OPT_FEATURES) --strip-debug --strip-producers -o $(WEB_WASM_OPT) $(WEB_WASM)
	wasm-bindgen --target web --no-typescript --out-name resource_limits_web \
		--out-dir $(WEB_DIST)/pkg $(WEB_WASM_OPT)
	wasm-bindgen --target no-modules --no-typescript --out-name resource_limits_web \
		--out-dir $(WEB_PAGE) $(WEB_WASM_OPT)
	cmp $(WEB_PAGE)/resource_limits_web_bg.wasm $(WEB_DIST)/pkg/resource_limits_web_bg.wasm
	scripts/web-page.sh web/index.html $(WEB_PAGE) $(WEB_DIST)/index.html
	@printf 'web module: %s bytes, %s gzipped\n' \
		"$$(wc -c < $(WEB_DIST)/pkg/resource_limits_web_bg.wasm)" \
		"$$(gzip -9 -c $(WEB_DIST)/pkg/resource_limits_web_bg.wasm | wc -c)"

## playground: serve the playground on 127.0.0.1 (PLAYGROUND_PORT, default 8000)
playground: web
	@echo "playground: http://127.0.0.1:$(PLAYGROUND_PORT)/ (Ctrl-C to stop)"
	python3 -m http.server --bind 127.0.0.1 --directory $(WEB_DIST) $(PLAYGROUND_PORT)

# The Spin component (what spin.toml's build command builds, and `spin build` runs).
SPIN_WASM := $(TARGET_DIR)/wasm32-wasip2/release/resource_limits_spin.wasm
SPIN_PORT ?= 3000
SPIN_SETTINGS ?= {}

## spin-component: build the Spin HTTP component (wasm32-wasip2)
spin-component: | toolchain
	$(CARGO) build --release --target wasm32-wasip2 -p resource-limits-spin

# Serves the component on 127.0.0.1 with the settings in $(SPIN_SETTINGS) (JSON).
## spin-up: serve the Spin component on 127.0.0.1 (SPIN_PORT) with the settings in SPIN_SETTINGS
spin-up: spin-component
	spin up --listen 127.0.0.1:$(SPIN_PORT) --variable settings='$(SPIN_SETTINGS)'

# Pushes the Spin application (an OCI artifact) to $(REGISTRY).
## spin-push: push the Spin application to REGISTRY
spin-push: spin-component
	spin registry push $(REGISTRY)/resource-limits-spin:v$(VERSION)

# The native webhook server's image (`resource-limits serve`): the static musl binary alone on
# an empty base, built and pushed to $(REGISTRY)/resource-limits-server:v$(VERSION) with crane,
# no Docker engine (scripts/image.sh; the Dockerfile makes the same image with Docker).
.PHONY: image
## image: build the native server's image (FROM scratch, static binary) and push it to REGISTRY
image: | toolchain
	scripts/image.sh push $(REGISTRY)

spin-tests: spin-component
	$(CARGO) nextest run -p host-tests --test spin --test spin_cli

# A Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-manager; no
# scheduler, no kubelet) with the policy behind it, as the cluster tests use it
# (scripts/cluster/): HOST=kubewarden (policy-server), HOST=spin or HOST=native (`resource-limits
# serve`), SETTINGS=a settings file.
# It prints the two shell lines that use it and runs until `make cluster-down`.
HOST ?= kubewarden
SETTINGS ?= examples/settings/bounded.json
## cluster-up: a Kubernetes control plane on loopback with the policy behind it (HOST, SETTINGS)
cluster-up: annotated-policy.wasm spin-component
	@HOST=$(HOST) SETTINGS=$(SETTINGS) scripts/cluster/up.sh

## cluster-down: stop what cluster-up started
cluster-down:
	scripts/cluster/down.sh

# Builds (or finds built) the pinned control plane and fetches the CRDs; setup does this too.
cluster-tools:
	scripts/cluster/build.sh
	scripts/cluster/crds.sh

cluster-tests: annotated-policy.wasm spin-component
	$(CARGO) nextest run -p host-tests --test cluster --test faults --test large

# The fault tests' long form (tests/hosts/tests/faults.rs, which reads FAULTS_ROUNDS and
# FAULTS_AFTER_READY): CHAOS_ROUNDS rounds of each repeated fault (a SIGKILL and a SIGTERM of
# each host, a kill of one of two replicas) with CHAOS_AFTER_READY seconds of load after each
# restart, then the file's other faults once; `make test` and `make cluster-tests` run one
# round with 7 s. About 13 minutes with the defaults (BENCHMARKS.md).
CHAOS_ROUNDS ?= 3
CHAOS_AFTER_READY ?= 10
.PHONY: chaos
## chaos: the fault tests' long form: CHAOS_ROUNDS rounds of each fault under load, CHAOS_AFTER_READY s after each
chaos: annotated-policy.wasm spin-component
	FAULTS_ROUNDS=$(CHAOS_ROUNDS) FAULTS_AFTER_READY=$(CHAOS_AFTER_READY) \
		$(CARGO) nextest run -p host-tests --test faults --no-capture

# spin-operator and kubewarden-controller reconciling our examples on the test control plane
# (scripts/cluster/operators.sh builds them: about 11 minutes the first time).
.PHONY: operators-tests
## operators-tests: spin-operator and kubewarden-controller reconcile our examples (their builds take minutes the first time)
operators-tests: annotated-policy.wasm spin-component
	$(CARGO) nextest run -p host-tests --test operators

unit-tests: | toolchain
	$(CARGO) nextest run -p resource-limits

host-tests: policy.wasm
	$(CARGO) nextest run -p host-tests --test wapc

e2e-tests: policy.wasm annotated-policy.wasm
	$(CARGO) nextest run -p host-tests --test kwctl

## bench: policy.wasm against native and the yardsticks (wapc + wasmtime-provider)
bench: policy.wasm
	$(CARGO) run --profile bench-host -p host-tests --bin bench

# The CLI against the Kyverno CLI and gator (built from pinned releases) over the same
# 10,000 generated manifests: wall time and verdict agreement (scripts/peers/compare.sh).
.PHONY: bench-peers
## bench-peers: the CLI against the Kyverno CLI and gator over 10,000 manifests
bench-peers: | toolchain
	scripts/peers/compare.sh

# The latency the webhook adds to a Deployment create through a real API server: no webhook,
# a ValidatingAdmissionPolicy, policy-server, Spin and the native server in alternating rounds
# of one run (scripts/bench-cluster.sh).
# `resource-limits audit` over 10,000 Deployments against `kubectl get -A -o json` (scripts/bench-audit.sh).
.PHONY: bench-audit
## bench-audit: the audit over 10,000 Deployments in 50 namespaces, against kubectl get
bench-audit: | toolchain
	scripts/bench-audit.sh

# Kubewarden's audit-scanner (built from kubewarden-controller's module source) and `audit
# --report openreports` on one control plane with policy-server serving our policy: the reports
# compared object by object; every difference must be a known one (scripts/compare-audit-scanner.sh).
.PHONY: compare-audit-scanner
## compare-audit-scanner: our audit's reports against Kubewarden's audit-scanner's, object by object
compare-audit-scanner: annotated-policy.wasm | toolchain
	scripts/compare-audit-scanner.sh

.PHONY: bench-cluster
## bench-cluster: latency a webhook adds to a create through a real API server
bench-cluster: annotated-policy.wasm spin-component
	scripts/bench-cluster.sh

# policy-server (../shared/bin) serving our policy and the parse-only baseline in one process,
# wrk against each alternately, accepted and mutated Deployment (scripts/bench-policy-server.sh).
.PHONY: bench-policy-server
## bench-policy-server: policy-server serving our policy against a parse-only baseline
bench-policy-server: annotated-policy.wasm
	scripts/bench-policy-server.sh

# The native server (resource-limits serve) against the Go yardstick (scripts/cluster/cmd/
# gowebhook), policy-server and Spin in one run, over TLS, wrk (HTTP/1.1) and h2load (HTTP/2),
# servers and clients pinned to their own CPU; then a soak of the native server
# (scripts/bench-native.sh; make bench-native BENCH_ARGS="SECONDS SOAK_REQUESTS").
.PHONY: bench-native
## bench-native: the native server against a Go webhook, policy-server and Spin, and its soak
bench-native: annotated-policy.wasm
	scripts/bench-native.sh $(BENCH_ARGS)

# Clippy natively, then each host for the target it ships on (code under cfg(target_arch =
# "wasm32"), such as the browser tests, is only seen there).
SHELL_SCRIPTS := $(wildcard scripts/*.sh scripts/*/*.sh) .ci/run
## lint: rustfmt, clippy (natively and per wasm target), shellcheck, gofmt, actionlint
lint: | toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p resource-limits-kubewarden --target wasm32-wasip1 -- -D warnings
	$(CARGO) clippy -p resource-limits-spin --target wasm32-wasip2 -- -D warnings
	$(CARGO) clippy -p resource-limits-web --target wasm32-unknown-unknown --all-targets -- -D warnings
	shellcheck -x -P SCRIPTDIR -S warning $(SHELL_SCRIPTS)
	@unformatted=$$(gofmt -l scripts); if [[ -n $$unformatted ]]; then echo "gofmt -l: $$unformatted" >&2; exit 1; fi
	actionlint=$$(scripts/tools.sh actionlint) && $$actionlint .github/workflows/*.yml

## fmt: format the Rust code
fmt: | toolchain
	$(CARGO) fmt --all

# Pushes annotated-policy.wasm to $(REGISTRY), signs the pushed digest with cosign and the key
# pair in COSIGN_KEY/COSIGN_PASSWORD, attaches its CycloneDX SBOM as a signed attestation and
# checks the result with kwctl verify (scripts/signing.sh; cosign and cargo-cyclonedx at the
# versions pinned in scripts/tools.sh). A registry on loopback is spoken to over plain HTTP.
# `make verify COSIGN_PUB=cosign.pub` checks what is at $(PUSH_REF); `make sbom` writes the SBOM.
PUSH_REF ?= $(REGISTRY)/resource-limits:v$(VERSION)
PUSH_INSECURE ?= $(if $(filter 127.0.0.1:% localhost:%,$(firstword $(subst /, ,$(PUSH_REF)))),--insecure)
COSIGN_PUB ?= cosign.pub
SBOM_OUT ?= $(TARGET_DIR)/sbom/policy-sbom.cdx.json
export SBOM_OUT
## push: push annotated-policy.wasm to PUSH_REF, sign it and attach its SBOM (COSIGN_KEY)
push: annotated-policy.wasm
	scripts/signing.sh push $(PUSH_INSECURE) annotated-policy.wasm $(PUSH_REF)

## verify: check the signature and SBOM of what is at PUSH_REF (COSIGN_PUB)
verify:
	scripts/signing.sh verify $(PUSH_INSECURE) $(PUSH_REF) $(COSIGN_PUB)

## sbom: write the policy's CycloneDX SBOM to SBOM_OUT
sbom: | toolchain
	scripts/signing.sh sbom $(SBOM_OUT)

## clean: remove build outputs
clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
