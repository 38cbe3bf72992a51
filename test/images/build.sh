#!/usr/bin/env bash
# Builds the test image of one OVN release, ovn-drift/ovn:<version> (e.g. 25.03), from the Debian
# suite that ships it (test/images/releases) on the local base image (build-base.sh). Cached: the
# image is skipped when present and built from the same recipe (label ovn-drift.recipe), else
# loaded from the tarball cache, else built with `docker build --network=host` (the engine has
# no bridge) and saved to the cache. Prints the image name on stdout.
#
#   test/images/build.sh 25.03
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

version=${1:-}
suite=$(awk -v v="$version" '$1 == v {print $2}' "$here/releases")
[ -n "$version" ] && [ -n "$suite" ] || die "usage: $0 <release>; known releases: $(awk '!/^#/ && NF {printf "%s ", $1}' "$here/releases")"
image="ovn-drift/ovn:$version"
# The recipe: the Dockerfile and the suite. A changed recipe rebuilds; the old tarball is not used.
recipe=$( (cat "$here/ovn/Dockerfile"; echo "$suite") | sha256sum | cut -c1-12)
tar="$IMAGE_CACHE/ovn-$version-$recipe.tar"

docker info >/dev/null 2>&1 || die "no Docker engine answers (start one: scripts/docker-engine.sh start)"
current() { [ "$(docker image inspect -f '{{index .Config.Labels "ovn-drift.recipe"}}' "$image" 2>/dev/null)" = "$recipe" ]; }
if current; then log "$image is present (recipe $recipe)"; echo "$image"; exit 0; fi
if load_cached "$image" "$tar" && current; then echo "$image"; exit 0; fi

need_free "$(docker_root)" "the Docker data root"
base=$("$here/build-base.sh" "$suite")
start=$(date +%s)
log "building $image (OVN $version from Debian $suite) on $base"
buildlog=$(mktemp)
trap 'rm -f "$buildlog"' EXIT
DOCKER_BUILDKIT=0 docker build --network=host --build-arg "BASE=$base" --label "ovn-drift.recipe=$recipe" \
  --label "ovn-drift.release=$version" -t "$image" "$here/ovn" >"$buildlog" 2>&1 \
  || { tail -n 30 "$buildlog" >&2; die "docker build of $image failed"; }
northd=$(docker run --rm --network=none "$image" ovn-northd --version | head -n1)
case "$northd" in
  "ovn-northd $version."*) ;;
  *) die "$image runs '$northd', not OVN $version: is test/images/releases right about Debian $suite?" ;;
esac
log "$image built in $(( $(date +%s) - start )) s: $northd, $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%d MB", $1/1048576}')"
rm -f "$IMAGE_CACHE"/ovn-"$version"-*.tar
save_cache "$image" "$tar"
echo "$image"
