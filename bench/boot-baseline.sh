#!/usr/bin/env bash
# Plain shell baseline for bench/boot.ts: the same image booted the way one would by hand —
# qemu-img overlay, genisoimage config drive, qemu, then an ssh polling loop and
# `cloud-init status --wait`. Prints `ssh_s=…` and `done_s=…` (seconds from qemu start).
# Usage: boot-baseline.sh IMAGE_QCOW2 PUBLIC_KEY_FILE PRIVATE_KEY_FILE MEMORY_MIB
set -euo pipefail
image=$1 pub=$2 key=$3 mem=${4:-512}
work=$(mktemp -d /tmp/cloudprobe-baseline-XXXXXX)
qpid=
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

uuid=$(cat /proc/sys/kernel/random/uuid)
mkdir -p "$work/cd/openstack/latest"
cat >"$work/cd/openstack/latest/meta_data.json" <<EOF
{"uuid": "$uuid", "name": "baseline", "hostname": "baseline.novalocal", "public_keys": {"run": "$(cat "$pub")"}}
EOF
printf '#cloud-config\ntimezone: Asia/Shanghai\nruncmd:\n  - mkdir /yunshan\n' >"$work/cd/openstack/latest/user_data"
genisoimage -o "$work/cd.iso" -ldots -allow-lowercase -allow-multidot -l -quiet -J -r -V config-2 "$work/cd"
qemu-img create -q -f qcow2 -F qcow2 -b "$image" "$work/overlay.qcow2"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

start=$(date +%s.%N)
setpriv --pdeathsig KILL -- qemu-system-x86_64 -nodefaults -display none -machine pc -accel tcg,tb-size=256 -smp 1 -m "$mem" \
  -serial "file:$work/serial.log" -no-reboot \
  -drive "file=$work/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
  -drive "file=$work/cd.iso,if=ide,media=cdrom,readonly=on,format=raw" \
  -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-10.0.2.15:22" -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56 \
  -device virtio-rng-pci &
qpid=$!

ssh_opts=(-q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5 -i "$key" -p "$port")
until ssh "${ssh_opts[@]}" ubuntu@127.0.0.1 true 2>/dev/null; do
  kill -0 "$qpid" 2>/dev/null || { echo "qemu exited" >&2; exit 1; }
  sleep 1
done
ssh_at=$(date +%s.%N)
ssh "${ssh_opts[@]}" ubuntu@127.0.0.1 'sudo cloud-init status --wait >/dev/null' || true
done_at=$(date +%s.%N)
awk -v a="$ssh_at" -v s="$start" 'BEGIN { printf "ssh_s=%.1f\n", a - s }'
awk -v a="$done_at" -v s="$start" 'BEGIN { printf "done_s=%.1f\n", a - s }'
