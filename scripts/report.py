#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare VM runs of the base and the patched kernel, test by test.

Usage: report.py --patched DIR [DIR...] [--base DIR [DIR...]] [--json FILE]
                 [--confirm DIR...]
  Each DIR holds a results.json from vmrun.py; runs are paired by mode.
  --confirm: reruns, without retries, of the tests that were flaky on the
  patched kernel only, on both kernels (scripts/run.sh makes them).

A mode only the patched kernel runs (mirror) is compared with the base
kernel's run of the mode it extends (tdp).

Outcomes rank pass < skip < fail < timeout = hang < splat (a kernel splat
during the test, whatever the test said).  A base test that did not run
(VM killed or stopped before it) gave no result: it excuses nothing.  A
splat's signature is its first line without time stamp, offsets, addresses,
pids and CPU numbers (see signature()).

Verdict of each (test, mode) on the patched kernel:
  pass                  passed first time, no splat
  pass (fixed)          passed; failed (or hung, or splat) on the base
  pass (flaky: ...)     passed only on a retry (retry:N in the list) and the
                        base gave nothing to compare with (no result, skipped,
                        failed), or needed a retry too ("base: flaky too")
  flaky on patched only passed only on a retry while the base passed first
                        time: counted as failed, listed after the table with
                        what the failed attempts did.  With reruns of the
                        test (--confirm) on both kernels, each without
                        retries: "..., again in reruns" when the patched
                        kernel fails a rerun and the base none (failed);
                        "..., not reproduced in reruns" when every rerun
                        on both passes (counted as skipped, still listed);
                        "flaky on both kernels in reruns" when the base
                        fails one too (skipped)
  skip                  the test skipped itself (reason shown)
  fails on base too     failed on both kernels, and not worse on the patched
                        one (same or lower rank, no new splat signature): not
                        a regression, not a pass; counted as skipped
  REGRESSION            worse than on the base (higher rank), or a splat whose
                        signature the base's run of the test does not show
  FAIL                  failed on the patched kernel, no base result ("base:
                        not run" when the base's VM never got to the test)
"(base: flaky, passed on retry)" follows a verdict when the base needed a
retry, "(base: tdp mode)" one compared with another mode's base run.
A run problem on the patched kernel (VM killed, crash, splat outside any
test) fails the run too.  The last line is "N passed, N failed, N skipped".

--json FILE gets the rows ("verdict" as in the table, "class": pass, fixed,
flaky, flaky-both, flaky-patched-only, skip, fails-on-base-too, regression,
fail; "signature": the first new splat signature, else the first; all
"signatures", "new_signatures" and "base_signatures"), problems and counts.
"""

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmrun import BASE_MODE_OF  # noqa: E402
import scanconsole  # noqa: E402
from kmmu_tap import flaky, load_run, outcome  # noqa: E402

# How bad an outcome is.  A test the patched kernel did not run (its VM was
# killed or stopped before it; that is a run problem of its own) has no
# evidence of passing: it ranks as a failure.  The base's 'notrun' never gets
# a rank: it is no result and is handled before any comparison.
RANK = {'pass': 0, 'skip': 1, 'fail': 2, 'notrun': 2, 'timeout': 3, 'hang': 3, 'splat': 4}

KINDS = {k for k, _ in scanconsole.PATTERNS}
# printk time stamp and caller id ([T123] task, [C1] CPU), as scanconsole.py
# accepts them.
_STAMP = re.compile(r'^(?:\[\s*\d+\.\d+\]\s*)?(?:\[\s*[TC]\d+\]\s*)?')
# (regex, replacement), in order: what differs between two runs of one bug.
_NOISE = [(re.compile(rx, flags), rep) for rx, rep, flags in [
    (r'\+0x[0-9a-f]+/0x[0-9a-f]+', '', 0),            # func+0x1a/0x80
    (r'\[<[0-9a-f]+>\]', '', 0),                       # [<ffffffff81234567>]
    (r'\b0x[0-9a-f]+\b', '', 0),
    (r'\b(?=[0-9a-f]*[0-9])[0-9a-f]{8,}\b', '', 0),    # ffff888003a4b000
    (r'\[#\d+\]', '', 0),                              # Oops count: [#1]
    (r'\b(?:CPU|UID|PID): \d+\s*', '', 0),             # WARNING: CPU: 1 PID: 161 at
    (r'\bCPU#\d+', 'CPU', 0),                          # soft lockup - CPU#0
    (r'\b(on cpu)\s*\d+', r'\1', re.I),                # hard LOCKUP on cpu 1
    (r'\bpid[:=] ?\d+', 'pid', re.I),
    (r'\bComm: \S+\s*', '', 0),
    # The task's pid: "task foo:123 blocked for more than 122 seconds" (the
    # 122 is the hung-task threshold, the same on every run: kept).
    (r'\btask (\S+):\d+(?=\s|$)', r'task \1', 0),
    # comm/pid: "[kvm_page_table_/188]", "by task foo/123".
    (r'(?<=[A-Za-z_.-])/\d+\b(?![\w/.:])', '', 0),
    # Per-CPU kernel threads: kworker/u4:2, ksoftirqd/0.
    (r'\b(kworker|ksoftirqd|migration|cpuhp|rcuc|rcuop|rcuog)/[\w:.+-]*', r'\1', 0),
    (r'\bstuck for \d+s\b', 'stuck', 0),               # soft lockup: time measured
]]


def signature(splat):
    """The signature of one splat of a test record ('KIND: LINE', LINE its
    first console line): LINE without what changes from one run of the same
    bug to the next, so that the base and the patched kernel's runs can be
    compared.  Strips the printk time stamp and [T123]/[C1] caller, the kind
    prefix, function offsets (+0x1a/0x80), hex addresses, the Oops count,
    CPU numbers (CPU: 1, CPU#1, on CPU 1), pids (PID: 161, task foo:123 ->
    task foo, comm/123 -> comm) and per-CPU kernel thread suffixes
    (kworker/u4:2 -> kworker).  Keeps function and file names, source line
    numbers and thresholds such as the N of "blocked for more than N
    seconds".  Line numbers are kept although the series may move a base
    WARN_ON a few lines: a WARN at another line may be another WARN, and a
    false REGRESSION shows both signatures, where a false match would hide
    a new one."""
    kind, sep, text = splat.partition(': ')
    if not sep or kind not in KINDS:
        text = splat
    text = _STAMP.sub('', text.strip())
    for rx, rep in _NOISE:
        text = rx.sub(rep, text)
    return ' '.join(text.split())


def signatures(rec):
    """The distinct splat signatures of a test record, in order."""
    out = []
    for s in (rec or {}).get('splats') or []:
        sig = signature(s)
        if sig not in out:
            out.append(sig)
    return out


def load(dirs):
    """{mode: run} of the results.json in each of DIRS."""
    runs = {}
    for d in dirs or []:
        r = load_run(d)
        runs[r['mode']] = r
    return runs


def short(o):
    return {'pass': 'pass', 'skip': 'skip', 'fail': 'FAIL', 'timeout': 'TIMEOUT', 'hang': 'HANG',
            'notrun': 'not run', 'splat': 'SPLAT', None: '-'}[o]


def first_attempts(detail):
    """What the failed attempts of a flaky pass did, from its detail:
    'time=3s flaky: passed on retry after exit 254' -> 'exit 254'."""
    m = re.search(r'flaky: passed on retry after (.*)', detail or '')
    return m.group(1).strip() if m else (detail or '').strip()


def judge(rec, brec):
    """(verdict, count, class, new signatures) of one patched test record
    against the base's record of the same test (None: no base record)."""
    po, bo = outcome(rec), outcome(brec)
    # The base's failures can excuse a patched failure only when the base
    # gave a result.
    bfailed = bo in ('fail', 'timeout', 'hang', 'splat')
    bresult = bo not in (None, 'notrun')
    if po == 'pass':
        if not flaky(rec):
            return ('pass (fixed)' if bfailed else 'pass'), 'passed', 'fixed' if bfailed else 'pass', []
        if flaky(brec):
            # Both kernels needed a retry in the same run: the environment
            # (TCG on a busy host), not the patch.
            return 'pass (flaky: passed on retry, base: flaky too)', 'passed', 'flaky-both', []
        if bo == 'pass':
            # The base passed first time, the patched kernel only on a retry:
            # how a race the series adds shows up under TCG.  Not a pass.
            return 'flaky on patched only', 'failed', 'flaky-patched-only', []
        # No base result, or one that says nothing about timing (skip) or is
        # worse (fail): flag the retry, count the pass.
        return ('pass (fixed) (flaky: passed on retry)' if bfailed else
                'pass (flaky: passed on retry)'), 'passed', 'flaky', []
    if po == 'skip':
        return 'skip: ' + (rec['detail'] or '').replace('SKIP', '').strip(), 'skipped', 'skip', []
    new = [s for s in signatures(rec) if s not in signatures(brec)]
    if not bresult:
        # Nothing to compare with: a failure, not a regression.
        return 'FAIL', 'failed', 'fail', new
    if new or RANK[po] > RANK[bo]:
        # A splat the base does not show is a new bug whatever the base did
        # (a test failing on the base must not hide a KASAN report), and an
        # outcome worse than the base's (fail -> timeout/hang) is one too.
        return 'REGRESSION', 'failed', 'regression', new
    # Same rank (both fail, both timeout/hang, both splat with no new
    # signature), or better than the base without passing (base timeout,
    # patched fail: the test now ends and reports).  The base shows the test
    # cannot pass there either, so this run has no baseline to call the
    # patched result a regression against; what the patched kernel did is
    # no worse.  Not a pass: counted as skipped, both outcomes in the table.
    return 'fails on base too', 'skipped', 'fails-on-base-too', new


def clean_first_time(rec):
    """A rerun that passed at its first attempt, with no splat."""
    return outcome(rec) == 'pass' and not flaky(rec)


def confirm(confirm_runs, key, mode, base_mode):
    """(verdict, count, class) of a test flaky on the patched kernel only,
    from its reruns on both kernels; None when there are none for it."""
    def recs(label, m):
        return [t for r in confirm_runs if r['label'] == label and r['mode'] == m
                for t in r['tests'] if t['key'] == key]
    pc, bc = recs('patched', mode), recs('base', base_mode)
    if not pc or not bc:
        return None
    pbad = sum(not clean_first_time(t) for t in pc)
    bbad = sum(not clean_first_time(t) for t in bc)
    tally = '(patched %d of %d reruns failed, base %d of %d)' % (pbad, len(pc), bbad, len(bc))
    if bbad:
        # The base fails it too when run again: the test or the host, not
        # the series.
        return 'flaky on both kernels in reruns ' + tally, 'skipped', 'flaky-both-reruns'
    if pbad:
        return 'flaky on patched only, again in reruns ' + tally, 'failed', 'flaky-patched-only'
    # Every rerun passed first time on both kernels: one flake in this run
    # that did not come back.  Not a pass (it stays listed after the table),
    # not a failure either.
    return 'flaky on patched only, not reproduced in reruns ' + tally, 'skipped', 'flaky-not-reproduced'


# The mark a verdict class puts in its cell of the table (upper case: counted
# as failed); the full verdict is under the table.
MARK = {'pass': '', 'skip': '', 'fixed': 'fixed', 'flaky': 'flaky', 'flaky-both': 'flaky',
        'flaky-patched-only': 'FLAKY', 'flaky-not-reproduced': 'flaky',
        'flaky-both-reruns': 'flaky', 'fails-on-base-too': 'base too',
        'regression': 'REGRESSION', 'fail': 'FAIL'}
ARROW = '\u2192'


def secs_delta(r):
    """The patched time minus the base's, '+2.1 s', or '' without both."""
    b, p = r['base_secs'], r['patched_secs']
    if b is None or p is None:
        return ''
    d = p - b
    return ('%+.0f s' if abs(d) >= 10 else '%+.1f s') % d


def cell(r):
    """A row's cell of the pivoted table: 'base -> patched  +1.2 s  mark';
    a base outcome reused from the cache has a '*'."""
    parts = ['%s%s %s %s' % (r['base'], '*' if r['base_reused'] else '', ARROW, r['patched'])]
    for x in (secs_delta(r), r['mark']):
        if x:
            parts.append(x)
    return '  '.join(parts)


def pivot(rows):
    """(tests in first-seen order, modes in first-seen order, {(test, mode): row})."""
    tests, modes, by = [], [], {}
    for r in rows:
        if r['test'] not in tests:
            tests.append(r['test'])
        if r['mode'] not in modes:
            modes.append(r['mode'])
        by[(r['test'], r['mode'])] = r
    return tests, modes, by


def reused_note(reused, nreused, total):
    return ('* base: reused from %s (the base result cache, for %d of %d results: same base '
            'kernel, initramfs, list line, mode and accelerator; KMMU_FRESH=1 runs them again)'
            % (', '.join(reused) or 'an earlier run', nreused, total))


def print_pivot(rows, reused, nreused):
    """One row per test, one column per mode, each cell base -> patched."""
    tests, modes, by = pivot(rows)
    w = min(max([len(t) for t in tests] + [4]), 64)
    cells = {k: cell(r) for k, r in by.items()}
    cw = {m: max([len(m)] + [len(cells[(t, m)]) for t in tests if (t, m) in cells]) for m in modes}
    print('  '.join(['%-*s' % (w, 'test')] + ['%-*s' % (cw[m], m) for m in modes]).rstrip())
    print('  '.join(['-' * w] + ['-' * cw[m] for m in modes]))
    for t in tests:
        name = t if len(t) <= w else t[:w - 3] + '...'
        print('  '.join(['%-*s' % (w, name)] + ['%-*s' % (cw[m], cells.get((t, m), ''))
                                                 for m in modes]).rstrip())
    if nreused:
        print(reused_note(reused, nreused, len(rows)))


def print_details(rows):
    """The rows whose verdict is not a plain pass, a line each with their
    verdict, then for failures what explains them."""
    w = min(max([len(r['test']) for r in rows] + [4]), 64)
    print('%-*s  %-10s  %-8s  %-8s  %s' % (w, 'test', 'mode', 'base', 'patched', 'verdict'))
    print('%s  %s  %s  %s  %s' % ('-' * w, '-' * 10, '-' * 8, '-' * 8, '-' * 20))
    for r in rows:
        t = r['test'] if len(r['test']) <= w else r['test'][:w - 3] + '...'
        secs = ''
        if r['base_secs'] is not None or r['patched_secs'] is not None:
            secs = '  [%ss / %ss]' % (r['base_secs'] if r['base_secs'] is not None else '-',
                                      r['patched_secs'] if r['patched_secs'] is not None else '-')
        print('%-*s  %-10s  %-8s  %-8s  %s%s' % (w, t, r['mode'], r['base'], r['patched'],
                                              r['verdict'], secs))
        for line in evidence_lines(r):
            print('%*s  %s' % (w, '', line))


def evidence_lines(r):
    """What explains a failed row: its note, the splat as the console printed
    it and what the base showed, a killed test's threads, the evidence
    vmrun.py gathered, the test's last lines."""
    out = []
    if r['count'] != 'failed':
        return out
    if r['note']:
        out.append(r['note'][:150])
    # The splat as the console printed it (offsets for addr2line), and
    # what the base showed instead: a source line moved by the series
    # gives a new signature, and this is where one sees it.
    if r['splat']:
        out.append('console: ' + r['splat'][:150])
        out += ['base splat: ' + x[:150] for x in r['base_splat_signatures'][:3]]
    # A timeout: what each of the killed test's threads was doing.
    out += ['thread ' + th[:150] for th in (r['threads'].split('; ') if r['threads'] else [])]
    # Each splat with its top frames as file:line, and for a guest the
    # host found wedged, the sysrq backtraces it asked for (vmrun.py).
    out += [e[:200] for e in r['evidence'][:12]]
    # The test's last lines (its assertion message): CI logs keep only
    # this output, not the results directory.
    out += ['| ' + x.rstrip()[:150] for x in r['tail'][-8:]]
    return out


def md_escape(text):
    return text.replace('\\', '\\\\').replace('|', '\\|').replace('`', "'")


def markdown(rows, problems, counts, accel, reused, nreused):
    """The report as Markdown: the pivoted table, then the verdicts other
    than pass with the evidence of the failures (cover letters take the table)."""
    tests, modes, by = pivot(rows)
    out = ['# KVM MMU series: base %s patched' % ARROW, '']
    if accel:
        out += ['Accelerator: **%s** (`-cpu %s`), guest CPU %s; host CPU %s (%s).' % (
            accel['accel'], accel['cpu'], accel['guest'], accel['host'], accel['why']), '']
    out += ['**%d passed, %d failed, %d skipped**%s' % (
        counts['passed'], counts['failed'], counts['skipped'],
        ' (run problems: %d)' % len(problems) if problems else ''), '']
    out.append('| test | ' + ' | '.join(modes) + ' |')
    out.append('|---|' + '---|' * len(modes))
    for t in tests:
        out.append('| `%s` | %s |' % (md_escape(t), ' | '.join(
            md_escape(cell(by[(t, m)])) if (t, m) in by else '' for m in modes)))
    if nreused:
        out += ['', '\\' + md_escape(reused_note(reused, nreused, len(rows)))]
    details = [r for r in rows if r['verdict'] != 'pass']
    if details:
        out += ['', '## Verdicts other than pass', '']
        for r in details:
            out.append('- `%s` (%s): **%s**; base %s, patched %s' % (
                md_escape(r['test']), r['mode'], md_escape(r['verdict']), r['base'], r['patched']))
            ev = evidence_lines(r)
            if ev:
                out += ['', '  ```'] + ['  ' + x for x in ev] + ['  ```', '']
    if problems:
        out += ['', '## Run problems', ''] + ['- ' + md_escape(p) for p in problems]
    return '\n'.join(out) + '\n'


_XML_BAD = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f]')


def junit(rows, problems, accel):
    """The verdicts as JUnit XML, as Jenkins and GitLab read it: a testsuite
    per mode, a testcase per test (classname kvm-mmu.<mode>, time the patched
    kernel's); counted failed: <failure>, counted skipped: <skipped>, with
    the verdict as message and the evidence as text.  Run problems are
    failed testcases of a suite "run"."""
    import xml.etree.ElementTree as ET

    def clean(x):
        return _XML_BAD.sub('?', x)
    top = ET.Element('testsuites', name='kvm-mmu-series')
    suites = {}
    for r in rows:
        if r['mode'] not in suites:
            suites[r['mode']] = ET.SubElement(top, 'testsuite', name=r['mode'])
            if accel:
                props = ET.SubElement(suites[r['mode']], 'properties')
                for k in ('accel', 'cpu', 'guest', 'host'):
                    ET.SubElement(props, 'property', name=k, value=clean(str(accel[k])))
        tc = ET.SubElement(suites[r['mode']], 'testcase', classname='kvm-mmu.' + r['mode'],
                           name=clean(r['test']), time='%.1f' % (r['patched_secs'] or 0))
        if r['count'] == 'failed':
            f = ET.SubElement(tc, 'failure', message=clean(r['verdict']), type=r['class'])
            f.text = clean('\n'.join(evidence_lines(r)))
        elif r['count'] == 'skipped':
            ET.SubElement(tc, 'skipped', message=clean(r['verdict']))
        so = ET.SubElement(tc, 'system-out')
        so.text = clean('base %s%s, patched %s; %s' % (r['base'], ' (reused from %s)' % r['base_reused']
                                                        if r['base_reused'] else '', r['patched'],
                                                        r['verdict']))
    if problems:
        s = ET.SubElement(top, 'testsuite', name='run')
        for n, prob in enumerate(problems, 1):
            tc = ET.SubElement(s, 'testcase', classname='kvm-mmu.run', name='run problem %d' % n)
            ET.SubElement(tc, 'failure', message=clean(prob[:200]), type='run-problem').text = clean(prob)
    total = {'tests': 0, 'failures': 0, 'skipped': 0, 'time': 0.0}
    for s in top:
        cases = s.findall('testcase')
        n = {'tests': len(cases), 'failures': sum(1 for c in cases if c.find('failure') is not None),
             'skipped': sum(1 for c in cases if c.find('skipped') is not None),
             'time': sum(float(c.get('time') or 0) for c in cases)}
        for k, v in n.items():
            s.set(k, '%.1f' % v if k == 'time' else str(v))
            total[k] += v
        s.set('errors', '0')
    for k, v in total.items():
        top.set(k, '%.1f' % v if k == 'time' else str(v))
    top.set('errors', '0')
    ET.indent(top)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(top, encoding='unicode') + '\n'


def write_file(path, text):
    """Write PATH whole (a new file renamed over the old one): a run that
    stops half way leaves the last complete report."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--patched', nargs='+', required=True)
    p.add_argument('--base', nargs='*')
    p.add_argument('--json')
    p.add_argument('--confirm', nargs='*', default=[])
    p.add_argument('--markdown', metavar='FILE', help='the report in Markdown (out/results/report.md)')
    p.add_argument('--junit', metavar='FILE', help='the verdicts as JUnit XML (out/results/junit.xml)')
    a = p.parse_args()
    patched, base = load(a.patched), load(a.base)
    confirm_runs = []
    for d in a.confirm:
        confirm_runs.append(load_run(d))
    rows, counts, problems = [], {'passed': 0, 'failed': 0, 'skipped': 0}, []
    for mode, prun in patched.items():
        brun = base.get(mode)
        base_note = ''
        if not brun and base.get(BASE_MODE_OF.get(mode)):
            # A patched-only mode (e.g. mirror): the base ran its parent mode.
            brun = base[BASE_MODE_OF[mode]]
            base_note = ' (base: %s mode)' % BASE_MODE_OF[mode]
        bidx = {(r['id'], r['key']): r for r in brun['tests']} if brun else {}
        for rec in prun['tests']:
            po = outcome(rec)
            brec = bidx.get((rec['id'], rec['key']))
            bo = outcome(brec)
            verdict, c, cls, new = judge(rec, brec)
            if cls == 'flaky-patched-only':
                v = confirm(confirm_runs, rec['key'], mode, BASE_MODE_OF[mode] if base_note else mode)
                if v:
                    verdict, c, cls = v
            if bo == 'notrun':
                verdict += ' (base: not run)'
            elif flaky(brec) and cls != 'flaky-both':
                # The base needed a retry too: the environment, not the patch.
                verdict += ' (base: flaky, passed on retry)'
            if brec and c != 'passed':
                verdict += base_note
            counts[c] += 1
            sigs = signatures(rec)
            note, splat, bsigs = '', '', []
            if c != 'passed' and po != 'skip':
                if rec['splats']:
                    # Show the first splat the base does not have, if any.
                    shown = new[0] if new else sigs[0]
                    splat = next(s for s in rec['splats'] if signature(s) == shown)
                    note = '%s: %s' % ('new splat' if cls == 'regression' and new else 'splat', shown)
                    bsigs = signatures(brec)
                else:
                    note = rec['detail'] or ''
            rows.append({'test': rec['key'], 'mode': mode, 'base': short(bo), 'patched': short(po),
                         'verdict': verdict, 'class': cls, 'count': c, 'note': note,
                         'signature': (new or sigs or [None])[0], 'signatures': sigs,
                         'new_signatures': new, 'base_signatures': signatures(brec),
                         'splat': splat, 'base_splat_signatures': bsigs,
                         'first_attempts': first_attempts(rec['detail']) if flaky(rec) else '',
                         'tail': rec.get('output_tail') or [] if c == 'failed' else [],
                         'threads': rec.get('threads') or '' if c == 'failed' else '',
                         'evidence': rec.get('evidence') or [] if c == 'failed' else [],
                         'base_secs': brec.get('secs') if brec else None, 'patched_secs': rec.get('secs'),
                         'base_reused': (brec or {}).get('reused'), 'mark': MARK[cls]})
        for prob in prun['problems']:
            problems.append('%s (%s): %s' % (prun['label'], mode, prob))
        for r in (brun, prun):
            # A host busier than its CPUs makes TCG timing races likelier:
            # say so next to the results it may explain.
            if r and r.get('host_load') and max(r['host_load']) > r.get('host_cpus', 2):
                print('note: %s kernel (%s): host load average %.1f at start, %.1f at end (%d CPUs)'
                      % (r['label'], mode, r['host_load'][0], r['host_load'][1], r['host_cpus']))
        if brun and not base_note:
            for prob in brun['problems']:
                print('note: base kernel (%s): %s' % (mode, prob))

    accel = next((r.get('accel') for r in list(patched.values()) + list(base.values())
                  if r.get('accel')), None)
    reused = sorted({d for r in base.values() for d in r.get('reused_from') or []})
    nreused = sum(1 for r in rows if r['base_reused'])
    if accel:
        print('accelerator: %s (-cpu %s), guest CPU %s; host CPU %s; %s' % (
            accel['accel'], accel['cpu'], accel['guest'], accel['host'], accel['why']))
    print_pivot(rows, reused, nreused)
    details = [r for r in rows if r['verdict'] != 'pass']
    if details:
        print()
        print('Verdicts other than pass, failures with their evidence:')
        print_details(details)
    flakes = [r for r in rows if r['class'] in ('flaky-patched-only', 'flaky-not-reproduced',
                                                 'flaky-both-reruns')]
    if flakes:
        # Apart from the table: these look like passes in it, and each is a
        # possible race to rerun (ONLY=...) before the series goes out.
        print()
        print('flaky on the patched kernel only (passed on a retry, the base first time):')
        fw = max(len(r['test']) for r in flakes)
        for r in flakes:
            print('  %-*s  %-10s  before the pass: %s%s' % (
                fw, r['test'], r['mode'], r['first_attempts'][:150],
                '; ' + r['verdict'] if r['verdict'] != 'flaky on patched only' else ''))
    for prob in problems:
        print('RUN FAILED: %s' % prob)
        counts['failed'] += 1
    unwritten = []
    for path, make in ((a.json, lambda: json.dumps({'rows': rows, 'problems': problems, 'counts': counts,
                                                    'accel': accel, 'base_reused_from': reused}, indent=1)),
                       (a.markdown, lambda: markdown(rows, problems, counts, accel, reused, nreused)),
                       (a.junit, lambda: junit(rows, problems, accel))):
        if path:
            try:
                write_file(path, make())
            except OSError as e:
                unwritten.append('%s: %s' % (path, e.strerror or e))
    for u in unwritten:
        print('error: cannot write %s' % u)
    print('%d passed, %d failed, %d skipped' % (counts['passed'], counts['failed'], counts['skipped']))
    return 1 if counts['failed'] or unwritten else 0


if __name__ == '__main__':
    sys.exit(main())
