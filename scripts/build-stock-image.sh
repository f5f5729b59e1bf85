#!/usr/bin/env bash
# Build a stand-in for the official `postgres:<major>` image without a container
# registry, so the testkit's container backend can be proven against what users pull:
# only a PostgreSQL server (no pgaudit, nothing of pgsec's), laid out like the official
# image:
#
#   - the server at /usr/lib/postgresql/<major>/bin, on PATH
#   - PGDATA=/var/lib/postgresql/data, PG_MAJOR=<major>
#   - ENTRYPOINT docker-entrypoint.sh, CMD postgres; the entrypoint honours
#     POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#     POSTGRES_USER (default postgres), POSTGRES_DB (default POSTGRES_USER),
#     POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD and /docker-entrypoint-initdb.d
#   - starts as root (no USER), the entrypoint drops to postgres
#
# Built as the project builds its own image: a debootstrapped Debian rootfs imported
# with `docker import` (tar with --numeric-owner: the host's user ids are not the
# rootfs's). The rootfs is the one scripts/build-pg-image.sh already made
# (exported from pgsec/postgres:<major>, built first when missing), with the pgaudit
# package purged, so this takes seconds, not another debootstrap.
#
# Usage: scripts/build-stock-image.sh MAJOR   (15, 17 or 18; default PGSEC_PG_MAJOR or 17)
# Result: pgsec/stock-postgres:<major>. Idempotent: skips when the tag exists.
set -euo pipefail
cd "$(dirname "$0")/.."

major="${1:-${PGSEC_PG_MAJOR:-17}}"
tag="pgsec/stock-postgres:${major}"
base="pgsec/postgres:${major}"
log() { printf 'build-stock-image: %s\n' "$*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag exists; nothing to do"
    exit 0
fi
start="$(date +%s)"
bash scripts/build-pg-image.sh "$major"

root="$(mktemp -d /var/tmp/pgsec-stock-rootfs.XXXXXX)"
cid=""
cleanup() {
    [ -n "$cid" ] && docker rm -f "$cid" >/dev/null 2>&1
    rm -rf "$root"
}
trap cleanup EXIT

log "exporting the rootfs of $base"
cid="$(docker create "$base")"
docker export "$cid" | tar --numeric-owner -C "$root" -x
docker rm -f "$cid" >/dev/null
cid=""

# Nothing of pgsec's: no pre-made cluster, no pgaudit, no kit environment.
rm -rf "$root/var/lib/postgresql/pgsec-data"
if ! chroot "$root" dpkg --purge "postgresql-${major}-pgaudit" >/dev/null 2>&1; then
    log "dpkg --purge failed; removing pgaudit's files by hand"
    rm -f "$root/usr/lib/postgresql/${major}/lib/pgaudit.so" \
        "$root/usr/share/postgresql/${major}/extension/pgaudit"*
fi
if find "$root/usr/lib/postgresql" -name 'pgaudit*' | grep -q .; then
    log "pgaudit is still in the rootfs; refusing to build a 'stock' image with it"
    exit 1
fi
[ -x "$root/usr/lib/postgresql/${major}/bin/postgres" ] || {
    log "no server binary in $base"
    exit 1
}

# The official image's directories: PGDATA (a volume there), the socket directory.
install -d -m 1777 "$root/var/lib/postgresql/data"
install -d -m 3777 "$root/var/run/postgresql"
install -d -m 0755 "$root/docker-entrypoint-initdb.d"
chroot "$root" chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql

cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/usr/bin/env bash
# A small docker-entrypoint.sh with the official postgres image's conventions.
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi

if [ "$1" = 'postgres' ] && [ "$(id -u)" = '0' ]; then
    mkdir -p "$PGDATA"
    chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [ "$1" = 'postgres' ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_USER:=postgres}"
    : "${POSTGRES_DB:=$POSTGRES_USER}"
    : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
        echo 'Error: Database is uninitialized and superuser password is not specified.' >&2
        echo '       Specify a non-empty POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust).' >&2
        exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
        $POSTGRES_INITDB_ARGS
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    export PGUSER="$POSTGRES_USER" PGPASSWORD="${POSTGRES_PASSWORD:-}"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
    if [ "$POSTGRES_DB" != 'postgres' ]; then
        printf 'CREATE DATABASE :"db";\n' |
            psql -v ON_ERROR_STOP=1 --dbname postgres --set db="$POSTGRES_DB"
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "running $f"; . "$f" ;;
            *.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --dbname "$POSTGRES_DB" -f "$f" ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop
    unset PGPASSWORD
    echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
ENTRYPOINT
chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*

bin="/usr/lib/postgresql/${major}/bin"
log "importing as $tag"
# (docker import takes no STOPSIGNAL; the official image's SIGINT is a detail the kit
# does not rely on: it removes its containers with `docker rm -f`.)
tar --numeric-owner -C "$root" -c . | docker import \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${bin}" \
    --change "ENV PG_MAJOR=${major}" \
    --change "ENV PGDATA=/var/lib/postgresql/data" \
    --change "VOLUME /var/lib/postgresql/data" \
    --change "WORKDIR /var/lib/postgresql" \
    --change "EXPOSE 5432" \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["postgres"]' \
    - "$tag" >/dev/null

# The entrypoint's own path works: initdb, a password, a query over TCP with SCRAM.
log "checking $tag with its own entrypoint"
cid="$(docker run -d -e POSTGRES_PASSWORD=stock-check -e POSTGRES_DB=app "$tag")"
ok=""
for _ in $(seq 1 100); do
    if docker exec -e PGPASSWORD=stock-check "$cid" \
        psql -h 127.0.0.1 -U postgres -d app -Atc 'select 1' 2>/dev/null | grep -qx 1; then
        ok=1
        break
    fi
    sleep 0.2
done
if [ -z "$ok" ]; then
    docker logs "$cid" 2>&1 | tail -n 30 >&2
    docker rm -f "$cid" >/dev/null 2>&1
    cid=""
    docker image rm "$tag" >/dev/null 2>&1 || true
    log "$tag did not answer through its own entrypoint; image removed"
    exit 1
fi
docker rm -f "$cid" >/dev/null
cid=""
log "built $tag in $(($(date +%s) - start)) s"
