#!/usr/bin/env bash
# Installs every Debian package that a test or benchmark of this repository uses.
# Idempotent: packages already present are left alone; safe to run on every CI start.
# kubectl is expected on the machine image (Debian's kubernetes-client conflicts with it).
set -euo pipefail

packages=(
  # containers: pods on containerd over CRI, images built locally, a local registry
  containerd runc containernetworking-plugins docker-registry umoci skopeo busybox-static
  # network namespaces, NAT routers and the proxy's rules
  iproute2 iptables
  # device peers: external MQTT broker and clients, Modbus poller
  mosquitto mosquitto-clients mbpoll
  # a pseudo-terminal pair for the Modbus RTU test
  python3
  # EdgeMesh peers: DNS tools and servers, proxies and load generators
  dnsutils dnsmasq dnsperf haproxy iperf3 wrk curl
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-system-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages such as dnsmasq, haproxy and mosquitto would start system services on install;
# tests start their own instances on free ports, so keep the package scripts from starting any.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-system-deps: done"
