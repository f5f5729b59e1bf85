#!/usr/bin/env bash
# Build the project's PostgreSQL image without a container registry: debootstrap a
# minimal Debian of the host's release with postgresql-<major> and its pgaudit package,
# then `docker import` it as pgsec/postgres:<major>. Idempotent: skips when the tag exists.
#
# Usage: scripts/build-pg-image.sh [MAJOR]   (default: PGSEC_PG_MAJOR or 15)
set -euo pipefail

major="${1:-${PGSEC_PG_MAJOR:-15}}"
tag="pgsec/postgres:${major}"
log() { printf 'build-pg-image: %s\n' "$*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag exists; nothing to do"
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
# The mirror comes from the host's own apt sources (the first enabled entry for this
# release), else debootstrap's default; no host is named in this repository.
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

log "debootstrap ${codename} into ${root} (postgresql-${major}, pgaudit)"
debootstrap --variant=minbase \
    --include="postgresql-${major},postgresql-${major}-pgaudit,ca-certificates" \
    "$codename" "$root" ${mirror:+"$mirror"} >"$root.log" 2>&1 || {
    tail -n 30 "$root.log" >&2
    exit 1
}
rm -f "$root.log"

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
log "built $tag"
