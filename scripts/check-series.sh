#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Static checks of the series, one patch at a time.  Prints TAP.
#
#  - the series file and patches/ agree
#  - each patch: a "KVM: ...:"-style shortlog of at most 80 characters, the
#    role identity as author and in a Signed-off-by, a changelog body
#  - scripts/checkpatch.pl --strict of the base tree: no error, warning or check
#  - b4 prep --check: the mails as make send writes them (scripts/send.sh --check)
#  - bisect build: the patches pushed one by one with quilt (--fuzz=0) on a
#    copy of the base tree (out/bisect/src); after each, arch/x86/kvm/ (and
#    virt/kvm/) builds with W=1, and the files the patch touches have no W=1
#    warning and no sparse (C=2) warning that the base does not already have
#    (the machine's sparse, or sid's when the base's Makefile refuses that
#    one as too old, as Linux 7.x does bookworm's: scripts/get-sparse.sh);
#    then the whole series once more with the options it adds
#    (configs/series-NAME.config) off, as a distribution builds it.
#
# Environment: KMMU_SKIP_BISECT=1 (make check SKIP_BISECT=1) skips the build
# steps (metadata and checkpatch only).  KMMU_SPARSE (make check SPARSE=...):
# the sparse to use, "sid" (scripts/get-sparse.sh) or a checker's path; by
# default the machine's, or sid's where the base refuses the machine's.
set -e
. "$(dirname "$0")/lib.sh"

n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "TAP version 13"

# 1. series <-> patches/
listed=$(series_patches)
: > "$tmp/consistency"
for p in $listed; do [ -f "$PATCH_DIR/$p" ] || echo "listed but missing: $p" >> "$tmp/consistency"; done
for f in "$PATCH_DIR"/*.patch; do
	[ -e "$f" ] || continue
	printf '%s\n' "$listed" | grep -qxF "$(basename "$f")" ||
		echo "in patches/ but not in series: $(basename "$f")" >> "$tmp/consistency"
done
[ -n "$(printf '%s\n' "$listed" | sort | uniq -d)" ] && echo "listed twice: $(printf '%s\n' "$listed" | sort | uniq -d)" >> "$tmp/consistency"
[ -s "$tmp/consistency" ] && tap fail "series file and patches/ agree" "$tmp/consistency" ||
	tap ok "series file and patches/ agree"
grep -q '^# base-version: ' "$SERIES_FILE" && tap ok "series header records the base version" ||
	tap fail "series header records the base version"

count=$(printf '%s\n' "$listed" | grep -c . || true)
if [ "$count" -eq 0 ]; then
	echo "# the series is empty: no patch to check"
	echo "1..$n"
	[ $failed -eq 0 ]
	exit
fi

base=$("$TOP/scripts/get-base.sh")
need_group static

# Is every file the patch adds under a directory that MAINTAINERS covers
# with an F: pattern?  (Then checkpatch's "does MAINTAINERS need updating?"
# has its answer: no.)
maintained_new_files() {
	local added fl d ok=1
	added=$(awk '/^diff --git /{ f = $4; sub("^b/", "", f) } /^new file mode/{ print f }' "$1")
	[ -n "$added" ] || return 1
	for fl in $added; do
		d=$(dirname "$fl") ok=1
		while [ "$d" != . ]; do
			if grep -qxF "F:	$d/" "$base/MAINTAINERS"; then ok=0; break; fi
			d=$(dirname "$d")
		done
		[ $ok = 0 ] || return 1
	done
	return 0
}
role='KVM MMU Series <kvm-mmu-series@localhost.localdomain>'
scope_re='^(KVM: (x86|x86/mmu|x86/tdp_mmu|selftests|SVM|nSVM|VMX|nVMX|TDX|guest_memfd)|KVM): [A-Z]'

# 2. metadata and checkpatch, per patch
for p in $listed; do
	f=$PATCH_DIR/$p
	[ -f "$f" ] || continue
	subj=$(sed -n '/^Subject: /{s/^Subject: //;N;s/\n\([ \t]\)/\1/;P;D}' "$f" | head -n 1 | sed 's/^\[[^]]*\] *//')
	: > "$tmp/meta"
	printf '%s\n' "$subj" | grep -qE "$scope_re" || echo "shortlog scope/capital: '$subj'" >> "$tmp/meta"
	case "$subj" in *.) echo "shortlog ends with a period" >> "$tmp/meta" ;; esac
	[ ${#subj} -le 80 ] || echo "shortlog is ${#subj} characters (80 max)" >> "$tmp/meta"
	grep -qxF "From: $role" "$f" || echo "author is not the role identity ($role)" >> "$tmp/meta"
	grep -qxF "Signed-off-by: $role" "$f" || echo "no Signed-off-by: $role" >> "$tmp/meta"
	body=$(awk '/^$/ && !h { h = 1; next } h && /^---$/ { exit } h' "$f" | grep -v -e '^Signed-off-by:' -e '^[A-Za-z-]*: ' | grep -c '[a-z]' || true)
	[ "$body" -ge 2 ] || echo "changelog body is missing or one line" >> "$tmp/meta"
	tap "$([ -s "$tmp/meta" ] && echo fail || echo ok)" "metadata: $p" "$tmp/meta"

	# UNKNOWN_COMMIT_ID: the base is a source package, not a git history,
	# so ids in Fixes: tags cannot be looked up here (they are checked by
	# hand against upstream).  FILE_PATH_CHANGES: accepted for a new file
	# only when a MAINTAINERS entry already covers its directory.
	ignore=UNKNOWN_COMMIT_ID
	if maintained_new_files "$f"; then ignore=$ignore,FILE_PATH_CHANGES; fi
	# The system python3, which has the ply and git modules spdxcheck.py needs.
	(cd "$base" && PATH=/usr/bin:/bin:$PATH perl scripts/checkpatch.pl --strict --no-summary --terse \
		--show-types --ignore "$ignore" "$f") > "$tmp/cp" 2>&1 || true
	grep -q 'Traceback' "$tmp/cp" && echo "checkpatch's spdxcheck.py failed" >> "$tmp/cp"
	grep -qE '(ERROR|WARNING|CHECK):|spdxcheck.py failed' "$tmp/cp" && tap fail "checkpatch --strict: $p" "$tmp/cp" ||
		tap ok "checkpatch --strict: $p"
done

# b4 prep --check: checkpatch on the mails as make send would post them
# (the sender's identity, b4's cover letter), on the b4 branch send.sh makes.
if "$TOP/scripts/send.sh" --check > "$tmp/b4check" 2> "$tmp/b4check.err"; then
	tap ok "$(sed -n 's/^ok [0-9]* //p' "$tmp/b4check" | head -n 1)"
else
	cat "$tmp/b4check.err" >> "$tmp/b4check"
	tap fail "b4 prep --check (scripts/send.sh --check)" "$tmp/b4check"
fi

if [ "${KMMU_SKIP_BISECT:-0}" = 1 ]; then
	echo "# KMMU_SKIP_BISECT=1: bisect build, W=1 and sparse not run"
	echo "1..$n"
	[ $failed -eq 0 ]
	exit
fi

# 3. bisect build with W=1 and sparse, compared with the base
need_build_tools
need_group static apply
basesrc=$KMMU_OUT/trees/base/src
[ -f "$basesrc/Makefile" ] || die "no base tree in $basesrc: run 'make apply' (or make build) first"
src=$KMMU_OUT/bisect/src
obj=$KMMU_OUT/bisect/build

# The bisect tree: a copy of the base, to which quilt adds the patches one at
# a time (a copy and quilt take seconds, where a git import of the whole
# tree takes more than a minute).  A tree left from an earlier run is brought
# back to the base by content (sync_tree); a new copy keeps the base's old
# mtimes, so its build directory must be new as well.
[ -f "$src/Makefile" ] || rm -rf "$src" "$obj"
sync_tree "$basesrc" "$src" --exclude=/.git
mkdir -p "$obj"
qpush() {	# push the next patch of the series in $src
	(cd "$src" && QUILT_PATCHES=$PATCH_DIR QUILT_SERIES=$SERIES_FILE QUILT_PC=.pc \
		quilt --quiltrc /dev/null push -q --fuzz=0 "$@")
}
cfg=$KMMU_OUT/trees/patched/build/.config
[ -f "$cfg" ] || cfg=$KMMU_OUT/trees/base/build/.config
[ -f "$cfg" ] || die "no kernel .config to build with: run 'make build' (or make run) first"
cmp -s "$cfg" "$obj/.config" || cp "$cfg" "$obj/.config"
# ccache's depend mode: no preprocessor run on a miss (about 15 % of a cold
# compile); the bisect builds get their hits from direct mode anyway.
bmake() {
	CCACHE_DEPEND=${CCACHE_DEPEND:-1} make -C "$src" O="$obj" ARCH=x86_64 CC="ccache gcc" \
		HOSTCC="ccache gcc" -j"$(nproc)" "$@"
}

# Normalise warnings so they compare across line-number shifts.
# Paths are made relative to the tree: sparse prints them absolute, and
# ccache (CCACHE_BASEDIR) makes the compiler's relative to the build dir.
norm() {
	sed -n 's/^\([^ :]*\):[0-9]*:[0-9]*: \(warning\|error\): /\1: \2: /p' |
	sed -E "s#^$src/##; s#^(\.\./)+bisect/src/##; s#^(\.\./)+src/##" | sort
}
# Sparse runs with W=1 too, so that the object it checks is the one the W=1
# build just made and make compiles nothing again; the compiler's own W=1
# warnings (the ones with a [-W...] option name) are then left out of the
# sparse comparison, which the W=1 one above already covers.
smake() { bmake -s W=1 C=2 CHECK="$checker" "$@"; }
sparse_of() {	# sparse_of OBJ: normalised sparse warnings of one object
	smake "$1" 2>&1 >/dev/null | norm | grep -v ' \[-W[^]]*\]$' || true
}

bmake -s olddefconfig >/dev/null
bmake -s prepare >/dev/null 2>&1
bmake -s W=1 arch/x86/kvm/ virt/kvm/ > /dev/null 2> "$tmp/w1-base" || true

# Which sparse.  Linux 7.x's Makefile runs scripts/checker-valid.sh first and,
# when sparse cannot parse what the kernel needs (__typeof_unqual__), turns
# C=2 off with "... is not available or not up to date" instead of running
# it.  bookworm's sparse 0.6.4 is refused that way, so:
#  - a base whose Makefile takes the machine's sparse (the 6.12 series: 6.12
#    has no such check, and bookworm's sparse is the one Debian ships beside
#    its 6.12 kernels) is checked with it: no download, and the base and
#    each patch are compared with one and the same sparse either way (on
#    the 6.12 files the series touches, sid's sparse gives the same
#    warnings as bookworm's);
#  - a base that refuses it (the mainline series' 7.3) is checked with sid's
#    sparse 0.6.5~rc1, fetched into $KMMU_CACHE/sparse by
#    scripts/get-sparse.sh (never installed on the host);
#  - when that cannot be fetched, or the base refuses it too, a "not ok"
#    says so and the sparse steps are skipped: the run fails, it does not
#    pass without sparse.
# KMMU_SPARSE (make check SPARSE=...) overrides: "sid" for sid's sparse on
# any base, or the path of a checker; then a refusal is a "not ok" as well.
sparse_refused() {	# sparse_refused CHECKER: the base's Makefile will not run it
	bmake -s W=1 C=2 CHECK="$1" arch/x86/kvm/mmu/spte.o 2>&1 >/dev/null |
		grep -q 'is not available or not up to date'
}
get_sparse() {	# checker= sid's sparse (the path of its wrapper), or nothing
	checker=$("$TOP/scripts/get-sparse.sh" 2> "$tmp/get-sparse") || checker=
	[ -z "$checker" ] || sed 's/^/# /' "$tmp/get-sparse"
}
kv=$(tree_kernelversion "$base")
checker=${KMMU_SPARSE:-sparse}
case $checker in */*) checker=$(realpath "$checker") ;; esac
[ "$checker" != sid ] || get_sparse
state=ok
if [ -z "$checker" ]; then state=unfetched
elif sparse_refused "$checker"; then state=refused; fi
if [ $state = refused ] && [ -z "${KMMU_SPARSE:-}" ]; then
	echo "# sparse $(sparse --version 2>/dev/null | awk '{ print $1 }') (the machine's) is too old for Linux $kv (its Makefile: \"not available or not up to date\"): sparse from Debian sid instead"
	get_sparse
	state=ok
	if [ -z "$checker" ]; then state=unfetched
	elif sparse_refused "$checker"; then state=refused; fi
fi
sparse_skip=
case $state in
unfetched)
	sparse_skip="no sparse for Linux $kv"
	tap fail "a sparse that Linux $kv runs: scripts/get-sparse.sh fetches sid's" "$tmp/get-sparse" ;;
refused)
	sparse_skip="no sparse for Linux $kv"
	echo "C=2 CHECK=$checker: the Makefile of Linux $kv refuses it (\"not available or not up to date\")" > "$tmp/sparse-refused"
	tap fail "a sparse that Linux $kv runs: $checker" "$tmp/sparse-refused" ;;
ok)
	echo "# sparse: $checker $("$checker" --version 2>/dev/null)$([ "$checker" = sparse ] || echo " ($(cat "$(dirname "$checker")/VERSION" 2>/dev/null))")" ;;
esac
norm < "$tmp/w1-base" > "$tmp/w1-base.n"

# Sparse at the base, now, for every C file of arch/x86/kvm or virt/kvm that
# some patch touches: the objects are the ones just built, so this runs only
# sparse, and the loop below never has to go back to the base commit (which
# would rebuild every file the series changes, twice).
declare -A sparse_base=()
if [ -z "$sparse_skip" ]; then
	for fl in $(series_files | grep -E '^(arch/x86/kvm|virt/kvm)/.*\.c$'); do
		sparse_base[${fl%.c}.o]=
		if [ -f "$src/$fl" ]; then
			sparse_base[${fl%.c}.o]=$(sparse_of "${fl%.c}.o")
		fi
	done
fi

pushed_all=1
for p in $listed; do
	if ! qpush > "$tmp/push" 2>&1; then
		tap fail "applies with quilt --fuzz=0 on the previous patches: $p" "$tmp/push"
		pushed_all=
		break
	fi
	# The patched kernel's config again, so that an option the series adds
	# (configs/series-*.config) is on from the patch that adds it: the
	# earlier patches' olddefconfig dropped it as unknown.
	cp "$cfg" "$obj/.config"
	bmake -s olddefconfig >/dev/null
	files=$(patch_files "$PATCH_DIR/$p")
	if bmake -s W=1 arch/x86/kvm/ virt/kvm/ > "$tmp/w1.out" 2> "$tmp/w1" ; then
		tap ok "builds (W=1, arch/x86/kvm virt/kvm): $p"
	else
		tap fail "builds (W=1, arch/x86/kvm virt/kvm): $p" "$tmp/w1"
		continue
	fi
	norm < "$tmp/w1" > "$tmp/w1.n"
	: > "$tmp/new-w1"
	for fl in $files; do
		comm -13 <(grep "^$fl: " "$tmp/w1-base.n" || true) <(grep "^$fl: " "$tmp/w1.n" || true) >> "$tmp/new-w1"
	done
	tap "$([ -s "$tmp/new-w1" ] && echo fail || echo ok)" "no new W=1 warning in touched files: $p" "$tmp/new-w1"

	if [ -n "$sparse_skip" ]; then
		n=$((n + 1))
		echo "ok $n no new sparse warning: $p # SKIP $sparse_skip"
		continue
	fi
	: > "$tmp/new-sparse"
	for fl in $files; do
		case "$fl" in arch/x86/kvm/*.c|virt/kvm/*.c) ;; *) continue ;; esac
		o=${fl%.c}.o
		if ! smake "$o" 2> "$tmp/sp.raw" >/dev/null; then
			echo "sparse build of $o failed:" >> "$tmp/new-sparse"
			tail -n 5 "$tmp/sp.raw" >> "$tmp/new-sparse"
		fi
		norm < "$tmp/sp.raw" | grep -v ' \[-W[^]]*\]$' > "$tmp/sp" || true
		comm -13 <(printf '%s\n' "${sparse_base[$o]:-}" | sed '/^$/d' | sort) "$tmp/sp" >> "$tmp/new-sparse"
	done
	tap "$([ -s "$tmp/new-sparse" ] && echo fail || echo ok)" "no new sparse warning: $p" "$tmp/new-sparse"
done

# The whole series with the options it adds (configs/series-NAME.config)
# turned off: the configuration of every kernel that does not ask for them,
# a distribution's among them.  The loop above builds each patch with them
# on; code that only compiles with them on (a field or function behind an
# #ifdef of theirs) fails here.
scfg=$TOP/configs/series-$SERIES_NAME.config
if [ -n "$pushed_all" ] && [ -f "$scfg" ] && grep -q '^CONFIG_[A-Za-z0-9_]*=[ym]' "$scfg"; then
	off=$(sed -n 's/^CONFIG_\([A-Za-z0-9_]*\)=[ym]$/\1/p' "$scfg")
	cp "$cfg" "$obj/.config"
	for o in $off; do "$src/scripts/config" --file "$obj/.config" -d "$o"; done
	bmake -s olddefconfig >/dev/null
	what="the series builds with $(echo $off | sed 's/ /, /g') off (W=1, arch/x86/kvm virt/kvm)"
	if bmake -s W=1 arch/x86/kvm/ virt/kvm/ > /dev/null 2> "$tmp/w1"; then
		norm < "$tmp/w1" > "$tmp/w1.n"
		: > "$tmp/new-w1"
		for fl in $(series_files); do
			comm -13 <(grep "^$fl: " "$tmp/w1-base.n" || true) <(grep "^$fl: " "$tmp/w1.n" || true) >> "$tmp/new-w1"
		done
		tap "$([ -s "$tmp/new-w1" ] && echo fail || echo ok)" "$what, no new warning" "$tmp/new-w1"
	else
		tap fail "$what" "$tmp/w1"
	fi
fi
echo "1..$n"
[ $failed -eq 0 ]
