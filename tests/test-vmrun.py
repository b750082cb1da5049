#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/vmrun.py's own logic, in seconds: the test lists and the guest's
TAP it parses, the modes it knows, a timeout's thread samples and a test's
figures it sums up; and, on a fake QEMU, an initramfs of another list
refused and a VM that stops in the middle of a test.  (tests/test-vmrun.sh
runs it on a fake QEMU and made-up host trees: the accelerator, the base
result cache, the progress lines.)  Prints TAP.
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
TOP = taptest.TOP
VMRUN = os.path.join(taptest.SCRIPTS, 'vmrun.py')
sys.path.insert(0, taptest.SCRIPTS)
import vmrun  # noqa: E402


def list_file(text):
    """A test list of TEXT in a temporary file; its name."""
    f = tempfile.NamedTemporaryFile('w', suffix='.list', delete=False)
    f.write(text)
    f.close()
    return f.name


class Lists(unittest.TestCase):
    """The test lists: every test has a sane timeout, and the options parse."""

    def test_list(self):
        """the test list parses"""
        t = vmrun.parse_list(os.path.join(TOP, 'tests', 'kvm-tests.list'))
        assert len(t) > 10 and all(0 < x['timeout'] <= 600 for x in t), t
        g = vmrun.groups_of(t)
        assert sum(len(x['tests']) for x in g) == len(t)

    def test_tap(self):
        """TAP parsing classifies pass, skip, fail, timeout"""
        r, b, i = vmrun.parse_tap('''# kmmu-begin 1 a 10
ok 1 a # time=1.0s
# kmmu-begin 2 b 10
ok 2 b # SKIP no svm time=0.1s
# kmmu-begin 3 c 10
not ok 3 c # exit=1 time=2.0s
# kmmu-begin 4 d 10
not ok 4 d # TIMEOUT after 10s (killed in the guest)
# kmmu-begin 5 e 10
''')
        assert [r[k]['status'] for k in (1, 2, 3, 4)] == ['pass', 'skip', 'fail', 'timeout'], r
        assert b == [1, 2, 3, 4, 5] and 5 not in r

    def test_mainline_list(self):
        """the mainline test list parses, with 7.x test paths"""
        t = vmrun.parse_list(os.path.join(TOP, 'mainline', 'tests.list'))
        assert t and all(x['name'].startswith(('x86/', 'kvm-extra/')) or '/' not in x['name'] for x in t), t

    def test_retries(self):
        """every test gets one retry unless the list says otherwise"""
        f = list_file('a 10 -\nb 10 retry:0\nc 10 retry:3,mode:tdp\n')
        assert [x['retries'] for x in vmrun.parse_list(f)] == [1, 0, 3]

    def test_yield(self):
        """yield:SYM+SYM is parsed, kept out of the boot line, and checked"""
        name = list_file('a 10 -\nb 10 yield:f_one+f_two,x.y=1\n')
        t = vmrun.parse_list(name)
        assert [x['yield'] for x in t] == [[], ['f_one', 'f_two']], t
        assert t[1]['boot'] == ['x.y=1'], t
        for bad in ('yield:', 'yield:a+', 'yield:a-b', 'yield:a,yield:b'):
            with open(name, 'w') as f:
                f.write('a 10 %s\n' % bad)
            try:
                vmrun.parse_list(name)
            except SystemExit as e:
                assert 'yield:' in str(e), e
            else:
                raise AssertionError('accepted ' + bad)

    def test_mirror_list(self):
        """the mirror mode runs only the tests that ask for it (also:mirror)"""
        name = list_file('a 10 -\nb 10 also:mirror,x.y=1\nc 10 mode:mirror\n')
        t = vmrun.parse_list(name)
        assert [('mirror' in x['modes'], 'tdp' in x['modes']) for x in t] == \
            [(False, True), (True, True), (True, False)], t
        assert t[1]['boot'] == ['x.y=1'], t
        with open(name, 'w') as f:
            f.write('a 10 mode:tdp,also:mirror\n')
        try:
            vmrun.parse_list(name)
        except SystemExit as e:
            assert 'also:M' in str(e), e
        else:
            raise AssertionError('mode: with also: accepted')

    def test_mirror_mode(self):
        """vmrun.py knows the mirror mode and its boot parameters"""
        assert 'kvm.mirror_sw=1' in vmrun.MODES['mirror'], vmrun.MODES['mirror']


class GroupMem(unittest.TestCase):
    """A group reserving 1G hugetlb pages on its boot line gets the memory
    the reservation needs; every other group keeps --mem."""

    def test_gigantic_group_gets_more(self):
        boot = ['mode', 'hugepagesz=1G', 'hugepages=1']
        self.assertEqual(vmrun.group_mem('3G', boot), '5G')
        self.assertEqual(vmrun.group_mem('3072', boot), '5G')
        self.assertEqual(vmrun.group_mem('8G', boot), '8G')

    def test_other_groups_keep_mem(self):
        self.assertEqual(vmrun.group_mem('3G', ['kvm.nx_huge_pages=1']), '3G')
        self.assertEqual(vmrun.group_mem('3G', ['hugepagesz=2M']), '3G')


class Timeout(unittest.TestCase):
    """vmrun.py sums up the samples the guest's per-test limit
    (scripts/guest-init.sh, run here with the host's busybox as
    tests/test-guest-init.sh does) puts in an overrun test's output in one
    line under the TIMEOUT: each thread's state, the ticks it used from the
    first sample to the last, its stack top."""

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp()
        limit = os.path.join(cls.work, 'limit.sh')
        subprocess.run(['bash', '-c', "sed -n '/^dump_tasks() {/,/^}/p; /^run_limited() {/,/^}/p' \"$1\" > \"$2\"",
                        '-', os.path.join(TOP, 'scripts', 'guest-init.sh'), limit], check=True)
        with open(limit, 'a') as f:
            f.write('run_limited 1 sh -c \'exec sleep 30\' > "$W/slow.out" 2>&1; echo "slow rc=$?"\n')
        subprocess.run(['bash', '-c', ". '%s/scripts/lib.sh' && need /bin/busybox:busybox-static" % TOP],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(['timeout', '60', '/bin/busybox', 'sh', limit], env=dict(os.environ, W=cls.work),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work)

    def test_timeout_threads(self):
        """a timeout's summary line says where each thread sleeps or how much it ran"""
        s = vmrun.timeout_threads(open(os.path.join(self.work, 'slow.out')).read().splitlines())
        assert re.fullmatch(r'\d+ sleep S \+0u/\+0s hrtimer_nanosleep < \S.*', s), s
        fake = '''[failed attempt] [timeout] sample 1 of pid 9, uptime 1.0
[timeout] sample 1 of pid 9, uptime 5.0
[timeout] tid 9 t state S utime 3 stime 1 wchan futex_wait_queue
[timeout]     [<0>] futex_wait_queue+0x60/0x90
[timeout]     [<0>] __schedule+0x1/0x2
[timeout] tid 10 t state R utime 7 stime 40 wchan 0
[timeout] sample 3 of pid 9, uptime 7.0
[timeout] tid 9 t state S utime 3 stime 1 wchan futex_wait_queue
[timeout]     [<0>] __schedule+0x1/0x2
[timeout]     [<0>] futex_wait_queue+0x60/0x90
[timeout] tid 10 t state R utime 7 stime 240 wchan 0
[timeout]     [<0>] kvm_mmu_page_fault+0x1/0x2 [kvm]
[timeout] killing pid 9 after 5s'''.splitlines()
        s = vmrun.timeout_threads(fake)
        assert s == '9 t S +0u/+0s futex_wait_queue; 10 t R +0u/+200s kvm_mmu_page_fault', s
        assert vmrun.timeout_threads(['no samples']) == ''


class Figures(unittest.TestCase):
    """make bench's figures come from results.json: vmrun.py keeps them per
    test from its output (not from a failed attempt's); benchtable.py pairs
    them (tests/test-benchtable.py)."""

    def test_figures(self):
        """vmrun.py keeps a test's figures: bench: lines and the upstream tests' own words, not a failed attempt's"""
        text = '''# kmmu-begin 3 dirty_log_perf_test 90
# [failed attempt] bench: bytes 1
# bench: bytes_per_vm 143360
# Populate memory time: 12.6s
# Disabling dirty logging time: 0.25s
ok 3 dirty_log_perf_test # time=19s'''
        f = vmrun.figures(vmrun.test_output(text, 3))
        assert f == {'bytes_per_vm': '143360', 'populate_s': '12.6', 'disable_dirty_log_s': '0.25'}, f


FAKE_QEMU = r'''#!/usr/bin/env python3
import os, re, sys
a = sys.argv[1:]
serials = [a[i + 1][5:] for i, x in enumerate(a) if x == '-serial']
m = re.search(r'kmmu\.only=([0-9,]+)', a[a.index('-append') + 1])
ids = [int(x) for x in m.group(1).split(',')] if m else [1, 2, 3]
state = os.environ['FAKE_STATE']
open(serials[0], 'w').write(open(os.environ['FAKE_CONSOLE']).read() if os.environ.get('FAKE_CONSOLE')
                            else 'console\n')
with open(serials[1], 'w') as f:
    f.write('TAP version 13\n')
    for i in ids:
        f.write('# kmmu-begin %d t%d 10\n' % (i, i))
        stops = int(open(state).read() or 0)
        if i == 2 and stops > 0:
            open(state, 'w').write(str(stops - 1))
            sys.exit(0)
        f.write('ok %d t%d # time=1s\n' % (i, i))
    f.write('# kmmu-done\n')
'''


class Run(unittest.TestCase):
    """vmrun.py run on a fake QEMU."""

    def setUp(self):
        self.work = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.work)

    def path(self, name):
        return os.path.join(self.work, name)

    def vmrun(self, *args, env=None):
        """vmrun.py ARGS...: (exit status, output)"""
        p = subprocess.run([sys.executable, VMRUN] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=dict(os.environ, **(env or {})))
        return p.returncode, p.stdout

    def test_other_list(self):
        """an initramfs packed from another test list is refused"""
        # The guest numbers tests by the list it was packed with.
        with open(self.path('l1.list'), 'w') as f:
            f.write('kvm_binary_stats_test 60 -\n')
        with open(self.path('l2.list'), 'w') as f:
            f.write('kvm_binary_stats_test 60 -\nkvm_page_table_test 60 -\n')
        with open(self.path('ird.cpio.gz.groups.json'), 'w') as f:
            json.dump(vmrun.groups_of(vmrun.parse_list(self.path('l2.list'))), f)
        open(self.path('ird.cpio.gz'), 'w').close()
        rc, out = self.vmrun('run', '--kernel', self.path('ird.cpio.gz'), '--initramfs', self.path('ird.cpio.gz'),
                             '--list', self.path('l1.list'), '--mode', 'tdp', '--out', self.path('vr'))
        assert rc != 0 and 'packed from another version' in out, (rc, out)

    def fake_run(self, stops, out, *args, console=None):
        """vmrun.py run ARGS... of tests t1, t2, t3 on the fake QEMU, its VM
        stopping in the middle of t2 STOPS times, CONSOLE (a file) the
        console it writes: (exit status, output, results.json)."""
        qemu = self.path('fakeqemu')
        with open(qemu, 'w') as f:
            f.write(FAKE_QEMU)
        os.chmod(qemu, 0o755)
        with open(self.path('fq.list'), 'w') as f:
            f.write('t1 10 -\nt2 10 -\nt3 10 -\n')
        with open(self.path('fq.state'), 'w') as f:
            f.write(str(stops))
        env = dict({'FAKE_STATE': self.path('fq.state')}, **({'FAKE_CONSOLE': console} if console else {}))
        rc, log = self.vmrun('run', '--kernel', self.path('fq.list'), '--initramfs', self.path('fq.list'),
                             '--list', self.path('fq.list'), '--mode', 'tdp', '--out', out, '--qemu', qemu,
                             *args, env=env)
        return rc, log, json.load(open(os.path.join(out, 'results.json')))

    def stops(self, stops):
        """A VM that stops in the middle of test 2 (no console message: a
        crash of the emulated machine) STOPS times: (exit status, a word a
        test: id:status:flaky, the run's problems)."""
        rc, log, r = self.fake_run(stops, self.path('fq%d' % stops))
        return rc, ' '.join('%d:%s:%s' % (t['id'], t['status'], 'flaky' in (t['detail'] or ''))
                            for t in r['tests']), len(r['problems']), log

    def test_stop(self):
        """a VM stop during a test: booted again, the test passes flagged flaky, the rest runs"""
        rc, tests, problems, log = self.stops(1)
        assert (tests, problems) == ('1:pass:False 2:pass:True 3:pass:False', 0), (tests, problems, log)

    def test_stop_again(self):
        """a VM stop on the retry too fails the test and the run, the rest still runs"""
        rc, tests, problems, log = self.stops(2)
        assert (tests, problems, rc) == ('1:pass:False 2:fail:False 3:pass:False', 1, 1), (tests, problems, rc, log)

    def test_not_splat(self):
        """--not-splat kcsan: a KCSAN report fails no test and is kept in results.json; a WARNING still fails"""
        with open(self.path('console'), 'w') as f:
            f.write('[    1.0] kmmu: begin test 1 t1\n'
                    '[    1.1] ==================================================================\n'
                    '[    1.2] BUG: KCSAN: data-race in kvm_recover_nx_huge_pages / tdp_mmu_unlink_sp\n'
                    '[    1.3] kmmu: end test 1 t1 rc=0\n'
                    '[    2.0] kmmu: begin test 3 t3\n'
                    '[    2.1] WARNING: CPU: 1 PID: 161 at arch/x86/kvm/mmu/tdp_mmu.c:1017 f+0x2d8/0x310\n'
                    '[    2.2] kmmu: end test 3 t3 rc=0\n')
        got = []
        for extra in ([], ['--not-splat', 'kcsan']):
            rc, log, r = self.fake_run(0, self.path('ns%d' % len(extra)), *extra, console=self.path('console'))
            got.append((rc, [bool(t['splats']) for t in r['tests']],
                        [f['kind'] for b in r['boots'] for f in b.get('not_splats', [])]))
        assert got == [(1, [True, False, True], []), (1, [False, False, True], ['kcsan'])], got


if __name__ == '__main__':
    sys.exit(taptest.main(sys.modules[__name__]))
