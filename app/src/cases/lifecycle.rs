//! Processes that die holding the device, `rmmod` while it is open, and
//! load/use/unload cycles.

use std::io::Write;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::getpid;

use crate::after_run::round_trip;
use crate::device::read_stats;
use crate::device::{sysfs_dir, Access, Device, ModuleParams};
use crate::harness::timeouts::extend_watchdog;
use crate::harness::Tap;
use crate::harness::{wait, CaseResult, Context};
use crate::module;
use crate::proc::{read_timeout, spawn, Channel};
use crate::sys::rtsig;

/// Load/use/unload cycles of `load-cycle`.
pub const LOAD_CYCLES: u32 = 100;

/// A subscriber blocked in `read` and another asleep are killed with
/// `SIGKILL`: their files are released, the statistics return, and the
/// device keeps working.
pub fn killed(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let dir = sysfs_dir(&ctx.device);
    let base = read_stats(&dir)?;
    let ready = Channel::new()?;
    let mut children = Vec::new();
    for blocked in [true, false] {
        let mut ready_tx = ready.write_end()?;
        let path = ctx.device.clone();
        children.push(spawn(move || {
            let Ok(dev) = Device::open(&path, Access::Read) else {
                return 1;
            };
            if dev.subscribe(getpid()).is_err() || ready_tx.write_all(b"r").is_err() {
                return 1;
            }
            if blocked {
                // No message yet: blocks until killed.
                let _ = dev.receive(16);
            } else {
                nix::unistd::pause();
            }
            0
        })?);
    }
    let mut ready_rx = ready.receiver();
    let mut byte = [0u8; 2];
    read_timeout(&mut ready_rx, &mut byte, wait())?;
    // Let the first child reach its blocking read.
    std::thread::sleep(Duration::from_millis(200));
    let during = read_stats(&dir)?;
    tap.check(
        during["subscribers"] == base["subscribers"] + 2
            && during["readers"] == base["readers"] + 2,
        format!(
            "two subscribed readers, one blocked in read: subscribers {}, readers {}",
            during["subscribers"], during["readers"]
        ),
    );
    let mut all_killed = true;
    for pid in children {
        kill(pid, Signal::SIGKILL)?;
        all_killed &= matches!(
            waitpid(pid, None)?,
            WaitStatus::Signaled(_, Signal::SIGKILL, _)
        );
    }
    tap.check(
        all_killed,
        "SIGKILL ends a process blocked in read and a subscribed one",
    );
    let after = read_stats(&dir)?;
    tap.check(
        ["readers", "writers", "subscribers"]
            .iter()
            .all(|n| after[n] == base[n]),
        format!(
            "their files were released: readers {}, subscribers {}",
            after["readers"], after["subscribers"]
        ),
    );
    let before = read_stats(&dir)?;
    let works = round_trip(&ctx.device, ctx.params.buffer_size, b"after the kill")?;
    let notified = read_stats(&dir)?["notifications"] - before["notifications"];
    tap.check(
        works && notified == 1,
        format!("the device works; a write notifies only the live subscriber ({notified})"),
    );
    Ok(())
}

/// `rmmod` while a file is open is refused and changes nothing.
pub fn unload_busy(ctx: &Context, tap: &mut Tap) -> CaseResult {
    if ctx.module.is_none() {
        tap.skip("rmmod while a file is open is refused", "no --module given");
        return Ok(());
    }
    let signal = rtsig::rt_signal(6);
    rtsig::block(signal)?;
    let reader = Device::open(&ctx.device, Access::Read)?;
    rtsig::set_signal(reader.as_fd(), signal)?;
    reader.subscribe(getpid())?;
    let result = module::unload().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)));
    tap.check(
        result == Err(Errno::EWOULDBLOCK),
        format!("rmmod with a subscribed file open is refused with EWOULDBLOCK ({result:?})"),
    );
    tap.check(
        ctx.device.exists() && ModuleParams::read().is_ok(),
        "the module and its node are still there",
    );
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    writer.send(b"still loaded")?;
    let notified = rtsig::take(signal, wait())?;
    let back = reader.receive(ctx.params.buffer_size)?;
    tap.check(
        notified.is_some() && back == b"still loaded",
        "the open file still works: the write is notified and read back",
    );
    Ok(())
}

/// The waits for the node of a run of loads and unloads: the slowest,
/// and the first that failed.
#[derive(Default)]
struct NodeWaits {
    slowest: Duration,
    first_failure: Option<String>,
}

impl NodeWaits {
    /// Whether `wait` succeeded; `what` of `cycle` names it if it failed.
    fn judge(&mut self, cycle: u32, what: &str, wait: module::NodeWait) -> bool {
        match wait {
            Ok(took) => {
                self.slowest = self.slowest.max(took);
                true
            }
            Err(why) => {
                self.first_failure
                    .get_or_insert_with(|| format!("cycle {cycle}, {what}: {why}"));
                false
            }
        }
    }
}

/// Load, use and unload the module `LOAD_CYCLES` times, with a load with
/// a bad parameter every tenth cycle.
pub fn load_cycle(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let Some(path) = &ctx.module else {
        tap.skip("unload, load and use, over and over", "no --module given");
        return Ok(());
    };
    // Debug kernels load modules slowly.
    extend_watchdog(600);
    let params = format!(
        "devices={} buffer_size={}",
        ctx.params.devices, ctx.params.buffer_size
    );
    let start = Instant::now();
    let (mut unloaded, mut loaded, mut used, mut refused) = (0, 0, 0, 0);
    let mut waits = NodeWaits::default();
    let mut cycles = 0;
    for cycle in 0..LOAD_CYCLES {
        // A wait that failed once would fail again, slowly: report it.
        if waits.first_failure.is_some() {
            break;
        }
        cycles += 1;
        if module::unload().is_ok()
            && waits.judge(cycle, "rmmod", module::wait_gone(&ctx.device, wait()))
        {
            unloaded += 1;
        }
        if cycle % 10 == 0 && module::load(path, "buffer_size=0") == Err(Errno::EINVAL) {
            refused += 1;
        }
        if module::load(path, &params).is_ok()
            && waits.judge(cycle, "insmod", module::wait_for(&ctx.device, wait()))
        {
            loaded += 1;
        }
        if round_trip(
            &ctx.device,
            ctx.params.buffer_size,
            format!("cycle {cycle}").as_bytes(),
        )
        .unwrap_or(false)
        {
            used += 1;
        }
    }
    let elapsed = start.elapsed();
    tap.note(format!(
        "load-cycle: {cycles} cycles in {:.1} s ({:.0} ms each)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / f64::from(cycles.max(1))
    ));
    // A run stopped by a failed wait is judged on the cycles it made: the
    // wait's failure is the first check's, not the others'.
    tap.check(
        cycles == LOAD_CYCLES && unloaded == cycles && loaded == cycles,
        format!(
            "{unloaded} unloads removed the node, {loaded} loads recreated it (of {cycles}{}; slowest {} ms{})",
            if cycles < LOAD_CYCLES {
                format!(", stopped early of {LOAD_CYCLES}")
            } else {
                String::new()
            },
            waits.slowest.as_millis(),
            waits
                .first_failure
                .map_or(String::new(), |why| format!("; first failure: {why}"))
        ),
    );
    tap.check(
        used == cycles,
        format!("after each load a write was notified once and read back: {used} of {cycles}"),
    );
    let bad_loads = cycles.div_ceil(10);
    tap.check(
        refused == bad_loads,
        format!("a bad parameter between cycles failed with EINVAL: {refused} of {bad_loads}"),
    );
    Ok(())
}
