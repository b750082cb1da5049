#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make lava: the test matrix as LAVA job definitions, one per kernel x mode x
# shard of the test list (scripts/lava-jobs.py), with the kernels and the
# initramfs that make run built, validated offline with LAVA's own schema
# (lava-common).  Writes $KMMU_OUT/lava/jobs/*.yaml and $KMMU_OUT/lava/artifacts/
# (put the artifacts where the lab can download them, and say where with
# KMMU_LAVA_URL).
#
# Environment (make lava NAME=... sets KMMU_NAME):
#   KMMU_LAVA_URL=URL        where the lab finds artifacts/ (default file://<out>/lava/artifacts)
#   KMMU_LAVA_TARGET=tcg|kvm tcg: QEMU TCG -cpu max (as here); kvm: -enable-kvm
#                            -cpu host, on a lab's Intel or AMD machines
#   KMMU_SHARD_MINUTES=N     longest a job's tests may take together (default 60)
#   KMMU_MODES, KMMU_PATCHED_MODES, KMMU_KERNELS, KMMU_TEST_LIST as for make run
set -e
. "$(dirname "$0")/lib.sh"

need_group lava
vm_matrix_settings	# MODES, PATCHED_MODES, KERNELS
TEST_LIST=${KMMU_TEST_LIST:-$TEST_LIST_DEFAULT}
out=$KMMU_OUT/lava
args=()
for k in $KERNELS; do
	refuse_busted "$KMMU_OUT/trees/$k"
	args+=(--kernel "$k=$KMMU_OUT/trees/$k/build/arch/x86/boot/bzImage")
done
[ -z "${KMMU_LAVA_URL:-}" ] || args+=(--url "$KMMU_LAVA_URL")
# lava_common and yaml are Debian's python3 modules: /usr/bin/python3.
/usr/bin/python3 "$TOP/scripts/lava-jobs.py" write --list "$TEST_LIST" --out "$out" "${args[@]}" \
	--initramfs "$KMMU_OUT/initramfs.cpio.gz" --modes "$MODES" --patched-modes "$PATCHED_MODES" \
	--series "$SERIES_NAME" --target "${KMMU_LAVA_TARGET:-tcg}" \
	--shard-minutes "${KMMU_SHARD_MINUTES:-60}" ${KMMU_LAVA_ALLOW_MISSING:+--allow-missing} > "$out.list"
mapfile -t jobs < "$out.list"
/usr/bin/python3 "$TOP/scripts/lava-jobs.py" validate "${jobs[@]}" | tail -n 1
msg "${#jobs[@]} LAVA jobs in $out/jobs (submit: lavacli jobs submit FILE)"
