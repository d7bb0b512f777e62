//! Fault injection (kernels with `CONFIG_FAULT_INJECTION`, the debug
//! flavour): the settings shared by the `init-faults` case
//! (`cases/init_faults.rs`) and the stress run under random faults.

use std::io;
use std::path::{Path, PathBuf};

const MAKE_IT_FAIL: &str = "/proc/self/make-it-fail";
pub(crate) const DEBUGFS: &str = "/sys/kernel/debug";

/// The fault-injection settings of the sweep; the previous values come
/// back when it is dropped.
pub(crate) struct Knobs {
    saved: Vec<(PathBuf, String)>,
}

impl Knobs {
    /// Arms slab, page-allocation and user-copy faults for fail-nth: also
    /// for allocations that may sleep, of any order, without the stack dump
    /// each injected fault prints by default, and only for calls whose stack
    /// passes through `code` (an address range).
    pub(crate) fn arm(code: (u64, u64)) -> io::Result<Self> {
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

/// The address range modules are loaded into. On arm64 it is the 2 GiB
/// below the kernel image (`MODULES_VADDR` to `MODULES_END`, which is where
/// `_text` starts); other architectures place modules otherwise.
pub(crate) fn module_region() -> Result<(u64, u64), String> {
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
pub(crate) fn mount_debugfs() -> io::Result<bool> {
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
