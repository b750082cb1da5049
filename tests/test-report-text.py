#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The text of scripts/report.py on made-up runs: failures come with the
test's last lines and a timeout with what its threads were doing, flaky
passes and a busy host say so, and a patched-only mode (mirror) is judged
against the base kernel's tdp run.  (tests/test-report.py checks its
verdicts.)  Prints TAP.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import taptest

taptest.clean_env()
REPORT = os.path.join(taptest.SCRIPTS, 'report.py')


def rec(i, status, detail, tail=()):
    return {'id': i, 'key': 't%d' % i, 'status': status, 'detail': detail, 'splats': [],
            'secs': 1.0, 'output_tail': list(tail)}


def report(patched, base):
    """report.py --patched PATCHED --base BASE: its output"""
    p = subprocess.run([sys.executable, REPORT, '--patched', patched, '--base', base],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return p.stdout


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp()
        d = os.path.join(cls.work, 'rep')
        hung = dict(rec(4, 'timeout', 'TIMEOUT after 9s (killed in the guest)'),
                    threads='7 t S +0u/+0s futex_wait_queue; 8 t R +0u/+200s kvm_mmu_page_fault')
        for k, tests in (('base', [rec(1, 'pass', ''), rec(2, 'pass', ''), rec(3, 'fail', 'exit=1'),
                                   rec(4, 'pass', '')]),
                         ('patched', [rec(1, 'fail', 'exit=254', ['==== Test Assertion Failure ====',
                                                                   'x.c:76: boom']),
                                      rec(2, 'pass', 'time=1s flaky: passed on retry after exit 254'),
                                      rec(3, 'fail', 'exit=1'), hung])):
            os.makedirs(os.path.join(d, k))
            json.dump({'label': k, 'mode': 'tdp', 'tests': tests, 'problems': [],
                       'host_load': [9.0, 1.0], 'host_cpus': 2}, open(os.path.join(d, k, 'results.json'), 'w'))
        cls.out = report(os.path.join(d, 'patched'), os.path.join(d, 'base'))
        # A patched-only mode (mirror) is judged against the base kernel's tdp run.
        os.makedirs(os.path.join(d, 'mirror'))
        r = json.load(open(os.path.join(d, 'patched', 'results.json')))
        r['mode'] = 'mirror'
        json.dump(r, open(os.path.join(d, 'mirror', 'results.json'), 'w'))
        cls.mirror = report(os.path.join(d, 'mirror'), os.path.join(d, 'base'))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work)

    def has(self, text, out=None):
        out = self.out if out is None else out
        assert text in out, out

    def test_assertion(self):
        """a regression shows the test's assertion"""
        self.has('| x.c:76: boom')

    def test_flaky(self):
        """a pass on retry, clean on the base, is flagged flaky on patched only"""
        self.has('flaky on patched only')

    def test_busy(self):
        """a busy host is noted"""
        self.has('host load average 9.0')

    def test_threads(self):
        """a timeout shows what each thread of the test was doing, a line each"""
        lines = self.out.splitlines()
        assert any(x.endswith(' thread 7 t S +0u/+0s futex_wait_queue') for x in lines) and \
            any(x.endswith(' thread 8 t R +0u/+200s kvm_mmu_page_fault') for x in lines), self.out

    def test_counts(self):
        """the counts: 0 passed, 3 failed, 1 skipped"""
        assert '0 passed, 3 failed, 1 skipped' in self.out.splitlines(), self.out

    def test_mirror_base_fails(self):
        """a mirror-mode failure that fails on the base's tdp run too is not counted as one"""
        self.has('fails on base too (base: tdp mode)', self.mirror)

    def test_mirror_regression(self):
        """a mirror-mode failure that passes on the base's tdp run is a regression"""
        self.has('REGRESSION', self.mirror)


if __name__ == '__main__':
    sys.exit(taptest.main(sys.modules[__name__]))
