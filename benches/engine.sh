#!/usr/bin/env bash
# Engine overhead against bash, with hyperfine (apt-get install hyperfine).
#
#   bash benches/engine.sh            # N=200 sequential steps, 1,000 fanned out
#   N=1000 RUNS=5 bash benches/engine.sh
#
# Builds steward in release mode, generates the runbooks in a temp project and
# prints hyperfine's tables plus the per-step overhead derived from them.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
FAN=${FAN:-1000}
RUNS=${RUNS:-10}
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }
cargo build --release --quiet
BIN=$PWD/target/release/steward
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
mkdir -p "$DIR/runbooks"

{
  echo "description: $N sequential no-op shell steps"
  echo "steps:"
  for i in $(seq 1 "$N"); do echo "  - { id: s$i, shell: \"true\" }"; done
} > "$DIR/runbooks/seq.yaml"
{
  echo "description: $FAN independent sleep 0 steps, 50 at a time"
  echo "max_parallel: 50"
  echo "steps:"
  for i in $(seq 1 "$FAN"); do echo "  - { id: f$i, needs: [], shell: \"sleep 0\" }"; done
} > "$DIR/runbooks/fan.yaml"
{
  echo '#!/usr/bin/env bash'
  for _ in $(seq 1 "$N"); do echo 'bash -c true'; done
} > "$DIR/seq.sh"
{
  echo '#!/usr/bin/env bash'
  echo "seq 1 $FAN | xargs -P 50 -I{} bash -c 'sleep 0'"
} > "$DIR/fan.sh"

"$BIN" --project "$DIR" validate
hyperfine --warmup 1 --runs "$RUNS" --export-json "$DIR/seq.json" \
  -n "steward $N steps" "$BIN --project $DIR run seq" \
  -n "bash $N × bash -c true" "bash $DIR/seq.sh"
hyperfine --warmup 1 --runs "$RUNS" --export-json "$DIR/fan.json" \
  -n "steward $FAN fan-out (max_parallel 50)" "$BIN --project $DIR run fan" \
  -n "xargs -P 50 × $FAN bash -c 'sleep 0'" "bash $DIR/fan.sh"

python3 - "$DIR/seq.json" "$DIR/fan.json" "$N" "$FAN" <<'PY'
import json, sys
seq, fan, n, f = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4])
def med(r): return r["median"]
s, b = seq["results"]
print(f"\nsequential: steward {med(s)*1e3:.0f} ms, bash {med(b)*1e3:.0f} ms, ratio {med(s)/med(b):.2f}, "
      f"overhead {(med(s)-med(b))/n*1e3:.2f} ms per step (steward min {s['min']*1e3:.0f} / max {s['max']*1e3:.0f} ms)")
s, x = fan["results"]
print(f"fan-out:    steward {med(s)*1e3:.0f} ms, xargs {med(x)*1e3:.0f} ms, ratio {med(s)/med(x):.2f}")
PY
