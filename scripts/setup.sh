#!/usr/bin/env bash
# Installs what ovn-drift's demo and tests need on a fresh Debian/Ubuntu machine:
# the OVN control plane (ovn-central), ovn-host, iptables, conntrack, iproute2, openssl,
# then the npm packages from the lockfile. With --tests also what only the tests use: lua5.1
# (Argo CD health checks) and prometheus (promtool for the alert rules). Idempotent: installed
# packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(ovn-central ovn-host iptables conntrack iproute2 openssl)
if [ "${1:-}" = "--tests" ]; then packages+=(lua5.1 prometheus); fi
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's packages may start services through invoke-rc.d on a machine with an init system;
# the sandbox runs its own processes on free ports, so those do not interfere.

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-fund --no-audit --loglevel=error
fi
