#!/usr/bin/env bash
# Installs what the anchor needs to build, test and run. Idempotent; quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(clang-19 llvm libbpf-dev bpftool iproute2 nftables ethtool tshark python3-scapy iputils-ping
          libc6-dev linux-libc-dev libssl3)
# Under -target bpf clang defines no __x86_64__, so glibc's headers (reached through
# <linux/if.h>) ask for gnu/stubs-32.h, which only the i386 development package has.
[[ $(uname -m) == x86_64 ]] && packages+=(libc6-dev-i386)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install
stamp=node_modules/.lock-hash
hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$hash" ]]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$hash" > "$stamp"
fi

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
