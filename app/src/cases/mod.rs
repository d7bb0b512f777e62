//! The cases: one file per topic, and here the registry that `asyncn-test
//! all` runs in order. Case files use `crate::harness`, never this module.

mod asyncio;
mod basic;
mod fanout;
mod init_faults;
mod lifecycle;
mod readiness;
mod stall;
mod sysfs;
mod tokio_reader;
mod tracing;
mod vectored;

use crate::harness::{CaseResult, Context, Tap};

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&Context, &mut Tap) -> CaseResult,
}

pub const CASES: &[Case] = &[
    Case {
        name: "scenario",
        about: "a reader process is notified by SIGIO of each message a writer process sends",
        run: basic::scenario,
    },
    Case {
        name: "truncate",
        about: "a write longer than buffer_size is truncated and its accepted length returned",
        run: basic::truncate,
    },
    Case {
        name: "short-after-long",
        about: "a short message after a long one reads back exactly, no stale bytes",
        run: basic::short_after_long,
    },
    Case {
        name: "zero-length",
        about: "a zero-length write returns 0, keeps the message and notifies no one",
        run: basic::zero_length,
    },
    Case {
        name: "not-seekable",
        about: "lseek, pread and pwrite fail with ESPIPE",
        run: basic::not_seekable,
    },
    Case {
        name: "bad-pointer",
        about: "bad user pointers give EFAULT and leave the device usable",
        run: basic::bad_pointer,
    },
    Case {
        name: "faulting-write",
        about: "a write or writev that faults leaves the previous message readable, unsignalled",
        run: vectored::faulting_write,
    },
    Case {
        name: "writev",
        about: "writev of 3 iovecs is one message, one sysfs write, one signal per subscriber",
        run: vectored::writev,
    },
    Case {
        name: "readv",
        about: "readv spreads one message over its iovecs",
        run: vectored::readv,
    },
    Case {
        name: "blocking-readv",
        about: "a blocked readv whose first iovec is short returns exactly one message",
        run: vectored::blocking_readv,
    },
    Case {
        name: "zero-length-read",
        about: "a zero-length read returns 0 at once and leaves the message unread",
        run: vectored::zero_length_read,
    },
    Case {
        name: "stall",
        about: "a read or write stalled on a userfaultfd page blocks no other opener",
        run: stall::stall,
    },
    Case {
        name: "unknown-ioctl",
        about: "ioctls fail with ENOTTY",
        run: basic::unknown_ioctl,
    },
    Case {
        name: "other-calls",
        about: "mmap, fsync, ftruncate, huge lengths, kernel addresses, wrong access mode, bad F_SETSIG",
        run: basic::other_calls,
    },
    Case {
        name: "unsubscribe",
        about: "clearing O_ASYNC stops the signals; setting it again restores them",
        run: basic::unsubscribe,
    },
    Case {
        name: "fresh-buffer",
        about: "the buffer is freed with the last close: a reopened device has no message",
        run: basic::fresh_buffer,
    },
    Case {
        name: "blocking-read",
        about: "a read with nothing unread blocks until the next write; a signal interrupts it",
        run: readiness::blocking_read,
    },
    Case {
        name: "wake-after-publish",
        about: "a blocked reader wakes with the message of a write that also signals 64 subscribers",
        run: readiness::wake_after_publish,
    },
    Case {
        name: "nonblocking",
        about: "under O_NONBLOCK an up-to-date reader gets EAGAIN",
        run: readiness::nonblocking,
    },
    Case {
        name: "poll",
        about: "poll/select report POLLIN exactly when read would not block, POLLOUT to writers",
        run: readiness::poll_readiness,
    },
    Case {
        name: "epoll",
        about: "epoll_wait returns the fd after a write and not before",
        run: readiness::epoll,
    },
    Case {
        name: "setsig",
        about: "F_SETSIG queues one real-time signal per write with si_fd, si_code and si_band",
        run: fanout::setsig,
    },
    Case {
        name: "fanout",
        about: "64 subscriber processes over several devices each get exactly their device's writes",
        run: fanout::fanout,
    },
    Case {
        name: "statistics",
        about: "sysfs counters: buffer_size, readers, writers, subscribers, writes, notifications",
        run: sysfs::statistics,
    },
    Case {
        name: "permissions",
        about: "the udev/mdev rule gives the nodes group asyncn and mode 0660",
        run: sysfs::permissions,
    },
    Case {
        name: "posix-aio",
        about: "aio_read and aio_write complete with completion signals",
        run: asyncio::posix_aio,
    },
    Case {
        name: "tokio",
        about: "a tokio AsyncFd reader is woken by the driver's poll",
        run: tokio_reader::tokio_reader,
    },
    Case {
        name: "tracing",
        about: "per-operation traces are dynamic debug prints: off by default, switchable",
        run: tracing::tracing,
    },
    Case {
        name: "module-params",
        about: "bad module parameters fail the load with EINVAL and a log line; unload removes the nodes",
        run: basic::module_params,
    },
    Case {
        name: "killed",
        about: "SIGKILL of a subscriber blocked in read releases its file; the device keeps working",
        run: lifecycle::killed,
    },
    Case {
        name: "unload-busy",
        about: "rmmod while a file is open is refused with EWOULDBLOCK and changes nothing",
        run: lifecycle::unload_busy,
    },
    Case {
        name: "load-cycle",
        about: "load, use and unload the module 100 times; a bad parameter in between fails",
        run: lifecycle::load_cycle,
    },
    Case {
        name: "init-faults",
        about: "every fault-injection point of a load fails it cleanly (fail-nth; debug kernels, needs --module)",
        run: init_faults::init_faults,
    },
];
