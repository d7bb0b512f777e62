#!/usr/bin/env python3
"""Start a guest's QEMU command line paused and ask QEMU, over QMP, which
devices the machine has. Fails when the guest got a device it does not use:
a network card, a display, a USB controller, a drive with media, or a
device on a virtio-mmio transport.

    check-guest-devices.py -- qemu-system-aarch64 -M virt ... (no -kernel)

The command line is the one scripts/run-guest.sh boots (QEMU_GUEST in
scripts/lib.sh); the devices are fixed before the first instruction runs,
so nothing needs to boot. Prints the devices found, one line per kind.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

# PCI class codes (high byte, or the whole 16-bit code) of devices no guest
# of the loop uses.
UNUSED_PCI_CLASSES = {0x02: "network controller", 0x03: "display controller", 0x0C03: "USB controller"}


class Qmp:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
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


def pci_devices(qmp):
    for bus in qmp.command("query-pci"):
        for dev in bus["devices"]:
            yield dev
            for sub in dev.get("pci_bridge", {}).get("devices", []):
                yield sub


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
        )
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(path):
                if qemu.poll() is not None:
                    sys.exit(f"QEMU did not start: {qemu.stderr.read().strip()}")
                if time.monotonic() > deadline:
                    sys.exit("QEMU did not open its QMP socket within 30 s")
                time.sleep(0.05)
            try:
                qmp = Qmp(path)
            except (OSError, RuntimeError) as err:
                qemu.wait(timeout=10)
                sys.exit(f"QEMU stopped before answering ({err}): {qemu.stderr.read().strip()}")
            problems = []

            pci = []
            for dev in pci_devices(qmp):
                code = dev["class_info"]["class"]
                desc = dev["class_info"].get("desc", f"class {code:04x}")
                pci.append(f"{dev['bus']:02x}:{dev['slot']:02x}.{dev['function']} {desc}")
                for cls, what in UNUSED_PCI_CLASSES.items():
                    if code == cls or code >> 8 == cls:
                        problems.append(f"PCI {what}: {dev.get('qdev_id') or desc} (id {dev['id']['vendor']:04x}:{dev['id']['device']:04x})")

            drives = []
            for blk in qmp.command("query-block"):
                if blk.get("inserted"):
                    problems.append(f"drive {blk['device'] or blk.get('qdev')} with media {blk['inserted'].get('file')}")
                else:
                    drives.append(f"{blk['device'] or blk.get('qdev')} (empty)")

            network = qmp.hmp("info network").strip()
            if network:
                problems.append("network: " + " / ".join(network.splitlines()))

            qtree = qmp.hmp("info qtree")
            types = sorted(set(re.findall(r"dev: ([\w.-]+),", qtree)))
            for name in types:
                # A device on a virtio-mmio transport (virtio-net-device,
                # virtio-blk-device, ...) or on a USB bus.
                if re.fullmatch(r"virtio-.*-device|usb-.*", name):
                    problems.append(f"device {name}")

            print(f"    PCI: {', '.join(pci) or 'none'}")
            print(f"    drives: {', '.join(drives) or 'none'}; network: {network or 'none'}")
            print(f"    device types: {' '.join(types)}")
            qmp.command("quit")
        finally:
            try:
                qemu.wait(timeout=10)
            except subprocess.TimeoutExpired:
                qemu.kill()
    if problems:
        print("guest devices: the guest has devices it does not use:", file=sys.stderr)
        for p in problems:
            print(f"    {p}", file=sys.stderr)
        sys.exit(1)
    print("    guest devices: none the guest does not use")


if __name__ == "__main__":
    main()
