# SPDX-License-Identifier: GPL-2.0
"""The base kernel's test results, kept across runs (vmrun.py run --cache).

The base kernel does not change when the series does: a test run on the same
base bzImage, with the same initramfs, list line, mode, accelerator, QEMU and
boot command line gives the same result (within what TCG timing allows).  So
scripts/run.sh asks vmrun.py to reuse the base's results of an earlier run
when every input that determines them is the same, and runs only the rest.
The patched kernel is never served from here.

An entry is KMMU_CACHE/base-results/<key[:2]>/<key>.json: {"format", "key",
"inputs" (what the key is the sha256 of), "date" (when the test ran),
"record" (the test's record as vmrun.py wrote it)}.

Only clean results are kept: a pass at the first attempt with no splat, or a
skip.  A failure, timeout, hang, splat or flaky pass on the base is what a
patched result gets compared with, and its evidence (console, sysrq dump,
the test's output) lives in that run's directory only: those tests run again
every time, so that the comparison is made in the same run, under the same
host load, with its logs at hand.  Tests of a boot that had a run problem
(VM killed, a splat outside any test) are not kept either.

A damaged entry (unreadable, not JSON, another key, inputs that do not hash
to its key, a result that is not clean) is ignored with a message, and
overwritten by the next clean run of that test.  An unusable cache directory
means every test runs, with a message; it never fails the run.  Entries not
used for PRUNE_DAYS days are deleted.
"""

import hashlib
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmmu_tap  # noqa: E402

FORMAT = 1
PRUNE_DAYS = 30
SUBDIR = 'base-results'

_sha_cache = {}


def file_sha256(path):
    """sha256 of a file's content (computed once per path, size and mtime)."""
    st = os.stat(path)
    k = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if k not in _sha_cache:
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
        _sha_cache[k] = h.hexdigest()
    return _sha_cache[k]


def key_of(inputs):
    """The key of a set of inputs: sha256 of their canonical JSON."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def reusable(rec):
    """A result that may be kept: a clean first-time pass or a skip."""
    o = kmmu_tap.outcome(rec)
    return o == 'skip' or (o == 'pass' and not kmmu_tap.flaky(rec))


class Cache:
    def __init__(self, top, log=None):
        self.dir = os.path.join(top, SUBDIR)
        self.log = log or (lambda m: print(m, file=sys.stderr))
        self.broken = None      # why the directory cannot be used, once known

    def _path(self, key):
        return os.path.join(self.dir, key[:2], key + '.json')

    def get(self, key):
        """(record, date) of a good entry for KEY, else None."""
        if self.broken:
            return None
        p = self._path(key)
        try:
            with open(p) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            if isinstance(e, NotADirectoryError) or not os.path.isdir(self.dir):
                self._broken('%s: %s' % (self.dir, e.strerror))
            else:
                self.log('note: base result cache: ignoring %s: %s' % (p, e.strerror or e))
            return None
        why = None
        try:
            e = json.loads(text)
        except ValueError as err:
            e, why = None, 'not JSON (%s)' % err
        if why is None:
            if not isinstance(e, dict) or e.get('format') != FORMAT:
                why = 'not a format-%d entry' % FORMAT
            elif e.get('key') != key:
                why = 'it names another key'
            elif not isinstance(e.get('inputs'), dict) or key_of(e['inputs']) != key:
                why = 'its inputs do not hash to its key'
            elif not isinstance(e.get('record'), dict) or not reusable(e['record']):
                why = 'its result is not a clean pass or skip'
            elif not isinstance(e.get('date'), str):
                why = 'it has no date'
        if why:
            self.log('note: base result cache: ignoring %s: %s; the test runs again' % (p, why))
            return None
        try:
            os.utime(p)         # used: not pruned
        except OSError:
            pass
        return e['record'], e['date']

    def put(self, key, inputs, rec, date=None):
        """Keep REC (when reusable) under KEY; False when it could not be written."""
        if self.broken or not reusable(rec):
            return False
        entry = {'format': FORMAT, 'key': key, 'inputs': inputs,
                 'date': date or time.strftime('%Y-%m-%d %H:%M %Z'),
                 'record': {k: v for k, v in rec.items() if k not in ('reused',)}}
        p = self._path(key)
        try:
            os.makedirs(os.path.dirname(p), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(p), prefix='.tmp-')
            with os.fdopen(fd, 'w') as f:
                json.dump(entry, f, indent=1)
            os.replace(tmp, p)
        except OSError as e:
            self._broken('cannot write %s: %s' % (p, e.strerror or e))
            return False
        return True

    def prune(self, days=PRUNE_DAYS):
        """Delete entries not used for DAYS days (and stale temporary files)."""
        if self.broken or not os.path.isdir(self.dir):
            return 0
        limit, n = time.time() - days * 86400, 0
        for sub in os.scandir(self.dir):
            if not sub.is_dir():
                continue
            for f in os.scandir(sub.path):
                try:
                    if f.stat().st_mtime < limit or (f.name.startswith('.tmp-') and
                                                     f.stat().st_mtime < time.time() - 3600):
                        os.unlink(f.path)
                        n += 1
                except OSError:
                    pass
        return n

    def _broken(self, why):
        if not self.broken:
            self.broken = why
            self.log('note: base result cache not used: %s; every base test runs' % why)
