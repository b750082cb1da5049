#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check scripts/bochsrun.py's logic without running Bochs: the bochsrc it
writes, the command line it adds, the reset watch on Bochs' log, and which
console findings it takes for Bochs 2.7's errata (only the PML WARN_ON, at
its exact file:line, and only on a Bochs older than the fix).  Prints TAP."""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'scripts'))
import bochsrun  # noqa: E402
import vmrun  # noqa: E402

results = []


def check(name, ok, detail=''):
    results.append((name, ok, detail))


with tempfile.TemporaryDirectory() as d:
    rc = bochsrun.write_bochsrc(os.path.join(d, 'rc'), '/x/boot.iso', '/x/c.log', '/x/t.log',
                                '/x/b.log', smp=2, ips=20000000)
    text = open(rc).read()
    check('bochsrc: skylake-x, two cores of one package, no reset on triple fault',
          'cpu: model=corei7_skylake_x, count=1:2:1, ips=20000000, reset_on_triple_fault=0' in text,
          text)
    check('bochsrc: com1 console and com2 TAP to files, rfb without a client',
          'com1: enabled=1, mode=file, dev="/x/c.log"' in text and
          'com2: enabled=1, mode=file, dev="/x/t.log"' in text and
          'display_library: rfb, options="timeout=0"' in text, text)
    extra = bochsrun.cmdline_extra(20000000)
    check('command line: TSC rate from ips, no AVX-512', 'tsc_early_khz=20000' in extra and
          any(x.startswith('clearcpuid=') and 'avx512f' in x for x in extra), ' '.join(extra))
    check('ept modes boot in Bochs and are opt-in',
          vmrun.BOCHS_MODES <= vmrun.OPT_IN_MODES and
          'kvm_intel.eptad=0' in vmrun.MODES['ept-noad'] and
          'kvm_intel.pml=0' in vmrun.MODES['ept-nopml'])

    # The reset watch: the power-on reset at tick 0 is not one; a later one
    # is, and so is a line that comes after the first read.
    log = os.path.join(d, 'b.log')
    with open(log, 'w') as f:
        f.write('00000000000i[SYS   ] bx_pc_system_c::Reset(HARDWARE) called\n'
                '00012345678e[CPU0  ] RDMSR: Unknown register 0x1d9\n')
    w = bochsrun.LogWatch(log)
    first = w.reset()
    with open(log, 'a') as f:
        f.write('04704761156i[SYS   ] bx_pc_system_c::Reset(HARDWARE) called\n')
    check('reset watch: power-on reset ignored, a later reset seen',
          first is None and w.reset() and 'Reset(HARDWARE)' in w.reset(), repr((first, w.reset())))
    check('ticks: the last tick count of the log', bochsrun.ticks_seen(log) == 4704761156,
          str(bochsrun.ticks_seen(log)))

    # Errata: a fake kernel tree with the PML WARN_ON at line 3.
    src = os.path.join(d, 'build', 'source')
    os.makedirs(os.path.join(src, 'arch', 'x86', 'kvm', 'vmx'))
    with open(os.path.join(src, 'arch', 'x86', 'kvm', 'vmx', 'vmx.c'), 'w') as f:
        f.write('x\n\tgpa = pml_buf[pml_idx];\n\t\tWARN_ON(gpa & (PAGE_SIZE - 1));\n')
    boot = os.path.join(d, 'build', 'arch', 'x86', 'boot')
    os.makedirs(boot)
    kernel = os.path.join(boot, 'bzImage')
    open(kernel, 'w').close()

    def finding(text, kind='warning'):
        return {'line': 1, 'kind': kind, 'text': '[   66.694759] ' + text, 'test': '2 t'}
    pml = finding('WARNING: CPU: 1 PID: 89 at arch/x86/kvm/vmx/vmx.c:3 vmx_handle_exit+0xa5/0x535')
    other = finding('WARNING: CPU: 1 PID: 89 at arch/x86/kvm/vmx/vmx.c:4 vmx_handle_exit+0xa5/0x535')
    mmu = finding('WARNING: CPU: 0 PID: 9 at arch/x86/kvm/mmu/tdp_mmu.c:3 f+0x1/0x2')
    saved = bochsrun.bochs_version
    try:
        bochsrun.bochs_version = lambda: (2, 7)
        mine, theirs = bochsrun.split_errata([pml, other, mmu], kernel)
        check('errata (Bochs 2.7): the PML WARN_ON at its line is the emulator\'s',
              [f for f, _ in theirs] == [pml] and mine == [other, mmu], repr((mine, theirs)))
        mine, theirs = bochsrun.split_errata([pml], os.path.join(d, 'elsewhere', 'bzImage'))
        check('errata: without the kernel\'s source nothing is the emulator\'s',
              mine == [pml] and not theirs)
        bochsrun.bochs_version = lambda: (2, 8)
        mine, theirs = bochsrun.split_errata([pml], kernel)
        check('errata (Bochs 2.8, fixed there): the PML WARN_ON counts', mine == [pml] and not theirs)
    finally:
        bochsrun.bochs_version = saved

print('TAP version 13')
print('1..%d' % len(results))
bad = 0
for n, (name, ok, detail) in enumerate(results, 1):
    print('%s %d %s' % ('ok' if ok else 'not ok', n, name))
    if not ok:
        bad += 1
        for line in str(detail).splitlines()[:20]:
            print('# ' + line)
sys.exit(1 if bad else 0)
