#!/usr/bin/env bash
# Installs what the tests and the demo need from Debian's packages, when a command is missing, then the npm
# packages when node_modules is not there. Run as root (or with sudo) on Debian or Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."

# What is missing is decided by command, not package name: a runner may have docker from another source.
declare -A provider=(
  [git]=git [buildah]=buildah [skopeo]=skopeo [docker-registry]=docker-registry [dockerd]=docker.io
  [openssl]=openssl [htpasswd]=apache2-utils [jq]=jq [busybox]=busybox-static
)
need=()
for cmd in "${!provider[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("${provider[$cmd]}")
done
# Kustomize renders come from `kubectl kustomize`: the machine's kubectl, else Debian's.
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
if [ "${#need[@]}" -gt 0 ]; then
  echo "Installing Debian packages: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "Installing needs root: run this again with sudo." >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if [ "${1:-}" = "--npm" ] || [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
