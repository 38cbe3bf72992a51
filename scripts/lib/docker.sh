# shellcheck shell=bash
# Docker helpers for scripts/image-smoke.sh, kept apart so they can later be folded into the release
# matrix's engine starter and base-image builder. Source it; functions return non-zero on failure
# and print what went wrong on stderr.
#
#   docker_engine_ensure          start dockerd (vfs, no bridge, no iptables) unless an engine answers
#   docker_base_image_ensure TAG  make TAG (a Debian bookworm with Node 20 at /usr/bin/node, npm) when
#                                 it does not exist: debootstrap --variant=minbase + the machine's
#                                 node and npm, then `docker import`
#
# Env: DOCKER_ENGINE_LOG (default /tmp/ovn-drift-dockerd.log), DEBIAN_MIRROR (default
# http://deb.debian.org/debian).

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

docker_engine_ensure() {
  if docker_answers; then
    echo "docker: engine already running" >&2
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "docker: dockerd is not installed (apt-get install -y docker.io)" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker: dockerd must be started as root" >&2
    return 1
  fi
  local log=${DOCKER_ENGINE_LOG:-/tmp/ovn-drift-dockerd.log}
  # No init system, no bridge, no iptables for containers: they use the host network.
  setsid dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none >"$log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 240); do
    docker_answers && { echo "docker: started dockerd (pid $pid, log $log)" >&2; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  echo "docker: dockerd did not come up; last lines of $log:" >&2
  tail -n 15 "$log" >&2
  return 1
}

docker_base_image_ensure() {
  local tag=$1
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "docker: base image $tag exists" >&2
    return 0
  fi
  local node npmdir
  node=$(command -v node) || { echo "docker: no node on this machine to put into the base image" >&2; return 1; }
  npmdir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  case "$("$node" --version)" in
    v20.*) ;;
    *) echo "docker: the machine's node is $("$node" --version), not Node 20" >&2; return 1 ;;
  esac
  command -v debootstrap >/dev/null 2>&1 || { echo "docker: debootstrap is not installed (apt-get install -y debootstrap)" >&2; return 1; }
  local root
  root=$(mktemp -d /tmp/ovn-drift-base.XXXXXX)
  echo "docker: building $tag with debootstrap (bookworm, minbase) + node $("$node" --version) in $root" >&2
  if ! debootstrap --variant=minbase bookworm "$root" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$root.log" 2>&1; then
    echo "docker: debootstrap failed; last lines of $root.log:" >&2
    tail -n 15 "$root.log" >&2
    rm -rf "$root"
    return 1
  fi
  # The layout of the official node images: node and npm under /usr/local.
  install -m 0755 "$node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules"
  cp -a "$npmdir" "$root/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  # mktemp -d made the directory 0700, and tar records "." with that mode: the image's / would be
  # closed to every user but root (uid 65532 could not even find node).
  chmod 0755 "$root"
  local rc=0
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["node"]' - "$tag" >/dev/null || rc=$?
  rm -rf "$root" "$root.log"
  [ "$rc" -eq 0 ] || { echo "docker: docker import of $tag failed" >&2; return 1; }
  if ! docker run --rm --network=none --user 65532:65532 "$tag" node -e 'process.exit(0)' >/dev/null 2>&1; then
    echo "docker: base image $tag does not run node as uid 65532; removed" >&2
    docker rmi "$tag" >/dev/null 2>&1
    return 1
  fi
  echo "docker: base image $tag built (node runs as uid 65532)" >&2
}
