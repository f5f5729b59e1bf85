#!/usr/bin/env bash
# The project's test command (README). Installs and starts what the tests need, then
# runs formatting, lints, docs and the whole test suite against real PostgreSQL:
# once with the container backend (required), and the testkit's own tests once more
# with the local backend.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR="${PGSEC_PG_MAJOR:-15}"
log() { printf '\n== %s\n' "$*" >&2; }

apt_install() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

log "Docker engine and the PostgreSQL image"
bash scripts/docker-up.sh
bash scripts/build-pg-image.sh "$PG_MAJOR"

log "local backend packages (server, pgaudit, psql, pgbouncer)"
apt_install "postgresql-${PG_MAJOR}" "postgresql-${PG_MAJOR}-pgaudit" postgresql-client pgbouncer

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo doc"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --quiet

log "cargo test (container backend required)"
PGSEC_TESTKIT_REQUIRE_CONTAINER=1 cargo test --workspace

log "pgsec-testkit tests with the local backend"
PGSEC_TESTKIT_BACKEND=local cargo test -p pgsec-testkit

# A second, bounded property pass with fresh random inputs over every parser (pg_hba.conf,
# postgresql.conf, hardening profiles, certificates, aclitems, libpq connection strings,
# URLs and password files) and every report renderer. PGSEC_PROPTEST_CASES deepens it
# (e.g. 4096 for a nightly run); 256 keeps it under a minute.
cases="${PGSEC_PROPTEST_CASES:-256}"
log "property pass over the parsers and renderers (PROPTEST_CASES=$cases)"
# (--workspace: the same features as the run above, so nothing is rebuilt.)
PROPTEST_CASES="$cases" cargo test --workspace \
    --test parser_fuzz --test input_props --test render_props --test parser_props

log "all green"
