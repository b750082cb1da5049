#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Lay out the two trees the harness builds and boots:
#   $KMMU_OUT/trees/base/src     the base, untouched
#   $KMMU_OUT/trees/patched/src  the base with the series applied
#
# Default: the pinned Debian source (scripts/get-base.sh), copied, and the
# series pushed with quilt --fuzz=0.
#
# KMMU_KSRC=/path/to/linux (make apply KSRC=...): the user's own tree.
#   - a git tree must be clean; the base is checked out as a detached worktree
#     and the series is applied with `git am` on a new branch (KMMU_BRANCH,
#     default kvm-mmu-series/<series>) in a second worktree.  The user's own
#     checkout is never touched.
#   - any other tree must be unconfigured; it is copied and quilt applies.
#   The tree's kernel version must be the pinned one (KMMU_FORCE_BASE=1 to try
#   another; the series must then still apply with no fuzz).
#
# A patch that does not apply stops everything: its name and the rejected
# hunks are shown, and the patched tree is marked incomplete.
set -e
. "$(dirname "$0")/lib.sh"

need_group apply

want=$(upstream_of "$BASE_VERSION")
trees=$KMMU_OUT/trees
mkdir -p "$trees"
rm -f "$trees/patched/APPLIED"

show_rejects() {	# $1 = patch file, $2 = tree it failed on
	local tmp f
	tmp=$(mktemp -d)
	grep -E '^\+\+\+ b/' "$1" | sed 's|^+++ b/||' | sort -u | while read -r f; do
		[ -f "$2/$f" ] || continue
		mkdir -p "$tmp/$(dirname "$f")" && cp "$2/$f" "$tmp/$f"
	done
	(cd "$tmp" && patch -p1 --fuzz=0 --force --no-backup-if-mismatch -r "$tmp/rejects" < "$1" >/dev/null 2>&1) || true
	if [ -s "$tmp/rejects" ]; then
		echo "---- rejected hunks of $(basename "$1") ----" >&2
		cat "$tmp/rejects" >&2
		echo "---- end of rejected hunks ----" >&2
	fi
	rm -rf "$tmp"
}

base_mismatch_note() {
	[ "$1" = "$want" ] ||
		echo "note: the tree is $1 but the series was made and tested on $want ($BASE_PKG $BASE_VERSION)" >&2
}

quilt_push_all() {	# $1 = tree to patch
	local n
	n=$(series_patches | wc -l)
	if [ "$n" -eq 0 ]; then
		msg "the series is empty: the patched tree is the base"
		return 0
	fi
	msg "applying $n patches with quilt (fuzz 0) in $1"
	if ! (cd "$1" && QUILT_PATCHES=$PATCH_DIR QUILT_SERIES=$SERIES_FILE QUILT_PC=.pc \
	      quilt --quiltrc /dev/null push -a -q --fuzz=0 >&2); then
		local top failed
		top=$(cd "$1" && QUILT_PATCHES=$PATCH_DIR QUILT_SERIES=$SERIES_FILE QUILT_PC=.pc \
		      quilt --quiltrc /dev/null next 2>/dev/null || true)
		failed=${top##*/}
		echo "error: patch '$failed' does not apply with --fuzz=0" >&2
		[ -n "$failed" ] && show_rejects "$PATCH_DIR/$failed" "$1"
		base_mismatch_note "$(tree_kernelversion "$1")"
		exit 1
	fi
}

check_version() {	# $1 = tree
	local kv
	kv=$(tree_kernelversion "$1") || die "$1 has no kernel Makefile"
	if [ "$kv" != "$want" ]; then
		if [ "${KMMU_FORCE_BASE:-0}" = 1 ]; then
			warn "$1 is Linux $kv, the series is for $want: trying anyway (KMMU_FORCE_BASE=1)"
		else
			die "$1 is Linux $kv but the series is for $want ($BASE_PKG $BASE_VERSION); refusing (KMMU_FORCE_BASE=1 tries anyway)"
		fi
	fi
}

ksrc=${KMMU_KSRC:-}
if [ -z "$ksrc" ]; then
	base=$("$TOP/scripts/get-base.sh")
	kv=$(tree_kernelversion "$base")
	[ "$kv" = "$want" ] || warn "the base is $kv, not the pinned $want: the series must apply with no fuzz"
	msg "copying the base to $trees/patched/src"
	mkdir -p "$trees/patched"
	# A new copy has the base's old mtimes: objects in an old build
	# directory would all look up to date.
	[ -f "$trees/patched/src/Makefile" ] || rm -rf "$trees/patched/build"
	sync_tree "$base" "$trees/patched/src"
	quilt_push_all "$trees/patched/src"
	cp "$trees/base/VERSION" "$trees/patched/VERSION"
elif git -C "$ksrc" rev-parse --git-dir >/dev/null 2>&1; then
	ksrc=$(cd "$ksrc" && pwd)
	[ -z "$(git -C "$ksrc" status --porcelain)" ] ||
		die "$ksrc has uncommitted changes or untracked files; commit or stash them first (git status)"
	check_version "$ksrc"
	head=$(git -C "$ksrc" rev-parse HEAD)
	branch=${KMMU_BRANCH:-kvm-mmu-series/$SERIES_NAME}
	git -C "$ksrc" rev-parse -q --verify "refs/heads/$branch" >/dev/null &&
		die "branch $branch already exists in $ksrc; delete it or set KMMU_BRANCH"
	for t in base patched; do
		if [ -e "$trees/$t/src/.git" ]; then
			git -C "$trees/$t/src" worktree remove --force "$trees/$t/src" 2>/dev/null || true
		fi
		rm -rf "$trees/$t/src" "$trees/$t/STAMP"
		mkdir -p "$trees/$t"
	done
	git -C "$ksrc" worktree prune
	git -C "$ksrc" worktree add -q --detach "$trees/base/src" "$head"
	git -C "$ksrc" worktree add -q -b "$branch" "$trees/patched/src" "$head"
	echo "git $head" > "$trees/base/VERSION"
	n=$(series_patches | wc -l)
	if [ "$n" -gt 0 ]; then
		msg "applying $n patches with git am on branch $branch"
		files=()
		while read -r p; do files+=("$PATCH_DIR/$p"); done < <(series_patches)
		if ! git -C "$trees/patched/src" am -q "${files[@]}" >&2; then
			failed=$(git -C "$trees/patched/src" am --show-current-patch=raw 2>/dev/null |
				 sed -n 's/^Subject: //p' | head -n 1)
			git -C "$trees/patched/src" am --abort || true
			echo "error: git am failed at: $failed" >&2
			for p in "${files[@]}"; do
				grep -qF "Subject: $failed" "$p" 2>/dev/null || continue
				git -C "$trees/patched/src" apply --check -v "$p" >&2 || show_rejects "$p" "$trees/patched/src"
			done
			git -C "$ksrc" worktree remove --force "$trees/patched/src" || true
			git -C "$ksrc" branch -D "$branch" >/dev/null || true
			base_mismatch_note "$(tree_kernelversion "$ksrc")"
			die "nothing was changed in $ksrc"
		fi
	fi
	echo "git $(git -C "$trees/patched/src" rev-parse HEAD) on $branch" > "$trees/patched/VERSION"
else
	ksrc=$(cd "$ksrc" && pwd)
	[ ! -e "$ksrc/.config" ] && [ ! -d "$ksrc/include/config" ] ||
		die "$ksrc has been configured or built in place; run 'make mrproper' there first"
	[ ! -d "$ksrc/.pc" ] || die "$ksrc has quilt patches applied (.pc exists); pop them first"
	check_version "$ksrc"
	for t in base patched; do
		mkdir -p "$trees/$t"
		rm -f "$trees/$t/STAMP"
		[ -f "$trees/$t/src/Makefile" ] || rm -rf "$trees/$t/build"
		sync_tree "$ksrc" "$trees/$t/src" --exclude=.git
		echo "tree $ksrc ($(tree_kernelversion "$ksrc"))" > "$trees/$t/VERSION"
	done
	quilt_push_all "$trees/patched/src"
fi

series_patches > "$trees/patched/APPLIED"
msg "patched tree ready: $trees/patched/src ($(wc -l < "$trees/patched/APPLIED") patches)"
