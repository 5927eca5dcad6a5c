# resource-limits: one Rust core, a Kubewarden policy (policy.wasm) and the tests that run it
# through the engines users run. `make run` and `make test` are the README's two commands.

SHELL := /bin/bash
CARGO ?= cargo
KWCTL ?= kwctl
REGISTRY ?= 127.0.0.1:5000/policies
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
WASM_TARGET := wasm32-wasip1
BUILT_WASM := target/$(WASM_TARGET)/release/resource_limits_kubewarden.wasm
# kwctl built for this machine lives in ../shared/bin in this project's sandbox.
export PATH := $(CURDIR)/../shared/bin:$(PATH)
export RUST_LOG ?= kwctl=error,policy_evaluator=error,sigstore=error

.PHONY: run test unit-tests host-tests e2e-tests lint fmt clean push bench

policy.wasm: Cargo.toml Cargo.lock $(shell find src hosts/kubewarden -name '*.rs' -o -name Cargo.toml)
	$(CARGO) build --release --target $(WASM_TARGET) -p resource-limits-kubewarden
	cp $(BUILT_WASM) policy.wasm

annotated-policy.wasm: policy.wasm policy-metadata.yaml README.md
	$(KWCTL) annotate -m policy-metadata.yaml -u README.md -o annotated-policy.wasm policy.wasm

artifacthub-pkg.yml: policy-metadata.yaml
	$(KWCTL) scaffold artifacthub --metadata-path policy-metadata.yaml --version $(VERSION) \
		--questions-path questions-ui.yml --output artifacthub-pkg.yml

# The main job: build the policy and evaluate every example through kwctl, printing verdicts.
run: annotated-policy.wasm
	@scripts/run-examples.sh annotated-policy.wasm

# All tests: lint, the core over the case table, policy.wasm in wapc + wasmtime-provider,
# kwctl end to end.
test: lint policy.wasm annotated-policy.wasm
	$(CARGO) nextest run --workspace --no-fail-fast

unit-tests:
	$(CARGO) nextest run -p resource-limits

host-tests: policy.wasm
	$(CARGO) nextest run -p host-tests --test wapc

e2e-tests: policy.wasm annotated-policy.wasm
	$(CARGO) nextest run -p host-tests --test kwctl

bench: policy.wasm
	$(CARGO) run --release -p host-tests --bin bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

push: annotated-policy.wasm
	$(KWCTL) push annotated-policy.wasm registry://$(REGISTRY)/resource-limits:v$(VERSION)

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
