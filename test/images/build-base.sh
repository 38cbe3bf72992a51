#!/usr/bin/env bash
# Builds the local Debian base image ovn-drift/debian-base:<suite> (e.g. bookworm, trixie) that
# the test images start from. Order: the image is already there -> done; a `docker save` tarball
# of it in the cache -> load; `docker pull debian:<suite>-slim` works -> tag it; otherwise
# `debootstrap --variant=minbase <suite>` from Debian's mirror + `docker import`. Needs a running
# Docker engine (scripts/docker-engine.sh start) and, for debootstrap, root.
#
#   test/images/build-base.sh trixie        # prints the image name on stdout
#
# Env: DEBIAN_MIRROR (default http://deb.debian.org/debian), OVN_DRIFT_PULL=0 to skip the pull,
# plus those of lib.sh (cache directory, free-space threshold).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

suite=${1:-}
[[ "$suite" =~ ^[a-z]+$ ]] || die "usage: $0 <debian suite, e.g. bookworm or trixie>"
image="ovn-drift/debian-base:$suite"
tar="$IMAGE_CACHE/debian-base-$suite.tar"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

docker info >/dev/null 2>&1 || die "no Docker engine answers (start one: scripts/docker-engine.sh start)"
if have_image "$image"; then log "$image is present"; echo "$image"; exit 0; fi
if load_cached "$image" "$tar"; then echo "$image"; exit 0; fi

need_free "$(docker_root)" "the Docker data root"
start=$(date +%s)
if [ "${OVN_DRIFT_PULL:-1}" != 0 ] && timeout 300 docker pull -q "debian:$suite-slim" >/dev/null 2>&1; then
  docker tag "debian:$suite-slim" "$image"
  log "$image from debian:$suite-slim (pulled)"
else
  command -v debootstrap >/dev/null 2>&1 || die "debian:$suite-slim cannot be pulled and debootstrap is missing (apt-get install -y debootstrap)"
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
  [ -e "/usr/share/debootstrap/scripts/$suite" ] || die "this debootstrap does not know the suite '$suite'"
  need_free "${TMPDIR:-/tmp}" "the debootstrap root"
  root=$(mktemp -d "${TMPDIR:-/tmp}/ovn-drift-base-$suite.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  log "debian:$suite-slim cannot be pulled: debootstrap --variant=minbase $suite from $mirror"
  debootstrap --variant=minbase --components=main "$suite" "$root" "$mirror" > "$root.log" 2>&1 \
    || { tail -n 20 "$root.log" >&2; rm -f "$root.log"; die "debootstrap $suite failed"; }
  rm -f "$root.log"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" --numeric-owner -c . | docker import -c 'CMD ["/bin/bash"]' -m "debootstrap --variant=minbase $suite" - "$image" >/dev/null
  log "$image imported from debootstrap"
fi
log "$image built in $(( $(date +%s) - start )) s, $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1048576}')"
save_cache "$image" "$tar"
echo "$image"
