#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What the mirror (external) SPTE patches cost a kernel built without a backend
# for external page tables, i.e. every distribution kernel: the object code of
# the TDP MMU before feature 3 and after it with CONFIG_KVM_MMU_MIRROR_SW off
# (and, for reference, on).  Without a backend, is_mirror_sp() and
# kvm_has_mirror_tdp() are constant false and the mirror code must compile
# away: the goal is no change at all on the fault and SPTE-setting paths.
#
# Prints the sizes of arch/x86/kvm/mmu/{tdp_mmu,mmu}.o (size(1): text, data,
# bss) and the instruction count of each function below (objdump -d; a
# function the compiler inlined everywhere has no copy of its own and shows as
# "inlined"), one "bench: NAME VALUE" line per figure and state, and a table.
#
# Works in $KMMU_OUT/cost/{src,build}: a copy of the base tree (reset to the
# base by content on every run), to which quilt pushes the series' patches,
# and the patched kernel's .config.  Objects are kept in $KMMU_OUT/cost/objs.
set -e
. "$(dirname "$0")/lib.sh"

need_build_tools
need_group apply
FUNCS=${KMMU_COST_FUNCS:-kvm_tdp_mmu_map tdp_mmu_set_spte_atomic kvm_tdp_mmu_page_fault kvm_tdp_page_fault tdp_mmu_set_spte handle_removed_pt tdp_mmu_zap_leafs tdp_mmu_alloc_sp kvm_tdp_mmu_put_root mmu_topup_memory_caches}
OBJS="arch/x86/kvm/mmu/tdp_mmu.o arch/x86/kvm/mmu/mmu.o"

basesrc=$KMMU_OUT/trees/base/src
cfg=$KMMU_OUT/trees/patched/build/.config
[ -f "$basesrc/Makefile" ] || die "no base tree in $basesrc: run 'make apply' (or make build) first"
[ -f "$cfg" ] || die "no patched kernel .config in $cfg: run 'make build' first"
grep -q '^CONFIG_KVM_MMU_MIRROR_SW=y' "$cfg" ||
	die "$cfg does not enable CONFIG_KVM_MMU_MIRROR_SW: build the patched kernel with configs/series-$SERIES_NAME.config"

# The first patch of feature 3: the first one listed after the series file's
# "# Feature 3" comment.
first=$(awk '/^# Feature 3/ { f = 1; next } f && /^[^#[:space:]]/ { print $1; exit }' "$SERIES_FILE")
[ -n "$first" ] || die "no patch after a '# Feature 3' comment in $SERIES_FILE"

work=$KMMU_OUT/cost
src=$work/src obj=$work/build res=$work/objs
[ -f "$src/Makefile" ] || rm -rf "$src" "$obj"
sync_tree "$basesrc" "$src" --exclude=/.git
mkdir -p "$obj"
rm -rf "$res"
qpush() {
	(cd "$src" && QUILT_PATCHES=$PATCH_DIR QUILT_SERIES=$SERIES_FILE QUILT_PC=.pc \
		quilt --quiltrc /dev/null push -q --fuzz=0 "$@") > "$work/push.log" 2>&1 ||
		die "quilt push $* failed in $src: $(tail -n 3 "$work/push.log")"
}
cmake() {
	CCACHE_DEPEND=${CCACHE_DEPEND:-1} make -s -C "$src" O="$obj" ARCH=x86_64 CC="ccache gcc" \
		HOSTCC="ccache gcc" -j"$(nproc)" "$@"
}
build_state() {	# build_state NAME y|n: the objects with CONFIG_KVM_MMU_MIRROR_SW=y|n
	cp "$cfg" "$obj/.config"
	local op=--disable
	[ "$2" = y ] && op=--enable
	"$src/scripts/config" --file "$obj/.config" "$op" KVM_MMU_MIRROR_SW
	cmake olddefconfig >/dev/null
	cmake $OBJS > "$work/build-$1.log" 2>&1 || die "building $OBJS ($1) failed: see $work/build-$1.log"
	mkdir -p "$res/$1"
	for o in $OBJS; do cp "$obj/$o" "$res/$1/"; done
	w=without
	grep -q '^CONFIG_KVM_MMU_MIRROR=y' "$obj/.config" && w=with
	msg "mirror cost: $1 built, $w CONFIG_KVM_MMU_MIRROR"
}

msg "mirror cost: the series up to $first (excluded)"
for p in $(series_patches); do
	[ "$p" = "$first" ] && break
	qpush "$p"
done
build_state before n
qpush -a
build_state off n
build_state on y

python3 - "$res" $FUNCS <<'PY'
import os, re, subprocess, sys
res, funcs = sys.argv[1], sys.argv[2:]
states = ['before', 'off', 'on']
objs = sorted(os.listdir(os.path.join(res, 'before')))

def size(path):
    out = subprocess.run(['size', path], capture_output=True, text=True, check=True).stdout
    text, data, bss = out.splitlines()[1].split()[:3]
    return int(text), int(data), int(bss)

def insns(path):
    """Instruction count per function (the .isra/.constprop/.part copies of a
    function are counted under its name, added up)."""
    out = subprocess.run(['objdump', '-d', '--no-show-raw-insn', path],
                         capture_output=True, text=True, check=True).stdout
    counts, cur = {}, None
    for line in out.splitlines():
        m = re.match(r'^[0-9a-f]+ <([^>]+)>:$', line)
        if m:
            cur = m.group(1).split('.')[0]
            counts.setdefault(cur, 0)
        elif cur and re.match(r'^\s+[0-9a-f]+:\s', line):
            counts[cur] += 1
    return counts

rows = []
for o in objs:
    s = {st: size(os.path.join(res, st, o)) for st in states}
    for i, part in enumerate(('text', 'data', 'bss')):
        rows.append(('%s %s' % (o, part), {st: s[st][i] for st in states}))
per = {st: {} for st in states}
for st in states:
    for o in objs:
        per[st].update(insns(os.path.join(res, st, o)))
for f in funcs:
    rows.append(('%s() insns' % f, {st: per[st].get(f) for st in states}))

fmt = '%-38s %10s %10s %10s %10s'
print(fmt % ('mirror cost (CONFIG_KVM_MMU_MIRROR_SW)', 'before', 'off', 'off-before', 'on'))
for name, v in rows:
    cell = lambda x: 'inlined' if x is None else str(x)
    b, off, on = v['before'], v['off'], v['on']
    diff = '-' if b is None or off is None else '%+d' % (off - b)
    print(fmt % (name, cell(b), cell(off), diff, cell(on)))
    key = re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_')
    for st in states:
        if v[st] is not None:
            print('bench: mirror_cost_%s_%s %d' % (key, st, v[st]))
PY
