#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The helpers of scripts/lib.sh the kernel build and the VM runs share:
# seed_build_dir (a new build directory seeded from the other tree's, on a
# small fake tree laid out by apply.sh), build_heartbeat, at_most,
# vm_matrix and private_apt (on a stub apt-get).  Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env
. "$TOP/tests/lib-fake-tree.sh"

o=$work/out-q/trees
run q env KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"

# A new build directory is seeded from the other tree's: paths rewritten,
# the series' files newer than every copied object, the rest left as is.
mkdir -p "$o/patched/build/arch/x86/boot" "$o/patched/build/arch/x86/kvm/mmu"
touch "$o/patched/build/arch/x86/boot/bzImage" "$o/patched/build/arch/x86/kvm/mmu/tdp_mmu.o"
echo inputs > "$o/patched/build/.kmmu-config-inputs"
printf 'cmd := gcc -c -o x.o %s/arch/x86/kvm/mmu/tdp_mmu.c -I%s/include\n' \
	"$(realpath "$o/patched/src")" "$(realpath "$o/patched/build")" > "$o/patched/build/arch/x86/kvm/mmu/.tdp_mmu.o.cmd"
seed() { env $(env_for q) KMMU_BASE_SRC="$work/fake" bash -c ". '$TOP/scripts/lib.sh' && seed_build_dir '$o/base' '$o/base/build'" > "$work/log" 2>&1; }
check "the base build directory is seeded from the patched one" \
	bash -c "$(declare -f seed env_for); work='$work' TOP='$TOP' o='$o'; seed && [ -f '$o/base/build/arch/x86/kvm/mmu/tdp_mmu.o' ]"
check "the copy's paths are the base tree's" \
	bash -c "grep -qF '$(realpath "$o/base/src")/arch/x86/kvm/mmu/tdp_mmu.c -I$(realpath "$o/base/build")/include' \
		 '$o/base/build/arch/x86/kvm/mmu/.tdp_mmu.o.cmd' && ! grep -q patched '$o/base/build/arch/x86/kvm/mmu/.tdp_mmu.o.cmd'"
check "the series' file is newer than the copied object, other files are not" \
	bash -c "[ '$o/base/src/arch/x86/kvm/mmu/tdp_mmu.c' -nt '$o/base/build/arch/x86/kvm/mmu/tdp_mmu.o' ] &&
		 [ ! '$o/base/src/arch/x86/kvm/mmu/mmu.c' -nt '$o/base/build/arch/x86/kvm/mmu/tdp_mmu.o' ]"
# make kcsan's build directories: TREE/build-kcsan is seeded from the other
# tree's build-kcsan, never from its build; one the other tree lacks is not.
mkdir -p "$o/patched/build-kcsan/arch/x86/boot"
touch "$o/patched/build-kcsan/arch/x86/boot/bzImage" "$o/patched/build-kcsan/kcsan-only.o"
echo inputs > "$o/patched/build-kcsan/.kmmu-config-inputs"
seed_dir() { env $(env_for q) KMMU_BASE_SRC="$work/fake" bash -c ". '$TOP/scripts/lib.sh' && seed_build_dir '$o/base' '$o/base/$1'" > "$work/log" 2>&1; }
check "a build-kcsan directory is seeded from the other tree's build-kcsan, one without a twin is not" \
	bash -c "$(declare -f seed_dir env_for); work='$work' TOP='$TOP' o='$o'; seed_dir build-kcsan && seed_dir build-kasan &&
		 [ -f '$o/base/build-kcsan/kcsan-only.o' ] && [ ! -e '$o/base/build-kcsan/arch/x86/kvm/mmu/tdp_mmu.o' ] &&
		 [ ! -e '$o/base/build-kasan' ]"
rm -rf "$o/base/build" "$o/base/build-kcsan" "$o/patched/build-kcsan"
sed -i 's/^SUBLEVEL = 117$/SUBLEVEL = 118/' "$o/patched/src/Makefile"
seed
check "no seeding from a tree of another kernel version" test ! -e "$o/base/build"
rm -rf "$o/patched/build"
# The kernel build's heartbeat (build-kernel.sh runs make -s): a line every
# N seconds with the objects written since the build began, and none once it
# is killed; killed, it leaves nothing that holds its output open (a pipe to
# tee would wait for that: here a 30 s heartbeat killed at once).
cat > "$work/hb.sh" <<'EOF'
. "$1/scripts/lib.sh"
W=$2
mkdir -p "$W/hb"; touch "$W/hb/old.o"; sleep 1.1; touch "$W/hb/.start"
build_heartbeat "$W/hb" "$W/hb/.start" 1 40 &
hb=$!
for i in 1 2 3 4 5; do sleep 0.3; touch "$W/hb/new$i.o"; done
sleep 2.2
kill $hb; wait $hb
sleep 1.2
echo "killed"
build_heartbeat "$W/hb" "$W/hb/.start" 30 &
hb=$!
sleep 0.5; kill $hb; wait $hb
EOF
start_hb=$(date +%s)
bash "$work/hb.sh" "$TOP" "$work" 2>&1 | cat > "$work/log"
check "the build heartbeat: a line a second with the objects compiled since the start, none after it is killed, nothing left behind" \
	bash -c "n=\$(grep -c '^==> building: [0-9]* objects compiled (the last build had 40 in all), [0-9]* s\$' '$work/log') &&
		 [ \$n -ge 2 ] && [ \$n -le 5 ] && grep -q '^==> building: 5 objects compiled' '$work/log' &&
		 [ \$(grep -c building '$work/log') -eq \$n ] && tail -n 1 '$work/log' | grep -qx killed &&
		 [ \$(( \$(date +%s) - $start_hb )) -lt 20 ]"

# make test's order, on stub steps: the mainline builds run in the background
# during the 6.12 VM step, the two VM steps never overlap, and every step is
# counted, a failed mainline build too.

# at_most: the VM runs go two at a time, and every one of them runs.
cat > "$work/pool.sh" <<'EOF'
. "$1/scripts/lib.sh"
W=$2
job() { echo "start $1" >> "$W/pool.log"; sleep 0.3; echo "end $1" >> "$W/pool.log"; }
for k in 1 2 3; do
	: > "$W/pool.log"
	at_most "$k" job a b c d e
	# The most jobs running at one time, from the start/end sequence.
	awk -v k="$k" '/^start/ { c++; if (c > m) m = c } /^end/ { c-- }
		END { print "at_most " k ": max " m ", " NR / 2 " jobs, running at the end " c }' "$W/pool.log"
done
EOF
bash "$work/pool.sh" "$TOP" "$work" > "$work/log" 2>&1
check "at_most N runs N jobs at a time, and all of them (N = 1, 2, 3)" bash -c "
	grep -qx 'at_most 1: max 1, 5 jobs, running at the end 0' '$work/log' &&
	grep -qx 'at_most 2: max 2, 5 jobs, running at the end 0' '$work/log' &&
	grep -qx 'at_most 3: max 3, 5 jobs, running at the end 0' '$work/log'"

# The kernel x mode matrix of make run and make bench (lib.sh vm_matrix):
# each mode's kernels side by side, the patched-only modes on the patched
# kernel alone, the base alone when only it is asked for.
check "vm_matrix: each mode's kernels in turn, mirror on the patched kernel only" bash -c "
	. '$TOP/scripts/lib.sh'
	[ \"\$(vm_matrix 'tdp shadow-mmu' mirror 'base patched' | tr '\n' ';')\" = 'base tdp;patched tdp;base shadow-mmu;patched shadow-mmu;patched mirror;' ] &&
	[ \"\$(vm_matrix tdp mirror base | tr '\n' ';')\" = 'base tdp;' ] &&
	[ \"\$(vm_matrix tdp '' patched | tr '\n' ';')\" = 'patched tdp;' ]"

# private_apt on a mirror whose sid Release has expired (a snapshot): the
# update is retried without the date check, with a warning, and the option
# stays for the later apt calls; any other failed update still dies.  A
# stub apt-get in PATH plays the mirror.
mkdir -p "$work/aptbin"
cat > "$work/aptbin/apt-get" <<'EOF'
#!/bin/sh
echo "$*" >> "$APT_CALLS"
case " $* " in *Check-Valid-Until=false*) [ -n "$APT_BROKEN" ] && exit 100; exit 0 ;; esac
[ -n "$APT_EXPIRED$APT_BROKEN" ] || exit 0
[ -n "$APT_EXPIRED" ] && echo "E: Release file for http://m/debian/dists/sid/InRelease is expired (invalid since 26d 23h 58min 20s). Updates for this repository will not be applied."
[ -n "$APT_BROKEN" ] && echo "E: Failed to fetch http://m/debian/dists/sid/InRelease  Could not resolve 'm'"
exit 100
EOF
chmod +x "$work/aptbin/apt-get"
papt() {	# papt CACHE ENV...: private_apt sid, then the options it leaves
	env PATH="$work/aptbin:$PATH" APT_CALLS="$work/$1.calls" KMMU_CACHE="$work/$1" "${@:2}" bash -c \
		". '$TOP/scripts/lib.sh' && private_apt sid && printf '%s\n' \"\${APT_OPTS[@]}\"" > "$work/$1.out" 2>&1
}
check "private_apt: an expired Release is taken with a warning, without the date check from then on" \
	bash -c "$(declare -f papt); work='$work' TOP='$TOP'; papt exp APT_EXPIRED=1 &&
		 grep -q '^WARNING: the sid Release file .* has expired' '$work/exp.out' &&
		 grep -qx 'Acquire::Check-Valid-Until=false' '$work/exp.out' &&
		 [ \$(grep -c update '$work/exp.calls') -eq 2 ] && rm '$work/exp/apt/sid/.updated' &&
		 papt exp && [ \$(grep -c 'update' '$work/exp.calls') -eq 3 ] &&
		 tail -n 1 '$work/exp.calls' | grep -q 'Check-Valid-Until=false'"
check "private_apt: an update that fails otherwise still dies, and a good mirror gets no such option" \
	bash -c "$(declare -f papt); work='$work' TOP='$TOP'; ! papt bad APT_BROKEN=1 &&
		 grep -q 'apt-get update of sid failed' '$work/bad.out' && ! grep -q Valid-Until '$work/bad.calls' &&
		 papt good && ! grep -q Valid-Until '$work/good.out' '$work/good.calls'"

# extra_patch_apply / extra_patch_revert (make check-configs' and make
# kasan's busted patch): on, marked busted; off again, mark gone, the file as
# it was; a patch that does not apply is refused with no mark and no change.
xo=$work/xp
mkdir -p "$xo/trees/patched/src/d"
printf 'one\ntwo\nthree\n' > "$xo/trees/patched/src/d/f.c"
cp "$xo/trees/patched/src/d/f.c" "$work/f.orig"
cat > "$work/good.patch" <<'P'
--- a/d/f.c
+++ b/d/f.c
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
P
sed 's/^ three$/ four/' "$work/good.patch" > "$work/bad.patch"
check "extra_patch_apply puts the patch on and marks the tree busted; extra_patch_revert takes both off" bash -c "
	. '$TOP/scripts/lib.sh' && KMMU_OUT='$xo' &&
	extra_patch_apply test '$work/good.patch' > /dev/null && grep -qx TWO '$xo/trees/patched/src/d/f.c' &&
	grep -q 'good.patch on top of the series' '$xo/trees/patched/BUSTED' &&
	extra_patch_revert && cmp -s '$work/f.orig' '$xo/trees/patched/src/d/f.c' && [ ! -e '$xo/trees/patched/BUSTED' ]"
check "extra_patch_apply refuses a patch that does not apply: clear error, no mark, the file unchanged" bash -c "
	. '$TOP/scripts/lib.sh' && KMMU_OUT='$xo' &&
	! (extra_patch_apply test '$work/bad.patch') 2> '$work/xp.err' &&
	grep -q 'bad.patch does not apply to ' '$work/xp.err' &&
	[ ! -e '$xo/trees/patched/BUSTED' ] && cmp -s '$work/f.orig' '$xo/trees/patched/src/d/f.c'"

tap_done
