#!/usr/bin/env bash
# End-to-end check of the operator on a real Kubernetes cluster made with kind (docs/operator.md).
# Needs: docker, kind, kubectl, helm on PATH and network access for images. It cannot run in the
# project's CI sandbox (no container runtime there); the in-repo tests use the test API server.
#
# What it does:
#   1. creates a kind cluster, builds the ovn-drift image and loads it into the cluster;
#   2. runs an OVN control plane (ovsdb-server NB/SB + ovn-northd from Debian's ovn-central) in a
#      pod, builds the seed topology (router dev-jr, VM 10.9.2.146 on hv-10-184-163-36);
#   3. installs the chart (CRDs from crds/, operator Deployment with 2 replicas, agent DaemonSet);
#   4. applies a PodCIDRRoute and waits for Ready=True; changes the NB route behind the operator's
#      back and waits for Ready=False with reason NexthopMismatch and a DriftDetected Event;
#   5. switches the resource to Repair (adopt) and waits for Ready=True again;
#   6. deletes the leader pod and checks that the other replica takes the Lease.
# Usage: test/e2e/kind.sh [--keep]      (--keep leaves the cluster running for a look around)
set -euo pipefail

CLUSTER=${CLUSTER:-ovn-drift-e2e}
NS=${NS:-ovn-drift}
IMAGE=${IMAGE:-ovn-drift:e2e}
KEEP=${1:-}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "kind.sh: $tool is not installed" >&2; exit 2; }
done

cleanup() { [ "$KEEP" = "--keep" ] || kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; }
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "cluster $CLUSTER"
kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -

step "image $IMAGE"
docker build -t "$IMAGE" "$ROOT"
kind load docker-image "$IMAGE" --name "$CLUSTER"

step "OVN control plane (ovn-central in a pod)"
kubectl -n "$NS" apply -f - <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: ovn-central
  labels: {app: ovn-central}
spec:
  containers:
    - name: ovn
      image: debian:bookworm-slim
      command: [bash, -c]
      args:
        - |
          set -e
          apt-get update -qq && apt-get install -y -qq ovn-central >/dev/null
          mkdir -p /run/ovn /etc/ovn
          ovsdb-tool create /etc/ovn/nb.db /usr/share/ovn/ovn-nb.ovsschema
          ovsdb-tool create /etc/ovn/sb.db /usr/share/ovn/ovn-sb.ovsschema
          ovsdb-server /etc/ovn/nb.db --remote=punix:/run/ovn/ovnnb_db.sock --remote=ptcp:6641 --pidfile=/run/ovn/nb.pid --unixctl=/run/ovn/nb.ctl --detach
          ovsdb-server /etc/ovn/sb.db --remote=punix:/run/ovn/ovnsb_db.sock --remote=ptcp:6642 --pidfile=/run/ovn/sb.pid --unixctl=/run/ovn/sb.ctl --detach
          ovn-nbctl --db=unix:/run/ovn/ovnnb_db.sock init
          ovn-sbctl --db=unix:/run/ovn/ovnsb_db.sock init
          ovn-northd --ovnnb-db=unix:/run/ovn/ovnnb_db.sock --ovnsb-db=unix:/run/ovn/ovnsb_db.sock --pidfile=/run/ovn/northd.pid --detach
          touch /tmp/ready
          sleep infinity
      readinessProbe:
        exec: {command: [test, -f, /tmp/ready]}
        periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: ovn-central
spec:
  selector: {app: ovn-central}
  ports:
    - {name: nb, port: 6641}
    - {name: sb, port: 6642}
YAML
kubectl -n "$NS" wait --for=condition=Ready pod/ovn-central --timeout=300s
nbctl() { kubectl -n "$NS" exec ovn-central -- ovn-nbctl --db=unix:/run/ovn/ovnnb_db.sock "$@"; }
sbctl() { kubectl -n "$NS" exec ovn-central -- ovn-sbctl --db=unix:/run/ovn/ovnsb_db.sock "$@"; }
nbctl -- lr-add dev-jr \
  -- ls-add vms -- lrp-add dev-jr lrp-vms 74:db:d2:2f:8b:ef 10.9.0.1/22 \
  -- lsp-add vms vms-dev-jr -- lsp-set-type vms-dev-jr router -- lsp-set-addresses vms-dev-jr router -- lsp-set-options vms-dev-jr router-port=lrp-vms \
  -- lsp-add vms vm-146 -- lsp-set-addresses vm-146 "74:db:d1:bf:44:5a 10.9.2.146" \
  -- lsp-add vms vm-233 -- lsp-set-addresses vm-233 "74:db:d1:30:9e:dd 10.9.1.233"
sbctl chassis-add hv-10-184-163-36 geneve 10.184.163.36
sbctl chassis-add hv-10-96-133-20 geneve 10.96.133.20
sbctl lsp-bind vm-146 hv-10-184-163-36
sbctl lsp-bind vm-233 hv-10-96-133-20
nbctl --wait=sb lr-route-add dev-jr 10.9.52.144/28 10.9.2.146

step "helm install"
helm upgrade --install ovn-drift "$ROOT/charts/ovn-drift" -n "$NS" \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE#*:}" --set image.pullPolicy=Never \
  --set ovn.nbRemote="tcp:ovn-central.$NS.svc:6641" --set ovn.sbRemote="tcp:ovn-central.$NS.svc:6642" \
  --wait --timeout 300s
kubectl get crd podcidrroutes.ovndrift.io tunnelnotrackpolicies.ovndrift.io nodenotrackstates.ovndrift.io

step "PodCIDRRoute converges"
kubectl apply -f - <<'YAML'
apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata:
  name: dev-jr-vm-10-9-2-146
spec:
  router: dev-jr
  nexthop: 10.9.2.146
  cidrs: [10.9.52.144/28]
  expectedChassis: hv-10-184-163-36
YAML
kubectl wait --for=condition=Ready pcr/dev-jr-vm-10-9-2-146 --timeout=120s
kubectl get pcr -o wide
kubectl get ovndrift

step "drift: the NB route is moved behind the operator's back"
nbctl --wait=sb --may-exist lr-route-add dev-jr 10.9.52.144/28 10.9.1.233
kubectl wait --for=condition=Ready=false pcr/dev-jr-vm-10-9-2-146 --timeout=60s
reason=$(kubectl get pcr dev-jr-vm-10-9-2-146 -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')
[ "$reason" = NexthopMismatch ] || { echo "expected reason NexthopMismatch, got $reason" >&2; exit 1; }
kubectl get events -A --field-selector reason=DriftDetected | grep -q dev-jr-vm-10-9-2-146

step "Repair (adopt) fixes it"
kubectl patch pcr dev-jr-vm-10-9-2-146 --type=merge -p '{"spec":{"remediation":"Repair","adopt":true}}'
kubectl wait --for=condition=Ready pcr/dev-jr-vm-10-9-2-146 --timeout=120s
nbctl --format=csv --columns=nexthop,external_ids find Logical_Router_Static_Route ip_prefix=10.9.52.144/28 | grep -q 'ovndrift.io/owner'

step "leader failover"
leader=$(kubectl -n "$NS" get lease ovn-drift-operator -o jsonpath='{.spec.holderIdentity}')
kubectl -n "$NS" delete pod "$leader" --wait=false
for _ in $(seq 60); do
  now=$(kubectl -n "$NS" get lease ovn-drift-operator -o jsonpath='{.spec.holderIdentity}')
  [ -n "$now" ] && [ "$now" != "$leader" ] && break
  sleep 1
done
[ "$now" != "$leader" ] || { echo "lease still held by $leader" >&2; exit 1; }
echo "leader moved: $leader -> $now"

step "OK"
