#!/usr/bin/env bash
# ensure-services.sh [TEST_DB]
#
# Makes sure PostgreSQL (127.0.0.1:5432, user postgres, trust auth on
# loopback) and Redis (127.0.0.1:6379) answer, installing and starting them
# only when they do not. Services that already answer are left alone, so it
# is safe to run again and again. With a database name as argument (or
# TEST_DB in the environment) it also creates that database when missing.
#
# Environment: PG_HOST, PG_PORT, REDIS_HOST, REDIS_PORT, TEST_DB,
# WAIT_SECONDS (deadline per service, default 60), REDIS_DIR.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
TEST_DB=${1:-${TEST_DB:-}}
WAIT_SECONDS=${WAIT_SECONDS:-60}
REDIS_DIR=${REDIS_DIR:-/tmp/redis-allocation}

log() { echo "ensure-services: $*"; }
die() { echo "ensure-services: error: $*" >&2; exit 1; }

# as_root runs a command as root: directly when we are root, else through
# non-interactive sudo when there is one.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

apt_updated=
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install $* by hand"
	if [ -z "$apt_updated" ]; then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
		apt_updated=1
	fi
	log "installing $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# wait_for NAME CHECK...: retries CHECK until it succeeds or the deadline passes.
wait_for() {
	local name=$1
	shift
	local deadline=$((SECONDS + WAIT_SECONDS))
	until "$@"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			die "$name did not answer within ${WAIT_SECONDS}s"
		fi
		sleep 0.5
	done
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# --- PostgreSQL -------------------------------------------------------------

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }
# -w: never prompt for a password; failing means trust auth is not set up.
pg_query() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -w -d postgres -v ON_ERROR_STOP=1 -Atc "$1"; }
pg_trusts_us() { pg_query 'SELECT 1' >/dev/null 2>&1; }

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

pg_start_local_cluster() {
	local version
	version=$(pg_version)
	[ -n "$version" ] || die "no cluster under /etc/postgresql"
	if [ ! -d "/etc/postgresql/$version/main" ]; then
		log "creating PostgreSQL $version cluster main"
		as_root pg_createcluster "$version" main >/dev/null
	fi
	log "starting PostgreSQL $version cluster main"
	as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

# pg_trust_loopback puts trust rules for loopback TCP first in pg_hba.conf
# (the first matching rule wins) and reloads. Only for a local development
# cluster, and only when trust does not work yet.
pg_trust_loopback() {
	local version hba
	version=$(pg_version)
	hba="/etc/postgresql/$version/main/pg_hba.conf"
	[ -f "$hba" ] || die "PostgreSQL refuses user postgres without password and $hba is not there to fix"
	log "allowing trust auth on 127.0.0.1 and ::1 in $hba"
	as_root cp "$hba" "$hba.before-ensure-services"
	as_root sh -c "printf '%s\n%s\n' 'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust' | cat - '$hba.before-ensure-services' > '$hba'"
	as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
}

ensure_postgres() {
	if ! command -v pg_isready >/dev/null 2>&1 || ! command -v psql >/dev/null 2>&1; then
		if tcp_open "$PG_HOST" "$PG_PORT"; then
			# A server answers already (another install, a container): only
			# the client tools are missing.
			apt_install postgresql-client
		else
			apt_install postgresql
		fi
	fi
	if pg_ready; then
		log "PostgreSQL already answers on $PG_HOST:$PG_PORT"
	else
		command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
		pg_start_local_cluster
		wait_for "PostgreSQL on $PG_HOST:$PG_PORT" pg_ready
		log "PostgreSQL answers on $PG_HOST:$PG_PORT"
	fi
	if ! pg_trusts_us; then
		pg_trust_loopback
		wait_for "PostgreSQL trust auth for user postgres" pg_trusts_us
	fi
	log "PostgreSQL accepts user postgres without password"
}

ensure_database() {
	local db=$1
	[[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "invalid database name: $db"
	if [ "$(pg_query "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ]; then
		log "database $db exists"
		return
	fi
	# Another run may create it at the same time: check again on failure.
	if createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres -w "$db" 2>/dev/null ||
		[ "$(pg_query "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ]; then
		log "database $db created"
	else
		die "could not create database $db"
	fi
}

# --- Redis ------------------------------------------------------------------

redis_ready() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

ensure_redis() {
	command -v redis-cli >/dev/null 2>&1 || apt_install redis-tools
	if redis_ready; then
		log "Redis already answers on $REDIS_HOST:$REDIS_PORT"
		return
	fi
	command -v redis-server >/dev/null 2>&1 || apt_install redis-server
	# A private directory: Redis may write files there (no persistence is
	# configured, but the working directory must be writable and not shared).
	mkdir -p "$REDIS_DIR"
	chmod 700 "$REDIS_DIR"
	log "starting redis-server on $REDIS_HOST:$REDIS_PORT (log $REDIS_DIR/redis.log)"
	redis-server --daemonize yes --bind "$REDIS_HOST" -::1 --port "$REDIS_PORT" \
		--save "" --appendonly no --dir "$REDIS_DIR" --logfile "$REDIS_DIR/redis.log"
	wait_for "Redis on $REDIS_HOST:$REDIS_PORT" redis_ready
	log "Redis answers on $REDIS_HOST:$REDIS_PORT"
}

ensure_postgres
if [ -n "$TEST_DB" ]; then
	ensure_database "$TEST_DB"
fi
ensure_redis
