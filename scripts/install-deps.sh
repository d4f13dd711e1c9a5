#!/usr/bin/env bash
# Installs the Debian packages leafguard builds with. Idempotent: does nothing
# when every package is already present.
set -euo pipefail
packages=(libcaf-dev libprotobuf-dev protobuf-compiler libspdlog-dev
          libboost-test-dev libjemalloc-dev libabsl-dev libssl-dev libedit-dev libraft-dev openssl
          cmake g++ make
          mariadb-client python3-pymysql
          libcpp-httplib-dev prometheus curl
          chromium chromium-driver python3-selenium)
# Extra packages for one task: scripts/fuzz.sh asks for clang (libFuzzer).
packages+=("$@")
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing missing packages: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
