#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The /proc/lock_stat parser of the kvm-extra tests
# (tools/testing/selftests/kvm-extra/lock_stat.h), compiled with gcc on the
# host with the selftests' warnings, against made-up /proc/lock_stat texts in
# the format of kernel/locking/lockdep_proc.c: an rwlock with -W and -R lines,
# with only one side, a spinlock, contention point lines and other classes
# of similar names that must not count, two reads summed up; a class absent
# (zero when lockdep knows it, no figures when not); and texts that must give
# no figure at all: a line cut short, another format version, lockdep turned
# off, no /proc/lock_stat, kernel.lock_stat=0.  With a kernel tree (the base,
# or KMMU_LOCKSTAT_KSRC), also that the formats and the class names are the
# kernel's.  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"

# The driver: for each lock_stat text, a clear (of a scratch file) and a
# read, as a test does per phase; then the bench lines, prefix "p".
cat > "$work/drv.c" <<'EOF'
#include "lock_stat.h"

int main(int argc, char **argv)
{
	struct lock_stat ls = {};
	int i;

	lock_stat_sysctl = argv[2];
	lock_stat_lockdep = argv[3];
	for (i = 4; i < argc; i++) {
		lock_stat_path = argv[1];
		lock_stat_clear();
		lock_stat_path = argv[i];
		lock_stat_add(&ls);
	}
	lock_stat_print(&ls, "p");
	return 0;
}
EOF
gcc -std=gnu99 -O2 -Wall -Wstrict-prototypes -Wuninitialized -Werror \
	-I "$TOP/tools/testing/selftests/kvm-extra" -o "$work/drv" "$work/drv.c" > "$work/log" 2>&1
t "lock_stat.h compiles on the host with the selftests' warnings, as errors" '[ -x "$work/drv" ]'
[ -x "$work/drv" ] || tap_done

# seq_header() and seq_stats() of kernel/locking/lockdep_proc.c, in printf.
dashes=$(printf '%221s' '' | tr ' ' -)
header() {
	printf 'lock_stat version 0.4\n%s\n' "$dashes"
	printf '%40s %14s %14s %14s %14s %14s %14s %14s %14s %14s %14s %14s %14s\n' "class name" \
		con-bounces contentions waittime-min waittime-max waittime-total waittime-avg \
		acq-bounces acquisitions holdtime-min holdtime-max holdtime-total holdtime-avg
	printf '%s\n\n' "$dashes"
}
# line NAME SUFFIX(: -W: -R:) CON-BOUNCES CONTENTIONS WAIT-TOTAL ACQ-BOUNCES ACQUISITIONS
line() {
	local fmt='%40s:'
	[ "$2" = : ] || fmt="%38s${2}"
	printf "$fmt"'%14s %14s %14s %14s %14s %14s %14s %14s %14s %14s %14s %14s\n' "$1" \
		"$3" "$4" 0.20 99.50 "$5" 1.00 "$6" "$7" 0.10 250.00 12345.67 3.21
}
# A contention point: the name again, no colon.
point() {
	printf '%40s %14s %29s %s\n' "$1" "$2" '[<00000000a1b2c3d4>]' 'kvm_tdp_mmu_map+0x1b4/0x6a0'
}
mmu='&(kvm)->mmu_lock' pages='&kvm->arch.tdp_mmu_pages_lock'
: > "$work/clear"
echo 1 > "$work/sysctl-on"
echo 0 > "$work/sysctl-off"
# /proc/lockdep: a class line per class, dependencies indented.
printf 'all lock classes:\n%s\n -> [%s] %s\n\n%s\n\n' \
	"00000000c0ffee01 FD:   12 BD:    3 ++++: $mmu" 00000000c0ffee02 "$pages" \
	"00000000c0ffee02 FD:    1 BD:   14 +.+.: $pages" > "$work/lockdep-both"
# Neither class: the pages lock only as a dependency and as another class.
printf 'all lock classes:\n%s\n -> [%s] %s\n\n%s\n\n' \
	"00000000c0ffee01 FD:   12 BD:    3 ++++: $mmu" 00000000c0ffee02 "$pages" \
	"00000000c0ffee03 FD:    1 BD:   14 +.+.: $pages#2" > "$work/lockdep-mmu"
: > "$work/lockdep-none"

run() {	# run SYSCTL LOCKDEP TEXT...: the driver's output in $work/log
	"$work/drv" "$work/clear" "$@" > "$work/log" 2>&1
}
same() {	# ... | same: the driver printed exactly the lines of stdin
	cat > "$work/expected"
	diff "$work/expected" "$work/log" > "$work/diff" && return 0
	sed 's/^/diff: /' "$work/diff" >> "$work/log"
	return 1
}
figures() {	# figures NAME C A W: the three lines of a class (side)
	printf 'bench: p_%s_%s %s\n' "$1" contentions "$2" "$1" acquisitions "$3" "$1" wait_us "$4"
}
nobench() { ! grep -q '^bench:' "$work/log"; }

# 1. Both sides of the rwlock, the spinlock, and lines that must not count.
{
	header
	line '&rq->__lock' : 900 1000 5000.00 80000 200000
	line "$mmu" -W: 3 7 300.20 40 150
	line "$mmu" -R: 1 2 10.75 600 9000
	printf '%24s%16s\n' '' '----------------'
	point "$mmu" 5
	point "$mmu" 4
	printf '\n%s\n\n' "$(printf '%221s' '' | tr ' ' .)"
	line "$mmu/1" : 50 60 70.00 80 90
	line "$mmu#2" -W: 51 61 71.00 81 91
	line "${mmu}_x" -R: 52 62 72.00 82 92
	line "$pages" : 2 4 8.00 30 600
} > "$work/both"
run "$work/sysctl-on" "$work/lockdep-none" "$work/both"
t "an rwlock's -W and -R lines and a spinlock's line: contentions, acquisitions, wait in us; not the contention points, the subclass, the other versions" \
	'{ figures mmu_lock_write 7 150 300; figures mmu_lock_read 2 9000 11; figures tdp_mmu_pages_lock 4 600 8; } | same'
t "... and the clear wrote \"0\" to /proc/lock_stat" '[ "$(cat "$work/clear")" = 0 ]'

# 2. Two phases of one kind (nx_recovery_fault_rate's runs) add up.
run "$work/sysctl-on" "$work/lockdep-none" "$work/both" "$work/both"
t "two reads are summed up" \
	'{ figures mmu_lock_write 14 300 600; figures mmu_lock_read 4 18000 22; figures tdp_mmu_pages_lock 8 1200 16; } | same'

# 3. One side only: lock_stat prints an rwlock taken for write only as
#    "NAME:", for read only as "NAME-R:"; the other side is a real zero.
{ header; line "$mmu" : 0 0 0.00 12 345; line "$pages" : 0 0 0.00 1 2; } > "$work/write-only"
run "$work/sysctl-on" "$work/lockdep-none" "$work/write-only"
t "an rwlock taken for write only (\"NAME:\"): its read side is zero" \
	'{ figures mmu_lock_write 0 345 0; figures mmu_lock_read 0 0 0; figures tdp_mmu_pages_lock 0 2 0; } | same'
{ header; line "$mmu" -R: 3 5 1.40 12 345; line "$pages" : 0 0 0.00 1 2; } > "$work/read-only"
run "$work/sysctl-on" "$work/lockdep-none" "$work/read-only"
t "an rwlock taken for read only (\"NAME-R:\"): its write side is zero" \
	'{ figures mmu_lock_write 0 0 0; figures mmu_lock_read 5 345 1; figures tdp_mmu_pages_lock 0 2 0; } | same'

# 4. A class with no line: no acquisition since the clear if lockdep knows
#    it, otherwise no figures (a wrong name, or a lock never taken).
{ header; line "$mmu" -W: 0 0 0.00 1 1; line "$mmu" -R: 0 0 0.00 1 1; } > "$work/no-pages"
run "$work/sysctl-on" "$work/lockdep-both" "$work/no-pages"
t "a class absent from lock_stat that lockdep knows: zero" \
	'{ figures mmu_lock_write 0 1 0; figures mmu_lock_read 0 1 0; figures tdp_mmu_pages_lock 0 0 0; } | same'
run "$work/sysctl-on" "$work/lockdep-mmu" "$work/no-pages"
t "a class absent from lock_stat and from lockdep's classes (a dependency line, NAME#2): no figures for it, the others' kept" \
	'grep -q "^# lock_stat: $pages: not in /proc/lockdep either" "$work/log" && ! grep -q "^bench: p_tdp" "$work/log" &&
	 [ $(grep -c "^bench: p_mmu_lock_" "$work/log") -eq 6 ]'
{ header; line "$mmu" -W: 0 0 0.00 1 1; } > "$work/no-pages-2"
run "$work/sysctl-on" "$work/lockdep-none" "$work/no-pages" "$work/both" "$work/no-pages-2"
t "a class absent in some reads only: those reads count as zero" \
	'{ figures mmu_lock_write 7 152 300; figures mmu_lock_read 2 9001 11; figures tdp_mmu_pages_lock 4 600 8; } | same'

{ header; line "$mmu" : 0 0 0.00 1 1; line "$pages" -W: 0 1 0.50 1 2; line "$pages" -R: 0 1 0.50 1 2; } > "$work/pages-rw"
run "$work/sysctl-on" "$work/lockdep-both" "$work/pages-rw"
t "the spinlock with a read side (the kernel changed its type): no figures for it" \
	'grep -q "^# lock_stat: $pages: taken for read, not a spinlock" "$work/log" && ! grep -q "^bench: p_tdp" "$work/log" &&
	 [ $(grep -c "^bench: p_mmu_lock_" "$work/log") -eq 6 ]'

# 5. Texts that must give no figure at all.
{ header; line "$pages" : 2 4 8.00 30 600; line "$mmu" -W: 3 7 300.20 40 150
  line "$mmu" -R: 1 2 10.75 600 9000 | cut -c 1-120; } > "$work/cut"
run "$work/sysctl-on" "$work/lockdep-both" "$work/cut"
t "a line cut short: an error, no figure at all" \
	'grep -q "^# lock_stat: $mmu: a line of the class is cut short or malformed" "$work/log" && nobench'
{ header; line "$mmu" -W: 3 7 300.20 40 150; line "$mmu" -W: 3 7 300.20 40 150; } > "$work/twice"
run "$work/sysctl-on" "$work/lockdep-both" "$work/twice"
t "two lines for one side: an error, no figure" \
	'grep -q "^# lock_stat: $mmu: two lines of the class for one side" "$work/log" && nobench'
sed '1s/0\.4/0.5/' "$work/both" > "$work/version"
run "$work/sysctl-on" "$work/lockdep-both" "$work/version"
t "another lock_stat format version: an error, no figure" \
	'grep -q "^# lock_stat: $mmu: not the lock_stat 0.4 format" "$work/log" && nobench'
sed '1a *WARNING* lock debugging disabled!! - possibly due to a lockdep warning' "$work/both" > "$work/off"
run "$work/sysctl-on" "$work/lockdep-both" "$work/off"
t "lockdep turned off by a report: no figure" \
	'grep -q "^# lock_stat: $mmu: lock debugging disabled" "$work/log" && nobench'
"$work/drv" "$work/no-such-file" "$work/sysctl-on" "$work/lockdep-both" "$work/both" "$work/both" > "$work/log" 2>&1
rc=$?
t "no /proc/lock_stat (no CONFIG_LOCK_STAT): said once, no figure, exit 0" \
	'[ $rc -eq 0 ] && grep -qx "# lock_stat: not available (no /proc/lock_stat, a kernel without CONFIG_LOCK_STAT): no lock figures" "$work/log" &&
	 [ $(wc -l < "$work/log") -eq 1 ]'
run "$work/sysctl-off" "$work/lockdep-both" "$work/both"
t "kernel.lock_stat=0: no figure" \
	'grep -q "^# lock_stat: not available (kernel.lock_stat is 0" "$work/log" && nobench'

# 6. The fixtures' format and the class names against a kernel tree.
ksrc=${KMMU_LOCKSTAT_KSRC:-${KMMU_OUT:-$TOP/out}/trees/base/src}
if [ -f "$ksrc/kernel/locking/lockdep_proc.c" ]; then
	printf '%s\n' 'seq_puts(m, "lock_stat version 0.4\n");' 'seq_printf(m, "%40s:", name);' \
		'seq_printf(m, "%38s-W:", name);' 'seq_printf(m, "%38s-R:", name);' \
		'seq_printf(m, "%40s %14lu %29s %pS\n",' '*WARNING* lock debugging disabled!!' > "$work/formats"
	while IFS= read -r f; do
		grep -qF "$f" "$ksrc/kernel/locking/lockdep_proc.c" || echo "not in lockdep_proc.c: $f"
	done < "$work/formats" > "$work/log"
	t "the kernel prints lock_stat as the fixtures do ($ksrc)" '! [ -s "$work/log" ]'
	t "lock_stat.h names each class after its init call's argument in the kernel" \
		'names=0 bad=0
		 for c in $(sed -n "s/^\t{ \"\([^\"]*\)\", .*/\1/p" "$TOP/tools/testing/selftests/kvm-extra/lock_stat.h"); do
			 names=$((names + 1))
			 grep -rqF "_init($c)" "$ksrc/virt/kvm" "$ksrc/arch/x86/kvm" || { echo "no _init($c) in $ksrc"; bad=1; }
		 done > "$work/log"; [ $bad -eq 0 ] && [ $names -eq 2 ]'
else
	skip "the kernel prints lock_stat as the fixtures do" "no kernel tree ($ksrc)"
	skip "lock_stat.h names each class after its init call's argument" "no kernel tree"
fi

tap_done
