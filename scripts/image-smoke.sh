#!/usr/bin/env bash
# Builds the shipped Dockerfile with a local Docker engine and runs the image the ways the chart and
# the README do. The Dockerfile is used unchanged; only the base image is passed (build ARG BASE).
#
#   scripts/image-smoke.sh            # exit 0 when every check passed; prints the image size
#
# Env:
#   IMAGE_BASE   base image (default node:20-bookworm-slim). When it is not present and cannot be
#                pulled (no registry reachable, as on the build machines), a local base is made
#                with debootstrap (bookworm minbase + this machine's Node 20): scripts/lib/docker.sh.
#   IMAGE_TAG    tag to build (default ovn-drift:smoke)
#   NODE_EXTRA_CA_CERTS / BUILD_EXTRA_CA
#                a PEM file with extra CA certificates for `npm ci` inside the build (outgoing TLS
#                re-signed by a proxy); passed as the build ARG NODE_EXTRA_CA_PEM only when set.
# Needs: docker.io, debootstrap (only for the local base), ovsdb-server/ovn-northd/ovn-nbctl on the
# host for the `check` run (the sandbox), and a built dist/ for `ovn-drift sandbox` (npm run build).
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/docker.sh
. scripts/lib/docker.sh

BASE=${IMAGE_BASE:-node:20-bookworm-slim}
TAG=${IMAGE_TAG:-ovn-drift:smoke}
LOCAL_BASE=ovn-drift-smoke/node20-base:bookworm
failures=0
work=$(mktemp -d /tmp/ovn-drift-smoke.XXXXXX)
chmod 755 "$work"
sandbox_pid=""
cleanup() {
  [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null && wait "$sandbox_pid" 2>/dev/null
  docker rm -f ovn-drift-smoke-agent ovn-drift-smoke-operator >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }
now_ms() { date +%s%3N; }

docker_engine_ensure || { echo "image-smoke: no Docker engine"; exit 1; }

# ---- base image ---------------------------------------------------------------------------------
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  if ! timeout 60 docker pull -q "$BASE" >/dev/null 2>&1; then
    echo "image-smoke: $BASE cannot be pulled here; using a local base $LOCAL_BASE"
    docker_base_image_ensure "$LOCAL_BASE" || { echo "image-smoke: no base image"; exit 1; }
    BASE=$LOCAL_BASE
  fi
fi

# ---- build ----------------------------------------------------------------------------------------
ca_file=${BUILD_EXTRA_CA:-${NODE_EXTRA_CA_CERTS:-}}
build_args=(--build-arg "BASE=$BASE")
if [ -n "$ca_file" ]; then
  [ -r "$ca_file" ] || { echo "image-smoke: extra CA file $ca_file is not readable"; exit 1; }
  # Only the certificates Node does not already trust (a full system bundle is too long for one
  # argument, and Node carries the public roots itself).
  extra_pem=$(node -e '
    const tls = require("node:tls");
    const norm = (p) => p.replace(/\s+/g, "");
    const known = new Set(tls.rootCertificates.map(norm));
    const pems = require("node:fs").readFileSync(process.argv[1], "utf8").match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) || [];
    process.stdout.write(pems.filter((p) => !known.has(norm(p))).join("\n"));' "$ca_file") || { echo "image-smoke: cannot read certificates from $ca_file"; exit 1; }
  if [ -n "$extra_pem" ]; then
    build_args+=(--build-arg "NODE_EXTRA_CA_PEM=$extra_pem")
    echo "image-smoke: passing $(grep -c 'BEGIN CERTIFICATE' <<<"$extra_pem") extra CA certificate(s) of $ca_file to the build"
  fi
fi
t0=$(now_ms)
if ! docker build --network=host "${build_args[@]}" -t "$TAG" . >"$work/build.log" 2>&1; then
  echo "image-smoke: docker build failed; last lines:"
  tail -n 30 "$work/build.log"
  exit 1
fi
echo "image-smoke: built $TAG from $BASE in $(( ($(now_ms) - t0) / 1000 )) s"

# ---- contents ---------------------------------------------------------------------------------------
out=$(docker run --rm "$TAG" --help 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q 'check' <<<"$out"; then ok "--help (exit 0)"; else bad "--help exit $rc: $out"; fi

# devDependencies that no production dependency needs (e.g. @types/node is one of
# @kubernetes/client-node's dependencies, so it is not in this list).
dev_only=$(node -e '
  const { execFileSync } = require("node:child_process");
  const dev = Object.keys(require("./package.json").devDependencies ?? {});
  let out;
  try {
    out = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (e) {
    out = e.stdout ?? ""; // npm ls exits 1 on extraneous packages but still lists the tree
  }
  const prod = new Set(out.split("\n").map((p) => p.split("/node_modules/").pop()));
  console.log(dev.filter((d) => !prod.has(d)).join(" "));')
contents=$(docker run --rm --entrypoint /bin/sh -e DEV_ONLY="$dev_only" "$TAG" -c '
  cd /app
  echo "top: $(ls -A | tr "\n" " ")"
  echo "dist: $(ls -A dist | tr "\n" " ")"
  echo "ts: $(find /app -name "*.ts" ! -name "*.d.ts" ! -path "*/node_modules/*" | wc -l)"
  echo "maps: $(find /app/dist -name "*.map" | wc -l)"
  echo "dev-only: $DEV_ONLY"
  for d in $DEV_ONLY; do [ -e "node_modules/$d" ] && echo "dev: $d"; done
  for t in ip iptables-nft iptables-legacy conntrack; do command -v "$t" | sed "s/^/tool: /"; done
  echo "node_modules: $(du -sm node_modules | cut -f1) MB"
  echo "uid: $(id -u)"
' 2>&1)
echo "$contents" | sed 's/^/     /'
grep -q '^top: bin crds dist node_modules package.json $' <<<"$contents" && ok "/app holds bin, crds, dist, node_modules, package.json only" || bad "/app contents"
grep -q '^dist: operator $' <<<"$contents" && ok "dist/ holds operator/ only (no dist/test)" || bad "dist contents"
grep -q '^ts: 0$' <<<"$contents" && grep -q '^maps: 0$' <<<"$contents" && ok "no sources, no source maps" || bad "sources or maps in the image"
if [ -z "$dev_only" ]; then bad "could not list the devDependencies"
elif grep -q '^dev: ' <<<"$contents"; then bad "devDependencies in the image: $(grep '^dev: ' <<<"$contents" | tr '\n' ' ')"
else ok "no devDependencies ($dev_only)"; fi
for t in ip iptables-nft iptables-legacy conntrack; do grep -q "^tool: .*/$t$" <<<"$contents" && ok "$t installed" || bad "$t missing"; done
grep -q '^uid: 65532$' <<<"$contents" && ok "runs as 65532 by default" || bad "default user"

# ---- check against a sandbox over host networking, --read-only, user 65532 ---------------------------------
node bin/ovn-drift.js sandbox >"$work/sandbox.out" 2>"$work/sandbox.err" &
sandbox_pid=$!
for _ in $(seq 1 120); do grep -q '^SB: ' "$work/sandbox.out" && break; sleep 0.25; done
nb=$(sed -n 's/^NB: //p' "$work/sandbox.out")
sb=$(sed -n 's/^SB: //p' "$work/sandbox.out")
if [ -z "$nb" ] || [ -z "$sb" ]; then
  bad "sandbox did not start: $(cat "$work/sandbox.err")"
else
  ovn-nbctl --db="$nb" lr-add smoke-r -- lrp-add smoke-r smoke-lrp 00:00:00:00:aa:01 10.77.0.1/24 \
    -- lr-route-add smoke-r 10.77.8.0/24 10.77.0.5 \
    -- ls-add smoke-s -- lsp-add smoke-s smoke-vm -- lsp-set-addresses smoke-vm "00:00:00:00:aa:05 10.77.0.5" >/dev/null
  ovn-nbctl --db="$nb" --wait=sb sync
  # what ovn-controller would do on the VM's hypervisor
  ovn-sbctl --db="$sb" chassis-add hv-smoke geneve 10.77.0.100 -- lsp-bind smoke-vm hv-smoke
  mkdir -p "$work/m"
  cat >"$work/m/pcr.yaml" <<'YAML'
apiVersion: ovndrift.io/v1alpha1
kind: PodCIDRRoute
metadata: {name: smoke}
spec: {router: smoke-r, nexthop: 10.77.0.5, cidrs: [10.77.8.0/24, 10.77.9.0/24]}
YAML
  chmod -R a+rX "$work/m"
  out=$(docker run --rm --network=host --read-only --user 65532:65532 -v "$work/m:/m:ro" "$TAG" \
    check --nb "$nb" --sb "$sb" -f /m/pcr.yaml 2>&1); rc=$?
  echo "$out" | sed 's/^/     /'
  # 10.77.8.0/24 is in sync; 10.77.9.0/24 was never added: drift, exit 3.
  if [ "$rc" -eq 3 ] && grep -q '10.77.9.0/24' <<<"$out" && grep -qi 'RouteMissing' <<<"$out"; then ok "check --read-only as 65532 over host networking: exit 3, RouteMissing 10.77.9.0/24"; else bad "check exit $rc"; fi

  # ---- SIGTERM: node is PID 1; the operator must exit within a second ------------------------------
  printf 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n' >"$work/m/kubeconfig"
  chmod a+r "$work/m/kubeconfig"
  docker run -d --name ovn-drift-smoke-operator --network=host --read-only -v "$work/m:/m:ro" "$TAG" \
    operator --nb-remote "$nb" --sb-remote "$sb" --kubeconfig /m/kubeconfig --no-leader-elect --metrics-addr 127.0.0.1:0 >/dev/null
  for _ in $(seq 1 80); do docker logs ovn-drift-smoke-operator 2>&1 | grep -q '"msg":"[^"]*\(started\|listening\)' && break; sleep 0.25; done
  sleep 1
  t0=$(now_ms); docker stop -t 10 ovn-drift-smoke-operator >/dev/null; ms=$(( $(now_ms) - t0 ))
  code=$(docker inspect -f '{{.State.ExitCode}}' ovn-drift-smoke-operator)
  if [ "$ms" -lt 1500 ] && [ "$code" -eq 0 ]; then ok "operator stops on SIGTERM as PID 1 in ${ms} ms (exit 0)"; else bad "operator stop took ${ms} ms, exit $code"; docker logs ovn-drift-smoke-operator 2>&1 | tail -5; fi
  docker rm ovn-drift-smoke-operator >/dev/null
fi

# ---- the agent in a container network namespace: --read-only, NET_ADMIN only -------------------------------
cat >"$work/m/policy.yaml" <<'YAML'
apiVersion: ovndrift.io/v1alpha1
kind: TunnelNoTrackPolicy
metadata: {name: geneve}
spec:
  ports: [{name: geneve, protocol: UDP, port: 6081}]
YAML
chmod a+r "$work/m/policy.yaml"
agent_run=(docker run --rm --network=none --read-only --tmpfs /tmp --user 0 --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW -v "$work/m:/m:ro" "$TAG")
out=$("${agent_run[@]}" agent --node-name smoke -f /m/policy.yaml --once --log-level warn 2>&1); rc=$?
if [ "$rc" -eq 0 ] && grep -q 'Applied; policies: geneve; ports: UDP/6081' <<<"$out"; then ok "agent --once --read-only with NET_ADMIN: $out"; else bad "agent --once exit $rc: $out"; fi
out=$("${agent_run[@]}" agent --cleanup --netns does-not-exist 2>&1); rc=$?
[ "$rc" -eq 1 ] && grep -q "does not exist" <<<"$out" && ok "agent --cleanup --netns missing: exit 1 ($out)" || bad "agent --cleanup --netns missing: exit $rc: $out"
docker run -d --name ovn-drift-smoke-agent --network=none --read-only --tmpfs /tmp --user 0 --cap-drop ALL --cap-add NET_ADMIN --cap-add NET_RAW -v "$work/m:/m:ro" "$TAG" \
  agent --node-name smoke -f /m/policy.yaml --interval 10s >/dev/null
for _ in $(seq 1 80); do docker logs ovn-drift-smoke-agent 2>&1 | grep -q 'NOTRACK rules applied' && break; sleep 0.25; done
t0=$(now_ms); docker stop -t 10 ovn-drift-smoke-agent >/dev/null; ms=$(( $(now_ms) - t0 ))
code=$(docker inspect -f '{{.State.ExitCode}}' ovn-drift-smoke-agent)
if [ "$ms" -lt 1500 ] && [ "$code" -eq 0 ]; then ok "agent stops on SIGTERM as PID 1 in ${ms} ms (exit 0)"; else bad "agent stop took ${ms} ms, exit $code"; docker logs ovn-drift-smoke-agent 2>&1 | tail -5; fi
docker rm ovn-drift-smoke-agent >/dev/null

# ---- demo on a read-only root: a clear message, not a stack trace ------------------------------------------
out=$(docker run --rm --read-only "$TAG" demo 2>&1); rc=$?
if [ "$rc" -eq 2 ] && grep -q 'read-only' <<<"$out" && ! grep -q '    at ' <<<"$out"; then ok "demo --read-only: exit 2, $out"; else bad "demo --read-only exit $rc: $out"; fi

# ---- size ----------------------------------------------------------------------------------------------
size=$(docker image inspect -f '{{.Size}}' "$TAG")
base_size=$(docker image inspect -f '{{.Size}}' "$BASE")
echo "image-smoke: $TAG $((size / 1000000)) MB (base $BASE $((base_size / 1000000)) MB; $(grep '^node_modules' <<<"$contents"))"
if [ "$failures" -gt 0 ]; then echo "image-smoke: $failures check(s) failed"; exit 1; fi
echo "image-smoke: all checks passed"
