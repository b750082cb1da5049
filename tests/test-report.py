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
import re
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


def pivot_cell(out, i, mode='tdp'):
    """The cell of test i in mode's column of the pivoted table (one row per
    test, one column per mode), None when there is none.  Columns are cut
    where the header puts them."""
    lines = out.splitlines()
    n = next((k for k, x in enumerate(lines) if x.startswith('test ') and
              not x.rstrip().endswith('verdict') and k + 1 < len(lines) and
              lines[k + 1].startswith('----')), None)
    if n is None:
        return None
    head = lines[n]
    cols = [m.start() for m in re.finditer(r'(?<=  )\S', head)]
    names = head.split()[1:]
    if mode not in names:
        return None
    c = names.index(mode)
    start, end = cols[c], (cols[c + 1] if c + 1 < len(cols) else None)
    key = 'test%d -a' % i
    for line in lines[n + 2:]:
        if not line.strip() or line.startswith('* base'):
            break
        if line[:cols[0]].rstrip() == key:
            text = line[start:end].strip()
            return text or None
    return None


def verdict_of(out, i, mode='tdp'):
    """The verdict of test i in mode (without the seconds): from the lines
    under the table, which name every verdict other than a plain pass, else
    'pass' when the table has a cell for it with no mark; None when it has
    none.  Columns are cut where the header puts them: a base column of 'not
    run' has a space in it."""
    lines = out.splitlines()
    head = next((x for x in lines if x.startswith('test ') and x.rstrip().endswith('verdict')), None)
    key = 'test%d -a' % i
    if head is not None:
        mcol, vcol = head.index(' mode') + 1, head.index(' verdict') + 1
        for line in lines:
            if line[:mcol].rstrip() == key and line[mcol:].split()[:1] == [mode]:
                return line[vcol:].split('  [')[0].rstrip()
    c = pivot_cell(out, i, mode)
    if c is None:
        return None
    return 'pass' if re.fullmatch(r'pass\*? \u2192 pass(  [+-][\d.]+ s)?', c) else 'cell %r' % c


def last_line(out):
    lines = out.rstrip('\n').splitlines()
    return lines[-1] if lines else ''


class Checker:
    def __init__(self, tmp):
        self.tmp, self.n, self.failed = tmp, 0, 0

    def ok(self, desc, why, out=''):
        """A check of its own: WHY lists what is wrong (empty: ok)."""
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


def run_modes(tmp, runs, extra=()):
    """report.py on runs [(label, mode, tests, run extras)], with --json,
    --markdown and --junit; returns (exit status, output, {name: file text})."""
    tmp = tempfile.mkdtemp(dir=tmp)
    args = [sys.executable, REPORT]
    dirs = {'patched': [], 'base': []}
    for n, (label, m, tests, more) in enumerate(runs):
        d = os.path.join(tmp, '%s-%s-%d' % (label, m, n))
        os.makedirs(d)
        r = {'label': label, 'mode': m, 'kernel': '/k/' + label, 'tests': tests,
             'boots': [], 'problems': [], 'host_load': [0.5, 0.5], 'host_cpus': 2}
        r.update(more)
        with open(os.path.join(d, 'results.json'), 'w') as f:
            json.dump(r, f)
        dirs[label].append(d)
    args += ['--patched'] + dirs['patched']
    if dirs['base']:
        args += ['--base'] + dirs['base']
    files = {'json': 'report.json', 'markdown': 'report.md', 'junit': 'junit.xml'}
    for opt, name in files.items():
        args += ['--' + opt, os.path.join(tmp, 'out', name)]
    env = dict(os.environ, PYTHONPATH=SCRIPTS + os.pathsep + os.environ.get('PYTHONPATH', ''))
    p = subprocess.run(args + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    got = {}
    for name in files.values():
        path = os.path.join(tmp, 'out', name)
        if os.path.exists(path):
            with open(path, encoding='utf-8') as f:
                got[name] = f.read()
    return p.returncode, p.stdout, got


def timed(i, status, secs, detail='', **kw):
    r = rec(i, status, detail or ('time=%ss' % secs if status == 'pass' else 'exit=1'), tail=kw.pop('tail', ()))
    r['secs'] = secs
    r.update(kw)
    return r


ACCEL = {'accel': 'tcg', 'cpu': 'max', 'features': ['svm'], 'host': 'Intel',
         'guest': 'AMD (emulated by QEMU TCG, -cpu max: SVM with nested paging)',
         'why': 'no usable KVM: no /dev/kvm', 'timeout_divisor': 1}


def junit_problems(xml_text, counts):
    """What is wrong with a JUnit file against the report's counts, or ''."""
    import xml.etree.ElementTree as ET
    try:
        top = ET.fromstring(xml_text)
    except ET.ParseError as e:
        return 'not well-formed XML: %s' % e
    if top.tag != 'testsuites':
        return 'root <%s>, want <testsuites>' % top.tag
    cases = top.findall('testsuite/testcase')
    fails = [c for c in cases if c.find('failure') is not None]
    skips = [c for c in cases if c.find('skipped') is not None]
    want = (counts['passed'] + counts['failed'] + counts['skipped'], counts['failed'], counts['skipped'])
    got = (len(cases), len(fails), len(skips))
    if got != want:
        return 'testcases/failures/skipped %s, want %s' % (got, want)
    attrs = tuple(int(top.get(k, -1)) for k in ('tests', 'failures', 'skipped'))
    if attrs != want:
        return 'testsuites attributes %s, want %s' % (attrs, want)
    for s in top.findall('testsuite'):
        n = len(s.findall('testcase'))
        if int(s.get('tests', -1)) != n:
            return 'suite %s says tests=%s, has %d' % (s.get('name'), s.get('tests'), n)
    return ''


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


def report_files(c):
    """The pivoted table, report.md and junit.xml: what a reader and a CI
    system see of the verdicts above."""
    runs = [('patched', 'tdp', [timed(1, 'pass', 3.5), timed(2, 'fail', 2.0, tail=['x.c:9: boom\x1b[0m'])], {'accel': ACCEL}),
            ('base', 'tdp', [timed(1, 'pass', 1.0), timed(2, 'pass', 1.5)], {'accel': ACCEL}),
            ('patched', 'shadow-mmu', [timed(1, 'pass', 20.0), timed(3, 'fail', 1.0)], {}),
            ('base', 'shadow-mmu', [timed(1, 'fail', 40.0), timed(3, 'fail', 1.0)], {})]
    rc, out, files = run_modes(c.tmp, runs)
    want = {(1, 'tdp'): 'pass \u2192 pass  +2.5 s',
            (1, 'shadow-mmu'): 'FAIL \u2192 pass  -20 s  fixed',
            (2, 'tdp'): 'pass \u2192 FAIL  +0.5 s  REGRESSION',
            (2, 'shadow-mmu'): None,
            (3, 'tdp'): None,
            (3, 'shadow-mmu'): 'FAIL \u2192 FAIL  +0.0 s  base too'}
    why = ['test%d %s: cell %r, want %r' % (i, m, pivot_cell(out, i, m), w)
           for (i, m), w in want.items() if pivot_cell(out, i, m) != w]
    rows = [x for x in out.splitlines() if x.startswith('test') and x[4:5].isdigit() and '\u2192' in x]
    if len(rows) != 3:
        why.append('%d table rows with a cell, want 3 (one per test)' % len(rows))
    c.ok('the table: one row per test, a column per mode, each cell base -> patched, time '
         'difference, the verdict\'s mark; failures and evidence under it', why +
         ([] if '| x.c:9: boom' in out else ['no evidence line under the table']), out)
    c.ok('the report names the accelerator and the CPUs',
         [] if any(x.startswith('accelerator: tcg (-cpu max), guest CPU AMD (emulated') and 'host CPU Intel'
                   in x for x in out.splitlines()) else ['no accelerator line'], out)
    md = files.get('report.md', '')
    why = [] if md else ['no report.md']
    for line in ('| test | tdp | shadow-mmu |', '| `test1 -a` | pass \u2192 pass  +2.5 s | FAIL \u2192 pass  -20 s  fixed |',
                 '| `test3 -a` |  | FAIL \u2192 FAIL  +0.0 s  base too |', '## Verdicts other than pass',
                 '- `test2 -a` (tdp): **REGRESSION**; base pass, patched FAIL', '  | x.c:9: boom\x1b[0m'):
        if line not in md.splitlines():
            why.append('report.md has no line %r' % line)
    c.ok('report.md: the same table in Markdown, the verdicts and evidence under it', why, md)
    counts = {'passed': 2, 'failed': 1, 'skipped': 1}
    problem = junit_problems(files.get('junit.xml', ''), counts)
    c.ok('junit.xml: well-formed (a console escape character in the evidence too), a testcase per '
         'row, failures and skips as the report counts them', [problem] if problem else [],
         files.get('junit.xml', ''))
    # A check that can fail: the same checker on a JUnit file whose counts
    # do not match, and on one that is not XML.
    bad = files.get('junit.xml', '').replace('<skipped', '<failure', 1)
    c.ok('the JUnit check itself catches a file that does not match the report, and broken XML',
         [] if junit_problems(bad, counts) and junit_problems('<testsuites>', counts) else
         ['a wrong JUnit file passed the check'])
    # A base result reused from the cache: marked, and the table says from when.
    runs = [('patched', 'tdp', [timed(1, 'pass', 2.0)], {}),
            ('base', 'tdp', [timed(1, 'pass', 1.0, reused='2026-12-01 10:00 UTC')],
             {'reused': 1, 'reused_from': ['2026-12-01 10:00 UTC']})]
    rc, out, files = run_modes(c.tmp, runs)
    why = []
    if pivot_cell(out, 1) != 'pass* \u2192 pass  +1.0 s':
        why.append('cell %r' % pivot_cell(out, 1))
    if not any(x.startswith('* base: reused from 2026-12-01 10:00 UTC') for x in out.splitlines()):
        why.append('no "* base: reused from" line')
    if '* base: reused from 2026-12-01 10:00 UTC' not in files.get('report.md', ''):
        why.append('report.md does not say it')
    c.ok('a base result reused from the cache is marked in the table, with its date', why, out)
    # Writing the reports does not lose what was there when it cannot finish.
    tmp = tempfile.mkdtemp(dir=c.tmp)
    blocker = os.path.join(tmp, 'file')
    open(blocker, 'w').write('x')
    rc, out, files = run_modes(c.tmp, runs[:1], ['--markdown', os.path.join(blocker, 'report.md')])
    why = [] if rc != 0 else ['exit 0']
    if not any(x.startswith('error: cannot write %s: ' % os.path.join(blocker, 'report.md'))
               for x in out.splitlines()):
        why.append('no "error: cannot write" line naming it')
    if last_line(out) != '1 passed, 0 failed, 0 skipped' or 'junit.xml' not in files:
        why.append('the verdicts or the other files are lost')
    c.ok('a report file that cannot be written is an error that names it; the rest is written', why, out)


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
        report_files(c)
        print('1..%d' % c.n)
        return 1 if c.failed else 0


if __name__ == '__main__':
    sys.exit(main())
