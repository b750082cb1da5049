#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check-configs: the build configurations the bisect build (a KVM-built-in
# x86_64 config) does not cover, the base and the patched tree side by side.
#
#  - Debian's own amd64 config for the base version (the .config of Debian's
#    linux-headers-<version>+deb12-amd64, where kvm, kvm-amd and kvm-intel
#    are modules), as Debian ships it ("debian": the series' mirror code
#    compiles away) and with the software mirror backend on
#    ("debian-mirror": configs/debian-mirror.config on both trees, and the
#    series' own options on the patched one): arch/x86/kvm/ and virt/kvm/
#    build with W=1 and no warning the base does not have, and modpost, run
#    on the three modules against Debian's Module.symvers of that kernel
#    (vmlinux's and the other modules' exports), finds every symbol they use
#    exported.  That check is shown to fail each time: modpost runs again
#    with one vmlinux export the KVM modules use taken out, and must say
#    "undefined!";
#  - ARCH=i386, 32-bit KVM (no TDP MMU: the series' stubs and #ifdefs for
#    it): tinyconfig plus configs/i386-kvm.config, arch/x86/kvm/ and
#    virt/kvm/ build with W=1 and no new warning.
#
# Prints TAP.  Builds go to out/configs/<tree>-<config>; the Debian package
# is kept in KMMU_CACHE.  About 12 minutes cold on 2 cores, a minute warm.
# Environment: KMMU_DEBIAN_HEADERS=PKG (default linux-headers-<base
# version>+deb12-amd64); KMMU_CHECK_CONFIGS_PATCH=FILE puts a patch on top
# of the patched tree for this run only (reverted at the end, the tree
# marked BUSTED meanwhile): tests/busted/configs/ has patches that break
# these builds the way only they can see, to show the checks fail.
set -e
. "$(dirname "$0")/lib.sh"

need_build_tools
need_group apply	# patch (check-configs-busted)

# --busted: each patch in tests/busted/configs/ must make this check fail
# with the TAP line its "Busted-expect: REGEX" names (make
# check-configs-busted; about a minute each once the builds are warm).
if [ "${1:-}" = --busted ]; then
	echo "TAP version 13"
	n=0 failed=0
	for f in "$TOP"/tests/busted/configs/*.patch; do
		n=$((n + 1))
		expect=$(sed -n 's/^Busted-expect: //p' "$f" | head -n 1)
		[ -n "$expect" ] || die "$f: no 'Busted-expect: REGEX' line"
		msg "check-configs with $(basename "$f") on top"
		rc=0
		out=$(KMMU_CHECK_CONFIGS_PATCH=$f bash "$0" 2>&1) || rc=$?
		if [ $rc -eq 0 ]; then
			echo "not ok $n $(basename "$f" .patch): make check-configs passed on it"
			failed=$((failed + 1))
		elif grep -Eq "$expect" <<< "$out"; then
			echo "ok $n $(basename "$f" .patch): $(grep -E "$expect" <<< "$out" | head -n 1 | sed 's/^not ok [0-9]* //')"
		else
			echo "not ok $n $(basename "$f" .patch): failed, but without a line matching '$expect'"
			sed 's/^/#   /' <<< "$out" | tail -n 30
			failed=$((failed + 1))
		fi
	done
	echo "1..$n"
	[ $failed -eq 0 ]
	exit
fi
for t in base patched; do
	[ -f "$KMMU_OUT/trees/$t/src/Makefile" ] || die "no $t tree in $KMMU_OUT/trees/$t: run 'make apply' first"
done
[ -f "$KMMU_OUT/trees/patched/APPLIED" ] || die "the patched tree has no series applied: run 'make apply' first"

n=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"

kv=$(tree_kernelversion "$KMMU_OUT/trees/base/src")
pkg=${KMMU_DEBIAN_HEADERS:-linux-headers-$kv+deb12-amd64}
deb=$(ls "$KMMU_CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
	mkdir -p "$KMMU_CACHE/debs"
	msg "downloading $pkg (Debian's config and Module.symvers of Linux $kv)"
	(cd "$KMMU_CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
		die "apt-get download $pkg failed: set KMMU_DEBIAN_HEADERS to a linux-headers-6.12.*-amd64 package the archive has"
	deb=$(ls "$KMMU_CACHE/debs/${pkg}_"*.deb | head -n 1)
fi
hdr=$KMMU_CACHE/debian-headers/$(basename "$deb" .deb)
if [ ! -f "$hdr/.config" ]; then
	rm -rf "$hdr.new"
	mkdir -p "$(dirname "$hdr")"
	dpkg-deb -x "$deb" "$hdr.new"
	d=$(ls -d "$hdr.new"/usr/src/linux-headers-*)
	mkdir -p "$hdr"
	cp "$d/.config" "$d/Module.symvers" "$hdr/"
	rm -rf "$hdr.new"
fi
echo "# Debian: $(basename "$deb")"
# Debian's exports, but not those of the KVM modules: theirs come from the
# objects just built, which modpost reads.
grep -v $'\tarch/x86/kvm/' "$hdr/Module.symvers" > "$tmp/symvers"

norm() {	# compiler warnings, without line numbers and build-relative paths
	sed -n 's/^\([^ :]*\):[0-9]*:[0-9]*: \(warning\|error\): /\1: \2: /p' |
		sed -E 's#^(\.\./)+(trees/(base|patched)/)?src/##' | sort
}

# build TREE NAME ARCH CONFIG-STEPS...: configure out/configs/TREE-NAME and
# build arch/x86/kvm/ and virt/kvm/ with W=1; the warnings go to
# $tmp/TREE-NAME.w.  Returns make's status.
build() {
	local t=$1 name=$2 arch=$3 obj=$KMMU_OUT/configs/$1-$2
	mkdir -p "$obj"
	cmake() {
		make -C "$KMMU_OUT/trees/$t/src" O="$obj" ARCH="$arch" CC="ccache gcc" HOSTCC="ccache gcc" \
			-j"$(nproc)" "$@"
	}
	case $name in
	debian|debian-mirror)
		cp "$hdr/.config" "$obj/.config"
		if [ $name = debian-mirror ]; then
			local frags=("$TOP/configs/debian-mirror.config")
			[ "$t" = patched ] && [ -f "$TOP/configs/series-$SERIES_NAME.config" ] &&
				frags+=("$TOP/configs/series-$SERIES_NAME.config")
			"$KMMU_OUT/trees/$t/src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
				"${frags[@]}" > "$tmp/merge" 2>&1
		fi
		# Debian signs its modules with its own key: no key here.
		sed -i -e 's/^CONFIG_MODULE_SIG_KEY=.*/CONFIG_MODULE_SIG_KEY=""/' \
			-e 's/^CONFIG_SYSTEM_TRUSTED_KEYS=.*/CONFIG_SYSTEM_TRUSTED_KEYS=""/' "$obj/.config"
		;;
	i386)
		cmake -s tinyconfig > /dev/null
		"$KMMU_OUT/trees/$t/src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" \
			"$TOP/configs/i386-kvm.config" > "$tmp/merge" 2>&1
		;;
	esac
	cmake -s olddefconfig > /dev/null
	cmake -s modules_prepare > "$tmp/$t-$name.prep" 2>&1 || { cat "$tmp/$t-$name.prep" > "$tmp/$t-$name.log"; return 1; }
	cmake -s W=1 arch/x86/kvm/ virt/kvm/ > /dev/null 2> "$tmp/$t-$name.log" || return 1
	norm < "$tmp/$t-$name.log" > "$tmp/$t-$name.w"
}

# modpost_kvm TREE: the three KVM modules of the Debian build against Debian's
# exports.  modpost's own tool, from this build's modules_prepare.
modpost_kvm() {	# modpost_kvm TREE NAME [SYMVERS]
	local obj=$KMMU_OUT/configs/$1-$2 m
	: > "$tmp/order"
	for m in kvm kvm-amd kvm-intel; do
		[ -f "$obj/arch/x86/kvm/$m.o" ] || { echo "no arch/x86/kvm/$m.o: not built as a module" > "$tmp/modpost"; return 1; }
		echo "arch/x86/kvm/$m.o" >> "$tmp/order"
	done
	(cd "$obj" && scripts/mod/modpost -M -m -E -i "${3:-$tmp/symvers}" -T "$tmp/order" -o "$tmp/kvm.symvers") > "$tmp/modpost" 2>&1
}

# With KMMU_CHECK_CONFIGS_PATCH, the patch goes on the patched tree for this
# run: the tree is marked busted (lib.sh's refuse_busted) until it is
# reverted, on exit too.
if [ -n "${KMMU_CHECK_CONFIGS_PATCH:-}" ]; then
	extra_patch_apply "check-configs (KMMU_CHECK_CONFIGS_PATCH)" "$KMMU_CHECK_CONFIGS_PATCH"
	trap 'extra_patch_revert; rm -rf "$tmp"' EXIT
	trap 'exit 130' INT TERM
fi

for name in debian debian-mirror i386; do
	arch=x86_64
	[ $name = i386 ] && arch=i386
	ok=1
	for t in base patched; do
		case $name in
		debian) want='CONFIG_KVM=m CONFIG_KVM_AMD=m CONFIG_KVM_INTEL=m' ;;
		debian-mirror) want='CONFIG_KVM=m CONFIG_KVM_AMD=m CONFIG_KVM_INTEL=m CONFIG_KVM_PROVE_MMU=y CONFIG_KVM_SW_PROTECTED_VM=y'
			[ $t = patched ] && want="$want CONFIG_KVM_MMU_MIRROR_SW=y" ;;
		i386) want='CONFIG_KVM=y CONFIG_KVM_AMD=y CONFIG_KVM_INTEL=y CONFIG_X86_32=y' ;;
		esac
		msg "check-configs: $t tree, $name config (arch $arch)"
		if ! build $t $name $arch; then
			[ $t = patched ] && tap fail "the patched tree builds arch/x86/kvm/ with $name's config (W=1)" "$tmp/$t-$name.log"
			[ $t = base ] && tap fail "the base tree builds arch/x86/kvm/ with $name's config: the check cannot run" "$tmp/$t-$name.log"
			ok=
			break
		fi
		: > "$tmp/missing"
		for o in $want; do
			grep -qx "$o" "$KMMU_OUT/configs/$t-$name/.config" || echo "$o not in the final .config" >> "$tmp/missing"
		done
		if [ -s "$tmp/missing" ]; then
			tap fail "$t tree, $name config: KVM is configured as asked ($want)" "$tmp/missing"
			ok=
			break
		fi
	done
	[ -n "$ok" ] || continue
	tap ok "the patched tree builds arch/x86/kvm/ and virt/kvm/ with $name's config (W=1; $want)"
	comm -13 "$tmp/base-$name.w" "$tmp/patched-$name.w" > "$tmp/new-$name"
	[ -s "$tmp/new-$name" ] && tap fail "no W=1 warning the base does not have ($name)" "$tmp/new-$name" ||
		tap ok "no W=1 warning the base does not have ($name: $(wc -l < "$tmp/base-$name.w") on the base)"
	case $name in debian*)
		for t in base patched; do
			if modpost_kvm $t $name; then
				tap ok "modpost: every symbol kvm, kvm-amd and kvm-intel use is exported ($t tree, $name config)"
			else
				tap fail "modpost: every symbol kvm, kvm-amd and kvm-intel use is exported ($t tree, $name config)" "$tmp/modpost"
			fi
		done
		# The same modpost with a vmlinux export kvm.o uses taken out of
		# Debian's list must fail: the check can see a missing export.
		sym=$(nm -u "$KMMU_OUT/configs/patched-$name/arch/x86/kvm/kvm.o" 2>/dev/null |
			awk '{print $2}' | while read -r s; do
				grep -q $'^0x[0-9a-f]*\t'"$s"$'\tvmlinux\t' "$tmp/symvers" && { echo "$s"; break; }
			done)
		if [ -z "$sym" ]; then
			tap fail "modpost fails without an export kvm.o uses ($name): no such vmlinux export found in Debian's Module.symvers"
		else
			grep -v $'\t'"$sym"$'\tvmlinux\t' "$tmp/symvers" > "$tmp/symvers-less"
			if modpost_kvm patched $name "$tmp/symvers-less"; then
				tap fail "modpost fails without $sym, an export kvm.o uses ($name): it passed"
			elif grep -q "\"$sym\" \[.*\] undefined!" "$tmp/modpost"; then
				tap ok "modpost fails without $sym, an export kvm.o uses ($name: \"undefined!\")"
			else
				tap fail "modpost fails without $sym, an export kvm.o uses ($name): not with \"undefined!\"" "$tmp/modpost"
			fi
		fi
		;;
	esac
done
echo "1..$n"
[ $failed -eq 0 ]
