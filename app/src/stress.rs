//! `asyncn-test stress`: many processes doing random things to the
//! devices at once while the invariants are checked.
//!
//! Workers open (read-only, write-only, read-write; blocking or not),
//! close, read, write (0, 1, `buffer_size` bytes and more), switch
//! `O_ASYNC` and `F_SETSIG`, poll, and sometimes exit without closing;
//! the parent `SIGKILL`s random workers and starts new ones. Checked:
//!
//! - every read returns a whole message some writer wrote, or the prefix
//!   of one when the read buffer was smaller (see `message`): no torn
//!   reads; and no stale ones: an open file never reads a message of a
//!   writer again, nor one older than the last it read of that writer
//!   (each writer's messages reach a device in order) (checks R6, R11, R12);
//! - a subscription with a queued real-time signal (`F_SETSIG`) gets one
//!   signal per write completed while it was subscribed, counted per file
//!   by the signal's `si_fd` (changing `F_SETSIG` ends one session and
//!   starts the next). Writers count
//!   writes started and completed per device in shared memory, so for a
//!   subscription session `lower = completed at its end - started at its
//!   start` writes must have notified it and at most `upper = started at
//!   its end - completed at its start` may have (exact when no write was in
//!   flight at either edge) (checks R23, R24);
//! - `poll` saying readable means a read does not block; writers always
//!   poll writable (checks R20);
//! - no lost or late wake-up: a few blocking reads, `poll`s and epoll
//!   waits (level- and edge-triggered) wait long, and one that began with
//!   no write in flight on its device must return, with data or readable,
//!   within a bound after the first write that completed after it began
//!   (checks R21);
//! - when every worker is gone: no open files or subscribers counted in
//!   sysfs, the buffers freed (a new open has nothing to read), and the
//!   device still works.
//!
//! With `--faults PERCENT` (debug kernels) the workers run under random
//! fault injection: allocations and user copies made from the driver fail
//! with that probability (see `faults::RandomFaults`). Then each call may
//! also give the error the "Out of memory" table of docs/device.md allows for it,
//! and nothing else; a read that fails with `EFAULT` must leave its message
//! unread (`poll` says readable at once); a write that fails is not counted
//! as completed, and every check above still holds for the calls that
//! succeeded. The run fails if no fault was injected (checks R10, R16, R31).
//!
//! Each worker's operations follow from the run's seed and the worker's
//! number; the interleaving of workers is up to the scheduler.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::{getpid, Pid};

use crate::after_run;
use crate::device::node_paths;
use crate::faults::{self, RandomFaults};
use crate::harness::Tap;
use crate::harness::{CaseResult, Context};
use crate::message::{self, HEADER_LEN};
use crate::proc::{Ended, Workers};
use crate::rng::Rng;
use crate::sys::rtsig::{self, PollSignal};
use crate::sys::shared::{zeroed_atomics, Shared};

/// Devices the run spreads over (fewer when the module has fewer).
pub const MAX_DEVICES: usize = 4;
/// Open files a worker holds at most.
const MAX_SLOTS: usize = 4;
/// How long a blocking read may wait before a timer interrupts it.
const READ_TIMER: Duration = Duration::from_millis(20);
/// The lost-wake-up detector's blocking reads: interrupted after this,
/// they must not have missed a write that completed more than
/// `WAKE_BOUND` before (times `--timeout-scale` both).
const LONG_READ_TIMER: Duration = Duration::from_secs(2);
const WAKE_BOUND: Duration = Duration::from_secs(1);
/// Completion times kept per device.
const RING: usize = 64;
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
    RtSessions,
    SessionsChecked,
    PlainSessions,
    RtSignals,
    Sigio,
    SetSig,
    InjectedOpen,
    /// Reads failed by fault injection (high 32 bits) and, of those, the
    /// ones whose message was found still unread (low 32 bits): one add per
    /// read, so a worker killed in between counts neither.
    InjectedReads,
    InjectedWrite,
    InjectedAsync,
    Overflows,
    LongReads,
    LongReadsJudged,
    LongReadsInterrupted,
    LongPolls,
    LongPollsJudged,
    LongPollsTimedOut,
    WakesMeasured,
    Violations,
}
const COUNTS: usize = Count::Violations as usize + 1;

zeroed_atomics! {
    struct Board {
        stop: AtomicU32,
        started: [AtomicU64; MAX_DEVICES],
        completed: [AtomicU64; MAX_DEVICES],
        counts: [AtomicU64; COUNTS],
        /// When the latest `RING` writes per device completed (monotonic ns),
        /// and their completion numbers: `completed_at[d][k % RING]` is write
        /// `k`'s while `completed_tag[d][k % RING]` is `k`.
        completed_at: [[AtomicU64; RING]; MAX_DEVICES],
        completed_tag: [[AtomicU64; RING]; MAX_DEVICES],
        /// The longest wake-up measured: from a write's return to the return
        /// of a blocked read it woke (ns).
        wake_max_ns: AtomicU64,
    }
}

impl Board {
    fn add(&self, what: Count, n: u64) {
        self.counts[what as usize].fetch_add(n, SeqCst);
    }

    fn get(&self, what: Count) -> u64 {
        self.counts[what as usize].load(SeqCst)
    }

    /// Write number `k` of `device` completed at `now` (ns).
    fn record_completion(&self, device: usize, k: u64, now: u64) {
        let slot = (k % RING as u64) as usize;
        self.completed_tag[device][slot].store(0, SeqCst);
        self.completed_at[device][slot].store(now, SeqCst);
        self.completed_tag[device][slot].store(k, SeqCst);
    }

    /// When write `k` of `device` completed, if still known. A slot being
    /// rewritten at the same time by a later write gives that later time,
    /// never an earlier one.
    fn completion_time(&self, device: usize, k: u64) -> Option<u64> {
        let slot = (k % RING as u64) as usize;
        let tag = &self.completed_tag[device][slot];
        if tag.load(SeqCst) != k {
            return None;
        }
        let at = self.completed_at[device][slot].load(SeqCst);
        (tag.load(SeqCst) == k).then_some(at)
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds, the same in every process.
fn monotonic_ns() -> u64 {
    let now =
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
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
    // Whether every worker may mix plain and real-time subscriptions and
    // still count each of them (see `Worker::signals`).
    let exact = rtsig::pending_limit() >= rtsig::RAISED_PENDING_LIMIT;
    let before = after_run::Baseline::read(&paths)?;
    let faults = options.faults.map(RandomFaults::arm).transpose()?;
    let under_faults = faults.is_some();
    let board: Shared<Board> = Shared::new()?;
    let mut rng = Rng::new(options.seed);
    let mut next_worker: u32 = 0;
    let shared: &Board = &board;
    let mut new_worker = || {
        let id = next_worker;
        next_worker += 1;
        shared.add(Count::Spawned, 1);
        let worker = Worker::new(
            id,
            options.seed,
            &paths,
            buffer_size,
            shared,
            under_faults,
            exact,
        );
        move || worker.run()
    };

    let mut workers = Workers::new("stress");
    for _ in 0..options.procs {
        workers.start(new_worker())?;
    }
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut progress = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20 + rng.below(200)));
        if rng.chance(40) {
            let i = rng.index(workers.len());
            match workers.kill(i) {
                Ended::Killed => board.add(Count::Killed, 1),
                // It had just exited by itself.
                Ended::Exited => {}
                Ended::Unexpectedly => board.add(Count::Violations, 1),
            }
            workers.restart(i, new_worker())?;
        }
        // Workers that exited by themselves (without closing) are replaced.
        for (i, clean) in workers.ended() {
            if !clean {
                board.add(Count::Violations, 1);
            }
            workers.restart(i, new_worker())?;
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
    let running = workers.len();
    let hung = running - workers.stop(&board.stop, Duration::from_secs(10));
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
    let (rt_sessions, checked) = (
        board.get(Count::RtSessions),
        board.get(Count::SessionsChecked),
    );
    tap.note(format!(
        "stress: signals counted: {} queued real-time signals over {checked} of {rt_sessions} real-time \
         subscription sessions; {} SIGIO over {} plain-SIGIO sessions",
        board.get(Count::RtSignals),
        board.get(Count::Sigio),
        board.get(Count::PlainSessions),
    ));
    tap.check(
        rt_sessions > 0 && checked * 10 >= rt_sessions * 9,
        format!(
            "at least 90% of the real-time subscription sessions were counted exactly: {checked} of {rt_sessions}{}",
            if exact {
                String::new()
            } else {
                format!(
                    "; RLIMIT_SIGPENDING could not be raised to {} (not root), so each worker used one \
                     kind of signal, and {} left uncounted: their worker got {} SIGIO in place of a \
                     real-time signal the full queue could not take",
                    rtsig::RAISED_PENDING_LIMIT,
                    rt_sessions - checked,
                    board.get(Count::Overflows)
                )
            }
        ),
    );
    if under_faults {
        let reads = board.get(Count::InjectedReads);
        let (failed_reads, unread_kept) = (reads >> 32, reads & 0xffff_ffff);
        let injected = [
            board.get(Count::InjectedOpen),
            failed_reads,
            board.get(Count::InjectedWrite),
            board.get(Count::InjectedAsync),
        ];
        tap.note(format!(
            "stress: failed by fault injection: {} opens (ENOMEM), {} reads (EFAULT; each left its \
             message unread: {} checked), {} writes (ENOMEM or EFAULT), {} subscriptions (ENOMEM)",
            injected[0], failed_reads, unread_kept, injected[2], injected[3]
        ));
        let total: u64 = injected.iter().sum();
        tap.check(
            total > 0 && unread_kept == failed_reads,
            format!(
                "faults were injected and each gave an error docs/device.md allows: {total} of {ops} operations; \
                 {unread_kept} of the {failed_reads} failed reads found their message still unread"
            ),
        );
    }
    tap.check(
        ops > 0 && board.get(Count::ReadsWhole) > 0 && board.get(Count::PlainSessions) > 0,
        format!(
            "the run did work: {ops} operations, {} whole reads, {} plain-SIGIO sessions",
            board.get(Count::ReadsWhole),
            board.get(Count::PlainSessions)
        ),
    );
    let violations = board.get(Count::Violations);
    tap.check(
        violations == 0,
        format!("no invariant broken (torn or stale read, missed or extra signal, bad result): {violations} (seed {})", options.seed),
    );
    tap.check(
        hung == 0,
        format!("every worker stopped when told ({hung} did not)"),
    );
    let (long_reads, judged) = (
        board.get(Count::LongReads),
        board.get(Count::LongReadsJudged),
    );
    let (long_polls, polls_judged) = (
        board.get(Count::LongPolls),
        board.get(Count::LongPollsJudged),
    );
    tap.check(
        judged > 0 && polls_judged > 0,
        format!(
            "lost-wake-up detector ran: {long_reads} blocking reads with a {} s timer, {judged} of them \
             begun with no write in flight and judged, {} interrupted; {long_polls} poll and epoll \
             waits as long, {polls_judged} judged, {} timed out (one that returns, with data or \
             EINTR or a timeout, more than {} ms after a write it was owed is a violation, counted \
             above); the slowest of {} measured wake-ups took {:.1} ms from the write's return",
            LONG_READ_TIMER.as_secs() * u64::from(crate::harness::timeouts::timeout_scale()),
            board.get(Count::LongReadsInterrupted),
            board.get(Count::LongPollsTimedOut),
            WAKE_BOUND.as_millis() * u128::from(crate::harness::timeouts::timeout_scale()),
            board.get(Count::WakesMeasured),
            board.wake_max_ns.load(SeqCst) as f64 / 1e6
        ),
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
    /// The signal is real-time and every one queued (countable).
    countable: bool,
    /// The signal is plain `SIGIO`.
    plain: bool,
    /// `SIGIO`s this process had received when the session began.
    sigio_mark: u64,
}

impl Session {
    /// The signals this session must have received, ending when `edge`
    /// writes had completed and `started_end` had started: at least every
    /// write that started after it subscribed and completed before it
    /// ended, at most every write that had not completed when it
    /// subscribed and had started when it ended.
    fn bounds(&self, edge: u64, started_end: u64) -> (u64, u64) {
        (
            edge.saturating_sub(self.started_after),
            started_end.saturating_sub(self.completed_before),
        )
    }
}

struct Slot {
    fd: OwnedFd,
    device: usize,
    mode: Mode,
    nonblocking: bool,
    /// `F_SETSIG`: 0 for plain `SIGIO`.
    signal: i32,
    session: Option<Session>,
    /// The newest sequence number read through this file, per writer.
    newest_read: HashMap<u32, u64>,
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
    /// Every real-time signal is queued: the queue limit was raised far
    /// above what the run can have pending, so the kernel never sends
    /// `SIGIO` in place of one, and a plain `SIGIO` says nothing about the
    /// real-time subscriptions.
    exact: bool,
    /// The signals its subscriptions use.
    signals: Signals,
}

/// The signals a worker's subscriptions use. Without `exact`, a `SIGIO`
/// may stand for a real-time signal the full queue could not take, so a
/// worker uses one kind only: in a real-time-only worker, a `SIGIO` is
/// then such an overflow and nothing else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Signals {
    Mixed,
    PlainOnly,
    RealTimeOnly,
}

impl<'a> Worker<'a> {
    fn new(
        id: u32,
        seed: u64,
        paths: &'a [PathBuf],
        buffer_size: usize,
        board: &'a Board,
        faults: bool,
        exact: bool,
    ) -> Self {
        let mut rng = Rng::new(Rng::derive(seed, u64::from(id)));
        let signals = match (exact, rng.chance(25)) {
            (true, _) => Signals::Mixed,
            (false, true) => Signals::PlainOnly,
            (false, false) => Signals::RealTimeOnly,
        };
        Self {
            id,
            rng,
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
            exact,
            signals,
        }
    }

    fn violation(&mut self, what: impl std::fmt::Display) {
        self.board.add(Count::Violations, 1);
        self.printed += 1;
        if self.printed <= PRINT_LIMIT {
            crate::harness::tap::report(format!(
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
                crate::harness::tap::report(format!(
                    "stress: worker {}: make-it-fail: {e}",
                    self.id
                ));
                return 1;
            }
        }
        let parent = nix::unistd::getppid();
        if let Err(e) = separate_user(self.id, self.paths) {
            crate::harness::tap::report(format!("stress: worker {}: changing user: {e}", self.id));
            return 1;
        }
        // Changing user cleared the request of `spawn`.
        if !crate::sys::process::die_with_parent(parent) {
            return 1;
        }
        if let Err(e) = rtsig::prepare_worker(&[libc::SIGIO, self.rt]) {
            crate::harness::tap::report(format!("stress: worker {}: signal setup: {e}", self.id));
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
            Mode::Read => OFlag::O_RDONLY,
            Mode::Write => OFlag::O_WRONLY,
            Mode::ReadWrite => OFlag::O_RDWR,
        } | OFlag::O_CLOEXEC;
        if nonblocking {
            flags |= OFlag::O_NONBLOCK;
        }
        self.board.add(Count::Opens, 1);
        let fd = match nix::fcntl::open(&self.paths[device], flags, nix::sys::stat::Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOMEM) if self.faults => {
                self.board.add(Count::InjectedOpen, 1);
                return;
            }
            Err(e) => {
                self.violation(format!("open {}: {e}", self.paths[device].display()));
                return;
            }
        };
        if let Err(e) =
            crate::sys::rtsig::set_owner(std::os::fd::AsFd::as_fd(&fd), Pid::from_raw(self.pid))
        {
            self.violation(format!("F_SETOWN: {e}"));
        }
        let signal = match self.signals {
            Signals::Mixed if self.rng.chance(75) => self.rt,
            Signals::RealTimeOnly => self.rt,
            Signals::Mixed | Signals::PlainOnly => 0,
        };
        if let Err(e) = crate::sys::rtsig::set_signal(std::os::fd::AsFd::as_fd(&fd), signal) {
            self.violation(format!("F_SETSIG {signal}: {e}"));
        }
        self.slots.push(Slot {
            fd,
            device,
            mode,
            nonblocking,
            signal,
            session: None,
            newest_read: HashMap::new(),
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
        let (mode, nonblocking) = (self.slots[i].mode, self.slots[i].nonblocking);
        let mut buf = vec![0u8; capacity];
        self.board.add(Count::Reads, 1);
        let device = self.slots[i].device;
        // A few blocking reads wait long: the lost-wake-up detector's.
        let long = !nonblocking && mode.readable() && self.rng.chance(5);
        let completed_before = self.board.completed[device].load(SeqCst);
        // Only a read that begins with no write in flight on its device is
        // judged: a write in flight may have published its message already,
        // and this file may have read it, so its return owes this read
        // nothing. With none in flight, every write that completes later
        // publishes after this read began.
        let quiet = long && self.board.started[device].load(SeqCst) == completed_before;
        let started = monotonic_ns();
        if !nonblocking {
            let scale = crate::harness::timeouts::timeout_scale();
            rtsig::arm_timer(if long {
                LONG_READ_TIMER * scale
            } else {
                READ_TIMER
            });
        }
        let result = nix::unistd::read(&self.slots[i].fd, &mut buf);
        let returned = monotonic_ns();
        if !nonblocking {
            rtsig::arm_timer(Duration::ZERO);
        }
        if long {
            self.board.add(Count::LongReads, 1);
        }
        if quiet {
            self.board.add(Count::LongReadsJudged, 1);
            let outcome = match result {
                Ok(_) => Waited::Data,
                Err(Errno::EINTR) => Waited::TimedOut,
                Err(_) => Waited::Other,
            };
            self.check_woken(device, "read", completed_before, started, returned, outcome);
        }
        match result {
            Ok(n) if mode.readable() => {
                match message::validate(&buf[..n], capacity, self.buffer_size) {
                    Ok(message::Read::Whole(id)) => {
                        self.board.add(Count::ReadsWhole, 1);
                        if let Some((writer, seq)) = id {
                            self.check_not_stale(i, writer, seq);
                        }
                    }
                    Ok(message::Read::Prefix) => self.board.add(Count::ReadsPrefix, 1),
                    Err(e) => self.violation(format!(
                        "read {capacity} from device {}: {e}",
                        self.slots[i].device
                    )),
                }
            }
            Err(Errno::EBADF) if !mode.readable() => {}
            Err(Errno::EFAULT) if self.faults && mode.readable() => {
                let kept = self.check_still_unread(i);
                self.board
                    .add(Count::InjectedReads, (1 << 32) | u64::from(kept));
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
        let (device, mode) = (self.slots[i].device, self.slots[i].mode);
        self.board.add(Count::Writes, 1);
        let counted = len > 0 && mode.writable();
        if counted {
            self.board.started[device].fetch_add(1, SeqCst);
        }
        let result = nix::unistd::write(&self.slots[i].fd, &data);
        match result {
            Ok(n) if mode.writable() && n == len.min(bs) => {
                if counted {
                    let k = self.board.completed[device].fetch_add(1, SeqCst) + 1;
                    self.board.record_completion(device, k, monotonic_ns());
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
        match crate::device::set_async(self.slots[i].fd.as_fd(), on) {
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
            self.begin_session(i, edge);
        } else if let Some(session) = self.slots[i].session.take() {
            self.end_session(device, session, edge, fd);
        }
    }

    fn set_signal(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.rng.index(self.slots.len());
        // Mixed workers toggle between the two kinds; single-kind workers
        // set the signal they already have, which is no edge (below).
        let signal = match self.signals {
            Signals::Mixed if self.slots[i].signal == 0 => self.rt,
            Signals::Mixed | Signals::PlainOnly => 0,
            Signals::RealTimeOnly => self.rt,
        };
        let (fd, device) = (self.slots[i].fd.as_raw_fd(), self.slots[i].device);
        self.board.add(Count::SetSig, 1);
        // An edge, as for `O_ASYNC` (the kernel picks the signal when it
        // sends one): the session of the old signal ends, and one of the new
        // signal begins.
        let edge = self.board.completed[device].load(SeqCst);
        if let Err(e) = crate::sys::rtsig::set_signal(self.slots[i].fd.as_fd(), signal) {
            self.violation(format!("F_SETSIG {signal}: {e}"));
            return;
        }
        let changed = self.slots[i].signal != signal;
        self.slots[i].signal = signal;
        // The same signal again changes nothing, and is no edge: signals
        // for the old session could not be told from the new one's (a
        // write starting after the end was read could signal before the
        // pending ones are taken).
        if !changed {
            return;
        }
        if let Some(session) = self.slots[i].session.take() {
            self.end_session(device, session, edge, fd);
            self.begin_session(i, edge);
        }
    }

    /// Starts a subscription session of slot `i`, whose subscription (or
    /// signal) changed after `edge` writes had completed on its device.
    fn begin_session(&mut self, i: usize, edge: u64) {
        let device = self.slots[i].device;
        let plain = self.slots[i].signal == 0;
        self.slots[i].session = Some(Session {
            completed_before: edge,
            started_after: self.board.started[device].load(SeqCst),
            signals: 0,
            countable: !plain,
            plain,
            sigio_mark: self.sigio,
        });
    }

    /// A whole message `(writer, seq)` was read through slot `i`: it must be
    /// newer than any of that writer this file read before.
    fn check_not_stale(&mut self, i: usize, writer: u32, seq: u64) {
        let slot = &mut self.slots[i];
        let device = slot.device;
        match slot.newest_read.insert(writer, seq) {
            Some(newest) if newest >= seq => {
                slot.newest_read.insert(writer, newest);
                self.violation(format!(
                    "stale read on device {device}: message {seq} of writer {writer}, after this file had read its message {newest}"
                ));
            }
            _ => {}
        }
    }

    fn poll(&mut self) {
        if self.slots.is_empty() {
            return;
        }
        let i = self.rng.index(self.slots.len());
        let mode = self.slots[i].mode;
        if mode.readable() && self.rng.chance(5) {
            self.long_wait(i);
            return;
        }
        let timeout = self.rng.pick(&[0u8, 0, 5]);
        self.board.add(Count::Polls, 1);
        let revents = match poll_once(
            &self.slots[i].fd,
            PollFlags::POLLIN | PollFlags::POLLOUT,
            timeout,
        ) {
            Ok(revents) => revents,
            Err(e) => {
                // Not even ENOMEM under fault injection: the driver allocates
                // nothing in poll, and the kernel's wait-queue entries for one
                // file are on its stack (fs/select.c, N_INLINE_POLL_ENTRIES).
                self.violation(format!("poll (timeout {timeout} ms): {e}"));
                return;
            }
        };
        let writable = revents.contains(PollFlags::POLLOUT);
        if writable != mode.writable() {
            self.violation(format!(
                "poll: POLLOUT {writable} on a file opened for writing {}",
                mode.writable()
            ));
        }
        if revents.contains(PollFlags::POLLIN) {
            if !mode.readable() {
                self.violation("poll: POLLIN on a write-only file");
            } else {
                // Only this file's own reads can take the message away.
                self.read_slot(i, self.buffer_size, true);
            }
        }
    }

    /// The lost-wake-up detector's pollers: waits up to the long timer for
    /// slot `i` to be readable with `poll`, or with a new level- or
    /// edge-triggered epoll registration, judges the wait as a long read's,
    /// and reads the message when there is one. Exclusive epoll waiters are
    /// not used here: a write wakes one of them, not each (the
    /// `epoll-exclusive` case checks that).
    fn long_wait(&mut self, i: usize) {
        let device = self.slots[i].device;
        let how = self.rng.pick(&["poll", "epoll", "edge-triggered epoll"]);
        let completed_before = self.board.completed[device].load(SeqCst);
        // As for long reads: only a wait begun with no write in flight.
        let quiet = self.board.started[device].load(SeqCst) == completed_before;
        let timeout = LONG_READ_TIMER * crate::harness::timeouts::timeout_scale();
        self.board.add(Count::LongPolls, 1);
        let started = monotonic_ns();
        let result = wait_readable(&self.slots[i].fd, how, timeout);
        let returned = monotonic_ns();
        let outcome = match result {
            Ok(true) => Waited::Data,
            Ok(false) => {
                self.board.add(Count::LongPollsTimedOut, 1);
                Waited::TimedOut
            }
            // A signal, or no memory for epoll under fault injection.
            Err(Errno::EINTR) => Waited::Other,
            Err(Errno::ENOMEM) if self.faults => Waited::Other,
            Err(e) => {
                self.violation(format!("{how} of a readable file: {e}"));
                Waited::Other
            }
        };
        if quiet {
            self.board.add(Count::LongPollsJudged, 1);
            self.check_woken(device, how, completed_before, started, returned, outcome);
        }
        if outcome == Waited::Data {
            self.read_slot(i, self.buffer_size, true);
        }
    }

    /// The lost-wake-up detector, after a long blocking wait (`what`: a
    /// read, a poll) on `device` that began when `completed_before` writes
    /// had completed (at `started`) and ended with `outcome` at `returned`.
    /// Every write completed after that was owed to it: data must have
    /// come. One that completed more than `WAKE_BOUND` before the wait
    /// timed out was missed. A wait that got data measures its wake-up
    /// from the first owed write's return.
    fn check_woken(
        &mut self,
        device: usize,
        what: &str,
        completed_before: u64,
        started: u64,
        returned: u64,
        outcome: Waited,
    ) {
        let first_owed = completed_before + 1;
        let bound = (WAKE_BOUND * crate::harness::timeouts::timeout_scale()).as_nanos() as u64;
        match outcome {
            Waited::Data => {
                // The first owed write returned after the wait began: the
                // wait was blocked until then, or got it at once.
                if let Some(at) = self.board.completion_time(device, first_owed) {
                    if at > started {
                        let wake = returned.saturating_sub(at);
                        self.board.add(Count::WakesMeasured, 1);
                        self.board.wake_max_ns.fetch_max(wake, SeqCst);
                        if wake > bound {
                            self.violation(format!(
                                "late wake-up: a blocked {what} of device {device} returned {} ms after \
                                 write {first_owed} completed (bound {} ms)",
                                wake / 1_000_000,
                                bound / 1_000_000
                            ));
                        }
                    }
                }
            }
            Waited::TimedOut => {
                if what == "read" {
                    self.board.add(Count::LongReadsInterrupted, 1);
                }
                let completed = self.board.completed[device].load(SeqCst);
                let oldest_known = completed.saturating_sub(RING as u64 - 1).max(first_owed);
                // How busy the device was meanwhile tells a missed wake-up
                // (writes went on) from a stalled machine (nothing ran).
                let last = self
                    .board
                    .completion_time(device, completed)
                    .map_or("unknown".to_string(), |at| {
                        format!("{} ms", returned.saturating_sub(at) / 1_000_000)
                    });
                for k in oldest_known..=completed {
                    if let Some(at) = self.board.completion_time(device, k) {
                        if at + bound < returned {
                            self.violation(format!(
                                "lost wake-up: a blocked {what} of device {device} timed out {} ms after \
                                 write {k} completed (bound {} ms); {} writes to the device completed \
                                 during the wait, the last {last} before it returned",
                                (returned - at) / 1_000_000,
                                bound / 1_000_000,
                                completed.saturating_sub(completed_before),
                            ));
                            break;
                        }
                    }
                }
            }
            Waited::Other => {}
        }
    }

    /// After a read of slot `i` failed with `EFAULT`: the message it had
    /// claimed is unread again. Only this file's own reads consume its unread
    /// message, so `poll` with no timeout (which allocates nothing) must say
    /// readable. Whether it did; a violation if not.
    fn check_still_unread(&mut self, i: usize) -> bool {
        let revents = poll_once(&self.slots[i].fd, PollFlags::POLLIN, 0);
        if revents.is_ok_and(|r| r.contains(PollFlags::POLLIN)) {
            true
        } else {
            let device = self.slots[i].device;
            self.violation(format!(
                "a read from device {device} failed with EFAULT and its message is no longer unread \
                 (poll: {revents:?})"
            ));
            false
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
    /// `RLIMIT_SIGPENDING` of the process is reached): unless the limit was
    /// raised out of reach (`exact`), the real-time subscriptions of this
    /// process are then no longer countable.
    fn count_sigio(&mut self) {
        self.sigio += 1;
        self.board.add(Count::Sigio, 1);
        if self.exact {
            return;
        }
        if self.signals == Signals::RealTimeOnly {
            self.board.add(Count::Overflows, 1);
        }
        for session in self.slots.iter_mut().filter_map(|s| s.session.as_mut()) {
            session.countable = false;
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
                session.countable &= self.exact;
            } else if signal.fd == old_fd {
                if signal.code != rtsig::POLL_IN
                    || signal.band != i64::from(libc::POLLIN | libc::POLLRDNORM)
                {
                    self.violation(format!(
                        "signal with si_code {} si_band {:#x}",
                        signal.code, signal.band
                    ));
                }
                session.signals += 1;
            } else {
                self.credit(signal);
            }
        }
        let (lower, upper) = session.bounds(edge, started_end);
        if session.plain {
            self.board.add(Count::PlainSessions, 1);
        } else {
            self.board.add(Count::RtSessions, 1);
        }
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

/// How a long wait of the lost-wake-up detector ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waited {
    /// With data (a read) or readable (a poll).
    Data,
    /// The timer or timeout ended it.
    TimedOut,
    /// Anything else: not judged.
    Other,
}

/// Waits up to `timeout` for `fd` to be readable, `how`: with `poll`, or
/// a new epoll instance and registration (edge-triggered for "edge-
/// triggered epoll"). Whether it became readable.
fn wait_readable(fd: &OwnedFd, how: &str, timeout: Duration) -> nix::Result<bool> {
    use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
    if how == "poll" {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        let ms = timeout.as_millis().min(60_000) as i32;
        let ready = poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        )?;
        return Ok(ready == 1
            && fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN)));
    }
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    let mut flags = EpollFlags::EPOLLIN;
    if how == "edge-triggered epoll" {
        flags |= EpollFlags::EPOLLET;
    }
    epoll.add(fd.as_fd(), EpollEvent::new(flags, 0))?;
    let mut events = [EpollEvent::empty(); 1];
    let timeout = EpollTimeout::try_from(timeout).unwrap_or(EpollTimeout::MAX);
    Ok(epoll.wait(&mut events, timeout)? == 1)
}

/// `poll` of one file for `events`, waiting up to `timeout_ms`: the
/// events it returned.
fn poll_once(fd: &OwnedFd, events: PollFlags, timeout_ms: u8) -> nix::Result<PollFlags> {
    let mut fds = [PollFd::new(fd.as_fd(), events)];
    poll(&mut fds, PollTimeout::from(timeout_ms))?;
    // Bits nix does not know would be events it cannot name: an error, not
    // "nothing ready".
    fds[0].revents().ok_or(Errno::EINVAL)
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

#[cfg(test)]
mod tests {
    use super::Session;

    fn session(completed_before: u64, started_after: u64) -> Session {
        Session {
            completed_before,
            started_after,
            signals: 0,
            countable: true,
            plain: false,
            sigio_mark: 0,
        }
    }

    #[test]
    fn a_session_owes_the_writes_wholly_inside_it_and_may_get_the_overlapping() {
        // Subscribed when 10 writes had completed and 12 had started (two
        // in flight); ended when 20 had completed and 23 had started.
        let (lower, upper) = session(10, 12).bounds(20, 23);
        // Writes 13..=20 started after and completed before: owed.
        assert_eq!(lower, 8);
        // Writes 11..=23 may each have signalled, or not.
        assert_eq!(upper, 13);
    }

    /// A model of a device's writes against one session: each write starts,
    /// signals (or not: the bounds allow a write in flight at an edge
    /// either way) and completes at random times; the session's edges
    /// sample the shared counters as `begin_session`/`end_session` do. The
    /// signals it would get lie within its bounds, whatever the timing.
    #[test]
    fn bounds_hold_the_signals_of_any_interleaving() {
        let mut rng = crate::rng::Rng::new(7);
        for _ in 0..2000 {
            // (start, signal, completion) of each write, in time units.
            let writes: Vec<(u64, u64, u64)> = (0..rng.below(12))
                .map(|_| {
                    let start = rng.below(100);
                    let signal = start + rng.below(10);
                    (start, signal, signal + rng.below(10))
                })
                .collect();
            let subscribe = rng.below(100);
            let subscribed = subscribe + rng.below(5);
            let end = subscribed + rng.below(60);
            let ended = end + rng.below(5);
            let started = |t: u64| writes.iter().filter(|w| w.0 < t).count() as u64;
            let completed = |t: u64| writes.iter().filter(|w| w.2 < t).count() as u64;
            // Edges: completed writes read as subscribing starts, started
            // ones once subscribed; completed ones read before unsubscribing,
            // started ones once unsubscribed.
            let session = session(completed(subscribe), started(subscribed));
            let (lower, upper) = session.bounds(completed(end), started(ended));
            // A write signals this session if its signal falls while it is
            // surely subscribed; one at an edge may or may not.
            let surely = writes
                .iter()
                .filter(|w| w.1 >= subscribed && w.1 < end)
                .count() as u64;
            let maybe = writes
                .iter()
                .filter(|w| w.1 >= subscribe && w.1 < ended)
                .count() as u64;
            assert!(
                lower <= surely,
                "{writes:?} {subscribe} {end}: {lower} > {surely}"
            );
            assert!(
                maybe <= upper,
                "{writes:?} {subscribe} {end}: {maybe} > {upper}"
            );
        }
    }

    #[test]
    fn a_session_with_no_write_inside_owes_nothing() {
        assert_eq!(session(5, 5).bounds(5, 5), (0, 0));
        // Writes started before subscribing and completing during it: may
        // signal (upper), not owed (lower).
        assert_eq!(session(5, 8).bounds(8, 8), (0, 3));
        // A counter read behind the other never underflows.
        assert_eq!(session(9, 9).bounds(3, 4), (0, 0));
    }
}
