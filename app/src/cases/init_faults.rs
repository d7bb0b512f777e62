//! `init-faults`: for N = 1, 2, … the Nth fault-injection point of a
//! module load fails (`/proc/thread-self/fail-nth`), with slab,
//! page-allocation and user-copy faults armed for calls made from module
//! code (the stack-trace filter: the module region must be on the call's
//! stack), so the points are those of the module's init and not of the
//! loader, whose own failures the kernel reports with warnings by design.
//! Each load must succeed, or fail with an errno and leave nothing behind
//! (module, class, nodes, device numbers); the sweep ends at the first N
//! that a load no longer reaches. Leaks are left to kmemleak, which the
//! debug guest asks after the run.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use nix::kmod::{finit_module, ModuleInitFlags};

use crate::after_run::round_trip;
use crate::device::{read_stats, sysfs_dir, Access, Device};
use crate::faults::{module_region, mount_debugfs, Knobs, DEBUGFS};
use crate::harness::timeouts::extend_watchdog;
use crate::harness::{wait, CaseResult, Context, Tap};
use crate::module;

const FAIL_NTH: &str = "/proc/thread-self/fail-nth";
/// Far more points than a module load has: a sweep that gets here is stuck.
const MAX_POINTS: u32 = 20_000;

/// `/proc/thread-self/fail-nth` of this thread.
struct FailNth(File);

impl FailNth {
    fn open() -> io::Result<Self> {
        Ok(Self(
            OpenOptions::new().read(true).write(true).open(FAIL_NTH)?,
        ))
    }

    /// Makes the `n`th fault-injection point of this thread fail (0: none).
    fn arm(&mut self, n: u32) -> io::Result<()> {
        self.0.write_all(n.to_string().as_bytes())
    }

    /// Whether the armed fault was injected: the counter reads 0 then. The
    /// read's own copy to user space is a fault point too: when it is the
    /// one that fails (EFAULT), the counter was 1, so nothing was injected
    /// before it.
    fn injected(&mut self) -> io::Result<bool> {
        // No lseek on this file (ESPIPE): read at offset 0 instead.
        let mut text = [0u8; 16];
        let injected = match self.0.read_at(&mut text, 0) {
            Ok(n) => String::from_utf8_lossy(&text[..n]).trim() == "0",
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => false,
            Err(e) => return Err(e),
        };
        self.arm(0)?;
        Ok(injected)
    }
}

/// What a failed load may leave: every trace of the module, by path.
fn leftovers(device: &Path) -> Vec<String> {
    let mut left: Vec<String> = ["/sys/module/asyncn", "/sys/class/asyncn"]
        .into_iter()
        .map(Path::new)
        .chain([device])
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    let devices = std::fs::read_to_string("/proc/devices").unwrap_or_default();
    if devices
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("asyncn"))
    {
        left.push("asyncn in /proc/devices".into());
    }
    left
}

/// The case: skipped where it cannot run (no module file, no fault
/// injection, an architecture whose module region is not known here).
pub fn init_faults(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let what = "every failure point of module init fails the load cleanly";
    let Some(path) = &ctx.module else {
        tap.skip(what, "no --module given");
        return Ok(());
    };
    if !Path::new(FAIL_NTH).exists() {
        tap.skip(what, "the kernel has no CONFIG_FAULT_INJECTION");
        return Ok(());
    }
    let region = match module_region() {
        Ok(region) => region,
        Err(reason) => {
            tap.skip(what, reason);
            return Ok(());
        }
    };
    let mounted = mount_debugfs()?;
    let result = sweep(ctx, tap, path, region);
    if mounted {
        let _ = nix::mount::umount(DEBUGFS);
    }
    result
}

fn sweep(ctx: &Context, tap: &mut Tap, path: &Path, region: (u64, u64)) -> CaseResult {
    // A debug kernel loads a module in tens of milliseconds; hundreds of
    // points.
    extend_watchdog(1800);
    let params = format!(
        "devices={} buffer_size={}",
        ctx.params.devices, ctx.params.buffer_size
    );
    module::unload()?;
    module::wait_gone(&ctx.device, wait()).map_err(|why| format!("after rmmod: {why}"))?;
    let image = File::open(path)?;
    let c_params = CString::new(params.clone())?;
    let start = Instant::now();
    let mut errnos: BTreeMap<String, u32> = BTreeMap::new();
    let mut unclean: Vec<String> = Vec::new();
    let (mut tolerated, mut points, mut reached_end) = (0u32, 0u32, false);
    {
        let knobs = Knobs::arm(region).map_err(|e| {
            format!("{e} (require-start/-end need CONFIG_FAULT_INJECTION_STACKTRACE_FILTER)")
        })?;
        let mut fail_nth = FailNth::open()?;
        for n in 1..=MAX_POINTS {
            fail_nth.arm(n)?;
            let loaded = finit_module(&image, &c_params, ModuleInitFlags::empty());
            let injected = fail_nth.injected()?;
            match (loaded, injected) {
                (Ok(()), false) => {
                    reached_end = true;
                    break;
                }
                (Ok(()), true) => {
                    // The failure was absorbed (a retry, an optional
                    // allocation): the module is loaded and must work.
                    tolerated += 1;
                    points = n;
                    // The node first (devtmpfs makes it asynchronously),
                    // then a notified write read back through it.
                    match module::wait_for(&ctx.device, wait()) {
                        Err(why) => unclean.push(format!("point {n}: loaded, but {why}")),
                        Ok(_) => {
                            let works = round_trip(
                                &ctx.device,
                                ctx.params.buffer_size,
                                b"after a tolerated fault",
                            );
                            if !matches!(works, Ok(true)) {
                                unclean.push(format!(
                                    "point {n}: loaded, but the device does not work ({works:?})"
                                ));
                            }
                        }
                    }
                    module::unload()?;
                    if let Err(why) = module::wait_gone(&ctx.device, wait()) {
                        unclean.push(format!("point {n}: after rmmod: {why}"));
                    }
                }
                (Err(e), true) => {
                    points = n;
                    *errnos.entry(format!("{e:?}")).or_default() += 1;
                    // What the load made and undid has events too: handled
                    // late, they could touch the next point's node.
                    if let Err(why) = module::settle() {
                        unclean.push(format!("point {n} ({e:?}): {why}"));
                    }
                    let left = leftovers(&ctx.device);
                    if !left.is_empty() {
                        unclean.push(format!("point {n} ({e:?}) left {}", left.join(", ")));
                    }
                }
                (Err(e), false) => {
                    unclean.push(format!(
                        "point {n}: the load failed ({e:?}) with no fault injected"
                    ));
                    break;
                }
            }
            if unclean.len() > 10 {
                break;
            }
        }
        drop(knobs);
    }
    let elapsed = start.elapsed();
    tap.note(format!(
        "init-faults: {points} failure points in module init (calls from module code), swept in {:.1} s; \
         errors {errnos:?}; {tolerated} absorbed",
        elapsed.as_secs_f64()
    ));
    tap.check(
        reached_end,
        format!("the sweep ended with a load that reached no fault point (after {points})"),
    );
    tap.check(
        unclean.is_empty(),
        format!(
            "each of the {points} injected faults failed the load with an errno and left nothing, \
             or was absorbed by a working load{}",
            if unclean.is_empty() {
                String::new()
            } else {
                format!(": {}", unclean.join("; "))
            }
        ),
    );
    // Back as the other cases expect it.
    if Path::new("/sys/module/asyncn").exists() {
        module::unload()?;
        let _ = module::wait_gone(&ctx.device, wait());
    }
    module::load(path, &params).map_err(|e| format!("reload: {e:?}"))?;
    let back = module::wait_for(&ctx.device, wait());
    tap.check(
        back.is_ok(),
        format!(
            "the module loads normally afterwards ({})",
            module::describe(&back)
        ),
    );
    if back.is_ok() {
        open_sweep(ctx, tap, region)?;
    }
    Ok(())
}

/// The same sweep over the first open of a device, which allocates its
/// buffers (R31): every injected fault fails the open with `ENOMEM` and
/// leaves the counts as they were, or is absorbed by a working open.
fn open_sweep(ctx: &Context, tap: &mut Tap, region: (u64, u64)) -> CaseResult {
    let dir = sysfs_dir(&ctx.device);
    let before = read_stats(&dir)?;
    let mut unclean: Vec<String> = Vec::new();
    let (mut points, mut reached_end) = (0u32, false);
    {
        let knobs = Knobs::arm(region)?;
        let mut fail_nth = FailNth::open()?;
        for n in 1..=MAX_POINTS {
            fail_nth.arm(n)?;
            let opened = Device::open(&ctx.device, Access::ReadWrite);
            let injected = fail_nth.injected()?;
            match (opened, injected) {
                (Ok(_), false) => {
                    reached_end = true;
                    break;
                }
                (Ok(_), true) => points = n,
                (Err(e), true) => {
                    points = n;
                    // `Device::open` names the path: the kind tells ENOMEM.
                    if e.kind() != io::ErrorKind::OutOfMemory {
                        unclean.push(format!("point {n}: {e}, not ENOMEM"));
                    }
                }
                (Err(e), false) => {
                    unclean.push(format!(
                        "point {n}: the open failed ({e}) with no fault injected"
                    ));
                    break;
                }
            }
            // The file, if opened, is closed: the counts are back.
            let now = read_stats(&dir)?;
            for name in ["readers", "writers", "subscribers"] {
                if now.get(name) != before.get(name) {
                    unclean.push(format!(
                        "point {n}: {name} {:?}, was {:?}",
                        now.get(name),
                        before.get(name)
                    ));
                }
            }
            if unclean.len() > 10 {
                break;
            }
        }
        drop(knobs);
    }
    tap.check(
        reached_end && points > 0 && unclean.is_empty(),
        format!(
            "each of the {points} failure points of a device's first open fails it with ENOMEM \
             and leaves the counts as they were, or is absorbed (sweep ended: {reached_end}){}",
            if unclean.is_empty() {
                String::new()
            } else {
                format!(": {}", unclean.join("; "))
            }
        ),
    );
    Ok(())
}
