#!/usr/bin/env bash
# System packages the tests need, from Debian: Chromium for the browser tests (Playwright drives it, it does
# not download one) and nginx for the replica tests (they run their own nginx on loopback with a config in
# a temporary directory; the system's nginx service and /etc/nginx are never used).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
