#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Check the memory-ordering arguments of the series, written as LKMM litmus
# tests (tests/litmus/, see tests/litmus/README), with herd7 and the Linux
# kernel memory model of the base tree (tools/memory-model of the pinned 6.12).
# A test written in x86 assembly ("X86" first line) runs under herd7's
# x86-TSO model instead: an argument that holds on x86 only.
#
# Each test records the verdict herd7 must give for its "exists" clause in a
# header comment, as the kernel's tools/memory-model/litmus-tests do:
#     * Result: Never          (or Sometimes, Always)
#     * Result: Never DATARACE (herd7 must also flag a data race)
# Any other flag herd7 raises (mixed accesses, unmatched unlock ...) is a
# failure, and so is a test without a Result line or one herd7 cannot run.
# Prints one TAP line per test; exit status 0 only when every test gave its
# recorded verdict.
#
# Usage: scripts/check-litmus.sh [FILE.litmus|DIR ...]   (default: tests/litmus)
# Environment (besides lib.sh's):
#   KMMU_HERD7      herd7 to run (default: fetched by scripts/get-herd7.sh)
#   KMMU_LKMM_DIR   the tools/memory-model directory to use (default: the
#                   base tree's, from out/trees/base/src, else unpacked from
#                   the base .deb in $KMMU_CACHE/debs into $KMMU_CACHE/lkmm)
set -u
. "$(dirname "$0")/lib.sh"

# herd7: the one given, else the one from sid's herdtools7 (fetched once).
herd7=${KMMU_HERD7:-}
if [ -z "$herd7" ]; then
	herd7=$(bash "$TOP/scripts/get-herd7.sh") || die "herd7 is not available (scripts/get-herd7.sh failed, see above)"
fi
"$herd7" -version >/dev/null 2>&1 || die "herd7 does not run: $herd7 -version failed"

# The kernel's memory model, from the base the series applies to.
lkmm_dir() {
	local tree=$KMMU_OUT/trees/base/src deb cache tmp
	if [ -n "${KMMU_LKMM_DIR:-}" ]; then
		echo "$KMMU_LKMM_DIR"
		return
	fi
	if [ -f "$tree/tools/memory-model/linux-kernel.cfg" ] &&
	   [ "$(cat "$KMMU_OUT/trees/base/VERSION" 2>/dev/null)" = "$BASE_VERSION" ]; then
		echo "$tree/tools/memory-model"
		return
	fi
	cache=$KMMU_CACHE/lkmm/$BASE_VERSION
	if [ -f "$cache/memory-model/linux-kernel.cfg" ]; then
		echo "$cache/memory-model"
		return
	fi
	deb=$(ls "$KMMU_CACHE/debs/${BASE_PKG}_$(printf %s "$BASE_VERSION" | sed 's/:/%3a/')_"*.deb 2>/dev/null | head -n 1)
	if [ -z "$deb" ]; then
		# No .deb yet: the base fetch downloads and unpacks it (make test
		# does that next anyway).
		bash "$TOP/scripts/get-base.sh" >/dev/null || die "cannot fetch the base for its tools/memory-model"
		echo "$tree/tools/memory-model"
		return
	fi
	need_group fetch
	msg "unpacking tools/memory-model of $(basename "$deb") into $cache"
	tmp=$cache.tmp.$$
	rm -rf "$tmp"
	mkdir -p "$tmp"
	dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/src/linux-source-*.tar.*' |
		tar -xJ -C "$tmp" --wildcards '*/tools/memory-model/*' ||
		die "no tools/memory-model in the source tarball of $deb"
	rm -rf "$cache/memory-model"
	mkdir -p "$cache"
	mv "$(dirname "$(find "$tmp" -name linux-kernel.cfg | head -n 1)")" "$cache/memory-model" ||
		die "unexpected layout of the source tarball of $deb"
	rm -rf "$tmp"
	echo "$cache/memory-model"
}
lkmm=$(lkmm_dir) || exit 1
[ -f "$lkmm/linux-kernel.cfg" ] || die "no linux-kernel.cfg in $lkmm: not the kernel's tools/memory-model"

[ $# -gt 0 ] || set -- "$TOP/tests/litmus"
tests=()
for a in "$@"; do
	if [ -d "$a" ]; then
		for f in "$a"/*.litmus; do [ -e "$f" ] && tests+=("$f"); done
	else
		tests+=("$a")
	fi
done
[ ${#tests[@]} -gt 0 ] || die "no litmus tests in $*"

echo "TAP version 13"
echo "# herd7 $("$herd7" -version | head -n 1), model $lkmm"
echo "1..${#tests[@]}"
n=0 bad=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t" .litmus)
	# The first "Result:" line of the header comment.
	expected=$(sed -n 's/^[[:space:]]*\*[[:space:]]*Result:[[:space:]]*//p' "$t" 2>/dev/null | head -n 1)
	read -r exp_verdict exp_flags <<< "$expected"
	exp_flags=$(echo "${exp_flags:-}" | tr ' ' '\n' | sed 's/^DATARACE$/data-race/' | grep . | sort | tr '\n' ' ')
	case "${exp_verdict:-}" in
	Never|Sometimes|Always) ;;
	*)	echo "not ok $n $name: no 'Result: Never|Sometimes|Always' line in its header comment"
		bad=$((bad + 1)); continue ;;
	esac
	# C tests run under the LKMM; an X86 test (an argument that holds on
	# x86 only) under herd7's x86-TSO model.
	case $(awk 'NF { print $1; exit }' "$t" 2>/dev/null) in
	C)	model=(-I "$lkmm" -conf linux-kernel.cfg) ;;
	X86)	model=(-model x86tso.cat); name="$name [x86-TSO]" ;;
	*)	echo "not ok $n $name: neither a C nor an X86 litmus test"
		bad=$((bad + 1)); continue ;;
	esac
	out=$("$herd7" "${model[@]}" -timeout 300 "$t" 2>&1)
	rc=$?
	verdict=$(printf '%s\n' "$out" | awk '$1 == "Observation" { print $3; exit }')
	flags=$(printf '%s\n' "$out" | sed -n 's/^Flag //p' | sort -u | tr '\n' ' ')
	if [ $rc -ne 0 ] || [ -z "$verdict" ]; then
		echo "not ok $n $name: herd7 gave no verdict (exit $rc)"
		printf '%s\n' "$out" | sed 's/^/#   /'
		bad=$((bad + 1))
	elif [ "$verdict" != "$exp_verdict" ] || [ "$flags" != "$exp_flags" ]; then
		echo "not ok $n $name: observed $verdict${flags:+ (flags: ${flags% })}, expected $expected"
		printf '%s\n' "$out" | grep -E '^(States|Positive|Condition|Observation|Flag)' | sed 's/^/#   /'
		bad=$((bad + 1))
	else
		echo "ok $n $name: $verdict${flags:+ (flags: ${flags% })}, as expected"
	fi
done
echo "# $((n - bad)) of $n litmus tests gave their recorded verdict"
[ $bad -eq 0 ]
