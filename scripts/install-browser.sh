#!/usr/bin/env bash
# Installs headless Chromium for the browser tests (the wallboard page), from Debian's
# packages, when it is missing. Idempotent: quick when it is present.
#   $CCPULSE_CHROMIUM   a Chromium binary to use instead (then nothing is installed)
set -euo pipefail
chromium=${CCPULSE_CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
  echo "install-browser: $chromium present" >&2
  exit 0
fi
if [ -n "${CCPULSE_CHROMIUM:-}" ]; then
  echo "install-browser: CCPULSE_CHROMIUM=$CCPULSE_CHROMIUM is not an executable" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "install-browser: no apt-get here: install Chromium yourself and set CCPULSE_CHROMIUM" >&2
  exit 1
fi
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "install-browser: installing Chromium needs root (or sudo): apt-get install chromium" >&2
    exit 1
  fi
fi
echo "install-browser: installing Debian's chromium (once)…" >&2
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get install -y -q chromium >/dev/null; then
  "${as_root[@]}" apt-get update -q >/dev/null
  "${as_root[@]}" apt-get install -y -q chromium >/dev/null
fi
"$chromium" --version >&2
