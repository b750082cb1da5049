# SPDX-License-Identifier: GPL-2.0
"""Run a test module's unittest cases and print TAP, as the other tests do.

A tests/test-*.py module written with unittest ends with

    if __name__ == '__main__':
        sys.exit(taptest.main(sys.modules[__name__]))

Each test method is one TAP line, "ok N DESC" or "not ok N DESC", in the
order the module defines them (classes, then methods; not unittest's
alphabetical one).  DESC is the first line of the method's docstring, or
self.tap_name when the test sets one (a description that names a value it
found, e.g. an exit status).  A failure's traceback (or an error in a
setUpClass, which then is a "not ok" line of its own) follows its line as
"#   " comments; self.skipTest(WHY) gives "ok N DESC # SKIP WHY", which
scripts/test.sh counts as skipped.  Then "1..N"; the exit status is 1 when
a test failed.
"""

import inspect
import os
import sys
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(TOP, 'scripts')


def clean_env():
    """Unset the settings of the calling shell, as tests/lib-tap.sh's
    clean_env does: every KMMU_ name, make's MAKEFLAGS and the names of the
    Makefile's KNOBS, so that they change nothing the tests run."""
    knobs, more = [], False
    with open(os.path.join(TOP, 'Makefile')) as f:
        for line in f:
            if line.startswith('KNOBS :=') or more:
                knobs += line.replace('KNOBS :=', '').rstrip('\n').rstrip('\\').split()
                more = line.rstrip('\n').endswith('\\')
    for k in list(os.environ):
        if k.startswith('KMMU_') or k in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL') or k in knobs:
            del os.environ[k]


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self.bad = 0

    @staticmethod
    def desc(test):
        return getattr(test, 'tap_name', None) or test.shortDescription() or test.id()

    def line(self, test, ok, extra='', detail=''):
        self.n += 1
        print('%s %d %s%s' % ('ok' if ok else 'not ok', self.n, self.desc(test), extra))
        for ln in detail.rstrip('\n').splitlines():
            print('#   ' + ln)
        sys.stdout.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self.line(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.bad += 1
        self.line(test, False, detail=self._exc_info_to_string(err, test))

    def addError(self, test, err):
        # Also a setUpClass that failed (its class's tests then do not
        # run): a "not ok" line of its own, named after it.
        super().addError(test, err)
        self.bad += 1
        self.line(test, False, detail=self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.line(test, True, ' # SKIP %s' % reason)


def _line(obj):
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 0


def suite(module):
    """The module's tests, in the order of its source."""
    classes = [c for c in vars(module).values()
               if inspect.isclass(c) and issubclass(c, unittest.TestCase) and c.__module__ == module.__name__]
    s = unittest.TestSuite()
    for c in sorted(classes, key=_line):
        names = [k for k, v in vars(c).items() if k.startswith('test') and callable(v)]
        for k in sorted(names, key=lambda k: _line(getattr(c, k))):
            s.addTest(c(k))
    return s


def main(module):
    print('TAP version 13')
    sys.stdout.flush()
    r = TapResult()
    suite(module).run(r)
    print('1..%d' % r.n)
    return 1 if r.bad else 0
