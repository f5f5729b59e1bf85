#!/usr/bin/env bash
# The project's test command (README). Installs and starts what the tests need, then
# runs formatting, lints, docs and the whole test suite against real PostgreSQL:
# once with the container backend (required) on the default major, the live suites
# (parser agreement, live audit, rules by major, guard/pool, libpq options, ping,
# isolation) once more on every other major, and the testkit's own tests once more with
# the local backend and once on a stock-layout image (scripts/build-stock-image.sh).
#
#   PGSEC_PG_MAJOR         the major of the whole suite (default 17, the testkit's default)
#   PGSEC_PG_LIVE_MAJORS   the other majors the live suites run on (default "15 18";
#                          empty: none)
# Images (pgsec/postgres:<major>) are built once per machine and kept between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR="${PGSEC_PG_MAJOR:-17}"
LIVE_MAJORS="${PGSEC_PG_LIVE_MAJORS-15 18}"
# The local backend runs what the host's release packages (15 on Debian 12).
LOCAL_MAJOR=15
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

log "Docker engine and the PostgreSQL images (${PG_MAJOR} ${LIVE_MAJORS})"
bash scripts/docker-up.sh
for m in $PG_MAJOR $LIVE_MAJORS; do
    bash scripts/build-pg-image.sh "$m"
done
# A stand-in for the official postgres image (no pgaudit): the testkit's own tests run
# on it below.
bash scripts/build-stock-image.sh "$PG_MAJOR"

log "local backend packages (server, pgaudit, psql, pgbouncer)"
apt_install "postgresql-${LOCAL_MAJOR}" "postgresql-${LOCAL_MAJOR}-pgaudit" postgresql-client pgbouncer
# headless Chromium renders the HTML reports in pgsec-cli/tests/e2e/html_report.rs
apt_install chromium

log "cargo fmt --check"
cargo fmt --all --check

log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo doc"
RUSTDOCFLAGS=-Dwarnings cargo doc --workspace --no-deps --quiet

log "cargo test on PostgreSQL ${PG_MAJOR} (container backend required)"
PGSEC_PG_MAJOR="$PG_MAJOR" PGSEC_TESTKIT_REQUIRE_CONTAINER=1 cargo test --workspace

# The live suites on the other majors. --workspace keeps the features of the run above,
# so nothing is rebuilt; every server the testkit starts must run the major asked for
# (Error::MajorUnavailable otherwise), so a pass below is a pass on that major.
# (Test targets by name: parser_agreement, live_audit and rules_by_major of pgsec-core;
# pool and connect of pgsec-client; isolation of pgsec-testkit and pgsec-cli; ping of
# pgsec-cli.)
for m in $LIVE_MAJORS; do
    log "live suites on PostgreSQL ${m} (parser agreement, live audit, rules by major, guard/pool, connect, ping, isolation)"
    started="$(date +%s)"
    PGSEC_PG_MAJOR="$m" PGSEC_TESTKIT_REQUIRE_CONTAINER=1 cargo test --workspace \
        --test parser_agreement --test live_audit --test rules_by_major --test pool \
        --test connect --test ping --test isolation
    log "live suites on PostgreSQL ${m} passed in $(($(date +%s) - started)) s"
done

log "pgsec-testkit tests with the local backend (installed PostgreSQL ${LOCAL_MAJOR})"
env -u PGSEC_PG_MAJOR PGSEC_TESTKIT_BACKEND=local cargo test -p pgsec-testkit

log "pgsec-testkit's own tests on a stock-layout image (pgsec/stock-postgres:${PG_MAJOR}, no pgaudit)"
env -u PGSEC_PG_MAJOR PGSEC_TESTKIT_BACKEND=container PGSEC_TESTKIT_REQUIRE_CONTAINER=1 \
    PGSEC_TESTKIT_IMAGE="pgsec/stock-postgres:${PG_MAJOR}" cargo test -p pgsec-testkit --test kit

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
