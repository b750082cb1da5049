#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""KCSAN reports on the base and the patched kernel's consoles, compared by
signature (make kcsan, scripts/kcsan.sh).

Usage: kcsan_reports.py --base PATH... --patched PATH...
  PATH: a console log, or a vmrun.py run directory (its console-g*.log,
  reboots included).

A report starts with a header line, as kernel/kcsan/report.c prints it:

  BUG: KCSAN: data-race in f / g              both accesses known (%ps:
                                              no offsets, sorted by name)
  BUG: KCSAN: data-race in f+0x12/0x34        one access known; the body says
                                              "race at unknown origin, with ..."
  BUG: KCSAN: assert: race in f / g           an ASSERT_EXCLUSIVE_*() failed

and ends with "Reported by Kernel Concurrency Sanitizer on:", the CPU and
hardware lines and a row of '='.  Its signature is the kind and the pair of
function names: offsets, a " [module]" and gcc's clone suffixes (.isra.0,
.constprop.0, .part.0, .cold) removed, the two names sorted, so that the
same race in two builds, or with its two sides seen in the other order,
has one signature.  A report with one known function has the signature
"KIND in f / (unknown origin)", or "KIND in f / ?" when its header was cut
(a VM killed in the middle of the report); a header that is not of these
forms keeps its text (addresses and offsets removed) as "unparsed: ...".

The verdict: a signature the patched kernel shows and the base does not is
new, a regression ("not ok").  A one-function signature (unknown origin or
cut) is not new when any base report names that function: the base run may
have caught the other side of the same race.  A pair is new even when the
base only showed one of its functions without the other: the other side may
be what the series added.  The KCSAN runtime must have been on in every boot
("kcsan: enabled early" in each console log), or no report proves nothing.

Prints TAP: a line per kernel for the runtime check, one per signature seen
on the patched kernel (ok: the base shows it too; not ok: new), one "ok"
when the patched kernel shows none, the base-only signatures and the counts
as comments, and last a line "KCSAN reports: N on base, N on patched, N new
signatures".  Exit status 1 when any line is "not ok".
"""

import argparse
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scanconsole  # noqa: E402

_P = scanconsole._PREFIX
_HEADER = re.compile(_P + r'BUG: KCSAN: (.*?)\s*$')
_KIND = re.compile(r'^(data-race|assert: race) in (.*)$')
_UNKNOWN = re.compile(_P + r'race at unknown origin, with ')
_REPORTED = re.compile(_P + r'Reported by Kernel Concurrency Sanitizer on:')
_RULE = re.compile(_P + r'={20,}\s*$')
_ENABLED = re.compile(_P + r'kcsan: enabled early')
# A report is at most this many lines (two stack traces of at most 64 frames,
# report.c's NUM_STACK_ENTRIES, and a few more): lines after that belong to
# no report whose end went missing.
MAX_REPORT_LINES = 200

_MODULE = re.compile(r'\s+\[[\w.-]+\]$')
_OFFSET = re.compile(r'\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?$')
_SEP = re.compile(r'\s+/(?:\s+|$)')
_CLONE = re.compile(r'(?:\.(?:isra|constprop|part|cold|lto_priv)(?:\.\d+)?)+$')


def function_name(text):
    """'f.isra.0+0x12/0x34 [kvm]' -> 'f'."""
    t = _OFFSET.sub('', _MODULE.sub('', text.strip()))
    return _CLONE.sub('', t)


def signature(header, unknown_origin=False):
    """(signature, functions) of a report from its header's text after
    'BUG: KCSAN: ' (and whether its body said "race at unknown origin");
    functions: the normalized names it has, () for an unparsed header."""
    m = _KIND.match(header)
    if not m:
        text = re.sub(r'\+0x[0-9a-f]+(?:/0x[0-9a-f]+)?|\b0x[0-9a-f]+\b', '', header)
        return 'unparsed: ' + ' '.join(text.split()), ()
    kind, rest = m.groups()
    # The two names are separated by " / " (a cut header may end in " /");
    # the "/" of an offset (+0x12/0x34) has no blank before it.
    sides = _SEP.split(rest.strip())
    names = [n for n in (function_name(p) for p in sides) if n]
    if len(names) >= 2:
        pair = sorted(names[:2])
        return '%s in %s / %s' % (kind, pair[0], pair[1]), tuple(pair)
    if not names:
        return 'unparsed: ' + ' '.join(header.split()), ()
    # One function: "race at unknown origin" (the header has its offset,
    # %pS), or a pair's header cut after the first name.
    unknown = unknown_origin or (len(sides) == 1 and bool(_OFFSET.search(_MODULE.sub('', sides[0]))))
    return '%s in %s / %s' % (kind, names[0], '(unknown origin)' if unknown else '?'), (names[0],)


def scan_lines(lines):
    """(reports, enabled): the KCSAN reports of one console log, each a dict
    with line, test (scanconsole's 'ID NAME' of the test that ran, or None),
    header, signature, functions and complete (its footer was seen);
    enabled: the log says the KCSAN runtime was on."""
    reports, cur, test, enabled = [], None, None, False
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip('\r\n')
        m = scanconsole._BEGIN.match(line)
        if m:
            test = '%s %s' % (m.group(1), m.group(2))
            cur = None
            continue
        if scanconsole._END.match(line):
            test, cur = None, None
            continue
        if _ENABLED.match(line):
            enabled = True
            continue
        m = _HEADER.match(line)
        if m:
            cur = {'line': n, 'test': test, 'header': m.group(1), 'unknown': False,
                   'complete': False}
            reports.append(cur)
            continue
        if cur is None:
            continue
        if n - cur['line'] > MAX_REPORT_LINES:
            cur = None
        elif _UNKNOWN.match(line):
            cur['unknown'] = True
        elif _REPORTED.match(line):
            cur['complete'] = True
        elif _RULE.match(line) and cur['complete']:
            cur = None
    for r in reports:
        r['signature'], r['functions'] = signature(r['header'], r.pop('unknown'))
    return reports, enabled


def console_logs(paths):
    """The console logs PATHS name: files as they are, a directory's
    console-g*.log (vmrun.py's, reboots -rN included), in order."""
    logs = []
    for p in paths:
        if os.path.isdir(p):
            logs += sorted(glob.glob(os.path.join(p, 'console-g*.log')))
        else:
            logs.append(p)
    return logs


def scan(paths):
    """(reports, logs, logs without the runtime on) of all PATHS; each
    report also gets its log's name."""
    reports, logs, off = [], console_logs(paths), []
    for log in logs:
        try:
            with open(log, errors='replace') as f:
                found, enabled = scan_lines(f)
        except OSError:
            found, enabled = [], False
        for r in found:
            r['log'] = os.path.basename(log)
        reports += found
        if not enabled:
            off.append(os.path.basename(log))
    return reports, logs, off


def partial(sig):
    return sig.endswith(' / (unknown origin)') or sig.endswith(' / ?')


def compare(base, patched):
    """The patched kernel's signatures against the base's: a list of
    (signature, reports on patched, reports on base, new), patched's order
    of first appearance; and the base-only signatures."""
    bsigs = {}
    for r in base:
        bsigs.setdefault(r['signature'], []).append(r)
    bfuncs = {f for r in base for f in r['functions']}
    out, seen = [], {}
    for r in patched:
        seen.setdefault(r['signature'], []).append(r)
    for sig, rs in seen.items():
        if sig in bsigs:
            brs, new = bsigs[sig], False
        elif partial(sig) and rs[0]['functions'] and rs[0]['functions'][0] in bfuncs:
            f = rs[0]['functions'][0]
            brs, new = [r for r in base if f in r['functions']], False
        else:
            brs, new = [], True
        out.append((sig, rs, brs, new))
    only_base = [s for s in bsigs if s not in seen]
    return out, only_base


def where(r):
    return '%s:%d%s' % (r['log'], r['line'], ', during test %s' % r['test'] if r['test'] else '')


def report(base_paths, patched_paths, out=sys.stdout):
    """Print the TAP comparison; return the number of "not ok" lines."""
    base, blogs, boff = scan(base_paths)
    patched, plogs, poff = scan(patched_paths)
    rows, only_base = compare(base, patched)
    lines = []
    for name, logs, off in (('base', blogs, boff), ('patched', plogs, poff)):
        if not logs:
            lines.append((False, '%s: no console log in %s' % (name, ' '.join(
                base_paths if name == 'base' else patched_paths))))
        elif off:
            lines.append((False, '%s: the KCSAN runtime was not on in %s (no "kcsan: enabled early")'
                          % (name, ', '.join(off))))
        else:
            lines.append((True, '%s: KCSAN on in every boot (%d console logs)' % (name, len(logs))))
    for sig, rs, brs, new in rows:
        if new:
            lines.append((False, 'new on patched: %s (%d reports, first at %s)' % (sig, len(rs), where(rs[0]))))
        else:
            lines.append((True, '%s: on base too (base %d, patched %d)' % (
                sig, len(brs), len(rs))))
    if not rows:
        lines.append((True, 'no KCSAN report on the patched kernel'))
    nnew = sum(1 for row in rows if row[3])
    print('TAP version 13', file=out)
    print('# KCSAN reports on base: %d (%d signatures), on patched: %d (%d signatures), '
          'new on patched: %d' % (len(base), len({r['signature'] for r in base}), len(patched),
                                  len(rows), nnew), file=out)
    for n, (ok, text) in enumerate(lines, 1):
        print('%s %d - %s' % ('ok' if ok else 'not ok', n, text), file=out)
    for sig in only_base:
        print('# on base only: %s' % sig, file=out)
    for r in patched + base:
        if not r['complete']:
            print('# cut short (no footer): %s at %s' % (r['signature'], where(r)), file=out)
    print('1..%d' % len(lines), file=out)
    print('KCSAN reports: %d on base, %d on patched, %d new signatures' % (len(base), len(patched), nnew),
          file=out)
    return sum(1 for ok, _ in lines if not ok)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--base', nargs='+', required=True, metavar='PATH')
    p.add_argument('--patched', nargs='+', required=True, metavar='PATH')
    a = p.parse_args(argv)
    return 1 if report(a.base, a.patched) else 0


if __name__ == '__main__':
    sys.exit(main())
