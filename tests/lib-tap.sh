# SPDX-License-Identifier: GPL-2.0
# The part every shell test (tests/test-*.sh) shares: source it, do not run it.
#
#   . "$(dirname "$0")/lib-tap.sh"
#
# prints "TAP version 13" and sets:
#   TOP     the tree's top directory
#   work    a temporary directory, removed on exit (kept with KEEP=1)
#   n       the checks so far, failed: how many of them failed
# and gives the checks, each one TAP line "ok N DESC" or "not ok N DESC",
# the log of a failure after it as "#   " comments:
#   check DESC COMMAND...  passes when COMMAND succeeds (on failure: the
#                          first 30 lines of $work/log)
#   t DESC EXPR            passes when EXPR, eval'd, is true (on failure: the
#                          last 40 lines of $work/log)
#   ok DESC, fail DESC [LOG]   a result decided by the caller
#   skip DESC WHY          "ok N DESC # SKIP WHY", which scripts/test.sh
#                          counts as skipped
#   tap_done               the plan line "1..N"; exit 0 when nothing failed
#   tap_bail DESC [LOG]    a failure that makes the rest pointless: fail, tap_done
#   clean_env              unset the settings of the calling shell (every
#                          KMMU_ name, make's MAKEFLAGS and the names of the
#                          Makefile's KNOBS), so that they change nothing
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
n=0 failed=0

ok()   { n=$((n + 1)); echo "ok $n $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; [ -f "${2:-}" ] && sed 's/^/#   /' "$2" | head -n 30; return 0; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d" "$work/log"; fi; }
t() {
	n=$((n + 1))
	if eval "$2"; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"; failed=$((failed + 1))
		[ -f "$work/log" ] && sed 's/^/#   /' "$work/log" | tail -n 40
	fi
	return 0
}
tap_done() { echo "1..$n"; [ $failed -eq 0 ] && exit 0; exit 1; }
tap_bail() { fail "$@"; tap_done; }

# The settings of the shell that runs a test must not change what it tests:
# no KMMU_ name, and none of the make command line of a "make test ONLY=..."
# that started it (make passes it on in MAKEFLAGS, and exports the settings
# of its command line under their own names: the Makefile's KNOBS).
clean_env() {
	local v
	unset MAKEFLAGS MFLAGS MAKELEVEL
	for v in $(compgen -e | grep '^KMMU_') \
		 $(sed -n '/^KNOBS :=/,/[^\\]$/p' "$TOP/Makefile" | sed 's/^KNOBS :=//; s/\\$//'); do
		unset "$v"
	done
}

echo "TAP version 13"
