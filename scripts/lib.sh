# SPDX-License-Identifier: GPL-2.0
# Common settings and helpers for the series tree scripts.  Source it, do not run it.
#
# Every setting the scripts read from the environment starts with KMMU_, so
# that a generic name left in a shell (SERIES, ONLY, VERSION, PREFIX ...)
# changes nothing.  make maps its command-line variables to them:
# `make run ONLY=x` sets KMMU_ONLY=x (see the Makefile); a script run by hand
# takes KMMU_ONLY=x scripts/run.sh.
#
# Directories (all outside git):
#   KMMU_CACHE  downloads and ccache, kept across clones  (default ~/.cache/kvm-mmu-series)
#   KMMU_OUT    work trees, builds, VM results of this checkout (default <top>/out)

set -o pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The series this tree carries:
#   KMMU_SERIES=6.12      (default) the backport series: series, patches/
#   KMMU_SERIES=mainline  fixes for upstream: mainline/series, mainline/patches/
# Each series file's header names its base: "# base-package:" (default
# linux-source-6.12), "# base-version:" and, when the package is not in the
# machine's own apt sources, "# apt-suite:" (fetched through a private apt
# configuration, see scripts/get-base.sh).  KMMU_BASE_PKG, KMMU_BASE_VERSION
# and KMMU_APT_SUITE override them.  (KMMU_SERIES_FILE and KMMU_PATCH_DIR
# point the harness's own tests at a fake series.)
SERIES_NAME=${KMMU_SERIES:-6.12}
case "$SERIES_NAME" in
6.12)	SERIES_FILE=${KMMU_SERIES_FILE:-$TOP/series}; PATCH_DIR=${KMMU_PATCH_DIR:-$TOP/patches}
	out_default=$TOP/out
	TEST_LIST_DEFAULT=$TOP/tests/kvm-tests.list ;;
mainline)
	SERIES_FILE=${KMMU_SERIES_FILE:-$TOP/mainline/series}
	PATCH_DIR=${KMMU_PATCH_DIR:-$TOP/mainline/patches}
	out_default=$TOP/out/mainline
	TEST_LIST_DEFAULT=$TOP/mainline/tests.list ;;
*)	echo "error: unknown KMMU_SERIES=$SERIES_NAME (known: 6.12, mainline)" >&2; exit 2 ;;
esac

KMMU_CACHE=${KMMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-mmu-series}
KMMU_OUT=${KMMU_OUT:-$out_default}
export CCACHE_DIR=${CCACHE_DIR:-$KMMU_CACHE/ccache}
# The base and patched kernels are built from two trees laid out alike
# (<tree>/src, <tree>/build), so with paths made relative ccache serves the
# second build from the first.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$KMMU_OUT}
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}

series_header() {	# series_header KEY: the value of "# KEY: value"
	sed -n "s/^# $1: *//p" "$SERIES_FILE" 2>/dev/null | head -n 1
}
series_base_version() { series_header base-version; }
BASE_PKG=${KMMU_BASE_PKG:-$(series_header base-package)}
BASE_PKG=${BASE_PKG:-linux-source-6.12}
BASE_VERSION=${KMMU_BASE_VERSION:-$(series_base_version)}
APT_SUITE=${KMMU_APT_SUITE-$(series_header apt-suite)}

msg()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# A TAP line of a script's own checks (check-series.sh, check-configs.sh,
# send.sh): numbered by the caller's $n, a failure counted in its $failed,
# with the first 40 lines of DETAIL-FILE under it as comments.
tap() {		# tap ok|fail DESCRIPTION [DETAIL-FILE]
	n=$((n + 1))
	if [ "$1" = ok ]; then
		echo "ok $n $2"
	else
		echo "not ok $n $2"
		failed=$((failed + 1))
		[ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/#   /' "$3" | head -n 40
	fi
	return 0
}

# Patches listed in the series file, in order (comments and blank lines dropped).
series_patches() {
	sed -e 's/#.*//' -e 's/[[:space:]].*//' "$SERIES_FILE" | grep -v '^$' || true
}

# Install the Debian packages that provide the given commands when missing.
# Arguments: cmd:package pairs (cmd: a command in PATH, or an absolute path).
need() {
	local pair cmd pkg missing=() private=()
	for pair in "$@"; do
		cmd=${pair%%:*}; pkg=${pair#*:}
		if [ "${cmd#/}" != "$cmd" ]; then
			[ -e "$cmd" ] && continue
		else
			command -v "$cmd" >/dev/null 2>&1 && continue
		fi
		case $pkg in
		*=*@*) private+=("$pkg") ;;
		*) missing+=("$pkg") ;;
		esac
	done
	[ ${#private[@]} -eq 0 ] || need_private "${private[@]}"
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		die "missing tools, install these Debian packages: ${missing[*]}"
	fi
	msg "installing Debian packages: ${missing[*]}"
	mkdir -p "$KMMU_CACHE"
	# make test runs the mainline builds beside the VM runs: one install at a
	# time (apt would refuse the second, its lock being taken), and wait for
	# dpkg's lock rather than fail when something else holds it.
	(
		flock 9
		if [ ! -e "$KMMU_CACHE/.apt-updated" ] ||
		   [ -n "$(find "$KMMU_CACHE/.apt-updated" -mmin +360 2>/dev/null)" ]; then
			apt-get -o DPkg::Lock::Timeout=600 update -qq >&2 || die "apt-get update failed"
			touch "$KMMU_CACHE/.apt-updated"
		fi
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
			--no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
	) 9> "$KMMU_CACHE/apt.lock" || exit 1
}

# private_apt [SUITE]: set APT_OPTS to a private apt configuration under
# $KMMU_CACHE/apt/<suite> (default: the series' "# apt-suite:", $APT_SUITE):
# the machine's own Debian mirror, that suite alone, its own package lists.
# apt-get "${APT_OPTS[@]}" download/show then see that suite only; the
# machine's apt sources, preferences and state are never changed.
APT_OPTS=()
# After private_apt SUITE: download PKG=VERSION... into TOP/debs and unpack
# them all into TOP/root.new (both made afresh); TOOL names what is fetched.
download_unpack() {	# download_unpack TOP TOOL PKG=VERSION...
	local top=$1 tool=$2 d
	shift 2
	rm -rf "$top/debs" "$top/root.new"
	mkdir -p "$top/debs"
	msg "downloading $* into $top/debs"
	(cd "$top/debs" && apt-get "${APT_OPTS[@]}" download -q "$@" >&2) ||
		die "apt-get download $* failed: cannot fetch $tool"
	for d in "$top/debs"/*.deb; do
		dpkg-deb -x "$d" "$top/root.new"
	done
}

# After private_apt SUITE: the version of PKG in SUITE (the newest, when it
# has several).
suite_version() {	# suite_version SUITE PKG
	apt-cache "${APT_OPTS[@]}" madison "$2" 2>/dev/null |
		awk -F' *\\| *' -v s="$1/" '$3 ~ s { print $2 }' | sort -V | tail -n 1
}

# After private_apt SUITE: PIN if SUITE still has that version of PKG, else
# the newest it has, with a warning; dies if it has none (TOOL names what
# was being fetched).
pinned_version() {	# pinned_version SUITE PKG PIN TOOL
	local newest
	if apt-cache "${APT_OPTS[@]}" madison "$2" 2>/dev/null | awk -F' *\\| *' '{print $2}' |
	   grep -qxF "$3"; then
		echo "$3"
		return
	fi
	newest=$(suite_version "$1" "$2")
	[ -n "$newest" ] || die "$2 is not in $1: cannot fetch $4"
	warn "pinned $2 $3 is no longer in $1; using $newest"
	echo "$newest"
}

private_apt() {
	local suite=${1:-$APT_SUITE}
	local dir=$KMMU_CACHE/apt/$suite uri keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	# The machine's Debian mirror: first URIs: line of a deb822 source, else
	# the first "deb" line of sources.list.
	uri=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	      grep -v -- '-security' | head -n 1)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
		if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list 2>/dev/null)
	[ -n "$uri" ] || die "cannot find the machine's Debian mirror in /etc/apt/sources.list{,.d/*.sources}"
	[ -f "$keyring" ] || need /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc/preferences.d"
	printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
		"$uri" "$suite" "$keyring" > "$dir/etc/private.sources"
	: > "$dir/etc/empty.list"
	APT_OPTS=(-o "Dir::Etc::SourceList=$dir/etc/empty.list"
		  -o "Dir::Etc::SourceParts=$dir/etc"
		  -o "Dir::Etc::Preferences=$dir/etc/empty.list"
		  -o "Dir::Etc::PreferencesParts=$dir/etc/preferences.d"
		  -o "Dir::State::Lists=$dir/lists"
		  -o "Dir::Cache=$dir/cache"
		  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
	[ ! -e "$dir/.expired-ok" ] || APT_OPTS+=(-o "Acquire::Check-Valid-Until=false")
	if [ ! -e "$dir/.updated" ] || [ -n "$(find "$dir/.updated" -mmin +360)" ]; then
		msg "apt-get update of $suite from $uri (private configuration in $dir)"
		if ! apt-get "${APT_OPTS[@]}" update -qq > "$dir/update.log" 2>&1; then
			cat "$dir/update.log" >&2
			# A mirror that is a snapshot serves Release files whose
			# Valid-Until (a week, for sid and backports) has passed.
			# Their signatures are still checked; only the date is not.
			grep -q 'is expired' "$dir/update.log" ||
				die "apt-get update of $suite failed (private configuration in $dir)"
			warn "the $suite Release file of $uri has expired (a mirror snapshot?): taking it anyway, signatures checked"
			APT_OPTS+=(-o "Acquire::Check-Valid-Until=false")
			apt-get "${APT_OPTS[@]}" update -qq >&2 ||
				die "apt-get update of $suite failed (private configuration in $dir)"
			touch "$dir/.expired-ok"
		fi
		touch "$dir/.updated"
	fi
}

# need_private NAME=VERSION@SUITE...: packages of another Debian suite (b4
# 0.14 from trixie), each pinned to its version: downloaded through the
# private apt configuration of that suite (private_apt), then installed with
# the machine's own apt, which takes every dependency from the machine's own
# sources.  Only the named package comes from the other suite; the machine's
# apt sources and preferences stay as they are.
need_private() {
	local spec name version suite deb
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		die "missing tools: install these Debian packages (name=version@suite): $*"
	fi
	mkdir -p "$KMMU_CACHE/debs"
	(
		flock 9
		for spec in "$@"; do
			name=${spec%%=*} version=${spec#*=} suite=${version#*@} version=${version%@*}
			deb=$(ls "$KMMU_CACHE/debs/${name}_$(printf %s "$version" | sed 's/:/%3a/')_"*.deb 2>/dev/null | head -n 1)
			if [ -z "$deb" ]; then
				private_apt "$suite"
				apt-cache "${APT_OPTS[@]}" show "$name=$version" >/dev/null 2>&1 ||
					die "$name $version is not in $suite any more: pick another version in scripts/deps.list (apt-cache ${APT_OPTS[*]} madison $name)"
				msg "downloading $name $version from $suite (private apt configuration)"
				(cd "$KMMU_CACHE/debs" && apt-get "${APT_OPTS[@]}" download -q "$name=$version" >&2) ||
					die "apt-get download $name=$version from $suite failed"
				deb=$(ls "$KMMU_CACHE/debs/${name}_$(printf %s "$version" | sed 's/:/%3a/')_"*.deb | head -n 1)
			fi
			msg "installing $name $version from $suite, its dependencies from the machine's own sources"
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
				--no-install-recommends "$deb" >&2 ||
				die "apt-get install $deb failed (its dependencies must be in the machine's own sources)"
		done
	) 9> "$KMMU_CACHE/apt.lock" || exit 1
}

# need_group GROUP...: the packages scripts/deps.list names for these groups
# (the one list of what the tree installs, and why).
need_group() {
	local g pairs=()
	for g in "$@"; do
		grep -qE "^$g[[:space:]]" "$TOP/scripts/deps.list" || die "no group '$g' in scripts/deps.list"
		while read -r _ cmd pkg _; do
			pairs+=("$cmd:$pkg")
		done < <(grep -E "^$g[[:space:]]" "$TOP/scripts/deps.list")
	done
	need "${pairs[@]}"
}

# A kernel tree whose bzImage was built with a busted patch on top
# (scripts/busted.sh writes TREE/BUSTED before it builds one, and a later
# build of the real series removes it): a step that boots the bzImage
# without building it first (make ept, make lava) refuses it.
refuse_busted() {	# refuse_busted TREE
	[ -f "$1/BUSTED" ] || return 0
	die "$1/build holds a deliberately broken kernel ($(head -n 1 "$1/BUSTED")), left by an interrupted make busted: make build (or make run) first"
}

# A busted patch on top of the series for one run of a check (make
# check-configs, make kasan): extra_patch_apply WHO FILE puts it on the
# patched tree, marked busted (refuse_busted) meanwhile; extra_patch_revert,
# from the caller's EXIT trap, takes it off again and removes the mark.
extra_patch_apply() {	# extra_patch_apply WHO FILE
	local src=$KMMU_OUT/trees/patched/src
	[ -f "$2" ] || die "$1: no such file: $2"
	patch -d "$src" -p1 --fuzz=0 --dry-run -s -f < "$2" > /dev/null || die "$2 does not apply to $src"
	echo "$1: $(basename "$2") on top of the series (reverted at the end)" > "$KMMU_OUT/trees/patched/BUSTED"
	patch -d "$src" -p1 --fuzz=0 -s -f < "$2"
	EXTRA_PATCH=$2
	echo "# busted: $(basename "$2") on top of the series"
}
extra_patch_revert() {
	[ -n "${EXTRA_PATCH:-}" ] || return 0
	patch -d "$KMMU_OUT/trees/patched/src" -p1 -R -s -f < "$EXTRA_PATCH" && rm -f "$KMMU_OUT/trees/patched/BUSTED"
	EXTRA_PATCH=
}

# Everything needed to build a kernel.
need_build_tools() { need_group build; }

# Kernel version "V.P.S" from a tree's top Makefile.
tree_kernelversion() {
	awk -F'= *' '/^VERSION =/{v=$2} /^PATCHLEVEL =/{p=$2} /^SUBLEVEL =/{s=$2}
		END{ if (v == "") exit 1; print v "." p "." s }' "$1/Makefile"
}

# "6.12.117-1~deb12u1" -> "6.12.117"
upstream_of() { local v=${1%%-*}; echo "${v%%+*}"; }

now() { date +%s; }

# "4 min 10 s" of a number of seconds.
duration() { if [ "$1" -ge 60 ]; then echo "$(($1 / 60)) min $(($1 % 60)) s"; else echo "$1 s"; fi; }

# build_heartbeat DIR STAMP EVERY [TOTAL]: every EVERY seconds, a line on
# stderr with the objects (*.o under DIR) written since STAMP was touched,
# TOTAL (the objects of the last build, when known) and the time since:
# a kernel build that runs with its output hidden still shows it moves, a
# line each EVERY seconds and no more (CI logs).  Run it in the background
# and kill it when the build is over.
build_heartbeat() {
	local dir=$1 stamp=$2 every=$3 total=${4:-} start n s=
	start=$(now)
	# Killed, it takes its sleep along; the sleep holds no output open
	# either way (a pipe to tee would wait for it).
	trap 'kill $s 2>/dev/null; exit 0' TERM
	while :; do
		sleep "$every" < /dev/null > /dev/null 2>&1 &
		s=$!
		wait $s
		n=$(find "$dir" -name '*.o' -newer "$stamp" 2>/dev/null | wc -l)
		msg "building: $n objects compiled${total:+ (the last build had $total in all)}, $(duration $(( $(now) - start )))"
	done
}

# background_session CMD ARG...: start CMD in the background, in a session of
# its own (setsid: one signal to the process group BG_PID stops all of it),
# at the lowest CPU priority; BG_PID is set to its process id.  nice alone is not enough: with the host's
# scheduler autogroups (/proc/sys/kernel/sched_autogroup_enabled, on in
# Debian's kernels), every session is a group that gets an equal share of
# the CPUs whatever the nice of its tasks, so a nice 19 build in a session
# of its own still takes half of a 2-core machine from the VMs.  The nice
# of the session's group (/proc/self/autogroup) is set too; where the file
# is missing (a kernel without autogroups) the task's nice is all there is.
background_session() {
	setsid -w bash -c 'if [ -w /proc/self/autogroup ]; then echo 19 > /proc/self/autogroup || exit 1; fi
		exec nice -n 19 "$@"' background_session "$@" &
	BG_PID=$!
}

# at_most N CMD ARG...: run "CMD ARG" in the background for each ARG, at most
# N at a time, and wait for all of them.  The caller must have no other
# background job of its own running (wait -n would count it).
at_most() {
	local n=$1 cmd=$2 running=0 a
	shift 2
	for a in "$@"; do
		if [ $running -ge "$n" ]; then
			wait -n || true
			running=$((running - 1))
		fi
		"$cmd" "$a" &
		running=$((running + 1))
	done
	wait
}

# The kernel x mode matrix's settings, as make run, make bench and make lava
# take them: MODES (KMMU_MODES, default "tdp shadow-mmu"), PATCHED_MODES
# (KMMU_PATCHED_MODES, default the series header's "# patched-modes:"; empty:
# none) and KERNELS (KMMU_KERNELS, default "base patched").
vm_matrix_settings() {
	MODES=${KMMU_MODES:-tdp shadow-mmu}
	PATCHED_MODES=${KMMU_PATCHED_MODES-$(series_header patched-modes)}
	KERNELS=${KMMU_KERNELS:-base patched}
}

# vm_matrix "MODES" "PATCHED_MODES" "KERNELS": the VM runs of make run, make
# bench and make ept, "KERNEL MODE" a line each, in the order they go: each
# mode's kernels side by side; the patched-only modes (mirror: they need what
# the series adds) on the patched kernel alone.  Made by kmmu_matrix.py,
# which make lava's jobs (lava-jobs.py) come from too.
vm_matrix() {
	python3 "$TOP/scripts/kmmu_matrix.py" "$1" "$2" "$3"
}

# The files a patch touches (git or plain unified diff), as paths in the
# tree, one per line; series_files: those of the whole series.
patch_files() {	# patch_files PATCH-FILE
	{ sed -n 's#^diff --git a/\([^ ]*\) b/\([^ ]*\)$#\1\n\2#p' "$1"
	  sed -n -e 's#^+++ b/##p' -e 's#^--- a/##p' "$1" | cut -f1; } | sort -u
}
series_files() {
	local p
	for p in $(series_patches); do
		[ -f "$PATCH_DIR/$p" ] && patch_files "$PATCH_DIR/$p"
	done | sort -u
}

# Copy a source tree, or bring an earlier copy back to it.  A new copy keeps
# the original mtimes.  An earlier copy is compared by content, and the files
# that differ are written with a fresh mtime: with rsync -a they would get the
# original, older mtime back, and make would keep the objects built from
# their patched content.  Extra arguments go to rsync (--exclude=...).
sync_tree() {	# sync_tree FROM TO [rsync options]
	local from=$1 to=$2
	shift 2
	if [ -f "$to/Makefile" ]; then
		rsync -rlpD --checksum --delete "$@" "$from/" "$to/"
	else
		mkdir -p "$to"
		rsync -a --delete "$@" "$from/" "$to/"
	fi
}

# A new build directory for trees/base or trees/patched starts as a copy of
# the other one's of the same name (build, or build-kcsan: make kcsan builds
# both kernels with one configuration), when that one has been built from the
# same kernel version:
# then make compiles only what the series changes (its files, and the files
# that depend on the config options it adds), not the whole kernel again.
# That is sound because the two source trees differ only in the series'
# files: the copy's paths are rewritten to this tree's, and the series' files
# get an mtime newer than every copied object.  (apply.sh keeps mtimes
# honest: a file it puts back to the base's content gets a fresh one.)
seed_build_dir() {	# seed_build_dir TREE OBJ: TREE is .../trees/base or .../trees/patched, OBJ TREE/NAME
	local tree=$1 obj=$2 src=$1/src name other ob osrc oobj f
	[ ! -e "$obj/.config" ] || return 0
	name=$(basename "$tree") ob=$(basename "$obj")
	case $name in
	base) other=$(dirname "$tree")/patched ;;
	patched) other=$(dirname "$tree")/base ;;
	*) return 0 ;;
	esac
	[ -f "$other/$ob/arch/x86/boot/bzImage" ] && [ -f "$other/$ob/.kmmu-config-inputs" ] &&
	[ -f "$other/src/Makefile" ] || return 0
	[ "$(tree_kernelversion "$other/src")" = "$(tree_kernelversion "$src")" ] || return 0
	# Kbuild records the paths with symlinks resolved.
	osrc=$(realpath "$other/src") oobj=$(realpath "$other/$ob")
	msg "seeding $obj from $oobj (only what differs is compiled)"
	rm -rf "$obj"
	cp -a "$oobj" "$obj"
	grep -rlIZ -F -e "$osrc" -e "$oobj" "$obj" |
		xargs -0 -r sed -i -e "s#$osrc#$(realpath "$src")#g" -e "s#$oobj#$(realpath "$obj")#g"
	series_files | while read -r f; do
		if [ -e "$src/$f" ]; then touch "$src/$f"; fi
	done
}
