#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the tree needs (scripts/deps.list says which,
# and why).  Idempotent: what is there already is left alone, and a machine
# that has everything runs no apt at all.  make run, make test and every make
# target that uses a tool run it first; the scripts ask again for the group
# they need, so that a script run alone works too.
#
# Usage: scripts/install-deps.sh [GROUP...]   (default: every group but "fresh")
#        scripts/install-deps.sh --list       (the packages and why, installed or not)
set -e
. "$(dirname "$0")/lib.sh"

if [ "${1:-}" = --list ]; then
	grep -v '^#' "$TOP/scripts/deps.list" | grep . | while read -r g check pkg why; do
		if [ "${check#/}" != "$check" ]; then [ -e "$check" ]; else command -v "$check" >/dev/null 2>&1; fi &&
			st=installed || st=missing
		printf '%-7s %-24s %-9s %s\n' "$g" "$pkg" "$st" "$why"
	done
	exit 0
fi
[ $# -gt 0 ] || set -- $(grep -v '^#' "$TOP/scripts/deps.list" | awk 'NF { print $1 }' | grep -vx fresh | uniq)
need_group "$@"
