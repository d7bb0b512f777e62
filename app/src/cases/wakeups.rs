//! Who a write wakes: every poller, at whatever moment it registered, but
//! only one `EPOLLEXCLUSIVE` waiter.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::unistd::gettid;

use crate::device::{Access, Device};
use crate::harness::{wait, CaseResult, Context, Tap};
use crate::proc::wait_until_sleeping;

/// `wait()` as an epoll timeout.
fn epoll_timeout(timeout: Duration) -> EpollTimeout {
    EpollTimeout::try_from(timeout).unwrap_or(EpollTimeout::MAX)
}

pub fn epoll_exclusive(ctx: &Context, tap: &mut Tap) -> CaseResult {
    const WAITERS: usize = 8;
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    for exclusive in [true, false] {
        let woken = Arc::new(AtomicUsize::new(0));
        let (tid_tx, tid_rx) = mpsc::channel();
        let mut threads = Vec::new();
        for _ in 0..WAITERS {
            // Each waiter: its own file (nothing unread) and epoll instance.
            let file = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
            while file.receive(ctx.params.buffer_size).is_ok() {}
            let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
            let flags = match exclusive {
                true => EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE,
                false => EpollFlags::EPOLLIN,
            };
            epoll.add(file.as_fd(), EpollEvent::new(flags, 0))?;
            let (woken, tid_tx) = (woken.clone(), tid_tx.clone());
            threads.push(std::thread::spawn(move || {
                let _ = tid_tx.send(gettid());
                let mut events = [EpollEvent::empty(); 1];
                if epoll.wait(&mut events, epoll_timeout(wait() * 2)) == Ok(1) {
                    woken.fetch_add(1, SeqCst);
                }
                drop(file);
            }));
        }
        let mut asleep = 0;
        for _ in 0..WAITERS {
            if wait_until_sleeping(tid_rx.recv()?, wait()) {
                asleep += 1;
            }
        }
        let kind = if exclusive { "EPOLLEXCLUSIVE" } else { "plain" };
        tap.check(
            asleep == WAITERS,
            format!("{WAITERS} {kind} epoll waiters asleep ({asleep})"),
        );
        writer.send(b"one write")?;
        let want = if exclusive { 1 } else { WAITERS };
        let deadline = Instant::now() + wait();
        while woken.load(SeqCst) < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Time for more to wake, were they woken.
        std::thread::sleep(Duration::from_millis(300));
        let n = woken.load(SeqCst);
        tap.check(
            n == want,
            format!("one write wakes {want} of {WAITERS} {kind} epoll waiters ({n} woke)"),
        );
        // Each write wakes one more exclusive waiter: the rest end.
        while woken.load(SeqCst) < WAITERS && Instant::now() < deadline + wait() {
            writer.send(b"the rest")?;
            std::thread::sleep(Duration::from_millis(20));
        }
        for thread in threads {
            let _ = thread.join();
        }
    }
    Ok(())
}

/// How the poller of `poll_wake` waits.
#[derive(Clone, Copy, Debug)]
enum Poller {
    Poll,
    EpollLevel,
    EpollEdge,
}

/// A write landing while a poller registers must wake it: the driver's
/// poll registers on the wait queue before it tests for a message, so a
/// write in between finds it queued. Each round a poller starts to wait
/// (a new `poll`, or a new epoll registration) with nothing unread, and a
/// write follows after a spin that grows from round to round, sweeping the
/// moments of `poll`'s registration again and again; a poller that sleeps
/// through it missed its wake-up.
pub fn poll_wake(ctx: &Context, tap: &mut Tap) -> CaseResult {
    const ROUNDS: u32 = 1000;
    /// Spins before the write: `(round % SWEEP) * SPIN_STEP`.
    const SWEEP: u32 = 50;
    const SPIN_STEP: u32 = 40;
    let bound = wait();
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    for poller in [Poller::Poll, Poller::EpollLevel, Poller::EpollEdge] {
        let file = Arc::new(Device::open_with(
            &ctx.device,
            Access::Read,
            OFlag::O_NONBLOCK,
        )?);
        while file.receive(ctx.params.buffer_size).is_ok() {}
        // `go` is the round number to start; `waiting` the round whose
        // wait has begun.
        let (go, waiting) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = mpsc::channel();
        let thread = {
            let (file, go, waiting, stop) =
                (file.clone(), go.clone(), waiting.clone(), stop.clone());
            let size = ctx.params.buffer_size;
            std::thread::spawn(move || {
                let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).ok();
                for round in 1..=ROUNDS {
                    while go.load(SeqCst) < round {
                        if stop.load(SeqCst) {
                            return;
                        }
                        std::thread::yield_now();
                    }
                    waiting.store(round, SeqCst);
                    let ready = wait_readable(&file, poller, epoll.as_ref(), bound);
                    // Consumed, so the next round starts with nothing unread.
                    while file.receive(size).is_ok() {}
                    if done_tx.send(ready).is_err() {
                        return;
                    }
                }
            })
        };
        let (mut missed, mut error, mut stuck) = (0, None, false);
        for round in 1..=ROUNDS {
            go.store(round, SeqCst);
            while waiting.load(SeqCst) < round {
                std::thread::yield_now();
            }
            for _ in 0..(round % SWEEP) * SPIN_STEP {
                std::hint::spin_loop();
            }
            writer.send(&round.to_ne_bytes())?;
            // The first failure ends the rounds: each miss costs `bound`.
            match done_rx.recv_timeout(bound + wait()) {
                Ok(Ok(true)) => continue,
                Ok(Ok(false)) => missed = round,
                Ok(Err(e)) => error = Some(format!("round {round}: {e}")),
                Err(_) => {
                    stuck = true;
                    error = Some(format!("round {round}: the poller did not return"));
                }
            }
            break;
        }
        stop.store(true, SeqCst);
        if !stuck {
            let _ = thread.join();
        }
        let outcome = match (missed, &error) {
            (0, None) => format!("{ROUNDS} rounds"),
            (0, Some(e)) => e.clone(),
            (round, _) => format!(
                "round {round} of {ROUNDS}: it slept through the write for {} s",
                bound.as_secs()
            ),
        };
        tap.check(
            missed == 0 && error.is_none(),
            format!("{poller:?}: a write as the poller registers wakes it ({outcome})"),
        );
    }
    Ok(())
}

/// Waits up to `timeout` for `file` to be readable: whether it became so.
fn wait_readable(
    file: &Device,
    poller: Poller,
    epoll: Option<&Epoll>,
    timeout: Duration,
) -> nix::Result<bool> {
    match (poller, epoll) {
        (Poller::Poll, _) => {
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
            let ms = timeout.as_millis().min(60_000) as i32;
            Ok(poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            )? == 1)
        }
        (_, None) => Err(nix::errno::Errno::ENOMEM),
        (_, Some(epoll)) => {
            let mut flags = EpollFlags::EPOLLIN;
            if matches!(poller, Poller::EpollEdge) {
                flags |= EpollFlags::EPOLLET;
            }
            // A new registration each round: epoll polls the file as it
            // adds it, which is the moment swept.
            epoll.add(file.as_fd(), EpollEvent::new(flags, 0))?;
            let mut events = [EpollEvent::empty(); 1];
            let n = epoll.wait(&mut events, epoll_timeout(timeout));
            epoll.delete(file.as_fd())?;
            Ok(n? == 1)
        }
    }
}
