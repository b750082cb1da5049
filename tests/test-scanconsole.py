#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check scripts/scanconsole.py against the recorded logs in console-logs/.

console-logs/EXPECTED says, per log, which kinds of finding the scanner must
report, in order, and which test the first one belongs to.  Prints TAP.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'scripts'))
import scanconsole  # noqa: E402


def main():
    cases = []
    with open(os.path.join(HERE, 'console-logs', 'EXPECTED')) as f:
        for line in f:
            if line.startswith('#') or not line.strip():
                continue
            name, kinds, test = line.split(None, 2)
            cases.append((name, [] if kinds == 'clean' else kinds.split(','), test.strip()))
    listed = {c[0] for c in cases}
    on_disk = {n for n in os.listdir(os.path.join(HERE, 'console-logs')) if n.endswith('.log')}
    print('TAP version 13')
    print('1..%d' % (len(cases) + 1))
    failed = 0
    for n, (name, kinds, test) in enumerate(cases, 1):
        found = scanconsole.scan_file(os.path.join(HERE, 'console-logs', name))
        got_kinds = [f['kind'] for f in found]
        got_test = (found[0]['test'] or '-') if found else '-'
        ok = got_kinds == kinds and got_test == test
        failed += not ok
        print('%s %d scan %s%s' % ('ok' if ok else 'not ok', n, name,
                                   '' if ok else ' # got %s in %s, want %s in %s' % (
                                       got_kinds or 'clean', got_test, kinds or 'clean', test)))
    ok = listed == on_disk
    failed += not ok
    print('%s %d every recorded log has an expectation%s' % (
        'ok' if ok else 'not ok', len(cases) + 1,
        '' if ok else ' # unlisted: %s' % sorted(on_disk - listed)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
