#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Find kernel splats in a serial console log.

A run whose console shows a WARNING, BUG, Oops, lockdep or RCU-lockdep
report, KASAN/UBSAN/KCSAN report, kmemleak's suspected leaks, RCU stall,
soft/hard lockup, hung task or a "Call Trace" has failed, whatever the tests said.  (A KCSAN report is a
finding of its own kind, kcsan: make kcsan's runs pass vmrun.py
--not-splat kcsan, and scripts/kcsan_reports.py's comparison of the base's
reports with the patched kernel's is their verdict instead.)  Each finding is tied to
the test that was running, from the "kmmu: begin test ID NAME" markers that
the guest init writes to /dev/kmsg.

One report is not a splat: the kernel's own report of an allocation that
failed ("vmalloc error: ..." or "page allocation failure: ...", and the
Call Trace after it) during a test that injected that failure on purpose,
i.e. after a "FAULT_INJECTION: forcing a failure" line of the same test.  A
failed allocation is what such a test asks for; anything else in it still
counts, and so does an allocation failure nothing injected.

Usage: scanconsole.py LOG...   (prints findings, exit 1 when any)
"""

import re
import sys

# Kernel log lines look like "[   12.345678] text" (printk time stamps are on
# in the harness's kernels); the prefix is optional so that logs without time
# stamps are scanned too.
_PREFIX = r'^(?:\[\s*\d+\.\d+\]\s*)?(?:\[\s*[TC]\d+\]\s*)?'

# (kind, regex on the text after the prefix).  Order matters: the first match
# names the finding.
PATTERNS = [
    ('kasan', r'BUG: KASAN: '),
    ('kcsan', r'BUG: KCSAN: '),
    # kmemleak's scan (make kasan's kernel; the guest init asks for it after
    # the tests): memory allocated and no longer referenced from anywhere.
    ('kmemleak', r'kmemleak: \d+ new suspected memory leaks?'),
    ('ubsan', r'UBSAN: '),
    ('lockdep', r'WARNING: (possible circular locking dependency|possible recursive locking|'
                r'inconsistent lock state|possible irq lock inversion|'
                r'bad unlock balance|held lock freed|lock held when returning to user space|'
                r'Nested lock was not taken|.*-safe -> .*-unsafe lock order detected)'),
    ('lockdep', r'INFO: possible circular locking dependency'),
    ('rcu-lockdep', r'WARNING: suspicious RCU usage'),
    # "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:" (another CPU
    # saw it), "... self-detected stall on CPU" (the stalled CPU itself),
    # "... detected expedited stalls on CPUs/tasks:".
    ('rcu-stall', r'(rcu: )?INFO: rcu_\w+ (self-)?detected (expedited )?stalls?'),
    ('soft-lockup', r'watchdog: BUG: soft lockup'),
    ('hard-lockup', r'watchdog: .*hard LOCKUP'),
    ('hung-task', r'INFO: task .* blocked for more than \d+ seconds'),
    ('sleep-in-atomic', r'BUG: sleeping function called from invalid context'),
    ('bug', r'kernel BUG at '),
    ('bug', r'BUG: '),
    ('oops', r'Oops: '),
    ('oops', r'general protection fault'),
    ('panic', r'Kernel panic - not syncing'),
    ('warning', r'WARNING: '),
    ('list-corruption', r'list_(add|del) corruption'),
    ('call-trace', r'Call Trace:'),
]
_COMPILED = [(k, re.compile(_PREFIX + p)) for k, p in PATTERNS]
_BEGIN = re.compile(_PREFIX + r'kmmu: begin test (\d+) (\S+)')
_END = re.compile(_PREFIX + r'kmmu: end test (\d+) ')
_INJECTED = re.compile(_PREFIX + r'FAULT_INJECTION: forcing a failure')
_ALLOC_FAILURE = re.compile(_PREFIX + r'.*: (vmalloc error: |page allocation failure: )')


def scan_lines(lines):
    """Return a list of findings: dicts with line, kind, text, test."""
    findings = []
    current = None
    # A WARNING is followed by its own "Call Trace:"; report a splat once.
    last_report = -100
    injected = False
    for n, raw in enumerate(lines, 1):
        line = raw.rstrip('\r\n')
        m = _BEGIN.match(line)
        if m:
            current = '%s %s' % (m.group(1), m.group(2))
            injected, last_report = False, -100
            continue
        if _END.match(line):
            current = None
            injected, last_report = False, -100
            continue
        if _INJECTED.match(line):
            injected = current is not None
            continue
        if injected and _ALLOC_FAILURE.match(line):
            # Its Call Trace follows: covered by the window below.
            last_report = n
            continue
        for kind, rx in _COMPILED:
            if rx.match(line):
                if kind == 'call-trace' and n - last_report < 60:
                    break
                findings.append({'line': n, 'kind': kind, 'text': line.strip(),
                                 'test': current})
                last_report = n
                break
    return findings


def scan_file(path):
    with open(path, errors='replace') as f:
        return scan_lines(f)


def format_finding(path, f):
    where = 'during test %s' % f['test'] if f['test'] else 'outside any test'
    return '%s:%d: %s (%s): %s' % (path, f['line'], f['kind'], where, f['text'])


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    bad = 0
    for path in argv[1:]:
        for f in scan_file(path):
            print(format_finding(path, f))
            bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
