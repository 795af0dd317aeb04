#!/usr/bin/env bash
# Real-Jaeger check (issue 6): builds Jaeger v2 (cached by version), starts it on 127.0.0.1 with
# .ci/jaeger/config.yaml, starts the adapter exporting to it over OTLP, sends a search (miss), the
# same search (hit), a read and a fault patient, then asks Jaeger's query API for every trace and
# checks the expected spans and attributes and that no identifier appears anywhere in them.
#
#   .ci/jaeger.sh          build (or reuse) Jaeger, then run the check against the adapter
#   .ci/jaeger.sh selftest the same against a stand-in adapter (.ci/jaeger/check demo), which proves
#                          the Jaeger half (build, config, OTLP, query API, checks) on its own
#   .ci/jaeger.sh build    build (or reuse) Jaeger only, print the binary's path
#   .ci/jaeger.sh serve    run Jaeger in the foreground for local use (see docs/telemetry.md)
#
# Bounded: each wait has a deadline, and the run is killed after CHECK_TIMEOUT seconds (the one-off
# Jaeger build, before it, is not counted).
# Kept out of `go test ./...`; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

JAEGER_VERSION=v1.76.0
CACHE_DIR=${EPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eps-fhir-tracker}
JAEGER_BIN=$CACHE_DIR/jaeger-$JAEGER_VERSION/jaeger
CHECK_TIMEOUT=${CHECK_TIMEOUT:-300}
SERVICE=${SERVICE:-eps-fhir-tracker-ci}

log() { echo "== $*" >&2; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# build_jaeger builds cmd/jaeger through a throwaway wrapper module and caches the binary keyed by
# version, so only the first run pays the ~3.5 minutes.
build_jaeger() {
  if [ -x "$JAEGER_BIN" ]; then return 0; fi
  log "building Jaeger $JAEGER_VERSION (first run only, a few minutes)"
  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  cp "$ROOT/.ci/jaeger/wrapper/go.mod" "$work/go.mod"
  local dir
  dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -f "$dir/go.sum" ] || fail "could not download Jaeger $JAEGER_VERSION"
  # Jaeger's own go.sum seeds the checksums for the versions it was released with.
  cp "$dir/go.sum" "$work/go.sum"
  chmod u+w "$work/go.sum"
  mkdir -p "$(dirname "$JAEGER_BIN")"
  (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$JAEGER_BIN.tmp" \
    github.com/jaegertracing/jaeger/cmd/jaeger) || fail "Jaeger build failed"
  mv "$JAEGER_BIN.tmp" "$JAEGER_BIN"
}

MODE=${1:-check}
case "$MODE" in
  build) build_jaeger; echo "$JAEGER_BIN"; exit 0 ;;
  serve) build_jaeger; exec "$JAEGER_BIN" --config "$ROOT/.ci/jaeger/config.yaml" ;;
  check | selftest) ;;
  *) echo "usage: $0 [check|selftest|build|serve]" >&2; exit 2 ;;
esac

build_jaeger
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# The whole run is bounded: a watchdog ends the script if anything hangs, and takes its sleep with it
# when cleanup stops it first.
(
  trap 'kill "$s" 2>/dev/null; exit 0' TERM
  sleep "$CHECK_TIMEOUT" & s=$!
  wait "$s" && echo "FAIL: timed out after ${CHECK_TIMEOUT}s" >&2 && kill -TERM $$
) &
PIDS+=($!)

log "building the check tool and the adapter"
go build -o "$WORK/check" ./.ci/jaeger/check
go build -o "$WORK/adapter" .
mapfile -t PORT < <("$WORK/check" ports 7)
export JAEGER_OTLP_GRPC_ADDR=127.0.0.1:${PORT[0]} JAEGER_OTLP_HTTP_ADDR=127.0.0.1:${PORT[1]}
export JAEGER_QUERY_ADDR=127.0.0.1:${PORT[2]} JAEGER_QUERY_GRPC_ADDR=127.0.0.1:${PORT[3]}
export JAEGER_HEALTH_ADDR=127.0.0.1:${PORT[4]}
FHIR_ADDR=127.0.0.1:${PORT[5]}
ADMIN_ADDR=127.0.0.1:${PORT[6]}

log "starting Jaeger $JAEGER_VERSION (query API http://$JAEGER_QUERY_ADDR)"
"$JAEGER_BIN" --config "$ROOT/.ci/jaeger/config.yaml" >"$WORK/jaeger.log" 2>&1 &
PIDS+=($!)
"$WORK/check" wait -timeout 60s "http://$JAEGER_HEALTH_ADDR/status" ||
  { tail -30 "$WORK/jaeger.log" >&2; fail "Jaeger did not become healthy"; }

# The adapter exports over OTLP/gRPC; always_on so every request of the check is traced whatever the
# caller's flags. Request and Spine timeouts stay short so a fault patient cannot stall the run.
export OTEL_EXPORTER_OTLP_ENDPOINT=http://$JAEGER_OTLP_GRPC_ADDR OTEL_EXPORTER_OTLP_PROTOCOL=grpc
export OTEL_SERVICE_NAME=$SERVICE OTEL_TRACES_SAMPLER=always_on OTEL_TRACES_EXPORTER=otlp
TOKEN=
if [ "$MODE" = selftest ]; then
  log "starting the stand-in adapter on $FHIR_ADDR (self-test of the Jaeger half)"
  "$WORK/check" demo -addr "$FHIR_ADDR" >"$WORK/adapter.log" 2>&1 &
  PIDS+=($!)
  HEALTH=http://$FHIR_ADDR/FHIR/R4/MedicationRequest?patient=9691003147
else
  log "starting the adapter on $FHIR_ADDR"
  # Its own state folder (sandbox issuer key, audit database), so runs never share or leave state.
  export EPS_STATE_DIR=$WORK/state
  EPS_FHIR_ADDR=$FHIR_ADDR EPS_ADMIN_ADDR=$ADMIN_ADDR EPS_LOG_FORMAT=json \
    "$WORK/adapter" >"$WORK/adapter.log" 2>&1 &
  PIDS+=($!)
  HEALTH=http://$FHIR_ADDR/healthz
fi
"$WORK/check" wait -timeout 60s "$HEALTH" ||
  { tail -30 "$WORK/adapter.log" >&2; fail "the adapter did not start"; }
if [ "$MODE" = check ]; then
  # Authentication: a token from the sandbox issuer (after the adapter made its key), when the adapter
  # has the command; without it the requests go unauthenticated.
  if TOKEN=$(EPS_FHIR_ADDR=$FHIR_ADDR "$WORK/adapter" token --user 555555555555 --role 666666666666 2>"$WORK/token.err"); then
    TOKEN=$(printf '%s' "$TOKEN" | tail -n 1)
  else
    TOKEN=
  fi
fi

log "sending a search (miss), the same search (hit), a read and a fault patient"
if ! "$WORK/check" run -fhir "http://$FHIR_ADDR" -jaeger "http://$JAEGER_QUERY_ADDR" \
  -service "$SERVICE" -token "$TOKEN" -timeout 60s; then
  echo "--- adapter log (last 20 lines)" >&2; tail -20 "$WORK/adapter.log" >&2
  fail "traces in Jaeger are not as expected"
fi
log "OK: Jaeger check passed"
