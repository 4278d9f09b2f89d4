#!/usr/bin/env bash
# Installs the Debian packages the tests and the benchmarks drive for real (a browser, etcd,
# wrk) when they are missing.
# Usage: ensure-system-packages.sh command:package [command:package ...]
set -euo pipefail

missing=()
for pair in "$@"; do
  command_name=${pair%%:*}
  package_name=${pair#*:}
  command -v "$command_name" >/dev/null 2>&1 || missing+=("$package_name")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "Installing Debian packages the tests need: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get is not available: install ${missing[*]} with your system's package manager" >&2
  exit 1
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "run as root or install sudo to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
