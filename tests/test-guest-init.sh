#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The guest's shell parts (scripts/guest-init.sh), run on the host: the
# yield count on made-up trace output, and the per-test limit with the
# host's busybox.  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env

# The guest's yield count (scripts/guest-init.sh), on made-up trace output:
# a yield by a named function passes, yields by others only fail.
yield_tr=$work/yield-tr
mkdir -p "$yield_tr/events/kmmu" "$yield_tr/per_cpu/cpu0"
sed -n '/^yield_count() {/,/^}/p' "$TOP/scripts/guest-init.sh" > "$work/yield-count.sh"
printf 'overrun: 0\n' > "$yield_tr/per_cpu/cpu0/stats"
cat > "$yield_tr/trace.yes" <<'TR'
 kvm-nx-lpage-re-91 [001] d..1. 12.4: in_kvm_recover_nx_huge_pages: (kvm_recover_nx_huge_pages+0x0/0x420)
 kvm-nx-lpage-re-91 [001] d..1. 12.5: yield_write: (__cond_resched_rwlock_write+0x0/0x90) caller=kvm_recover_nx_huge_pages+0x1f3/0x420
 kvm-nx-lpage-re-91 [001] d..1. 12.6: yield_write: (__cond_resched_rwlock_write+0x0/0x90) caller=kvm_recover_nx_huge_pages+0x1f3/0x420
 kvm-nx-lpage-re-91 [001] d..1. 12.7: out_kvm_recover_nx_huge_pages: (kvm_nx_huge_page_recovery_worker+0x4b/0x90 <- kvm_recover_nx_huge_pages)
 huge_page_recov-77 [000] d..1. 13.0: in_recover_huge_pages_range: (recover_huge_pages_range+0x0/0x300)
 huge_page_recov-77 [000] d..1. 13.1: yield_read: (__cond_resched_rwlock_read+0x0/0x90) caller=tdp_mmu_iter_cond_resched+0x5a/0xa0
 huge_page_recov-77 [000] d..1. 13.2: out_recover_huge_pages_range: (kvm_tdp_mmu_recover_huge_pages+0x50/0x90 <- recover_huge_pages_range)
 huge_page_recov-77 [000] d..1. 14.1: yield_read: (__cond_resched_rwlock_read+0x0/0x90) caller=tdp_mmu_iter_cond_resched+0x5a/0xa0
TR
# Without the NX recovery's yields: the in-place recovery's (through the
# shared helper), and one outside any named function.
sed -n '5,$p' "$yield_tr/trace.yes" > "$yield_tr/trace.no"
check "the yield count finds the yields made inside the named function, by lock" sh -c "
	cd '$work' && tr='$yield_tr' && . ./yield-count.sh && cp '$yield_tr/trace.yes' '$yield_tr/trace' &&
	yield_count other_fn+kvm_recover_nx_huge_pages > out.y && grep -qx 'kvm_recover_nx_huge_pages write 2' out.y &&
	yield_count recover_huge_pages_range > out.y2 && grep -qx 'recover_huge_pages_range read 1' out.y2 &&
	grep -qx 'tdp_mmu_iter_cond_resched read 1 (not named)' out.y2"
check "the yield count fails when only other functions yielded" sh -c "
	cd '$work' && tr='$yield_tr' && . ./yield-count.sh && cp '$yield_tr/trace.no' '$yield_tr/trace' &&
	! yield_count kvm_recover_nx_huge_pages > out.n && grep -qx 'tdp_mmu_iter_cond_resched read 2 (not named)' out.n"
check "the yield count says when the trace buffer overran" sh -c "
	cd '$work' && tr='$yield_tr' && . ./yield-count.sh && cp '$yield_tr/trace.yes' '$yield_tr/trace' &&
	printf 'overrun: 5\n' > '$yield_tr/per_cpu/cpu0/stats' &&
	yield_count kvm_recover_nx_huge_pages | grep -q 'overran'"

# The guest's per-test limit (scripts/guest-init.sh), run here with the host's
# busybox: a test that overruns it has its threads' states and kernel stacks
# put in its output, then is killed with exit 137; a quick one keeps its exit.
sed -n '/^dump_tasks() {/,/^}/p; /^run_limited() {/,/^}/p' "$TOP/scripts/guest-init.sh" > "$work/limit.sh"
cat >> "$work/limit.sh" <<'EOF2'
run_limited 1 sh -c 'exec sleep 30' > "$W/slow.out" 2>&1; echo "slow rc=$?"
run_limited 5 sh -c 'echo quick; exit 3' > "$W/quick.out" 2>&1; echo "quick rc=$?"
EOF2
bash -c ". '$TOP/scripts/lib.sh' && need /bin/busybox:busybox-static" > "$work/limit.log" 2>&1
W=$work timeout 60 /bin/busybox sh "$work/limit.sh" >> "$work/limit.log" 2>&1
check "an overrun test is killed in the guest with exit 137, a quick one keeps its exit" \
	bash -c "grep -qx 'slow rc=137' '$work/limit.log' && grep -qx 'quick rc=3' '$work/limit.log'"
check "an overrun test's output shows its threads' states and stacks, sampled 3 times" \
	bash -c "[ \$(grep -c '^\[timeout\] tid [0-9]* sleep state S' '$work/slow.out') -eq 3 ] &&
		 grep -q '^\[timeout\]     \[<0>\] ' '$work/slow.out' &&
		 grep -q '^\[timeout\] killing pid [0-9]* after 1s' '$work/slow.out'"

tap_done
