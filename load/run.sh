#!/usr/bin/env bash
# Load test of the adapter against its embedded Spine sandbox, on loopback only. See load/README.md.
#
# Measures the adapter side by side, in one run, with what it should be compared with, because
# absolute figures drift on a shared 2-core machine:
#   hit    the same patient search again and again (answer cache on, authentication and audit on)
#          against `baseline static`, a plain Go server sending the same bytes;
#   miss   the same search with the caches off (EPS_CACHE_TTL=0), one Spine search per request,
#          against `baseline passthrough`, a plain Go proxy making the same Spine search over mTLS;
#          (SPINE_DETAILED_INTERACTIONS=false, so that the adapter too makes that one call and not the
#          111 item summary beside it), once with the entry memo (Spine's records are unchanged, so nothing is mapped again) and
#          once without it (EPS_MEMO_TTL=0: every request maps and marshals);
#   audit  the hit again with the audit trail off (EPS_AUDIT_DSN=off, sandbox only), to show what a
#          durable audit record per request costs, and how many records each commit carried;
#   read, metadata, spread as before.
# Every server listens on 127.0.0.1 only, every run is bounded in time, and everything made lives in
# a temporary folder removed on exit.
set -euo pipefail

DURATION=${DURATION:-10s}          # per scenario
CONNECTIONS=${CONNECTIONS:-32}     # concurrent keep-alive connections
WIDE=${WIDE:-500}                  # connections for the added-latency comparison
THREADS=${THREADS:-2}              # wrk threads
PATIENTS=${PATIENTS:-100000}       # EPS_SANDBOX_PATIENTS
SPREAD=${SPREAD:-5000}             # generated patients the spread scenario cycles through
SCENARIOS=${SCENARIOS:-"hit miss audit read metadata spread"}

MANY_ITEMS=9990000018              # PatientManyItems: 60 line items in the default window
READ_ID=3AF2CB-C86002-0000BX-1-1   # RxAcuteDispensed, issue 1, line 1

root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/load"

if ! command -v wrk >/dev/null 2>&1; then
	if [[ "${LOAD_INSTALL:-}" == 1 || ( "${CI:-}" == true && $(id -u) == 0 ) ]] && command -v apt-get >/dev/null; then
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
	else
		echo "load: wrk is not installed (sudo apt-get install -y wrk, or LOAD_INSTALL=1 as root)" >&2
		exit 2
	fi
fi

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building"
(cd "$root" && go build -o "$work/eps-fhir-tracker" . && go build -o "$work/nhsnumbers" ./load/nhsnumbers &&
	go build -o "$work/baseline" ./load/baseline)

# start_adapter NAME [VAR=value...]: starts the adapter with its own state folder and sets $base and
# $token (the welcome's sandbox token) and $pid.
start_adapter() {
	local name=$1; shift
	mkdir -p "$work/$name"
	env EPS_FHIR_ADDR=127.0.0.1:0 EPS_ADMIN_ADDR=127.0.0.1:0 EPS_SANDBOX_PATIENTS=$PATIENTS \
		EPS_STATE_DIR="$work/$name/state" EPS_SHUTDOWN_GRACE=0s EPS_LOG_FORMAT=text "$@" \
		"$work/eps-fhir-tracker" >"$work/$name/stdout" 2>"$work/$name/log" &
	pid=$!
	pids+=("$pid")
	base=
	for _ in $(seq 300); do # 30 s
		base=$(sed -n 's/^  FHIR base: *//p' "$work/$name/stdout" 2>/dev/null || true)
		if [[ -n "$base" ]] && curl -fsS -o /dev/null --max-time 1 "${base%/FHIR/R4}/healthz" 2>/dev/null; then
			break
		fi
		base=
		kill -0 "$pid" 2>/dev/null || { echo "load: $name exited:" >&2; tail -20 "$work/$name/log" >&2; exit 1; }
		sleep 0.1
	done
	[[ -n "$base" ]] || { echo "load: $name did not answer /healthz in 30 s" >&2; exit 1; }
	case "$base" in http://127.0.0.1:*) ;; *) echo "load: refusing non-loopback $base" >&2; exit 1 ;; esac
	token=$(sed -n 's/^  Token: *TOKEN=//p' "$work/$name/stdout")
	echo "   $name: $base"
}

stop() { # pid
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

start_baseline() { # mode args... ; sets $burl and $pid
	"$work/baseline" "$@" >"$work/baseline.out" 2>&1 &
	pid=$!
	pids+=("$pid")
	burl=
	for _ in $(seq 300); do
		burl=$(sed -n 's/^URL: *//p' "$work/baseline.out")
		[[ -n "$burl" ]] && break
		sleep 0.1
	done
	[[ -n "$burl" ]] || { echo "load: baseline did not start" >&2; exit 1; }
}

check() { # url [auth]
	local code
	code=$(curl -sS -o "$work/check.body" -w '%{http_code}' --max-time 10 ${2:+-H "Authorization: Bearer $2"} "$1")
	if [[ "$code" != 200 ]]; then
		echo "load: GET $1 answered $code:" >&2; head -c 600 "$work/check.body" >&2; echo >&2; exit 1
	fi
}

declare -A RPS P99
# measure LABEL URL CONNECTIONS [token] [lua]: runs wrk, prints its summary, records req/s and p99.
measure() {
	local label=$1 url=$2 conns=$3 tok=${4:-} script=${5:-}
	local secs=${DURATION%s}; [[ "$secs" =~ ^[0-9]+$ ]] || secs=60
	local args=(-t "$THREADS" -c "$conns" -d "$DURATION" --timeout 5s --latency)
	[[ -n "$tok" ]] && args+=(-H "Authorization: Bearer $tok")
	[[ -n "$script" ]] && args+=(-s "$script")
	echo
	echo "== $label: $DURATION, $conns connections"
	timeout $((secs + 30)) wrk "${args[@]}" "$url" | tee "$work/wrk.out" | sed -n '/Latency Distribution/,$p'
	RPS[$label]=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
	P99[$label]=$(awk '$1=="99%" {print $2}' "$work/wrk.out")
}

ratio() { awk -v a="${RPS[$1]:-0}" -v b="${RPS[$2]:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

from=$(date -u -d '-28 days' +%Y%m%d); to=$(date -u +%Y%m%d)
search_path="/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C$MANY_ITEMS&_count=50&_summary=true"

for s in $SCENARIOS; do
	case "$s" in
	hit)
		start_adapter hit; ap=$pid
		check "$base$search_path" "$token"
		cp "$work/check.body" "$work/body.json"
		start_baseline static -body "$work/body.json"; sp=$pid
		measure "static server, same bytes" "$burl/" "$CONNECTIONS"
		measure "adapter cache hit" "$base$search_path" "$CONNECTIONS" "$token"
		measure "static server, same bytes, $WIDE conns" "$burl/" "$WIDE"
		measure "adapter cache hit, $WIDE conns" "$base$search_path" "$WIDE" "$token"
		stop "$sp"; stop "$ap"
		;;
	miss)
		start_adapter miss EPS_CACHE_TTL=0 SPINE_DETAILED_INTERACTIONS=false
		check "$base$search_path" "$token"
		ap=$pid
		start_baseline passthrough -patients "$PATIENTS"; bp=$pid
		check "$burl/?nhsNumber=$MANY_ITEMS&earliestDate=$from&latestDate=$to"
		measure "passthrough proxy, same Spine search" "$burl/?nhsNumber=$MANY_ITEMS&earliestDate=$from&latestDate=$to" "$CONNECTIONS"
		measure "adapter cache miss" "$base$search_path" "$CONNECTIONS" "$token"
		stop "$ap"
		# The same with the entry memo off too: every request maps and marshals Spine's answer afresh.
		start_adapter fresh EPS_CACHE_TTL=0 EPS_MEMO_TTL=0 SPINE_DETAILED_INTERACTIONS=false; ap=$pid
		check "$base$search_path" "$token"
		measure "adapter cache miss, memo off" "$base$search_path" "$CONNECTIONS" "$token"
		stop "$bp"; stop "$ap"
		;;
	audit)
		start_adapter noaudit EPS_AUDIT_DSN=off
		check "$base$search_path" "$token"
		measure "adapter cache hit, audit off" "$base$search_path" "$CONNECTIONS" "$token"
		stop "$pid"
		;;
	read)
		start_adapter read
		check "$base/MedicationRequest/$READ_ID" "$token"
		measure "read MedicationRequest (cache on)" "$base/MedicationRequest/$READ_ID" "$CONNECTIONS" "$token"
		stop "$pid"
		;;
	metadata)
		start_adapter metadata
		check "$base/metadata"
		measure "metadata (no Spine, no token)" "$base/metadata" "$CONNECTIONS"
		stop "$pid"
		;;
	spread)
		start_adapter spread
		"$work/nhsnumbers" -patients "$PATIENTS" -n "$SPREAD" >"$work/nhs.txt"
		sed "s|@NHS_FILE@|$work/nhs.txt|" "$here/spread.lua" >"$work/spread.lua"
		first="$base/MedicationRequest?patient:identifier=https://fhir.nhs.uk/Id/nhs-number%7C$(head -1 "$work/nhs.txt")&_count=50&_summary=true"
		check "$first" "$token"
		measure "search over $SPREAD generated patients" "$first" "$CONNECTIONS" "$token" "$work/spread.lua"
		stop "$pid"
		;;
	*) echo "load: unknown scenario $s" >&2; exit 2 ;;
	esac
done

echo
echo "== summary (requests/s; ratios against the plain Go servers in this same run)"
for k in "${!RPS[@]}"; do printf '   %-45s %10s req/s   p99 %s\n' "$k" "${RPS[$k]}" "${P99[$k]:-}"; done | sort
[[ -n "${RPS[adapter cache hit]:-}" ]] && echo "   cache hit / static server:          $(ratio 'adapter cache hit' 'static server, same bytes')"
[[ -n "${RPS[adapter cache miss]:-}" ]] && echo "   cache miss / passthrough proxy:     $(ratio 'adapter cache miss' 'passthrough proxy, same Spine search')"
[[ -n "${RPS[adapter cache miss, memo off]:-}" ]] && echo "   cache miss, memo off / passthrough:  $(ratio 'adapter cache miss, memo off' 'passthrough proxy, same Spine search')"
[[ -n "${RPS[adapter cache hit, audit off]:-}" ]] && echo "   hit with audit / hit without audit: $(ratio 'adapter cache hit' 'adapter cache hit, audit off')"
if [[ -n "${P99[adapter cache hit, $WIDE conns]:-}" ]]; then
	echo "   p99 at $WIDE connections: adapter hit ${P99[adapter cache hit, $WIDE conns]}, static ${P99[static server, same bytes, $WIDE conns]}"
fi
if [[ -f "$work/hit/log" ]]; then
	echo "   audit commits (hit run): $(grep -o 'audit trail closed.*' "$work/hit/log" | head -1)"
fi
