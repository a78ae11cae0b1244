#!/usr/bin/env bash
# Installs what the real-browser consent test (tests/browser/) needs: Debian's Chromium at
# /usr/bin/chromium and the npm packages (playwright-core only; it never downloads a browser).
# Idempotent; run from anywhere (paths are resolved from this script). Needs root for apt-get.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

if [ -f "$repo_root/tests/browser/package-lock.json" ]; then
  npm ci --prefix "$repo_root/tests/browser" --no-audit --no-fund
else
  npm install --prefix "$repo_root/tests/browser" --no-audit --no-fund
fi
