#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/benchtable.py, make bench's table, on made-up results.json files
(the figures vmrun.py keeps per test, tests/test-vmrun.py): base and patched
paired by test number and mode, the difference, the columns, and a run
without results.  Prints TAP.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import taptest

taptest.clean_env()
BENCHTABLE = os.path.join(taptest.SCRIPTS, 'benchtable.py')


def benchtable(*dirs):
    """benchtable.py DIRS...: (exit status, output)"""
    p = subprocess.run([sys.executable, BENCHTABLE] + list(dirs), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return p.returncode, p.stdout


class Table(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp()
        cls.bt = os.path.join(cls.work, 'bt')
        for k, v in (('base', '143360'), ('patched', '135168')):
            os.makedirs(os.path.join(cls.bt, '%s-tdp' % k))
            json.dump({'label': k, 'mode': 'tdp', 'tests': [
                {'id': 2, 'name': 'kvm-extra/vm_memory_bench', 'figures': {'bytes_per_vm': v}},
                {'id': 5, 'name': 'kvm-extra/vm_memory_bench', 'figures': {'bytes_per_vm': '1'}},
                {'id': 7, 'name': 'kvm-extra/huge_page_recovery_test', 'figures': {
                    'dlog_off_load_tdp_mmu_pages_lock_acquisitions': str(len(k) * 100)}}]},
                open(os.path.join(cls.bt, '%s-tdp' % k, 'results.json'), 'w'))
        cls.rc, cls.out = benchtable(os.path.join(cls.bt, 'base-tdp'), os.path.join(cls.bt, 'patched-tdp'))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work)

    def test_pairs(self):
        """make bench's table: base and patched side by side from results.json, the difference"""
        lines = self.out.splitlines()
        assert any(re.fullmatch(r'tdp +vm_memory_bench#2 +bytes_per_vm +143360 +135168 +-8192', x) for x in lines) and \
            any(re.fullmatch(r'tdp +vm_memory_bench#5 +bytes_per_vm +1 +1 +\+0', x) for x in lines), self.out

    def test_columns(self):
        """... a long figure name (the lock figures) widens its column: every row's columns end where the header's do"""
        lines = self.out.splitlines()
        assert any(re.fullmatch(r'tdp +huge_page_recovery_test#7 +dlog_off_load_tdp_mmu_pages_lock_acquisitions'
                                r' +400 +700 +\+300', x) for x in lines), self.out
        assert len({len(x) for x in lines if x}) == 1, self.out

    def test_no_results(self):
        """... and a run without results.json is an error naming it"""
        none = os.path.join(self.bt, 'none')
        rc, out = benchtable(os.path.join(self.bt, 'base-tdp'), none)
        self.tap_name = '%s (exit %d)' % (self.shortDescription(), rc)
        assert rc != 0 and 'error: no results in %s' % none in out, (rc, out)


if __name__ == '__main__':
    sys.exit(taptest.main(sys.modules[__name__]))
