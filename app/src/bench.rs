//! `asyncn-test bench`: asyncn side by side with its peers, in one boot.
//!
//! Peers: `asyncn` (/dev/asyncn0...), `c` (the C baseline module,
//! /dev/asyncnc0...), `pipe` (a FIFO with `O_ASYNC`: the kernel's own
//! fasync path) and `floor` (`sigqueue` to the subscriber: no device in
//! between). Figures, each measured for every peer in turn within a round
//! and over several rounds so that drift hits all peers alike:
//!
//! - latency: a monotonic timestamp taken before `write` (or `sigqueue`),
//!   read by the subscriber when `sigtimedwait` returns the queued signal;
//!   one write at a time, p50/p99/p99.9/max; the peers take turns every 50
//!   samples;
//! - write+notify throughput with 0, 1, 16 and 256 subscribed processes
//!   (their `SIGIO` blocked and pending, so a write costs the fasync walk
//!   and signal generation, not the subscribers' wake-ups); the peers take
//!   turns in slices of the window;
//! - time until the last of N subscribers (1, 16, 256) has its signal,
//!   the peers taking turns sample by sample;
//! - read throughput: a write then a read of `buffer_size` bytes.
//!
//! The writer runs on CPU 0 and every subscriber on CPU 1, the same for
//! all peers.
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

use crate::device::{Access, Device};
use crate::proc::{read_timeout, Channel, Workers};
use crate::sys::rtsig;
use crate::sys::shared::{zeroed_atomics, Shared};

/// The peers, in table order.
pub const PEERS: [&str; 4] = ["asyncn", "c", "pipe", "floor"];
const FIFO: &str = "/tmp/asyncn-bench.fifo";
const MAX_SUBSCRIBERS: usize = 256;
const FANOUT: [usize; 4] = [0, 1, 16, 256];
const LAST_OF: [usize; 3] = [1, 16, 256];
/// Turns each peer gets within one throughput window.
const SLICES: u32 = 6;
/// Latency samples a peer takes before the next one's turn.
const LATENCY_BLOCK: u32 = 50;
/// The writer runs on CPU 0, subscribers on this one (when there is one):
/// the same placement for every peer, whatever the scheduler would pick.
const SUBSCRIBER_CPU: usize = 1;

/// Pins the calling process to `cpu` (to CPU 0 when there are fewer).
fn pin_to(cpu: usize) {
    use nix::sched::{sched_setaffinity, CpuSet};
    use nix::unistd::{sysconf, SysconfVar};
    let cpus = sysconf(SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .map_or(1, |n| usize::try_from(n).unwrap_or(1));
    let cpu = if cpu < cpus { cpu } else { 0 };
    let mut set = CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = sched_setaffinity(Pid::from_raw(0), &set);
    }
}

/// The options of a benchmark run.
pub struct BenchOptions {
    pub rounds: u32,
    pub samples: u32,
    pub window: Duration,
    pub c_device: PathBuf,
}

zeroed_atomics! {
    struct Board {
        arrived: AtomicU32,
        arrival_ns: [AtomicU64; MAX_SUBSCRIBERS],
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
}

impl Peer {
    fn all() -> [Peer; 4] {
        [Peer::Asyncn, Peer::C, Peer::Pipe, Peer::Floor]
    }

    fn name(self) -> &'static str {
        PEERS[self as usize]
    }
}

struct Bench<'a> {
    asyncn: PathBuf,
    c: PathBuf,
    buffer_size: usize,
    options: &'a BenchOptions,
    board: Shared<Board>,
    signal: i32,
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
    fn path(&self, peer: Peer) -> &Path {
        match peer {
            Peer::Asyncn => &self.asyncn,
            Peer::C => &self.c,
            _ => Path::new(FIFO),
        }
    }

    /// Opens what a subscriber of `peer` subscribes on (none for the floor).
    fn subscribe(&self, peer: Peer, signal: i32) -> io::Result<Option<File>> {
        if peer == Peer::Floor {
            return Ok(None);
        }
        let device = Device::open_with(self.path(peer), Access::Read, OFlag::O_NONBLOCK)?;
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
            subscribers.start(move || {
                pin_to(SUBSCRIBER_CPU);
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

    /// The sending side of `peer`.
    fn sender(&self, peer: Peer) -> io::Result<Option<File>> {
        // Blocking, for the pipe too: a full pipe makes the writer wait
        // for the drainer, which is what a pipe costs.
        Ok(match peer {
            Peer::Floor => None,
            _ => Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(self.path(peer))?,
            ),
        })
    }

    /// One notification: a write, or for the floor a signal to each pid.
    fn notify(
        &self,
        sender: &mut Option<File>,
        pids: impl Iterator<Item = Pid>,
        payload: &[u8],
    ) -> io::Result<()> {
        match sender {
            Some(file) => {
                let n = file.write(payload)?;
                if n != payload.len() {
                    return Err(io::Error::other(format!("short write {n}")));
                }
            }
            None => {
                for pid in pids {
                    rtsig::queue_signal(pid, self.signal)?;
                }
            }
        }
        Ok(())
    }
}

/// Starts a process that keeps the FIFO drained (pipe peer: a writer must
/// not fill it); dropping the returned `Workers` kills it.
fn start_drainer() -> io::Result<Workers> {
    let mut drainer = Workers::new("bench FIFO drainer");
    drainer.start(|| {
        pin_to(SUBSCRIBER_CPU);
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
    let _ = std::fs::remove_file(FIFO);
    nix::unistd::mkfifo(FIFO, nix::sys::stat::Mode::from_bits_truncate(0o600))?;
    rtsig::raise_pending_limit();
    let bench = Bench {
        asyncn: first_device.to_owned(),
        c: options.c_device.clone(),
        buffer_size,
        options,
        board: Shared::new()?,
        signal: rtsig::rt_signal(7),
    };
    // The floor's subscriber learns of its signals the same way.
    rtsig::block(bench.signal)?;
    pin_to(0);
    let _drainer = start_drainer()?;

    let mut latency = vec![Series::default(); 4];
    let mut throughput = vec![vec![Series::default(); 4]; FANOUT.len()];
    let mut last_of = vec![vec![Series::default(); 4]; LAST_OF.len()];
    let mut reads = vec![Series::default(); 4];
    for round in 1..=options.rounds {
        println!("# bench: round {round} of {}", options.rounds);
        for (peer, samples) in bench.latency()?.into_iter().enumerate() {
            latency[peer].0.extend(samples);
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
        for peer in [Peer::Asyncn, Peer::C, Peer::Pipe] {
            let rate = bench
                .read_throughput(peer)
                .map_err(context("write+read", peer))?;
            reads[peer as usize].0.push(rate);
        }
    }
    let _ = std::fs::remove_file(FIFO);

    let mut json = String::from("{\n");
    json += &format!(
        "  \"rounds\": {}, \"samples\": {}, \"window_ms\": {}, \"buffer_size\": {buffer_size},\n  \"kernel\": {:?}, \"machine\": {:?},\n",
        options.rounds,
        options.samples,
        options.window.as_millis(),
        uname_field(|u| u.release()),
        uname_field(|u| u.machine()),
    );
    let peers = |f: &dyn Fn(usize) -> String| -> String {
        Peer::all()
            .iter()
            .map(|&p| format!("\"{}\": {}", p.name(), f(p as usize)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.3}")
        } else {
            "null".into()
        }
    };
    json += &format!(
        "  \"latency_us\": {{ {} }},\n",
        peers(&|p| {
            let s = &latency[p];
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
        "\n  }},\n  \"write_read_pairs_per_s\": {{ {} }}\n}}\n",
        peers(&|p| num(reads[p].quantile(0.5)))
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

fn uname_field(f: impl Fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr) -> String {
    nix::sys::utsname::uname()
        .map(|u| f(&u).to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl Bench<'_> {
    /// Latency samples in microseconds for every peer: one subscriber
    /// each, one write at a time, the peers taking turns every
    /// `LATENCY_BLOCK` samples.
    fn latency(&self) -> io::Result<Vec<Vec<f64>>> {
        let mut peers = Vec::new();
        for peer in Peer::all() {
            let ack = Channel::new()?;
            let subscribers = self
                .start(peer, 1, Wait::Signals, Some(&ack))
                .map_err(context("latency", peer))?;
            let sender = self.sender(peer).map_err(context("latency", peer))?;
            peers.push((peer, subscribers, ack.receiver(), sender));
        }
        let mut samples = vec![Vec::with_capacity(self.options.samples as usize); peers.len()];
        let payload = [0x42u8; 8];
        for _ in 0..self.options.samples.div_ceil(LATENCY_BLOCK) {
            for (i, (peer, subscribers, ack_rx, sender)) in peers.iter_mut().enumerate() {
                for _ in 0..LATENCY_BLOCK {
                    let sent = now_ns();
                    self.notify(sender, subscribers.running(), &payload)
                        .and_then(|()| read_timeout(ack_rx, &mut [0], Duration::from_secs(5)))
                        .map_err(context("latency", *peer))?;
                    let at = self.board.arrival_ns[0].load(SeqCst);
                    samples[i].push(at.saturating_sub(sent) as f64 / 1e3);
                }
            }
        }
        Ok(samples)
    }

    /// Writes (notifications) per second of each peer with `n` idle
    /// subscribers (none for the floor without subscribers); the peers
    /// take turns in `SLICES` slices of the window.
    fn throughput(&self, n: usize) -> io::Result<Vec<Option<f64>>> {
        let mut peers = Vec::new();
        for peer in Peer::all() {
            if peer == Peer::Floor && n == 0 {
                continue;
            }
            let subscribers = self
                .start(peer, n, Wait::Idle, None)
                .map_err(context("throughput", peer))?;
            let sender = self.sender(peer).map_err(context("throughput", peer))?;
            peers.push((peer, subscribers, sender, 0u64, Duration::ZERO));
        }
        let payload = [0x42u8; 64];
        let slice = self.options.window / SLICES;
        for _ in 0..SLICES {
            for (peer, subscribers, sender, writes, spent) in peers.iter_mut() {
                let start = Instant::now();
                while start.elapsed() < slice {
                    for _ in 0..16 {
                        self.notify_idle(sender, subscribers.running(), &payload)
                            .map_err(context("throughput", *peer))?;
                    }
                    *writes += 16;
                }
                *spent += start.elapsed();
            }
        }
        let mut rates = vec![None; PEERS.len()];
        for (peer, _, _, writes, spent) in &peers {
            rates[*peer as usize] = Some(*writes as f64 / spent.as_secs_f64());
        }
        Ok(rates)
    }

    /// Like `notify`, but the floor sends the subscribers' plain `SIGIO`.
    fn notify_idle(
        &self,
        sender: &mut Option<File>,
        pids: impl Iterator<Item = Pid>,
        payload: &[u8],
    ) -> io::Result<()> {
        if sender.is_some() {
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
        for peer in Peer::all() {
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

    /// Pairs of (write, read of `buffer_size` bytes) per second; the pipe
    /// peer uses a pipe of its own (the FIFO has a drainer).
    fn read_throughput(&self, peer: Peer) -> io::Result<f64> {
        let (mut writer, mut reader) = if peer == Peer::Pipe {
            let (read, write) = nix::unistd::pipe()?;
            (File::from(write), File::from(read))
        } else {
            let writer = self
                .sender(peer)?
                .ok_or_else(|| io::Error::other("no sender"))?;
            let reader = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(self.path(peer))?;
            (writer, reader)
        };
        let payload = vec![0x42u8; self.buffer_size];
        let mut buf = vec![0u8; self.buffer_size];
        let start = Instant::now();
        let mut pairs = 0u64;
        while start.elapsed() < self.options.window {
            for _ in 0..16 {
                writer.write_all(&payload)?;
                reader.read_exact(&mut buf)?;
            }
            pairs += 16;
        }
        Ok(pairs as f64 / start.elapsed().as_secs_f64())
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
