#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check, without a kernel, how scripts/vmrun.py treats a guest that stops
answering: a fake QEMU (this file, run with --fake-qemu) begins a test and
then says nothing more, as a wedged guest would; it answers QMP like QEMU
and, for each alt+sysrq+KEY it is sent, puts on the console what a 6.12
kernel prints (a recorded sysrq dump).  vmrun.py must take the test for
hung at its limit, send sysrq l, w, d, t before the kill, leave the dump out
of the splats, and sum it up under the test.  Prints TAP.

KMMU_TEST_VMRUN=FILE runs another vmrun.py (to show that the checks can fail).
"""

import json
import os
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(os.path.dirname(HERE), 'scripts')
VMRUN = os.environ.get('KMMU_TEST_VMRUN') or os.path.join(SCRIPTS, 'vmrun.py')

# What the guest kernel printed for each key (cut from a real run of the
# wedged-guest self-test, tests/test-splat-detection.sh, on 6.12.117).
DUMP = {
    'l': '''[   78.315720] sysrq: Show backtrace of all active CPUs
[   78.316095] NMI backtrace for cpu 1
[   78.316166] CPU: 1 UID: 0 PID: 117 Comm: sh Tainted: G             L     6.12.117 #1
[   78.316213] Call Trace:
[   78.316229]  <IRQ>
[   78.316234]  dump_stack_lvl+0x65/0x8c
[   78.316266]  nmi_cpu_backtrace+0xd3/0xf8
[   78.316299]  __handle_sysrq+0xfe/0x17c
[   78.316437]  </IRQ>
[   78.316438]  <TASK>
[   78.316441]  lkdtm_SOFTLOCKUP+0x9/0xb
[   78.316477]  lkdtm_do_action+0x18/0x1b
[   78.316484]  direct_entry+0xa5/0xc4
[   78.316564]  </TASK>
[   78.316592] Sending NMI from CPU 1 to CPUs 0:
[   78.334964] NMI backtrace for cpu 0
[   78.335280] RIP: 0010:kvm_tdp_mmu_map+0x9/0xb
[   78.335383] Call Trace:
[   78.335393]  <TASK>
[   78.335394]  kvm_tdp_page_fault+0x19/0x1b
[   78.335395]  kvm_mmu_do_page_fault+0x18/0x1b
[   78.335396]  </TASK>''',
    'w': '''[   84.871687] sysrq: Show Blocked State
[   84.872000] task:vcpu0           state:D stack:0     pid:56    tgid:56    ppid:1      flags:0x00000000
[   84.872100] Call Trace:
[   84.872101]  <TASK>
[   84.872102]  __schedule+0x6be/0x6f9
[   84.872103]  schedule+0x3e/0x56
[   84.872104]  rwsem_down_write_slowpath+0x23/0x25
[   84.872105]  kvm_vm_ioctl_set_memory_region+0x18/0x1b
[   84.872106]  </TASK>''',
    'd': '''[   88.378305] sysrq: Show Locks Held
[   88.378400] 1 lock held by vcpu1/57:
[   88.378500]  #0: ffff888000538000 (&kvm->mmu_lock){++++}-{2:2}, at: kvm_tdp_mmu_map+0x6f/0x13f''',
    't': '''[   91.892246] sysrq: Show State
[   91.892300] task:init            state:S stack:0     pid:1     tgid:1     ppid:0      flags:0x00000000
[   91.892301] Call Trace:
[   91.892302]  <TASK>
[   91.892303]  do_wait+0x6be/0x6f9
[   91.892304]  </TASK>''',
}


def fake_qemu(argv):
    """Begin test 1, then hang; answer QMP; print the dump for each key."""
    serials = [argv[i + 1][5:] for i, x in enumerate(argv) if x == '-serial']
    qmp = next(argv[i + 1] for i, x in enumerate(argv) if x == '-qmp')
    path = qmp[len('unix:'):].split(',')[0]
    with open(serials[0], 'w') as c:
        c.write('[    2.703075] kmmu: begin test 1 t1\n')
    with open(serials[1], 'w') as t:
        t.write('TAP version 13\n# kmmu-begin 1 t1 1\n')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    while True:
        conn, _ = srv.accept()
        f = conn.makefile('rw')
        f.write(json.dumps({'QMP': {'version': {}, 'capabilities': []}}) + '\n')
        f.flush()
        for line in f:
            cmd = json.loads(line)
            if cmd['execute'] == 'send-key':
                keys = [k['data'] for k in cmd['arguments']['keys']]
                if keys[:2] == ['alt', 'sysrq'] and keys[2] in DUMP:
                    with open(serials[0], 'a') as c:
                        c.write(DUMP[keys[2]] + '\n')
            f.write(json.dumps({'return': {}}) + '\n')
            f.flush()


def main():
    if sys.argv[1:2] == ['--fake-qemu']:
        return fake_qemu(sys.argv[2:])
    tmp = tempfile.mkdtemp()
    lst = os.path.join(tmp, 't.list')
    with open(lst, 'w') as f:
        f.write('t1 1 retry:0\n')
    fq = os.path.join(tmp, 'fakeqemu')
    with open(fq, 'w') as f:
        f.write('#!/bin/sh\nexec %s %s --fake-qemu "$@"\n' % (sys.executable, os.path.abspath(__file__)))
    os.chmod(fq, 0o755)
    out = os.path.join(tmp, 'out')
    p = subprocess.run([sys.executable, VMRUN, 'run', '--kernel', lst, '--initramfs', lst,
                        '--list', lst, '--mode', 'tdp', '--out', out, '--qemu', fq,
                        '--test-limit', '3', '--max-seconds', '120'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    try:
        r = json.load(open(os.path.join(out, 'results.json')))
    except (OSError, ValueError):
        r = {'tests': [{}], 'boots': [{}]}
    t, b = r['tests'][0], r['boots'][0]
    ev = t.get('evidence') or []
    checks = [
        ('a guest that stops answering: the run fails, the test is a hang',
         p.returncode != 0 and t.get('status') == 'hang'),
        ('sysrq l, w, d and t went through QMP before the kill',
         (b.get('sysrq') or {}).get('keys') == list('lwdt') and not b['sysrq'].get('error')),
        ('the dump the harness asked for is not taken for a splat', t.get('splats') == []),
        ('each CPU\'s backtrace is summed up, the spinning one where it spins',
         'sysrq-l cpu 1: lkdtm_SOFTLOCKUP < lkdtm_do_action < direct_entry' in ev and
         'sysrq-l cpu 0: kvm_tdp_mmu_map < kvm_tdp_page_fault < kvm_mmu_do_page_fault' in ev),
        ('each blocked task is summed up, the task list of sysrq t is not',
         'sysrq-w task vcpu0 (D): rwsem_down_write_slowpath < kvm_vm_ioctl_set_memory_region' in ev
         and not any('init' in e for e in ev)),
        ('vmrun.py prints the summary under the test', 'sysrq-l cpu 0: kvm_tdp_mmu_map' in p.stdout),
    ]
    print('TAP version 13')
    failed = 0
    for n, (desc, ok) in enumerate(checks, 1):
        print('%s %d %s' % ('ok' if ok else 'not ok', n, desc))
        failed += not ok
    if failed:
        for line in p.stdout.splitlines():
            print('#   | ' + line)
        print('#   evidence: %r' % ev)
    print('1..%d' % len(checks))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
