#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the verdicts of scripts/report.py on fake VM runs.

Each check writes the results.json of a base and a patched run (as vmrun.py
writes them) to a temporary directory, runs report.py on them and looks at
the verdict in the table, the summary, the "N passed, N failed, N skipped"
line and the exit status.  Prints TAP.

KMMU_TEST_REPORT=FILE runs another report.py (default: scripts/report.py of this
tree): with the version before a fix, the checks of that fix must fail,
which shows that they can.
"""

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), 'scripts')
REPORT = os.environ.get('KMMU_TEST_REPORT') or os.path.join(SCRIPTS, 'report.py')

KASAN = 'kasan: [   12.345678] BUG: KASAN: slab-use-after-free in handle_removed_pt+0x1a/0x80'
# The same bug on another run: other time stamp, caller id, offset.
KASAN_AGAIN = 'kasan: [  201.000042][   C1] BUG: KASAN: slab-use-after-free in handle_removed_pt+0x2b/0x90'
KASAN_SIG = 'BUG: KASAN: slab-use-after-free in handle_removed_pt'
WARN = ('warning: [    9.338024] WARNING: CPU: 1 PID: 161 at arch/x86/kvm/mmu/tdp_mmu.c:1017 '
        'tdp_mmu_map_handle_target_level+0x2d8/0x310')
WARN_AGAIN = ('warning: [   77.000001] WARNING: CPU: 0 PID: 2345 at arch/x86/kvm/mmu/tdp_mmu.c:1017 '
              'tdp_mmu_map_handle_target_level+0x2e0/0x318')
HUNG = 'hung-task: [  245.100000] INFO: task kvm_page_table_:188 blocked for more than 122 seconds.'
HUNG_AGAIN = 'hung-task: [  250.900000] INFO: task kvm_page_table_:4711 blocked for more than 122 seconds.'
LOCKUP = 'soft-lockup: [  352.004511] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [kvm_page_table_/188]'
LOCKUP_AGAIN = 'soft-lockup: [  99.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 48s! [kvm_page_table_/4711]'
LOCKDEP = 'lockdep: [   12.404794] WARNING: possible circular locking dependency detected'
WARN_ELSEWHERE = ('warning: [    9.338024] WARNING: CPU: 1 PID: 161 at arch/x86/kvm/mmu/tdp_mmu.c:1290 '
                  'tdp_mmu_split_huge_page+0x2d8/0x310')
FLAKY = 'time=4s flaky: passed on retry after exit 254'

TIMEOUT = 'TIMEOUT after 90s (killed in the guest)'
HANG = 'VM killed: no output for 300 s'


def rec(i, status, detail='', splats=(), tail=()):
    """A test record as vmrun.py cmd_run writes it."""
    return {'id': i, 'key': 'test%d -a' % i, 'name': 'test%d' % i, 'status': status,
            'detail': detail, 'splats': list(splats), 'secs': 1.0,
            'output_tail': list(tail) if status != 'pass' else [], 'threads': ''}


def run(tmp, patched, base=None, mode='tdp', base_mode=None, json_out=False, confirm=()):
    """Write the runs, run report.py; return (exit status, output, json or None).
    confirm: reruns, (label, mode, tests) each, passed with --confirm."""
    tmp = tempfile.mkdtemp(dir=tmp)
    args = [sys.executable, REPORT]
    cdirs = []
    for n, (label, m, tests) in enumerate(confirm):
        d = os.path.join(tmp, 'confirm-%d' % n)
        os.makedirs(d)
        with open(os.path.join(d, 'results.json'), 'w') as f:
            json.dump({'label': label, 'mode': m, 'kernel': '/k/' + label, 'tests': tests,
                       'boots': [], 'problems': [], 'host_load': [0.5, 0.5], 'host_cpus': 2}, f)
        cdirs.append(d)
    if cdirs:
        args += ['--confirm'] + cdirs
    for label, tests, m in (('patched', patched, mode), ('base', base, base_mode or mode)):
        if tests is None:
            continue
        d = os.path.join(tmp, label)
        os.makedirs(d)
        with open(os.path.join(d, 'results.json'), 'w') as f:
            json.dump({'label': label, 'mode': m, 'kernel': '/k/' + label, 'tests': tests,
                       'boots': [], 'problems': [], 'host_load': [0.5, 0.5], 'host_cpus': 2}, f)
        args += ['--' + label, d]
    if json_out:
        args += ['--json', os.path.join(tmp, 'report.json')]
    # REPORT may be a copy outside scripts/: let it import vmrun all the same.
    env = dict(os.environ, PYTHONPATH=SCRIPTS + os.pathsep + os.environ.get('PYTHONPATH', ''))
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    data = None
    if json_out and os.path.exists(os.path.join(tmp, 'report.json')):
        with open(os.path.join(tmp, 'report.json')) as f:
            data = json.load(f)
    return p.returncode, p.stdout, data


def verdict_of(out, i, mode='tdp'):
    """The verdict column of test i in mode (without the seconds), None when
    the table has no such row.  Columns are cut where the header puts them:
    a base column of 'not run' has a space in it."""
    lines = out.splitlines()
    head = next((x for x in lines if x.startswith('test ') and x.rstrip().endswith('verdict')), None)
    if head is None:
        return None
    mcol, vcol = head.index(' mode') + 1, head.index(' verdict') + 1
    key = 'test%d -a' % i
    for line in lines:
        if line[:mcol].rstrip() == key and line[mcol:].split()[:1] == [mode]:
            return line[vcol:].split('  [')[0].rstrip()
    return None


def last_line(out):
    lines = out.rstrip('\n').splitlines()
    return lines[-1] if lines else ''


class Checker:
    def __init__(self, tmp):
        self.tmp, self.n, self.failed = tmp, 0, 0

    def check(self, desc, patched, base, verdicts, counts, rc, mode='tdp', base_mode=None,
              contains=(), json_check=None, confirm=()):
        """verdicts: {(test id, mode) or test id: text the row's verdict must
        contain}; counts: the last line; rc: the exit status; contains:
        lines (stripped) the output must have."""
        got_rc, out, data = run(self.tmp, patched, base, mode, base_mode, json_check is not None,
                                confirm)
        why = []
        for k, want in verdicts.items():
            i, m = k if isinstance(k, tuple) else (k, mode)
            v = verdict_of(out, i, m)
            exact = isinstance(want, tuple)
            want = want[0] if exact else want
            if v is None or not (v == want if exact else want in v):
                why.append('test%d %s: verdict %r, want %s%r' % (i, m, v, '' if exact else 'one with ', want))
        if last_line(out) != counts:
            why.append('last line %r, want %r' % (last_line(out), counts))
        if got_rc != rc:
            why.append('exit %d, want %d' % (got_rc, rc))
        stripped = [line.strip() for line in out.splitlines()]
        for c in contains:
            if not any(c in line for line in stripped):
                why.append('no line with %r' % c)
        if json_check is not None:
            problem = json_check(data) if data is not None else 'no JSON written'
            if problem:
                why.append('json: ' + problem)
        self.n += 1
        if why:
            self.failed += 1
            print('not ok %d %s' % (self.n, desc))
            for w in why:
                print('#   ' + w)
            for line in out.splitlines():
                print('#   | ' + line)
        else:
            print('ok %d %s' % (self.n, desc))


def json_signature(data):
    rows = {r['test']: r for r in data.get('rows', [])}
    r = rows.get('test1 -a')
    if not r:
        return 'no row for test1'
    if r.get('verdict', '').split(' (')[0] != 'REGRESSION':
        return 'verdict %r, want REGRESSION' % r.get('verdict')
    if r.get('signature') != KASAN_SIG:
        return 'signature %r, want %r' % (r.get('signature'), KASAN_SIG)
    return ''


def main():
    print('TAP version 13')
    with tempfile.TemporaryDirectory() as tmp:
        c = Checker(tmp)
        # The four review findings first.
        c.check('base fail + patched splat: REGRESSION, the signature in the note',
                [rec(1, 'fail', 'exit=254', [KASAN])], [rec(1, 'fail', 'exit=254')],
                {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1,
                contains=['new splat: ' + KASAN_SIG])
        c.check('base notrun + patched fail: FAIL (base: not run)',
                [rec(1, 'fail', 'exit=1')], [rec(1, 'notrun', 'VM stopped before this test')],
                {1: ('FAIL (base: not run)', True)}, '0 passed, 1 failed, 0 skipped', 1)
        c.check('base notrun + patched splat: FAIL, not excused',
                [rec(1, 'pass', 'time=1s', [KASAN])], [rec(1, 'notrun', 'VM stopped before this test')],
                {1: ('FAIL (base: not run)', True)}, '0 passed, 1 failed, 0 skipped', 1)
        c.check('base fail + patched timeout: REGRESSION',
                [rec(1, 'timeout', TIMEOUT)], [rec(1, 'fail', 'exit=254')],
                {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1)
        c.check('base fail + patched hang: REGRESSION',
                [rec(1, 'hang', HANG)], [rec(1, 'fail', 'exit=254')],
                {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1)
        c.check('patched flaky + base clean pass: flaky on patched only, listed after the table, '
                'counted failed',
                [rec(1, 'pass', FLAKY), rec(2, 'pass', 'time=1s')],
                [rec(1, 'pass', 'time=3s'), rec(2, 'pass', 'time=1s')],
                {1: ('flaky on patched only', True), 2: ('pass', True)},
                '1 passed, 1 failed, 0 skipped', 1,
                contains=['flaky on the patched kernel only (passed on a retry, the base first time):',
                          'test1 -a  tdp         before the pass: exit 254'])
        # Splat signatures.
        c.check('base splat X + patched splat X: fails on base too',
                [rec(1, 'pass', 'time=1s', [KASAN])], [rec(1, 'pass', 'time=1s', [KASAN])],
                {1: ('fails on base too', True)}, '0 passed, 0 failed, 1 skipped', 0)
        c.check('base splat X + patched splat Y: REGRESSION',
                [rec(1, 'pass', 'time=1s', [LOCKDEP])], [rec(1, 'pass', 'time=1s', [KASAN])],
                {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1,
                contains=['new splat: WARNING: possible circular locking dependency detected'])
        c.check('base splat X + patched splats X and Y: REGRESSION',
                [rec(1, 'fail', 'exit=1', [KASAN_AGAIN, WARN_ELSEWHERE])],
                [rec(1, 'fail', 'exit=1', [KASAN])],
                {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1)
        c.check('the same splat with other time stamp, caller, offset, pid, CPU: fails on base too',
                [rec(1, 'pass', '', [KASAN_AGAIN]), rec(2, 'fail', 'exit=1', [WARN_AGAIN]),
                 rec(3, 'hang', HANG, [HUNG_AGAIN]), rec(4, 'hang', HANG, [LOCKUP_AGAIN])],
                [rec(1, 'pass', '', [KASAN]), rec(2, 'fail', 'exit=1', [WARN]),
                 rec(3, 'hang', HANG, [HUNG]), rec(4, 'hang', HANG, [LOCKUP])],
                {i: ('fails on base too', True) for i in (1, 2, 3, 4)},
                '0 passed, 0 failed, 4 skipped', 0)
        c.check('a WARN at another line of another function is another splat: REGRESSION',
                [rec(1, 'fail', 'exit=1', [WARN_ELSEWHERE])], [rec(1, 'fail', 'exit=1', [WARN])],
                {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1)
        c.check('the JSON output carries the verdict and the signature',
                [rec(1, 'fail', 'exit=254', [KASAN])], [rec(1, 'fail', 'exit=254')],
                {1: 'REGRESSION'}, '0 passed, 1 failed, 0 skipped', 1, json_check=json_signature)
        # Outcome ranks.
        c.check('base timeout + patched timeout: fails on base too',
                [rec(1, 'timeout', TIMEOUT)], [rec(1, 'timeout', TIMEOUT)],
                {1: ('fails on base too', True)}, '0 passed, 0 failed, 1 skipped', 0)
        c.check('base hang + patched timeout (same rank): fails on base too',
                [rec(1, 'timeout', TIMEOUT)], [rec(1, 'hang', HANG)],
                {1: ('fails on base too', True)}, '0 passed, 0 failed, 1 skipped', 0)
        c.check('base timeout + patched hang (same rank): fails on base too',
                [rec(1, 'hang', HANG)], [rec(1, 'timeout', TIMEOUT)],
                {1: ('fails on base too', True)}, '0 passed, 0 failed, 1 skipped', 0)
        c.check('base timeout + patched fail (better, not a pass): fails on base too',
                [rec(1, 'fail', 'exit=254')], [rec(1, 'timeout', TIMEOUT)],
                {1: ('fails on base too', True)}, '0 passed, 0 failed, 1 skipped', 0)
        c.check('base pass + patched fail: REGRESSION',
                [rec(1, 'fail', 'exit=254', tail=['x.c:76: boom'])], [rec(1, 'pass', 'time=1s')],
                {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1,
                contains=['| x.c:76: boom'])
        c.check('no base record + patched fail: FAIL',
                [rec(1, 'fail', 'exit=254')], [],
                {1: ('FAIL', True)}, '0 passed, 1 failed, 0 skipped', 1)
        # Passes.
        c.check('base fail + patched pass: pass (fixed)',
                [rec(1, 'pass', 'time=1s')], [rec(1, 'fail', 'exit=254')],
                {1: ('pass (fixed)', True)}, '1 passed, 0 failed, 0 skipped', 0)
        c.check('base notrun + patched pass: a pass, nothing fixed',
                [rec(1, 'pass', 'time=1s')], [rec(1, 'notrun', 'VM stopped before this test')],
                {1: ('pass (base: not run)', True)}, '1 passed, 0 failed, 0 skipped', 0)
        c.check('flaky on both kernels: pass',
                [rec(1, 'pass', FLAKY)], [rec(1, 'pass', 'time=3s flaky: passed on retry after exit 1')],
                {1: ('pass (flaky: passed on retry, base: flaky too)', True)},
                '1 passed, 0 failed, 0 skipped', 0)
        c.check('flaky on the patched kernel, no base run: pass flagged flaky',
                [rec(1, 'pass', FLAKY)], None,
                {1: ('pass (flaky: passed on retry)', True)}, '1 passed, 0 failed, 0 skipped', 0)
        # A flake on the patched kernel only, rerun on both kernels without
        # retries (run.sh): it fails the run only when it comes back.
        ok1 = rec(1, 'pass', 'time=1s')
        c.check('flaky on patched only, fails again in a patched rerun, base reruns clean: failed',
                [rec(1, 'pass', FLAKY)], [ok1], {1: 'flaky on patched only, again in reruns'},
                '0 passed, 1 failed, 0 skipped', 1,
                confirm=[('patched', 'tdp', [ok1]), ('patched', 'tdp', [rec(1, 'fail', 'exit=254')]),
                         ('base', 'tdp', [ok1]), ('base', 'tdp', [ok1])],
                contains=['(patched 1 of 2 reruns failed, base 0 of 2)'])
        c.check('flaky on patched only, every rerun on both kernels clean: not a failure, still listed',
                [rec(1, 'pass', FLAKY)], [ok1], {1: 'flaky on patched only, not reproduced in reruns'},
                '0 passed, 0 failed, 1 skipped', 0,
                confirm=[('patched', 'tdp', [ok1]), ('patched', 'tdp', [ok1]),
                         ('base', 'tdp', [ok1]), ('base', 'tdp', [ok1])],
                contains=['flaky on the patched kernel only (passed on a retry, the base first time):'])
        c.check('flaky on patched only, the base fails a rerun too: flaky on both kernels',
                [rec(1, 'pass', FLAKY)], [ok1], {1: 'flaky on both kernels in reruns'},
                '0 passed, 0 failed, 1 skipped', 0,
                confirm=[('patched', 'tdp', [rec(1, 'fail', 'exit=254')]),
                         ('base', 'tdp', [rec(1, 'timeout', TIMEOUT)])])
        c.check('flaky on patched only, reruns of the base missing: still failed',
                [rec(1, 'pass', FLAKY)], [ok1], {1: ('flaky on patched only', True)},
                '0 passed, 1 failed, 0 skipped', 1, confirm=[('patched', 'tdp', [ok1])])
        c.check('a mirror-mode flake is rerun against the base in tdp mode',
                [rec(1, 'pass', FLAKY)], [ok1], {(1, 'mirror'): 'flaky on patched only, again in reruns'},
                '0 passed, 1 failed, 0 skipped', 1, mode='mirror', base_mode='tdp',
                confirm=[('patched', 'mirror', [rec(1, 'pass', FLAKY)]), ('base', 'tdp', [ok1])])
        # What vmrun.py found about a splat or a wedged guest is shown under
        # the row of a failure.
        ev = dict(rec(1, 'hang', HANG), evidence=['sysrq-l cpu 0: kvm_tdp_mmu_map arch/x86/kvm/mmu/tdp_mmu.c:1201'])
        c.check('a hang shows the sysrq backtraces vmrun.py decoded, under its row',
                [ev], [ok1], {1: ('REGRESSION', True)}, '0 passed, 1 failed, 0 skipped', 1,
                contains=['sysrq-l cpu 0: kvm_tdp_mmu_map arch/x86/kvm/mmu/tdp_mmu.c:1201'])
        # A patched-only mode against the base's tdp run.
        c.check('mirror mode is judged against the base tdp run',
                [rec(1, 'fail', 'exit=254'), rec(2, 'fail', 'exit=1'), rec(3, 'fail', 'exit=1', [KASAN]),
                 rec(4, 'pass', 'time=1s')],
                [rec(1, 'pass', 'time=1s'), rec(2, 'fail', 'exit=1'), rec(3, 'fail', 'exit=1'),
                 rec(4, 'pass', 'time=1s')],
                {(1, 'mirror'): ('REGRESSION (base: tdp mode)', True),
                 (2, 'mirror'): ('fails on base too (base: tdp mode)', True),
                 (3, 'mirror'): ('REGRESSION (base: tdp mode)', True),
                 (4, 'mirror'): ('pass', True)},
                '1 passed, 2 failed, 1 skipped', 1, mode='mirror', base_mode='tdp')
        print('1..%d' % c.n)
        return 1 if c.failed else 0


if __name__ == '__main__':
    sys.exit(main())
