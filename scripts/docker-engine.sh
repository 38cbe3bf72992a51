#!/usr/bin/env bash
# Starts, stops or reports a local Docker engine for the tests that need one (the OVN release
# matrix, the image smoke test). On machines without an init system nothing starts dockerd, and
# there is no bridge or iptables to give containers their own network: the engine runs with
# --storage-driver=vfs --iptables=false --bridge=none, and test containers use the host network.
#
#   scripts/docker-engine.sh start    # start dockerd unless an engine already answers; wait for it
#   scripts/docker-engine.sh stop     # stop the dockerd that `start` started (never another one)
#   scripts/docker-engine.sh status   # exit 0 when an engine answers
#
# `start` prints `docker-engine: started` or `docker-engine: already running`; only an engine this
# script started has a pidfile, and only that one is stopped by `stop`. A caller that wants to
# leave the machine as it found it calls `stop` only when its own `start` said `started` (.ci/run
# does): another session may be using an engine that an earlier `start` left running. Installs docker.io when
# dockerd is missing (apt-get). Env: DOCKER_ENGINE_STATE (default /var/run/ovn-drift-docker) holds
# the pidfile and the log; DOCKER_ENGINE_WAIT seconds to wait for the engine (default 60).
set -uo pipefail

state=${DOCKER_ENGINE_STATE:-/var/run/ovn-drift-docker}
pidfile="$state/dockerd.pid"
log="$state/dockerd.log"
wait_s=${DOCKER_ENGINE_WAIT:-60}

answers() { timeout 30 docker info >/dev/null 2>&1; }

install_docker() {
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "docker-engine: installing docker.io (apt-get)" >&2
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq docker.io >/dev/null
}

start() {
  if answers; then
    echo "docker-engine: already running ($(docker info --format '{{.Driver}}' 2>/dev/null) storage driver)"
    return 0
  fi
  install_docker || { echo "docker-engine: cannot install docker.io (apt-get failed)" >&2; return 1; }
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker-engine: dockerd must be started as root (run: sudo $0 start)" >&2
    return 1
  fi
  mkdir -p "$state"
  # A pidfile left by a dockerd that died: dockerd refuses to start while it exists.
  if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then rm -f "$pidfile"; fi
  rm -f /var/run/docker.pid
  setsid dockerd --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
    --pidfile=/var/run/docker.pid >"$log" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid" > "$pidfile"
  for _ in $(seq 1 $((wait_s * 4))); do
    if answers; then
      echo "docker-engine: started (dockerd pid $pid, vfs, host network only; log $log)"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.25
  done
  echo "docker-engine: dockerd did not come up within ${wait_s}s; last lines of $log:" >&2
  tail -n 15 "$log" >&2
  kill "$pid" 2>/dev/null
  rm -f "$pidfile"
  return 1
}

stop() {
  if [ ! -f "$pidfile" ]; then
    echo "docker-engine: no engine started by this script; nothing stopped"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
  echo "docker-engine: stopped (dockerd pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if answers; then echo "docker-engine: running"; else echo "docker-engine: not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 1 ;;
esac
