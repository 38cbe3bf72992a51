# Shared by build-base.sh and build.sh (sourced, not run): the tarball cache, the free-disk check.
# Env: OVN_DRIFT_IMAGE_CACHE (default /var/cache/ovn-drift) keeps `docker save` tarballs outside
# the repository, so a machine whose Docker data root was wiped loads instead of rebuilding;
# OVN_DRIFT_MIN_FREE_MB (default 3072) is the free space a build needs (vfs copies every layer).

IMAGE_CACHE=${OVN_DRIFT_IMAGE_CACHE:-/var/cache/ovn-drift}
MIN_FREE_MB=${OVN_DRIFT_MIN_FREE_MB:-3072}

log() { echo "images: $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Fails, saying where and how much, when a directory's file system has less than MIN_FREE_MB.
need_free() {
  local dir=$1 what=$2 avail
  mkdir -p "$dir" 2>/dev/null
  avail=$(df -Pm "$dir" 2>/dev/null | awk 'NR==2 {print $4}')
  [ -n "$avail" ] || return 0
  if [ "$avail" -lt "$MIN_FREE_MB" ]; then
    die "only ${avail} MB free on $(df -P "$dir" | awk 'NR==2 {print $6}') ($what: $dir); building needs ${MIN_FREE_MB} MB (vfs copies every layer). Free space or set OVN_DRIFT_MIN_FREE_MB."
  fi
  log "${avail} MB free for $what ($dir)"
}

docker_root() { docker info --format '{{.DockerRootDir}}' 2>/dev/null || echo /var/lib/docker; }

# Loads $2 (a tarball) when image $1 is missing; true when the image is then present.
load_cached() {
  local image=$1 tar=$2
  [ -f "$tar" ] || return 1
  log "loading $image from $tar"
  docker load -i "$tar" >/dev/null && have_image "$image"
}

save_cache() {
  local image=$1 tar=$2
  mkdir -p "$(dirname "$tar")" || { log "cannot create $(dirname "$tar"): not caching $image"; return 0; }
  docker save -o "$tar.tmp" "$image" && mv "$tar.tmp" "$tar" && log "cached $image in $tar ($(du -m "$tar" | cut -f1) MB)"
}
