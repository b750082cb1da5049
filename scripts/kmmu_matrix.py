#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel x mode matrix: which VM runs make run, make bench, make ept and
make lava do, in the order they go.  The one place it is made: lib.sh's
vm_matrix prints it for the shell scripts (run.sh, bench.sh, ept.sh),
lava-jobs.py calls matrix().

  kmmu_matrix.py "MODES" "PATCHED_MODES" "KERNELS"
      "KERNEL MODE" a line each, e.g. for "tdp shadow-mmu" "mirror"
      "base patched": base tdp, patched tdp, base shadow-mmu, patched
      shadow-mmu, patched mirror.
"""

import sys


def matrix(modes, patched_modes, kernels):
    """(kernel, mode) pairs: each mode's kernels side by side; the
    patched-only modes (mirror: they need what the series adds) on the
    patched kernel alone."""
    return [(k, mode) for mode in list(modes) + list(patched_modes) for k in kernels
            if mode in modes or k == 'patched']


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for k, mode in matrix(*(a.split() for a in argv)):
        print(k, mode)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
