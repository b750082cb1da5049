#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmarks: run tests/bench.list on the base and the patched kernel, in the
# same session and on the same workload, and print every "bench: NAME VALUE"
# figure side by side with the difference.  Counts (bytes, faults, flushes)
# are preferred over times, which under TCG depend on the emulation.
#
# Environment (make bench NAME=... sets KMMU_NAME): KMMU_MODES (default "tdp
# shadow-mmu"), KMMU_PATCHED_MODES (default: the series header's
# "# patched-modes:", run on the patched kernel only), as in run.sh;
# KMMU_BENCH_LIST (default tests/bench.list).
set -e
. "$(dirname "$0")/lib.sh"

MODES=${KMMU_MODES:-tdp shadow-mmu}
PATCHED_MODES=${KMMU_PATCHED_MODES-$(series_header patched-modes)}
list=${KMMU_BENCH_LIST:-$TOP/tests/bench.list}
"$TOP/scripts/apply.sh"
for k in base patched; do
	"$TOP/scripts/build-kernel.sh" "$KMMU_OUT/trees/$k" >/dev/null
done
bin=$("$TOP/scripts/build-selftests.sh")
ird=$KMMU_OUT/bench-initramfs.cpio.gz
python3 "$TOP/scripts/vmrun.py" initramfs --bin "$bin" --list "$list" --out "$ird" >/dev/null

rc=0
dirs=()
for mode in $MODES $PATCHED_MODES; do
	for k in base patched; do
		case " $MODES " in
		*" $mode "*) ;;
		*) [ "$k" = patched ] || continue ;;
		esac
		d=$KMMU_OUT/bench/$k-$mode
		rm -rf "$d"
		msg "benchmark: $k kernel, $mode"
		python3 "$TOP/scripts/vmrun.py" run --kernel "$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage" \
			--initramfs "$ird" --list "$list" --mode "$mode" --label "$k" --out "$d" || rc=1
		dirs+=("$d")
	done
done

python3 - "${dirs[@]}" <<'PY'
import glob, os, re, sys
figures = {}   # (mode, bench, name) -> {kernel: value}
UPSTREAM_FIGURES = [
    # dirty_log_perf_test: the time KVM_SET_USER_MEMORY_REGION takes to turn
    # dirty logging off (where huge pages are recovered), in seconds.
    (r'# Disabling dirty logging time: ([0-9.]+)s$', 'disable_dirty_log_s'),
    # ... and the populate, enable and dirty-log times, the direct TDP MMU
    # paths that mirror SPTEs must leave as fast as they were.
    (r'# Populate memory time: ([0-9.]+)s$', 'populate_s'),
    (r'# Enabling dirty logging time: ([0-9.]+)s$', 'enable_dirty_log_s'),
    (r'# Get dirty log over [0-9]+ iterations took ([0-9.]+)s', 'get_dirty_log_s'),
]
for d in sys.argv[1:]:
    kernel, mode = os.path.basename(d).split('-', 1)
    for tap in sorted(glob.glob(os.path.join(d, 'tap-g*.log'))):
        test = None
        for line in open(tap, errors='replace'):
            # A test listed twice (other arguments) is told apart by its
            # number in the list, the same on both kernels.
            m = re.match(r'# kmmu-begin (\d+) (\S+)', line)
            if m:
                test = '%s#%s' % (m.group(2).split('/')[-1], m.group(1))
            m = re.match(r'# bench: (\S+) (.*)$', line.rstrip())
            if m and test:
                figures.setdefault((mode, test, m.group(1)), {})[kernel] = m.group(2)
            # Upstream tests print figures in their own words: take the ones
            # the series is about.
            for pat, name in UPSTREAM_FIGURES:
                m = re.match(pat, line.rstrip())
                if m and test:
                    figures.setdefault((mode, test, name), {})[kernel] = m.group(1)
print()
print('%-10s %-28s %-26s %14s %14s %14s' % ('mode', 'benchmark', 'figure', 'base', 'patched', 'patched-base'))
for (mode, test, name), v in sorted(figures.items()):
    b, p = v.get('base', '-'), v.get('patched', '-')
    try:
        diff = '%+d' % (int(p) - int(b))
    except ValueError:
        try:
            diff = '%+.6f' % (float(p) - float(b))
        except ValueError:
            diff = '-'
    print('%-10s %-28s %-26s %14s %14s %14s' % (mode, test, name, b, p, diff))
PY
# What feature 3 costs kernels built without a mirror backend: object code.
echo
bash "$TOP/scripts/mirror-cost.sh" || rc=1
exit $rc
