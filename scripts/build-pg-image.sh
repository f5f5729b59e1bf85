#!/usr/bin/env bash
# Build the project's PostgreSQL image without a container registry: debootstrap a
# minimal Debian release that ships postgresql-<major> and its pgaudit package, then
# `docker import` it as pgsec/postgres:<major>. Idempotent: skips when the tag exists.
#
#   major  Debian suite  debootstrap script
#   15     bookworm      bookworm
#   17     trixie        trixie
#   18     forky         sid (bookworm's debootstrap has no forky script; forky is
#                        testing, laid out like sid)
#
# Every image has the same shape: a bare rootfs with the server binaries, pgaudit and CA
# certificates, user `postgres`, and one cluster made by initdb at build time in the kit's
# data directory (/var/lib/postgresql/pgsec-data; superuser pgsec_admin with no password,
# local peer and host reject). The testkit brings certificates, pg_hba.conf, settings and
# the superuser's password at start (single-user mode, before the server listens), so a
# start skips initdb, which was most of it. An image without the cluster still works: the
# kit runs initdb then. Packages come from the host's own apt mirror (the first enabled
# entry for the host's release; the same mirror serves every Debian suite), else
# debootstrap's default; no host is named in this repository.
#
# Usage: scripts/build-pg-image.sh [MAJOR]   (default: PGSEC_PG_MAJOR or 17)
# Env:   PGSEC_PG_SUITE overrides the suite (e.g. sid for 18 should forky lag behind).
set -euo pipefail

major="${1:-${PGSEC_PG_MAJOR:-17}}"
tag="pgsec/postgres:${major}"
log() { printf 'build-pg-image: %s\n' "$*" >&2; }

case "$major" in
    15) suite=bookworm script=bookworm ;;
    17) suite=trixie script=trixie ;;
    18) suite=forky script=sid ;;
    *)
        log "no Debian suite known for PostgreSQL ${major}; supported majors: 15, 17, 18"
        exit 2
        ;;
esac
if [ -n "${PGSEC_PG_SUITE:-}" ]; then
    suite="$PGSEC_PG_SUITE"
    script="$suite"
    [ -e "/usr/share/debootstrap/scripts/${script}" ] || script=sid
fi

# Adds the kit's cluster to $tag (initdb in a container from it, then `docker commit`).
add_cluster() {
    local cid
    cid="$(docker create --user postgres "$tag" initdb -D /var/lib/postgresql/pgsec-data \
        -U pgsec_admin --auth-local=peer --auth-host=reject -E UTF8 --locale=C --no-sync \
        --no-instructions)"
    if ! docker start -a "$cid" >/dev/null 2>&1; then
        docker logs "$cid" 2>&1 | tail -n 20 >&2
        docker rm -f "$cid" >/dev/null 2>&1
        log "initdb failed in $tag"
        exit 1
    fi
    docker commit --change 'CMD ["postgres", "--version"]' "$cid" "$tag" >/dev/null
    docker rm -f "$cid" >/dev/null
}

has_cluster() {
    docker run --rm --entrypoint /bin/sh "$tag" -c \
        'test -f /var/lib/postgresql/pgsec-data/PG_VERSION' >/dev/null 2>&1
}

if docker image inspect "$tag" >/dev/null 2>&1; then
    if has_cluster; then
        log "$tag exists; nothing to do"
    else
        log "$tag exists without the kit's cluster (an older build); adding it"
        add_cluster
    fi
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# shellcheck disable=SC1091
codename="$(. /etc/os-release && echo "${VERSION_CODENAME}")"
# The mirror comes from the host's own apt sources (the first enabled entry for the
# host's release), else debootstrap's default; no host is named in this repository.
mirror="$(
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -f "$f" ] || continue
            awk -v c="$codename" '$1 == "deb" { sub(/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?/, ""); if ($2 == c) print $1 }' "$f"
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -f "$f" ] || continue
            awk -v c="$codename" '
                /^[[:space:]]*$/ { if (uri != "" && suites ~ ("(^| )" c "( |$)")) print uri; uri = ""; suites = ""; next }
                /^URIs:/ { uri = $2 }
                /^Suites:/ { $1 = ""; suites = $0; sub(/^ /, "", suites) }
                END { if (uri != "" && suites ~ ("(^| )" c "( |$)")) print uri }' "$f"
        done
    } | head -n 1
)"

root="$(mktemp -d /var/tmp/pgsec-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT

script_path="/usr/share/debootstrap/scripts/${script}"
[ -e "$script_path" ] || {
    log "debootstrap has no script ${script} (${script_path}); upgrade debootstrap"
    exit 1
}
start="$(date +%s)"
log "debootstrap ${suite} (script ${script}) into ${root} (postgresql-${major}, pgaudit)"
# debootstrap's default mirror when the host names none.
debootstrap --variant=minbase \
    --include="postgresql-${major},postgresql-${major}-pgaudit,ca-certificates" \
    "$suite" "$root" "${mirror:-http://deb.debian.org/debian}" "$script_path" >"$root.log" 2>&1 || {
    tail -n 30 "$root.log" >&2
    rm -f "$root.log"
    exit 1
}
rm -f "$root.log"
[ -x "$root/usr/lib/postgresql/${major}/bin/postgres" ] || {
    log "postgresql-${major} is not in ${suite}; no server binary in the rootfs"
    exit 1
}
pgaudit_so="$(find "$root/usr/lib/postgresql/${major}/lib" -name 'pgaudit.so' | head -n 1)"
[ -n "$pgaudit_so" ] || {
    log "pgaudit.so missing from postgresql-${major}-pgaudit in ${suite}"
    exit 1
}

# The Debian package creates a cluster at install time; the kit makes its own.
rm -rf "$root/var/lib/postgresql/${major}/main" "$root/etc/postgresql/${major}/main"
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*

bin="/usr/lib/postgresql/${major}/bin"
log "importing as $tag"
tar -C "$root" -c . | docker import \
    --change "ENV PATH=${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV PGSEC_PG_MAJOR=${major}" \
    --change "USER postgres" \
    --change "WORKDIR /var/lib/postgresql" \
    --change 'CMD ["postgres", "--version"]' \
    - "$tag" >/dev/null
add_cluster
log "built $tag from ${suite} in $(($(date +%s) - start)) s"
