#!/usr/bin/env bash
# Installs Chromium for the browser tests of the wallboard page
# (tests/tests/wallboard_page.rs, driven by tests/src/browser.rs): Debian's `chromium`
# package, with apt-get. Quick and silent when it is already installed, so
# scripts/test.sh runs it every time.
#
#   scripts/install-browser.sh
#
# A Chromium elsewhere: set CCPULSE_CHROMIUM to its executable (the tests use it too).
set -euo pipefail

chromium=${CCPULSE_CHROMIUM:-/usr/bin/chromium}
if [[ -x "$chromium" ]]; then
  exit 0
fi
if [[ -n "${CCPULSE_CHROMIUM:-}" ]]; then
  echo "install-browser.sh: CCPULSE_CHROMIUM=$chromium is not an executable" >&2
  exit 1
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-browser.sh: installing chromium needs root (apt-get install chromium)" >&2
    exit 1
  fi
  as_root=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-browser.sh: installing chromium with apt-get" >&2
# Package lists may be missing or stale (fresh containers): update once, then retry.
if ! "${as_root[@]}" apt-get install -y -q chromium; then
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q chromium
fi

if [[ ! -x "$chromium" ]]; then
  echo "install-browser.sh: apt-get installed chromium, but $chromium is still missing" >&2
  exit 1
fi
echo "install-browser.sh: $("$chromium" --version 2>/dev/null || echo "$chromium installed")" >&2
