#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run one LAVA job with LAVA's own dispatcher (lava-run), in a throwaway
# Debian bookworm root made with debootstrap: lava-dispatcher pulls in some
# 180 packages (systemd-sysv among them) and is never installed on the host.
# Not part of make test (it downloads ~400 packages and boots a VM); it shows
# that the jobs make lava writes run as they are.
#
# Usage: scripts/lava-trial.sh [JOB.yaml]
#   JOB.yaml   a job from make lava (out/lava/jobs/); its file:// artifacts
#              are copied into the root.  Without one: a trial job written by
#              scripts/lava-jobs.py for three stand-in tests (pass, skip,
#              fail) packed by scripts/vmrun.py with the root's Debian kernel,
#              when no kernel of the series is built.
# Environment: KMMU_LAVA_ROOT (default /var/tmp/kmmu-lava-root; kept for the
# next run, rm -rf it to start again).
# Prints lava-run's results; the whole log goes to $KMMU_OUT/lava-trial/.
set -e
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "lava-trial needs root (debootstrap, chroot, mounts)"
need_group fresh lava vm build
root=${KMMU_LAVA_ROOT:-/var/tmp/kmmu-lava-root}
case $root in /|/usr|/var|/tmp|/root|"$HOME") die "refusing KMMU_LAVA_ROOT=$root" ;; esac
out=$KMMU_OUT/lava-trial
mkdir -p "$out"

if [ ! -x "$root/usr/bin/lava-run" ]; then
	mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
		 grep -v -- '-security' | grep -i debian | head -n 1)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
	rm -rf "$root"
	msg "debootstrap bookworm into $root, then lava-dispatcher in it"
	debootstrap --variant=minbase bookworm "$root" "$mirror" > "$out/debootstrap.log" 2>&1 ||
		die "debootstrap failed: see $out/debootstrap.log"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
fi
inroot() {	# inroot COMMAND: run in the root, with /proc, /sys, /dev, in a mount namespace
	unshare --mount --propagation private bash -c '
		r=$1; shift
		for d in proc sys dev; do mount --rbind "/$d" "$r/$d"; done
		mount -t tmpfs tmpfs "$r/tmp"
		exec chroot "$r" env -i HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin bash -c "$1"' _ "$root" "$1"
}
if [ ! -x "$root/usr/bin/lava-run" ] || [ ! -e "$root/boot/vmlinuz-"* ]; then
	inroot "apt-get update -qq && apt-get install -y -qq --no-install-recommends lava-dispatcher \
		qemu-system-x86 linux-image-amd64" > "$out/apt.log" 2>&1 ||
		die "installing lava-dispatcher in $root failed: see $out/apt.log"
fi
msg "$(inroot "dpkg -l | grep -c '^ii'") packages in $root; lava-dispatcher $(inroot "dpkg-query -W -f '\${Version}' lava-dispatcher")"

exp=$root/root/kmmu
rm -rf "$exp"
mkdir -p "$exp/artifacts" "$exp/run"
if [ $# -ge 1 ]; then
	job=$1
	[ -f "$job" ] || die "no job $job"
	# Its file:// artifacts, copied into the root at the same path.
	for u in $(sed -n 's/^ *url: file:\/\///p' "$job"); do
		[ -f "/$u" ] || die "$job names /$u, which does not exist"
		mkdir -p "$root$(dirname "/$u")"
		cp "/$u" "$root/$u"
	done
	cp "$job" "$exp/job.yaml"
else
	# Stand-in tests, the root's Debian kernel: what is tried is LAVA, the
	# job's form and the guest's TAP on the console, not the series.
	mkdir -p "$exp/bin"
	printf '#!/bin/sh\necho "stand-in test: pass"\n' > "$exp/bin/pass_test"
	printf '#!/bin/sh\necho "stand-in test: requirement not met"\nexit 4\n' > "$exp/bin/skip_test"
	printf '#!/bin/sh\necho "stand-in test: assertion failed"\nexit 1\n' > "$exp/bin/fail_test"
	chmod +x "$exp/bin/"*
	printf 'pass_test 30 retry:0\nskip_test 30 retry:0\nfail_test 30 retry:0\n' > "$exp/trial.list"
	python3 "$TOP/scripts/vmrun.py" initramfs --bin "$exp/bin" --list "$exp/trial.list" \
		--out "$exp/initramfs.cpio.gz" >/dev/null
	kernel=$(ls "$root"/boot/vmlinuz-* | head -n 1)
	/usr/bin/python3 "$TOP/scripts/lava-jobs.py" write --list "$exp/trial.list" --out "$exp/lava" \
		--kernel "base=$kernel" --initramfs "$exp/initramfs.cpio.gz" --modes tdp --series trial \
		--url file:///root/kmmu/lava/artifacts >/dev/null
	cp "$exp"/lava/jobs/*.yaml "$exp/job.yaml"
fi
/usr/bin/python3 "$TOP/scripts/lava-jobs.py" validate "$exp/job.yaml" | tail -n 1

# The device: what lava-server renders from LAVA's qemu.jinja2 (base.jinja2)
# for an amd64 qemu device and the job's context; lava-run alone has no server
# to render it.
/usr/bin/python3 - "$exp/job.yaml" "$exp/device.yaml" <<'EOF'
import sys, yaml
ctx = yaml.safe_load(open(sys.argv[1])).get('context', {})
qemu = {
    'command': 'qemu-system-x86_64',
    'boot_options': {'root': '/dev/sda1', 'console': 'ttyS0,115200', 'boot_order': 'c'},
    'options': ([] if ctx.get('no_kvm') else ['-cpu host', '-enable-kvm']) + [
        '-nographic',
        '-net nic,model=virtio,macaddr=52:54:00:12:34:58 -net %s' % ctx.get('netdevice', 'user'),
        '-m %s' % ctx.get('memory', 512), '-monitor none'],
}
if ctx.get('extra_options'):
    qemu['extra'] = ctx['extra_options']
device = {
    'constants': {
        'posix': {'lava_test_sh_cmd': '/bin/sh', 'lava_test_results_dir': '/lava-%s',
                  'lava_test_shell_file': '~/.bashrc'},
        'shutdown-message': 'The system is going down for reboot NOW',
        'kernel-start-message': 'Linux version [0-9]',
        'default-shell-prompt': 'lava-test: # ',
        'spawn_maxread': '4092', 'failure_retry': 1, 'boot_retry': 1,
    },
    'parameters': {'pass': None},
    'available_architectures': ['amd64', 'x86_64'],
    'actions': {
        'deploy': {'connections': {'serial': None, 'lxc': None},
                   'methods': {'image': {'parameters': {'guest': {'size': 512, 'interface': 'ide',
                                                                  'driveid': 'lavatest'}}}}},
        'boot': {'connections': {'serial': None, 'ssh': None, 'lxc': None},
                 'methods': {'qemu': {'parameters': qemu}}},
    },
    'timeouts': {'actions': {}, 'connections': {}},
}
from lava_common.schemas.device import validate
validate(device)
yaml.safe_dump(device, open(sys.argv[2], 'w'), sort_keys=False)
EOF

msg "lava-run in $root (log: $out/lava-run.log)"
set +e
inroot "mkdir -p /var/lib/lava/dispatcher/tmp && lava-run --job-id 1 --output-dir /root/kmmu/run \
	--device /root/kmmu/device.yaml /root/kmmu/job.yaml" > "$out/lava-run.log" 2>&1
rc=$?
set -e
/usr/bin/python3 - "$out/lava-run.log" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get('lvl') == 'results':
        m = d['msg']
        print('%-40s %-6s %s' % (m.get('case'), m.get('result'), m.get('error_msg', '')))
    elif d.get('lvl') == 'info' and str(d.get('msg', '')).startswith('Boot command:'):
        print(d['msg'])
EOF
echo "lava-run: exit $rc"
exit $rc
