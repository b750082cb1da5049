#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The one reader of test results: TAP streams and vmrun.py's results.json;
and the one runner that prints a unittest module's cases as TAP (run_tests,
main_tests: the tests/test-*.py modules written with unittest).

TAP as the project's steps and the guest print it (TAP version 13, KTAP):

  TAP version 13                version line (KTAP: "KTAP version 1")
  1..N [# SKIP reason]          the plan, first or last
  ok 3 description # SKIP why   a result: ok / not ok, number, description,
  not ok 4 desc # TODO why      directive (SKIP, TODO: the first word after
  ok 5 desc # time=1.0s         the '#', any case) or a comment
  Bail out! reason              the producer gave up
  # text                        a comment (diagnostics)

Subtests, as kselftest emits them, come before their parent's result line,
each level indented by "# " (the kselftest runner, and the guest's
scripts/guest-init.sh, put that before every line a test prints) or by four
spaces (KTAP).  A line that is no TAP element at any level is a comment.
The guest's stream (tap-g*.log) has no plan and numbers its results by the
test list's ids; vmrun.py reads it with parse() and takes no verdict from
the plan.

A stream's problems (Stream.problems, what check() fails on): no plan, or
more than one; a plan at the end with results after it; a plan whose count
is not the number of results (a truncated log); a Bail out!; a number out of
sequence; a "not ok" subtest (not SKIP or TODO) under a parent that says
"ok", or under no parent at all (the stream ended inside a test).

Counting, as make test sums its steps up: an "ok" passes, "ok ... # SKIP"
skips, "not ok" fails, "not ok ... # TODO" (an expected failure) skips;
only top-level results count.  count() adds one failure per problem.

Command line, for the shell scripts:
  kmmu_tap.py count FILE...     each problem as "not ok - NAME: problem",
                                then "N passed, N failed, N skipped" (NAME:
                                test-NAME.log's NAME, else the file name)
  kmmu_tap.py count --table WHAT FILE
                                the last "N passed, N failed, N skipped"
                                line of FILE (the table a VM run ends with);
                                none: "not ok - WHAT produced no result table"
                                and one failure
  kmmu_tap.py check FILE...     the problems and failed results; exit 1 when
                                there is any
  kmmu_tap.py run-failed DIR    exit 0 when the run in DIR (its results.json)
                                had a failure, a splat or a run problem
"""

import json
import os
import re
import sys
import unittest

# ------------------------------------------------------------------ TAP

_VERSION = re.compile(r'^K?TAP version (\d+)\s*$')
_PLAN = re.compile(r'^1\.\.(\d+)\s*(?:#\s*(.*?))?\s*$')
_RESULT = re.compile(r'^(ok|not ok)\b(?:\s+(\d+))?(?:\s+-)?(?:\s+|$)(.*)$')
_BAIL = re.compile(r'^Bail out!\s*(.*?)\s*$')
_DIRECTIVE = re.compile(r'^(SKIP|TODO)\S*\s*(.*)$', re.I)
# One level of nesting: the kselftest runner's "# ", or KTAP's four spaces.
_NEST = ('# ', '    ')
_SUMMARY = re.compile(r'^(\d+) passed, (\d+) failed, (\d+) skipped$')


class Result:
    """One "ok"/"not ok" line.  comment: all after the '#' (minus one space);
    directive: 'SKIP', 'TODO' or None; reason: the directive's text;
    subtests: the results nested under it, in order."""

    __slots__ = ('ok', 'number', 'description', 'comment', 'directive', 'reason',
                 'depth', 'lineno', 'subtests')

    def __init__(self, ok, number, description, comment, depth=0, lineno=0):
        self.ok, self.number, self.description = ok, number, description
        self.comment, self.depth, self.lineno = comment, depth, lineno
        self.subtests = []
        m = _DIRECTIVE.match(comment or '')
        self.directive = m.group(1).upper() if m else None
        self.reason = m.group(2) if m else ''

    @property
    def status(self):
        """'pass', 'skip', 'fail' or 'todo' (a "not ok" marked TODO)."""
        if self.directive == 'SKIP':
            return 'skip'
        if self.ok:
            return 'pass'
        return 'todo' if self.directive == 'TODO' else 'fail'

    def line(self):
        return '%s%s%s%s' % ('ok' if self.ok else 'not ok',
                             ' %d' % self.number if self.number is not None else '',
                             ' ' + self.description if self.description else '',
                             ' # ' + self.comment if self.comment is not None else '')

    def __repr__(self):
        return '<%s at line %d>' % (self.line(), self.lineno)


class Plan:
    __slots__ = ('count', 'skip', 'lineno', 'depth')

    def __init__(self, count, skip, lineno, depth=0):
        self.count, self.skip, self.lineno, self.depth = count, skip, lineno, depth


class Stream:
    """A parsed TAP stream: version, plan (None when there is none), the
    top-level results in order (each with its subtests), bailout (the reason,
    '' for none given; None: no Bail out!), comments [(lineno, text)] and
    problems (see the module's doc)."""

    def __init__(self):
        self.version, self.plan, self.bailout = None, None, None
        self.results, self.comments, self.problems = [], [], []

    def counts(self):
        """(passed, failed, skipped) of the top-level results."""
        n = {'pass': 0, 'fail': 0, 'skip': 0, 'todo': 0}
        for r in self.results:
            n[r.status] += 1
        return n['pass'], n['fail'], n['skip'] + n['todo']

    def failures(self):
        return [r for r in self.results if r.status == 'fail']

    @property
    def ok(self):
        return not self.problems and not self.failures()


def parse_line(line):
    """(depth, kind, value) of one line: kind 'result' (a Result), 'plan'
    (a Plan), 'version' (the number), 'bailout' (the reason) or 'comment'
    (the line, depth 0)."""
    line = line.rstrip('\r\n')
    rest, depth = line, 0
    while True:
        m = _RESULT.match(rest)
        if m:
            body = m.group(3)
            c = re.search(r'(?:^|\s)#', body)
            desc, comment = (body[:c.start()].strip(), body[c.end():]) if c else (body.strip(), None)
            if comment is not None and comment.startswith(' '):
                comment = comment[1:]
            return depth, 'result', Result(m.group(1) == 'ok', int(m.group(2)) if m.group(2) else None,
                                           desc, comment, depth)
        m = _PLAN.match(rest)
        if m:
            skip = m.group(2) or ''
            skip = _DIRECTIVE.match(skip).group(2) if _DIRECTIVE.match(skip) else None
            return depth, 'plan', Plan(int(m.group(1)), skip, 0, depth)
        m = _VERSION.match(rest)
        if m:
            return depth, 'version', int(m.group(1))
        m = _BAIL.match(rest)
        if m:
            return depth, 'bailout', m.group(1)
        for p in _NEST:
            if rest.startswith(p):
                rest, depth = rest[len(p):], depth + 1
                break
        else:
            return 0, 'comment', line


def parse(text):
    """The Stream of TEXT (a str, or an iterable of lines)."""
    s = Stream()
    lines = text.splitlines() if isinstance(text, str) else text
    # pending[d]: the results at depth d+1 that wait for their parent.
    pending = {}
    plans, after_plan = [], None
    for lineno, line in enumerate(lines, 1):
        depth, kind, v = parse_line(line)
        if kind == 'comment':
            s.comments.append((lineno, v))
            continue
        if kind == 'result':
            v.lineno = lineno
            # Deeper levels left open belong to this result's subtests
            # when one level down, else they are dropped as stray.
            v.subtests = pending.pop(depth, [])
            for d in [d for d in pending if d > depth]:
                _stray(s, pending.pop(d))
            if depth:
                pending.setdefault(depth - 1, []).append(v)
                continue
            if v.subtests and v.ok:
                bad = [t for t in v.subtests if t.status == 'fail']
                if bad:
                    s.problems.append('line %d: %s, but its subtest says %s (line %d)' % (
                        lineno, v.line(), bad[0].line(), bad[0].lineno))
            if after_plan is not None:
                s.problems.append('line %d: %s after the plan at the end (line %d)' % (
                    lineno, v.line(), after_plan))
                after_plan = None
            if v.number is not None and v.number != len(s.results) + 1:
                s.problems.append('line %d: %s out of sequence: test %d expected' % (
                    lineno, v.line(), len(s.results) + 1))
            s.results.append(v)
            continue
        if depth:
            continue        # a subtest's own version, plan or bail out
        if kind == 'version':
            s.version = v
        elif kind == 'plan':
            v.lineno = lineno
            plans.append(v)
            if s.results:
                after_plan = lineno
        elif kind == 'bailout':
            s.bailout = v
            s.problems.append('line %d: Bail out!%s' % (lineno, ' ' + v if v else ''))
    for d in sorted(pending):
        _stray(s, pending[d])
    s.plan = plans[0] if plans else None
    if not plans:
        s.problems.append('no plan (1..N): the output stopped before its end, or never said how many tests')
    elif len(plans) > 1:
        s.problems.append('%d plans (lines %s)' % (len(plans), ', '.join(str(p.lineno) for p in plans)))
    elif plans[0].count != len(s.results) and s.bailout is None:
        s.problems.append('planned %d tests, ran %d%s' % (
            plans[0].count, len(s.results), ': the output stopped early' if len(s.results) < plans[0].count else ''))
    return s


def _stray(s, results):
    """Subtests whose parent never came: a failure among them is a problem."""
    bad = [t for t in results if t.status == 'fail']
    if bad:
        s.problems.append('line %d: %s, a subtest with no result of its test after it' % (
            bad[0].lineno, bad[0].line()))


def parse_file(path):
    with open(path, errors='replace') as f:
        return parse(f.read())


def summary(text):
    """(passed, failed, skipped) of the last "N passed, N failed, N skipped"
    line of TEXT, None when there is none."""
    found = None
    for line in text.splitlines():
        m = _SUMMARY.match(line)
        if m:
            found = tuple(int(x) for x in m.groups())
    return found


def summary_line(passed, failed, skipped):
    return '%d passed, %d failed, %d skipped' % (passed, failed, skipped)


# ------------------------------------------------------ vmrun.py's records

def load_run(d):
    """The results.json vmrun.py wrote in D: {label, mode, tests (records:
    id, key, name, status, detail, secs, splats, figures ...), problems ...}."""
    p = os.path.join(d, 'results.json')
    try:
        with open(p) as f:
            return json.load(f)
    except FileNotFoundError:
        raise SystemExit('error: no results in %s (did the VM run start?)' % d)
    except (OSError, ValueError) as e:
        raise SystemExit('error: no results in %s (%s)' % (d, e))


def outcome(rec):
    """A record's outcome: 'splat' when the console showed one during the
    test, else its status (pass, skip, fail, timeout, hang, notrun); None for
    no record."""
    if rec is None:
        return None
    if rec.get('splats'):
        return 'splat'
    return rec.get('status')


def flaky(rec):
    """A pass that needed a retry (guest-init.sh or vmrun.py says so)."""
    return bool(rec) and rec.get('status') == 'pass' and 'flaky' in (rec.get('detail') or '')


def bad(rec):
    """A record that fails its run: any outcome but pass and skip."""
    return outcome(rec) not in ('pass', 'skip')


def run_failed(run):
    """A run with a failed record or a run problem."""
    return bool(run.get('problems')) or any(bad(r) for r in run['tests'])


# ------------------------------------------- unittest modules that print TAP

class _TapResult(unittest.TestResult):
    """A TAP line a test as it ends: "ok N DESC", "not ok N DESC", with a
    failure's traceback after it as "#   " lines."""

    def __init__(self, out):
        super().__init__()
        self.out, self.n = out, 0

    def _line(self, test, ok, comment='', diag=''):
        self.n += 1
        desc = getattr(test, 'tap_name', None) or test.shortDescription() or test.id()
        self.out.write('%s %d %s%s\n' % ('ok' if ok else 'not ok', self.n, desc.replace('#', '\\#'),
                                         ' # ' + comment if comment else ''))
        for line in diag.rstrip('\n').splitlines():
            self.out.write('#   %s\n' % line)
        self.out.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(test, False, diag=self.failures[-1][1])

    def addError(self, test, err):
        # Also a setUpClass (or setUpModule) that failed, whose tests then
        # do not run: a "not ok" line of its own, named after it.
        super().addError(test, err)
        self._line(test, False, diag=self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(test, True, 'SKIP ' + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(test, False, 'TODO expected failure')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(test, False, 'unexpected success')


def module_suite(module):
    """The test cases of MODULE (a module or its name) in the order it
    defines them: its TestCase classes, then each one's test methods (its
    own, after those it inherits), not unittest's alphabetical order."""
    if isinstance(module, str):
        module = sys.modules[module]
    loader = unittest.defaultTestLoader
    s = unittest.TestSuite()
    for c in vars(module).values():
        if isinstance(c, type) and issubclass(c, unittest.TestCase) and c.__module__ == module.__name__:
            order = list(dict.fromkeys(k for base in reversed(c.__mro__) for k in vars(base)))
            for k in sorted(loader.getTestCaseNames(c), key=order.index):
                s.addTest(c(k))
    return s


def run_tests(suite, out=None):
    """Run a unittest suite and print TAP: the version, a line a test, as
    it ends, then the plan "1..N".  A test's description is self.tap_name
    when it sets one (one that names a value it found, e.g. an exit status),
    else its docstring's first line, else its id; a '#' in it is escaped.
    self.skipTest(WHY) gives "ok N DESC # SKIP WHY"; an expected failure
    "not ok N DESC # TODO ..." (counted as skipped), an unexpected success a
    "not ok".  Returns the exit status: 1 when a test failed."""
    out = out or sys.stdout
    out.write('TAP version 13\n')
    out.flush()
    result = _TapResult(out)
    suite.run(result)
    # The plan last: a setUpClass that fails is one line for all its tests.
    out.write('1..%d\n' % result.n)
    out.flush()
    return 0 if result.wasSuccessful() else 1


def main_tests(module='__main__'):
    """unittest.main() with TAP, for a test module's last line:
        sys.exit(kmmu_tap.main_tests(sys.modules[__name__]))
    runs MODULE's test cases (module_suite) and returns run_tests' exit
    status."""
    return run_tests(module_suite(module))


# ------------------------------------------------------------ command line

def _name(path):
    b = os.path.basename(path)
    m = re.fullmatch(r'test-(.+)\.log', b)
    return m.group(1) if m else b


def cmd_count(args):
    table = None
    if args[:1] == ['--table']:
        if len(args) != 3:
            raise SystemExit('usage: kmmu_tap.py count --table WHAT FILE')
        table, args = args[1], args[2:]
    passed = failed = skipped = 0
    for path in args:
        try:
            with open(path, errors='replace') as f:
                text = f.read()
        except OSError as e:
            print('not ok - %s: %s' % (_name(path), e.strerror or e))
            failed += 1
            continue
        if table is not None:
            c = summary(text)
            if c is None:
                print('not ok - %s produced no result table' % table)
                failed += 1
                continue
            p, f, s = c
        else:
            st = parse(text)
            p, f, s = st.counts()
            for prob in st.problems:
                print('not ok - %s: %s' % (_name(path), prob))
            f += len(st.problems)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    print(summary_line(passed, failed, skipped))
    return 0


def cmd_check(args):
    bad_files = 0
    for path in args:
        st = parse_file(path)
        for prob in st.problems:
            print('%s: %s' % (path, prob))
        for r in st.failures():
            print('%s: line %d: %s' % (path, r.lineno, r.line()))
        bad_files += not st.ok
    return 1 if bad_files else 0


def cmd_run_failed(args):
    if len(args) != 1:
        raise SystemExit('usage: kmmu_tap.py run-failed DIR')
    return 0 if run_failed(load_run(args[0])) else 1


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    cmds = {'count': cmd_count, 'check': cmd_check, 'run-failed': cmd_run_failed}
    if not argv or argv[0] not in cmds:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return cmds[argv[0]](argv[1:])


if __name__ == '__main__':
    sys.exit(main())
