#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/kcsan_reports.py, make kcsan's verdict, on made-up console logs
of a base and a patched kernel: the same report on both, a new one on the
patched kernel, the two sides of a race in the other order, other offsets
and clone suffixes, a race of unknown origin, no report at all, a report
cut short and a header of no known form, a boot without the KCSAN runtime,
and the run directories vmrun.py writes.  Prints TAP (a unittest module).

KMMU_TEST_KCSAN_REPORTS=FILE runs another kcsan_reports.py (default: this
tree's): one whose comparison is broken on purpose must fail the checks of
what it broke, which shows that they can.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import taptest

PROG = os.environ.get('KMMU_TEST_KCSAN_REPORTS') or os.path.join(taptest.SCRIPTS, 'kcsan_reports.py')
taptest.clean_env()

BOOT = ['[    0.000000] Linux version 6.12.117 (kmmu@kvm-mmu-series) #1 SMP PREEMPT',
        '[    0.410000] kcsan: enabled early',
        '[    0.410100] kcsan: non-strict mode configured - use CONFIG_KCSAN_STRICT=y to see all data races',
        '[    2.100000] kcsan: selftest: 3/3 tests passed']
RULE = '=' * 66


def race(first, second, kind='data-race', value='0x01 -> 0x00', stamp='52.77'):
    """The lines of a KCSAN report with both sides known, as report.c prints
    it: FIRST and SECOND as the header names them (the frames get offsets)."""
    a, b = first.split('+')[0], second.split('+')[0]
    body = ['BUG: KCSAN: %s in %s / %s' % (kind, first, second), '',
            'write to 0xffff888104b2e0a2 of 1 bytes by task 211 on cpu 0:',
            ' %s+0x1b4/0x5d0' % a, ' kthread+0x1a5/0x1e0', '',
            'read to 0xffff888104b2e0a2 of 1 bytes by task 214 on cpu 1:',
            ' %s+0x3e/0x130' % b, ' kvm_vcpu_ioctl+0x3e1/0x9d0', '']
    if value:
        body += ['value changed: ' + value, '']
    body += ['Reported by Kernel Concurrency Sanitizer on:',
             'CPU: 1 UID: 0 PID: 214 Comm: nx_huge_pages_t Not tainted 6.12.117 #1',
             'Hardware name: QEMU Standard PC (i440FX + PIIX, 1996)']
    return ['[%12s] %s' % (stamp, x) for x in [RULE] + body + [RULE]]


def unknown(func, offset='+0x2a1/0x6f0'):
    """A report of a race at unknown origin in FUNC."""
    body = [RULE, 'BUG: KCSAN: data-race in %s%s' % (func, offset), '',
            'race at unknown origin, with read to 0xffffc90000a3d018 of 8 bytes by task 214 on cpu 1:',
            ' %s%s' % (func, offset), '', 'value changed: 0x03 -> 0x04', '',
            'Reported by Kernel Concurrency Sanitizer on:', 'CPU: 1 UID: 0 PID: 214 Comm: t', RULE]
    return ['[   60.100000] ' + x for x in body]


def in_test(lines, tid=27, name='x86_64/nx_huge_pages_test'):
    return (['[   31.500000] kmmu: begin test %d %s' % (tid, name)] + lines +
            ['[   61.500000] kmmu: end test %d %s rc=0' % (tid, name)])


class Compare(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp()
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work)

    def log(self, *parts, boot=True):
        """A console log of BOOT (unless boot=False) and the lines of PARTS; its path."""
        Compare.n += 1
        path = os.path.join(self.work, 'console-%d.log' % Compare.n)
        lines = list(BOOT) if boot else []
        for p in parts:
            lines += p
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def run_it(self, base, patched):
        """kcsan_reports.py --base BASE... --patched PATCHED...: (exit status,
        output, (on base, on patched, new) from its last line or None)."""
        env = dict(os.environ, PYTHONPATH=taptest.SCRIPTS)
        p = subprocess.run([sys.executable, PROG, '--base'] + list(base) + ['--patched'] + list(patched),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        m = re.search(r'^KCSAN reports: (\d+) on base, (\d+) on patched, (\d+) new signatures$',
                      p.stdout, re.M)
        return p.returncode, p.stdout, tuple(int(x) for x in m.groups()) if m else None

    def test_same(self):
        """the same report on both kernels: no regression, counted on both"""
        r = in_test(race('kvm_recover_nx_huge_pages', 'tdp_mmu_unlink_sp'))
        rc, out, counts = self.run_it([self.log(r)], [self.log(r, r)])
        assert rc == 0 and counts == (1, 2, 0) and 'not ok' not in out and \
            re.search(r'^ok \d+ - data-race in kvm_recover_nx_huge_pages / tdp_mmu_unlink_sp: on base too',
                      out, re.M), out

    def test_new(self):
        """a signature only the patched kernel shows: not ok, with where it was seen, exit 1"""
        old = race('kvm_recover_nx_huge_pages', 'tdp_mmu_unlink_sp')
        new = race('disallowed_hugepage_adjust', 'kvm_recover_nx_huge_pages')
        rc, out, counts = self.run_it([self.log(in_test(old))], [self.log(in_test(old + new))])
        assert rc == 1 and counts == (1, 2, 1) and \
            re.search(r'^not ok \d+ - new on patched: data-race in disallowed_hugepage_adjust / '
                      r'kvm_recover_nx_huge_pages \(1 reports, first at console-\d+\.log:\d+, during test 27 '
                      r'x86_64/nx_huge_pages_test\)$', out, re.M) and \
            len(re.findall(r'^not ok', out, re.M)) == 1, out

    def test_other_order(self):
        """the same two functions in the other order: one signature"""
        rc, out, counts = self.run_it([self.log(race('tdp_mmu_unlink_sp', 'kvm_recover_nx_huge_pages'))],
                                      [self.log(race('kvm_recover_nx_huge_pages', 'tdp_mmu_unlink_sp'))])
        assert rc == 0 and counts == (1, 1, 0), out

    def test_offsets(self):
        """other offsets, a clone suffix, a module name: the same signature"""
        rc, out, counts = self.run_it(
            [self.log(race('kvm_recover_nx_huge_pages+0x1b4/0x5d0', 'tdp_mmu_unlink_sp'),
                      unknown('kvm_mmu_page_fault'))],
            [self.log(race('kvm_recover_nx_huge_pages.isra.0+0x1c0/0x5e0', 'tdp_mmu_unlink_sp [kvm]'),
                      unknown('kvm_mmu_page_fault', '+0x2b3/0x700'))])
        assert rc == 0 and counts == (2, 2, 0) and \
            'data-race in kvm_mmu_page_fault / (unknown origin): on base too' in out, out

    def test_kind(self):
        """an assertion failure is not the data race of the same two functions"""
        rc, out, counts = self.run_it([self.log(race('f', 'g'))], [self.log(race('f', 'g', kind='assert: race'))])
        assert rc == 1 and counts == (1, 1, 1) and 'new on patched: assert: race in f / g' in out, out

    def test_unknown_origin(self):
        """a race at unknown origin in a function the base reported: not new; the reverse (a pair): new"""
        rc, out, counts = self.run_it([self.log(race('kvm_mmu_page_fault', 'x'))],
                                      [self.log(unknown('kvm_mmu_page_fault'))])
        rc2, out2, counts2 = self.run_it([self.log(unknown('kvm_mmu_page_fault'))],
                                         [self.log(race('kvm_mmu_page_fault', 'x'))])
        assert (rc, counts, rc2, counts2) == (0, (1, 1, 0), 1, (1, 1, 1)), (out, out2)

    def test_none(self):
        """logs without a report: zero on both, one ok line, exit 0"""
        rc, out, counts = self.run_it([self.log()], [self.log(in_test([]))])
        assert rc == 0 and counts == (0, 0, 0) and \
            re.search(r'^ok \d+ - no KCSAN report on the patched kernel$', out, re.M) and \
            re.search(r'^1\.\.3$', out, re.M), out

    def test_cut(self):
        """a report cut after its header: matched by its one function, noted; a header of no known form: as text"""
        cut = race('kvm_recover_nx_huge_pages', 'tdp_mmu_unlink_sp')[:2]
        cut[1] = cut[1].replace(' / tdp_mmu_unlink_sp', ' / ')
        odd = ['[   70.000000] BUG: KCSAN: something new at 0xffffffff81234567']
        rc, out, counts = self.run_it([self.log(race('kvm_recover_nx_huge_pages', 'tdp_mmu_unlink_sp'))],
                                      [self.log(odd, cut)])
        rc2, out2, counts2 = self.run_it([self.log(odd)], [self.log(odd)])
        assert rc == 1 and counts == (1, 2, 1) and \
            'data-race in kvm_recover_nx_huge_pages / ?: on base too' in out and \
            'new on patched: unparsed: something new at ' in out and \
            re.search(r'^# cut short \(no footer\): data-race in kvm_recover_nx_huge_pages / \?', out, re.M) and \
            rc2 == 0 and counts2 == (1, 1, 0), (out, out2)

    def test_runtime_off(self):
        """no "kcsan: enabled early" (not a KCSAN kernel, or kcsan.early_enable=0): not ok"""
        later = [x for x in BOOT if 'enabled early' not in x]
        rc, out, counts = self.run_it([self.log()], [self.log(boot=False)])
        rc2, out2, _ = self.run_it([self.log(later, boot=False)], [self.log()])
        assert rc == 1 and re.search(r'^not ok \d+ - patched: the KCSAN runtime was not on in console-\d+\.log',
                                     out, re.M) and \
            rc2 == 1 and re.search(r'^not ok 1 - base: the KCSAN runtime was not on in console-\d+\.log', out2, re.M), \
            (out, out2)

    def test_run_dirs(self):
        """run directories: every console-g*.log in them (reboots too), none is a failure"""
        d = {}
        for k, parts in (('base', [race('a', 'b')]), ('patched', [race('a', 'b'), unknown('b')])):
            d[k] = os.path.join(self.work, '%s-kcsan-tdp' % k)
            os.makedirs(d[k])
            for i, part in enumerate(parts):
                shutil.copy(self.log(part), os.path.join(d[k], 'console-g%d%s.log' % (i + 1, '-r1' if i else '')))
        rc, out, counts = self.run_it([d['base']], [d['patched']])
        empty = os.path.join(self.work, 'empty')
        os.makedirs(empty)
        rc2, out2, _ = self.run_it([empty], [d['patched']])
        assert rc == 0 and counts == (1, 2, 0) and 'patched: KCSAN on in every boot (2 console logs)' in out and \
            rc2 == 1 and 'not ok 1 - base: no console log in ' in out2, (out, out2)


if __name__ == '__main__':
    sys.exit(taptest.main(sys.modules[__name__]))
