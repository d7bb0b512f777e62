#!/usr/bin/env python3
"""Start a guest's QEMU command line paused and ask QEMU, over QMP, which
devices the machine has. Fails when the guest got a device it does not use:
a network card, a display, a USB controller, a drive with media, a device
on a virtio-mmio transport, or a character device besides the serial
console (a default monitor, parallel port or second serial port).

    check-guest-devices.py -- qemu-system-aarch64 -M virt ... (no -kernel)

The command line is the one scripts/run-guest.sh boots (QEMU_GUEST in
scripts/lib.sh); the devices are fixed before the first instruction runs,
so nothing needs to boot. Prints the devices found, one line per kind.
"""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

# PCI base classes, and full class codes, of devices no guest of the loop
# uses.
UNUSED_PCI_BASE_CLASSES = {0x02: "network controller", 0x03: "display controller"}
UNUSED_PCI_CLASSES = {0x0C03: "USB controller"}


class Qmp:
    def __init__(self, path, deadline):
        # The socket file exists once QEMU has bound it, which may be before
        # it listens: retry until the deadline.
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # A QEMU that stops answering fails the check instead of hanging it.
        self.sock.settimeout(30)
        self.file = self.sock.makefile("rw")
        self._read()  # greeting
        self.command("qmp_capabilities")

    def _read(self):
        while True:
            line = self.file.readline()
            if not line:
                raise RuntimeError("QEMU closed the QMP connection")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def command(self, name, **arguments):
        self.file.write(json.dumps({"execute": name, "arguments": arguments}) + "\n")
        self.file.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(f"{name}: {reply['error']}")
        return reply["return"]

    def hmp(self, line):
        return self.command("human-monitor-command", **{"command-line": line})


def die_with_parent():
    """prctl(PR_SET_PDEATHSIG, SIGKILL) in the child before exec."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def pci_devices(qmp):
    def walk(devices):
        for dev in devices:
            yield dev
            yield from walk(dev.get("pci_bridge", {}).get("devices", []))

    for bus in qmp.command("query-pci"):
        yield from walk(bus["devices"])


def main():
    if len(sys.argv) < 3 or sys.argv[1] != "--":
        sys.exit("usage: check-guest-devices.py -- QEMU-COMMAND-LINE...")
    command = sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "qmp.sock")
        # -S: stop before the first instruction. The serial console stays on
        # stdio as in a real run; nothing is printed while stopped.
        qemu = subprocess.Popen(
            command + ["-S", "-qmp", f"unix:{path},server=on,wait=off"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # A paused QEMU must not outlive this check, however it ends.
            preexec_fn=die_with_parent,
        )
        qemu_quit = False
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(path):
                if qemu.poll() is not None:
                    sys.exit(f"QEMU did not start: {qemu.stderr.read().strip()}")
                if time.monotonic() > deadline:
                    sys.exit("QEMU did not open its QMP socket within 30 s")
                time.sleep(0.05)
            try:
                qmp = Qmp(path, deadline)
            except (OSError, RuntimeError) as err:
                qemu.kill()
                qemu.wait()
                sys.exit(f"QEMU did not answer over QMP ({err}): {qemu.stderr.read().strip()}")
            problems = []

            pci = []
            for dev in pci_devices(qmp):
                code = dev["class_info"]["class"]
                desc = dev["class_info"].get("desc", f"class {code:04x}")
                pci.append(f"{dev['bus']:02x}:{dev['slot']:02x}.{dev['function']} {desc}")
                what = UNUSED_PCI_CLASSES.get(code) or UNUSED_PCI_BASE_CLASSES.get(code >> 8)
                if what:
                    problems.append(f"PCI {what}: {dev.get('qdev_id') or desc} (id {dev['id']['vendor']:04x}:{dev['id']['device']:04x})")

            drives = []
            for blk in qmp.command("query-block"):
                if blk.get("inserted"):
                    problems.append(f"drive {blk['device'] or blk.get('qdev')} with media {blk['inserted'].get('file')}")
                else:
                    drives.append(f"{blk['device'] or blk.get('qdev')} (empty)")

            # Character devices: the serial console (its multiplexer and the
            # stdio behind it) and this QMP socket only (no default monitor,
            # parallel port or virtual console).
            chardevs = sorted(c["label"] for c in qmp.command("query-chardev"))
            extra = [c for c in chardevs if c not in ("serial0", "serial0-base", "compat_monitor0")]
            if extra:
                problems.append(f"character devices besides the console: {', '.join(extra)}")

            network = qmp.hmp("info network").strip()
            if network:
                problems.append("network: " + " / ".join(network.splitlines()))

            qtree = qmp.hmp("info qtree")
            types = sorted(set(re.findall(r"dev: ([\w.-]+),", qtree)))
            for name in types:
                # A device on a virtio-mmio transport (virtio-net-device,
                # virtio-blk-device, ...), on a USB bus, or a display that
                # is not on PCI.
                if re.fullmatch(r"virtio-.*-device|usb-.*|ramfb|.*vga.*|.*-display", name, re.IGNORECASE):
                    problems.append(f"device {name}")

            print(f"    PCI: {', '.join(pci) or 'none'}")
            print(f"    drives: {', '.join(drives) or 'none'}; network: {network or 'none'}; chardevs: {', '.join(chardevs)}")
            print(f"    device types: {' '.join(types)}")
            qmp.command("quit")
            qemu_quit = True
        finally:
            # After "quit", QEMU ends by itself; on any other way out it is
            # still paused: stop it at once.
            try:
                qemu.wait(timeout=10 if qemu_quit else 0)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()
    if problems:
        print("guest devices: the guest has devices it does not use:", file=sys.stderr)
        for p in problems:
            print(f"    {p}", file=sys.stderr)
        sys.exit(1)
    print("    guest devices: none the guest does not use")


if __name__ == "__main__":
    main()
