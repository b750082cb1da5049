#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare VM runs of the base and the patched kernel, test by test.

Usage: report.py --patched DIR [DIR...] [--base DIR [DIR...]] [--json FILE]
  Each DIR holds a results.json from vmrun.py; runs are paired by mode.

A mode only the patched kernel runs (mirror) is compared with the base
kernel's run of the mode it extends (tdp).

Verdict of each (test, mode) on the patched kernel:
  pass                  passed, no splat
  pass (fixed)          passed; failed on the base
  ... (flaky: ...)      a test the list allows a retry (retry:N) failed first and
                        then passed; the table says so
  skip                  the test skipped itself (reason shown)
  fails on base too     failed (or hung, or splat) on both kernels: not a
                        regression, not a pass; counted as skipped
  REGRESSION            failed on the patched kernel, passed on the base
  FAIL                  failed on the patched kernel, no base result
A run problem on the patched kernel (VM killed, crash, splat outside any
test) fails the run too.  The last line is "N passed, N failed, N skipped".
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmrun import BASE_MODE_OF  # noqa: E402


def load(dirs):
    runs = {}
    for d in dirs or []:
        p = os.path.join(d, 'results.json')
        if not os.path.exists(p):
            raise SystemExit('error: no results in %s (did the VM run start?)' % d)
        with open(p) as f:
            r = json.load(f)
        runs[r['mode']] = r
    return runs


def outcome(rec):
    if rec is None:
        return None
    if rec['splats']:
        return 'splat'
    return rec['status']


def short(o):
    return {'pass': 'pass', 'skip': 'skip', 'fail': 'FAIL', 'timeout': 'TIMEOUT', 'hang': 'HANG',
            'notrun': 'not run', 'splat': 'SPLAT', None: '-'}[o]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--patched', nargs='+', required=True)
    p.add_argument('--base', nargs='*')
    p.add_argument('--json')
    a = p.parse_args()
    patched, base = load(a.patched), load(a.base)
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
            if po == 'pass':
                verdict, c = ('pass (fixed)' if bo not in (None, 'pass', 'skip') else 'pass'), 'passed'
                if 'flaky' in (rec['detail'] or ''):
                    verdict += ' (flaky: passed on retry)'
            elif po == 'skip':
                verdict, c = 'skip: ' + (rec['detail'] or '').replace('SKIP', '').strip(), 'skipped'
            elif bo in ('fail', 'timeout', 'hang', 'splat', 'notrun'):
                verdict, c = 'fails on base too', 'skipped'
            elif bo is None:
                verdict, c = 'FAIL', 'failed'
            else:
                verdict, c = 'REGRESSION', 'failed'
            if brec and 'flaky' in (brec['detail'] or ''):
                # The base needed a retry too: the environment, not the patch.
                verdict += ' (base: flaky, passed on retry)'
            if brec and c != 'passed':
                verdict += base_note
            counts[c] += 1
            note = ''
            if c != 'passed' and po != 'skip':
                note = rec['splats'][0] if rec['splats'] else (rec['detail'] or '')
            rows.append({'test': rec['key'], 'mode': mode, 'base': short(bo), 'patched': short(po),
                         'verdict': verdict, 'count': c, 'note': note,
                         'tail': rec.get('output_tail') or [] if c == 'failed' else [],
                         'threads': rec.get('threads') or '' if c == 'failed' else '',
                         'base_secs': brec.get('secs') if brec else None, 'patched_secs': rec.get('secs')})
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

    w = max([len(r['test']) for r in rows] + [4])
    w = min(w, 64)
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
        if r['note'] and r['count'] == 'failed':
            print('%*s  %s' % (w, '', r['note'][:150]))
        # A timeout: what each of the killed test's threads was doing.
        for th in r['threads'].split('; ') if r['threads'] else []:
            print('%*s  thread %s' % (w, '', th[:150]))
        # The test's last lines (its assertion message): CI logs keep only
        # this output, not the results directory.
        for line in r['tail'][-8:]:
            print('%*s  | %s' % (w, '', line.rstrip()[:150]))
    for prob in problems:
        print('RUN FAILED: %s' % prob)
        counts['failed'] += 1
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'rows': rows, 'problems': problems, 'counts': counts}, f, indent=1)
    print('%d passed, %d failed, %d skipped' % (counts['passed'], counts['failed'], counts['skipped']))
    return 1 if counts['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
