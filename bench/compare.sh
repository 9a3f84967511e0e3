#!/usr/bin/env bash
# bench/compare.sh — hearth, Prosody and ejabberd measured side by side by
# hearth-bench on this machine, written as a table of ratios to
# docs/performance.md (issue 10).
#
#   bench/compare.sh                 # every server, every scenario, 3 runs
#   RUNS=1 SERVERS="hearth" bench/compare.sh   # a quick look
#
# Each server runs pinned to CPU 0 (taskset), hearth-bench to CPU 1, with
# the configs beside this script (same features: TLS + SCRAM-SHA-1, roster,
# offline storage, MUC; no archive, no stream management, no shaper).
# Prosody and ejabberd come from Debian's packages, installed when missing.
# Figures are medians of RUNS runs. Needs root for apt and ejabberd's user.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-"hearth prosody ejabberd"}
OUT=${OUT:-docs/performance.md}
IDLE=${IDLE:-10000}
WORK=$(mktemp -d /tmp/hearth-compare.XXXXXX)
chmod 755 "$WORK"
echo "# work directory $WORK"

need() { command -v "$1" >/dev/null 2>&1; }
if [[ " $SERVERS " == *" prosody "* ]] && ! need prosody; then apt-get install -y prosody >/dev/null; fi
if [[ " $SERVERS " == *" ejabberd "* ]] && ! need ejabberdctl; then apt-get install -y ejabberd >/dev/null; fi
# The packaged daemons are not used: stop them so that their ports and
# CPU stay free.
for svc in prosody ejabberd; do
	if need systemctl; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
	if need service; then service "$svc" stop >/dev/null 2>&1 || true; fi
done

go build -o "$WORK/hearth" ./cmd/hearth
go build -o "$WORK/hearth-bench" ./cmd/hearth-bench

# One self-signed ECDSA certificate for every server.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,DNS:conference.localhost" \
	-keyout "$WORK/cert.key" -out "$WORK/cert.crt" 2>/dev/null
cat "$WORK/cert.crt" "$WORK/cert.key" > "$WORK/cert.pem"

declare -A PORT=([hearth]=15222 [prosody]=25222 [ejabberd]=35222)
SERVER_PID=0

# start NAME DIR: starts the server, sets SERVER_PID to the process whose
# CPU and memory count (ejabberd: beam.smp).
start() {
	local name=$1 dir=$2 port=${PORT[$1]}
	mkdir -p "$dir/data"
	cp "$WORK"/cert.* "$dir/"
	case $name in
	hearth)
		sed "s|@DIR@|$dir|g; s|@PORT@|$port|g" bench/hearth.toml > "$dir/hearth.toml"
		taskset -c 0 "$WORK/hearth" serve -c "$dir/hearth.toml" > "$dir/server.log" 2>&1 &
		SERVER_PID=$!
		;;
	prosody)
		sed "s|@DIR@|$dir|g; s|@PORT@|$port|g" bench/prosody.cfg.lua > "$dir/prosody.cfg.lua"
		taskset -c 0 prosody -F --config "$dir/prosody.cfg.lua" > "$dir/server.log" 2>&1 &
		SERVER_PID=$!
		;;
	ejabberd)
		sed "s|@DIR@|$dir|g; s|@PORT@|$port|g" bench/ejabberd.yml > "$dir/ejabberd.yml"
		# Debian's ejabberdctl.cfg names the packaged config: use our own.
		echo 'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"' > "$dir/ejabberdctl.cfg"
		chown -R ejabberd:ejabberd "$dir"
		# Run as the ejabberd user with the hard file limit: run by root,
		# ejabberdctl starts the VM through su, which resets the soft
		# limit to 1024, too few for the idle scenario's sessions.
		su -s /bin/sh ejabberd -c "ulimit -n \$(ulimit -Hn); cd '$dir'; EJABBERD_CONFIG_PATH='$dir/ejabberd.yml' taskset -c 0 ejabberdctl \
			--ctl-config '$dir/ejabberdctl.cfg' --config '$dir/ejabberd.yml' --spool '$dir/data' --logs '$dir' \
			--node hearthbench@localhost start" > "$dir/server.log" 2>&1
		su -s /bin/sh ejabberd -c "ejabberdctl --ctl-config '$dir/ejabberdctl.cfg' --node hearthbench@localhost started" > /dev/null 2>&1 || true
		SERVER_PID=$(pgrep -f 'beam.smp.*hearthbench' | head -1)
		;;
	esac
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	echo "$name did not open port $port; see $dir/server.log" >&2
	return 1
}

stop() {
	local name=$1
	case $name in
	ejabberd) su -s /bin/sh ejabberd -c "ejabberdctl --ctl-config '$WORK/ejabberd-$run/ejabberdctl.cfg' --node hearthbench@localhost stop" > /dev/null 2>&1 || true ;;
	*) kill "$SERVER_PID" 2>/dev/null || true ;;
	esac
	for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || return 0; sleep 0.2; done
	kill -9 "$SERVER_PID" 2>/dev/null || true
}

# bench NAME RUN ARGS...: one hearth-bench scenario against the server.
bench() {
	local name=$1 run=$2; shift 2
	taskset -c 1 "$WORK/hearth-bench" -addr "127.0.0.1:${PORT[$name]}" -label "$name" \
		-pid "$SERVER_PID" -json "$WORK/results.jsonl" -muc conference.localhost "$@" \
		| grep '^{' | sed "s/^{/{\"run\":$run,/" >> "$WORK/runs.jsonl" || true
}

for run in $(seq "$RUNS"); do
	for name in $SERVERS; do
		echo "# run $run: $name"
		dir="$WORK/$name-$run"
		start "$name" "$dir"
		bench "$name" "$run" -scenario provision -n 500 -c 20
		bench "$name" "$run" -scenario login -n 500 -c 50
		bench "$name" "$run" -scenario chat -pairs 100 -window 10 -d 10s -settle 2s
		bench "$name" "$run" -scenario offline -m 2000 -first 401
		bench "$name" "$run" -scenario muc -k 50 -senders 1 -d 10s -first 1
		bench "$name" "$run" -scenario muc -k 200 -senders 1 -d 10s -first 201
		bench "$name" "$run" -scenario chat -pairs 10 -window 1 -d 10s -settle 2s -first 403
		bench "$name" "$run" -scenario idle -n "$IDLE" -users 500 -settle 2s
		stop "$name"
	done
done

python3 bench/report.py "$WORK/runs.jsonl" > "$OUT"
echo "# wrote $OUT (raw results in $WORK/runs.jsonl)"
