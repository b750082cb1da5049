#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check scripts/kmmu_tap.py, the one reader of TAP and results.json, on
made-up streams: what it reads from each line, the verdicts (a stream that
must fail does), the counts make test sums up, and its command line; and
its runner of unittest modules on a made-up one (a failure, a setUpClass
that fails, skips, the order).  Prints TAP (a unittest module).

KMMU_TEST_TAP=FILE checks another kmmu_tap.py (default: scripts/kmmu_tap.py
of this tree): a parser or runner broken on purpose must fail the checks of
what it broke, which shows that they can fail.  This module's own TAP comes
from this tree's runner (taptest.main) all the same, so that a broken one
under test cannot hide its failures.
"""

import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

import taptest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), 'scripts')
TAP = os.environ.get('KMMU_TEST_TAP') or os.path.join(SCRIPTS, 'kmmu_tap.py')
_spec = importlib.util.spec_from_file_location('kmmu_tap', TAP)
kt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kt)


def parse(text):
    return kt.parse(textwrap.dedent(text).lstrip('\n'))


GOOD = '''
TAP version 13
1..3
ok 1 first
# a diagnostic
ok 2 second # SKIP no svm here
ok 3 third # time=1.0s
'''


class Lines(unittest.TestCase):
    """What one line says."""

    def test_result(self):
        """a result line: ok/not ok, number, description, comment"""
        d, kind, r = kt.parse_line('not ok 12 dirty_log_test -i 3 # exit=1 time=2.0s')
        self.assertEqual((d, kind), (0, 'result'))
        self.assertEqual((r.ok, r.number, r.description, r.comment, r.directive),
                         (False, 12, 'dirty_log_test -i 3', 'exit=1 time=2.0s', None))

    def test_skip_reason(self):
        """a SKIP directive with its reason, in any case, "Skipped" too"""
        for line in ('ok 2 b # SKIP no svm here', 'ok 2 b # skip no svm here',
                     'ok 2 b #Skipped: no svm here'):
            r = kt.parse_line(line)[2]
            self.assertEqual((r.directive, r.status), ('SKIP', 'skip'), line)
            self.assertEqual(r.reason.lstrip(':').strip(), 'no svm here', line)

    def test_todo(self):
        """a not ok marked TODO is an expected failure, not a failure"""
        r = kt.parse_line('not ok 4 later # TODO not written yet')[2]
        self.assertEqual((r.directive, r.status, r.reason), ('TODO', 'todo', 'not written yet'))

    def test_no_number_no_description(self):
        """ok without a number or a description, and "ok - desc\""""
        r = kt.parse_line('ok')[2]
        self.assertEqual((r.ok, r.number, r.description), (True, None, ''))
        r = kt.parse_line('ok 3 - with a dash')[2]
        self.assertEqual((r.number, r.description), (3, 'with a dash'))

    def test_not_a_result(self):
        """words that start like a result are not one"""
        for line in ('okay 1 x', 'not okay', 'nothing', '1..', 'ok1 x'):
            self.assertEqual(kt.parse_line(line)[1], 'comment', line)

    def test_plan_version_bailout(self):
        """plan (with a SKIP reason), version (TAP and KTAP), Bail out!"""
        p = kt.parse_line('1..0 # SKIP no /dev/kvm')[2]
        self.assertEqual((p.count, p.skip), (0, 'no /dev/kvm'))
        self.assertEqual(kt.parse_line('1..7')[2].count, 7)
        self.assertEqual(kt.parse_line('TAP version 13')[1:], ('version', 13))
        self.assertEqual(kt.parse_line('KTAP version 1')[1:], ('version', 1))
        self.assertEqual(kt.parse_line('Bail out! no kernel')[1:], ('bailout', 'no kernel'))

    def test_nesting(self):
        """subtests: each level a hash and a space (kselftest) or four spaces (KTAP)"""
        self.assertEqual(kt.parse_line('# ok 1 sub')[:2], (1, 'result'))
        self.assertEqual(kt.parse_line('# # not ok 2 subsub')[:2], (2, 'result'))
        self.assertEqual(kt.parse_line('    not ok 2 sub')[:2], (1, 'result'))
        self.assertEqual(kt.parse_line('# 1..4')[:2], (1, 'plan'))

    def test_diagnostics_are_comments(self):
        """the harness's indented diagnostics and the guest's markers are comments"""
        for line in ('#   not ok 9 the check (2 of 16)', '# kmmu-begin 3 t 90',
                     '# [failed attempt] not ok 1 x', '#   | ok 1 y'):
            self.assertEqual(kt.parse_line(line)[1], 'comment', line)

    def test_line_round_trip(self):
        """Result.line() writes the line it was read from"""
        for line in ('ok 1 a', 'not ok 2 b # exit=1', 'ok 3 c # SKIP why', 'ok'):
            self.assertEqual(kt.parse_line(line)[2].line(), line)


class Verdicts(unittest.TestCase):
    """Streams that pass, and the ones that must fail."""

    def assertFails(self, text, why):
        """TEXT's stream fails, with a problem that says WHY; returns it."""
        s = parse(text)
        self.assertFalse(s.ok)
        self.assertIn(why, ' '.join(s.problems))
        return s

    def test_good(self):
        """a whole stream: version, plan, results in order, counts"""
        s = parse(GOOD)
        self.assertEqual(s.problems, [])
        self.assertTrue(s.ok)
        self.assertEqual((s.version, s.plan.count), (13, 3))
        self.assertEqual([r.number for r in s.results], [1, 2, 3])
        self.assertEqual(s.counts(), (2, 0, 1))
        self.assertIn((4, '# a diagnostic'), s.comments)

    def test_plan_at_the_end(self):
        """a plan at the end is a plan"""
        s = parse('ok 1 a\nok 2 b\n1..2\n')
        self.assertTrue(s.ok, s.problems)

    def test_not_ok(self):
        """a not ok fails the stream"""
        s = parse('1..2\nok 1 a\nnot ok 2 b # exit=1\n')
        self.assertFalse(s.ok)
        self.assertEqual([r.number for r in s.failures()], [2])
        self.assertEqual(s.counts(), (1, 1, 0))

    def test_skip_with_reason(self):
        """a SKIP with a reason skips; the stream still passes"""
        s = parse('1..1\nok 1 svm_test # SKIP no SVM on this host\n')
        self.assertTrue(s.ok, s.problems)
        self.assertEqual(s.counts(), (0, 0, 1))
        self.assertEqual(s.results[0].reason, 'no SVM on this host')

    def test_nested_not_ok(self):
        """a not ok inside a nested subtest fails a parent that says ok"""
        s = parse('''
            TAP version 13
            1..1
            # TAP version 13
            # 1..2
            # ok 1 sub one
            # not ok 2 sub two
            ok 1 the test
            ''')
        self.assertFalse(s.ok)
        self.assertEqual(len(s.problems), 1, s.problems)
        self.assertIn('not ok 2 sub two', s.problems[0])
        self.assertEqual([t.number for t in s.results[0].subtests], [1, 2])

    def test_nested_not_ok_ktap(self):
        """... and so with KTAP's indentation, two levels deep"""
        s = self.assertFails('1..1\n        not ok 1 deep\n    not ok 1 middle\nok 1 top\n', 'its subtest says')
        self.assertEqual(s.results[0].subtests[0].subtests[0].description, 'deep')

    def test_nested_under_not_ok(self):
        """a failed subtest under a failed parent: one failure, no problem"""
        s = parse('1..1\n# not ok 1 sub\nnot ok 1 top # exit=1\n')
        self.assertEqual((s.problems, s.counts()), ([], (0, 1, 0)))

    def test_nested_skip_todo(self):
        """a subtest's SKIP or TODO does not fail its parent"""
        s = parse('1..1\n# not ok 1 sub # SKIP no\n# not ok 2 sub # TODO later\nok 1 top\n')
        self.assertTrue(s.ok, s.problems)

    def test_nested_counts_not(self):
        """only top-level results count"""
        s = parse('1..1\n# ok 1 a\n# ok 2 b\nok 1 top\n')
        self.assertEqual(s.counts(), (1, 0, 0))

    def test_missing_plan(self):
        """no plan fails the stream"""
        self.assertFails('TAP version 13\nok 1 a\nok 2 b\n', 'no plan')

    def test_bail_out(self):
        """a Bail out! fails the stream, with its reason"""
        s = self.assertFails('1..3\nok 1 a\nBail out! herd7 is missing\n', 'Bail out! herd7 is missing')
        self.assertEqual(s.bailout, 'herd7 is missing')

    def test_result_after_trailing_plan(self):
        """a test line after a plan at the end fails the stream"""
        self.assertFails('ok 1 a\n1..1\nok 2 b\n', 'after the plan')

    def test_truncated(self):
        """a truncated log: fewer results than the plan fails"""
        self.assertFails('TAP version 13\n1..5\nok 1 a\nok 2 b\nok 3 c\n', 'planned 5 tests, ran 3')

    def test_truncated_in_a_subtest(self):
        """a log that stops inside a test whose subtest failed fails"""
        s = self.assertFails('1..2\nok 1 a\n# ok 1 sub\n# not ok 2 sub\n', 'no result of its test')
        self.assertGreaterEqual(len(s.problems), 2, s.problems)

    def test_more_results_than_planned(self):
        """more results than the plan says fails"""
        self.assertFails('1..1\nok 1 a\nok 2 b\n', 'planned 1 tests, ran 2')

    def test_two_plans(self):
        """two plans fail"""
        self.assertFails('1..1\nok 1 a\n1..1\n', '2 plans')

    def test_out_of_sequence(self):
        """a number out of sequence fails"""
        self.assertFails('1..2\nok 1 a\nok 3 b\n', 'out of sequence')

    def test_skip_all(self):
        """a plan of 1..0 with SKIP: nothing to run, and that is no failure"""
        s = parse('1..0 # SKIP no kernel tree\n')
        self.assertTrue(s.ok, s.problems)
        self.assertEqual(s.plan.skip, 'no kernel tree')

    def test_diagnostics_after_a_failure(self):
        """the diagnostics dumped after a failed check are no subtests of the next"""
        s = parse('1..2\nnot ok 1 a\n#   not ok 3 from the log\nok 2 b\n')
        self.assertEqual(s.problems, [])
        self.assertEqual(s.results[1].subtests, [])

    def test_guest_stream(self):
        """the guest's TAP: markers, a kselftest's own TAP, a failed attempt"""
        s = parse('''
            TAP version 13
            # kmmu-boot group=0 kernel=6.12
            # kmmu-begin 3 x86_64/state_test 120
            # kmmu-retry 3 x86_64/state_test: attempt failed with exit 1, retrying
            # [failed attempt] not ok 1 state
            # TAP version 13
            # 1..1
            # ok 1 state
            ok 3 x86_64/state_test # time=2.0s flaky: passed on retry after exit 1
            ''')
        self.assertEqual([(r.number, r.status) for r in s.results], [(3, 'pass')])
        self.assertEqual([t.status for t in s.results[0].subtests], ['pass'])
        self.assertTrue(any(c.startswith('# kmmu-begin 3 ') for _, c in s.comments))


def old_count_tap(text):
    """scripts/test.sh's count_tap before kmmu_tap.py, as the oracle."""
    import re
    lines = text.splitlines()
    p = sum(1 for x in lines if re.match(r'ok [0-9]+', x))
    s = sum(1 for x in lines if re.match(r'ok [0-9]+ .*# SKIP', x))
    f = sum(1 for x in lines if re.match(r'not ok [0-9]+', x))
    return p - s, f, s


class Counts(unittest.TestCase):
    """What make test sums up."""

    def test_same_as_before(self):
        """on well-formed streams, the counts the grep count_tap gave"""
        for text in (GOOD, '1..3\nnot ok 1 a\n#   not ok 7 x\nok 2 b # SKIP c\nok 3 d # time=1s\n',
                     'TAP version 13\n# kmmu-begin 1 a 1\n# ok 1 x\n# not ok 2 y\nnot ok 1 a\n1..1\n'):
            self.assertEqual(kt.parse(text).counts(), old_count_tap(text), text)

    def test_summary(self):
        """the last "N passed, N failed, N skipped" line of a VM run's table"""
        self.assertEqual(kt.summary('x\n1 passed, 2 failed, 3 skipped\n4 passed, 0 failed, 1 skipped\n'),
                         (4, 0, 1))
        self.assertIsNone(kt.summary('1 passed, 2 failed\nno table here\n'))


class Records(unittest.TestCase):
    """vmrun.py's records (results.json)."""

    def test_outcome(self):
        """a splat outranks the status; flaky is a pass after a retry"""
        self.assertEqual(kt.outcome({'status': 'pass', 'splats': ['warning: x']}), 'splat')
        self.assertEqual(kt.outcome({'status': 'skip', 'splats': []}), 'skip')
        self.assertIsNone(kt.outcome(None))
        self.assertTrue(kt.flaky({'status': 'pass', 'detail': 'time=1s flaky: passed on retry'}))
        self.assertFalse(kt.flaky({'status': 'fail', 'detail': 'flaky'}))

    def test_run_failed(self):
        """a run fails on a failed test, a splat in a passing one, a run problem"""
        ok = {'status': 'pass', 'splats': []}
        self.assertFalse(kt.run_failed({'problems': [], 'tests': [ok, {'status': 'skip', 'splats': []}]}))
        self.assertTrue(kt.run_failed({'problems': [], 'tests': [ok, {'status': 'fail', 'splats': []}]}))
        self.assertTrue(kt.run_failed({'problems': [], 'tests': [{'status': 'pass', 'splats': ['x']}]}))
        self.assertTrue(kt.run_failed({'problems': ['VM killed'], 'tests': [ok]}))

    def test_load_run(self):
        """load_run reads DIR/results.json; none is an error naming DIR"""
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(SystemExit) as e:
                kt.load_run(d)
            self.assertIn('no results in %s' % d, str(e.exception))
            with open(os.path.join(d, 'results.json'), 'w') as f:
                json.dump({'label': 'base', 'mode': 'tdp', 'tests': []}, f)
            self.assertEqual(kt.load_run(d)['mode'], 'tdp')


class CommandLine(unittest.TestCase):
    """kmmu_tap.py count and check, as test.sh and run.sh call them."""

    def cli(self, *args):
        p = subprocess.run([sys.executable, TAP] + list(args), capture_output=True, text=True)
        return p.returncode, p.stdout

    def write(self, d, name, text):
        p = os.path.join(d, name)
        with open(p, 'w') as f:
            f.write(text)
        return p

    def test_count(self):
        """count: each problem a "not ok - STEP: ..." line and a failure; the sum last"""
        with tempfile.TemporaryDirectory() as d:
            good = self.write(d, 'test-good.log', GOOD)
            cut = self.write(d, 'test-cut.log', '1..4\nok 1 a\nnot ok 2 b\n')
            rc, out = self.cli('count', good)
            self.assertEqual((rc, out), (0, '2 passed, 0 failed, 1 skipped\n'))
            rc, out = self.cli('count', good, cut)
            self.assertEqual(out.splitlines(), ['not ok - cut: planned 4 tests, ran 2: the output stopped early',
                                                '3 passed, 2 failed, 1 skipped'])

    def test_count_table(self):
        """count --table: the table's last line, or one failure named"""
        with tempfile.TemporaryDirectory() as d:
            t = self.write(d, 'vm.log', 'table\n7 passed, 1 failed, 2 skipped\n')
            self.assertEqual(self.cli('count', '--table', 'the VM run', t)[1], '7 passed, 1 failed, 2 skipped\n')
            t = self.write(d, 'vm.log', 'the build failed\n')
            self.assertEqual(self.cli('count', '--table', 'the VM run', t)[1],
                             'not ok - the VM run produced no result table\n0 passed, 1 failed, 0 skipped\n')

    def test_check(self):
        """check: exit 0 on a good stream, 1 naming what is wrong"""
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(self.cli('check', self.write(d, 'a', GOOD)), (0, ''))
            rc, out = self.cli('check', self.write(d, 'b', '1..1\nBail out! gone\n'))
            self.assertEqual(rc, 1)
            self.assertIn('Bail out! gone', out)

    def test_run_failed(self):
        """run-failed DIR: exit 0 when the run failed"""
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, 'results.json'), 'w') as f:
                json.dump({'problems': [], 'tests': [{'status': 'pass', 'splats': ['x']}]}, f)
            self.assertEqual(self.cli('run-failed', d)[0], 0)
            with open(os.path.join(d, 'results.json'), 'w') as f:
                json.dump({'problems': [], 'tests': [{'status': 'pass', 'splats': []}]}, f)
            self.assertEqual(self.cli('run-failed', d)[0], 1)


# A made-up test module for the runner: its classes and methods are not in
# alphabetical order; each kind of outcome, and a setUpClass that fails.
MADE_UP = '''
import importlib.util
import sys
import unittest

spec = importlib.util.spec_from_file_location('kmmu_tap', %r)
kt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kt)


class Zeta(unittest.TestCase):
    def test_z(self):
        """passes"""

    def test_a(self):
        """fails"""
        self.assertEqual(1, 2)

    @unittest.skip('no reason to run')
    def test_m(self):
        """skips"""

    def test_b(self):
        """names itself"""
        self.tap_name = 'named after 42'

    def test_0(self):
        """not a # SKIP"""


class Alpha(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError('no fixture')

    def test_never(self):
        """never runs"""


class Mid(unittest.TestCase):
    def test_y(self):
        """skips inside"""
        self.skipTest('not here')

    @unittest.expectedFailure
    def test_x(self):
        """fails as expected"""
        self.assertEqual(1, 2)


if __name__ == '__main__':
    sys.exit(kt.main_tests(sys.modules[__name__]))
'''


def run_made_up(source):
    """Run a made-up test module of SOURCE (%r: the kmmu_tap.py to run it
    with): (exit status, its output's lines)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'test-made-up.py')
        with open(path, 'w') as f:
            f.write(source % TAP)
        p = subprocess.run([sys.executable, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
    return p.returncode, p.stdout.splitlines()


class Runner(unittest.TestCase):
    """main_tests and run_tests, the one runner of the unittest modules, on
    a made-up module run as a test module is."""

    @classmethod
    def setUpClass(cls):
        cls.rc, cls.lines = run_made_up(MADE_UP)
        cls.results = [x for x in cls.lines if x.startswith(('ok ', 'not ok '))]

    def after(self, line):
        """The "#   " lines after LINE."""
        i = self.lines.index(line) + 1
        j = i
        while j < len(self.lines) and self.lines[j].startswith('#   '):
            j += 1
        return self.lines[i:j]

    def test_failure(self):
        """a failing test: "not ok", its traceback as comment lines after it, exit status 1"""
        self.assertIn('not ok 2 fails', self.lines)
        self.assertTrue(any(x.startswith('#   AssertionError: 1 != 2') for x in self.after('not ok 2 fails')),
                        self.lines)
        self.assertEqual(self.rc, 1)

    def test_setupclass_error(self):
        """a setUpClass that fails: a "not ok" line of its own, its class's tests not run"""
        bad = [x for x in self.results if x.startswith('not ok ') and 'setUpClass' in x]
        self.assertEqual(bad, ['not ok 6 setUpClass (__main__.Alpha)'], self.lines)
        self.assertTrue(any('RuntimeError: no fixture' in x for x in self.after(bad[0])), self.lines)
        self.assertFalse(any('never runs' in x for x in self.lines))

    def test_skip(self):
        """@unittest.skip and self.skipTest: ok N DESC # SKIP WHY"""
        self.assertIn('ok 3 skips # SKIP no reason to run', self.results)
        self.assertIn('ok 7 skips inside # SKIP not here', self.results)

    def test_order(self):
        """the module's order: classes, then methods, as it defines them"""
        self.assertEqual([x.partition(' %d ' % n)[2] for n, x in enumerate(self.results, 1)],
                         ['passes', 'fails', 'skips # SKIP no reason to run', 'named after 42',
                          'not a \\# SKIP', 'setUpClass (__main__.Alpha)', 'skips inside # SKIP not here',
                          'fails as expected # TODO expected failure'])

    def test_stream(self):
        """the version first, the plan last, and kmmu_tap reads it: 3 passed, 2 failed, 3 skipped"""
        self.assertEqual((self.lines[0], self.lines[-1]), ('TAP version 13', '1..8'))
        s = kt.parse('\n'.join(self.lines))
        self.assertEqual((s.problems, s.counts()), ([], (3, 2, 3)))

    def test_all_pass(self):
        """a module whose tests pass: exit status 0"""
        rc, lines = run_made_up(MADE_UP.replace('self.assertEqual(1, 2)\n\n    @unittest.skip', '\n    @unittest.skip')
                                .replace("raise RuntimeError('no fixture')", 'pass'))
        self.assertEqual((rc, [x for x in lines if x.startswith('not ok') and 'TODO' not in x]), (0, []))

    def test_run_tests(self):
        """run_tests(suite, out): a suite's TAP to OUT"""
        class T(unittest.TestCase):
            def test_b(self):
                """fails"""
                self.assertEqual(1, 2)

            def test_a(self):
                """passes"""
        out = io.StringIO()
        rc = kt.run_tests(unittest.defaultTestLoader.loadTestsFromTestCase(T), out)
        lines = out.getvalue().splitlines()
        self.assertEqual((rc, lines[:3], lines[-1]), (1, ['TAP version 13', 'ok 1 passes', 'not ok 2 fails'], '1..2'))


if __name__ == '__main__':
    sys.exit(taptest.main(sys.modules[__name__]))
