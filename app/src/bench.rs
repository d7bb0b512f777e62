//! `asyncn-test bench`: asyncn side by side with its peers, in one boot.
//!
//! Peers: `asyncn` (/dev/asyncn0...), `c` (the C baseline module,
//! /dev/asyncnc0...), `pipe` (a FIFO with `O_ASYNC`: the kernel's own
//! fasync path) and `floor` (`sigqueue` to the subscriber: no device in
//! between); for latency also what a program would use instead of
//! signals: `asyncn-epoll` (`epoll_wait` on /dev/asyncn1), `asyncn-uring`
//! (io_uring `IORING_OP_POLL_ADD` on /dev/asyncn2) and `eventfd` (the
//! writer stores the message in shared memory and writes an eventfd the
//! subscriber waits for with `epoll_wait`). Figures, each measured for
//! every peer in turn within a round and over several rounds so that
//! drift hits all peers alike:
//!
//! - latency: a monotonic timestamp taken before `write` (or `sigqueue`),
//!   read by the subscriber when its wait returns (`sigtimedwait`,
//!   `epoll_wait`, the io_uring completion); one write at a time, then the
//!   subscriber reads the message and answers. p50/p99/p99.9/max, every
//!   sample, and the slowest with where their time went. The peers take
//!   turns every 50 samples, in an order shuffled per cycle, after a few
//!   unrecorded samples each turn;
//! - write+notify throughput with 0, 1, 16 and 256 subscribed processes
//!   (their `SIGIO` blocked and pending, so a write costs the fasync walk
//!   and signal generation, not the subscribers' wake-ups); the peers take
//!   turns in slices of the window;
//! - time until the last of N subscribers (1, 16, 256) has its signal,
//!   the peers taking turns sample by sample;
//! - read throughput: a write then a read of `buffer_size` bytes;
//! - 64 `EPOLLIN | EPOLLEXCLUSIVE` waiters on one device (asyncn and the C
//!   baseline), each with its own file and epoll instance: the waiters
//!   woken per write (one is what `EPOLLEXCLUSIVE` promises) and the time
//!   a write takes, which includes waking them.
//!
//! The writer runs on CPU 0, and every subscriber on CPU 0 too unless
//! `--subscriber-cpu` names another: the same placement for all peers.
//! On the same CPU a notification's latency is the driver's work, the
//! signal and the switch to the subscriber. Across CPUs it adds the
//! wake-up of the other CPU, which under QEMU's TCG on a small host is the
//! host's scheduling of two busy vCPU threads (docs/benchmarks.md).
//!
//! The JSON printed between markers is what `make bench` turns into its
//! table and plot.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::unistd::{getpid, Pid};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::device::{node_path, Access, Device};
use crate::proc::{read_timeout, Channel, Workers};
use crate::rng::Rng;
use crate::sys::rtsig;
use crate::sys::shared::{zeroed_atomics, Shared};
use crate::sys::uring::PollRing;

/// The peers, in table order.
pub const PEERS: [&str; 7] = [
    "asyncn",
    "c",
    "pipe",
    "floor",
    "asyncn-epoll",
    "eventfd",
    "asyncn-uring",
];
const FIFO: &str = "/tmp/asyncn-bench.fifo";
const MAX_SUBSCRIBERS: usize = 256;
const FANOUT: [usize; 4] = [0, 1, 16, 256];
const LAST_OF: [usize; 3] = [1, 16, 256];
/// Turns each peer gets within one throughput window.
const SLICES: u32 = 6;
/// Latency samples a peer takes before the next one's turn.
const LATENCY_BLOCK: u32 = 50;
/// Slowest latency samples kept per peer, with where their time went.
const SLOWEST: usize = 10;
/// Waiters of the `EPOLLEXCLUSIVE` figure.
const EXCLUSIVE_WAITERS: usize = 64;
/// Writes per peer and round in the `EPOLLEXCLUSIVE` figure.
const EXCLUSIVE_WRITES: usize = 100;

/// Pins the calling process to `cpu`, or to CPU 0 when the system has no
/// such CPU; returns the CPU it runs on from now on.
///
/// The kernel decides: counting CPUs first would count those of the
/// caller's affinity (musl's `sysconf(_SC_NPROCESSORS_ONLN)` does), and a
/// subscriber forked by the writer, already pinned to CPU 0, would see one
/// CPU and share the writer's.
fn pin_to(cpu: usize) -> usize {
    use nix::sched::{sched_setaffinity, CpuSet};
    for cpu in [cpu, 0] {
        let mut set = CpuSet::new();
        if set.set(cpu).is_ok() && sched_setaffinity(Pid::from_raw(0), &set).is_ok() {
            return cpu;
        }
    }
    0
}

/// The options of a benchmark run.
pub struct BenchOptions {
    pub rounds: u32,
    pub samples: u32,
    pub window: Duration,
    pub c_device: PathBuf,
    /// Unrecorded samples at the start of each latency turn.
    pub warmup: u32,
    /// The latency turns keep one order (all peers the same order in
    /// every cycle) instead of shuffling it.
    pub fixed_order: bool,
    /// The CPU of every subscriber (the writer's is 0).
    pub subscriber_cpu: usize,
    /// Record the latency samples' system calls with ftrace (a tracer the
    /// caller has set up in tracefs; `make bench FLAVOUR=trace`).
    pub trace: bool,
}

/// ftrace's switch and marker (tracefs): tracing runs during the latency
/// samples only, and each peer's turn is marked in the trace.
struct Trace {
    on: File,
    marker: File,
}

impl Trace {
    const DIR: &'static str = "/sys/kernel/tracing";

    fn open() -> io::Result<Self> {
        let open = |name: &str| {
            let path = Path::new(Self::DIR).join(name);
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        };
        Ok(Self {
            on: open("tracing_on")?,
            marker: open("trace_marker")?,
        })
    }

    fn switch(&self, on: bool) -> io::Result<()> {
        (&self.on).write_all(if on { b"1" } else { b"0" })
    }

    fn mark(&self, text: &str) -> io::Result<()> {
        (&self.marker).write_all(text.as_bytes())
    }
}

zeroed_atomics! {
    struct Board {
        arrived: AtomicU32,
        arrival_ns: [AtomicU64; MAX_SUBSCRIBERS],
        /// The eventfd peer's message: written before the eventfd.
        message: AtomicU64,
    }
}

fn now_ns() -> u64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |ts| {
        ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
    })
}

/// Where a peer's notifications come from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Peer {
    Asyncn,
    C,
    Pipe,
    Floor,
    AsyncnEpoll,
    Eventfd,
    AsyncnUring,
}

impl Peer {
    /// Every peer: the latency figures.
    fn all() -> [Peer; 7] {
        [
            Peer::Asyncn,
            Peer::C,
            Peer::Pipe,
            Peer::Floor,
            Peer::AsyncnEpoll,
            Peer::Eventfd,
            Peer::AsyncnUring,
        ]
    }

    /// The peers that notify by signal: the throughput, last-of-N and
    /// read figures.
    fn signalling() -> [Peer; 4] {
        [Peer::Asyncn, Peer::C, Peer::Pipe, Peer::Floor]
    }

    fn name(self) -> &'static str {
        PEERS[self as usize]
    }
}

/// How the writer notifies a peer's subscribers.
enum Sender {
    /// A write to the device or FIFO.
    File(File),
    /// `sigqueue` to each subscriber (the floor).
    Queue,
    /// The message into shared memory, then a write to the eventfd.
    Eventfd(EventFd),
}

/// What a latency subscriber without signals waits on.
enum Waited<'a> {
    Device(Device),
    Eventfd(&'a EventFd),
}

impl AsFd for Waited<'_> {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Waited::Device(device) => device.file_ref().as_fd(),
            Waited::Eventfd(eventfd) => eventfd.as_fd(),
        }
    }
}

/// One latency sample: microseconds from before the write to the
/// subscriber's wake-up, how long the write call took, and where in the
/// run it was taken.
#[derive(Clone, Copy)]
struct Sample {
    us: f64,
    write_us: f64,
    round: u32,
    /// Position since the peer's turn began (warm-up samples included).
    in_turn: u32,
}

struct Bench<'a> {
    asyncn: PathBuf,
    c: PathBuf,
    buffer_size: usize,
    options: &'a BenchOptions,
    board: Shared<Board>,
    signal: i32,
    trace: Option<Trace>,
    /// Where the subscribers run (the writer: CPU 0).
    subscriber_cpu: usize,
    /// Seeds the latency turns' order: new each run, so that something
    /// that happens at a fixed time after boot does not meet the same
    /// peer in every run.
    order_seed: u64,
}

/// How a subscriber waits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Takes each queued signal, records its arrival, acknowledges.
    Signals,
    /// Keeps its signals blocked and pending; sleeps until killed.
    Idle,
}

impl Bench<'_> {
    fn path(&self, peer: Peer) -> PathBuf {
        match peer {
            Peer::Asyncn => self.asyncn.clone(),
            Peer::C => self.c.clone(),
            // Devices of their own: a write to one wakes no other peer.
            Peer::AsyncnEpoll => node_path(&self.asyncn, 1),
            Peer::AsyncnUring => node_path(&self.asyncn, 2),
            Peer::Pipe | Peer::Floor | Peer::Eventfd => PathBuf::from(FIFO),
        }
    }

    /// Opens what a subscriber of `peer` subscribes on (none for the floor).
    fn subscribe(&self, peer: Peer, signal: i32) -> io::Result<Option<File>> {
        if peer == Peer::Floor {
            return Ok(None);
        }
        let device = Device::open_with(&self.path(peer), Access::Read, OFlag::O_NONBLOCK)?;
        if signal != 0 {
            rtsig::set_signal(device.as_fd(), signal)?;
        }
        device.subscribe(getpid())?;
        Ok(Some(device.into_file()))
    }

    /// Starts `n` subscriber processes of `peer`; returns once all are
    /// subscribed (killed when the returned set is dropped: they keep no
    /// state worth an orderly exit). `ack` receives one byte per signal
    /// (Wait::Signals).
    fn start(
        &self,
        peer: Peer,
        n: usize,
        wait: Wait,
        ack: Option<&Channel>,
    ) -> io::Result<Workers> {
        let ready = Channel::new()?;
        let mut subscribers = Workers::new("bench");
        let signal = if wait == Wait::Signals {
            self.signal
        } else {
            0
        };
        for k in 0..n {
            let mut ready_tx = ready.write_end()?;
            let mut ack_tx = ack.map(Channel::write_end).transpose()?;
            let board = &*self.board;
            let buffer_size = self.buffer_size;
            let subscriber_cpu = self.subscriber_cpu;
            subscribers.start(move || {
                pin_to(subscriber_cpu);
                let queued = if signal != 0 { signal } else { libc::SIGIO };
                if rtsig::block(queued).is_err() {
                    return 1;
                }
                let Ok(file) = self.subscribe(peer, signal) else {
                    return 1;
                };
                if ready_tx.write_all(b"r").is_err() {
                    return 1;
                }
                drop(ready_tx);
                if wait == Wait::Idle {
                    // Until killed: SIGIO stays blocked, so nothing wakes it.
                    loop {
                        nix::unistd::pause();
                    }
                }
                let mut buf = vec![0u8; buffer_size];
                loop {
                    match rtsig::take_any(&[signal], Duration::from_secs(3600)) {
                        Ok(Some(_)) => {
                            let at = now_ns();
                            board.arrival_ns[k].store(at, SeqCst);
                            board.arrived.fetch_add(1, SeqCst);
                            // Take the message, as a real subscriber would
                            // (one read: the C baseline always has one).
                            if let Some(mut file) = file.as_ref() {
                                let _ = file.read(&mut buf);
                            }
                            if let Some(ack) = ack_tx.as_mut() {
                                if ack.write_all(b"a").is_err() {
                                    return 0;
                                }
                            }
                        }
                        Ok(None) => {}
                        Err(_) => return 1,
                    }
                }
            })?;
        }
        let mut ready_rx = ready.receiver();
        let mut byte = [0u8; 1];
        for _ in 0..n {
            read_timeout(&mut ready_rx, &mut byte, Duration::from_secs(30))?;
        }
        Ok(subscribers)
    }

    /// The sending side of a peer that notifies by signal.
    fn sender(&self, peer: Peer) -> io::Result<Sender> {
        // Blocking, for the pipe too: a full pipe makes the writer wait
        // for the drainer, which is what a pipe costs.
        Ok(match peer {
            Peer::Floor => Sender::Queue,
            _ => Sender::File(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(self.path(peer))?,
            ),
        })
    }

    /// One notification: a write, for the floor a signal to each pid, for
    /// the eventfd the message into shared memory and a count.
    fn notify(
        &self,
        sender: &mut Sender,
        pids: impl Iterator<Item = Pid>,
        payload: &[u8],
    ) -> io::Result<()> {
        match sender {
            Sender::File(file) => {
                let n = file.write(payload)?;
                if n != payload.len() {
                    return Err(io::Error::other(format!("short write {n}")));
                }
            }
            Sender::Queue => {
                for pid in pids {
                    rtsig::queue_signal(pid, self.signal)?;
                }
            }
            Sender::Eventfd(eventfd) => {
                let mut word = [0u8; 8];
                let n = payload.len().min(8);
                word[..n].copy_from_slice(&payload[..n]);
                self.board.message.store(
                    u64::from_ne_bytes(word),
                    std::sync::atomic::Ordering::Release,
                );
                eventfd.write(1)?;
            }
        }
        Ok(())
    }

    /// Starts the one latency subscriber of a peer that waits without
    /// signals (`epoll_wait` or io_uring) and its sender; the subscriber
    /// records its wake-up in `arrival_ns[0]`, takes the message and
    /// answers on `ack`.
    fn start_waiter(&self, peer: Peer, ack: &Channel) -> io::Result<(Workers, Sender)> {
        let eventfd = if peer == Peer::Eventfd {
            Some(EventFd::from_flags(EfdFlags::EFD_NONBLOCK)?)
        } else {
            None
        };
        let ready = Channel::new()?;
        let mut ready_tx = ready.write_end()?;
        let mut ack_tx = ack.write_end()?;
        let mut waiter = Workers::new("bench");
        let path = self.path(peer);
        let board = &*self.board;
        let buffer_size = self.buffer_size;
        let subscriber_cpu = self.subscriber_cpu;
        let waiter_eventfd = eventfd.as_ref();
        waiter.start(move || {
            pin_to(subscriber_cpu);
            let mut body = || -> io::Result<()> {
                // What the subscriber waits on: its device, or the eventfd.
                let source = match waiter_eventfd {
                    Some(eventfd) => Waited::Eventfd(eventfd),
                    None => {
                        Waited::Device(Device::open_with(&path, Access::Read, OFlag::O_NONBLOCK)?)
                    }
                };
                let mut buf = vec![0u8; buffer_size];
                // After each wake-up: the time, the message (as a real
                // subscriber would take it), the answer.
                let mut answer = || -> io::Result<()> {
                    board.arrival_ns[0].store(now_ns(), SeqCst);
                    match &source {
                        Waited::Device(device) => {
                            let _ = device.file_ref().read(&mut buf);
                        }
                        Waited::Eventfd(eventfd) => {
                            let _ = eventfd.read();
                            let word = board.message.load(std::sync::atomic::Ordering::Acquire);
                            buf[..8].copy_from_slice(&word.to_ne_bytes());
                        }
                    }
                    ack_tx.write_all(b"a")
                };
                if peer == Peer::AsyncnUring {
                    let mut ring = PollRing::new()?;
                    ready_tx.write_all(b"r")?;
                    loop {
                        let ready = ring.poll_once(source.as_fd(), libc::POLLIN as u32)?;
                        if ready & libc::POLLIN as u32 == 0 {
                            return Err(io::Error::other(format!(
                                "io_uring poll: mask {ready:#x}"
                            )));
                        }
                        answer()?;
                    }
                }
                let epoll = Epoll::new(EpollCreateFlags::empty())?;
                epoll.add(source.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, 0))?;
                ready_tx.write_all(b"r")?;
                let mut events = [EpollEvent::empty()];
                loop {
                    if epoll.wait(&mut events, EpollTimeout::NONE)? > 0 {
                        if !events[0].events().contains(EpollFlags::EPOLLIN) {
                            return Err(io::Error::other(format!(
                                "epoll: events {:?}",
                                events[0].events()
                            )));
                        }
                        answer()?;
                    }
                }
            };
            match body() {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("bench: {} subscriber: {e}", peer.name());
                    1
                }
            }
        })?;
        read_timeout(&mut ready.receiver(), &mut [0], Duration::from_secs(30))?;
        let sender = match eventfd {
            Some(eventfd) => Sender::Eventfd(eventfd),
            None => self.sender(peer)?,
        };
        Ok((waiter, sender))
    }
}

/// Starts a process that keeps the FIFO drained (pipe peer: a writer must
/// not fill it); dropping the returned `Workers` kills it.
fn start_drainer(cpu: usize) -> io::Result<Workers> {
    let mut drainer = Workers::new("bench FIFO drainer");
    drainer.start(|| {
        pin_to(cpu);
        // Read-write: a FIFO reader that is also a writer never sees
        // end-of-file when the measuring writers close.
        let Ok(mut fifo) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(FIFO)
        else {
            return 1;
        };
        let mut buf = vec![0u8; 65536];
        while fifo.read(&mut buf).is_ok_and(|n| n > 0) {}
        0
    })?;
    // The FIFO's open for writing needs a reader: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(FIFO)
        {
            Ok(_) => return Ok(drainer),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    Err(io::Error::other("the FIFO drainer did not start"))
}

/// The `SLOWEST` slowest of `samples`, slowest first.
fn slowest(samples: &[Sample]) -> Vec<Sample> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(|a, b| b.us.total_cmp(&a.us));
    sorted.truncate(SLOWEST);
    sorted
}

/// All samples of one figure for one peer.
#[derive(Default, Clone)]
struct Series(Vec<f64>);

impl Series {
    fn quantile(&self, q: f64) -> f64 {
        quantile(&self.0, q)
    }
}

/// The `q` quantile (0 to 1) of `samples`: the sample at rank
/// round((n - 1) q) in ascending order; NaN when there are none.
fn quantile(samples: &[f64], q: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize]
}

/// Runs the benchmark; prints progress and, between markers, the JSON.
pub fn run(
    first_device: &Path,
    buffer_size: usize,
    options: &BenchOptions,
) -> Result<(), Box<dyn std::error::Error>> {
    for path in [first_device, options.c_device.as_path()] {
        if !path.exists() {
            return Err(format!(
                "{} does not exist (load asyncn and the C baseline asyncn_c)",
                path.display()
            )
            .into());
        }
    }
    // The hotplug helper's processes for the modules just loaded (one per
    // event under mdev) would otherwise run in the first samples' time.
    let settled = Instant::now();
    crate::module::settle().map_err(|e| format!("waiting for the hotplug helper: {e}"))?;
    println!(
        "# bench: hotplug helper settled in {} ms",
        settled.elapsed().as_millis()
    );
    let _ = std::fs::remove_file(FIFO);
    nix::unistd::mkfifo(FIFO, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
    rtsig::raise_pending_limit();
    let subscriber_cpu = pin_to(options.subscriber_cpu);
    pin_to(0);
    let bench = Bench {
        asyncn: first_device.to_owned(),
        c: options.c_device.clone(),
        buffer_size,
        options,
        board: Shared::new()?,
        signal: rtsig::rt_signal(7),
        trace: if options.trace {
            Some(Trace::open()?)
        } else {
            None
        },
        subscriber_cpu,
        order_seed: crate::rng::fresh_seed(),
    };
    // Each asyncn peer has a device of its own: a write to one wakes no
    // other peer's subscriber.
    let devices = [Peer::Asyncn, Peer::AsyncnEpoll, Peer::AsyncnUring].map(|p| bench.path(p));
    if devices[1..].contains(&devices[0]) || devices[1] == devices[2] {
        return Err(format!("the asyncn peers need three devices, got {devices:?}").into());
    }
    for path in &devices {
        if !path.exists() {
            return Err(format!(
                "{} does not exist (load asyncn with devices=3 or more)",
                path.display()
            )
            .into());
        }
    }
    // The floor's subscriber learns of its signals the same way.
    rtsig::block(bench.signal)?;
    println!("# bench: the writer runs on CPU 0, the subscribers on CPU {subscriber_cpu}");
    let _drainer = start_drainer(subscriber_cpu)?;

    let mut latency: Vec<Vec<Sample>> = vec![Vec::new(); PEERS.len()];
    let mut throughput = vec![vec![Series::default(); PEERS.len()]; FANOUT.len()];
    let mut last_of = vec![vec![Series::default(); PEERS.len()]; LAST_OF.len()];
    let mut reads = vec![Series::default(); PEERS.len()];
    let exclusive_peers = [Peer::Asyncn, Peer::C];
    let mut exclusive_woken = vec![Series::default(); PEERS.len()];
    let mut exclusive_write_us = vec![Series::default(); PEERS.len()];
    for round in 1..=options.rounds {
        println!("# bench: round {round} of {}", options.rounds);
        for (peer, samples) in bench.latency(round)?.into_iter().enumerate() {
            latency[peer].extend(samples);
        }
        for (i, &n) in FANOUT.iter().enumerate() {
            for (peer, rate) in bench.throughput(n)?.into_iter().enumerate() {
                throughput[i][peer].0.extend(rate);
            }
        }
        for (i, &n) in LAST_OF.iter().enumerate() {
            for (peer, samples) in bench.last_of(n)?.into_iter().enumerate() {
                last_of[i][peer].0.extend(samples);
            }
        }
        let peers = [Peer::Asyncn, Peer::C, Peer::Pipe];
        for (peer, rate) in peers.iter().zip(bench.read_throughput(&peers)?) {
            reads[*peer as usize].0.push(rate);
        }
        for &peer in &exclusive_peers {
            let (woken, write_us) = bench
                .exclusive_waiters(peer)
                .map_err(context("EPOLLEXCLUSIVE waiters", peer))?;
            exclusive_woken[peer as usize].0.extend(woken);
            exclusive_write_us[peer as usize].0.extend(write_us);
        }
    }
    let _ = std::fs::remove_file(FIFO);

    let mut json = String::from("{\n");
    json += &format!(
        "  \"rounds\": {}, \"samples\": {}, \"window_ms\": {}, \"buffer_size\": {buffer_size},\n  \"kernel\": {:?}, \"machine\": {:?}, \"writer_cpu\": 0, \"subscriber_cpu\": {subscriber_cpu},\n  \"warmup\": {}, \"fixed_order\": {}, \"trace\": {}, \"cpus\": {}, \"order_seed\": {},\n",
        options.rounds,
        options.samples,
        options.window.as_millis(),
        uname_field(|u| u.release()),
        uname_field(|u| u.machine()),
        options.warmup,
        options.fixed_order,
        options.trace,
        online_cpus(),
        bench.order_seed,
    );
    // {"peer": f(peer), ...} over the peers of a figure.
    let peers_of = |peers: &[Peer], f: &dyn Fn(usize) -> String| -> String {
        peers
            .iter()
            .map(|&p| format!("\"{}\": {}", p.name(), f(p as usize)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let peers = |f: &dyn Fn(usize) -> String| peers_of(&Peer::signalling(), f);
    let all_peers = |f: &dyn Fn(usize) -> String| peers_of(&Peer::all(), f);
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.3}")
        } else {
            "null".into()
        }
    };
    json += &format!(
        "  \"peers\": [{}],\n",
        PEERS.map(|p| format!("{p:?}")).join(", ")
    );
    let latency_us: Vec<Series> = latency
        .iter()
        .map(|samples| Series(samples.iter().map(|s| s.us).collect()))
        .collect();
    json += &format!(
        "  \"latency_us\": {{ {} }},\n",
        all_peers(&|p| {
            let s = &latency_us[p];
            format!(
                "{{\"p50\": {}, \"p99\": {}, \"p99.9\": {}, \"max\": {}, \"n\": {}}}",
                num(s.quantile(0.5)),
                num(s.quantile(0.99)),
                num(s.quantile(0.999)),
                num(s.quantile(1.0)),
                s.0.len()
            )
        })
    );
    // {"peer": [item, ...], ...} over every peer, a line each.
    let per_peer = |key: &str, items: &dyn Fn(&[Sample]) -> Vec<String>| -> String {
        let lines: Vec<String> = Peer::all()
            .iter()
            .map(|&p| {
                format!(
                    "    \"{}\": [{}]",
                    p.name(),
                    items(&latency[p as usize]).join(",")
                )
            })
            .collect();
        format!("  \"{key}\": {{\n{}\n  }},\n", lines.join(",\n"))
    };
    // Every sample, in the order taken (the report's CDFs), to 0.1 us.
    json += &per_peer("latency_samples_us", &|samples| {
        samples.iter().map(|s| format!("{:.1}", s.us)).collect()
    });
    json += &per_peer("slowest", &|samples| {
        slowest(samples)
            .iter()
            .map(|s| {
                format!(
                    "{{\"us\": {:.1}, \"write_us\": {:.1}, \"round\": {}, \"sample\": {}}}",
                    s.us, s.write_us, s.round, s.in_turn
                )
            })
            .collect()
    });
    // {"N": {peer: median, ...}, ...} for a figure measured at several N.
    let by_n = |ns: &[usize], series: &[Vec<Series>]| -> String {
        ns.iter()
            .zip(series)
            .map(|(n, s)| format!("    \"{n}\": {{ {} }}", peers(&|p| num(s[p].quantile(0.5)))))
            .collect::<Vec<_>>()
            .join(",\n")
    };
    json += "  \"writes_per_s\": {\n";
    json += &by_n(&FANOUT, &throughput);
    json += "\n  },\n  \"last_of_n_us\": {\n";
    json += &by_n(&LAST_OF, &last_of);
    json += &format!(
        "\n  }},\n  \"write_read_pairs_per_s\": {{ {} }},\n",
        peers(&|p| num(reads[p].quantile(0.5)))
    );
    // Mean wake-ups per write (a herd shows as the waiter count), and the
    // median time of one write.
    let mean = |s: &Series| s.0.iter().sum::<f64>() / s.0.len() as f64;
    json += &format!(
        "  \"exclusive_waiters\": {EXCLUSIVE_WAITERS},\n  \"exclusive_woken_per_write\": {{ {} }},\n  \"exclusive_write_us\": {{ {} }}\n}}\n",
        peers_of(&exclusive_peers, &|p| num(mean(&exclusive_woken[p]))),
        peers_of(&exclusive_peers, &|p| num(exclusive_write_us[p].quantile(0.5)))
    );
    println!("ASYNCN-BENCH-JSON-BEGIN");
    print!("{json}");
    println!("ASYNCN-BENCH-JSON-END");
    Ok(())
}

/// Names the figure and peer of a failed measurement.
fn context(figure: &'static str, peer: Peer) -> impl Fn(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{figure}, peer {}: {e}", peer.name()))
}

/// The CPUs the system has online (`/sys/devices/system/cpu/online`, e.g.
/// "0-1"); 0 when unknown.
fn online_cpus() -> usize {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    text.trim()
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|range| match range.split_once('-') {
            Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => usize::from(range.parse::<usize>().is_ok()),
        })
        .sum()
}

fn uname_field(f: impl Fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr) -> String {
    nix::sys::utsname::uname()
        .map(|u| f(&u).to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Bench<'_> {
    /// Latency samples of every peer: one subscriber each, one write at a
    /// time. The peers take turns of `LATENCY_BLOCK` recorded samples,
    /// each turn after `warmup` unrecorded ones, in an order shuffled anew
    /// for each cycle of turns (unless `fixed_order`), after
    /// one unrecorded cycle: neither what the first samples of freshly
    /// forked processes cost (copy-on-write faults, code the emulator has
    /// not translated yet) nor what the first samples after a switch of
    /// peers cost (what the previous peer's processes evicted) is charged
    /// to whichever peer happens to come first.
    fn latency(&self, round: u32) -> io::Result<Vec<Vec<Sample>>> {
        let mut peers = Vec::new();
        for peer in Peer::all() {
            let ack = Channel::new()?;
            let (subscribers, sender) = match peer {
                Peer::AsyncnEpoll | Peer::Eventfd | Peer::AsyncnUring => {
                    self.start_waiter(peer, &ack)
                }
                _ => self
                    .start(peer, 1, Wait::Signals, Some(&ack))
                    .and_then(|subscribers| Ok((subscribers, self.sender(peer)?))),
            }
            .map_err(context("latency", peer))?;
            peers.push((peer, subscribers, ack.receiver(), sender));
        }
        let mut samples: Vec<Vec<Sample>> = (0..PEERS.len())
            .map(|_| Vec::with_capacity(self.options.samples as usize))
            .collect();
        let payload = [0x42u8; 8];
        let turn = self.options.warmup + LATENCY_BLOCK;
        let count = peers.len();
        let cycles = self.options.samples.div_ceil(LATENCY_BLOCK) as usize;
        // Cycle 0 is the unrecorded one (none with the old method).
        let first_cycle = usize::from(self.options.fixed_order);
        for cycle in first_cycle..=cycles {
            // A shuffled order per cycle, so that no peer always follows
            // the same one.
            let mut order: Vec<usize> = (0..count).collect();
            if !self.options.fixed_order {
                let seed = Rng::derive(self.order_seed, u64::from(round));
                let mut rng = Rng::new(Rng::derive(seed, cycle as u64));
                for i in (1..count).rev() {
                    order.swap(i, rng.index(i + 1));
                }
            }
            let recorded = cycle > 0 || self.options.fixed_order;
            for k in order {
                let (peer, subscribers, ack_rx, sender) = &mut peers[k];
                for in_turn in 0..turn {
                    // Traced: the recorded samples, after a mark naming them.
                    if let Some(trace) = self.trace.as_ref().filter(|_| recorded) {
                        if in_turn == self.options.warmup {
                            // On first: a mark is only kept while tracing.
                            trace.switch(true)?;
                            trace.mark(&format!(
                                "asyncn-bench: round {round}, {} from here",
                                peer.name()
                            ))?;
                        } else if in_turn == 0 {
                            trace.switch(false)?;
                        }
                    }
                    let sent = now_ns();
                    self.notify(sender, subscribers.running(), &payload)
                        .map_err(context("latency", *peer))?;
                    let written = now_ns();
                    read_timeout(ack_rx, &mut [0], Duration::from_secs(5))
                        .map_err(context("latency", *peer))?;
                    let at = self.board.arrival_ns[0].load(SeqCst);
                    // An arrival before the write is an answer to an earlier
                    // one: the samples would be wrong from here on.
                    if at < sent {
                        return Err(io::Error::other(format!(
                            "latency, peer {}: the subscriber answered a write it had not seen",
                            peer.name()
                        )));
                    }
                    if recorded && in_turn >= self.options.warmup {
                        samples[*peer as usize].push(Sample {
                            us: at.saturating_sub(sent) as f64 / 1e3,
                            write_us: written.saturating_sub(sent) as f64 / 1e3,
                            round,
                            in_turn,
                        });
                    }
                }
            }
        }
        if let Some(trace) = &self.trace {
            trace.switch(false)?;
        }
        Ok(samples)
    }

    /// Writes (notifications) per second of each peer with `n` idle
    /// subscribers (none for the floor without subscribers); the peers
    /// take turns in `SLICES` slices of the window.
    fn throughput(&self, n: usize) -> io::Result<Vec<Option<f64>>> {
        let mut peers = Vec::new();
        for peer in Peer::signalling() {
            if peer == Peer::Floor && n == 0 {
                continue;
            }
            let subscribers = self
                .start(peer, n, Wait::Idle, None)
                .map_err(context("throughput", peer))?;
            let sender = self.sender(peer).map_err(context("throughput", peer))?;
            peers.push((peer, subscribers, sender));
        }
        let payload = [0x42u8; 64];
        let per_s = self.rates_in_slices(&mut peers, |(peer, subscribers, sender)| {
            self.notify_idle(sender, subscribers.running(), &payload)
                .map_err(context("throughput", *peer))
        })?;
        let mut rates = vec![None; PEERS.len()];
        for ((peer, _, _), rate) in peers.iter().zip(per_s) {
            rates[*peer as usize] = Some(rate);
        }
        Ok(rates)
    }

    /// Operations per second of each of `peers`: `op` repeated for each
    /// peer in turn, in `SLICES` slices of the window, so that drift meets
    /// every peer alike.
    fn rates_in_slices<T>(
        &self,
        peers: &mut [T],
        mut op: impl FnMut(&mut T) -> io::Result<()>,
    ) -> io::Result<Vec<f64>> {
        let mut done = vec![(0u64, Duration::ZERO); peers.len()];
        let slice = self.options.window / SLICES;
        for _ in 0..SLICES {
            for (peer, (ops, spent)) in peers.iter_mut().zip(done.iter_mut()) {
                let start = Instant::now();
                while start.elapsed() < slice {
                    // Batches: the clock is read once per 16 operations.
                    for _ in 0..16 {
                        op(peer)?;
                    }
                    *ops += 16;
                }
                *spent += start.elapsed();
            }
        }
        Ok(done
            .iter()
            .map(|(ops, spent)| *ops as f64 / spent.as_secs_f64())
            .collect())
    }

    /// Like `notify`, but the floor sends the subscribers' plain `SIGIO`.
    fn notify_idle(
        &self,
        sender: &mut Sender,
        pids: impl Iterator<Item = Pid>,
        payload: &[u8],
    ) -> io::Result<()> {
        if !matches!(sender, Sender::Queue) {
            return self.notify(sender, pids, payload);
        }
        for pid in pids {
            kill(pid, Signal::SIGIO)?;
        }
        Ok(())
    }

    /// Microseconds from the write until the last of `n` subscribers had
    /// its signal, for each peer; the peers take turns sample by sample.
    fn last_of(&self, n: usize) -> io::Result<Vec<Vec<f64>>> {
        let mut peers = Vec::new();
        for peer in Peer::signalling() {
            let subscribers = self
                .start(peer, n, Wait::Signals, None)
                .map_err(context("last of N", peer))?;
            let sender = self.sender(peer).map_err(context("last of N", peer))?;
            peers.push((peer, subscribers, sender));
        }
        let rounds = (self.options.samples as usize / n.max(1)).clamp(10, 200);
        let mut samples = vec![Vec::with_capacity(rounds); peers.len()];
        let payload = [0x42u8; 8];
        for _ in 0..rounds {
            for (i, (peer, subscribers, sender)) in peers.iter_mut().enumerate() {
                self.board.arrived.store(0, SeqCst);
                let sent = now_ns();
                self.notify(sender, subscribers.running(), &payload)
                    .map_err(context("last of N", *peer))?;
                let deadline = Instant::now() + Duration::from_secs(10);
                while (self.board.arrived.load(SeqCst) as usize) < n {
                    if Instant::now() > deadline {
                        return Err(io::Error::other(format!(
                            "last of N, peer {}: not all {n} subscribers were notified",
                            peer.name()
                        )));
                    }
                    std::thread::yield_now();
                }
                let last = (0..n)
                    .map(|k| self.board.arrival_ns[k].load(SeqCst))
                    .max()
                    .unwrap_or(sent);
                samples[i].push(last.saturating_sub(sent) as f64 / 1e3);
            }
        }
        Ok(samples)
    }

    /// `EXCLUSIVE_WAITERS` threads wait in `epoll_wait` on `peer`'s
    /// device with `EPOLLIN | EPOLLEXCLUSIVE`, each through its own file
    /// (nothing unread) and epoll instance; a woken waiter counts itself
    /// and takes its message. For each of `EXCLUSIVE_WRITES` writes, once
    /// every waiter is asleep: the waiters it woke, and the microseconds
    /// the write took.
    fn exclusive_waiters(&self, peer: Peer) -> io::Result<(Vec<f64>, Vec<f64>)> {
        use crate::proc::{sleeping, wait_until_sleeping};
        use std::sync::{atomic::AtomicBool, mpsc, Arc};
        let path = self.path(peer);
        let woken = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (tid_tx, tid_rx) = mpsc::channel();
        let mut threads = Vec::new();
        for _ in 0..EXCLUSIVE_WAITERS {
            let file = Device::open_with(&path, Access::Read, OFlag::O_NONBLOCK)?;
            while file.receive(self.buffer_size).is_ok() {}
            let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
            let flags = EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE;
            epoll.add(file.as_fd(), EpollEvent::new(flags, 0))?;
            let (woken, stop, tid_tx) = (woken.clone(), stop.clone(), tid_tx.clone());
            let (size, cpu) = (self.buffer_size, self.subscriber_cpu);
            threads.push(std::thread::spawn(move || {
                pin_to(cpu);
                let _ = tid_tx.send(nix::unistd::gettid());
                drop(tid_tx);
                let mut events = [EpollEvent::empty(); 1];
                // A timeout, not a write, ends the wait once `stop` is set.
                while !stop.load(SeqCst) {
                    if epoll.wait(&mut events, EpollTimeout::from(1000u16)) == Ok(1) {
                        woken.fetch_add(1, SeqCst);
                        while file.receive(size).is_ok() {}
                    }
                }
            }));
        }
        drop(tid_tx);
        let result = (|| {
            let mut tids = Vec::with_capacity(EXCLUSIVE_WAITERS);
            for _ in 0..EXCLUSIVE_WAITERS {
                let tid = tid_rx
                    .recv_timeout(Duration::from_secs(30))
                    .map_err(|_| io::Error::other("a waiter did not start"))?;
                tids.push(tid);
            }
            let mut writer = std::fs::OpenOptions::new().write(true).open(&path)?;
            let (mut per_write, mut write_us) = (Vec::new(), Vec::new());
            for k in 0..EXCLUSIVE_WRITES {
                let deadline = Instant::now() + Duration::from_secs(10);
                for &tid in &tids {
                    if !wait_until_sleeping(tid, deadline.saturating_duration_since(Instant::now()))
                    {
                        return Err(io::Error::other("a waiter did not go back to sleep"));
                    }
                }
                let before = woken.load(SeqCst);
                let start = Instant::now();
                writer.write_all(&(k as u64).to_ne_bytes())?;
                write_us.push(start.elapsed().as_secs_f64() * 1e6);
                // Every woken waiter counts itself before it sleeps again.
                while woken.load(SeqCst) == before || !tids.iter().all(|&t| sleeping(t)) {
                    if Instant::now() > deadline {
                        return Err(io::Error::other("no waiter woke for a write"));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                per_write.push((woken.load(SeqCst) - before) as f64);
            }
            Ok((per_write, write_us))
        })();
        stop.store(true, SeqCst);
        for thread in threads {
            let _ = thread.join();
        }
        result
    }

    /// Pairs of (write, read of `buffer_size` bytes) per second of each of
    /// `peers`, taking turns in `SLICES` slices of the window like the
    /// write+notify figures; the pipe peer uses a pipe of its own (the
    /// FIFO has a drainer).
    fn read_throughput(&self, peers: &[Peer]) -> io::Result<Vec<f64>> {
        let mut ends = Vec::new();
        for &peer in peers {
            let open = || -> io::Result<(File, File)> {
                if peer == Peer::Pipe {
                    let (read, write) = nix::unistd::pipe()?;
                    return Ok((File::from(write), File::from(read)));
                }
                let Sender::File(writer) = self.sender(peer)? else {
                    return Err(io::Error::other("no device to write"));
                };
                let reader = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(self.path(peer))?;
                Ok((writer, reader))
            };
            let (writer, reader) = open().map_err(context("write+read", peer))?;
            ends.push((peer, writer, reader));
        }
        let payload = vec![0x42u8; self.buffer_size];
        let mut buf = vec![0u8; self.buffer_size];
        self.rates_in_slices(&mut ends, |(peer, writer, reader)| {
            writer
                .write_all(&payload)
                .and_then(|()| reader.read_exact(&mut buf))
                .map_err(context("write+read", *peer))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_are_samples_at_the_rounded_rank() {
        // 1..=100 in a shuffled order: sorting is the function's job.
        let samples: Vec<f64> = (0..100).map(|i| f64::from((i * 37) % 100 + 1)).collect();
        assert_eq!(quantile(&samples, 0.0), 1.0);
        // Rank round(99 * 0.5) = 50 (half away from zero): the 51st.
        assert_eq!(quantile(&samples, 0.5), 51.0);
        assert_eq!(quantile(&samples, 0.99), 99.0);
        assert_eq!(quantile(&samples, 0.999), 100.0);
        assert_eq!(quantile(&samples, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.99), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn a_quantile_outside_0_to_1_is_clamped_not_out_of_bounds() {
        assert_eq!(quantile(&[1.0, 2.0], 2.0), 2.0);
        assert_eq!(quantile(&[1.0, 2.0], -1.0), 1.0);
    }
}
