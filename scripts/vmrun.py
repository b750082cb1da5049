#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run the KVM selftest list in QEMU (TCG, -cpu max: SVM with nested paging),
or, in the ept modes, in Bochs (Intel VMX with EPT: scripts/bochsrun.py).

  vmrun.py initramfs --bin DIR --out FILE [--list FILE]
      Pack busybox, scripts/guest-init.sh and the listed test binaries.
  vmrun.py run --kernel BZIMAGE --initramfs FILE --mode tdp|shadow-mmu|npt-off|ept...
               --out DIR [--label NAME] [--list FILE] [--only REGEX]
      Boot once per group of tests sharing boot parameters; collect TAP from
      the guest's second serial port; kill the VM when a test overruns its
      timeout (a hang) or the whole run overruns --max-seconds; scan the
      console for splats.  Writes DIR/results.json, DIR/results.tap and the
      raw console-gN.log / tap-gN.log files.

Exit status of run: 0 when every test passed or skipped and the console is
clean, 1 otherwise.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scanconsole  # noqa: E402
import basecache  # noqa: E402
import bochsrun  # noqa: E402
import kmmu_tap  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LIST = os.path.join(TOP, 'tests', 'kvm-tests.list')

# Kernel parameters of each mode.  kvm.tdp_mmu is 0444, so it has to be given
# at boot; npt-off runs the shadow MMU without two-dimensional paging.
# Every test gets this many more attempts after a failure (retry:N in the list
# overrides it, retry:0 turns it off): under TCG on a busy 2-core host a test
# can lose a timing race that has nothing to do with the kernel under test.
# A test that passes on a retry is reported as flaky, never as a plain pass,
# and one that fails every attempt fails the run.
DEFAULT_RETRIES = int(os.environ.get('KMMU_RETRIES', '1'))

MODES = {
    'tdp': ['kvm.tdp_mmu=Y'],
    'shadow-mmu': ['kvm.tdp_mmu=N'],
    'npt-off': ['kvm_amd.npt=0'],
    # The series' software backend for mirror page tables (6.12 series,
    # CONFIG_KVM_MMU_MIRROR_SW): KVM_X86_SW_PROTECTED_VM VMs get mirror roots,
    # and every 7th propagation fails with -EBUSY to exercise the retry path.
    'mirror': ['kvm.tdp_mmu=Y', 'kvm.mirror_sw=1', 'kvm.mirror_sw_inject_busy=7'],
    # Intel VMX with EPT, in Bochs (QEMU's TCG has no VMX): EPT with A/D bits
    # and PML (the CPU model has both); A/D bits on, PML off; A/D bits off,
    # which turns PML off too (KVM needs A/D bits for PML) and makes KVM
    # track accesses by clearing the RWX bits of SPTEs.
    'ept': ['kvm.tdp_mmu=Y'],
    'ept-nopml': ['kvm.tdp_mmu=Y', 'kvm_intel.pml=0'],
    'ept-noad': ['kvm.tdp_mmu=Y', 'kvm_intel.eptad=0'],
}
# Modes that boot in Bochs instead of QEMU.
BOCHS_MODES = {'ept', 'ept-nopml', 'ept-noad'}
# A mode the base kernel can't run (it lacks what the mode needs) is compared
# with the base kernel's run of the mode it extends.
BASE_MODE_OF = {'mirror': 'tdp'}
# Modes a test runs in only when its line asks for them (mode:M or also:M).
# The mirror mode changes nothing for VMs other than KVM_X86_SW_PROTECTED_VM
# ones, so a test that creates no such VM would only repeat its tdp run there.
OPT_IN_MODES = {'mirror'} | BOCHS_MODES
# no_timer_check: under TCG on a loaded host the boot-time IO-APIC timer check
# can miss its window and panic ("IO-APIC + timer doesn't work!"), as seen here.
BASE_CMDLINE = ['console=ttyS0,115200', 'panic=-1', 'hugepagesz=2M', 'hugepages=256',
                'printk.time=1', 'loglevel=7', 'no_timer_check']
# A group that reserves 1G hugetlb pages on its boot line (hugepagesz=1G
# hugepages=N) boots with more memory: the kernel takes them from memblock,
# and in 3G every 1G-aligned block holds the kernel, the initramfs (QEMU puts
# it just below 2G) or the ACPI tables at the top (seen: "HugeTLB: allocating
# 1 of page size 1.00 GiB failed").  With 5G, QEMU's pc machine puts 2G above
# 4G, and the early allocations, top-down, leave [4G, 5G) free.
GIGANTIC_MEM_GB = 5


def group_mem(mem, boot):
    """QEMU -m for a group: mem, or GIGANTIC_MEM_GB if its boot line
    reserves 1G hugetlb pages and mem is smaller."""
    if 'hugepagesz=1G' not in boot:
        return mem
    m = re.fullmatch(r'(\d+)([MG]?)', mem)
    mb = int(m.group(1)) * (1024 if m.group(2) == 'G' else 1) if m else 0
    return mem if mb >= GIGANTIC_MEM_GB * 1024 else '%dG' % GIGANTIC_MEM_GB


BOOT_TIMEOUT = 180      # seconds from QEMU start to the guest's first TAP line
GRACE = 60              # seconds past a test's own timeout before the VM is killed
# Bochs: about 2 minutes from start to the first TAP line on an idle host
# (GRUB reads the initramfs through the emulated BIOS), 4 with a kernel build
# beside it.  Its guest clock follows the instructions executed (clock
# sync=none, the TSC runs at bochsrun's ips): on a busy host it runs at half
# the wall clock's speed, so the host's limits for a test (given in guest
# seconds by the list) are stretched by BOCHS_SLOWDOWN.
BOCHS_BOOT_TIMEOUT = 900
BOCHS_SLOWDOWN = float(os.environ.get('KMMU_BOCHS_SLOWDOWN', '3'))

# ------------------------------------------------------------ accelerator
#
# KMMU_ACCEL=auto (default) | kvm | tcg.  The list's timeouts are sized for
# TCG, which runs guest code roughly 10 to 50 times slower than hardware
# virtualization; with kvm they are divided by KVM_TIMEOUT_DIVISOR (a margin
# left for the exits of the nested guests the tests run), KVM_TIMEOUT_MIN
# seconds at least.
KVM_TIMEOUT_DIVISOR = 4
KVM_TIMEOUT_MIN = 30
# What a list line can need of the guest CPU (need:svm, need:vmx).
CPU_FEATURES = {'svm', 'vmx'}
# Modes that need one: kvm_amd.npt=0 is AMD's.
MODE_NEEDS = {'npt-off': 'svm'}
KVM_GET_API_VERSION = 0xAE00
KVM_API_VERSION = 12


def _read(path):
    try:
        with open(path, errors='replace') as f:
            return f.read()
    except OSError:
        return None


def host_cpu(root='/'):
    """(vendor, flags, model name) of the host's first CPU in ROOT/proc/cpuinfo."""
    text = _read(os.path.join(root, 'proc/cpuinfo')) or ''
    info = {}
    for line in text.splitlines():
        k, sep, v = line.partition(':')
        if not sep:
            if info:
                break       # the first processor is enough
            continue
        info.setdefault(k.strip(), v.strip())
    vendor = {'GenuineIntel': 'Intel', 'AuthenticAMD': 'AMD', 'HygonGenuine': 'AMD'}.get(
        info.get('vendor_id', ''), info.get('vendor_id') or 'unknown')
    return vendor, set(info.get('flags', '').split()), info.get('model name', '')


def kvm_works(root='/'):
    """None when ROOT/dev/kvm answers KVM_GET_API_VERSION with 12, else why not.
    (In a made-up ROOT, /dev/kvm is a regular file holding the answer.)"""
    dev = os.path.join(root, 'dev/kvm')
    try:
        st = os.stat(dev)
    except OSError:
        return 'no /dev/kvm'
    import stat
    if stat.S_ISCHR(st.st_mode):
        import fcntl
        try:
            fd = os.open(dev, os.O_RDWR | os.O_CLOEXEC)
        except OSError as e:
            return '/dev/kvm cannot be opened (%s)' % e.strerror
        try:
            v = fcntl.ioctl(fd, KVM_GET_API_VERSION)
        except OSError as e:
            return '/dev/kvm does not answer KVM_GET_API_VERSION (%s)' % e.strerror
        finally:
            os.close(fd)
    else:
        try:
            v = int((_read(dev) or '').strip() or -1)
        except ValueError:
            v = -1
    if v != KVM_API_VERSION:
        return '/dev/kvm answers API version %d, not %d' % (v, KVM_API_VERSION)
    return None


def detect_accel(want='auto', root='/'):
    """The accelerator to boot with: a dict with 'accel' (kvm, tcg), 'cpu'
    (QEMU's -cpu), 'features' (what the guest CPU offers of CPU_FEATURES),
    'guest' (its vendor, said in the report), 'host' (the host CPU's vendor),
    'why' and 'timeout_divisor'.  kvm only when /dev/kvm works and the host
    offers nested virtualization: vmx or svm in /proc/cpuinfo, and kvm_intel's
    or kvm_amd's "nested" parameter on.  ROOT: a made-up tree for the tests."""
    if want not in ('auto', 'kvm', 'tcg'):
        raise SystemExit('error: KMMU_ACCEL must be auto, kvm or tcg, not %r' % want)
    vendor, flags, model = host_cpu(root)
    why = kvm_works(root)
    if why is None:
        feat = 'vmx' if 'vmx' in flags else 'svm' if 'svm' in flags else None
        if not feat:
            why = 'the host CPU (%s) offers no vmx or svm to guests' % vendor
        else:
            mod = 'kvm_intel' if feat == 'vmx' else 'kvm_amd'
            nested = (_read(os.path.join(root, 'sys/module', mod, 'parameters/nested')) or '').strip()
            if nested not in ('Y', '1'):
                why = '%s nested=%s: no nested virtualization' % (mod, nested or '(not loaded)')
    if want == 'tcg' or (want == 'auto' and why):
        return {'accel': 'tcg', 'cpu': 'max', 'features': ['svm'], 'host': vendor,
                'guest': 'AMD (emulated by QEMU TCG, -cpu max: SVM with nested paging)',
                'why': 'KMMU_ACCEL=tcg' if want == 'tcg' else 'no usable KVM: ' + why,
                'timeout_divisor': 1}
    if why:
        raise SystemExit('error: KMMU_ACCEL=kvm, but %s (KMMU_ACCEL=auto falls back to TCG)' % why)
    return {'accel': 'kvm', 'cpu': 'host', 'features': [feat], 'host': vendor,
            'guest': '%s (-cpu host: %s)' % (vendor, model or vendor),
            'why': '/dev/kvm works and the host offers nested %s' % feat,
            'timeout_divisor': KVM_TIMEOUT_DIVISOR}


def scaled_timeout(t, accel):
    """A test's timeout under ACCEL (the guest applies the same rule)."""
    d = accel.get('timeout_divisor', 1) if accel else 1
    return t['timeout'] if d == 1 else max(KVM_TIMEOUT_MIN, t['timeout'] // d)


def unmet_need(t, mode, accel):
    """Why the guest CPU cannot run test T in MODE, or None."""
    have = set(accel['features'])
    for need in t.get('needs', []) + ([MODE_NEEDS[mode]] if mode in MODE_NEEDS else []):
        if need not in have:
            return 'needs %s%s: the guest CPU is %s (%s)' % (
                need, ' (mode %s)' % mode if need not in t.get('needs', []) else '',
                accel['guest'].split(' (')[0], accel['accel'] + ', -cpu ' + accel['cpu'])
    return None


def parse_list(path):
    """Parse the test list.  Returns a list of dicts in file order."""
    tests = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) < 3:
                raise SystemExit('%s:%d: expected "name timeout boot-params [args]"' % (path, lineno))
            name, timeout, boot = fields[0], fields[1], fields[2]
            if not timeout.isdigit():
                raise SystemExit('%s:%d: timeout must be seconds, got %r' % (path, lineno, timeout))
            params = [] if boot == '-' else boot.split(',')
            modes = [p[5:] for p in params if p.startswith('mode:')]
            also = [p[5:] for p in params if p.startswith('also:')]
            retries = [p[6:] for p in params if p.startswith('retry:')]
            yields = [p[6:] for p in params if p.startswith('yield:')]
            if len(yields) > 1 or (yields and not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*(\+[A-Za-z_][A-Za-z0-9_]*)*',
                                                               yields[0])):
                raise SystemExit('%s:%d: yield:SYM[+SYM...] takes function names, once' % (path, lineno))
            needs = [p[5:] for p in params if p.startswith('need:')]
            for x in needs:
                if x not in CPU_FEATURES:
                    raise SystemExit('%s:%d: need:%s: known needs are %s' % (
                        path, lineno, x, ', '.join(sorted(CPU_FEATURES))))
            if retries and not (len(retries) == 1 and retries[0].isdigit()):
                raise SystemExit('%s:%d: retry:N takes one number' % (path, lineno))
            for m in modes + also:
                if m not in MODES:
                    raise SystemExit('%s:%d: unknown mode %r' % (path, lineno, m))
            if modes and also:
                raise SystemExit('%s:%d: mode:M names every mode already; also:M adds to the default ones'
                                 % (path, lineno))
            tests.append({
                'id': len(tests) + 1,
                'name': name,
                'timeout': int(timeout),
                'boot': [p for p in params if not p.startswith(('mode:', 'also:', 'retry:', 'need:', 'yield:'))],
                'yield': yields[0].split('+') if yields else [],
                'retries': int(retries[0]) if retries else DEFAULT_RETRIES,
                'modes': modes or sorted(set(MODES) - OPT_IN_MODES | set(also)),
                'args': ' '.join(fields[3:]),
                'needs': sorted(set(needs)),
                # The line as it determines the test's result (comment and
                # spacing aside): part of the key of a cached base result.
                'line': ' '.join(fields),
            })
    return tests


def groups_of(tests):
    """Group tests by boot parameters, keeping list order within a group."""
    groups = []
    for t in tests:
        for g in groups:
            if g['boot'] == t['boot']:
                g['tests'].append(t)
                break
        else:
            groups.append({'boot': t['boot'], 'tests': [t]})
    for n, g in enumerate(groups):
        g['n'] = n
    return groups


def test_key(t):
    return '%s %s' % (t['name'], t['args']) if t['args'] else t['name']


# ---------------------------------------------------------------- initramfs

def cmd_initramfs(a):
    tests = parse_list(a.list)
    busybox = shutil.which('busybox') or '/bin/busybox'
    out = subprocess.run(['file', '-L', busybox], capture_output=True, text=True).stdout \
        if shutil.which('file') else 'statically linked'
    if 'statically linked' not in out and 'static-pie' not in out:
        raise SystemExit('error: %s is not static; install busybox-static' % busybox)
    with tempfile.TemporaryDirectory() as d:
        for sub in ('bin', 'kvm', 'tests', 'proc', 'sys', 'dev', 'tmp', 'etc'):
            os.makedirs(os.path.join(d, sub))
        shutil.copy(busybox, os.path.join(d, 'bin', 'busybox'))
        shutil.copy(os.path.join(TOP, 'scripts', 'guest-init.sh'), os.path.join(d, 'init'))
        os.chmod(os.path.join(d, 'init'), 0o755)
        missing = []
        for t in tests:
            src = os.path.join(a.bin, t['name'])
            dst = os.path.join(d, 'kvm', t['name'])
            if os.path.exists(dst):
                continue
            if not os.path.exists(src):
                missing.append(t['name'])
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(src, dst)
        if missing:
            raise SystemExit('error: test binaries missing in %s: %s' % (a.bin, ' '.join(missing)))
        for g in groups_of(tests):
            with open(os.path.join(d, 'tests', 'group-%d.list' % g['n']), 'w') as f:
                for t in g['tests']:
                    f.write('%d\t%s\t%d\t%d\t%s\t%s\n' % (t['id'], t['name'], t['timeout'], t['retries'],
                                                        '+'.join(t.get('yield', [])) or '-', t['args']))
        with open(os.path.join(d, 'tests', 'groups.json'), 'w') as f:
            json.dump(groups_of(tests), f)
        # The same files give the same bytes (the base kernel's cached
        # results are keyed by the initramfs' sha256): one mtime for all,
        # sorted names, no inode or device numbers, no gzip time stamp.
        for root, dirs, files in os.walk(d, topdown=False):
            for x in files + dirs + ([] if root != d else ['.']):
                os.utime(os.path.join(root, x), (0, 0), follow_symlinks=False)
        find = subprocess.Popen('find . -print0 | LC_ALL=C sort -z', shell=True, cwd=d,
                                stdout=subprocess.PIPE)
        with open(a.out, 'wb') as outf:
            cpio = subprocess.Popen(['cpio', '--null', '-o', '-H', 'newc', '--quiet', '--reproducible',
                                     '-R', '0:0'], cwd=d, stdin=find.stdout, stdout=subprocess.PIPE)
            gz = subprocess.run(['gzip', '-1', '-n'], stdin=cpio.stdout, stdout=outf)
            cpio.wait()
            find.wait()
            if cpio.returncode or gz.returncode or find.returncode:
                raise SystemExit('error: packing the initramfs failed')
    # The guest runs tests by their number in the list it was packed with:
    # keep that list beside the initramfs, so that run can refuse another.
    with open(a.out + '.groups.json', 'w') as f:
        json.dump(groups_of(tests), f)
    print(a.out)
    return 0


# ---------------------------------------------------------------------- run

def parse_tap(text):
    """Return (results by id, begun ids in order, boot info lines) of the
    guest's TAP (guest-init.sh; read by kmmu_tap.parse, its "# kmmu-"
    comments are the markers)."""
    results, begun, info = {}, [], []
    stream = kmmu_tap.parse(text)
    for _, line in stream.comments:
        if line.startswith('# kmmu-begin '):
            begun.append(int(line.split()[2]))
        elif line.startswith('# kmmu-'):
            info.append(line[2:])
    for r in stream.results:
        if r.number is None:
            continue
        directive = r.comment or ''
        if r.ok:
            status = 'skip' if r.directive == 'SKIP' else 'pass'
        else:
            status = 'timeout' if directive.startswith('TIMEOUT') else 'fail'
        secs = re.search(r'time=([\d.]+)s', directive)
        results[r.number] = {'status': status, 'detail': directive,
                             'secs': float(secs.group(1)) if secs else None}
    return results, begun, info


def test_output(text, tid):
    """The '# ' lines a test printed, between its begin marker and its result."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith('# kmmu-begin %d ' % tid):
            inside = True
            continue
        if inside:
            depth, kind, _ = kmmu_tap.parse_line(line)
            if kind == 'result' and depth == 0:
                break
            out.append(line[2:] if line.startswith('# ') else line)
    return out


# Figures a test prints, kept in its record ('figures': {name: value}) for
# make bench: kvm-extra tests print "bench: NAME VALUE"; upstream tests print
# them in their own words, of which these are the ones the series is about.
UPSTREAM_FIGURES = [
    # dirty_log_perf_test: the time KVM_SET_USER_MEMORY_REGION takes to turn
    # dirty logging off (where huge pages are recovered), in seconds.
    (re.compile(r'Disabling dirty logging time: ([0-9.]+)s$'), 'disable_dirty_log_s'),
    # ... and the populate, enable and dirty-log times, the direct TDP MMU
    # paths that mirror SPTEs must leave as fast as they were.
    (re.compile(r'Populate memory time: ([0-9.]+)s$'), 'populate_s'),
    (re.compile(r'Enabling dirty logging time: ([0-9.]+)s$'), 'enable_dirty_log_s'),
    (re.compile(r'Get dirty log over [0-9]+ iterations took ([0-9.]+)s'), 'get_dirty_log_s'),
]
_BENCH = re.compile(r'bench: (\S+) (.*)$')


def figures(lines):
    """{name: value} of the figures in a test's output (test_output())."""
    out = {}
    for line in lines:
        line = line.rstrip()
        m = _BENCH.match(line)
        if m:
            out[m.group(1)] = m.group(2)
        for rx, name in UPSTREAM_FIGURES:
            m = rx.match(line)
            if m:
                out[name] = m.group(1)
    return out


# Frames that say nothing about where a thread waits or loops: the scheduler
# and the system call entry.
_DULL_FRAME = re.compile(r'^(__schedule|schedule|schedule_\w+|preempt_schedule\w*|do_syscall_64|'
                         r'x64_sys_call|entry_SYSCALL_64\w*|ret_from_fork\w*|0x0)$')


def timeout_threads(lines):
    """One line on a killed test's threads, from the samples guest-init.sh put
    in its output ('[timeout] ...'): for each thread of the last sample its
    state, the CPU ticks it used between the first and the last sample (user
    and system), and the top of its kernel stack.  A thread that used ticks
    was running (a loop); one that used none sleeps where its stack says."""
    samples, cur, tid = [], None, None
    for line in lines:
        if not line.startswith('[timeout] '):
            continue
        body = line[len('[timeout] '):]
        if body.startswith('sample '):
            cur = {}
            samples.append(cur)
            continue
        m = re.match(r'tid (\d+) (.*) state (\S) utime (\d+) stime (\d+) wchan ?(\S*)$', body)
        if m and cur is not None:
            tid = m.group(1)
            cur[tid] = {'comm': m.group(2), 'state': m.group(3), 'utime': int(m.group(4)),
                        'stime': int(m.group(5)), 'wchan': m.group(6), 'frames': []}
            continue
        m = re.match(r'\s+\[<[0-9a-f]+>\] ([\w.]+)', body)
        if m and cur is not None and tid in cur:
            cur[tid]['frames'].append(m.group(1))
    if not samples or not samples[-1]:
        return ''
    first, last = samples[0], samples[-1]
    parts = []
    for tid, t in last.items():
        f = first.get(tid, t)
        top = [x for x in t['frames'] if not _DULL_FRAME.match(x)][:3]
        where = ' < '.join(top) or t['wchan'] or '-'
        parts.append('%s %s %s +%du/+%ds %s' % (tid, t['comm'], t['state'], t['utime'] - f['utime'],
                                                 t['stime'] - f['stime'], where))
    return '; '.join(parts)


# ------------------------------------------------------- hang evidence

# The sysrq keys sent, in this order, to a guest that stopped answering:
# l, every CPU's backtrace (an NMI, so a CPU spinning with interrupts off
# still answers: where a lock is spun on); w, the tasks blocked in D state
# (who waits, on what); d, the locks lockdep sees held (who holds mmu_lock);
# t, every task, last because it is the longest.
SYSRQ_KEYS = 'lwdt'
SYSRQ_SETTLE = 3        # seconds of console silence that end one key's output
SYSRQ_MAX = 20          # seconds at most for one key's output


def _console_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def qmp_sysrq(sock_path, console, keys=SYSRQ_KEYS):
    """Ask the guest kernel for sysrq KEYS through QEMU's QMP socket, the
    way a person at the keyboard would (alt+sysrq+key on the emulated PS/2
    keyboard).  The sysrq handler runs from the keyboard interrupt, so it
    answers when no guest process can run any more (both vCPUs spinning on
    mmu_lock, for instance), which the guest's own timeout dump cannot.
    Waits after each key until the console has been quiet SYSRQ_SETTLE
    seconds.  Returns (keys sent, error or None)."""
    sent = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(sock_path)
            f = s.makefile('rw')

            def call(cmd, args=None):
                msg = {'execute': cmd}
                if args:
                    msg['arguments'] = args
                f.write(json.dumps(msg) + '\n')
                f.flush()
                while True:
                    reply = json.loads(f.readline())
                    if 'return' in reply or 'error' in reply:
                        return reply
                    # An asynchronous event: not the answer.

            json.loads(f.readline())        # the greeting
            call('qmp_capabilities')
            for k in keys:
                before = _console_size(console)
                r = call('send-key', {'keys': [{'type': 'qcode', 'data': x}
                                               for x in ('alt', 'sysrq', k)]})
                if 'error' in r:
                    return sent, 'send-key %s: %s' % (k, r['error'].get('desc'))
                sent.append(k)
                start = last_change = time.time()
                size = before
                while time.time() - start < SYSRQ_MAX:
                    time.sleep(0.5)
                    n = _console_size(console)
                    if n != size:
                        size, last_change = n, time.time()
                    elif time.time() - last_change >= SYSRQ_SETTLE and n > before:
                        break
    except (OSError, ValueError) as e:
        return sent, 'QMP: %s' % e
    return sent, None


_FRAME = re.compile(r'(?<![\w.])([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+)')
_SRC_PREFIX = re.compile(r'(?:\S*/)?trees/(?:base|patched|kasan)/(?:src|build)/|^(?:\.\./)+src/')


def decode_frames(lines, vmlinux):
    """file:line of every frame (func+0x1a/0x80) in LINES, with the kernel's
    own scripts/decode_stacktrace.sh and the build's vmlinux (debug info:
    configs/debug.config).  Returns {frame: 'path/file.c:123'}; empty when
    there is no vmlinux or no decoder."""
    frames = sorted({m.group(1) for line in lines for m in _FRAME.finditer(line)})
    if not frames or not vmlinux or not os.path.exists(vmlinux):
        return {}
    src = os.path.join(os.path.dirname(os.path.abspath(vmlinux)), 'source')
    script = os.path.join(src, 'scripts', 'decode_stacktrace.sh')
    if not os.path.exists(script):
        return {}
    try:
        out = subprocess.run(['bash', script, vmlinux, os.path.realpath(src)],
                             input=''.join(' %s\n' % f for f in frames), capture_output=True,
                             text=True, timeout=300).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        return {}
    decoded = {}
    for f, line in zip(frames, out):
        m = re.search(r'\(((?:\S+:\d+(?: \(discriminator \d+\))? ?)+)\)\s*$', line)
        if not m:
            continue
        # Objects a seeded build directory copied, or that ccache served from
        # the other tree, name the other tree's paths: the files are the same
        # there (only the series' files differ, and those were compiled
        # here), so show them relative to the tree.
        chain = [_SRC_PREFIX.sub('', x) for x in re.findall(r'\S+:\d+', m.group(1))]
        # addr2line -i: the innermost inlined code first, the frame's own
        # function last.  Name the function's line, and where it was inlined.
        decoded[f] = chain[-1] + (' (inlined: %s)' % chain[0] if len(chain) > 1 else '')
    return decoded


_DULL_SPLAT_FRAME = re.compile(r'^(dump_stack\w*|show_stack|__warn|warn_slowpath\w*|report_bug|'
                               r'handle_bug|exc_invalid_op|asm_exc_\w+|nmi_\w+|\w*_nmi\w*|'
                               r'lapic_nmi_handler|default_do_nmi|exc_nmi|end_repeat_nmi|'
                               r'\w*backtrace\w*|sysrq_\w+|__handle_sysrq|\w*show_regs|'
                               r'sched_show_task|show_state_filter|print_\w+|watchdog_timer_fn|'
                               r'__hrtimer_run_queues|hrtimer_interrupt|__sysvec_\w+|sysvec_\w+|'
                               r'asm_sysvec_\w+|kbd_event|input_\w+|atkbd_\w+|serio_\w+|i8042_\w+|ps2_\w+|'
                               r'__handle_irq_event_percpu|handle_irq_event\w*|handle_edge_irq|'
                               r'__common_interrupt|common_interrupt|asm_common_interrupt|'
                               r'irq_exit_rcu|__irq_exit_rcu|handle_softirqs|__do_softirq|'
                               r'__schedule|schedule\w*|do_syscall_64|x64_sys_call|'
                               r'entry_SYSCALL_64\w*|ret_from_fork\w*|kthread|'
                               r'lockdep_\w+|__lock_acquire|lock_acquire|rcu_\w+|update_process_times|'
                               r'tick_\w+|\w*_tick\w*)\+')


_TRACE_LINE = re.compile(r'^\s*(\? )?([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+)|^RIP: \w+:([A-Za-z_][\w.]*\+0x[0-9a-f]+/0x[0-9a-f]+)')


def _top_frames(lines, decoded, most=4):
    """The first frames of a trace that say where it happened, with file:line:
    reliable ones (ORC) only when there are any, else the '?' guesses."""
    sure, guessed = [], []
    for line in lines:
        m = _TRACE_LINE.match(_strip_prefix(line))
        if not m:
            continue
        f = m.group(2) or m.group(3)
        if _DULL_SPLAT_FRAME.match(f):
            continue
        item = '%s%s' % (f.split('+')[0], ' ' + decoded[f] if f in decoded else '')
        (guessed if m.group(1) else sure).append(item)
    out = sure or guessed
    # A RIP line and the trace's first frame name the same function.
    dedup = [x for i, x in enumerate(out) if i == 0 or x != out[i - 1]]
    return dedup[:most]


def splat_evidence(lines, findings, decoded, dump_line=None):
    """For each finding, the splat's first line and the top frames of its
    trace (the lines up to the next finding or 80 lines on) with file:line.
    For a sysrq dump (lines from DUMP_LINE on): a line per CPU backtrace
    (sysrq l) and per blocked task (sysrq w), with its top frames."""
    ev = []
    starts = [f['line'] for f in findings] + [len(lines) + 1]
    for i, f in enumerate(findings):
        end = min(starts[i + 1] - 1, f['line'] + 80, dump_line or len(lines))
        top = _top_frames(lines[f['line']:end], decoded)
        ev.append('%s: %s%s' % (f['kind'], _strip_prefix(f['text']),
                                (' @ ' + ' < '.join(top)) if top else ''))
    if dump_line is not None:
        sect, body = None, []

        def flush():
            if sect:
                top = _top_frames(body, decoded)
                ev.append('%s: %s' % (sect, ' < '.join(top) if top else '(no frames)'))
        key = None      # the sysrq key whose answer this is
        for line in lines[dump_line:]:
            t = _strip_prefix(line.rstrip())
            if t.startswith('sysrq: '):
                flush()
                sect, body = None, []
                # l: every CPU's backtrace; w: the blocked tasks.  d (locks
                # held) and t (every task) stay in the console only.
                key = ('l' if 'backtrace of all active CPUs' in t else
                       'w' if 'Blocked State' in t else None)
                continue
            m = re.match(r'NMI backtrace for cpu (\d+)', t)
            m2 = re.match(r'task:(\S+)\s+state:(\S)', t)
            if key == 'l' and m:
                flush()
                sect, body = 'sysrq-l cpu %s' % m.group(1), []
            elif key == 'w' and m2:
                flush()
                sect, body = 'sysrq-w task %s (%s)' % (m2.group(1), m2.group(2)), []
            elif sect:
                body.append(line)
        flush()
    return ev


def _strip_prefix(text):
    """A console line without its printk time stamp and caller id (the
    prefix the scanner allows for)."""
    return re.sub(scanconsole._PREFIX, '', text.strip())


def boot_group(a, g, outdir, deadline, only=None, tag=''):
    console = os.path.join(outdir, 'console-g%d%s.log' % (g['n'], tag))
    tap = os.path.join(outdir, 'tap-g%d%s.log' % (g['n'], tag))
    for p in (console, tap):
        if os.path.exists(p):
            os.unlink(p)
    bochs = a.mode in BOCHS_MODES
    cmdline = BASE_CMDLINE + (bochsrun.cmdline_extra(a.ips) if bochs else []) + MODES[a.mode] + \
        g['boot'] + ['kmmu.group=%d' % g['n']]
    qmp_dir = tempfile.mkdtemp(prefix='kmmu-qmp-')      # a short path: sun_path is 108 bytes
    qmp = os.path.join(qmp_dir, 'qmp.sock')
    if only:
        cmdline.append('kmmu.only=' + ','.join(str(i) for i in only))
    if a.no_retry:
        cmdline.append('kmmu.noretry=1')
    if a.accel_info['timeout_divisor'] != 1:
        cmdline.append('kmmu.tdiv=%d' % a.accel_info['timeout_divisor'])
    if a.inject:
        cmdline.append('kmmu.inject=' + a.inject)
        if a.inject == 'hang':
            # The injected hang should be reported by the kernel's own
            # detectors within the self-test's short limit: a hung task
            # after 10 s, an RCU stall after 10 s (the config's 60 s stay
            # for the real runs).
            cmdline += ['sysctl.kernel.hung_task_timeout_secs=10',
                        'rcupdate.rcu_cpu_stall_timeout=10']
    accel = 'kvm' if a.accel_info['accel'] == 'kvm' else 'tcg,thread=multi'
    qemu = [a.qemu, '-accel', accel, '-cpu', a.accel_info['cpu'], '-smp', str(a.smp),
            '-m', group_mem(a.mem, g['boot']), '-no-user-config', '-nodefaults', '-display', 'none', '-no-reboot',
            '-kernel', a.kernel, '-initrd', a.initramfs,
            '-serial', 'file:' + console, '-serial', 'file:' + tap,
            '-qmp', 'unix:%s,server=on,wait=off' % qmp,
            '-append', ' '.join(cmdline)]
    boot_timeout, slowdown, watch = BOOT_TIMEOUT, 1, None
    if bochs:
        # The same console and TAP files, from Bochs' com1 and com2; the
        # kernel, initramfs and command line go on a GRUB ISO.
        boot_timeout, slowdown = BOCHS_BOOT_TIMEOUT, BOCHS_SLOWDOWN
        base = os.path.join(outdir, 'bochs-g%d%s' % (g['n'], tag))
        iso = bochsrun.make_iso(a.kernel, a.initramfs, ' '.join(cmdline), base + '.iso', outdir)
        log = base + '.log'
        rc = bochsrun.write_bochsrc(base + '.rc', iso, console, tap, log, cpu=a.bochs_cpu,
                                    smp=a.smp, mem=a.bochs_mem, ips=a.ips)
        start = time.time()
        proc = bochsrun.start(rc, base + '.err')
        watch = bochsrun.LogWatch(log)
    else:
        with open(os.path.join(outdir, 'qemu-g%d%s.cmd' % (g['n'], tag)), 'w') as f:
            f.write(' '.join(qemu) + '\n')
        start = time.time()
        proc = subprocess.Popen(qemu, stdout=subprocess.DEVNULL, stderr=open(
            os.path.join(outdir, 'qemu-g%d%s.err' % (g['n'], tag)), 'w'))
    killed = None
    dump = None
    begun_at = {}
    while proc.poll() is None:
        # Often at first (a guest that fails at once, or a fake QEMU in the
        # harness's tests), then once a second.
        time.sleep(0.1 if time.time() - start < 3 else 1)
        now = time.time()
        text = open(tap, errors='replace').read() if os.path.exists(tap) else ''
        results, begun, _ = parse_tap(text)
        if a.progress:
            for tid in results:
                a.progress.result(tid, results[tid])
        if not text and now - start > boot_timeout:
            killed = 'no output from the guest %d s after boot: boot hang' % boot_timeout
        if watch and watch.reset():
            # QEMU's -no-reboot: a machine that resets (panic=-1, a triple
            # fault) has stopped; the console says why.
            bochsrun.stop(proc)
            break
        for tid in begun:
            begun_at.setdefault(tid, now)
        running = [tid for tid in begun if tid not in results]
        t = next((t for t in g['tests'] if t['id'] == running[-1]), None) if running else None
        if running and not t:
            killed = 'the guest ran test %d, which this boot did not ask for: the initramfs ' \
                     'was packed from another test list' % running[-1]
        elif t:
            limit = scaled_timeout(t, a.accel_info) * (t['retries'] + 1) * slowdown
            grace = GRACE * slowdown
            if a.test_limit:
                limit, grace = a.test_limit, 0
            if now - begun_at[t['id']] > limit + grace:
                killed = 'test %d %s hung: no result %d s after its %d s timeout' % (
                    t['id'], t['name'], grace, limit)
        if now > deadline:
            killed = 'whole run exceeded %d s' % a.max_seconds
        if killed:
            if killed.startswith(('test ', 'no output', 'whole run')) and not bochs:
                # A guest that stopped answering: before it goes, what its
                # kernel is doing, on the console it keeps.
                with open(console, errors='replace') as f:
                    line = sum(1 for _ in f)
                keys, err = qmp_sysrq(qmp, console)
                dump = {'line': line, 'keys': keys, 'error': err}
            if bochs:
                # No sysrq through Bochs (no QMP): the console has what the
                # guest's own timeout dump and the kernel's detectors said.
                bochsrun.stop(proc)
            else:
                proc.kill()
            break
    proc.wait()
    if bochs:
        with open(os.path.join(outdir, 'bochs-g%d%s.speed' % (g['n'], tag)), 'w') as f:
            f.write(bochsrun.speed_line(log, time.time() - start, a.ips) + '\n')
        # Bochs logs every EPT violation exit and unknown MSR: 10 MB a boot.
        subprocess.run(['gzip', '-f', log], check=False)
        # The ISO is a copy of the kernel and the initramfs (7 to 25 MB).
        os.unlink(iso)
    shutil.rmtree(qmp_dir, ignore_errors=True)
    text = open(tap, errors='replace').read() if os.path.exists(tap) else ''
    return text, console, killed, time.time() - start, dump


class Progress:
    """A line per test as its result arrives, on file descriptor FD (run.sh
    gives its own stderr: the terminal, or the CI log), written whole so that
    two VM runs side by side do not mix their lines:
        [patched/tdp] 7/25 dirty_log_test -i 3 pass 29 s, ~6 min left
    The time left comes from LAST, the results.json of the previous run of
    this kernel and mode: its test times, scaled by its boot overhead."""

    def __init__(self, fd, label, mode, last=None):
        self.fd, self.tag = fd, '[%s/%s]' % (label, mode)
        self.tests, self.done, self.total = {}, set(), 0
        self.last, self.overhead = {}, 1.0
        if last:
            try:
                with open(last) as f:
                    r = json.load(f)
                fresh = [t for t in r.get('tests', []) if not t.get('reused') and t.get('secs')]
                self.last = {t['key']: t['secs'] for t in fresh}
                wall = sum(b.get('seconds') or 0 for b in r.get('boots', []))
                busy = sum(self.last.values())
                if busy > 0 and wall > busy:
                    self.overhead = wall / busy
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self.last = {}

    def say(self, text):
        try:
            os.write(self.fd, ('%s %s\n' % (self.tag, text)).encode())
        except OSError:
            pass

    def start(self, tests, already):
        """TESTS are to run; ALREADY, the records there are before any boot
        (skipped for the guest CPU, reused from the cache)."""
        self.tests = {t['id']: t for t in tests}
        self.total = len(tests) + len(already)
        self.done = {r['id'] for r in already}
        reused = [r for r in already if r.get('reused')]
        skipped = len(already) - len(reused)
        left = self.left()
        self.say('%d test(s) to run%s%s%s' % (
            len(tests), ', %d reused from the cache (base run of %s)' % (
                len(reused), ', '.join(sorted({r['reused'] for r in reused}))) if reused else '',
            ', %d skipped: the guest CPU lacks what they need' % skipped if skipped else '',
            ', ' + left if left and tests else ''))

    def left(self):
        todo = [t for i, t in self.tests.items() if i not in self.done]
        if not todo:
            return ''
        known = [self.last[test_key(t)] for t in todo if test_key(t) in self.last]
        if not self.last or not todo:
            return ''
        secs = sum(known) * self.overhead
        unknown = len(todo) - len(known)
        est = ('~%d min' % round(secs / 60)) if secs >= 90 else ('~%d s' % secs)
        return '%s left%s' % (est, ' + %d test(s) not timed before' % unknown if unknown else '')

    def result(self, tid, r, final=False):
        """A test's result; FINAL: its record after the boot, which says
        again a result already given whose console showed a splat."""
        if tid not in self.tests:
            return
        if tid in self.done:
            if final and r.get('splats'):
                self.say('%s: SPLAT on the console during it: %s' % (test_key(self.tests[tid])[:60],
                                                                     r['splats'][0][:120]))
            return
        self.done.add(tid)
        t = self.tests[tid]
        status = r['status'] if r['status'] in ('pass', 'skip') else r['status'].upper()
        if r.get('splats'):
            status = 'SPLAT'
        if 'flaky' in (r.get('detail') or ''):
            status += ' (flaky)'
        secs = ' %.0f s' % r['secs'] if r.get('secs') is not None else ''
        left = self.left()
        self.say('%d/%d %s %s%s%s' % (len(self.done), self.total, test_key(t)[:60],
                                      status, secs, ', ' + left if left else ''))


def cache_inputs(a, t, qemu_version):
    """What determines a test's result on the base kernel: the key of its
    cached result is the sha256 of this."""
    inputs = {'kernel': basecache.file_sha256(a.kernel), 'initramfs': basecache.file_sha256(a.initramfs),
              'line': t['line'], 'retries': t['retries'], 'mode': a.mode,
              'cmdline': BASE_CMDLINE + MODES[a.mode],
              'accel': {k: a.accel_info[k] for k in ('accel', 'cpu', 'features', 'guest', 'timeout_divisor')},
              'qemu': qemu_version, 'smp': a.smp, 'mem': a.mem}
    # A result that passed with findings not counted is not a clean one
    # (only when asked for: the keys of every other run stay as they were).
    if a.not_splat:
        inputs['not_splat'] = sorted(a.not_splat)
    return inputs


def qemu_version(qemu):
    try:
        out = subprocess.run([qemu, '--version'], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ''
    return (out.splitlines() or [''])[0]


def cmd_run(a):
    tests = parse_list(a.list)
    packed = a.initramfs + '.groups.json'
    if os.path.exists(packed):
        with open(packed) as f:
            if json.load(f) != json.loads(json.dumps(groups_of(tests))):
                raise SystemExit('error: %s was packed from another version of %s (test numbers '
                                 'differ); rebuild it with vmrun.py initramfs' % (a.initramfs, a.list))
    # Only now, after every check of the inputs, the tool itself: a check
    # of the inputs must not depend on what is installed (a fresh machine
    # gets qemu from scripts/install-deps.sh).
    if a.mode in BOCHS_MODES:
        bochsrun.check_tools()
    elif not shutil.which(a.qemu):
        raise SystemExit('error: %s not found (Debian package qemu-system-x86: make deps)' % a.qemu)
    if a.only:
        tests = [t for t in tests if re.search(a.only, test_key(t))]
    tests = [t for t in tests if a.mode in t['modes']]
    os.makedirs(a.out, exist_ok=True)
    deadline = time.time() + a.max_seconds
    load_start = os.getloadavg()[0]
    records, boots, run_problems = [], [], []
    # Tests the guest CPU cannot run (need:svm on an Intel host with KVM):
    # skipped here, with the reason, never booted.
    for t in list(tests):
        why = unmet_need(t, a.mode, a.accel_info)
        if why:
            records.append(dict(t, key=test_key(t), mode=a.mode, status='skip', detail='SKIP ' + why,
                                secs=None, splats=[], evidence=[], output_tail=[]))
            tests.remove(t)
    # The base kernel's clean results of an earlier run with the same inputs
    # (basecache.py); --cache-refresh runs everything and keeps the results.
    cache, keys, reused_dates = None, {}, set()
    if a.cache:
        cache = basecache.Cache(a.cache)
        qv = qemu_version(a.qemu)
        for t in tests:
            inputs = cache_inputs(a, t, qv)
            keys[t['id']] = (basecache.key_of(inputs), inputs)
        if not a.cache_refresh:
            for t in list(tests):
                hit = cache.get(keys[t['id']][0])
                if hit:
                    rec, date = hit
                    records.append(dict(rec, id=t['id'], key=test_key(t), mode=a.mode, reused=date))
                    reused_dates.add(date)
                    tests.remove(t)
    if a.progress:
        a.progress.start(tests, records)
    # Groups whose boots had a run problem: their results are not cached.
    troubled = set()
    for g in groups_of(parse_list(a.list)):
        wanted = [t for t in g['tests'] if t in tests]
        if not wanted:
            continue
        # A VM that stops in the middle (a crash with no console message,
        # e.g. a triple fault of the emulated machine) is booted again for
        # the tests it did not reach; the test it was running gets the same
        # retries as a failed test, and a pass after such a stop is reported
        # as flaky, never as a plain pass.
        pending, crashes, nboot = list(wanted), {}, 0
        while pending:
            only = [t['id'] for t in pending] if len(pending) != len(g['tests']) else None
            tag = '-r%d' % nboot if nboot else ''
            nboot += 1
            text, console, killed, secs, dump = boot_group(a, g, a.out, deadline, only, tag)
            results, begun, info = parse_tap(text)
            findings = scanconsole.scan_file(console) if os.path.exists(console) else []
            lines = open(console, errors='replace').read().splitlines() if os.path.exists(console) else []
            if dump:
                # The traces the harness asked for are evidence, not a splat
                # of their own: only a real report after them counts.
                findings = [f for f in findings if f['line'] <= dump['line'] or f['kind'] != 'call-trace']
            # Kinds another tool judges (make kcsan: --not-splat kcsan, the
            # base's KCSAN reports against the patched kernel's) fail
            # nothing here; the boot keeps them as not_splats.
            noted = [f for f in findings if f['kind'] in a.not_splat]
            findings = [f for f in findings if f['kind'] not in a.not_splat]
            errata = []
            if a.mode in BOCHS_MODES:
                findings, errata = bochsrun.split_errata(findings, a.kernel, a.vmlinux)
                for f, why in errata:
                    print('note: group %d: not counted, %s: %s' % (g['n'], why, f['text']),
                          file=sys.stderr)
            decoded = decode_frames(lines, a.vmlinux) if findings or dump else {}
            done = '# kmmu-done' in text
            boot = {'group': g['n'], 'boot': g['boot'], 'seconds': round(secs, 1), 'info': info,
                    'killed': killed, 'completed': done, 'sysrq': dump,
                    'splats': [dict(f, log=os.path.basename(console)) for f in findings]}
            if noted:
                boot['not_splats'] = [dict(f, log=os.path.basename(console)) for f in noted]
            if errata:
                boot['emulator_errata'] = ['%s: %s' % (why, f['text']) for f, why in errata]
            if dump:
                boot['evidence'] = splat_evidence(lines, [], decoded, dump['line'])
            boots.append(boot)
            stopped = not killed and not done
            crashed = [tid for tid in begun if tid not in results] if stopped else []
            again = []
            if killed or stopped or any(not f['test'] for f in findings):
                troubled.add(g['n'])
            if killed:
                run_problems.append('group %d: VM killed: %s' % (g['n'], killed))
            elif stopped:
                where = ('while test %d ran' % crashed[-1]) if crashed else 'between tests'
                note = 'group %d: VM stopped %s (panic or crash?), console %s' % (
                    g['n'], where, os.path.basename(console))
                t = next((t for t in pending if crashed and t['id'] == crashed[-1]), None)
                if t and crashes.get(t['id'], 0) < t['retries'] and not findings:
                    # Retry it in a new boot, with the tests after it.
                    crashes[t['id']] = crashes.get(t['id'], 0) + 1
                    again.append(t)
                    print('note: ' + note + '; booting again', file=sys.stderr)
                else:
                    run_problems.append(note)
                again += [t for t in pending if t['id'] not in begun]
            for f in findings:
                if not f['test']:
                    run_problems.append('group %d: %s' % (g['n'], scanconsole.format_finding(
                        os.path.basename(console), f)))
            for t in pending:
                if t in again:
                    continue
                r = results.get(t['id'])
                if r is None:
                    if killed and t['id'] in begun:
                        r = {'status': 'hang', 'detail': killed, 'secs': None}
                    elif t['id'] in begun:
                        r = {'status': 'fail', 'detail': 'VM stopped during this test', 'secs': None}
                    else:
                        r = {'status': 'notrun', 'detail': killed or 'VM stopped before this test',
                             'secs': None}
                elif crashes.get(t['id']) and r['status'] == 'pass':
                    r = dict(r, detail=(r['detail'] or '') + ' flaky: passed on retry after the VM '
                             'stopped during its first attempt')
                splats = [f for f in findings if f['test'] and int(f['test'].split()[0]) == t['id']]
                rec = dict(t, **r)
                rec['key'] = test_key(t)
                rec['mode'] = a.mode
                rec['splats'] = ['%s: %s' % (f['kind'], f['text']) for f in splats]
                # What the report shows under the row: each splat with its
                # top frames as file:line, and for a hang the sysrq dump.
                rec['evidence'] = splat_evidence(lines, splats, decoded,
                                                 dump['line'] if dump and r['status'] == 'hang' else None)
                rec['output_tail'] = test_output(text, t['id'])[-15:] if r['status'] != 'pass' else []
                rec['figures'] = figures(test_output(text, t['id']))
                if r['status'] == 'timeout':
                    rec['threads'] = timeout_threads(test_output(text, t['id']))
                rec['group'] = g['n']
                records.append(rec)
                if a.progress:
                    a.progress.result(t['id'], rec, final=True)
            pending = again
    records.sort(key=lambda r: r['id'])
    if cache:
        for r in records:
            if r['id'] in keys and not r.get('reused') and r.get('group') not in troubled:
                cache.put(keys[r['id']][0], keys[r['id']][1], r)
        cache.prune()
    nreused = sum(1 for r in records if r.get('reused'))
    out = {'label': a.label, 'mode': a.mode, 'kernel': os.path.abspath(a.kernel),
           'tests': records, 'boots': boots, 'problems': run_problems,
           'host_load': [load_start, os.getloadavg()[0]], 'host_cpus': os.cpu_count(),
           'accel': a.accel_info, 'reused': nreused, 'reused_from': sorted(reused_dates)}
    with open(os.path.join(a.out, 'results.json'), 'w') as f:
        json.dump(out, f, indent=1)
    with open(os.path.join(a.out, 'results.tap'), 'w') as f:
        f.write('TAP version 13\n1..%d\n' % len(records))
        for n, r in enumerate(records, 1):
            directive = r['detail'] or ''
            if r['splats']:
                directive = 'kernel splat: ' + r['splats'][0]
            f.write(kmmu_tap.Result(not kmmu_tap.bad(r), n, r['key'], directive or None).line() + '\n')
        for p in run_problems:
            f.write('# run problem: %s\n' % p)
    bad = [r for r in records if kmmu_tap.bad(r)]
    npass = sum(1 for r in records if kmmu_tap.outcome(r) == 'pass')
    nskip = sum(1 for r in records if kmmu_tap.outcome(r) == 'skip')
    print('%s/%s: %d tests: %d pass, %d skip, %d fail%s%s' % (
        a.label, a.mode, len(records), npass, nskip, len(bad),
        ' (%d reused from the cache: base run of %s)' % (nreused, ', '.join(sorted(reused_dates)))
        if nreused else '',
        '; run problems: ' + '; '.join(run_problems) if run_problems else ''))
    for r in bad:
        print('  %-8s %s %s' % ('SPLAT' if r['splats'] else r['status'].upper(), r['key'],
                                r['splats'][0] if r['splats'] else r['detail']))
        if r.get('threads'):
            print('           threads (tid comm state +user/+system ticks over 2 s, stack top): '
                  + r['threads'])
        for e in r.get('evidence') or []:
            print('           ' + e[:200])
    noted = sum(len(b.get('not_splats') or []) for b in boots)
    if noted:
        print('  not counted as splats (--not-splat %s): %d console findings' % (','.join(a.not_splat), noted))
    for b in boots:
        if b.get('sysrq') and b['sysrq'].get('error'):
            print('  group %d: sysrq through QMP failed: %s' % (b['group'], b['sysrq']['error']))
    return 1 if bad or run_problems else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    i = sub.add_parser('initramfs')
    i.add_argument('--bin', required=True, help='directory with the built selftests (OUTPUT)')
    i.add_argument('--out', required=True)
    i.add_argument('--list', default=DEFAULT_LIST)
    r = sub.add_parser('run')
    r.add_argument('--kernel', required=True)
    r.add_argument('--initramfs', required=True)
    r.add_argument('--mode', choices=sorted(MODES), default='tdp')
    r.add_argument('--out', required=True)
    r.add_argument('--label', default='kernel')
    r.add_argument('--list', default=DEFAULT_LIST)
    r.add_argument('--only', help='regex on "name args": run only matching tests')
    r.add_argument('--smp', type=int, default=2)
    r.add_argument('--mem', default='3G')
    r.add_argument('--qemu', default='qemu-system-x86_64')
    r.add_argument('--max-seconds', type=int, default=3600)
    r.add_argument('--bochs-cpu', default=bochsrun.DEFAULT_CPU, help='Bochs CPU model (ept modes)')
    r.add_argument('--bochs-mem', type=int, default=bochsrun.DEFAULT_MEM, help='MB (ept modes)')
    r.add_argument('--ips', type=int, default=bochsrun.DEFAULT_IPS,
                   help='Bochs instructions per emulated second of each CPU (ept modes)')
    r.add_argument('--no-retry', action='store_true',
                   help='one attempt per test, whatever the list allows (reruns of a flaky test)')
    r.add_argument('--not-splat', action='append', default=[], metavar='KIND',
                   choices=sorted({k for k, _ in scanconsole.PATTERNS}),
                   help='console findings of this scanconsole.py kind fail nothing; results.json keeps them '
                        'as each boot\'s not_splats (make kcsan: kcsan, judged by kcsan_reports.py)')
    r.add_argument('--vmlinux', help='the kernel\'s vmlinux (debug info): splat frames as file:line')
    r.add_argument('--test-limit', type=int,
                   help='seconds after a test begins before the host takes the guest for wedged '
                        '(default: its timeout times its attempts, plus %d s)' % GRACE)
    r.add_argument('--inject', choices=['backtrace', 'hang'],
                   help='self-test: make the guest kernel print a backtrace (backtrace), or wedge '
                        'it with LKDTM (hang: a hung task, then both CPUs in a soft lockup) '
                        'during the first test')
    r.add_argument('--accel', default=os.environ.get('KMMU_ACCEL') or 'auto',
                   choices=['auto', 'kvm', 'tcg'], help='the accelerator (default: KMMU_ACCEL, else auto)')
    r.add_argument('--host-root', default='/', help=argparse.SUPPRESS)
    r.add_argument('--cache', metavar='DIR',
                   help='reuse clean results of an earlier run with the same inputs from DIR, and keep '
                        'this run\'s there (the base kernel; see basecache.py)')
    r.add_argument('--cache-refresh', action='store_true',
                   help='with --cache: run every test, keep the results (KMMU_FRESH=1)')
    r.add_argument('--progress-fd', type=int, metavar='FD',
                   help='a line per test result as it arrives on this file descriptor')
    r.add_argument('--last', metavar='RESULTS_JSON',
                   help='the previous run\'s results.json: the time left, in the progress lines')
    ac = sub.add_parser('accel', help='say which accelerator auto picks, and why')
    ac.add_argument('--accel', default=os.environ.get('KMMU_ACCEL') or 'auto')
    ac.add_argument('--host-root', default='/', help='a made-up / (tests)')
    ac.add_argument('--json', action='store_true')
    a = p.parse_args()
    if a.cmd == 'initramfs':
        return cmd_initramfs(a)
    if a.cmd == 'accel':
        info = detect_accel(a.accel, a.host_root)
        if a.json:
            print(json.dumps(info))
        else:
            print('%s (-cpu %s): %s; guest CPU %s, host CPU %s' % (
                info['accel'], info['cpu'], info['why'], info['guest'], info['host']))
        return 0
    if a.mode in BOCHS_MODES:
        # Bochs is the machine: an Intel CPU with VMX and EPT, whatever the
        # host has; the list's timeouts are guest seconds (vmrun stretches
        # the host's limits by BOCHS_SLOWDOWN).
        a.accel_info = {'accel': 'bochs', 'cpu': a.bochs_cpu, 'features': ['vmx'],
                        'host': host_cpu(a.host_root)[0],
                        'guest': 'Intel (emulated by Bochs, %s: VMX with EPT)' % a.bochs_cpu,
                        'why': 'mode %s' % a.mode, 'timeout_divisor': 1}
    else:
        a.accel_info = detect_accel(a.accel, a.host_root)
    a.progress = Progress(a.progress_fd, a.label, a.mode, a.last) if a.progress_fd is not None else None
    for f in (a.kernel, a.initramfs):
        if not os.path.exists(f):
            raise SystemExit('error: no such file: %s' % f)
    return cmd_run(a)


if __name__ == '__main__':
    sys.exit(main())
