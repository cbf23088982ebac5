#!/usr/bin/env bash
# The whole test suite: vet, every Go test with the PostgreSQL tier
# required and the btcd and geth node tiers (-tags regtest; both nodes are
# built from the Go module proxy through tools/chains), the fuzz targets
# briefly, and small ingest, RPC and Ethereum benchmark runs. A tier that
# cannot run fails the script.
#
# PostgreSQL: uses $FUNDTRACE_TEST_POSTGRES if set; else the local server on
# 127.0.0.1:5432 when it answers; else starts the machine's cluster if it is
# down; else creates a throw-away cluster (installing the server from
# Debian's packages if needed). It fails, never skips, when none works.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*" >&2; }
PG_TMP=""
cleanup() {
  if [[ -n "$PG_TMP" && -d "$PG_TMP/data" ]]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}
trap cleanup EXIT

pg_answers() { # URL
  command -v psql >/dev/null 2>&1 || return 1
  psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

pg_bin_dir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" ]] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_postgres() {
  if [[ -n "${FUNDTRACE_TEST_POSTGRES:-}" ]]; then
    pg_answers "$FUNDTRACE_TEST_POSTGRES" || { log "FUNDTRACE_TEST_POSTGRES does not answer"; return 1; }
    return 0
  fi
  local local_url='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'
  if pg_answers "$local_url"; then
    export FUNDTRACE_TEST_POSTGRES="$local_url"; log "PostgreSQL: local server on 127.0.0.1:5432"; return 0
  fi
  if command -v pg_lsclusters >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    local ver
    for ver in $(pg_lsclusters -h 2>/dev/null | awk '$2=="main" && $4=="down" {print $1}'); do
      log "PostgreSQL: starting cluster $ver/main"
      pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    done
    for _ in $(seq 1 30); do
      pg_answers "$local_url" && { export FUNDTRACE_TEST_POSTGRES="$local_url"; return 0; }
      sleep 1
    done
  fi
  if ! PG_BIN=$(pg_bin_dir); then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
      log "PostgreSQL: installing the server from Debian's packages"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      PG_BIN=$(pg_bin_dir) || return 1
    else
      log "no PostgreSQL server binaries and cannot install them"; return 1
    fi
  fi
  # A throw-away cluster on a free port, run as the postgres user.
  PG_TMP=$(mktemp -d /tmp/fundtrace-pg.XXXXXX)
  chown postgres "$PG_TMP"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  log "PostgreSQL: throw-away cluster in $PG_TMP on port $port"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust -E UTF8 >/dev/null
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/pg.log" -w -o \
    "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
  export FUNDTRACE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  pg_answers "$FUNDTRACE_TEST_POSTGRES"
}

ensure_postgres || { log "FAIL: PostgreSQL tier cannot run"; exit 1; }
export FUNDTRACE_TEST_REQUIRE_POSTGRES=1

log "btcd from the Go module proxy (tools/chains) for the node tier"
go build -modfile=tools/chains/go.mod -o .bin/ github.com/btcsuite/btcd
export FUNDTRACE_BTCD="$PWD/.bin/btcd"
"$FUNDTRACE_BTCD" --version >&2 || { log "FAIL: btcd does not run"; exit 1; }

log "geth from the Go module proxy (tools/chains) for the Ethereum node tier"
go build -modfile=tools/chains/go.mod -o .bin/ github.com/ethereum/go-ethereum/cmd/geth
export FUNDTRACE_GETH="$PWD/.bin/geth"
"$FUNDTRACE_GETH" version >&2 || { log "FAIL: geth does not run"; exit 1; }

log "go vet (with and without the regtest tag)"
go vet ./...
go vet -tags regtest ./...

log "fuzz targets (short runs; corpora in testdata/fuzz)"
fuzz() { # package target
  local args=(-run='^$' -fuzz="^$2\$" -fuzztime="${FUZZTIME:-8s}" -fuzzminimizetime=2s "$1")
  local out
  if out=$(go test "${args[@]}" 2>&1); then return 0; fi
  if [[ -n $(git status --porcelain -- "$1/testdata/fuzz" 2>/dev/null) ]]; then
    printf '%s\n' "$out" >&2
    log "FAIL: $2 found an input that fails (saved under $1/testdata/fuzz)"
    return 1
  fi
  # No crasher saved: the fuzzing engine itself failed (a worker stalled on
  # a loaded machine). Show why, and try once more.
  printf '%s\n' "$out" | tail -5 >&2
  log "$2: fuzzing engine failed without a failing input; retrying once"
  go test "${args[@]}"
}
fuzz ./chains/bitcoin FuzzDecodeBlock
fuzz ./chains/bitcoin FuzzDecodeTx
fuzz ./chains/bitcoin FuzzClassifyScript
fuzz ./chains/bitcoin FuzzParseAddress
fuzz ./chains/bitcoin FuzzBlockDir
fuzz ./chains/bitcoin FuzzRPCResponse
fuzz ./chains/bitcoin FuzzEsploraReply
fuzz ./chains/endpoint FuzzSnippet
fuzz ./chains/endpoint FuzzRetryAfter
fuzz ./chains/ethereum FuzzParseAddress
fuzz ./chains/ethereum FuzzDecodeToken
fuzz ./chains/ethereum FuzzExtract
fuzz ./chains/ethereum FuzzRPCReply
fuzz ./heuristics/cluster FuzzDetectCoinJoin

log "bench ingest (small; the full 1M-tx run is: fundtrace bench ingest --db URL)"
go run ./cmd/fundtrace bench ingest --db "$FUNDTRACE_TEST_POSTGRES" --blocks 140 --txs-per-block 300

log "bench rpc (small; index from a btcd node over JSON-RPC against fetching its raw blocks)"
go run ./cmd/fundtrace bench rpc --db "$FUNDTRACE_TEST_POSTGRES" --txs 3000 --txs-per-block 300 --follow-blocks 5 --follow-txs 100

log "bench eth (small; index from geth --dev over JSON-RPC against fetching its blocks, receipts and traces)"
go run ./cmd/fundtrace bench eth --db "$FUNDTRACE_TEST_POSTGRES" --rounds 8

log "bench cluster (small; the cluster stage and our union-find against a bare one over the same merges)"
go run ./cmd/fundtrace bench cluster --db "$FUNDTRACE_TEST_POSTGRES" --blocks 120 --txs-per-block 300

log "go test, last so its summary closes the log: fast tier + PostgreSQL tier + btcd and geth node tiers (-tags regtest)"
go test -tags regtest -count=1 -timeout 30m ./...

log "all tiers passed"
