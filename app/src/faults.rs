//! Fault injection (kernels with `CONFIG_FAULT_INJECTION`, the debug
//! flavour): the settings shared by the init sweep and the stress run under
//! random faults, and the init sweep itself.
//!
//! Module init: for N = 1, 2, … the Nth fault-injection point of a
//! load fails (`/proc/thread-self/fail-nth`), with slab, page-allocation
//! and user-copy faults armed for calls made from module code (the
//! stack-trace filter: the module region must be on the call's stack), so
//! the points are those of the module's init and not of the loader, whose
//! own failures the kernel reports with warnings by design. Each load must succeed, or fail with an
//! errno and leave nothing behind (module, class, nodes, device numbers);
//! the sweep ends at the first N that a load no longer reaches. Leaks are
//! left to kmemleak, which the debug guest asks after the run.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::kmod::{finit_module, ModuleInitFlags};

use crate::cases::{wait, CaseResult, Context};
use crate::module;
use crate::tap::{extend_watchdog, Tap};

const FAIL_NTH: &str = "/proc/thread-self/fail-nth";
const MAKE_IT_FAIL: &str = "/proc/self/make-it-fail";
const DEBUGFS: &str = "/sys/kernel/debug";
/// Far more points than a module load has: a sweep that gets here is stuck.
const MAX_POINTS: u32 = 20_000;

/// The fault-injection settings of the sweep; the previous values come
/// back when it is dropped.
struct Knobs {
    saved: Vec<(PathBuf, String)>,
}

impl Knobs {
    /// Arms slab, page-allocation and user-copy faults for fail-nth: also
    /// for allocations that may sleep, of any order, without the stack dump
    /// each injected fault prints by default, and only for calls whose stack
    /// passes through `code` (an address range).
    fn arm(code: (u64, u64)) -> io::Result<Self> {
        let mut knobs = Self { saved: Vec::new() };
        let (start, end) = (format!("{:#x}", code.0), format!("{:#x}", code.1));
        for attr in ["failslab", "fail_page_alloc", "fail_usercopy"] {
            knobs.set(&Path::new(DEBUGFS).join(attr).join("require-start"), &start)?;
            knobs.set(&Path::new(DEBUGFS).join(attr).join("require-end"), &end)?;
        }
        for (file, value) in [
            ("failslab/ignore-gfp-wait", "N"),
            ("failslab/verbose", "0"),
            ("fail_page_alloc/ignore-gfp-wait", "N"),
            ("fail_page_alloc/ignore-gfp-highmem", "N"),
            ("fail_page_alloc/min-order", "0"),
            ("fail_page_alloc/verbose", "0"),
            ("fail_usercopy/verbose", "0"),
        ] {
            knobs.set(&Path::new(DEBUGFS).join(file), value)?;
        }
        Ok(knobs)
    }

    /// As `arm`, and then each call from `code` fails with `percent`
    /// probability, without a count limit, in the processes that asked for it
    /// (`make_it_fail`), except calls whose stack passes through `spared`.
    fn arm_random(code: (u64, u64), spared: (u64, u64), percent: u32) -> io::Result<Self> {
        let mut knobs = Self::arm(code)?;
        let (start, end) = (format!("{:#x}", spared.0), format!("{:#x}", spared.1));
        for attr in ["failslab", "fail_page_alloc", "fail_usercopy"] {
            let dir = Path::new(DEBUGFS).join(attr);
            knobs.set(&dir.join("reject-start"), &start)?;
            knobs.set(&dir.join("reject-end"), &end)?;
            knobs.set(&dir.join("task-filter"), "Y")?;
            knobs.set(&dir.join("interval"), "1")?;
            knobs.set(&dir.join("times"), "-1")?;
            // Last, and restored first.
            knobs.set(&dir.join("probability"), &percent.to_string())?;
        }
        Ok(knobs)
    }

    fn set(&mut self, path: &Path, value: &str) -> io::Result<()> {
        let old = std::fs::read_to_string(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        std::fs::write(path, value)?;
        self.saved.push((path.to_owned(), old.trim().to_owned()));
        Ok(())
    }
}

impl Drop for Knobs {
    fn drop(&mut self) {
        for (path, value) in self.saved.iter().rev() {
            let _ = std::fs::write(path, value);
        }
    }
}

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

/// The address range modules are loaded into. On arm64 it is the 2 GiB
/// below the kernel image (`MODULES_VADDR` to `MODULES_END`, which is where
/// `_text` starts); other architectures place modules otherwise.
fn module_region() -> Result<(u64, u64), String> {
    if std::env::consts::ARCH != "aarch64" {
        return Err(format!(
            "the module region is known here for arm64 only, not {}",
            std::env::consts::ARCH
        ));
    }
    let symbols = std::fs::read_to_string("/proc/kallsyms").map_err(|e| e.to_string())?;
    let text = symbols
        .lines()
        .find_map(|l| {
            let mut fields = l.split_whitespace();
            let address = fields.next()?;
            (fields.nth(1)? == "_text").then(|| u64::from_str_radix(address, 16).ok())?
        })
        .filter(|&a| a != 0)
        .ok_or("no address for _text in /proc/kallsyms (kptr_restrict?)")?;
    Ok((text - (2 << 30), text))
}

/// The address range of the kernel function `name`: from its symbol to the
/// next one in `/proc/kallsyms`.
fn function_range(name: &str) -> Result<(u64, u64), String> {
    let symbols = std::fs::read_to_string("/proc/kallsyms").map_err(|e| e.to_string())?;
    function_range_in(&symbols, name)
}

/// `function_range` over the text of `/proc/kallsyms`, which is not sorted
/// by address throughout (modules come last, in their own order).
fn function_range_in(symbols: &str, name: &str) -> Result<(u64, u64), String> {
    let mut addresses = Vec::new();
    let mut start = None;
    for line in symbols.lines() {
        let mut fields = line.split_whitespace();
        let (Some(address), Some(_kind), Some(symbol)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(address) = u64::from_str_radix(address, 16) else {
            continue;
        };
        if symbol == name && start.is_none() {
            start = Some(address);
        }
        addresses.push(address);
    }
    let start = start
        .filter(|&a| a != 0)
        .ok_or_else(|| format!("no address for {name} in /proc/kallsyms"))?;
    let end = addresses
        .into_iter()
        .filter(|&a| a > start)
        .min()
        .ok_or_else(|| format!("no symbol after {name} in /proc/kallsyms"))?;
    Ok((start, end))
}

/// Random faults for the stress workers: while this lives, every slab,
/// page-allocation and user-copy fault point reached from module code in a
/// process that called [`make_it_fail`] fails with the given probability.
/// Signal delivery is spared (calls through `kill_fasync`): a real-time
/// signal the kernel cannot queue becomes a plain `SIGIO` by design, which
/// would leave the stress run's per-subscription counts nothing to check.
pub struct RandomFaults {
    knobs: Option<Knobs>,
    unmount: bool,
}

impl RandomFaults {
    pub fn arm(percent: u32) -> Result<Self, String> {
        if !Path::new(MAKE_IT_FAIL).exists() {
            return Err(
                "fault injection needs a kernel with CONFIG_FAULT_INJECTION (FLAVOUR=debug)".into(),
            );
        }
        let region = module_region()?;
        let spared = function_range("kill_fasync")?;
        let unmount = mount_debugfs().map_err(|e| format!("mounting debugfs: {e}"))?;
        let mut faults = Self {
            knobs: None,
            unmount,
        };
        faults.knobs = Some(Knobs::arm_random(region, spared, percent).map_err(|e| {
            format!("{e} (needs FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_USERCOPY and the stack-trace filter)")
        })?);
        Ok(faults)
    }
}

impl Drop for RandomFaults {
    fn drop(&mut self) {
        // The settings first, then the file system they live in.
        drop(self.knobs.take());
        if self.unmount {
            let _ = nix::mount::umount(DEBUGFS);
        }
    }
}

/// Lets the armed faults hit this process.
pub fn make_it_fail() -> io::Result<()> {
    std::fs::write(MAKE_IT_FAIL, "1")
}

/// Mounts debugfs if it is not mounted; true when this call mounted it.
fn mount_debugfs() -> io::Result<bool> {
    if Path::new(DEBUGFS).join("failslab").exists() {
        return Ok(false);
    }
    nix::mount::mount(
        Some("debugfs"),
        DEBUGFS,
        Some("debugfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )?;
    Ok(true)
}

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
    if !module::wait_gone(&ctx.device, wait()) {
        return Err("the device node stayed after rmmod".into());
    }
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
                    let works = module::wait_for(&ctx.device, wait())
                        && matches!(
                            crate::lifecycle::round_trip(
                                &ctx.device,
                                ctx.params.buffer_size,
                                b"after a tolerated fault",
                            ),
                            Ok(true)
                        );
                    if !works {
                        unclean.push(format!("point {n}: loaded, but the device does not work"));
                    }
                    module::unload()?;
                    module::wait_gone(&ctx.device, wait());
                }
                (Err(e), true) => {
                    points = n;
                    *errnos.entry(format!("{e:?}")).or_default() += 1;
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
        module::wait_gone(&ctx.device, wait());
    }
    module::load(path, &params).map_err(|e| format!("reload: {e:?}"))?;
    tap.check(
        module::wait_for(&ctx.device, wait()),
        "the module loads normally afterwards",
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::function_range_in;

    const KALLSYMS: &str = "\
ffff800080010000 T _text
ffff8000802a1000 T fasync_helper
ffff8000802a1200 t kill_fasync_rcu
ffff8000802a1180 T kill_fasync
ffff8000802a1400 T send_sigio
ffff8000012c0000 t asyncn_open\t[asyncn]
";

    #[test]
    fn a_function_ends_at_the_next_symbol_by_address() {
        assert_eq!(
            function_range_in(KALLSYMS, "kill_fasync"),
            Ok((0xffff_8000_802a_1180, 0xffff_8000_802a_1200))
        );
    }

    #[test]
    fn a_missing_or_hidden_function_is_an_error() {
        assert!(function_range_in(KALLSYMS, "no_such_function").is_err());
        let hidden = "0000000000000000 T kill_fasync\n0000000000000000 T send_sigio\n";
        assert!(function_range_in(hidden, "kill_fasync").is_err());
        assert!(function_range_in(KALLSYMS, "send_sigio").is_err());
    }
}
