#!/usr/bin/env bash
# The native webhook server's container image (`resource-limits serve`), built and pushed with
# no Docker engine: the static musl binary as the one file of one layer on an empty base
# (FROM scratch), its config set with crane (go-containerregistry, pinned in scripts/tools.sh).
# The Dockerfile at the repository's root makes the same image for those who build with Docker;
# tests/hosts/tests/image.rs holds the two to the same entrypoint, user, port and labels.
#
#   scripts/image.sh push [REPOSITORY]                                        (`make image`)
#       Builds the binary (cargo build --profile native --target x86_64-unknown-linux-musl
#       -p resource-limits-cli --no-default-features: every command but `audit`), pushes REPOSITORY/resource-limits-server:vVERSION (VERSION:
#       the workspace's; REPOSITORY default 127.0.0.1:5000/policies, a registry on loopback,
#       spoken to over plain HTTP) and prints REPOSITORY/resource-limits-server@sha256:... on
#       stdout, its sizes on stderr.
#   scripts/image.sh config
#       What push sets, as JSON: the binary's path in the image, entrypoint, user, exposed
#       ports, labels, platform.
#
# Reproducible: the layer is a sorted ustar archive with fixed times and owners, gzipped
# without a name or time (gzip -n), and crane writes no creation time, so the same binary
# gives the same image digest.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$root"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

NAME=resource-limits-server
MUSL_TARGET=x86_64-unknown-linux-musl
PLATFORM=linux/amd64
# The binary's path in the image, and how it is started: as the Dockerfile says.
IN_IMAGE=/resource-limits
ENTRYPOINT=("$IN_IMAGE" serve)
IMAGE_USER=65532:65532
PORT=8443/tcp

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
LICENSE=$(sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n1)
SOURCE=$(sed -n 's/^ *io\.kubewarden\.policy\.source: *//p' policy-metadata.yaml)
[[ -n $VERSION && -n $LICENSE && -n $SOURCE ]] || {
  echo "image.sh: no version, license (Cargo.toml) or source (policy-metadata.yaml)" >&2
  exit 2
}
LABELS=(
  "org.opencontainers.image.title=$NAME"
  "org.opencontainers.image.description=resource-limits admission webhook server"
  "org.opencontainers.image.source=$SOURCE"
  "org.opencontainers.image.version=$VERSION"
  "org.opencontainers.image.licenses=$LICENSE"
)

config() {
  local sep="" label
  printf '{"path": "%s", "entrypoint": ["%s", "%s"], "user": "%s", "exposedPorts": ["%s"], "platform": "%s", "labels": {' \
    "$IN_IMAGE" "${ENTRYPOINT[0]}" "${ENTRYPOINT[1]}" "$IMAGE_USER" "$PORT" "$PLATFORM"
  for label in "${LABELS[@]}"; do
    printf '%s"%s": "%s"' "$sep" "${label%%=*}" "${label#*=}"
    sep=", "
  done
  printf '}}\n'
}

push() {
  local repository=${1:-127.0.0.1:5000/policies}
  local ref=$repository/$NAME:v$VERSION crane tmp flags=() label
  crane=$(scripts/tools.sh crane)
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # tmp is fixed from here on
  trap "rm -rf '$tmp'" EXIT

  echo "image.sh: building the static binary ($MUSL_TARGET, profile native)" >&2
  cargo build --profile native --target "$MUSL_TARGET" -p resource-limits-cli --no-default-features >&2
  local binary=$target/$MUSL_TARGET/native/resource-limits
  mkdir "$tmp/root"
  install -m 0755 "$binary" "$tmp/root/${IN_IMAGE#/}"
  tar --create --format=ustar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$tmp/root" "${IN_IMAGE#/}" >"$tmp/layer.tar"
  gzip -9 -n -c "$tmp/layer.tar" >"$tmp/layer.tar.gz"

  # Plain HTTP for a registry on loopback (crane would also guess it from the address).
  case ${ref%%/*} in 127.0.0.1:* | localhost:* | localhost) flags=(--insecure) ;; esac
  # One layer on the empty base (OCI media types), then the config, pushed to the same tag.
  "$crane" "${flags[@]}" append --oci-empty-base -f "$tmp/layer.tar.gz" -t "$ref" >/dev/null
  local mutate=(mutate "$ref" -t "$ref" --set-platform "$PLATFORM" --user "$IMAGE_USER"
    --exposed-ports "$PORT" --entrypoint "$(IFS=,; echo "${ENTRYPOINT[*]}")")
  for label in "${LABELS[@]}"; do mutate+=(--label "$label"); done
  "$crane" "${flags[@]}" "${mutate[@]}" >/dev/null
  local digest
  digest=$("$crane" "${flags[@]}" digest "$ref")
  printf 'image.sh: pushed %s: %s bytes gzipped, %s bytes uncompressed (binary %s bytes)\n' \
    "$ref" "$(wc -c <"$tmp/layer.tar.gz")" "$(wc -c <"$tmp/layer.tar")" "$(wc -c <"$binary")" >&2
  echo "$repository/$NAME@$digest"
}

case "${1:-}" in
  push) shift; push "$@" ;;
  config) config ;;
  *) usage ;;
esac
