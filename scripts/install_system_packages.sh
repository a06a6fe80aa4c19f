#!/usr/bin/env bash
# Debian packages our environments need, installed only when missing.
# engine: nothing beyond Python 3.11 (matplotlib comes as a wheel from the lock).
# app: chromium, which the console's browser tests drive through Playwright
#      (Playwright's own browser download cannot be used offline).
set -euo pipefail
kind=${1:?engine|app}
case "$kind" in
  engine) packages=() ;;
  app) packages=(chromium ${TRE_EM_APP_APT_PACKAGES:-}) ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
