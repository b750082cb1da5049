#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot a kernel in Bochs, an emulator with Intel VMX and EPT (QEMU's TCG has
neither), the way vmrun.py boots it in QEMU: com1 is the kernel console,
com2 the guest's TAP (scripts/guest-init.sh), both written to files.

Bochs has no -kernel loader: the bzImage, the initramfs and the command line
go on a GRUB rescue ISO (grub-mkrescue, BIOS only) that Bochs boots from its
CD-ROM.  Bochs has no -no-reboot either: a reset of the emulated machine
(panic=-1, a triple fault, reboot) shows in Bochs' log, and the runner stops
Bochs there, as QEMU's -no-reboot would.  Debian's bochs has no "nogui"
display: the rfb display with timeout=0 runs without a client.

  bochsrun.py --kernel BZIMAGE --initramfs FILE --cmdline '...' --out DIR
              [--timeout S] [--cpu MODEL] [--smp N] [--mem MB] [--ips N]
      Writes DIR/console.log, DIR/tap.log, DIR/bochs.log, DIR/bochsrc and
      prints boot figures (seconds to the first console line, to the first
      TAP line, to the end; the IPS Bochs measured).

vmrun.py run --vmm bochs uses start() and the same files per boot group.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# Skylake-X is the Bochs 2.7 model with every EPT feature KVM uses: EPT with
# A/D bits, PML, VPID, unrestricted guest, VMCS shadowing, APIC virtualization,
# the preemption timer.  (corei3_cnl lacks PML; tigerlake and icelake-u add
# SPP and MTF.)
DEFAULT_CPU = 'corei7_skylake_x'
# Instructions per emulated second of each CPU.  With clock sync=none the
# guest's clock follows the instructions executed, so this sets how fast guest
# time runs against the host's: Bochs 2.7 here runs about 60-90 million
# instructions a second on one host thread, shared by the emulated CPUs.
DEFAULT_IPS = 20000000
DEFAULT_MEM = 2048      # MB; Bochs 2.7 allocates at most 2048 MB of host memory
BIOS = '/usr/share/bochs/BIOS-bochs-latest'
VGABIOS = '/usr/share/vgabios/vgabios.bin'
# Bochs' log lines that mean the emulated machine went through a reset (a
# reboot after a panic, a triple fault): the guest will not come back.
_RESET = re.compile(r'bx_pc_system_c::Reset\(|triple fault|CPU_LOOP|shutdown state')
_TICKS = re.compile(r'^(\d{11,})[idepIDEP]\[')


def check_tools():
    """Refuse to start without what a Bochs boot needs (scripts/deps.list,
    group ept)."""
    for tool, pkg in (('bochs', 'bochs'), ('grub-mkrescue', 'grub-common'), ('xorriso', 'xorriso'),
                      (BIOS, 'bochsbios'), (VGABIOS, 'vgabios'),
                      ('/usr/lib/grub/i386-pc', 'grub-pc-bin'),
                      ('/usr/lib/x86_64-linux-gnu/bochs/plugins/libbx_rfb_gui.so', 'bochs')):
        if not (os.path.exists(tool) if tool.startswith('/') else shutil.which(tool)):
            raise SystemExit('error: %s not found (Debian package %s: scripts/install-deps.sh ept)'
                             % (tool, pkg))


def cmdline_extra(ips=DEFAULT_IPS):
    """Kernel parameters every Bochs boot needs, for what Bochs 2.7's
    corei7_skylake_x gets wrong:
    - its CPUID leaf 0x16 says 3.5 GHz while the TSC counts emulated ticks
      (ips a second): with the CPUID figure the kernel's clock ran 87 times
      too slow.  tsc_early_khz gives the right rate; the kernel then refines
      it against the HPET (19.999 MHz for 20 MHz seen).
    - its XSAVE leaf gives 2432 bytes for the AVX-512 state layout where the
      kernel computes 2688: "XSAVE consistency problem", a WARNING at boot.
      Without AVX-512 (clearcpuid) the sizes agree.
    """
    return ['tsc_early_khz=%d' % (ips // 1000), 'clearcpuid=avx512f,aperfmperf']


def kernel_source(kernel, vmlinux=None):
    """The source tree of a kernel built with O= (the build directory's
    "source" link), from its vmlinux or its bzImage path; None if unknown."""
    cands = []
    if vmlinux:
        cands.append(os.path.join(os.path.dirname(os.path.abspath(vmlinux)), 'source'))
    # BUILD/arch/x86/boot/bzImage
    cands.append(os.path.join(os.path.dirname(os.path.abspath(kernel)), '..', '..', '..', 'source'))
    for c in cands:
        if os.path.isfile(os.path.join(c, 'arch', 'x86', 'kvm', 'vmx', 'vmx.c')):
            return os.path.realpath(c)
    return None


# Kernel checks that Bochs 2.7's own bugs trip, as (file, the checking
# statement, why).  A WARNING at exactly that file:line (looked up in the
# kernel's source) is the emulator's, not the kernel's, and is not counted.
ERRATA = [
    # vmx_flush_pml_buffer(): Bochs 2.7 writes the whole guest-physical
    # address of the write that set the dirty bit into the PML log; the SDM
    # (and KVM) want bits 11:0 clear.  KVM still marks the right page dirty
    # (it shifts the offset out).  Fixed in Bochs 2.8 (commit 9fc53de18,
    # "VMX: PML address saved should be always 4K aligned", issue #217).
    ('arch/x86/kvm/vmx/vmx.c', 'WARN_ON(gpa & (PAGE_SIZE - 1));', (2, 8),
     'Bochs 2.7 erratum: PML entry not 4K-aligned (fixed in Bochs 2.8)'),
]


def bochs_version():
    """(major, minor) of the installed Bochs, from its banner; None if unknown."""
    try:
        out = subprocess.run(['bochs-bin', '--help'], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'Bochs x86 Emulator (\d+)\.(\d+)', out.stdout + out.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


def split_errata(findings, kernel, vmlinux=None):
    """Split console findings into (the kernel's, [(finding, why)] Bochs')."""
    src = kernel_source(kernel, vmlinux)
    version = bochs_version()
    known = []
    for path, stmt, fixed_in, why in ERRATA:
        if not version or version >= fixed_in:
            continue
        try:
            with open(os.path.join(src, path)) if src else open(os.devnull) as f:
                for n, line in enumerate(f, 1):
                    if line.strip() == stmt:
                        known.append((re.compile(r'WARNING: CPU: \d+ PID: \d+ at %s:%d ' %
                                                 (re.escape(path), n)), why))
        except OSError:
            pass
    mine, theirs = [], []
    for f in findings:
        why = next((w for rx, w in known if f['kind'] == 'warning' and rx.search(f['text'])), None)
        if why:
            theirs.append((f, why))
        else:
            mine.append(f)
    return mine, theirs


def make_iso(kernel, initramfs, cmdline, path, workdir):
    """A BIOS-bootable GRUB ISO that boots KERNEL with INITRAMFS and CMDLINE."""
    check_tools()
    if re.search(r'[;&|$`"\'\\{}]', cmdline):
        raise SystemExit('error: the command line has a character GRUB would interpret: %r'
                         % cmdline)
    root = tempfile.mkdtemp(prefix='iso-', dir=workdir)
    try:
        os.makedirs(os.path.join(root, 'boot', 'grub'))
        shutil.copy(kernel, os.path.join(root, 'boot', 'bzImage'))
        shutil.copy(initramfs, os.path.join(root, 'boot', 'initrd'))
        with open(os.path.join(root, 'boot', 'grub', 'grub.cfg'), 'w') as f:
            f.write('set timeout=0\nset default=0\n'
                    'menuentry kmmu {\n'
                    '  linux /boot/bzImage %s\n'
                    '  initrd /boot/initrd\n'
                    '}\n' % cmdline)
        r = subprocess.run(['grub-mkrescue', '--compress=no', '-o', path, root],
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit('error: grub-mkrescue failed:\n' + r.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return path


def write_bochsrc(path, iso, console, tap, log, cpu=DEFAULT_CPU, smp=2, mem=DEFAULT_MEM,
                  ips=DEFAULT_IPS, rfb_port=None):
    display = 'timeout=0' + (', port=%d' % rfb_port if rfb_port else '')
    text = '''# written by scripts/bochsrun.py
config_interface: textconfig
display_library: rfb, options="%(display)s"
romimage: file=%(bios)s
vgaromimage: file=%(vgabios)s
cpu: model=%(cpu)s, count=1:%(smp)d:1, ips=%(ips)d, reset_on_triple_fault=0, ignore_bad_msrs=1
memory: guest=%(mem)d, host=%(host)d
pci: enabled=1, chipset=i440fx
clock: sync=none, time0=local
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=cdrom, path="%(iso)s", status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev="%(console)s"
com2: enabled=1, mode=file, dev="%(tap)s"
log: %(log)s
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
''' % dict(display=display, bios=BIOS, vgabios=VGABIOS, cpu=cpu, smp=smp, ips=ips, mem=mem,
           host=min(mem, 2048), iso=iso, console=console, tap=tap, log=log)
    with open(path, 'w') as f:
        f.write(text)
    return path


def start(rc, stderr_path, nice=10):
    """Start Bochs on bochsrc RC, at nice NICE (it takes one host core)."""
    if not shutil.which('bochs'):
        raise SystemExit('error: bochs not found (Debian packages bochs, bochsbios, vgabios: '
                         'scripts/install-deps.sh ept)')
    # Debian's bochs is built with the internal debugger, which stops
    # before the first instruction and reads commands: give it "continue".
    cont = rc + '.dbg'
    with open(cont, 'w') as f:
        f.write('c\n')
    cmd = ['nice', '-n', str(nice), 'bochs', '-q', '-f', rc, '-rc', cont]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(stderr_path, 'w'), start_new_session=True)


def ticks_seen(log):
    """The last emulated tick count in Bochs' log (every line starts with
    it).  In an SMP machine Bochs 2.7 advances the tick by the mean of the
    instructions the CPUs executed in a round (a halted CPU counts as 16), so
    ticks/s times the CPU count is the emulated instruction rate when every
    CPU is busy, and the guest's clock runs at ticks/s divided by ips."""
    last = 0
    try:
        with open(log, errors='replace') as f:
            for line in f:
                m = _TICKS.match(line)
                if m:
                    last = int(m.group(1))
    except OSError:
        pass
    return last


class LogWatch:
    """Reads Bochs' log as it grows: reset() is true once the emulated
    machine has reset after power-on (a reboot: Bochs has no -no-reboot)."""

    def __init__(self, path):
        self.path, self.pos, self.seen = path, 0, None

    def reset(self):
        if self.seen:
            return self.seen
        try:
            with open(self.path, errors='replace') as f:
                f.seek(self.pos)
                while True:
                    line = f.readline()
                    if not line.endswith('\n'):
                        break
                    self.pos = f.tell()
                    # The power-on reset happens at tick 0.
                    if _RESET.search(line) and not re.match(r'^0{11}', line):
                        self.seen = line.strip()
                        break
        except OSError:
            pass
        return self.seen


def speed_line(log, wall, ips=DEFAULT_IPS):
    ticks = ticks_seen(log)
    return ('%d ticks in %.0f s: %.1f M ticks/s (of each emulated CPU), guest clock %.2f x wall'
            % (ticks, wall, ticks / max(wall, 1) / 1e6, ticks / ips / max(wall, 1)))


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--kernel', required=True)
    p.add_argument('--initramfs', required=True)
    p.add_argument('--cmdline', default='console=ttyS0,115200 panic=-1',
                   help='kernel command line (cmdline_extra() is added to it)')
    p.add_argument('--out', required=True)
    p.add_argument('--timeout', type=int, default=1800, help='seconds before Bochs is stopped')
    p.add_argument('--cpu', default=DEFAULT_CPU)
    p.add_argument('--smp', type=int, default=2)
    p.add_argument('--mem', type=int, default=DEFAULT_MEM)
    p.add_argument('--ips', type=int, default=DEFAULT_IPS)
    p.add_argument('--until', help='regex on the TAP file: stop Bochs once it matches')
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    out = os.path.abspath(a.out)
    console, tap, log = (os.path.join(out, n) for n in ('console.log', 'tap.log', 'bochs.log'))
    for f in (console, tap, log):
        if os.path.exists(f):
            os.unlink(f)
    t0 = time.time()
    cmdline = ' '.join([a.cmdline] + cmdline_extra(a.ips))
    iso = make_iso(a.kernel, a.initramfs, cmdline, os.path.join(out, 'boot.iso'), out)
    t_iso = time.time() - t0
    rc = write_bochsrc(os.path.join(out, 'bochsrc'), iso, console, tap, log, a.cpu, a.smp,
                       a.mem, a.ips)
    start_t = time.time()
    proc = start(rc, os.path.join(out, 'bochs.err'))
    first_console = first_tap = None
    why = None
    watch = LogWatch(log)
    try:
        while proc.poll() is None:
            time.sleep(1)
            now = time.time() - start_t
            if first_console is None and os.path.exists(console) and os.path.getsize(console):
                first_console = now
            if first_tap is None and os.path.exists(tap) and os.path.getsize(tap):
                first_tap = now
            r = watch.reset()
            if r:
                why = 'machine reset: ' + r
                break
            if a.until and os.path.exists(tap) and re.search(a.until, open(tap, errors='replace').read(),
                                                             re.M):
                why = 'stopped: --until matched'
                break
            if now > a.timeout:
                why = 'timeout after %d s' % a.timeout
                break
    finally:
        stop(proc)
    total = time.time() - start_t
    print('iso %.1f s; bochs: console after %s s, TAP after %s s, end after %.1f s (%s); %s'
          % (t_iso, '%.1f' % first_console if first_console else '-',
             '%.1f' % first_tap if first_tap else '-', total, why or 'exit %s' % proc.returncode,
             speed_line(log, total, a.ips)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
