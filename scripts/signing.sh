#!/usr/bin/env bash
# Signed pushes with a bill of materials, the way Kubewarden releases its own policies: kwctl
# push, then cosign sign of the immutable reference kwctl prints, and an SBOM that travels
# signed with the policy (Kubewarden signs keyless in its CI; this signs with a key pair).
#
#   scripts/signing.sh sbom OUT.json
#       CycloneDX SBOM of policy.wasm: the kubewarden host crate and what it links for
#       wasm32-wasip1, from Cargo.lock (cargo-cyclonedx).
#   scripts/signing.sh push [--insecure] ANNOTATED.wasm REGISTRY/REPO:TAG    (`make push`)
#       Pushes, signs the pushed digest, attaches the SBOM as a signed CycloneDX attestation,
#       then checks the result with kwctl verify. Prints REGISTRY/REPO@sha256:... on stdout.
#       Needs COSIGN_KEY (path of the private key) and COSIGN_PASSWORD (its password, may be
#       empty but must be set); the SBOM is kept at SBOM_OUT (target/sbom/policy-sbom.cdx.json).
#   scripts/signing.sh verify [--insecure] REGISTRY/REPO:TAG PUBLIC.pub        (`make verify`)
#       kwctl verify with the public key, then the SBOM attestation with cosign.
#   scripts/signing.sh trust-config OUT.json
#       A Sigstore trust config (ClientTrustConfig) that trusts keys only, for kwctl verify
#       --sigstore-trust-config and policy-server --sigstore-trust-config where Sigstore's
#       TUF repository cannot be reached (see below).
#   --insecure: the registry speaks plain HTTP (a registry on loopback).
#
# Offline by design: signatures go to the registry only, not to a transparency log
# (--tlog-upload=false), in cosign's classic layout (a `sha256-<digest>.sig` tag,
# --new-bundle-format=false), which is the layout kwctl and policy-server 1.35 read.
# kwctl verify 1.35 stops when it cannot fetch Sigstore's trust root from its TUF repository,
# and policy-server 1.35 then loads policies WITHOUT checking them (a warning, no error) even
# with --verification-path. Both take a trust root from --sigstore-trust-config instead; the
# one `trust-config` writes names no transparency log and, as its one certificate authority,
# a throwaway one whose private key is never written down, so no keyless signature can
# verify against it and a public key from the verification config is the only way to pass.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

export RUST_LOG=${RUST_LOG:-kwctl=error,policy_evaluator=error,sigstore=error,policy_fetcher=error}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
kwctl_flags=()
cosign_flags=()

# --insecure REF: a kwctl sources file and cosign flags for a plain-HTTP registry.
insecure() {
  local registry=${1%%/*}
  printf 'insecure_sources:\n  - "%s"\n' "$registry" >"$tmp/sources.yml"
  kwctl_flags=(--sources-path "$tmp/sources.yml")
  cosign_flags=(--allow-insecure-registry --allow-http-registry)
}

trust_config() {
  local out=${1:?usage: $0 trust-config OUT.json} cosign
  cosign=$(scripts/tools.sh cosign)
  command -v openssl >/dev/null || { echo "signing: openssl is needed (Debian package openssl)" >&2; exit 2; }
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/O=resource-limits/CN=keyed signatures only" -days 3650 -out "$tmp/ca.pem" 2>/dev/null
  "$cosign" trusted-root create --out "$tmp/trusted-root.json" \
    --fulcio="url=https://127.0.0.1/keyed-signatures-only,certificate-chain=$tmp/ca.pem"
  mkdir -p "$(dirname "$out")"
  printf '{"mediaType":"application/vnd.dev.sigstore.clienttrustconfig.v0.1+json","trustedRoot":%s}\n' \
    "$(cat "$tmp/trusted-root.json")" >"$out"
}

sbom() {
  local out=${1:?usage: $0 sbom OUT.json} cyclonedx name
  cyclonedx=$(scripts/tools.sh cargo-cyclonedx)
  # cargo-cyclonedx writes one file beside each workspace member's Cargo.toml, under the name
  # given (unique to this run): the kubewarden host's is kept, the others removed. Dated by
  # the last commit, so the same tree gives the same SBOM.
  name=sbom-$$-$RANDOM
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)} \
    "$cyclonedx" cyclonedx --manifest-path hosts/kubewarden/Cargo.toml --format json \
    --target wasm32-wasip1 --spec-version 1.5 --no-build-deps --override-filename "$name" >&2
  mkdir -p "$(dirname "$out")"
  mv "hosts/kubewarden/$name.json" "$out"
  find . -path ./target -prune -o -name "$name.json" -type f -exec rm -f {} +
}

push() {
  local secure=true
  if [[ ${1:-} == --insecure ]]; then secure=false; shift; fi
  local wasm=${1:-} ref=${2:-}
  [[ -n $wasm && -n $ref ]] || usage
  ref=${ref#registry://}
  $secure || insecure "$ref"
  if [[ -z ${COSIGN_KEY:-} || ! -r $COSIGN_KEY ]]; then
    echo "push: COSIGN_KEY must name a readable cosign private key (cosign generate-key-pair);" \
      "nothing is pushed unsigned" >&2
    exit 2
  fi
  if [[ -z ${COSIGN_PASSWORD+set} ]]; then
    echo "push: set COSIGN_PASSWORD (the key's password; empty if it has none)" >&2
    exit 2
  fi
  export COSIGN_PASSWORD
  command -v kwctl >/dev/null || { echo "push: kwctl is not on PATH" >&2; exit 2; }
  local cosign out sbom_file=${SBOM_OUT:-target/sbom/policy-sbom.cdx.json}
  cosign=$(scripts/tools.sh cosign)
  sbom "$sbom_file"

  out=$(kwctl push -o json "${kwctl_flags[@]}" "$wasm" "registry://$ref")
  local immutable
  immutable=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["immutable_ref"])' "$out")
  [[ $immutable == *@sha256:* ]] || { echo "push: kwctl gave no immutable reference: $out" >&2; exit 1; }

  # Sign the digest kwctl pushed, never the tag (a tag can move between push and sign).
  "$cosign" sign --yes --key "$COSIGN_KEY" --tlog-upload=false \
    --new-bundle-format=false --use-signing-config=false "${cosign_flags[@]}" "$immutable" >&2
  "$cosign" attest --yes --key "$COSIGN_KEY" --tlog-upload=false \
    --new-bundle-format=false --use-signing-config=false "${cosign_flags[@]}" \
    --type cyclonedx --predicate "$sbom_file" "$immutable" >&2

  # What was pushed verifies with the public half of the key.
  "$cosign" public-key --key "$COSIGN_KEY" >"$tmp/cosign.pub"
  trust_config "$tmp/trust-config.json"
  kwctl verify "${kwctl_flags[@]}" --sigstore-trust-config "$tmp/trust-config.json" \
    -k "$tmp/cosign.pub" "registry://$immutable" >&2
  echo "push: $immutable signed, SBOM attested (kept at $sbom_file)" >&2
  echo "$immutable"
}

verify() {
  local secure=true
  if [[ ${1:-} == --insecure ]]; then secure=false; shift; fi
  local ref=${1:-} pub=${2:-} cosign
  [[ -n $ref && -n $pub ]] || usage
  ref=${ref#registry://}
  $secure || insecure "$ref"
  trust_config "$tmp/trust-config.json"
  kwctl verify "${kwctl_flags[@]}" --sigstore-trust-config "$tmp/trust-config.json" \
    -k "$pub" "registry://$ref"
  cosign=$(scripts/tools.sh cosign)
  "$cosign" verify-attestation --key "$pub" --insecure-ignore-tlog=true \
    --new-bundle-format=false --type cyclonedx "${cosign_flags[@]}" "$ref" >/dev/null
  echo "verify: $ref is signed by $pub and carries a signed CycloneDX SBOM"
}

case "${1:-}" in
  sbom | push | verify) cmd=$1; shift; "$cmd" "$@" ;;
  trust-config) shift; trust_config "$@" ;;
  *) usage ;;
esac
