#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/check-litmus.sh can fail: fed litmus tests whose recorded result is
# wrong, it must say "not ok" for each and exit non-zero.
#  - every test of tests/litmus with its verdict flipped (Never <-> Sometimes):
#    not one may pass, so each real test's verdict is really checked;
#  - a data race herd7 flags but the Result line does not predict, and one
#    predicted that herd7 does not flag;
#  - no Result line, a test herd7 cannot parse, an unknown architecture;
#  - one wrong test among right ones still fails the run, and the right
#    ones still pass;
#  - no herd7 (not runnable, or its fetch fails), or no kernel memory
#    model: a clear error, non-zero.
# Prints TAP.
. "$(dirname "$0")/lib-tap.sh"
litmus() {	# litmus ARGS...: scripts/check-litmus.sh; output in $work/log, exit status in $rc
	bash "$TOP/scripts/check-litmus.sh" "$@" > "$work/log" 2>&1
	rc=$?
}
count() { grep -cE "^$1 [0-9]+ " "$work/log"; }

# herd7 once, so that a fetch failure shows up as such and not as every
# case below failing.
herd7=$(bash "$TOP/scripts/get-herd7.sh" 2> "$work/log") || tap_bail "herd7 is available" "$work/log"
export KMMU_HERD7=$herd7

# 1. Every real test, its verdict flipped.
mkdir -p "$work/flipped"
total=0
for f in "$TOP"/tests/litmus/*.litmus; do
	sed -E '0,/Result: (Never|Sometimes)/{s/Result: Never/Result: WAS_NEVER/; s/Result: Sometimes/Result: Never/; s/Result: WAS_NEVER/Result: Sometimes/}' \
		"$f" > "$work/flipped/$(basename "$f")"
	cmp -s "$f" "$work/flipped/$(basename "$f")" || total=$((total + 1))
done
real=$(ls "$TOP"/tests/litmus/*.litmus | wc -l)
litmus "$work/flipped"
t "every one of the $real tests of tests/litmus has its verdict flipped" '[ $total -eq $real ] && [ $real -gt 0 ]'
t "each flipped verdict is 'not ok' (none passes) and the run fails" \
	'[ $rc -ne 0 ] && [ "$(count "not ok")" -eq $real ] && [ "$(count ok)" -eq 0 ]'
t "a flipped verdict is reported as observed vs expected" \
	'grep -q "^not ok [0-9]* page-hash-publish: observed Never, expected Sometimes$" "$work/log"'

# 2. Data race markers.
mkdir -p "$work/race"
sed 's/Result: Sometimes DATARACE/Result: Sometimes/' "$TOP/tests/litmus/page-hash-publish+once-store.litmus" \
	> "$work/race/unpredicted.litmus"
sed 's/Result: Never/Result: Never DATARACE/' "$TOP/tests/litmus/page-hash-publish.litmus" \
	> "$work/race/not-flagged.litmus"
litmus "$work/race/unpredicted.litmus"
t "a data race herd7 flags but the Result line does not predict fails" \
	'[ $rc -ne 0 ] && grep -q "^not ok 1 unpredicted: observed Sometimes (flags: data-race), expected Sometimes$" "$work/log"'
litmus "$work/race/not-flagged.litmus"
t "a data race predicted that herd7 does not flag fails" \
	'[ $rc -ne 0 ] && grep -q "^not ok 1 not-flagged: observed Never, expected Never DATARACE$" "$work/log"'

# 3. Tests that give no verdict.
mkdir -p "$work/broken"
grep -v 'Result:' "$TOP/tests/litmus/mirror-freeze.litmus" > "$work/broken/no-result.litmus"
sed 's/cmpxchg(spte, 0, 1440);/cmpxchg(spte, 0, 1440)/' "$TOP/tests/litmus/mirror-freeze.litmus" \
	> "$work/broken/syntax.litmus"
sed '1s/^C /PPC /' "$TOP/tests/litmus/mirror-freeze.litmus" > "$work/broken/arch.litmus"
litmus "$work/broken/no-result.litmus"
t "a test without a Result line fails" \
	'[ $rc -ne 0 ] && grep -q "^not ok 1 no-result: no .Result: " "$work/log"'
litmus "$work/broken/syntax.litmus"
t "a test herd7 cannot parse fails" \
	'[ $rc -ne 0 ] && grep -q "^not ok 1 syntax: herd7 gave no verdict" "$work/log"'
litmus "$work/broken/arch.litmus"
t "a test neither C nor X86 fails" \
	'[ $rc -ne 0 ] && grep -q "^not ok 1 arch: neither a C nor an X86" "$work/log"'

# 4. One wrong test among right ones.
litmus "$TOP/tests/litmus/mirror-freeze.litmus" "$work/flipped/mirror-freeze-busy.litmus" \
	"$TOP/tests/litmus/mirror-link-publish-x86.litmus"
t "one wrong test among right ones: the run fails, the right ones pass" \
	'[ $rc -ne 0 ] && [ "$(count ok)" -eq 2 ] && [ "$(count "not ok")" -eq 1 ] &&
	 grep -q "^not ok 2 mirror-freeze-busy: observed Never, expected Sometimes" "$work/log"'

# 5. Missing tools.
KMMU_HERD7=$work/no-herd7 litmus "$TOP/tests/litmus/mirror-freeze.litmus"
t "no herd7: a clear error, non-zero" \
	'[ $rc -ne 0 ] && grep -q "^error: herd7 does not run" "$work/log" && ! grep -q "^ok" "$work/log"'
# herd7 not fetched yet, and the fetch fails (an apt-get that cannot reach
# sid): the fetch says why, the check says herd7 is not available.
mkdir -p "$work/bin" "$work/empty-cache"
printf '#!/bin/sh\necho "E: cannot reach the mirror" >&2\nexit 100\n' > "$work/bin/apt-get"
chmod +x "$work/bin/apt-get"
PATH=$work/bin:$PATH KMMU_HERD7= KMMU_CACHE=$work/empty-cache litmus "$TOP/tests/litmus/mirror-freeze.litmus"
t "herd7 cannot be fetched: a clear error, non-zero" \
	'[ $rc -ne 0 ] && grep -q "^error: apt-get update of sid failed" "$work/log" &&
	 grep -q "^error: herd7 is not available" "$work/log" && ! grep -q "^ok" "$work/log"'
mkdir -p "$work/no-lkmm"
KMMU_LKMM_DIR=$work/no-lkmm litmus "$TOP/tests/litmus/mirror-freeze.litmus"
t "no kernel memory model: a clear error, non-zero" \
	'[ $rc -ne 0 ] && grep -q "^error: no linux-kernel.cfg in" "$work/log" && ! grep -q "^ok" "$work/log"'

tap_done
