#!/usr/bin/env bash
# emoens set-up: one script, two modes (the README's two commands).
#   bash scripts/setup.sh app    install everything, then start the web app on the embedded default
#   bash scripts/setup.sh test   install everything (plus test tools), then run the whole test suite
# Idempotent: a second run skips what is already installed (a few seconds).
# Extra arguments after the mode go to the app (app) or to pytest (test).
set -euo pipefail

MODE="${1:-}"
case "$MODE" in
  app|test) shift ;;
  *) echo "usage: bash scripts/setup.sh app|test [extra args]" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
say() { printf '[emoens setup] %s\n' "$*"; }

# --- Python ---------------------------------------------------------------------------------
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "emoens needs Python 3.11 or newer; found: $("$PY" --version 2>&1 || echo none)." >&2
  echo "Install it (Debian/Ubuntu: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

# --- System packages ------------------------------------------------------------------------
# package:what stops working without it
SYSTEM_PACKAGES=(
  "ffmpeg:decoding browser recordings and compressed uploads (webm, ogg, m4a, mp3)"
  "libportaudio2:recording from the microphone with 'emoens listen'"
  "fonts-nanum:Korean labels in saved figures and screenshots"
)
if [ "$MODE" = test ]; then
  SYSTEM_PACKAGES+=(
    "espeak-ng:synthesised Korean test clips (their tests are skipped)"
    "chromium:the real-browser tests of the web app (they are skipped)"
  )
fi
missing=()
for entry in "${SYSTEM_PACKAGES[@]}"; do
  pkg="${entry%%:*}"
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$entry")
done
if [ ${#missing[@]} -gt 0 ]; then
  names=(); for entry in "${missing[@]}"; do names+=("${entry%%:*}"); done
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
  if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; } \
     && [ "${EMOENS_NO_APT:-0}" != 1 ]; then
    say "installing system packages: ${names[*]}"
    $SUDO apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${names[@]}" >/dev/null
  else
    say "cannot install system packages here (not root, no password-less sudo, or EMOENS_NO_APT=1)."
    for entry in "${missing[@]}"; do say "  missing ${entry%%:*}: without it, ${entry#*:} will not work"; done
    say "install them with: sudo apt-get install ${names[*]}"
  fi
fi

# --- Virtual environment --------------------------------------------------------------------
REQ=requirements.txt; [ "$MODE" = test ] && REQ=requirements-dev.txt
[ -x "$VENV/bin/python" ] || { say "creating $VENV"; "$PY" -m venv "$VENV"; }
STAMP="$VENV/.emoens-$MODE.sha256"
WANT="$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
# The test set-up installs a superset of the app's packages, so its stamp serves the app too.
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ] \
   && { [ "$MODE" = test ] || [ "$(cat "$VENV/.emoens-test.sha256" 2>/dev/null)" != "$WANT" ]; }; then
  say "installing Python packages from $REQ (first time: a few minutes)"
  # torch==2.13.0 CPU: pip's configured find-links (/opt/wheels) is used where the machine has it.
  FIND_LINKS=(); [ -d /opt/wheels ] && FIND_LINKS=(--find-links /opt/wheels)
  LOG="$VENV/pip-install.log"
  if ! { "$VENV/bin/pip" install -q --disable-pip-version-check "${FIND_LINKS[@]}" -r "$REQ" \
         && "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e .; } \
       >"$LOG" 2>&1; then
    grep -v "^WARNING: Location" "$LOG" | tail -n 30 >&2
    echo "[emoens setup] installing Python packages failed; full log: $LOG" >&2
    exit 1
  fi
  echo "$WANT" > "$STAMP"
else
  say "Python packages already installed"
fi

# --- Run ------------------------------------------------------------------------------------
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ "$MODE" = app ]; then
  say "starting the app on http://${GRADIO_SERVER_NAME:-127.0.0.1}:${GRADIO_SERVER_PORT:-7860}"
  exec "$VENV/bin/python" app.py "$@"
else
  exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
fi
