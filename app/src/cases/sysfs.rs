//! Statistics in sysfs and the permissions of the device nodes.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use nix::unistd::getpid;

use crate::device::{read_stats, sysfs_dir, Access, Device, STATISTICS};
use crate::harness::Tap;
use crate::harness::{CaseResult, Context};

/// Counter changes between two readings.
fn delta(after: &BTreeMap<&str, u64>, before: &BTreeMap<&str, u64>, name: &str) -> i64 {
    after[name] as i64 - before[name] as i64
}

pub fn statistics(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let dir = sysfs_dir(&ctx.device);
    for name in STATISTICS {
        let mode = std::fs::metadata(dir.join(name))?.permissions().mode() & 0o777;
        tap.check(
            mode == 0o444,
            format!("{}/{name} is read-only ({mode:o})", dir.display()),
        );
    }
    let base = read_stats(&dir)?;
    tap.check(
        base["buffer_size"] == ctx.params.buffer_size as u64,
        format!("buffer_size = {}", base["buffer_size"]),
    );

    let first = Device::open(&ctx.device, Access::Read)?;
    let second = Device::open(&ctx.device, Access::Read)?;
    let mut writer = Device::open(&ctx.device, Access::Write)?;
    let both = Device::open(&ctx.device, Access::ReadWrite)?;
    let open = read_stats(&dir)?;
    tap.check(
        delta(&open, &base, "readers") == 3 && delta(&open, &base, "writers") == 2,
        format!(
            "2 readers + 1 writer + 1 read-write open: readers {}, writers {}",
            open["readers"], open["writers"]
        ),
    );

    // Queued signals, so the subscriptions do not need handlers.
    let signal = crate::sys::rtsig::rt_signal(2);
    crate::sys::rtsig::block(signal)?;
    for device in [&first, &second] {
        crate::sys::rtsig::set_signal(std::os::fd::AsFd::as_fd(device), signal)?;
        device.subscribe(getpid())?;
    }
    let subscribed = read_stats(&dir)?;
    tap.check(
        delta(&subscribed, &base, "subscribers") == 2,
        format!(
            "two subscriptions: subscribers {}",
            subscribed["subscribers"]
        ),
    );
    for n in 0..3 {
        writer.send(format!("counted {n}").as_bytes())?;
    }
    writer.send(b"")?;
    let written = read_stats(&dir)?;
    tap.check(
        delta(&written, &base, "writes") == 3,
        format!(
            "3 writes (and an empty one) count 3: writes +{}",
            delta(&written, &base, "writes")
        ),
    );
    tap.check(
        delta(&written, &base, "notifications") == 6,
        format!(
            "3 writes x 2 subscribers: notifications +{}",
            delta(&written, &base, "notifications")
        ),
    );
    while crate::sys::rtsig::take(signal, std::time::Duration::from_millis(100))?.is_some() {}
    first.set_async(false)?;
    let cleared = read_stats(&dir)?;
    tap.check(
        delta(&cleared, &base, "subscribers") == 1,
        "clearing O_ASYNC unsubscribes",
    );
    drop((first, second, writer, both));
    let closed = read_stats(&dir)?;
    tap.check(
        ["readers", "writers", "subscribers"]
            .iter()
            .all(|n| delta(&closed, &base, n) == 0),
        "after closing: readers, writers and subscribers back where they were",
    );
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("writes"));
    tap.check(writable.is_err(), "the statistics cannot be written");
    Ok(())
}

pub fn permissions(ctx: &Context, tap: &mut Tap) -> CaseResult {
    let Some(gid) = group_id("asyncn")? else {
        tap.skip(
            "the nodes belong to group asyncn",
            "no group asyncn on this system (the udev/mdev rule needs it)",
        );
        return Ok(());
    };
    let meta = std::fs::metadata(&ctx.device)?;
    let mode = meta.mode() & 0o777;
    tap.check(
        mode == 0o660,
        format!("{} has mode 0660 ({mode:o})", ctx.device.display()),
    );
    tap.check(
        meta.gid() == gid,
        format!(
            "{} belongs to group asyncn (gid {})",
            ctx.device.display(),
            meta.gid()
        ),
    );
    Ok(())
}

/// The id of group `name` from /etc/group (read directly: static binaries
/// on small targets have no NSS).
fn group_id(name: &str) -> std::io::Result<Option<u32>> {
    let groups = match std::fs::read_to_string("/etc/group") {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next() == Some(name))
            .then(|| fields.nth(1)?.parse().ok())
            .flatten()
    }))
}
