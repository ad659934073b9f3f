#!/usr/bin/env bash
# Start the whole product on SQLite with demo data: web (gunicorn) + Django-Q cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

export KAIRAN_DEMO=1
export DJANGO_SETTINGS_MODULE=kairan.settings
HOST="${KAIRAN_HOST:-127.0.0.1}"
PORT="${KAIRAN_PORT:-8000}"
export KAIRAN_BASE_URL="${KAIRAN_BASE_URL:-http://$HOST:$PORT}"
PY=.venv/bin/python
mkdir -p var/log

echo "Preparing the database (migrate, cache table, static files, schedules) ..."
KAIRAN_LOG_LEVEL=warning $PY manage.py prepare
logins="$(KAIRAN_LOG_LEVEL=warning $PY manage.py load_demo)"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping Kairan ..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$PY manage.py qcluster >>var/log/qcluster.log 2>&1 &
pids+=($!)
EMULATOR_PORT="${KAIRAN_EMULATOR_PORT:-8100}"
$PY -m emulator --host "$HOST" --port "$EMULATOR_PORT" --state-file var/emulator.json \
  --log-level warning >>var/log/emulator.log 2>&1 &
pids+=($!)
.venv/bin/gunicorn kairan.wsgi --bind "$HOST:$PORT" --workers 2 --threads 4 \
  --access-logfile var/log/access.log --error-logfile var/log/web.log &
pids+=($!)

for _ in $(seq 1 60); do
  if $PY - "$HOST" "$PORT" <<'PYEOF' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/admin/login/", timeout=2)
PYEOF
  sleep 0.5
done

cat <<TXT

==============================================================
 Kairan is running (demo data, SQLite: var/kairan.sqlite3)
   管理画面 (Wagtail admin): http://$HOST:$PORT/admin/
   公開サイト:               http://$HOST:$PORT/
   稼働確認 (health):        http://$HOST:$PORT/healthz
   LINE エミュレーター (phone simulator): http://$HOST:$EMULATOR_PORT/
$logins
 Logs: var/log/   Stop: Ctrl+C
==============================================================
TXT
wait -n "${pids[@]}"
