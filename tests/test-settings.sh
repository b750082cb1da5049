#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The KMMU_ settings (scripts/lib.sh, the Makefile): they come from KMMU_
# names only, generic names left in the environment change nothing, make
# maps its command line to them and make help lists each one; the series
# headers name the base, its apt suite and the patched-only modes.
# Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
clean_env
. "$TOP/tests/lib-fake-tree.sh"
mktree "$work/other" 116

# The settings come from KMMU_ names only: generic names left in the
# environment change nothing, and make maps its command line to them
check "a stray SERIES=bogus BASE_VERSION=9.9 PREFIX=x ... in the environment changes nothing" \
	env SERIES=bogus BASE_VERSION=9.9 BASE_PKG=x APT_SUITE=y PREFIX=x bash -c "
	. '$TOP/scripts/lib.sh' &&
	[ \"\$SERIES_NAME|\$SERIES_FILE|\$BASE_PKG|\$BASE_VERSION|\$APT_SUITE\" = '6.12|$TOP/series|linux-source-6.12|6.12.117-1~deb12u1|' ]"
run k env KSRC="$work/other" KMMU_BASE_SRC="$work/fake" "$TOP/scripts/apply.sh"; rc=$?
check "a stray KSRC in the environment is not the tree apply uses (exit $rc)" \
	bash -c "[ $rc -eq 0 ] && grep -q 'test tree $work/fake' '$work/out-k/trees/base/VERSION'"
(cd "$work" && make -s -C "$TOP" knobs ONLY=x SERIES=mainline MODES="tdp npt-off" KSRC=/k) > "$work/log" 2>&1
check "make NAME=value on the command line passes KMMU_NAME" \
	bash -c "grep -qx KMMU_ONLY=x '$work/log' && grep -qx KMMU_SERIES=mainline '$work/log' &&
		 grep -qx 'KMMU_MODES=tdp npt-off' '$work/log' && grep -qx KMMU_KSRC=/k '$work/log'"
(cd "$work" && env ONLY=x SERIES=mainline make -s -C "$TOP" knobs) > "$work/log" 2>&1
check "make ignores them in the environment, and says so" \
	bash -c "! grep -q '^KMMU_' '$work/log' && grep -q '^note: ignoring SERIES ONLY from the environment' '$work/log'"

# make help lists every setting with a line of its own: each name in the
# Makefile's KNOBS has a "# knob:" line and each such line a name in KNOBS,
# and every one of them is read by a script as KMMU_<NAME>.  Shown failing on
# a Makefile that lost a line.
knob_problems() {	# knob_problems MAKEFILE: what is wrong, a line each
	local mk=$1 k knobs lines
	knobs=$(sed -n '/^KNOBS :=/,/[^\\]$/p' "$mk" | sed 's/^KNOBS :=//; s/\\$//' | tr -s ' \t' '\n' | grep . | sort)
	lines=$(sed -n 's/^# knob: \([A-Z_]*\)=.*/\1/p' "$mk" | sort)
	comm -23 <(echo "$knobs") <(echo "$lines") | sed 's/^/no "# knob:" line for /'
	comm -13 <(echo "$knobs") <(echo "$lines") | sed 's/^/a "# knob:" line for a name not in KNOBS: /'
	for k in $knobs; do
		grep -qE "KMMU_$k\b" "$TOP"/scripts/*.sh "$TOP"/scripts/*.py || echo "no script reads KMMU_$k"
	done
}
knob_problems "$TOP/Makefile" > "$work/log"
check "make help lists every setting in KNOBS, a line each, and every one is read by a script" test ! -s "$work/log"
sed '/^# knob: FRESH=/d' "$TOP/Makefile" > "$work/Makefile.nofresh"
knob_problems "$work/Makefile.nofresh" > "$work/log"
check "... which a Makefile that lost the line for FRESH fails" grep -qx 'no "# knob:" line for FRESH' "$work/log"
(cd "$work" && make -s -C "$TOP" help) > "$work/log" 2>&1
check "make help shows the settings" bash -c "grep -q '^  ONLY=REGEX  *run only the tests' '$work/log' &&
	[ \$(grep -c '^  [A-Z_]*=' '$work/log') -eq \$(grep -c '^# knob: ' '$TOP/Makefile') ]"


# The mainline series header names its own base and apt suite
check "KMMU_SERIES=mainline reads its base package, version and apt suite" bash -c "
	KMMU_SERIES=mainline; . '$TOP/scripts/lib.sh'
	[ \"\$BASE_PKG \$BASE_VERSION \$APT_SUITE\" = 'linux-source-7.3 7.3.4-1~bpo13+1 trixie-backports' ]"
KMMU_SERIES=bogus bash -c ". '$TOP/scripts/lib.sh'" > "$work/log" 2>&1; rc=$?
check "an unknown KMMU_SERIES is refused by name" bash -c "[ $rc -ne 0 ] && grep -q 'unknown KMMU_SERIES=bogus' '$work/log'"

# The mode that needs the series (mirror) is asked for by the series (and
# known to vmrun.py: tests/test-vmrun.py)
check "the 6.12 series asks for the mirror mode on the patched kernel" bash -c "
	. '$TOP/scripts/lib.sh' && [ \"\$(series_header patched-modes)\" = mirror ]"

tap_done
