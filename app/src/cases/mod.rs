//! The cases: one file per topic, and here the registry that `asyncn-test
//! all` runs in order. Case files use `crate::harness`, never this module.

mod asyncio;
mod basic;
mod consumption;
mod fanout;
mod init_faults;
mod lifecycle;
mod nowait;
mod readiness;
mod stall;
mod sysfs;
mod tokio_reader;
mod tracing;
mod vectored;
mod wakeups;

use crate::harness::{CaseResult, Context, Tap};

pub struct Case {
    pub name: &'static str,
    /// The contract rules (docs/device.md) whose breach the case detects;
    /// `scripts/rules.py` reads them from here.
    pub rules: &'static [&'static str],
    pub about: &'static str,
    pub run: fn(&Context, &mut Tap) -> CaseResult,
}

pub const CASES: &[Case] = &[
    Case {
        name: "scenario",
        rules: &["R6", "R11", "R23"],
        about: "a reader process is notified by SIGIO of each message a writer process sends",
        run: basic::scenario,
    },
    Case {
        name: "truncate",
        rules: &["R7"],
        about: "a write longer than buffer_size is truncated and its accepted length returned",
        run: basic::truncate,
    },
    Case {
        name: "short-after-long",
        rules: &["R6", "R11"],
        about: "a short message after a long one reads back exactly, no stale bytes",
        run: basic::short_after_long,
    },
    Case {
        name: "zero-length",
        rules: &["R8"],
        about: "a zero-length write returns 0, keeps the message and notifies no one",
        run: basic::zero_length,
    },
    Case {
        name: "not-seekable",
        rules: &["R19"],
        about: "lseek, pread and pwrite fail with ESPIPE",
        run: basic::not_seekable,
    },
    Case {
        name: "bad-pointer",
        rules: &["R10", "R16", "R28"],
        about: "bad user pointers give EFAULT and leave the device usable",
        run: basic::bad_pointer,
    },
    Case {
        name: "faulting-write",
        rules: &["R10"],
        about: "a write or writev that faults leaves the previous message readable, unsignalled",
        run: vectored::faulting_write,
    },
    Case {
        name: "writev",
        rules: &["R9", "R24"],
        about: "writev of 3 iovecs is one message, one sysfs write, one signal per subscriber",
        run: vectored::writev,
    },
    Case {
        name: "readv",
        rules: &["R15"],
        about: "readv spreads one message over its iovecs",
        run: vectored::readv,
    },
    Case {
        name: "blocking-readv",
        rules: &["R15", "R17"],
        about: "a blocked readv whose first iovec is short returns exactly one message",
        run: vectored::blocking_readv,
    },
    Case {
        name: "zero-length-read",
        rules: &["R14"],
        about: "a zero-length read returns 0 at once and leaves the message unread",
        run: vectored::zero_length_read,
    },
    Case {
        name: "partial-read",
        rules: &["R12", "R13"],
        about: "a read shorter than the message returns its first bytes and consumes it for its file only",
        run: consumption::partial_read,
    },
    Case {
        name: "stall",
        rules: &["R29", "R13"],
        about: "a read or write stalled on a userfaultfd page blocks no other opener",
        run: stall::stall,
    },
    Case {
        name: "read-fault-wakes",
        rules: &["R16"],
        about: "a read whose copy faults gives the message back and wakes a read or poll of its file",
        run: consumption::read_fault_wakes,
    },
    Case {
        name: "unknown-ioctl",
        rules: &["R28"],
        about: "ioctls fail with ENOTTY",
        run: basic::unknown_ioctl,
    },
    Case {
        name: "other-calls",
        rules: &["R28"],
        about: "mmap, fsync, ftruncate, huge lengths, kernel addresses, wrong access mode, bad F_SETSIG",
        run: basic::other_calls,
    },
    Case {
        name: "unsubscribe",
        rules: &["R25"],
        about: "clearing O_ASYNC stops the signals; setting it again restores them",
        run: basic::unsubscribe,
    },
    Case {
        name: "fresh-buffer",
        rules: &["R5"],
        about: "the buffer is freed with the last close: a reopened device has no message",
        run: basic::fresh_buffer,
    },
    Case {
        name: "blocking-read",
        rules: &["R17"],
        about: "a read with nothing unread blocks until the next write; a signal interrupts it",
        run: readiness::blocking_read,
    },
    Case {
        name: "wake-after-publish",
        rules: &["R21"],
        about: "a blocked reader wakes with the message of a write that also signals 64 subscribers",
        run: readiness::wake_after_publish,
    },
    Case {
        name: "nonblocking",
        rules: &["R18", "R13"],
        about: "under O_NONBLOCK an up-to-date reader gets EAGAIN",
        run: readiness::nonblocking,
    },
    Case {
        name: "nowait-read",
        rules: &["R18"],
        about: "preadv2(RWF_NOWAIT) and io_uring reads of a blocking file do not wait inside the driver",
        run: nowait::nowait_read,
    },
    Case {
        name: "poll",
        rules: &["R20"],
        about: "poll/select report POLLIN exactly when read would not block, POLLOUT to writers",
        run: readiness::poll_readiness,
    },
    Case {
        name: "epoll",
        rules: &["R20", "R21"],
        about: "epoll_wait returns the fd after a write and not before",
        run: readiness::epoll,
    },
    Case {
        name: "epoll-exclusive",
        rules: &["R22", "R21"],
        about: "a write wakes one of 8 EPOLLEXCLUSIVE epoll waiters and all of 8 plain ones",
        run: wakeups::epoll_exclusive,
    },
    Case {
        name: "poll-wake",
        rules: &["R21"],
        about: "a write as a poll or epoll waiter registers wakes it (1000 rounds each)",
        run: wakeups::poll_wake,
    },
    Case {
        name: "setsig",
        rules: &["R23", "R24"],
        about: "F_SETSIG queues one real-time signal per write with si_fd, si_code and si_band",
        run: fanout::setsig,
    },
    Case {
        name: "fanout",
        rules: &["R23", "R13"],
        about: "64 subscriber processes over several devices each get exactly their device's writes",
        run: fanout::fanout,
    },
    Case {
        name: "statistics",
        rules: &["R26"],
        about: "sysfs counters: buffer_size, readers, writers, subscribers, writes, notifications",
        run: sysfs::statistics,
    },
    Case {
        name: "permissions",
        rules: &["R27"],
        about: "the udev/mdev rule gives the nodes group asyncn and mode 0660",
        run: sysfs::permissions,
    },
    Case {
        name: "posix-aio",
        rules: &["R6", "R11"],
        about: "aio_read and aio_write complete with completion signals",
        run: asyncio::posix_aio,
    },
    Case {
        name: "tokio",
        rules: &["R21"],
        about: "a tokio AsyncFd reader is woken by the driver's poll",
        run: tokio_reader::tokio_reader,
    },
    Case {
        name: "tracing",
        rules: &[],
        about: "per-operation traces are dynamic debug prints: off by default, switchable",
        run: tracing::tracing,
    },
    Case {
        name: "module-params",
        rules: &["R1", "R2"],
        about: "bad module parameters fail the load with EINVAL and a log line; unload removes the nodes",
        run: basic::module_params,
    },
    Case {
        name: "killed",
        rules: &["R25"],
        about: "SIGKILL of a subscriber blocked in read releases its file; the device keeps working",
        run: lifecycle::killed,
    },
    Case {
        name: "unload-busy",
        rules: &["R4"],
        about: "rmmod while a file is open is refused with EWOULDBLOCK and changes nothing",
        run: lifecycle::unload_busy,
    },
    Case {
        name: "load-cycle",
        rules: &["R1", "R3"],
        about: "load, use and unload the module 100 times; a bad parameter in between fails",
        run: lifecycle::load_cycle,
    },
    Case {
        name: "init-faults",
        rules: &["R3", "R31"],
        about: "every fault-injection point of a load fails it cleanly (fail-nth; debug kernels, needs --module)",
        run: init_faults::init_faults,
    },
];
