#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/run.sh's reruns of a test that passed only on a retry on the
# patched kernel while the base passed first time, on stub steps: a fake
# vmrun.py makes test 1 flaky on the patched kernel in the main run (a pass
# "after exit 1") and, in the reruns, pass or fail as FAKE_RERUN says; the
# real report.py judges.  Checks that each such test is rerun on both
# kernels, KMMU_RERUNS times, one attempt each (--no-retry), on exactly that
# test, and that the verdict follows the reruns.  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"

top=$work/top
mkdir -p "$top/scripts" "$top/tests"
cp "$TOP/scripts/lib.sh" "$TOP/scripts/run.sh" "$TOP/scripts/report.py" "$TOP/scripts/scanconsole.py" "$TOP/scripts/kmmu_tap.py" "$TOP/scripts/kmmu_matrix.py" "$top/scripts/"
cp "$TOP/scripts/deps.list" "$top/scripts/"
printf '# base-version: 6.12.117-1~deb12u1\n' > "$top/series"
# Stubs: nothing to fetch, apply or build.
printf '#!/bin/sh\nmkdir -p "$KMMU_OUT/trees/base" "$KMMU_OUT/trees/patched"\necho x > "$KMMU_OUT/trees/patched/APPLIED"\necho 6.12.117 > "$KMMU_OUT/trees/base/VERSION"\n' > "$top/scripts/apply.sh"
printf '#!/bin/sh\nexit 0\n' > "$top/scripts/build-kernel.sh"
printf '#!/bin/sh\necho /nonexistent\n' > "$top/scripts/build-selftests.sh"
chmod +x "$top"/scripts/*.sh
# The fake vmrun.py: the real one's BASE_MODE_OF, a results.json per run,
# and a line per call in calls.log.
cat > "$top/scripts/vmrun.py" <<'PY'
import json, os, re, sys
BASE_MODE_OF = {'mirror': 'tdp'}
if __name__ == '__main__':
    a = sys.argv[1:]
    def opt(name):
        return a[a.index(name) + 1] if name in a else None
    if a[0] == 'initramfs':
        sys.exit(0)
    if a[0] == 'accel':
        print('tcg (-cpu max): fake')
        sys.exit(0)
    label, mode, out, only = opt('--label'), opt('--mode'), opt('--out'), opt('--only')
    rerun = '--no-retry' in a
    with open(os.path.join(os.environ['FAKE_LOG']), 'a') as f:
        f.write('%s %s %s %s\n' % (label, mode, 'rerun' if rerun else 'main', only or '-'))
    with open(os.environ['FAKE_LOG'] + '.args', 'a') as f:
        f.write('%s %s %s cache=%s%s progress=%s\n' % (label, mode, 'rerun' if rerun else 'main',
                opt('--cache') or '-', ' refresh' if '--cache-refresh' in a else '', opt('--progress-fd') or '-'))
        if opt('--progress-fd'):
            os.write(int(opt('--progress-fd')), b'[%s/%s] 1/2 t2 pass 1 s\n' % (label.encode(), mode.encode()))
    tests = []
    for i, key in ((1, 't1 -a b'), (2, 't2')):
        if only and not re.search(only, key):
            continue
        detail = 'time=1s'
        status = 'pass'
        if not rerun and label == 'patched' and i == 1:
            detail = 'time=2s flaky: passed on retry after exit 1'
        if rerun and os.environ.get('FAKE_RERUN') == 'fail-' + label:
            status, detail = 'fail', 'exit=1'
        tests.append({'id': i, 'key': key, 'name': key.split()[0], 'status': status, 'detail': detail,
                      'splats': [], 'secs': 1.0, 'output_tail': [], 'threads': ''})
    json.dump({'label': label, 'mode': mode, 'tests': tests, 'boots': [], 'problems': [],
               'host_load': [0.1, 0.1], 'host_cpus': 2}, open(os.path.join(out, 'results.json'), 'w'))
PY
# The list's args are part of the key: make t1's "t1 -a b".
printf 't1 10 - -a b\nt2 10 -\n' > "$top/tests/kvm-tests.list"

go() {	# go NAME ENV...: run.sh on the stubs; its exit status in $work/NAME.rc
	: > "$work/calls-$1.log"; : > "$work/calls-$1.log.args"
	(cd "$top" && env KMMU_OUT="$work/out-$1" KMMU_CACHE="$work/cache" KMMU_MODES=tdp KMMU_PATCHED_MODES= \
		FAKE_LOG="$work/calls-$1.log" "${@:2}" bash scripts/run.sh) > "$work/log" 2>&1
	echo $? > "$work/$1.rc"
	cp "$work/log" "$work/$1.log"
}

go clean
t "a flake that does not come back: run passes, verdict says not reproduced" \
	"[ \$(cat $work/clean.rc) -eq 0 ] && grep -q 'flaky on patched only, not reproduced in reruns (patched 0 of 2 reruns failed, base 0 of 2)' $work/clean.log"
count() { grep -cxF "$2" "$work/calls-$1.log"; }
t "it was rerun twice on each kernel, one attempt each, on that test alone" \
	'[ "$(count clean "base tdp rerun ^t1\x20\-a\x20b\$")" -eq 2 ] &&
	 [ "$(count clean "patched tdp rerun ^t1\x20\-a\x20b\$")" -eq 2 ] &&
	 [ "$(grep -c rerun "$work/calls-clean.log")" -eq 4 ]'
go again FAKE_RERUN=fail-patched
t "a flake that comes back on the patched kernel only: the run fails" \
	"[ \$(cat $work/again.rc) -ne 0 ] && grep -q 'flaky on patched only, again in reruns (patched 2 of 2 reruns failed, base 0 of 2)' $work/again.log"
go both FAKE_RERUN=fail-base
t "a rerun failing on the base: flaky on both kernels, the run passes" \
	"[ \$(cat $work/both.rc) -eq 0 ] && grep -q 'flaky on both kernels in reruns' $work/both.log"
go none KMMU_RERUNS=0
t "KMMU_RERUNS=0: no reruns, the flake fails the run" \
	"[ \$(cat $work/none.rc) -ne 0 ] && ! grep -q rerun $work/calls-none.log && grep -q 'flaky on patched only' $work/none.log"
# The base result cache: for the base kernel's main runs only, never for
# the patched kernel or a rerun; KMMU_FRESH=1 runs every base test again.
t "the base's main run gets the cache, the patched kernel's and the reruns do not; progress lines reach the terminal" \
	'grep -qx "base tdp main cache=$work/cache progress=3" "$work/calls-clean.log.args" &&
	 grep -qx "patched tdp main cache=- progress=3" "$work/calls-clean.log.args" &&
	 [ "$(grep -c "rerun cache=-" "$work/calls-clean.log.args")" -eq 4 ] &&
	 [ "$(grep -c "cache=" "$work/calls-clean.log.args")" -eq 6 ] &&
	 grep -qx "\[base/tdp\] 1/2 t2 pass 1 s" "$work/clean.log"'
go fresh KMMU_FRESH=1
t "KMMU_FRESH=1: the base runs every test again (--cache-refresh)" \
	'grep -qx "base tdp main cache=$work/cache refresh progress=3" "$work/calls-fresh.log.args"'
go badfresh KMMU_FRESH=yes
t "KMMU_FRESH=yes is refused by name" \
	'[ "$(cat "$work/badfresh.rc")" -ne 0 ] && grep -q "KMMU_FRESH must be 1" "$work/badfresh.log"'
t "the report is also written as report.md and junit.xml" \
	'[ -s "$work/out-clean/results/report.md" ] && grep -q "<testsuites" "$work/out-clean/results/junit.xml"'
tap_done
