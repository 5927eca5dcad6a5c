#!/usr/bin/env bash
# Starts a Kubernetes control plane on loopback with the policy behind it, as `make cluster-up`:
# etcd, kube-apiserver and kube-controller-manager (the workload controllers; no scheduler,
# no kubelet: Pods stay Pending, which is enough, since admission happens at creation), and the
# webhook host chosen by HOST, registered the way users register it:
#
#   HOST=kubewarden  policy-server serving annotated-policy.wasm over TLS, with the webhook
#                    configurations kubewarden-controller generates for
#                    examples/cluster-admission-policy.yaml (mutating) and its validating
#                    twin examples/cluster-admission-policy-validating.yaml;
#   HOST=spin        `spin up` over TLS with the Spin component, registered by
#                    examples/spinkube/webhooks.yaml with only clientConfig changed.
#   HOST=native      `resource-limits serve` (the native server, the image's static binary)
#                    over TLS, registered by examples/native/webhooks.yaml with only
#                    clientConfig changed.
#
# SETTINGS (a file; default: examples/settings/bounded.json, the example policy's settings)
# are the policy's settings; WEBHOOK=none starts no webhook at all. Everything runs in
# CLUSTER_DIR (default $CARGO_TARGET_DIR/cluster/run) until scripts/cluster/down.sh stops it.
# The last two lines printed are the shell lines that use the cluster.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
HOST=${HOST:-kubewarden}
WEBHOOK=${WEBHOOK:-$HOST}
SETTINGS=${SETTINGS:-$root/examples/settings/bounded.json}
case $WEBHOOK in kubewarden|spin|native|none) ;; *) say "HOST must be kubewarden, spin or native (got '$WEBHOOK')"; exit 2 ;; esac
[[ -f $SETTINGS ]] || { say "SETTINGS=$SETTINGS is not a file"; exit 2; }
SETTINGS=$(cd "$(dirname "$SETTINGS")" && pwd)/$(basename "$SETTINGS")

if [[ -f $dir/pids ]]; then
  while read -r name pid; do
    if kill -0 "$pid" 2>/dev/null; then
      say "a cluster is already running in $dir ($name, pid $pid); stop it with make cluster-down"
      exit 2
    fi
  done < "$dir/pids"
fi
rm -rf "$dir"
mkdir -p "$dir"/{pki,logs,etcd}

bin=$("$here/build.sh")

# Undo a half-started cluster if anything below fails.
# shellcheck disable=SC2154 # status is assigned inside the trap's own text
trap 'status=$?; if [[ $status != 0 ]]; then say "failed; logs in $dir/logs"; CLUSTER_DIR=$dir "$here/down.sh" --keep-logs >&2 || true; fi' EXIT

free_ports=$("$bin/webhooks" ports 3) # one a line
mapfile -t ports <<<"$free_ports"
etcd_port=${ports[0]} etcd_peer=${ports[1]} api_port=${ports[2]}

# --- certificates: one CA for everything, as a test cluster may ---
pki=$dir/pki
cert() { # name subject [san]
  local name=$1 subj=$2 san=${3:-}
  openssl req -new -newkey rsa:2048 -nodes -keyout "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  local ext=$pki/$name.ext
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
    if [[ -n $san ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi; } > "$ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
}
openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -subj "/CN=resource-limits-test-ca" \
  -days 2 -sha256 -out "$pki/ca.crt" 2>/dev/null
cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc"
cert admin "/O=system:masters/CN=admin"
cert controller-manager "/CN=system:kube-controller-manager"
cert webhook "/CN=resource-limits-webhook" "IP:127.0.0.1,DNS:localhost"
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

kubeconfig() { # file user
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$pki/ca.crt"}
users:
- name: $2
  user: {client-certificate: "$pki/$2.crt", client-key: "$pki/$2.key"}
contexts:
- name: local
  context: {cluster: local, user: $2}
current-context: local
KC
}
kubeconfig "$dir/admin.kubeconfig" admin
kubeconfig "$dir/controller-manager.kubeconfig" controller-manager

start() { # name command...
  local name=$1; shift
  setsid "$@" > "$dir/logs/$name.log" 2>&1 < /dev/null &
  echo "$name $!" >> "$dir/pids"
}

# --- etcd ---
start etcd "$bin/etcd" --name default --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "default=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn
wait_for etcd 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

# --- kube-apiserver ---
start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 --allow-privileged \
  --enable-admission-plugins NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,ResourceQuota,LimitRanger \
  --profiling=false --v 0
wait_for kube-apiserver 90 curl -fsS --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
  "https://127.0.0.1:$api_port/readyz"

# --- kube-controller-manager: the controllers that make ReplicaSets, Pods and Jobs, the
# service accounts Pods need, and the type checking of ValidatingAdmissionPolicies (their
# status.typeChecking, which tests/hosts/tests/cel.rs reads; TYPE_CHECKING=off leaves it out:
# it costs seconds of CPU per large policy) ---
type_checking=,validatingadmissionpolicy-status-controller
[[ ${TYPE_CHECKING:-on} == off ]] && type_checking=
start kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig "$dir/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
  --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --use-service-account-credentials=true \
  --controllers "deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller,job-controller,cronjob-controller,serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller,replicationcontroller-controller,root-ca-certificate-publisher-controller$type_checking" \
  --v 0
export KUBECONFIG=$dir/admin.kubeconfig
wait_for "the default service account" 60 "$bin/kubectl" get serviceaccount default -n default

# --- the webhook ---
if [[ $WEBHOOK != none ]]; then
  CLUSTER_DIR=$dir HOST=$WEBHOOK SETTINGS=$SETTINGS "$here/webhook.sh"
fi
trap - EXIT
say "up: kube-apiserver https://127.0.0.1:$api_port, webhook: $WEBHOOK; logs in $dir/logs"
echo "export KUBECONFIG=$dir/admin.kubeconfig"
echo "export PATH=$bin:\$PATH"
