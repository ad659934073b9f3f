#!/usr/bin/env bash
# Create .venv and install the locked dependencies: `scripts/venv.sh runtime|dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
kind="${1:-runtime}"
lock=requirements.lock
[ "$kind" = dev ] && lock=requirements-dev.lock

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3 || true)}"
if [ -z "$PYTHON" ]; then
  echo "Python 3.11 was not found. Install it: apt-get install -y python3 python3-venv" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Kairan needs Python 3.11; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" = 0 ]; then
      apt-get update -q && apt-get install -y -q python3-venv
      "$PYTHON" -m venv .venv
    else
      echo "Python's venv module is missing. Run: sudo apt-get install -y python3-venv" >&2
      exit 1
    fi
  fi
fi

stamp=".venv/.installed-$kind"
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  echo "Installing locked dependencies from $lock ..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r "$lock"
  touch "$stamp"
fi

# site/ is a source root (the standard library owns the name `site`): put it and
# the repository root on the virtual environment's import path.
purelib="$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
printf '%s\n%s\n' "$PWD" "$PWD/site" > "$purelib/kairan-source-roots.pth"
