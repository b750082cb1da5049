#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/vmrun.py's daily-loop parts on a fake QEMU and made-up host trees,
# in seconds: the accelerator it picks (made-up /proc, /sys and /dev/kvm),
# the tests it skips for a CPU feature the guest lacks, the base results it
# reuses from the cache and the ones it must not (another key, a damaged
# entry, an unusable cache, results that are not clean), the progress lines,
# and the reproducible initramfs the cache keys on.  Each rule is also shown
# failing on bad input.  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env
vmrun() { python3 "$TOP/scripts/vmrun.py" "$@"; }

# ------------------------------------------------------------ accelerator
# A made-up host: fakeroot NAME VENDOR FLAGS NESTED-MODULE NESTED-VALUE KVM-ANSWER
fakeroot() {
	local r=$work/roots/$1
	mkdir -p "$r/proc" "$r/dev" "$r/sys/module/$4/parameters"
	printf 'processor\t: 0\nvendor_id\t: %s\nmodel name\t: Fake %s CPU\nflags\t\t: fpu sse2 %s\n\nprocessor\t: 1\nvendor_id\t: %s\n' \
		"$2" "$2" "$3" "$2" > "$r/proc/cpuinfo"
	[ -z "$5" ] || echo "$5" > "$r/sys/module/$4/parameters/nested"
	[ -z "$6" ] || echo "$6" > "$r/dev/kvm"
	echo "$r"
}
intel=$(fakeroot intel GenuineIntel 'vmx ept' kvm_intel Y 12)
amd=$(fakeroot amd AuthenticAMD 'svm npt' kvm_amd 1 12)
novmx=$(fakeroot novmx GenuineIntel 'ept' kvm_intel Y 12)
nonested=$(fakeroot nonested GenuineIntel 'vmx' kvm_intel N 12)
nokvm=$(fakeroot nokvm GenuineIntel 'vmx' kvm_intel Y '')
oldapi=$(fakeroot oldapi AuthenticAMD 'svm' kvm_amd 1 11)
accel() { vmrun accel --host-root "$1" "${@:2}" > "$work/log" 2>&1; }
t "detection: working /dev/kvm, vmx, kvm_intel nested=Y: kvm, -cpu host" \
	"accel $intel && grep -q '^kvm (-cpu host): /dev/kvm works and the host offers nested vmx; guest CPU Intel' $work/log"
t "detection: working /dev/kvm, svm, kvm_amd nested=1: kvm" \
	"accel $amd && grep -q '^kvm (-cpu host): .*nested svm' $work/log"
t "detection: no vmx/svm in /proc/cpuinfo: tcg, and it says why" \
	"accel $novmx && grep -q '^tcg (-cpu max): no usable KVM: the host CPU (Intel) offers no vmx or svm' $work/log"
t "detection: kvm_intel nested=N: tcg" \
	"accel $nonested && grep -q '^tcg .*kvm_intel nested=N: no nested virtualization' $work/log"
t "detection: no /dev/kvm: tcg" "accel $nokvm && grep -q '^tcg .*no /dev/kvm' $work/log"
t "detection: a /dev/kvm of another API version: tcg" "accel $oldapi && grep -q '^tcg .*API version 11, not 12' $work/log"
t "KMMU_ACCEL=tcg is tcg on a host that could do kvm" \
	"KMMU_ACCEL=tcg accel $intel && grep -q '^tcg (-cpu max): KMMU_ACCEL=tcg' $work/log"
t "KMMU_ACCEL=kvm where kvm cannot work is an error that says why" \
	"! KMMU_ACCEL=kvm accel $novmx && grep -q 'error: KMMU_ACCEL=kvm, but the host CPU (Intel) offers no vmx or svm' $work/log"
t "KMMU_ACCEL=bogus is refused" "! KMMU_ACCEL=bogus accel $intel && grep -q 'must be auto, kvm or tcg' $work/log"
# This machine: whatever the host, auto gives kvm only with a /dev/kvm that works.
vmrun accel --json > "$work/here.json" 2> "$work/log"
t "on this machine: $(python3 -c "import json; i = json.load(open('$work/here.json')); print(i['accel'], '-', i['why'])" 2>/dev/null)" \
	"python3 -c \"
import json, sys; sys.path.insert(0, '$TOP/scripts'); import vmrun
i = json.load(open('$work/here.json'))
assert (i['accel'] == 'tcg') == (vmrun.kvm_works('/') is not None or 'no usable' in i['why']), i\""

# ---------------------------------------------------------- a fake QEMU
# It answers --version, logs the tests each boot asks for, and runs them:
# FAKE_STATUS="ID:STATUS ..." (pass, fail, skip, flaky, splat; default pass).
cat > "$work/fakeqemu" <<'PY'
#!/usr/bin/env python3
import os, re, sys
a = sys.argv[1:]
if a == ['--version']:
    print('QEMU emulator version 7.2.99 (fake)')
    sys.exit(0)
serials = [a[i + 1][5:] for i, x in enumerate(a) if x == '-serial']
cmdline = a[a.index('-append') + 1]
group = int(re.search(r'kmmu\.group=(\d+)', cmdline).group(1))
groups = {int(k): v.split(',') for k, v in (x.split('=') for x in os.environ['FAKE_GROUPS'].split())}
m = re.search(r'kmmu\.only=([0-9,]+)', cmdline)
ids = [int(x) for x in m.group(1).split(',')] if m else [int(x) for x in groups[group]]
status = dict(x.split(':') for x in os.environ.get('FAKE_STATUS', '').split())
with open(os.environ['FAKE_LOG'], 'a') as f:
    f.write('boot %s %s %s ids=%s\n' % (a[a.index('-accel') + 1], a[a.index('-cpu') + 1],
                                        ' '.join(x for x in cmdline.split() if x.startswith('kmmu.tdiv')) or '-',
                                        ','.join(map(str, ids))))
con = open(serials[0], 'w')
con.write('console\n')
with open(serials[1], 'w') as f:
    f.write('TAP version 13\n')
    for i in ids:
        s = status.get(str(i), 'pass')
        f.write('# kmmu-begin %d t%d 10\n' % (i, i))
        con.write('[    1.0] kmmu: begin test %d t%d\n' % (i, i))
        if s == 'splat':
            con.write('[    1.1] WARNING: CPU: 0 PID: 1 at arch/x86/kvm/mmu/tdp_mmu.c:1 x+0x1/0x2\n')
        con.write('[    1.2] kmmu: end test %d rc=0\n' % i)
        con.flush()
        f.write({'pass': 'ok %d t # time=1.0s', 'splat': 'ok %d t # time=1.0s',
                 'flaky': 'ok %d t # time=2.0s flaky: passed on retry after exit 1',
                 'skip': 'ok %d t # SKIP no feature time=0.1s',
                 'fail': 'not ok %d t # exit=1 time=1.0s'}[s] % i + '\n')
        f.flush()
    f.write('# kmmu-done\n')
PY
chmod +x "$work/fakeqemu"
printf 't1 60 - -a\nt2 200 -\nt3 60 -\nt4 60 need:vmx\nt5 60 need:svm\n' > "$work/l.list"
: > "$work/kernel"; echo kernel-a > "$work/kernel"; echo initramfs > "$work/ird"
export FAKE_GROUPS="0=1,2,3,4,5"
go() {	# go NAME [vmrun run options]: a run with the fake QEMU; boots in $work/NAME.boots
	: > "$work/$1.boots"
	FAKE_LOG="$work/$1.boots" vmrun run --kernel "$work/kernel" --initramfs "$work/ird" --list "$work/l.list" \
		--mode tdp --out "$work/out-$1" --qemu "$work/fakeqemu" --label base --host-root "$nokvm" "${@:2}" \
		> "$work/log" 2>&1
	echo "rc=$?" >> "$work/log"
	cp "$work/log" "$work/$1.log"
}
# "ID:STATUS[:reused]" of every test in a run's results.json
res() { python3 -c "
import json; r = json.load(open('$work/out-$1/results.json'))
print(' '.join('%d:%s%s' % (t['id'], t['status'], ':reused' if t.get('reused') else '') for t in r['tests']))"; }

# ------------------------------------------- needs and the kvm command line
go tcg
t "tcg: -accel tcg,thread=multi -cpu max, timeouts as listed; need:vmx skips, need:svm runs" \
	"grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/tcg.boots && [ \"\$(res tcg)\" = '1:pass 2:pass 3:pass 4:skip 5:pass' ] &&
	 grep -q 'needs vmx: the guest CPU is AMD (tcg, -cpu max)' $work/out-tcg/results.json"
go kvm --host-root "$intel"
t "kvm on Intel: -accel kvm -cpu host, kmmu.tdiv=4; need:svm skips with the reason, need:vmx runs" \
	"grep -qx 'boot kvm host kmmu.tdiv=4 ids=1,2,3,4' $work/kvm.boots && [ \"\$(res kvm)\" = '1:pass 2:pass 3:pass 4:pass 5:skip' ] &&
	 grep -q 'needs svm: the guest CPU is Intel (kvm, -cpu host)' $work/out-kvm/results.json"
go npt --host-root "$intel" --mode npt-off
t "kvm on Intel: the npt-off mode (kvm_amd.npt=0) skips every test, no boot" \
	"[ ! -s $work/npt.boots ] && [ \"\$(res npt)\" = '1:skip 2:skip 3:skip 4:skip 5:skip' ] &&
	 grep -q 'needs svm (mode npt-off)' $work/out-npt/results.json"
t "kvm timeouts: the list's divided by 4, 30 s at least (host limit as the guest's)" "python3 -c \"
import sys; sys.path.insert(0, '$TOP/scripts'); import vmrun
k = vmrun.detect_accel('auto', '$intel'); c = vmrun.detect_accel('tcg', '$intel')
got = [vmrun.scaled_timeout({'timeout': x}, a) for a in (k, c) for x in (200, 60)]
assert got == [50, 30, 200, 60], got\""
# The guest's rule, with the host's busybox: guest-init.sh's lines that read
# kmmu.tdiv and scale a test's timeout.
sed -n '/^tdiv=/p' "$TOP/scripts/guest-init.sh" | sed "s#/proc/cmdline#$work/cmdline#" > "$work/tdiv.sh"
sed -n '/^\t\tif \[ "${tdiv:-1}" -gt 1 \]; then$/,/^\t\tfi$/p' "$TOP/scripts/guest-init.sh" >> "$work/tdiv.sh"
echo 'echo "timeout=$timeout"' >> "$work/tdiv.sh"
gt() { echo "$1" > "$work/cmdline"; timeout=$2 /bin/busybox sh "$work/tdiv.sh"; }
t "the guest divides its timeouts the same way (kmmu.tdiv=4: 200 -> 50, 60 -> 30; none: 200)" \
	"[ \"\$(gt 'a kmmu.tdiv=4 b' 200) \$(gt 'kmmu.tdiv=4' 60) \$(gt 'a b' 200)\" = 'timeout=50 timeout=30 timeout=200' ]"

# ------------------------------------------------------------ the cache
C=$work/cache
export FAKE_STATUS="3:fail"
go c1 --cache "$C"
t "first run with a cache: every test boots; clean results kept (3), the failure not" \
	"grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/c1.boots &&
	 [ \$(find $C/base-results -name '*.json' | wc -l) -eq 3 ]"
go c2 --cache "$C"
t "the same inputs again: only the failure boots, the rest reused and marked with the date" \
	"grep -qx 'boot tcg,thread=multi max - ids=3' $work/c2.boots &&
	 [ \"\$(res c2)\" = '1:pass:reused 2:pass:reused 3:fail 4:skip 5:pass:reused' ] &&
	 grep -q '^base/tdp: 5 tests: 3 pass, 1 skip, 1 fail (3 reused from the cache: base run of 20' $work/c2.log"
echo kernel-b > "$work/kernel"
go c3 --cache "$C"
t "another base bzImage: nothing reused" "grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/c3.boots"
echo kernel-a > "$work/kernel"
echo initramfs-2 > "$work/ird"
go c4 --cache "$C"
t "another initramfs: nothing reused" "grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/c4.boots"
echo initramfs > "$work/ird"
sed -i 's/^t1 60 - -a$/t1 60 - -a -b/' "$work/l.list"
go c5 --cache "$C"
t "a changed list line (new arguments): that test runs, the others are reused" \
	"grep -qx 'boot tcg,thread=multi max - ids=1,3' $work/c5.boots"
sed -i 's/^t1 60 - -a -b$/t1 60 - -a/' "$work/l.list"
go c6 --cache "$C" --mode shadow-mmu
t "another mode: nothing reused" "grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/c6.boots"
go c7 --cache "$C" --host-root "$amd"
t "another accelerator (kvm on an AMD host): nothing reused" "grep -qx 'boot kvm host kmmu.tdiv=4 ids=1,2,3,5' $work/c7.boots"
go c8 --cache "$C" --cache-refresh
t "--cache-refresh (KMMU_FRESH=1): every test runs again" "grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/c8.boots"
# Damaged entries: ignored with a message naming the file, the test runs, and
# the entry is written again.
entry() {	# entry LINE: the cache file of that list line in the c2 configuration
	python3 -c "
import glob, json
for p in glob.glob('$C/base-results/*/*.json'):
    i = json.load(open(p))['inputs']
    if (i['line'], i['mode'], i['accel']['accel'], i['kernel'], i['initramfs']) == (
            '$1', 'tdp', 'tcg', '$(sha256sum < "$work/kernel" | cut -c1-64)', '$(sha256sum < "$work/ird" | cut -c1-64)'):
        print(p)"
}
e1=$(entry 't1 60 - -a') e2=$(entry 't2 200 -') e5=$(entry 't5 60 need:svm')
echo '{"format": 1, "key": "tru' > "$e1"
python3 -c "
import json; e = json.load(open('$e2')); e['record']['status'] = 'fail'; json.dump(e, open('$e2', 'w'))"
python3 -c "
import json; e = json.load(open('$e5')); e['inputs']['mode'] = 'shadow-mmu'; json.dump(e, open('$e5', 'w'))"
go c9 --cache "$C"
t "damaged entries (not JSON; a result not clean; inputs that do not hash to the key) are ignored with a message, the tests run" \
	"grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/c9.boots &&
	 grep -q \"ignoring $e1: not JSON\" $work/c9.log && grep -q \"ignoring $e2: its result is not a clean pass or skip\" $work/c9.log &&
	 grep -q \"ignoring $e5: its inputs do not hash to its key\" $work/c9.log && grep -qx rc=1 $work/c9.log"
go c10 --cache "$C"
t "... and written again by that run: the next one reuses them" "grep -qx 'boot tcg,thread=multi max - ids=3' $work/c10.boots"
# Results that are not clean are not kept: a flaky pass, a splat, a boot
# with a run problem.
FAKE_STATUS="1:flaky 2:splat" go c11 --cache "$work/cache2"
FAKE_STATUS= go c12 --cache "$work/cache2"
t "a flaky pass and a pass with a splat are not kept: they run again next time" \
	"grep -qx 'boot tcg,thread=multi max - ids=1,2' $work/c12.boots"
# An unusable cache (a file where its directory should be): a message, every
# test runs, the verdict is the same as without a cache.
: > "$work/notadir"
go c13 --cache "$work/notadir"
t "an unusable cache: a message, every test runs, same exit status as without" \
	"grep -q 'base result cache not used: .*every base test runs' $work/c13.log &&
	 grep -qx 'boot tcg,thread=multi max - ids=1,2,3,5' $work/c13.boots && grep -qx rc=1 $work/c13.log && [ -f $work/notadir ]"

# ------------------------------------------------------------ progress
go p1 --progress-fd 3 --last "$work/out-c1/results.json" 3> "$work/progress"
t "a progress line per test as its result arrives, with the time left from the last run" \
	"grep -qx '\[base/tdp\] 4 test(s) to run, 1 skipped: the guest CPU lacks what they need, ~[0-9]* s left' $work/progress &&
	 grep -qx '\[base/tdp\] 2/5 t1 -a pass 1 s, ~[0-9]* s left' $work/progress &&
	 grep -qx '\[base/tdp\] 4/5 t3 FAIL 1 s, ~[0-9]* s left' $work/progress &&
	 grep -qx '\[base/tdp\] 5/5 t5 pass 1 s' $work/progress && [ \$(wc -l < $work/progress) -eq 5 ]"
go p2 --progress-fd 3 --cache "$C" 3> "$work/progress2"
t "progress with reused base results: they are counted first, and said so" \
	"grep -q '^\[base/tdp\] 1 test(s) to run, 3 reused from the cache (base run of 20.*), 1 skipped' $work/progress2 &&
	 grep -qx '\[base/tdp\] 5/5 t3 FAIL 1 s' $work/progress2"
FAKE_STATUS="2:splat" go p4 --progress-fd 3 3> "$work/progress4"
t "a splat found on the console after the boot is said in the progress too" \
	"grep -q '^\[base/tdp\] t2: SPLAT on the console during it: warning: .*WARNING: CPU: 0 PID: 1 at arch/x86/kvm/mmu/tdp_mmu.c:1' $work/progress4"
echo 'not json' > "$work/badlast.json"
go p3 --progress-fd 3 --last "$work/badlast.json" 3> "$work/progress3"
t "an unreadable last-run file: no time left, nothing else changes" \
	"grep -qx '\[base/tdp\] 4 test(s) to run, 1 skipped: the guest CPU lacks what they need' $work/progress3 &&
	 ! grep -q left $work/progress3 && grep -qx rc=1 $work/p3.log"

# ------------------------------------------------ reproducible initramfs
mkdir -p "$work/bin"
for x in t1 t2 t3 t4 t5; do printf '#!/bin/sh\necho %s\n' "$x" > "$work/bin/$x"; chmod +x "$work/bin/$x"; done
vmrun initramfs --bin "$work/bin" --list "$work/l.list" --out "$work/i1.cpio.gz" > "$work/log" 2>&1
sleep 1.1; touch "$work/bin/t1"
vmrun initramfs --bin "$work/bin" --list "$work/l.list" --out "$work/i2.cpio.gz" >> "$work/log" 2>&1
echo '# changed' >> "$work/bin/t2"
vmrun initramfs --bin "$work/bin" --list "$work/l.list" --out "$work/i3.cpio.gz" >> "$work/log" 2>&1
sha() { sha256sum < "$1" | cut -c1-64; }
t "the initramfs is the same bytes for the same files (new mtimes too), other bytes for other content" \
	"[ -s $work/i1.cpio.gz ] && [ \$(sha $work/i1.cpio.gz) = \$(sha $work/i2.cpio.gz) ] &&
	 [ \$(sha $work/i1.cpio.gz) != \$(sha $work/i3.cpio.gz) ]"

# ------------------------------------- make run end to end, twice (run.sh)
# run.sh with the real vmrun.py (and bochsrun.py, which it imports), basecache.py and report.py, stub apply,
# build and selftest steps, and the fake QEMU first in PATH: the progress
# lines reach the terminal, the second run boots the base kernel only for
# the test that failed there, the table says which results were reused,
# and the report files are written.
top=$work/top
mkdir -p "$top/scripts" "$top/tests" "$work/path" "$work/e2e-bin"
cp "$TOP"/scripts/{lib.sh,run.sh,vmrun.py,basecache.py,bochsrun.py,report.py,scanconsole.py,kmmu_tap.py,kmmu_matrix.py,guest-init.sh,deps.list} "$top/scripts/"
printf '# base-version: 6.12.117-1~deb12u1\n' > "$top/series"
cat > "$top/scripts/apply.sh" <<'EOF'
#!/bin/sh
for k in base patched; do
	mkdir -p "$KMMU_OUT/trees/$k/build/arch/x86/boot"
	echo "$k kernel" > "$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage"
done
echo x > "$KMMU_OUT/trees/patched/APPLIED"; echo 6.12.117 > "$KMMU_OUT/trees/base/VERSION"
EOF
printf '#!/bin/sh\nexit 0\n' > "$top/scripts/build-kernel.sh"
printf '#!/bin/sh\necho %s\n' "$work/e2e-bin" > "$top/scripts/build-selftests.sh"
chmod +x "$top"/scripts/*.sh
for x in t1 t2 t3; do printf '#!/bin/sh\n' > "$work/e2e-bin/$x"; done
printf 't1 60 -\nt2 60 -\nt3 60 -\n' > "$top/tests/kvm-tests.list"
cp "$work/fakeqemu" "$work/path/qemu-system-x86_64"
e2e() {	# e2e NAME: make run on the stubs (FAKE_STATUS for both kernels)
	: > "$work/$1.boots"
	(cd "$top" && env PATH="$work/path:$PATH" FAKE_GROUPS="0=1,2,3" FAKE_LOG="$work/$1.boots" \
		KMMU_OUT="$work/e2e-out" KMMU_CACHE="$work/e2e-cache" KMMU_MODES=tdp KMMU_PATCHED_MODES= \
		KMMU_ACCEL=tcg bash scripts/run.sh) > "$work/log" 2>&1
	echo "rc=$?" >> "$work/log"
	cp "$work/log" "$work/$1.log"
}
FAKE_STATUS="2:fail" e2e r1
t "make run on a fake QEMU: a progress line per test, the report and its files" \
	"grep -qx '\[base/tdp\] 3/3 t3 pass 1 s' $work/r1.log && grep -qx '\[patched/tdp\] 3/3 t3 pass 1 s' $work/r1.log &&
	 grep -qx '2 passed, 0 failed, 1 skipped' $work/r1.log && [ -s $work/e2e-out/results/report.md ] &&
	 [ -s $work/e2e-out/results/junit.xml ] && grep -qx rc=0 $work/r1.log"
FAKE_STATUS="2:fail" e2e r2
t "the second make run boots the base for its failed test only, says what it reused, the time left from the first" \
	"[ \$(grep -c 'ids=2\$' $work/r2.boots) -eq 1 ] && [ \$(grep -c 'ids=1,2,3\$' $work/r2.boots) -eq 1 ] &&
	 grep -q '^\[base/tdp\] 1 test(s) to run, 2 reused from the cache (base run of .*), ~[0-9]* s left' $work/r2.log &&
	 grep -q '^t1  *pass\* → pass' $work/r2.log && grep -q '^\* base: reused from ' $work/r2.log &&
	 grep -qx '2 passed, 0 failed, 1 skipped' $work/r2.log"
(cd "$top" && env PATH="$work/path:$PATH" FAKE_GROUPS="0=1,2,3" FAKE_LOG="$work/r3.boots" KMMU_OUT="$work/e2e-out" \
	KMMU_CACHE="$work/e2e-cache" KMMU_MODES=tdp KMMU_PATCHED_MODES= KMMU_ACCEL=tcg KMMU_FRESH=1 FAKE_STATUS=2:fail \
	bash scripts/run.sh) > "$work/log" 2>&1
t "KMMU_FRESH=1: the base boots for every test again" "[ \$(grep -c 'ids=1,2,3\$' $work/r3.boots) -eq 2 ]"

tap_done
