# SPDX-License-Identifier: GPL-2.0
"""What the tests/test-*.py modules written with unittest share: the tree's
paths (TOP, SCRIPTS), clean_env(), and main(), scripts/kmmu_tap.py's
main_tests: the one runner that prints their cases as TAP (in the order the
module defines them, self.tap_name, a failed setUpClass as a "not ok" line,
skips as "# SKIP", the plan last, exit status 1 when a test failed).
Such a module ends with

    if __name__ == '__main__':
        sys.exit(taptest.main(sys.modules[__name__]))
"""

import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(TOP, 'scripts')
sys.path.insert(0, SCRIPTS)
from kmmu_tap import main_tests as main  # noqa: E402,F401


def clean_env():
    """Unset the settings of the calling shell, as tests/lib-tap.sh's
    clean_env does: every KMMU_ name, make's MAKEFLAGS and the names of the
    Makefile's KNOBS, so that they change nothing the tests run."""
    knobs, more = [], False
    with open(os.path.join(TOP, 'Makefile')) as f:
        for line in f:
            if line.startswith('KNOBS :=') or more:
                knobs += line.replace('KNOBS :=', '').rstrip('\n').rstrip('\\').split()
                more = line.rstrip('\n').endswith('\\')
    for k in list(os.environ):
        if k.startswith('KMMU_') or k in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL') or k in knobs:
            del os.environ[k]
