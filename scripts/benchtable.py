#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's table: every figure of the base and the patched kernel's runs
side by side, with the difference.

Usage: benchtable.py DIR...   (each DIR a vmrun.py run's output, named
<kernel>-<mode>; the figures are the records' "figures" in results.json,
read by kmmu_tap.load_run, which vmrun.py takes from the tests' output:
"bench: NAME VALUE" lines and the upstream tests' own words, see
vmrun.UPSTREAM_FIGURES).  A test listed
twice (other arguments) is told apart by its number in the list, the same on
both kernels.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmmu_tap  # noqa: E402


def table(dirs):
    figures = {}    # (mode, test, name) -> {kernel: value}
    for d in dirs:
        run = kmmu_tap.load_run(d)
        kernel, mode = run['label'], run['mode']
        for t in run['tests']:
            test = '%s#%s' % (t['name'].split('/')[-1], t['id'])
            for name, value in (t.get('figures') or {}).items():
                figures.setdefault((mode, test, name), {})[kernel] = value
    # The lock figures (lock_stat.h: dlog_off_load_tdp_mmu_pages_lock_acquisitions
    # ...) are longer than the others: the column takes the longest name.
    fmt = '%%-10s %%-28s %%-%ds %%14s %%14s %%14s' % max([26] + [len(k[2]) for k in figures])
    out = [fmt % ('mode', 'benchmark', 'figure', 'base', 'patched', 'patched-base')]
    for (mode, test, name), v in sorted(figures.items()):
        b, p = v.get('base', '-'), v.get('patched', '-')
        try:
            diff = '%+d' % (int(p) - int(b))
        except ValueError:
            try:
                diff = '%+.6f' % (float(p) - float(b))
            except ValueError:
                diff = '-'
        out.append(fmt % (mode, test, name, b, p, diff))
    return out


def main():
    print()
    for line in table(sys.argv[1:]):
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main())
