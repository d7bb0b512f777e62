//! The watchdog, end to end: `asyncn-test hang-self-test` hangs for ever
//! in a read (a child of it too); the watchdog must report where both are,
//! bail out naming the case, and end the program with status 1, within
//! the case's limit or `--deadline`, whichever comes first.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs asyncn-test with `args`: its pid, exit code, standard output and
/// how long it took.
fn run(args: &[&str]) -> (u32, Option<i32>, String, Duration) {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_asyncn-test"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("asyncn-test starts");
    let pid = child.id();
    let out = child.wait_with_output().expect("asyncn-test ends");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (pid, out.status.code(), stdout, start.elapsed())
}

fn uptime() -> u64 {
    let text = std::fs::read_to_string("/proc/uptime").expect("/proc/uptime");
    let seconds: f64 = text.split_whitespace().next().unwrap().parse().unwrap();
    seconds as u64
}

#[test]
fn a_hung_case_is_reported_then_bailed_out_with_status_1() {
    let (pid, code, stdout, took) = run(&["hang-self-test", "--seconds", "1"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(
        stdout.contains("# watchdog: case hang-self-test still runs after 1 s (its time)"),
        "{stdout}"
    );
    // The program where it hangs, not where a signal took it.
    let program = format!("# hang: pid {pid} (asyncn-test) state S ");
    let line = stdout.lines().find(|l| l.starts_with(&program));
    assert!(
        line.is_some_and(|l| l.contains(" syscall 63 ")
            || l.contains(" syscall 0 ")
            || l.contains(" syscall 3 ")),
        "no line for the program in its read(2):\n{stdout}"
    );
    // Its child, blocked likewise.
    let child = format!("(asyncn-test) state S ppid {pid} ");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("# hang: pid ") && l.contains(&child)),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some("Bail out! case hang-self-test did not finish in 1 s (its time; watchdog)"),
        "{stdout}"
    );
}

#[test]
fn the_deadline_comes_before_a_longer_case_limit() {
    let deadline = (uptime() + 2).to_string();
    let (_, code, stdout, took) = run(&[
        "hang-self-test",
        "--seconds",
        "600",
        "--deadline",
        &deadline,
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    assert!(
        stdout.lines().any(
            |l| l.starts_with("Bail out! case hang-self-test did not finish in ")
                && l.ends_with(" s (its time before --deadline; watchdog)")
        ),
        "{stdout}"
    );
}

#[test]
fn global_options_go_after_the_subcommand() {
    // With --deadline first, "stress" would be taken for a case name; the
    // loop's scripts put it after the subcommand, as here.
    let (_, code, stdout, _) = run(&[
        "hang-self-test",
        "--deadline",
        "1",
        "--timeout-scale",
        "1",
        "--seconds",
        "1",
    ]);
    assert_eq!(code, Some(1), "{stdout}");
    let (_, code, _, _) = run(&["--deadline", "1", "hang-self-test"]);
    assert_eq!(
        code,
        Some(2),
        "a global option before a subcommand is refused"
    );
}
