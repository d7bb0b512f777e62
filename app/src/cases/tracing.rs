//! The driver's traces: dynamic debug call sites, silent until switched on.

use std::io::Write;
use std::path::Path;

use crate::device::{Access, Device};
use crate::harness::Tap;
use crate::harness::{CaseResult, Context};
use crate::module::KernelLog;

const CONTROL: &str = "/proc/dynamic_debug/control";

fn set_traces(on: bool) -> std::io::Result<()> {
    let mut control = std::fs::OpenOptions::new().write(true).open(CONTROL)?;
    control.write_all(if on {
        b"module asyncn +p"
    } else {
        b"module asyncn -p"
    })
}

/// A write and a read on the device.
/// The generation (writes since load) the traced write follows at least.
const GENERATION: u64 = 20_000;

/// Writes to the device until its `writes` statistic is at least `target`;
/// returns it.
fn advance_generation(ctx: &Context, target: u64) -> std::io::Result<u64> {
    let stats_dir = crate::device::sysfs_dir(&ctx.device);
    let writes = || -> std::io::Result<u64> {
        Ok(crate::device::read_stats(&stats_dir)?
            .get("writes")
            .copied()
            .unwrap_or(0))
    };
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let mut now = writes()?;
    while now < target {
        for _ in 0..(target - now).min(10_000) {
            writer.send(b".")?;
        }
        now = writes()?;
    }
    Ok(now)
}

fn exercise(ctx: &Context, message: &[u8]) -> std::io::Result<()> {
    let mut dev = Device::open(&ctx.device, Access::ReadWrite)?;
    dev.send(message)?;
    dev.receive(ctx.params.buffer_size)?;
    Ok(())
}

pub fn tracing(ctx: &Context, tap: &mut Tap) -> CaseResult {
    if !Path::new(CONTROL).exists() {
        tap.skip(
            "the driver's trace points are listed and switch",
            "the kernel has no dynamic debug",
        );
        return Ok(());
    }
    let control = std::fs::read_to_string(CONTROL)?;
    let sites: Vec<&str> = control.lines().filter(|l| l.contains("[asyncn]")).collect();
    tap.check(
        sites.len() >= 5,
        format!("{} asyncn call sites are listed in {CONTROL}", sites.len()),
    );
    tap.check(
        sites.iter().all(|l| l.contains(" =_ ")),
        "all of them are off by default",
    );

    let mut log = KernelLog::open()?;
    exercise(ctx, b"quiet")?;
    let noise = log.find(|l| l.contains("asyncn"));
    tap.check(
        noise.is_none(),
        format!("normal operation logs nothing ({noise:?})"),
    );

    // Switching traces is root's (the control file is writable by root only).
    if !nix::unistd::geteuid().is_root() {
        tap.skip(
            "switched on, a write and a read are traced; switched off, silent again",
            format!("writing {CONTROL} needs root"),
        );
        return Ok(());
    }
    // Traces print the message's generation, a u64: make it large, as on a
    // device that has run for a while (32-bit kernels cannot print every
    // u64 the way 64-bit ones can).
    let generation = advance_generation(ctx, GENERATION)?;
    tap.note(format!("the device's generation is {generation}"));
    set_traces(true)?;
    let mut log = KernelLog::open()?;
    let traced = exercise(ctx, b"traced");
    set_traces(false)?;
    traced?;
    let write = log.find(|l| l.contains("asyncn0: wrote 6 bytes"));
    tap.check(
        write.is_some(),
        format!(
            "switched on, a write is traced: {}",
            write.unwrap_or_default()
        ),
    );
    let read = log.find(|l| l.contains("asyncn0: read 6 bytes"));
    tap.check(
        read.is_some(),
        format!("and a read: {}", read.unwrap_or_default()),
    );

    let mut log = KernelLog::open()?;
    exercise(ctx, b"quiet again")?;
    let after = log.find(|l| l.contains("asyncn"));
    tap.check(
        after.is_none(),
        format!("switched off, silent again ({after:?})"),
    );
    Ok(())
}
