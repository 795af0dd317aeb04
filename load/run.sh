#!/usr/bin/env bash
# Load test of the adapter against its embedded Spine sandbox, on loopback only. See load/README.md.
#
# Builds the binary, starts it on a free 127.0.0.1 port with generated sandbox patients, waits for
# /healthz, runs each scenario for a bounded time with a fixed number of connections, prints the
# load tool's summary and stops the server. Everything it makes lives in a temporary directory that
# is removed on exit.
set -euo pipefail

DURATION=${DURATION:-10s}          # per scenario
CONNECTIONS=${CONNECTIONS:-32}     # concurrent keep-alive connections
THREADS=${THREADS:-2}              # wrk threads (the machine's cores is a good value)
PATIENTS=${PATIENTS:-100000}       # EPS_SANDBOX_PATIENTS
SPREAD=${SPREAD:-5000}             # generated patients scenario (d) cycles through
TOOL=${LOAD_TOOL:-wrk}             # wrk (all scenarios) or hey (a, b, c only)
SCENARIOS=${SCENARIOS:-"metadata search read spread"}

# Well-known sandbox data (tracker/sandbox/patients.go).
MANY_ITEMS=9990000018              # PatientManyItems: 60 line items in the default window
READ_ID=3AF2CB-C86002-0000BX-1-1   # RxAcuteDispensed, issue 1, line 1

root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/load"

need_tool() {
	command -v "$TOOL" >/dev/null 2>&1 && return 0
	# Install only where that is clearly wanted: asked for, or a CI run as root (Debian images).
	if [[ "${LOAD_INSTALL:-}" == 1 || ( "${CI:-}" == true && $(id -u) == 0 ) ]] && command -v apt-get >/dev/null; then
		echo "load: installing $TOOL with apt-get" >&2
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$TOOL" >&2
		command -v "$TOOL" >/dev/null 2>&1 && return 0
	fi
	cat >&2 <<EOF
load: $TOOL is not installed. On Debian or Ubuntu:
    sudo apt-get update && sudo apt-get install -y $TOOL
(or run with LOAD_INSTALL=1 as root to let this script do it; LOAD_TOOL=hey uses hey instead of wrk)
EOF
	exit 2
}

case "$TOOL" in
wrk | hey) ;;
*) echo "load: LOAD_TOOL must be wrk or hey, not $TOOL" >&2; exit 2 ;;
esac
need_tool

work=$(mktemp -d)
server_pid=
cleanup() {
	if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building"
(cd "$root" && go build -o "$work/eps-fhir-tracker" . && go build -o "$work/nhsnumbers" ./load/nhsnumbers)

echo "== starting the adapter (embedded sandbox, $PATIENTS generated patients)"
# Port 0: the kernel picks a free port and the adapter prints the base it derived from it.
EPS_FHIR_ADDR=127.0.0.1:0 EPS_SANDBOX_PATIENTS=$PATIENTS GIN_MODE=release \
	"$work/eps-fhir-tracker" >"$work/stdout" 2>"$work/server.log" &
server_pid=$!

base=
for _ in $(seq 300); do # 30 s
	base=$(sed -n 's/^  FHIR base: *//p' "$work/stdout" 2>/dev/null || true)
	if [[ -n "$base" ]] && curl -fsS -o /dev/null --max-time 1 "${base%/FHIR/R4}/healthz" 2>/dev/null; then
		break
	fi
	base=
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "load: the adapter exited:" >&2; tail -20 "$work/server.log" >&2; exit 1
	fi
	sleep 0.1
done
if [[ -z "$base" ]]; then
	echo "load: the adapter did not answer /healthz within 30 s" >&2; tail -20 "$work/server.log" >&2; exit 1
fi
case "$base" in
http://127.0.0.1:*) ;;
*) echo "load: refusing to load anything but loopback: $base" >&2; exit 1 ;;
esac
echo "   FHIR base $base"

search_url() { echo "$base/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C$1&_count=50"; }

# Check each target once, so that a load figure never measures an error answer.
check() {
	local code
	code=$(curl -sS -o "$work/check.body" -w '%{http_code}' --max-time 10 "$1")
	if [[ "$code" != 200 ]]; then
		echo "load: GET $1 answered $code:" >&2; head -c 600 "$work/check.body" >&2; echo >&2; exit 1
	fi
	echo "   check: 200, $(wc -c <"$work/check.body") bytes"
}

# Bounded however the tool behaves: its own duration, plus a hard stop.
hard_stop() {
	local secs=${DURATION%s}
	[[ "$secs" =~ ^[0-9]+$ ]] || secs=60
	echo $((secs + 30))
}

run_one() { # name url [lua-script]
	local name=$1 url=$2 script=${3:-}
	echo
	echo "== $name: $DURATION, $CONNECTIONS connections"
	echo "   $url"
	if [[ "$TOOL" == wrk ]]; then
		local args=(-t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --timeout 5s --latency)
		[[ -n "$script" ]] && args+=(-s "$script")
		timeout "$(hard_stop)" wrk "${args[@]}" "$url"
	else
		timeout "$(hard_stop)" hey -z "$DURATION" -c "$CONNECTIONS" -t 5 "$url" |
			sed -n '/^Summary:/,/^Response time histogram:/p;/^Latency distribution:/,/^Details/p;/^Status code distribution:/,$p' |
			sed '/^Response time histogram:/d;/^Details/d;/^$/d'
	fi
}

for s in $SCENARIOS; do
	case "$s" in
	metadata)
		check "$base/metadata"
		run_one "(c) baseline: GET metadata (no Spine call)" "$base/metadata"
		;;
	search)
		check "$(search_url $MANY_ITEMS)"
		run_one "(a) patient search, PatientManyItems, _count=50 (one Spine search, 50 MedicationRequests)" "$(search_url $MANY_ITEMS)"
		;;
	read)
		check "$base/MedicationRequest/$READ_ID"
		run_one "(b) read MedicationRequest/$READ_ID (one Spine retrieve)" "$base/MedicationRequest/$READ_ID"
		;;
	spread)
		if [[ "$TOOL" != wrk ]]; then
			echo; echo "== (d) skipped: spreading requests over many patients needs wrk's scripting"
			continue
		fi
		"$work/nhsnumbers" -patients "$PATIENTS" -n "$SPREAD" >"$work/nhs.txt"
		check "$(search_url "$(head -1 "$work/nhs.txt")")"
		# wrk's request() rotates through the patients; each thread starts at its own offset.
		sed "s|@NHS_FILE@|$work/nhs.txt|" "$here/spread.lua" >"$work/spread.lua"
		run_one "(d) patient search over $SPREAD generated patients, _count=50" "$(search_url "$(head -1 "$work/nhs.txt")")" "$work/spread.lua"
		;;
	*)
		echo "load: unknown scenario $s (want metadata, search, read, spread)" >&2; exit 2 ;;
	esac
done

echo
errors=$(grep -c 'level=ERROR' "$work/server.log" || true)
echo "== done; the adapter logged $errors errors"
