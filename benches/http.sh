#!/usr/bin/env bash
# `http` steps against curl, with hyperfine (apt-get install hyperfine curl).
#
#   bash benches/http.sh              # 1,000 checks, 100 at a time
#   N=2000 PAR=50 RUNS=5 bash benches/http.sh
#
# Builds steward and a tiny keep-alive HTTP server (examples/http_bench_server.rs)
# in release mode, starts the server on a free loopback port, and times one
# runbook of N independent `http` checks (`max_parallel: PAR`) against
# `xargs -P PAR curl` doing the same N requests. Prints hyperfine's table and
# the ratio of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
PAR=${PAR:-100}
RUNS=${RUNS:-10}
for tool in hyperfine curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed: apt-get install $tool" >&2; exit 2; }
done
cargo build --release --quiet --bin steward --example http_bench_server
BIN=$PWD/target/release/steward
DIR=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
mkdir -p "$DIR/runbooks"

# The server prints its port, then serves until killed (or for 15 minutes).
target/release/examples/http_bench_server --seconds 900 > "$DIR/port" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$DIR/port" ] && break; sleep 0.05; done
PORT=$(head -n1 "$DIR/port")
URL="http://127.0.0.1:$PORT/health"
curl -sf "$URL" >/dev/null || { echo "the bench server does not answer on $URL" >&2; exit 1; }

{
  echo "description: $N independent http checks, $PAR at a time"
  echo "max_parallel: $PAR"
  echo "steps:"
  for i in $(seq 1 "$N"); do echo "  - { id: c$i, needs: [], http: \"$URL?i=$i\" }"; done
} > "$DIR/runbooks/checks.yaml"
{
  echo '#!/usr/bin/env bash'
  echo "seq 1 $N | xargs -P $PAR -I{} curl -sf -o /dev/null '$URL?i={}'"
} > "$DIR/curl.sh"

"$BIN" --project "$DIR" validate
hyperfine --warmup 1 --runs "$RUNS" --export-json "$DIR/http.json" \
  -n "steward $N http checks (max_parallel $PAR)" "$BIN --project $DIR run checks" \
  -n "xargs -P $PAR × $N curl" "bash $DIR/curl.sh"

python3 - "$DIR/http.json" "$N" <<'PY'
import json, sys
runs, n = json.load(open(sys.argv[1]))["results"], int(sys.argv[2])
s, c = runs
med = lambda r: r["median"]
print(f"\nsteward {med(s)*1e3:.0f} ms ({n/med(s):.0f} checks/s), curl {med(c)*1e3:.0f} ms ({n/med(c):.0f} requests/s), "
      f"ratio steward/curl {med(s)/med(c):.2f} (steward min {s['min']*1e3:.0f} / max {s['max']*1e3:.0f} ms)")
PY
