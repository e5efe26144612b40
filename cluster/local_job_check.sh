#!/usr/bin/env bash
# Submits jobs/backfill.py with `ray job submit` to a private `ray start --head` cluster on this machine,
# checks the job's output, then stops that cluster only (by the PIDs of its temp dir; never `ray stop`).
#   bash cluster/local_job_check.sh            # prints OK and the job's summary, exit 0 on success
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-$PWD/.venv/bin/python}"
RAY="$(dirname "$PY")/ray"
WORK="$(mktemp -d /tmp/fibervlm-jobcheck-XXXXXX)"
DATE=2026-11-20
export PATH="$(dirname "$PY"):$PATH"   # the job's `python` is the cluster's: this environment's
export RAY_AUTH_MODE=token RAY_USAGE_STATS_ENABLED=0 HF_HUB_OFFLINE=1 YOLO_OFFLINE=1

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GCS_PORT=$(free_port); DASH_PORT=$(free_port); CLIENT_PORT=$(free_port); METRICS_PORT=$(free_port)
AGENT_PORT=$(free_port); RTENV_PORT=$(free_port); NODE_PORT=$(free_port); OBJ_PORT=$(free_port)

stop_cluster() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "FAILED (exit $rc); ray start log:" >&2
    tail -20 "$WORK/ray-start.log" >&2 2>/dev/null || true
  fi
  # Every process of this cluster names its temp dir on its command line: stop those, and only those.
  local pids; pids=$(pgrep -f -- "$WORK/ray" || true)
  [ -n "$pids" ] && kill $pids 2>/dev/null || true
  sleep 2
  pids=$(pgrep -f -- "$WORK/ray" || true)
  [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop_cluster EXIT

echo "work dir: $WORK"
"$PY" -m fibervlm synth --out "$WORK/shards" --n 8 --shards 2 --format images --profile sm-pc --date "$DATE" >/dev/null
printf 'not an image' > "$WORK/shards/date=$DATE/shard-00000/corrupt.png"

"$RAY" start --head --temp-dir "$WORK/ray" --num-cpus 2 --port "$GCS_PORT" \
  --include-dashboard true --dashboard-host 127.0.0.1 --dashboard-port "$DASH_PORT" \
  --ray-client-server-port "$CLIENT_PORT" --metrics-export-port "$METRICS_PORT" \
  --dashboard-agent-listen-port "$AGENT_PORT" --runtime-env-agent-port "$RTENV_PORT" \
  --node-manager-port "$NODE_PORT" --object-manager-port "$OBJ_PORT" \
  --min-worker-port 20000 --max-worker-port 29999 --disable-usage-stats >"$WORK/ray-start.log" 2>&1

"$RAY" job submit --address "http://127.0.0.1:$DASH_PORT" --working-dir . \
  --runtime-env cluster/runtime_env.yaml -- \
  python jobs/backfill.py --config configs/backfill.yaml --input "$WORK/shards" --output "$WORK/out" --date "$DATE" \
  | tee "$WORK/job.log"

"$PY" - "$WORK/out" "$DATE" <<'PYEOF'
import sys
import pyarrow.dataset as ds

out, date = sys.argv[1], sys.argv[2]
rows = ds.dataset(f"{out}/date={date}", format="parquet").to_table().to_pylist()
statuses = sorted(r["status"] for r in rows)
assert len(rows) == 9 == len({r["source_uri"] for r in rows}), f"{len(rows)} rows"
assert statuses.count("error") >= 1 and any(r["error"] and "not an image" in r["error"] for r in rows)
assert all(r["report"] for r in rows if r["status"] == "ok")
print(f"OK: ray job submit wrote {len(rows)} rows ({statuses.count('ok')} ok, {statuses.count('error')} error)")
PYEOF
