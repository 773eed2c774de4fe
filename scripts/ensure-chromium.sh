#!/bin/sh
# Makes sure Debian's chromium is at /usr/bin/chromium for the browser test (test/browser).
# Installs it with apt-get when missing: as root directly (CI containers), else through sudo -n when allowed.
# Exit status 0 = chromium is there; anything else = it could not be installed (the test then fails, loudly).
set -eu
BIN="${PETREL_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$BIN" ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "ensure-chromium: $BIN is missing and we are not root (apt-get install -y chromium as root)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends chromium >&2
if [ ! -x "$BIN" ]; then
  echo "ensure-chromium: apt-get finished but $BIN is still missing" >&2
  exit 3
fi
