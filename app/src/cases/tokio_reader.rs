//! A tokio reader woken through the driver's `poll` (`AsyncFd`). The
//! runtime is an opt-in cargo feature (`tokio`): without it the case is a
//! `# SKIP`.

#[cfg(feature = "tokio")]
pub use with_runtime::tokio_reader;

#[cfg(feature = "tokio")]
mod with_runtime {
    use std::time::Duration;

    use nix::fcntl::OFlag;

    use crate::device::{Access, Device};
    use crate::harness::{wait, CaseResult, Context, Tap};
    use crate::proc::{reap, spawn};

    pub fn tokio_reader(ctx: &Context, tap: &mut Tap) -> CaseResult {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let reader = Device::open_with(&ctx.device, Access::Read, OFlag::O_NONBLOCK)?;
        let capacity = ctx.params.buffer_size;
        let device = ctx.device.clone();

        let (early, message) = runtime.block_on(async move {
            let fd = crate::sys::watch_readable(reader.into_file())?;
            // Not readable before a write.
            let early = tokio::time::timeout(Duration::from_millis(200), fd.readable())
                .await
                .is_ok();
            let writer = spawn(move || {
                match Device::open(&device, Access::Write)
                    .and_then(|mut d| d.send(b"from tokio's point of view"))
                {
                    Ok(_) => 0,
                    Err(_) => 1,
                }
            })?;
            let message = tokio::time::timeout(wait(), async {
                loop {
                    let mut guard = fd.readable().await?;
                    match guard.try_io(|inner| {
                        let mut buf = vec![0u8; capacity];
                        let n = std::io::Read::read(&mut inner.get_ref().file(), &mut buf)?;
                        buf.truncate(n);
                        Ok(buf)
                    }) {
                        Ok(result) => return result,
                        Err(_would_block) => continue,
                    }
                }
            })
            .await;
            reap(writer, wait());
            Ok::<_, std::io::Error>((early, message))
        })?;
        tap.check(!early, "AsyncFd is not readable before a write");
        tap.check(
            matches!(&message, Ok(Ok(m)) if m == b"from tokio's point of view"),
            "an AsyncFd reader wakes on the write and reads the message",
        );
        Ok(())
    }
}

/// Built without the runtime: the case cannot run, and says so.
#[cfg(not(feature = "tokio"))]
pub fn tokio_reader(
    _ctx: &crate::harness::Context,
    tap: &mut crate::harness::Tap,
) -> crate::harness::CaseResult {
    tap.skip(
        "an AsyncFd reader wakes on the write and reads the message",
        "asyncn-test was built without its `tokio` feature",
    );
    Ok(())
}
