#!/usr/bin/env bash
# Make a Docker engine answer on this machine. Idempotent: installs Debian's docker.io
# when no engine is installed, starts dockerd in the background when none answers, and
# waits for `docker info`.
set -euo pipefail

log() { printf 'docker-up: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
    log "engine already answers"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    log "no dockerd: installing Debian's docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd"
    # setsid: the daemon must outlive this script and the shell that called it.
    setsid dockerd >/var/log/pgsec-dockerd.log 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        log "engine answers"
        exit 0
    fi
    sleep 1
done
log "dockerd did not answer within 60 s; see /var/log/pgsec-dockerd.log:"
tail -n 20 /var/log/pgsec-dockerd.log >&2 || true
exit 1
