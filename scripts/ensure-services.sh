#!/usr/bin/env bash
# ensure-services.sh [TEST_DB] [-- COMMAND [ARG...]]
#
# PostgreSQL, Redis and NATS (with JetStream) for the tests, without ever
# weakening the machine: it
# never changes the authentication, configuration or data of a server it did
# not start, and never starts, stops or creates a system service itself. The
# only change it may make to the system is installing missing Debian packages
# (whose own scripts may create and start their default services).
#
# TEST_SERVICES picks where the tests' servers come from, for each of the three:
#   shared   the servers TEST_DATABASE_URL, TEST_REDIS_ADDR and TEST_NATS_URL
#            point at (by default the machine's, 127.0.0.1:5432 user
#            postgres, 127.0.0.1:6379 and nats://127.0.0.1:4222), used as they
#            are: PostgreSQL must let the URL's user in without a password
#            prompt, Redis must answer PING, NATS must announce JetStream. The
#            test database is created there when missing. Fails otherwise.
#   private  a throwaway PostgreSQL cluster, a redis-server without
#            persistence and a nats-server -js, in a temporary directory on
#            free loopback ports, started for COMMAND and stopped and removed
#            when it ends (also when it fails or is interrupted).
#            TEST_DATABASE_URL, TEST_REDIS_ADDR and TEST_NATS_URL are pointed
#            at them for COMMAND.
#   auto     (default) shared when usable as it is, else private.
#
# Without COMMAND it only prepares and checks the shared servers (what
# `make services` does), for running go test by hand afterwards.
#
# Environment: TEST_SERVICES, TEST_DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/TEST_DB?sslmode=disable), TEST_REDIS_ADDR
# (default 127.0.0.1:6379), TEST_NATS_URL (default nats://127.0.0.1:4222), TEST_DB (default allocation_test), WAIT_SECONDS
# (deadline for a server to answer, default 60), TMPDIR (where the private
# servers live).

# Run by sh (dash) by mistake: bash it is, before any bash syntax is read.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

TEST_SERVICES=${TEST_SERVICES:-auto}
TEST_DB=${TEST_DB:-allocation_test}
if [ "$#" -gt 0 ] && [ "$1" != -- ]; then
	TEST_DB=$1
	shift
fi
if [ "$#" -gt 0 ] && [ "$1" = -- ]; then
	shift
fi
# What is left in "$@" is the command to run.
SHARED_DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$TEST_DB?sslmode=disable}
SHARED_REDIS_ADDR=${TEST_REDIS_ADDR:-127.0.0.1:6379}
SHARED_NATS_URL=${TEST_NATS_URL:-nats://127.0.0.1:4222}
WAIT_SECONDS=${WAIT_SECONDS:-60}

log() { echo "ensure-services: $*" >&2; }
die() {
	echo "ensure-services: error: $*" >&2
	exit 1
}

# --- Packages: the one change to the system this script may make -------------

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

# --- Small helpers -------------------------------------------------------------

# Passwords in URLs are not printed.
redact() { sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

# url_with_db URL DB: the same postgres:// URL naming database DB instead.
url_with_db() {
	local scheme=${1%%://*} rest=${1#*://} query=
	if [[ "$rest" == *\?* ]]; then
		query="?${rest#*\?}"
		rest=${rest%%\?*}
	fi
	echo "$scheme://${rest%%/*}/$2$query"
}

# url_db URL: the database a postgres:// URL names.
url_db() {
	local rest=${1#*://}
	rest=${rest%%\?*}
	[[ "$rest" == */* ]] && echo "${rest#*/}"
}

# redis_pid HOST PORT: the process id of the Redis answering there (from INFO
# server), or its error line when it refuses (e.g. -NOAUTH), or nothing when
# no Redis answers. Plain bash (/dev/tcp): no redis-cli needed.
redis_pid() {
	(
		exec 3<>"/dev/tcp/$1/$2" || exit 0
		printf 'INFO server\r\n' >&3
		while IFS= read -r -t 5 line <&3; do
			line=${line%$'\r'}
			case $line in
			process_id:*) echo "${line#process_id:}" && exit 0 ;;
			-*) echo "$line" && exit 0 ;;
			esac
		done
	) 2>/dev/null || true
}

# nats_info HOST PORT: the INFO line a NATS server sends on connect (its
# JSON says whether JetStream is on), or nothing when none answers. Plain
# bash (/dev/tcp): no nats CLI needed.
nats_info() {
	(
		exec 3<>"/dev/tcp/$1/$2" || exit 0
		IFS= read -r -t 5 line <&3 && echo "${line%$'\r'}"
	) 2>/dev/null || true
}

# free_port: a loopback port nothing listens on, outside the kernel's usual
# ephemeral range (32768-60999) so outgoing connections rarely take it. A
# server may still lose a race for it; starting retries with another one.
free_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 10000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
	die "found no free port in 20000-29999"
}

# --- Shared servers: used as they are, or not at all ---------------------------

# shared_postgres_usable checks the server SHARED_DATABASE_URL names and
# creates the test database there when missing. On failure it sets
# why_not and changes nothing.
why_not=
shared_postgres_usable() {
	local maint exists err db=$DB
	command -v psql >/dev/null 2>&1 || apt_install postgresql-client
	maint=$(url_with_db "$SHARED_DATABASE_URL" postgres)
	# -w: never prompt for a password. A server that wants one is not usable
	# as it is, and we do not touch its authentication.
	if ! exists=$(PGCONNECT_TIMEOUT=5 psql -w -d "$maint" -v ON_ERROR_STOP=1 -Atc \
		"SELECT count(*) FROM pg_database WHERE datname = '$db'" 2>&1); then
		why_not=$(echo "$exists" | head -n 1)
		return 1
	fi
	if [ "$exists" = 0 ]; then
		# Another run may create it at the same time: that is fine too.
		if ! err=$(psql -w -d "$maint" -Atc "CREATE DATABASE $db" 2>&1) &&
			[ "$(psql -w -d "$maint" -Atc "SELECT count(*) FROM pg_database WHERE datname = '$db'")" != 1 ]; then
			why_not="cannot create database $db: $err"
			return 1
		fi
		log "created database $db"
	fi
}

shared_redis_usable() {
	local host=${SHARED_REDIS_ADDR%:*} port=${SHARED_REDIS_ADDR##*:} reply
	host=${host#[}
	host=${host%]}
	reply=$(redis_pid "${host:-127.0.0.1}" "$port")
	case $reply in
	'') why_not="nothing answers" ;;
	-*) why_not="answers $reply" ;;
	*) return 0 ;;
	esac
	return 1
}

# shared_nats_usable checks the first server of SHARED_NATS_URL
# (nats://[user:pass@]host[:port][,...]).
shared_nats_usable() {
	local addr=${SHARED_NATS_URL#*://} host port
	addr=${addr%%,*}
	addr=${addr##*@}
	addr=${addr%%/*}
	host=${addr%:*}
	port=${addr##*:}
	[ "$addr" != "$port" ] || port=4222
	case $(nats_info "${host:-127.0.0.1}" "$port") in
	'') why_not="nothing answers" ;;
	INFO*'"jetstream":true'*) return 0 ;;
	INFO*) why_not="answers without JetStream (nats-server -js)" ;;
	*) why_not="answers, but not as NATS" ;;
	esac
	return 1
}

# --- Private servers: ours, so ours to configure, stop and remove --------------

WORK=           # temporary directory holding the private servers
PG_BIN=         # directory of initdb, pg_ctl and postgres
PG_DATA=        # set once the private cluster runs, for cleanup
REDIS_PID=      # set once the private redis-server runs, for cleanup
NATS_PID=       # set once the private nats-server runs, for cleanup
PRIVATE_USER=   # unprivileged user running them when we are root

# exec_private replaces the current (sub)shell with a private server's
# command, run in WORK. PostgreSQL refuses to run as root, and a root-owned
# server without a password on a loopback port would lend root's powers to
# every local user, so as root it runs as an unprivileged user: postgres when
# the packages created it, else nobody. setpriv execs too, so
# `exec_private server &` leaves the server itself in $!.
exec_private() {
	cd "$WORK"
	if [ -n "$PRIVATE_USER" ]; then
		exec setpriv --reuid="$PRIVATE_USER" --regid="$(id -g "$PRIVATE_USER")" --init-groups -- "$@"
	fi
	exec "$@"
}
as_private() { (exec_private "$@"); }

make_workdir() {
	[ -z "$WORK" ] || return 0
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/allocation-test-services.XXXXXX")
	trap cleanup EXIT
	# On a signal, exit, which runs cleanup (bash runs the EXIT trap then).
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [ "$(id -u)" -eq 0 ]; then
		if id postgres >/dev/null 2>&1; then PRIVATE_USER=postgres; else PRIVATE_USER=nobody; fi
		chown "$PRIVATE_USER:$(id -g "$PRIVATE_USER")" "$WORK"
		as_private test -w "$WORK" ||
			die "$PRIVATE_USER cannot write $WORK; point TMPDIR at a directory it can reach"
	fi
}

# wait_until DEADLINE_SECONDS CHECK...: bounded polling, true once CHECK is.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}

# stop_private_server NAME PID: stops the server PID (none when empty).
stop_private_server() {
	[ -n "$2" ] || return 0
	kill -TERM "$2" 2>/dev/null
	wait_until 10 not_running "$2" || kill -KILL "$2" 2>/dev/null
	wait "$2" 2>/dev/null
	log "stopped the private $1"
}

cleanup() {
	local status=$?
	set +e
	# No persistence configured in redis-server, and nats-server's store is in
	# WORK, removed below: SIGTERM loses nothing.
	stop_private_server redis-server "$REDIS_PID"
	stop_private_server nats-server "$NATS_PID"
	if [ -n "$PG_DATA" ]; then
		as_private "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_private "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop >/dev/null 2>&1
		log "stopped the private PostgreSQL cluster"
	fi
	if [ -n "$WORK" ]; then
		rm -rf "$WORK"
		log "removed $WORK"
	fi
	exit "$status"
}

not_running() { ! kill -0 "$1" 2>/dev/null; }

# pg_bindir: the newest installed PostgreSQL server's binaries (Debian keeps
# them off PATH, under /usr/lib/postgresql/VERSION/bin), else initdb's on PATH.
pg_bindir() {
	local dir
	for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
		if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
			echo "$dir"
			return
		fi
	done
	command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)"
}

start_private_postgres() {
	local password port db=$DB
	PG_BIN=$(pg_bindir) || true
	if [ -z "$PG_BIN" ]; then
		# Debian's package also creates (and may start) its own cluster "main":
		# part of installing it; this script leaves that cluster alone.
		apt_install postgresql
		PG_BIN=$(pg_bindir) || die "no initdb after installing postgresql"
	fi
	command -v psql >/dev/null 2>&1 || apt_install postgresql-client
	make_workdir
	# A random password rather than trust: other local users can reach the
	# port while the tests run.
	password=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
	as_private sh -c 'umask 077 && cat > pwfile' <<<"$password"
	as_private "$PG_BIN/initdb" -D "$WORK/pgdata" -U postgres --pwfile="$WORK/pwfile" \
		-A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$WORK/initdb.log" 2>&1 ||
		die "initdb failed: $(tail -n 5 "$WORK/initdb.log")"
	rm -f "$WORK/pwfile"
	# Loopback TCP only; the socket in our directory, not the system's.
	printf "listen_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\n" "$WORK" \
		>>"$WORK/pgdata/postgresql.conf"
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		if as_private "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/postgres.log" -o "-p $port" \
			-w -t "$WAIT_SECONDS" start >/dev/null 2>&1; then
			PG_DATA=$WORK/pgdata
			break
		fi
		grep -q 'could not bind' "$WORK/postgres.log" ||
			die "private PostgreSQL did not start: $(tail -n 5 "$WORK/postgres.log")"
	done
	[ -n "$PG_DATA" ] || die "private PostgreSQL found no free port"
	TEST_DATABASE_URL="postgres://postgres:$password@127.0.0.1:$port/$db?sslmode=disable"
	psql -w -d "$(url_with_db "$TEST_DATABASE_URL" postgres)" -q \
		-c "CREATE DATABASE $db" || die "could not create database $db in the private cluster"
}

# start_private_server NAME PID_VAR IS_OURS BUSY LAUNCH: LAUNCH PORT runs the
# server in the foreground of a background job (not --daemonize), so that $!,
# kept in PID_VAR for cleanup, is the server and a failed start shows as its
# exit; a port another process took first (BUSY in WORK/NAME.log) is retried.
# Sets PRIVATE_PORT.
start_private_server() {
	local name=$1 pid_var=$2 is_ours=$3 busy=$4 launch=$5 port
	for _ in 1 2 3 4 5; do
		port=$(free_port)
		"$launch" "$port" >/dev/null 2>&1 &
		printf -v "$pid_var" %s "$!"
		wait_until "$WAIT_SECONDS" up_or_gone "$pid_var" "$is_ours" "$port" ||
			die "private $name did not answer within ${WAIT_SECONDS}s"
		if "$is_ours" "$port"; then
			PRIVATE_PORT=$port
			return
		fi
		wait "${!pid_var}" || true
		printf -v "$pid_var" %s ""
		grep -q "$busy" "$WORK/$name.log" ||
			die "private $name did not start: $(tail -n 5 "$WORK/$name.log")"
	done
	die "private $name found no free port"
}
up_or_gone() { not_running "${!1}" || "$2" "$3"; }

# Our redis-server, not another one that got the port first, must answer.
redis_is_ours() { [ "$(redis_pid 127.0.0.1 "$1")" = "$REDIS_PID" ]; }
# No config file: the system's redis.conf is not ours. No RDB snapshots, no AOF.
launch_redis() {
	exec_private redis-server --bind 127.0.0.1 --port "$1" --save '' --appendonly no \
		--dir "$WORK" --logfile "$WORK/redis-server.log" --daemonize no
}

start_private_redis() {
	command -v redis-server >/dev/null 2>&1 || apt_install redis-server
	make_workdir
	start_private_server redis-server REDIS_PID redis_is_ours 'already in use' launch_redis
	TEST_REDIS_ADDR=127.0.0.1:$PRIVATE_PORT
}

# Our nats-server, named NATS_NAME, not another one that got the port first,
# must answer.
NATS_NAME=allocation-test-$$
nats_is_ours() { [[ "$(nats_info 127.0.0.1 "$1")" == *"\"server_name\":\"$NATS_NAME\""*'"jetstream":true'* ]]; }
# No config file: the system's is not ours. JetStream stores in WORK.
launch_nats() {
	exec_private nats-server -js -a 127.0.0.1 -p "$1" -n "$NATS_NAME" -sd "$WORK/nats" \
		-l "$WORK/nats-server.log"
}

start_private_nats() {
	command -v nats-server >/dev/null 2>&1 || apt_install nats-server
	make_workdir
	start_private_server nats-server NATS_PID nats_is_ours 'address already in use' launch_nats
	TEST_NATS_URL=nats://127.0.0.1:$PRIVATE_PORT
}

# --- Which path ------------------------------------------------------------------

case $TEST_SERVICES in
shared | private | auto) ;;
*) die "TEST_SERVICES must be shared, private or auto, not '$TEST_SERVICES'" ;;
esac
case $SHARED_DATABASE_URL in
postgres://* | postgresql://*) ;;
*) die "TEST_DATABASE_URL must be a postgres:// URL" ;;
esac
# The test database: the one TEST_DATABASE_URL names, on either path.
DB=$(url_db "$SHARED_DATABASE_URL") || die "TEST_DATABASE_URL names no database"
[[ "$DB" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "invalid database name in TEST_DATABASE_URL: $DB"
if [ "$#" -eq 0 ] && [ "$TEST_SERVICES" = private ]; then
	die "private servers live as long as the command they serve: give one, e.g. $0 $TEST_DB -- go test ./..."
fi

# choose NAME CHECK: shared or private for one server (in $path), by
# TEST_SERVICES and, unless that forces one, whether CHECK finds the shared
# server usable as it is.
choose() {
	path=private
	[ "$TEST_SERVICES" != private ] || return 0
	if "$2"; then
		path=shared
	elif [ "$TEST_SERVICES" = shared ]; then
		die "TEST_SERVICES=shared, but the shared $1 is not usable as it is ($why_not). It stays as it is: use TEST_SERVICES=private or auto, or point TEST_DATABASE_URL / TEST_REDIS_ADDR / TEST_NATS_URL elsewhere"
	elif [ "$has_command" ]; then
		log "the shared $1 is not usable as it is ($why_not): a private one serves this run"
	else
		log "the shared $1 is not usable as it is ($why_not)"
	fi
}

has_command=${1+yes}
choose "PostgreSQL at $(redact <<<"$SHARED_DATABASE_URL")" shared_postgres_usable
pg_path=$path
choose "Redis at $SHARED_REDIS_ADDR" shared_redis_usable
redis_path=$path
choose "NATS at $(redact <<<"$SHARED_NATS_URL")" shared_nats_usable
nats_path=$path

if [ -z "$has_command" ]; then
	# Nothing to serve: only report on the shared servers.
	if [ "$pg_path" != shared ] || [ "$redis_path" != shared ] || [ "$nats_path" != shared ]; then
		die "they stay as they are; make test, or $0 $TEST_DB -- COMMAND, starts private ones for the run"
	fi
	log "shared PostgreSQL, Redis and NATS are ready"
	exit 0
fi

TEST_DATABASE_URL=$SHARED_DATABASE_URL
TEST_REDIS_ADDR=$SHARED_REDIS_ADDR
TEST_NATS_URL=$SHARED_NATS_URL
[ "$pg_path" = shared ] || start_private_postgres
[ "$redis_path" = shared ] || start_private_redis
[ "$nats_path" = shared ] || start_private_nats
# The broker fault tests start servers of their own, whichever serve the rest.
command -v nats-server >/dev/null 2>&1 || apt_install nats-server
export TEST_DATABASE_URL TEST_REDIS_ADDR TEST_NATS_URL
log "PostgreSQL: $pg_path, $(redact <<<"$TEST_DATABASE_URL")"
log "Redis: $redis_path, $TEST_REDIS_ADDR"
log "NATS: $nats_path, $(redact <<<"$TEST_NATS_URL")${WORK:+ (private servers in $WORK)}"

# Not exec: cleanup runs after the command, whatever its outcome.
status=0
"$@" || status=$?
exit "$status"
