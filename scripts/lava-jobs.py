#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""LAVA job definitions for the test matrix, from the same test list.

  lava-jobs.py write --list FILE --out DIR --kernel NAME=BZIMAGE... --initramfs FILE
                     [--modes "tdp shadow-mmu"] [--patched-modes mirror]
                     [--url URL] [--target tcg|kvm] [--shard-minutes N] [--series NAME]
  lava-jobs.py validate FILE...

write: one job per kernel x mode x shard.  A shard is one boot of the guest:
the tests of one group of the list (the tests that share boot parameters,
as scripts/vmrun.py boots them), cut so that no shard's tests can take more
than --shard-minutes together (their timeouts times their attempts); a cut
group boots once per shard with kmmu.only=<ids>.  The kernel command line is
the one scripts/vmrun.py gives (console, hugepages, the mode's parameters,
the group's), plus kmmu.tap=console: the guest's /init
(scripts/guest-init.sh) writes its kselftest TAP to the console, which is
what LAVA reads, and after each test a line "kmmu-result: <id>_<name>
pass|fail|skip" that the job's monitor turns into a LAVA test case.  The
per-test timeouts are the list's; the test action's timeout is their sum.

Device type qemu.  --target tcg (default): QEMU TCG, -cpu max (AMD SVM with
nested paging, as here); --target kvm: -enable-kvm -cpu host, for a lab's
x86 machines (Intel or AMD: the list's npt-off mode is AMD's).  The kernels
and the initramfs are named by --url (a web server the lab can reach, where
DIR/artifacts/ is put), with their sha256sum, so that a job runs exactly
the build it was written for.  "patched" runs --patched-modes too.

validate: each file through LAVA's own schema (lava_common.schemas.validate,
Debian package lava-common), strict, as lava-server checks a submission.
Exit status 1 when one fails, with the file and LAVA's message.
"""
import argparse
import hashlib
import os
import re
import shutil
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import kmmu_matrix  # noqa: E402
import vmrun  # noqa: E402  (the list parser, modes and command line the VM runs use)

TARGETS = {
    # QEMU TCG, as scripts/vmrun.py runs it here.  LAVA's qemu device type
    # ignores the "cpu" context for amd64 and gives no -cpu without KVM
    # (qemu64: no SVM, no nested KVM): -cpu max goes in extra_options.
    'tcg': {'no_kvm': True, 'extra_options': ['-cpu max', '-smp 2', '-accel tcg,thread=multi']},
    # A lab's x86 machine: the device type itself adds -cpu host -enable-kvm
    # when no_kvm is false (the host must allow nested virtualization).
    'kvm': {'no_kvm': False, 'extra_options': ['-smp 2']},
}
MEMORY_MB = 3072        # vmrun.py's -m 3G
BOOT_MINUTES = 5
DEPLOY_MINUTES = 10
MARGIN_SECONDS = 60     # per test, past its own timeout (vmrun.py's GRACE)


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def case_id(t):
    """The LAVA test case name of a test: <id>_<name>, in LAVA's alphabet."""
    return re.sub(r'[^-_a-zA-Z0-9.]', '_', '%d_%s' % (t['id'], t['name']))


def test_seconds(t):
    return t['timeout'] * (t['retries'] + 1) + MARGIN_SECONDS


def shards(group, limit):
    """Cut a group's tests into runs of at most limit seconds (one test alone
    may exceed it: a test is never cut)."""
    out, cur, total = [], [], 0
    for t in group['tests']:
        s = test_seconds(t)
        if cur and total + s > limit:
            out.append(cur)
            cur, total = [], 0
        cur.append(t)
        total += s
    if cur:
        out.append(cur)
    return out


def minutes(seconds):
    return {'minutes': max(1, -(-seconds // 60))}


def job(a, kernel, mode, group, tests, n_shards, shard, arts):
    # The guest runs its whole group unless told which tests (as vmrun.py does).
    whole = len(tests) == group['size']
    cmdline = vmrun.BASE_CMDLINE + vmrun.MODES[mode] + group['boot'] + \
        ['kmmu.group=%d' % group['n'], 'kmmu.tap=console']
    if not whole:
        cmdline.append('kmmu.only=' + ','.join(str(t['id']) for t in tests))
    test_s = sum(test_seconds(t) for t in tests)
    name = '%s-%s-%s-g%d%s' % (a.series, kernel, mode, group['n'],
                               '' if n_shards == 1 else '-s%d' % shard)
    images = {
        'kernel': {'url': arts[kernel]['url'], 'image_arg': '-kernel {kernel} -append "%s"' % ' '.join(cmdline)},
        'ramdisk': {'url': arts['initramfs']['url'], 'image_arg': '-initrd {ramdisk}'},
    }
    for key, art in (('kernel', arts[kernel]), ('ramdisk', arts['initramfs'])):
        if art.get('sha256'):
            images[key]['sha256sum'] = art['sha256']
    target = TARGETS[a.target]
    d = {
        'job_name': 'kvm-mmu %s' % name,
        'device_type': 'qemu',
        'visibility': 'public',
        'priority': 'medium',
        'timeouts': {
            'job': minutes(DEPLOY_MINUTES * 60 + BOOT_MINUTES * 60 + test_s + 300),
            'connection': {'minutes': 2},
        },
        'context': {
            'arch': 'amd64',
            'memory': MEMORY_MB,
            'netdevice': 'user',
            'no_kvm': target['no_kvm'],
            'extra_options': target['extra_options'],
        },
        'metadata': {
            'series': a.series,
            'kernel': kernel,
            'mode': mode,
            'group': group['n'],
            'shard': '%d/%d' % (shard, n_shards),
            'target': a.target,
            'tests': ' '.join(case_id(t) for t in tests),
        },
        'actions': [
            {'deploy': {'to': 'tmpfs', 'type': 'monitor', 'timeout': {'minutes': DEPLOY_MINUTES},
                        'images': images}},
            {'boot': {'method': 'qemu', 'media': 'tmpfs', 'timeout': {'minutes': BOOT_MINUTES}}},
            {'test': {
                'timeout': minutes(test_s),
                'monitors': [{
                    'name': re.sub(r'[^-_a-zA-Z0-9.]', '_', 'kvm-mmu-%s' % name),
                    'start': 'TAP version 13',
                    'end': 'kmmu-done',
                    'pattern': r'kmmu-result: (?P<test_case_id>[-_a-zA-Z0-9.]+) (?P<result>pass|fail|skip)',
                }],
            }},
        ],
    }
    return name, d


def cmd_write(a):
    tests = vmrun.parse_list(a.list)
    if not tests:
        raise SystemExit('error: %s lists no test' % a.list)
    kernels = {}
    for spec in a.kernel:
        k, sep, path = spec.partition('=')
        if not sep or not k or not path:
            raise SystemExit('error: --kernel takes NAME=BZIMAGE, not %r' % spec)
        kernels[k] = path
    modes = a.modes.split()
    patched_modes = a.patched_modes.split()
    for m in modes + patched_modes:
        if m not in vmrun.MODES:
            raise SystemExit('error: unknown mode %r (known: %s)' % (m, ' '.join(sorted(vmrun.MODES))))
    for path in list(kernels.values()) + [a.initramfs]:
        if not os.path.exists(path) and not a.allow_missing:
            raise SystemExit('error: %s does not exist (build it first: make run, or make build selftests)' % path)
    if os.path.exists(a.initramfs + '.groups.json'):
        # The guest runs tests by their number in the list it was packed with.
        import json
        packed = json.load(open(a.initramfs + '.groups.json'))
        if [[t['name'] for t in g['tests']] for g in packed] != \
           [[t['name'] for t in g['tests']] for g in vmrun.groups_of(tests)]:
            raise SystemExit('error: %s was packed from another test list than %s; pack it again (make run)'
                             % (a.initramfs, a.list))
    # Only now that the input is known good: the jobs of an earlier run go.
    art_dir = os.path.join(a.out, 'artifacts')
    jobs_dir = os.path.join(a.out, 'jobs')
    for d in (art_dir, jobs_dir):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    url = a.url or 'file://' + os.path.abspath(art_dir)
    arts = {}
    for name, path in list(kernels.items()) + [('initramfs', a.initramfs)]:
        fname = 'bzImage-%s' % name if name != 'initramfs' else 'initramfs.cpio.gz'
        art = {'url': '%s/%s' % (url.rstrip('/'), fname)}
        if os.path.exists(path):
            shutil.copyfile(path, os.path.join(art_dir, fname))
            art['sha256'] = sha256(path)
        arts[name] = art
    written = []
    for kernel, mode in kmmu_matrix.matrix(modes, patched_modes, list(kernels)):
        for g in vmrun.groups_of([t for t in tests if mode in t['modes']]):
            # groups_of numbers groups of the list it is given: the guest
            # knows them by their number in the whole list.
            whole = [x for x in vmrun.groups_of(tests) if x['boot'] == g['boot']][0]
            g = dict(g, n=whole['n'], size=len(whole['tests']))
            parts = shards(g, a.shard_minutes * 60)
            for i, part in enumerate(parts, 1):
                name, d = job(a, kernel, mode, g, part, len(parts), i, arts)
                path = os.path.join(jobs_dir, name + '.yaml')
                with open(path, 'w') as f:
                    f.write('# LAVA job: %s, written by scripts/lava-jobs.py from %s\n'
                            % (name, os.path.relpath(a.list, os.path.dirname(HERE))))
                    yaml.safe_dump(d, f, sort_keys=False, default_flow_style=False, width=1000)
                written.append(path)
    for p in written:
        print(p)
    return 0


def cmd_validate(a):
    try:
        from lava_common.schemas import validate
    except ImportError:
        raise SystemExit('error: no lava_common: install Debian\'s lava-common (scripts/deps.list, group lava)')
    bad = 0
    for path in a.files:
        try:
            with open(path) as f:
                data = yaml.safe_load(f)
            if not isinstance(data, dict):
                raise ValueError('not a YAML mapping')
            validate(data, strict=True)
            print('ok: %s' % path)
        except Exception as e:  # voluptuous.Invalid, yaml.YAMLError, ValueError
            bad += 1
            print('invalid: %s: %s' % (path, e))
    print('%d of %d job definitions valid against lava_common %s' % (
        len(a.files) - bad, len(a.files), lava_version()))
    return 1 if bad else 0


def lava_version():
    try:
        from lava_common.version import __version__
        return __version__
    except Exception:
        return '(version unknown)'


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    w = sub.add_parser('write')
    w.add_argument('--list', required=True)
    w.add_argument('--out', required=True)
    w.add_argument('--kernel', action='append', required=True, metavar='NAME=BZIMAGE')
    w.add_argument('--initramfs', required=True)
    w.add_argument('--modes', default='tdp shadow-mmu')
    w.add_argument('--patched-modes', default='')
    w.add_argument('--series', default='6.12')
    w.add_argument('--url', help='where the lab downloads DIR/artifacts/ from (default file://DIR/artifacts)')
    w.add_argument('--target', choices=sorted(TARGETS), default='tcg')
    w.add_argument('--shard-minutes', type=int, default=60)
    w.add_argument('--allow-missing', action='store_true',
                   help='write the jobs even when a kernel or the initramfs is not built (no checksum)')
    v = sub.add_parser('validate')
    v.add_argument('files', nargs='+')
    a = p.parse_args()
    return cmd_write(a) if a.cmd == 'write' else cmd_validate(a)


if __name__ == '__main__':
    sys.exit(main())
