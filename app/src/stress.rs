//! `asyncn-test stress`: many processes doing random things to the
//! devices at once while the invariants are checked.
//!
//! Workers open (read-only, write-only, read-write; blocking or not),
//! close, read, write (0, 1, `buffer_size` bytes and more), switch
//! `O_ASYNC` and `F_SETSIG`, poll, and sometimes exit without closing;
//! the parent `SIGKILL`s random workers and starts new ones. Checked:
//!
//! - every read returns a whole message some writer wrote, or the prefix
//!   of one when the read buffer was smaller (see `message`): no torn or
//!   stale reads;
//! - a subscription with a queued real-time signal (`F_SETSIG`) gets one
//!   signal per write completed while it was subscribed. Writers count
//!   writes started and completed per device in shared memory, so for a
//!   subscription session `lower = completed at its end - started at its
//!   start` writes must have notified it and at most `upper = started at
//!   its end - completed at its start` may have (exact when no write was in
//!   flight at either edge);
//! - `poll` saying readable means a read does not block; writers always
//!   poll writable;
//! - when every worker is gone: no open files or subscribers counted in
//!   sysfs, the buffers freed (a new open has nothing to read), and the
//!   device still works.
//!
//! With `--faults PERCENT` (debug kernels) the workers run under random
//! fault injection: allocations and user copies made from the driver fail
//! with that probability (see `faults::RandomFaults`). Then each call may
//! also give the error the README's "Out of memory" table allows for it,
//! and nothing else; a read that fails with `EFAULT` must leave its message
//! unread (`poll` says readable at once); a write that fails is not counted
//! as completed, and every check above still holds for the calls that
//! succeeded. The run fails if no fault was injected.
//!
//! Each worker's operations follow from the run's seed and the worker's
//! number; the interleaving of workers is up to the scheduler.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{getpid, Pid};

use crate::after_run;
use crate::cases::{CaseResult, Context};
use crate::device::node_paths;
use crate::faults::{self, RandomFaults};
use crate::message::{self, HEADER_LEN};
use crate::proc::{reap, spawn};
use crate::rng::Rng;
use crate::rtsig::{self, PollSignal};
use crate::shared::{Shared, ZeroedAtomics};
use crate::tap::Tap;

/// Devices the run spreads over (fewer when the module has fewer).
pub const MAX_DEVICES: usize = 4;
/// Open files a worker holds at most.
const MAX_SLOTS: usize = 4;
/// How long a blocking read may wait before a timer interrupts it.
const READ_TIMER: Duration = Duration::from_millis(20);
/// Violations a worker prints before it only counts them.
const PRINT_LIMIT: u64 = 10;

/// What the stress run counts, across all workers (killed ones included).
#[derive(Clone, Copy)]
#[repr(usize)]
enum Count {
    Spawned,
    Killed,
    ExitedOpen,
    Opens,
    Closes,
    Reads,
    ReadsWhole,
    ReadsPrefix,
    ReadsWouldBlock,
    Writes,
    WritesEmpty,
    WritesTruncated,
    Polls,
    Subscriptions,
    SessionsChecked,
    RtSignals,
    Sigio,
    SetSig,
    Overflows,
    InjectedOpen,
    InjectedRead,
    InjectedWrite,
    InjectedAsync,
    UnreadKept,
    Violations,
}
const COUNTS: usize = Count::Violations as usize + 1;

#[repr(C)]
struct Board {
    stop: AtomicU32,
    started: [AtomicU64; MAX_DEVICES],
    completed: [AtomicU64; MAX_DEVICES],
    counts: [AtomicU64; COUNTS],
}

// SAFETY: atomics only.
unsafe impl ZeroedAtomics for Board {}

impl Board {
    fn add(&self, what: Count, n: u64) {
        self.counts[what as usize].fetch_add(n, SeqCst);
    }

    fn get(&self, what: Count) -> u64 {
        self.counts[what as usize].load(SeqCst)
    }
}

/// The options of a stress or fuzz run.
pub struct RunOptions {
    pub seconds: u64,
    pub procs: usize,
    pub seed: u64,
    /// Stress only: random fault injection at this probability (percent).
    pub faults: Option<u32>,
}

pub fn run(ctx: &Context, tap: &mut Tap, options: &RunOptions) -> CaseResult {
    let buffer_size = ctx.params.buffer_size;
    if buffer_size < 2 * HEADER_LEN {
        return Err(format!(
            "stress needs buffer_size >= {} (messages carry a {HEADER_LEN}-byte header); module has {buffer_size}",
            2 * HEADER_LEN
        )
        .into());
    }
    let paths = node_paths(&ctx.device, ctx.params.devices, MAX_DEVICES);
    let devices = paths.len();
    tap.note(format!(
        "stress: seed {}, {} processes, {} s, {devices} device(s), buffer_size {buffer_size}{}",
        options.seed,
        options.procs,
        options.seconds,
        match options.faults {
            Some(percent) => format!(
                ", driver allocations and user copies failing at {percent}% (fault injection)"
            ),
            None => String::new(),
        }
    ));
    rtsig::raise_pending_limit();
    let before = after_run::Baseline::read(&paths)?;
    let faults = options.faults.map(RandomFaults::arm).transpose()?;
    let under_faults = faults.is_some();
    let board: Shared<Board> = Shared::new()?;
    let mut rng = Rng::new(options.seed);
    let mut next_worker: u32 = 0;
    let mut start_worker = |board: &Board| -> std::io::Result<Pid> {
        let id = next_worker;
        next_worker += 1;
        board.add(Count::Spawned, 1);
        let worker = Worker::new(id, options.seed, &paths, buffer_size, board, under_faults);
        spawn(move || worker.run())
    };

    let mut workers = Vec::with_capacity(options.procs);
    for _ in 0..options.procs {
        workers.push(start_worker(&board)?);
    }
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut progress = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20 + rng.below(200)));
        if rng.chance(40) {
            let i = rng.index(workers.len());
            let _ = kill(workers[i], Signal::SIGKILL);
            match nix::sys::wait::waitpid(workers[i], None) {
                Ok(WaitStatus::Signaled(_, Signal::SIGKILL, _)) => board.add(Count::Killed, 1),
                // It had just exited by itself.
                Ok(WaitStatus::Exited(_, 0)) => {}
                other => {
                    board.add(Count::Violations, 1);
                    eprintln!(
                        "stress: worker {} ended unexpectedly: {other:?}",
                        workers[i]
                    );
                }
            }
            workers[i] = start_worker(&board)?;
        }
        // Workers that exited by themselves (without closing) are replaced.
        for pid in workers.iter_mut() {
            if let Ok(status) = nix::sys::wait::waitpid(*pid, Some(WaitPidFlag::WNOHANG)) {
                if status != WaitStatus::StillAlive {
                    if !matches!(status, WaitStatus::Exited(_, 0)) {
                        board.add(Count::Violations, 1);
                        eprintln!("stress: worker {pid} ended unexpectedly: {status:?}");
                    }
                    *pid = start_worker(&board)?;
                }
            }
        }
        if progress.elapsed() >= Duration::from_secs(30) {
            progress = Instant::now();
            tap.note(format!(
                "stress: {} operations, {} signals counted so far",
                operations(&board),
                board.get(Count::RtSignals)
            ));
        }
    }
    board.stop.store(1, SeqCst);
    let mut hung = 0;
    for pid in workers {
        match reap(pid, Duration::from_secs(10)) {
            Some(0) => {}
            other => {
                hung += 1;
                eprintln!("stress: worker {pid} did not stop cleanly: {other:?}");
            }
        }
    }
    // Disarmed before the checks after the run, which must see no fault.
    drop(faults);

    let ops = operations(&board);
    tap.note(format!(
        "stress: {ops} operations: {} opens, {} closes, {} reads ({} whole messages, {} prefixes, {} would block), \
         {} writes ({} empty, {} truncated), {} polls, {} subscriptions, {} F_SETSIG",
        board.get(Count::Opens),
        board.get(Count::Closes),
        board.get(Count::Reads),
        board.get(Count::ReadsWhole),
        board.get(Count::ReadsPrefix),
        board.get(Count::ReadsWouldBlock),
        board.get(Count::Writes),
        board.get(Count::WritesEmpty),
        board.get(Count::WritesTruncated),
        board.get(Count::Polls),
        board.get(Count::Subscriptions),
        board.get(Count::SetSig),
    ));
    tap.note(format!(
        "stress: {} processes started, {} killed with SIGKILL, {} exited without closing",
        board.get(Count::Spawned),
        board.get(Count::Killed),
        board.get(Count::ExitedOpen)
    ));
    tap.note(format!(
        "stress: signals counted: {} queued real-time signals over {} checked subscriptions; {} SIGIO \
         ({} in place of a real-time signal the full queue could not take)",
        board.get(Count::RtSignals),
        board.get(Count::SessionsChecked),
        board.get(Count::Sigio),
        board.get(Count::Overflows)
    ));
    if under_faults {
        let injected = [
            Count::InjectedOpen,
            Count::InjectedRead,
            Count::InjectedWrite,
            Count::InjectedAsync,
        ]
        .map(|c| board.get(c));
        tap.note(format!(
            "stress: failed by fault injection: {} opens (ENOMEM), {} reads (EFAULT; each left its \
             message unread: {} checked), {} writes (ENOMEM or EFAULT), {} subscriptions (ENOMEM)",
            injected[0],
            injected[1],
            board.get(Count::UnreadKept),
            injected[2],
            injected[3]
        ));
        let total: u64 = injected.iter().sum();
        tap.check(
            total > 0 && board.get(Count::UnreadKept) == injected[1],
            format!(
                "faults were injected and each gave an error the README allows: {total} of {ops} operations"
            ),
        );
    }
    tap.check(
        ops > 0 && board.get(Count::ReadsWhole) > 0 && board.get(Count::SessionsChecked) > 0,
        format!(
            "the run did work: {ops} operations, {} whole reads, {} checked subscriptions",
            board.get(Count::ReadsWhole),
            board.get(Count::SessionsChecked)
        ),
    );
    let violations = board.get(Count::Violations);
    tap.check(
        violations == 0,
        format!("no invariant broken (torn read, missed or extra signal, bad result): {violations} (seed {})", options.seed),
    );
    tap.check(
        hung == 0,
        format!("every worker stopped when told ({hung} did not)"),
    );
    let written: u64 = board.completed.iter().map(|c| c.load(SeqCst)).sum();
    let attempted: u64 = board.started.iter().map(|c| c.load(SeqCst)).sum();
    after_run::check(
        tap,
        "stress",
        &paths,
        &before,
        Some(written..=attempted),
        buffer_size,
    )
}

fn operations(board: &Board) -> u64 {
    [
        Count::Opens,
        Count::Closes,
        Count::Reads,
        Count::Writes,
        Count::Polls,
        Count::Subscriptions,
        Count::SetSig,
    ]
    .iter()
    .map(|&c| board.get(c))
    .sum()
}

/// How a slot is opened.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Read,
    Write,
    ReadWrite,
}

impl Mode {
    fn readable(self) -> bool {
        self != Mode::Write
    }

    fn writable(self) -> bool {
        self != Mode::Read
    }
}

/// One subscription, from `O_ASYNC` on until off or close.
struct Session {
    /// Writes completed on the device when subscribing began.
    completed_before: u64,
    /// Writes started on the device when subscribing had finished.
    started_after: u64,
    /// Queued signals received for this file.
    signals: u64,
    /// The signal was real-time for the whole session (countable).
    countable: bool,
    /// The signal was plain `SIGIO` for the whole session.
    plain: bool,
    /// `SIGIO`s this process had received when the session began.
    sigio_mark: u64,
}

struct Slot {
    fd: OwnedFd,
    device: usize,
    mode: Mode,
    nonblocking: bool,
    /// `F_SETSIG`: 0 for plain `SIGIO`.
    signal: i32,
    session: Option<Session>,
}

struct Worker<'a> {
    id: u32,
    rng: Rng,
    paths: &'a [PathBuf],
    buffer_size: usize,
    board: &'a Board,
    slots: Vec<Slot>,
    seq: u64,
    sigio: u64,
    printed: u64,
    rt: i32,
    pid: i32,
    /// Under fault injection: the errors it causes are allowed.
    faults: bool,
}

impl<'a> Worker<'a> {
    fn new(
        id: u32,
        seed: u64,
        paths: &'a [PathBuf],
        buffer_size: usize,
        board: &'a Board,
        faults: bool,
    ) -> Self {
        Self {
            id,
            rng: Rng::new(Rng::derive(seed, u64::from(id))),
            paths,
            buffer_size,
            board,
            slots: Vec::new(),
            seq: 0,
            sigio: 0,
            printed: 0,
            rt: rtsig::stress_signal(),
            pid: 0,
            faults,
        }
    }

    fn violation(&mut self, what: impl std::fmt::Display) {
        self.board.add(Count::Violations, 1);
        self.printed += 1;
        if self.printed <= PRINT_LIMIT {
            crate::tap::report(format!(
                "stress: worker {} (pid {}): {what}",
                self.id, self.pid
            ));
        }
    }

    /// The worker's life; returns its exit status.
    fn run(mut self) -> i32 {
        self.pid = getpid().as_raw();
        if self.faults {
            if let Err(e) = faults::make_it_fail() {
                eprintln!("stress: worker {}: make-it-fail: {e}", self.id);
                return 1;
            }
        }
        if let Err(e) = separate_user(self.id, self.paths) {
            eprintln!("stress: worker {}: changing user: {e}", self.id);
            return 1;
        }
        if let Err(e) = rtsig::prepare_worker(&[libc::SIGIO, self.rt]) {
            eprintln!("stress: worker {}: signal setup: {e}", self.id);
            return 1;
        }
        while self.board.stop.load(SeqCst) == 0 {
            match self.rng.below(100) {
                0..=11 => self.open(),
                12..=18 => self.close(),
                19..=43 => self.read(),
                44..=67 => self.write(),
                68..=78 => self.toggle_async(),
                79..=83 => self.set_signal(),
                84..=97 => self.poll(),
                98 => std::thread::sleep(Duration::from_micros(self.rng.below(2000))),
                _ => {
                    if self.rng.chance(10) && !self.slots.is_empty() {
                        // Exit holding files and subscriptions: the kernel
                        // closes them.
                        self.board.add(Count::ExitedOpen, 1);
                        return 0;
                    }
                }
            }
            self.drain();
        }
        while !self.slots.is_empty() {
            self.close_slot(0);
        }
        0
    }

    fn open(&mut self) {
        if self.slots.len() >= MAX_SLOTS {
            return;
        }
        let device = self.rng.index(self.paths.len());
        let mode = self.rng.pick(&[Mode::Read, Mode::Write, Mode::ReadWrite]);
        let nonblocking = self.rng.chance(50);
        let mut flags = match mode {
            Mode::Read => libc::O_RDONLY,
            Mode::Write => libc::O_WRONLY,
            Mode::ReadWrite => libc::O_RDWR,
        } | libc::O_CLOEXEC;
        if nonblocking {
            flags |= libc::O_NONBLOCK;
        }
        let Ok(path) = std::ffi::CString::new(self.paths[device].as_os_str().as_encoded_bytes())
        else {
            return;
        };
        self.board.add(Count::Opens, 1);
        // SAFETY: `path` is a NUL-terminated string.
        let fd = unsafe { libc::open(path.as_ptr(), flags) };
        if fd < 0 {
            let e = Errno::last();
            if e == Errno::ENOMEM && self.faults {
                self.board.add(Count::InjectedOpen, 1);
            } else {
                self.violation(format!("open {}: {e}", self.paths[device].display()));
            }
            return;
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        if let Err(e) =
            crate::device::set_owner(std::os::fd::AsFd::as_fd(&fd), Pid::from_raw(self.pid))
        {
            self.violation(format!("F_SETOWN: {e}"));
        }
        let signal = if self.rng.chance(75) { self.rt } else { 0 };
        if let Err(e) = crate::rtsig::set_signal(std::os::fd::AsFd::as_fd(&fd), signal) {
            self.violation(format!("F_SETSIG {signal}: {e}"));
        }
        self.slots.push(Slot {
            fd,
            device,
            mode,
            nonblocking,
            signal,
            session: None,
        });
    }

    fn close(&mut self) {
        if !self.slots.is_empty() {
            let i = self.rng.index(self.slots.len());
            self.close_slot(i);
        }
    }

    fn close_slot(&mut self, i: usize) {
        let slot = self.slots.swap_remove(i);
        self.board.add(Count::Closes, 1);
        let (device, old_fd) = (slot.device, slot.fd.as_raw_fd());
        let edge = self.board.completed[device].load(SeqCst);
        drop(slot.fd);
        if let Some(session) = slot.session {
            self.end_session(device, session, edge, old_fd);
        }
    }

    fn read(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.rng.index(self.slots.len());
        let capacity = self
            .rng
            .pick(&[1, 16, self.buffer_size, self.buffer_size + 100]);
        self.read_slot(i, capacity, false);
    }

    /// Reads from slot `i`; `must_not_block` after `poll` said readable.
    fn read_slot(&mut self, i: usize, capacity: usize, must_not_block: bool) {
        let (fd, mode, nonblocking) = {
            let s = &self.slots[i];
            (s.fd.as_raw_fd(), s.mode, s.nonblocking)
        };
        let mut buf = vec![0u8; capacity];
        self.board.add(Count::Reads, 1);
        if !nonblocking {
            rtsig::arm_timer(READ_TIMER);
        }
        // SAFETY: `buf` is valid for `capacity` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), capacity) };
        let result = Errno::result(n).map(|n| n as usize);
        if !nonblocking {
            rtsig::arm_timer(Duration::ZERO);
        }
        match result {
            Ok(n) if mode.readable() => {
                match message::validate(&buf[..n], capacity, self.buffer_size) {
                    Ok(message::Read::Whole(_)) => self.board.add(Count::ReadsWhole, 1),
                    Ok(message::Read::Prefix) => self.board.add(Count::ReadsPrefix, 1),
                    Err(e) => self.violation(format!(
                        "read {capacity} from device {}: {e}",
                        self.slots[i].device
                    )),
                }
            }
            Err(Errno::EBADF) if !mode.readable() => {}
            Err(Errno::EFAULT) if self.faults && mode.readable() => {
                self.board.add(Count::InjectedRead, 1);
                self.check_still_unread(i);
            }
            Err(Errno::EAGAIN) if nonblocking && !must_not_block => {
                self.board.add(Count::ReadsWouldBlock, 1)
            }
            Err(Errno::EINTR) if !nonblocking && !must_not_block => {
                self.board.add(Count::ReadsWouldBlock, 1)
            }
            other => self.violation(format!(
                "read on a {} file ({}){}: {other:?}",
                if mode.readable() {
                    "readable"
                } else {
                    "write-only"
                },
                if nonblocking {
                    "O_NONBLOCK"
                } else {
                    "blocking"
                },
                if must_not_block {
                    " after poll said readable"
                } else {
                    ""
                }
            )),
        }
    }

    fn write(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.rng.index(self.slots.len());
        let bs = self.buffer_size;
        let len = match self.rng.below(10) {
            0 => 0,
            1 => 1,
            2..=4 => bs,
            5..=6 => bs + 1 + self.rng.index(bs),
            _ => HEADER_LEN + self.rng.index(bs - HEADER_LEN),
        };
        self.seq += 1;
        let data = message::encode(self.id, self.seq, len, bs);
        let (fd, device, mode) = {
            let s = &self.slots[i];
            (s.fd.as_raw_fd(), s.device, s.mode)
        };
        self.board.add(Count::Writes, 1);
        let counted = len > 0 && mode.writable();
        if counted {
            self.board.started[device].fetch_add(1, SeqCst);
        }
        // SAFETY: `data` is valid for its length.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        let result = Errno::result(n).map(|n| n as usize);
        match result {
            Ok(n) if mode.writable() && n == len.min(bs) => {
                if counted {
                    self.board.completed[device].fetch_add(1, SeqCst);
                }
                if len == 0 {
                    self.board.add(Count::WritesEmpty, 1);
                } else if len > bs {
                    self.board.add(Count::WritesTruncated, 1);
                }
            }
            Err(Errno::EBADF) if !mode.writable() => {}
            Err(Errno::ENOMEM | Errno::EFAULT) if self.faults && counted => {
                self.board.add(Count::InjectedWrite, 1);
                // It will never complete nor notify: the bounds of the
                // subscriptions tighten (see `end_session`).
                self.board.started[device].fetch_sub(1, SeqCst);
            }
            other => self.violation(format!(
                "write of {len} bytes (buffer_size {bs}): {other:?}"
            )),
        }
    }

    fn toggle_async(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.rng.index(self.slots.len());
        let (fd, device) = (self.slots[i].fd.as_raw_fd(), self.slots[i].device);
        let on = self.slots[i].session.is_none();
        // Subscribing: writes completed before it cannot notify. Ending:
        // writes completed before it must have.
        let edge = self.board.completed[device].load(SeqCst);
        match set_async(fd, on) {
            Ok(()) => {}
            Err(Errno::ENOMEM) if self.faults && on => {
                self.board.add(Count::InjectedAsync, 1);
                return;
            }
            Err(e) => {
                self.violation(format!("F_SETFL O_ASYNC {on}: {e}"));
                return;
            }
        }
        if on {
            self.board.add(Count::Subscriptions, 1);
            let plain = self.slots[i].signal == 0;
            self.slots[i].session = Some(Session {
                completed_before: edge,
                started_after: self.board.started[device].load(SeqCst),
                signals: 0,
                countable: !plain,
                plain,
                sigio_mark: self.sigio,
            });
        } else if let Some(session) = self.slots[i].session.take() {
            self.end_session(device, session, edge, fd);
        }
    }

    fn set_signal(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.rng.index(self.slots.len());
        let signal = if self.slots[i].signal == 0 {
            self.rt
        } else {
            0
        };
        let fd = self.slots[i].fd.as_raw_fd();
        self.board.add(Count::SetSig, 1);
        // SAFETY: `fd` is open for the duration of the call.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        if let Err(e) = crate::rtsig::set_signal(borrowed, signal) {
            self.violation(format!("F_SETSIG {signal}: {e}"));
            return;
        }
        let slot = &mut self.slots[i];
        slot.signal = signal;
        // Switching signals mid-subscription: the count no longer adds up.
        if let Some(session) = &mut slot.session {
            session.countable = false;
            session.plain = false;
        }
    }

    fn poll(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.rng.index(self.slots.len());
        let (fd, mode) = (self.slots[i].fd.as_raw_fd(), self.slots[i].mode);
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN | libc::POLLOUT,
            revents: 0,
        };
        let timeout = self.rng.pick(&[0, 0, 5]);
        self.board.add(Count::Polls, 1);
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if ready < 0 {
            // Not even ENOMEM under fault injection: the driver allocates
            // nothing in poll, and the kernel's wait-queue entries for one
            // file are on its stack (fs/select.c, N_INLINE_POLL_ENTRIES).
            let e = Errno::last();
            self.violation(format!("poll (timeout {timeout} ms): {e}"));
            return;
        }
        let writable = pfd.revents & libc::POLLOUT != 0;
        if writable != mode.writable() {
            self.violation(format!(
                "poll: POLLOUT {writable} on a file opened for writing {}",
                mode.writable()
            ));
        }
        if pfd.revents & libc::POLLIN != 0 {
            if !mode.readable() {
                self.violation("poll: POLLIN on a write-only file");
            } else {
                // Only this file's own reads can take the message away.
                self.read_slot(i, self.buffer_size, true);
            }
        }
    }

    /// After a read of slot `i` failed with `EFAULT`: the message it had
    /// claimed is unread again. Only this file's own reads consume its unread
    /// message, so `poll` with no timeout (which allocates nothing) must say
    /// readable.
    fn check_still_unread(&mut self, i: usize) {
        let mut pfd = libc::pollfd {
            fd: self.slots[i].fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
        if ready == 1 && pfd.revents & libc::POLLIN != 0 {
            self.board.add(Count::UnreadKept, 1);
        } else {
            let device = self.slots[i].device;
            self.violation(format!(
                "a read from device {device} failed with EFAULT and its message is no longer unread \
                 (poll: {ready}, revents {:#x})",
                pfd.revents
            ));
        }
    }

    /// Takes every pending signal and credits it to its subscription.
    fn drain(&mut self) {
        while let Some((signo, signal)) = rtsig::take_pending(&[libc::SIGIO, self.rt]) {
            if signo == libc::SIGIO {
                self.count_sigio();
            } else {
                self.credit(signal);
            }
        }
    }

    /// A `SIGIO` arrived. Besides plain-`SIGIO` subscriptions, the kernel
    /// sends one in place of a real-time signal it could not queue (the
    /// per-user `RLIMIT_SIGPENDING` of the user namespace is reached): the
    /// real-time subscriptions of this process are no longer countable.
    fn count_sigio(&mut self) {
        self.sigio += 1;
        self.board.add(Count::Sigio, 1);
        let mut plain = false;
        let mut uncounted = 0;
        for session in self.slots.iter_mut().filter_map(|s| s.session.as_mut()) {
            plain |= session.plain;
            if session.countable {
                session.countable = false;
                uncounted += 1;
            }
        }
        if !plain && uncounted > 0 {
            self.board.add(Count::Overflows, 1);
        }
    }

    /// Credits a queued signal to the subscription of its `si_fd`.
    fn credit(&mut self, signal: PollSignal) {
        if signal.code != rtsig::POLL_IN
            || signal.band != i64::from(libc::POLLIN | libc::POLLRDNORM)
        {
            self.violation(format!(
                "signal with si_code {} si_band {:#x}",
                signal.code, signal.band
            ));
        }
        match self
            .slots
            .iter_mut()
            .find(|s| s.fd.as_raw_fd() == signal.fd)
            .and_then(|s| s.session.as_mut())
        {
            Some(session) => session.signals += 1,
            None => self.violation(format!(
                "real-time signal for fd {} which is not subscribed",
                signal.fd
            )),
        }
    }

    /// Ends a subscription of file `old_fd` (unsubscribed or closed just
    /// now); `edge` is the count of completed writes read before that.
    fn end_session(&mut self, device: usize, mut session: Session, edge: u64, old_fd: RawFd) {
        let started_end = self.board.started[device].load(SeqCst);
        // The signals raised before the unsubscription are all queued now
        // (a closed file's carry its old number, not reused yet).
        while let Some((signo, signal)) = rtsig::take_pending(&[libc::SIGIO, self.rt]) {
            if signo == libc::SIGIO {
                self.count_sigio();
                session.countable = false;
            } else if signal.fd == old_fd {
                session.signals += 1;
            } else {
                self.credit(signal);
            }
        }
        let lower = edge.saturating_sub(session.started_after);
        let upper = started_end.saturating_sub(session.completed_before);
        if session.countable {
            self.board.add(Count::SessionsChecked, 1);
            self.board.add(Count::RtSignals, session.signals);
            if session.signals < lower || session.signals > upper {
                self.violation(format!(
                    "subscription to device {device} got {} signals; writes completed while subscribed: at least {lower}, at most {upper}",
                    session.signals
                ));
            }
        } else if session.plain && lower > 0 && self.sigio == session.sigio_mark {
            self.violation(format!(
                "plain SIGIO subscription to device {device}: {lower} writes and no SIGIO"
            ));
        }
    }
}

/// Runs a worker as its own user when root and the nodes let the group
/// read and write (the udev/mdev rule's group): real-time signals are
/// limited per user, and one user for all workers would overflow the
/// queue while most of them wait for a CPU.
fn separate_user(id: u32, paths: &[PathBuf]) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let meta = std::fs::metadata(&paths[0])?;
    if meta.mode() & 0o060 != 0o060 || meta.gid() == 0 {
        return Ok(());
    }
    let gid = nix::unistd::Gid::from_raw(meta.gid());
    nix::unistd::setgroups(&[gid])?;
    nix::unistd::setgid(gid)?;
    nix::unistd::setuid(nix::unistd::Uid::from_raw(20_000 + id))?;
    Ok(())
}

fn set_async(fd: RawFd, on: bool) -> nix::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an open descriptor.
    let flags = Errno::result(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let flags = if on {
        flags | libc::O_ASYNC
    } else {
        flags & !libc::O_ASYNC
    };
    // SAFETY: as above.
    Errno::result(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) }).map(drop)
}
