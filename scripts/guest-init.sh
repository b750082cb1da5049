#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the test initramfs (scripts/vmrun.py packs it).  Runs one group of
# KVM selftests, chosen with kmmu.group=N on the kernel command line, and
# writes kselftest-style TAP to the second serial port (/dev/ttyS1) while the
# kernel console stays on ttyS0.  Each test is announced in the kernel log, so
# a splat on the console can be tied to the test that was running.

/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
mkdir -p /dev/hugepages && mount -t hugetlbfs hugetlbfs /dev/hugepages

tap=/dev/ttyS1
# kmmu.tap=console (LAVA jobs, scripts/lava-jobs.py): the TAP goes to the
# console, the one serial port a lab reads, and each result is also said as
# "kmmu-result: <id>_<name> pass|fail|skip" for the job's monitor pattern.
lava=
if grep -q 'kmmu\.tap=console' /proc/cmdline; then
	tap=/dev/console lava=1
fi
lava_result() {	# lava_result ID NAME RC
	[ -n "$lava" ] || return 0
	case $3 in 0) r=pass ;; 4) r=skip ;; *) r=fail ;; esac
	echo "kmmu-result: $(echo "${1}_$2" | tr -c -- '-_a-zA-Z0-9.\n' _) $r" > $tap
}
group=$(sed -n 's/.*kmmu\.group=\([0-9]*\).*/\1/p' /proc/cmdline)
list=/tests/group-$group.list
only=$(sed -n 's/.*kmmu\.only=\([0-9,]*\).*/\1/p' /proc/cmdline)
# kmmu.inject=backtrace: make the kernel print a real backtrace during the
# first test, so that the harness can check that it notices (tests/).
# kmmu.inject=hang: wedge the kernel during the first test with LKDTM (the
# kernel's fault injector, CONFIG_LKDTM): a task blocked in D state for ever
# (the hung-task detector's case), then every CPU in a soft lockup, which
# leaves no guest process able to run, as an mmu_lock deadlock would: the
# host must notice, ask the kernel for sysrq backtraces and report them.
inject=$(sed -n 's/.*kmmu\.inject=\([a-z]*\).*/\1/p' /proc/cmdline)
# kmmu.noretry=1: one attempt per test (the host's reruns of a flaky test
# count first attempts).
noretry=$(sed -n 's/.*kmmu\.noretry=\([01]\).*/\1/p' /proc/cmdline)
# kmmu.tdiv=N: the host boots this guest with KVM, not TCG: the list's
# timeouts, sized for TCG, divided by N, 30 s at least (scaled_timeout() in
# scripts/vmrun.py, whose own limits follow the same rule).
tdiv=$(sed -n 's/.*kmmu\.tdiv=\([0-9]*\).*/\1/p' /proc/cmdline)
kmsg() { echo "kmmu: $*" > /dev/kmsg; }
# Kernels with kmemleak (make kasan's: configs/kasan.config): what the boot
# left unreferenced is scanned for now and set aside ("clear"), so that the
# scan after the group's tests (kmemleak_check) reports only what they leaked.
leakf=/sys/kernel/debug/kmemleak
[ -w $leakf ] && { echo scan > $leakf; echo clear > $leakf; }
kmemleak_check() {
	[ -w $leakf ] || return 0
	kmsg "kmemleak scan after the group's tests"
	# kmemleak reports an object only once it is older than 5 s and has
	# been found unreferenced, with the same checksum, by two scans.  Each
	# scan prints "kmemleak: N new suspected memory leaks" when it finds
	# some (the console scanner's kmemleak finding); the objects' own
	# records, with the backtrace of their allocation, follow it here.
	sleep 6
	echo scan > $leakf
	echo scan > $leakf
	while IFS= read -r l; do echo "kmemleak: $l" > /dev/kmsg; done < $leakf
}

# Yield paths (yield:SYM+SYM in the list): every call of
# __cond_resched_rwlock_read() or _write() is recorded, and so is every entry
# to and return from the functions the list names.  The callers check
# need_resched() || rwlock_needbreak() first, so a call means that a
# need-to-yield branch ran; it counts for the named function that the same
# task was inside at that moment, wherever the branch itself is (often in a
# shared helper such as tdp_mmu_iter_cond_resched()).  Names a kernel does
# not have (the list names the base's and the patched kernel's functions)
# are skipped; at least one must be there.
tr=/sys/kernel/tracing
yield_setup() {	# yield_setup SYMS
	[ -d $tr/events ] || mount -t tracefs tracefs $tr 2>/dev/null ||
		{ echo "tracefs cannot be mounted"; return 1; }
	[ -w $tr/kprobe_events ] || { echo "no kprobe_events (CONFIG_KPROBE_EVENTS)"; return 1; }
	for l in read write; do
		[ -d $tr/events/kmmu/yield_$l ] ||
			echo "p:kmmu/yield_$l __cond_resched_rwlock_$l caller=+0(\$stack):symbol" \
				>> $tr/kprobe_events 2>/dev/null ||
			{ echo "kprobe on __cond_resched_rwlock_$l refused"; return 1; }
	done
	found=
	for f in $(echo "$1" | tr + ' '); do
		if [ ! -d $tr/events/kmmu/in_$f ]; then
			echo "p:kmmu/in_$f $f" >> $tr/kprobe_events 2>/dev/null || continue
			echo "r:kmmu/out_$f $f" >> $tr/kprobe_events 2>/dev/null || continue
		fi
		found=1
	done
	[ -n "$found" ] || { echo "none of $(echo "$1" | sed 's/+/, /g') can be probed"; return 1; }
	echo 0 > $tr/tracing_on
	echo 4096 > $tr/buffer_size_kb
	echo > $tr/trace
	echo 1 > $tr/events/kmmu/enable && echo 1 > $tr/tracing_on
}
# yield_count SYMS: print "SYM lock N" per function of SYMS (+-separated)
# and lock that yielded inside it, "CALLER lock N (not named)" for the other
# yields, and return 1 if none of SYMS yielded.
yield_count() {
	echo 0 > $tr/tracing_on
	echo 0 > $tr/events/kmmu/enable
	awk -v syms="$1" '
		BEGIN { n = split(syms, s, "[+]"); for (i = 1; i <= n; i++) want[s[i]] = 1 }
		{ pid = $1; sub(/.*-/, "", pid) }
		/ in_[A-Za-z0-9_]*: / { f = $0; sub(/.* in_/, "", f); sub(/:.*/, "", f); inside[pid, f]++; next }
		/ out_[A-Za-z0-9_]*: / { f = $0; sub(/.* out_/, "", f); sub(/:.*/, "", f); if (inside[pid, f] > 0) inside[pid, f]--; next }
		/ yield_[a-z]*: / {
			lock = $0; sub(/.* yield_/, "", lock); sub(/:.*/, "", lock)
			caller = $0; sub(/.*caller=/, "", caller); sub(/\+.*/, "", caller)
			hit = ""
			for (f in want) if (inside[pid, f] > 0) hit = f
			if (hit != "") named[hit " " lock]++
			else other[caller " " lock]++
		}
		END {
			for (k in named) print k, named[k]
			for (k in other) print k, other[k], "(not named)"
		}' $tr/trace | sort > /tmp/yields
	[ "$(cat $tr/per_cpu/cpu*/stats 2>/dev/null | awk '/^overrun/ { n += $2 } END { print n + 0 }')" = 0 ] ||
		echo "(trace buffer overran: counts are lower bounds)"
	cat /tmp/yields
	grep -q '^[^ ]* [a-z]* [0-9]*$' /tmp/yields
}

# What every thread of a test is doing, three times a second apart: its state
# (R running, S/D sleeping), the CPU time it has used (utime stime, in ticks),
# where it sleeps, and its kernel stack.  It goes to the test's own output,
# not the console, so that the console scanner still judges only the kernel's
# messages.  A vCPU thread stuck in KVM_RUN with stime growing is a loop in the
# kernel; one asleep with the same stack every time is a wait that never ends.
dump_tasks() {
	for n in 1 2 3; do
		echo "[timeout] sample $n of pid $1, uptime $(cut -d' ' -f1 /proc/uptime)"
		for t in /proc/$1/task/*; do
			[ -r "$t/stat" ] || continue
			# Fields after "(comm) ": state is the 1st, utime the 12th.
			set -- "$1" $(sed 's/^.*) //' "$t/stat")
			echo "[timeout] tid ${t##*/} $(cat "$t/comm" 2>/dev/null) state $2 utime ${13} stime ${14} wchan $(cat "$t/wchan" 2>/dev/null)"
			sed 's/^/[timeout]     /' "$t/stack" 2>/dev/null
			set -- "$1"
		done
		sleep 1
	done
}

# Run a test with a time limit.  On overrun, dump its threads into its output,
# then kill it: exit 137, as with timeout -s KILL.
run_limited() {
	limit=$1
	shift
	"$@" &
	tpid=$!
	(
		sleep "$limit"
		kill -0 "$tpid" 2>/dev/null || exit 0
		dump_tasks "$tpid"
		echo "[timeout] killing pid $tpid after ${limit}s"
		kill -KILL "$tpid"
	) &
	wpid=$!
	wait "$tpid"
	trc=$?
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
	return $trc
}

{
	echo "TAP version 13"
	echo "# kmmu-boot group=$group kernel=$(uname -r)"
	echo "# kmmu-cmdline $(cat /proc/cmdline)"
	echo "# kmmu-params tdp_mmu=$(cat /sys/module/kvm/parameters/tdp_mmu 2>/dev/null)" \
	     "npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)" \
	     "nx_huge_pages=$(cat /sys/module/kvm/parameters/nx_huge_pages 2>/dev/null)" \
	     "hugepages=$(cat /proc/sys/vm/nr_hugepages)"
	# On Intel (Bochs, the ept mode): what kvm_intel enabled of the CPU's
	# EPT features, which the tests of the EPT-only paths depend on.
	if [ -d /sys/module/kvm_intel/parameters ]; then
		echo "# kmmu-params-intel $(cd /sys/module/kvm_intel/parameters &&
			for p in ept eptad enable_ept_ad_bits pml vpid unrestricted_guest flexpriority \
				 enable_shadow_vmcs nested enable_apicv preemption_timer; do
				[ -r $p ] && printf '%s=%s ' $p "$(cat $p)"
			done)"
	fi
	echo "# kmmu-cpu $(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')," \
	     "$(grep -c '^processor' /proc/cpuinfo) CPUs," \
	     "vmx flags: $(grep -m1 '^vmx flags' /proc/cpuinfo | sed 's/.*: //')"
	[ -e /dev/kvm ] || echo "# kmmu-no-dev-kvm"
} > $tap

if [ ! -f "$list" ]; then
	echo "# kmmu-error no test list $list" > $tap
else
	while IFS='	' read -r id name timeout retries ysyms args; do
		[ -n "$id" ] || continue
		if [ -n "$only" ]; then
			case ",$only," in *",$id,"*) ;; *) continue ;; esac
		fi
		bin=/kvm/$name
		if [ "${tdiv:-1}" -gt 1 ]; then
			timeout=$((timeout / tdiv))
			[ "$timeout" -ge 30 ] || timeout=30
		fi
		echo "# kmmu-begin $id $name $timeout" > $tap
		kmsg "begin test $id $name"
		start=$(cut -d' ' -f1 /proc/uptime)
		if [ "$inject" = backtrace ]; then
			echo l > /proc/sysrq-trigger
			# Other CPUs print their part from NMI context: wait until
			# it is in the log, so that it comes before "end test".
			for i in 1 2 3 4 5 6 7 8 9 10; do
				[ "$(dmesg | grep -c 'Call Trace')" -ge 2 ] && break
				sleep 1
			done
			inject=
		fi
		if [ "$inject" = hang ]; then
			lkdtm=/sys/kernel/debug/provoke-crash/DIRECT
			echo HUNG_TASK > $lkdtm &
			for i in $(seq 40); do
				dmesg | grep -q 'blocked for more than' && break
				sleep 1
			done
			for c in $(seq 0 $(($(nproc) - 1))); do
				taskset -c "$c" sh -c "echo SOFTLOCKUP > $lkdtm" &
			done
			sleep 600
		fi
		if [ ! -x "$bin" ]; then
			echo "not ok $id $name # binary missing from the initramfs" > $tap
			lava_result "$id" "$name" 127
			continue
		fi
		# The host watchdog kills the whole VM if the guest wedges; this
		# inner limit catches a test that merely runs too long.  A test
		# the list marks retry:N gets N more attempts after a failure;
		# every failed attempt's output stays in the log.
		flaky= ywhy=
		if [ "$ysyms" != - ]; then
			ywhy=$(yield_setup "$ysyms") || ywhy="yield count unavailable: $ywhy"
		fi
		while :; do
			(cd /tmp && run_limited "$timeout" "$bin" $args) > /tmp/out 2>&1
			rc=$?
			case $rc in 0|4) break ;; esac
			[ "${retries:-0}" -gt 0 ] && [ "$noretry" != 1 ] || break
			retries=$((retries - 1))
			echo "# kmmu-retry $id $name: attempt failed with exit $rc, retrying" > $tap
			sed 's/^/# [failed attempt] /' /tmp/out > $tap
			kmsg "retry test $id $name after exit $rc"
			flaky="${flaky:+$flaky, }exit $rc"
		done
		end=$(cut -d' ' -f1 /proc/uptime)
		kmsg "end test $id $name rc=$rc"
		sed 's/^/# /' /tmp/out > $tap
		# A test that targets a yield path fails if no function it names
		# yielded, over all attempts: its check could not have failed.
		if [ "$ysyms" != - ]; then
			if [ -z "$ywhy" ]; then
				yield_count "$ysyms" > /tmp/yields.out || ywhy="yield path not taken: no __cond_resched_rwlock_*() call inside $(echo "$ysyms" | sed 's/+/ or /g')"
				sed 's/^/# kmmu-yield /' /tmp/yields.out > $tap
			fi
			[ -n "$ywhy" ] && [ "$rc" = 0 ] && rc=yield
		fi
		secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
		case $rc in
		0)	echo "ok $id $name # time=${secs}s${flaky:+ flaky: passed on retry after $flaky}" > $tap ;;
		4)	why=$(grep -m1 -iE 'skip|requirement|not supported' /tmp/out | tr -d '#' | cut -c1-120)
			echo "ok $id $name # SKIP ${why:-exit code 4} time=${secs}s" > $tap ;;
		137)	echo "not ok $id $name # TIMEOUT after ${timeout}s (killed in the guest)" > $tap ;;
		yield)	echo "not ok $id $name # $ywhy time=${secs}s" > $tap ;;
		*)	echo "not ok $id $name # exit=$rc time=${secs}s${flaky:+ (also failed before: $flaky)}" > $tap ;;
		esac
		lava_result "$id" "$name" "$rc"
	done < "$list"
fi
kmemleak_check
echo "# kmmu-done" > $tap
sync
poweroff -f
