#!/usr/bin/env bash
# (Re)starts the webhook host in the cluster scripts/cluster/up.sh started, and registers it the
# way users do (see up.sh): HOST=kubewarden, spin or native, SETTINGS=a settings file (JSON or
# YAML). A host already running there is stopped and its webhook configurations deleted first,
# so a test can switch hosts and settings without a new control plane. HOST=none only stops it.
# HOST=native only: TLS_DIR (a folder holding tls.crt and tls.key, as a Secret volume does;
# default: the cluster's webhook certificate), RELOAD_INTERVAL (the server's --reload-interval;
# default its own, 2s), NATIVE_SERVER (a built server to run; default: the shipped binary,
# built here if it is not already).
# RESTARTABLE=1 (any host): also write down how to start the host's process again, for a test
# that kills or stops it and starts the same process again, its webhook configurations left as
# they are (tests/hosts/src/cluster.rs, Cluster::restart_webhook_process): $hook/command (the
# command, NUL-separated, beginning with `env` and the variables set for it) and $hook/ready
# (the URL that answers 200 once it serves: its readiness).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
HOST=${HOST:-kubewarden}
SETTINGS=${SETTINGS:-$root/examples/settings/bounded.json}
[[ -f $dir/admin.kubeconfig ]] || { say "no cluster in $dir (make cluster-up)"; exit 2; }
case $HOST in kubewarden|spin|native|none) ;; *) say "HOST must be kubewarden, spin, native or none (got '$HOST')"; exit 2 ;; esac
bin=$("$here/build.sh")
export KUBECONFIG=$dir/admin.kubeconfig
pki=$dir/pki
hook=$dir/webhook

# Stop the running one: its webhook configurations first, so nothing calls a dead server.
if [[ -f $hook/webhooks.yaml ]]; then
  "$bin/kubectl" delete -f "$hook/webhooks.yaml" --ignore-not-found --wait >&2
fi
if [[ -f $hook/pid ]]; then
  pid=$(cat "$hook/pid")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -rf "$hook"
[[ $HOST == none ]] && exit 0
[[ -f $SETTINGS ]] || { say "SETTINGS=$SETTINGS is not a file"; exit 2; }
mkdir -p "$hook"

port=$("$bin/webhooks" ports 1)
url=https://127.0.0.1:$port
run() { # name command...: in its own process group, its pid in $hook/pid
  setsid "$@" > "$dir/logs/$HOST.log" 2>&1 < /dev/null &
  echo $! > "$hook/pid"
  if [[ -n ${RESTARTABLE:-} ]]; then
    { printf '%s\0' env
      if [[ -n ${XDG_CACHE_HOME:-} ]]; then printf '%s\0' "XDG_CACHE_HOME=$XDG_CACHE_HOME"; fi
      printf '%s\0' "$@"; } > "$hook/command"
  fi
}
ready() { # url: where the host answers 200 once it serves (RESTARTABLE only)
  if [[ -n ${RESTARTABLE:-} ]]; then echo "$1" > "$hook/ready"; fi
}
case $HOST in
  kubewarden)
    wasm=$root/annotated-policy.wasm
    [[ -f $wasm ]] || { say "$wasm is missing (make annotated-policy.wasm)"; exit 2; }
    # The mutating policy and its validating twin, as docs/kubewarden.md deploys them.
    "$bin/webhooks" kubewarden -policy "$root/examples/cluster-admission-policy.yaml" \
      -policy "$root/examples/cluster-admission-policy-validating.yaml" -url "$url" \
      -ca "$pki/ca.crt" -module "$wasm" -settings "$SETTINGS" -policies "$hook/policies.yml" \
      > "$hook/webhooks.yaml.new"
    ready_port=$("$bin/webhooks" ports 1)
    run "${POLICY_SERVER:-policy-server}" --addr 127.0.0.1 --port "$port" \
      --readiness-probe-port "$ready_port" --cert-file "$pki/webhook.crt" --key-file "$pki/webhook.key" \
      --policies "$hook/policies.yml" --policies-download-dir "$hook" \
      --sigstore-cache-dir "$hook/sigstore" --ignore-kubernetes-connection-failure --log-level warn
    wait_for policy-server 60 curl -fsS "http://127.0.0.1:$ready_port/readiness"
    ready "http://127.0.0.1:$ready_port/readiness"
    ;;
  spin)
    spin_wasm=$target/wasm32-wasip2/release/resource_limits_spin.wasm
    [[ -f $spin_wasm ]] || { say "$spin_wasm is missing (make spin-component)"; exit 2; }
    sed "s|^source = .*|source = \"$spin_wasm\"|" "$root/spin.toml" > "$hook/spin.toml"
    "$bin/webhooks" spin -config "$root/examples/spinkube/webhooks.yaml" -url "$url" -ca "$pki/ca.crt" \
      > "$hook/webhooks.yaml.new"
    settings_json=$("$bin/webhooks" json "$SETTINGS")
    XDG_CACHE_HOME=$hook/cache run "${SPIN:-spin}" up --from "$hook/spin.toml" \
      --listen "127.0.0.1:$port" --tls-cert "$pki/webhook.crt" --tls-key "$pki/webhook.key" \
      --variable "settings=$settings_json"
    wait_for spin 60 curl -fsS --cacert "$pki/ca.crt" "$url/healthz"
    ready "$url/healthz"
    ;;
  native)
    # The shipped binary (the image's: static, profile native), built here if it is not
    # already; a no-op build takes well under a second.
    server=${NATIVE_SERVER:-}
    if [[ -z $server ]]; then
      "${CARGO:-cargo}" build --manifest-path "$root/Cargo.toml" --profile native \
        --target x86_64-unknown-linux-musl -p resource-limits-cli --no-default-features >&2
      server=$target/x86_64-unknown-linux-musl/native/resource-limits
    fi
    [[ -x $server ]] || { say "NATIVE_SERVER=$server is not a program"; exit 2; }
    tls_cert=$pki/webhook.crt tls_key=$pki/webhook.key
    if [[ -n ${TLS_DIR:-} ]]; then tls_cert=$TLS_DIR/tls.crt tls_key=$TLS_DIR/tls.key; fi
    reload=()
    if [[ -n ${RELOAD_INTERVAL:-} ]]; then reload=(--reload-interval "$RELOAD_INTERVAL"); fi
    # examples/native/webhooks.yaml with only clientConfig changed (the `spin` command of
    # cmd/webhooks does that to any webhooks file).
    "$bin/webhooks" spin -config "$root/examples/native/webhooks.yaml" -url "$url" -ca "$pki/ca.crt" \
      > "$hook/webhooks.yaml.new"
    # No shutdown delay: nothing here routes by readiness, and a switch of hosts waits for it.
    run "$server" serve --settings "$SETTINGS" --tls-cert-file "$tls_cert" \
      --tls-private-key-file "$tls_key" --listen "127.0.0.1:$port" \
      --shutdown-delay 0s --shutdown-timeout 3s --log-format text "${reload[@]}"
    wait_for "resource-limits serve" 60 curl -fsS --cacert "$pki/ca.crt" "$url/readyz"
    ready "$url/readyz"
    ;;
esac
mv "$hook/webhooks.yaml.new" "$hook/webhooks.yaml"
"$bin/kubectl" apply -f "$hook/webhooks.yaml" >&2
echo "$HOST" > "$hook/host"
echo "$url" > "$hook/url"
say "webhook: $HOST at $url with settings $SETTINGS"
