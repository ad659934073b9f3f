#!/usr/bin/env bash
# Start the whole product on SQLite with demo data: web (granian) + Django-Q cluster + LINE emulator.
set -euo pipefail
cd "$(dirname "$0")/.."

export KAIRAN_DEMO=1
export DJANGO_SETTINGS_MODULE=kairan.settings
HOST="${KAIRAN_HOST:-127.0.0.1}"
PORT="${KAIRAN_PORT:-8000}"
EMULATOR_PORT="${KAIRAN_EMULATOR_PORT:-8100}"
export KAIRAN_BASE_URL="${KAIRAN_BASE_URL:-http://$HOST:$PORT}"
# The LINE emulator plays LINE: web and cluster (started below, so both inherit these) call its hosts.
export KAIRAN_LINE_API_BASE="${KAIRAN_LINE_API_BASE:-http://$HOST:$EMULATOR_PORT/api}"
export KAIRAN_LINE_DATA_BASE="${KAIRAN_LINE_DATA_BASE:-http://$HOST:$EMULATOR_PORT/api-data}"
# LIFF pages load the emulator's LIFF SDK shim and are shown in the simulator's in-app browser (a frame).
export KAIRAN_LIFF_SDK_URL="${KAIRAN_LIFF_SDK_URL:-http://$HOST:$EMULATOR_PORT/static/liff-shim.js}"
export KAIRAN_LIFF_ID="${KAIRAN_LIFF_ID:-2000000002-kairan01}"
export KAIRAN_LIFF_FRAME_ANCESTORS="${KAIRAN_LIFF_FRAME_ANCESTORS:-http://$HOST:$EMULATOR_PORT}"
PY=.venv/bin/python
mkdir -p var/log

echo "Preparing the database (migrate, cache table, static files, schedules) ..."
KAIRAN_LOG_LEVEL=warning $PY manage.py prepare
logins="$(KAIRAN_LOG_LEVEL=warning $PY manage.py load_demo)"
# LINE連携設定 <- the emulator's channel (channel id, secret, access token; stored encrypted).
KAIRAN_LOG_LEVEL=warning $PY manage.py configure_line --emulator --liff-id "$KAIRAN_LIFF_ID" >/dev/null

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "Stopping Kairan ..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
# Ctrl+C while starting must stop here too (a trap alone would resume the start-up steps).
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

$PY manage.py qcluster >>var/log/qcluster.log 2>&1 &
pids+=($!)
# LINE (the emulator) posts the virtual users' events to Kairan's webhook receiver.
$PY -m emulator --host "$HOST" --port "$EMULATOR_PORT" --state-file var/emulator.json \
  --webhook-url "http://$HOST:$PORT/line/webhook/" --liff-app "$KAIRAN_LIFF_ID=$KAIRAN_BASE_URL/liff/" \
  --log-level warning >>var/log/emulator.log 2>&1 &
pids+=($!)
.venv/bin/granian --interface wsgi kairan.wsgi:application --host "$HOST" --port "$PORT" \
  --workers 2 --blocking-threads 4 --access-log --log-level warning >>var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 1 60); do
  if $PY - "$HOST" "$PORT" <<'PYEOF' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/admin/login/", timeout=2)
PYEOF
  sleep 0.5
done
# Connection test (bot info into LINE連携設定), then set the webhook URL through the API (a state
# file of an earlier run may hold another one) and let LINE test it: the whole chain, end to end.
line_status="$(KAIRAN_LOG_LEVEL=warning $PY manage.py configure_line --check --register-webhook \
  --wait 20 2>&1 | grep -v '^LINE連携設定:')" || line_status="LINE 連携の確認に失敗しました: $line_status"

cat <<TXT

==============================================================
 Kairan is running (demo data, SQLite: var/kairan.sqlite3)
   管理画面 (Wagtail admin): http://$HOST:$PORT/admin/
   公開サイト:               http://$HOST:$PORT/
   稼働確認 (health):        http://$HOST:$PORT/healthz
   LINE エミュレーター (phone simulator): http://$HOST:$EMULATOR_PORT/
     スマホ画面で「友だち追加」すると、数秒で管理画面の「友だち」に表示されます。
     LINE連携設定 (設定 → LINE連携設定) はエミュレーターのチャネルです。
$line_status
$logins
 Logs: var/log/   Stop: Ctrl+C
==============================================================
TXT
wait -n "${pids[@]}"
