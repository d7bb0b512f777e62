//! asyncn-test: proves and measures the asyncn device on a target.
//!
//! Exit status: 0 every check passed, 1 a check failed, 2 bad command
//! line, 3 the device or module is not there.

#![deny(unsafe_code)]

mod after_run;
mod bench;
mod cases;
mod device;
mod faults;
mod fuzz;
mod harness;
mod message;
mod module;
mod oracle;
mod proc;
mod rng;
mod stress;
// The only home of `unsafe` (the crate denies it elsewhere).
#[allow(unsafe_code)]
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use cases::CASES;
use device::ModuleParams;
use harness::{Context, Tap};

/// `--version`: the version and the cargo features built in, so that a
/// package's build can be checked for the `tokio` case.
#[cfg(feature = "tokio")]
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (features: tokio)");
#[cfg(not(feature = "tokio"))]
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (features: none)");

const EXIT_FAILED: u8 = 1;
const EXIT_NO_DEVICE: u8 = 3;

/// Exercise the asyncn signal-driven notification device.
///
/// Without a CASE, runs the scenario: a reader process subscribed with
/// F_SETOWN + O_ASYNC is notified by SIGIO of each message a writer
/// process sends. Output is TAP, one line per check.
#[derive(Parser, Debug)]
#[command(
    version = VERSION,
    about,
    long_about,
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 every check passed, 1 a check failed (or a case bailed out), \
                  2 bad command line, 3 the device, the module or the C baseline is not there."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Cases to run ("all" for every case); see --list.
    #[arg(value_name = "CASE")]
    cases: Vec<String>,

    /// List the cases and exit.
    #[arg(long)]
    list: bool,

    /// The first device node.
    #[arg(long, default_value = "/dev/asyncn0", global = true)]
    device: PathBuf,

    /// Pause between the scenario's writes, e.g. 2s or 500ms (a visible demo).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    pace: Duration,

    /// The module file, for the cases that unload and reload it.
    #[arg(long)]
    module: Option<PathBuf>,

    /// The only cases that may skip a check (comma-separated, may be
    /// empty); a skip in any other case fails the run. Default: any case
    /// may skip what the system cannot run (reported as TAP # SKIP).
    #[arg(long, value_name = "CASES", global = true)]
    skips_allowed: Option<String>,

    /// Multiply every wait and watchdog by this (slow boards; 1: the
    /// emulated reference target).
    #[arg(long, default_value_t = 1, global = true, value_parser = clap::value_parser!(u32).range(1..=100))]
    timeout_scale: u32,

    /// End by this system uptime (seconds, as in /proc/uptime), whatever a
    /// case's own watchdog allows: a watchdog that fires reports where the
    /// program's processes, the hotplug helpers and every blocked task
    /// are, then bails out. For a caller with a timeout of its own; after
    /// the subcommand, if any.
    #[arg(long, value_name = "UPTIME", global = true, value_parser = clap::value_parser!(u64).range(1..))]
    deadline: Option<u64>,

    /// A watchdog that fires first has the kernel print its blocked tasks
    /// on the console (SysRq w, as root; it raises the console's log level
    /// for good): for a test system, such as the loop's guests.
    #[arg(long, global = true, hide = true)]
    sysrq_on_hang: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Many processes open, close, read, write, subscribe and poll at
    /// random, and get killed, while every read and signal is checked.
    Stress(StressArgs),
    /// Random system calls with random (often bad) arguments against the
    /// devices; every result must be one the call may give.
    Fuzz(RunArgs),
    /// Latency, throughput and fan-out of asyncn beside the C baseline
    /// module, a pipe with O_ASYNC and plain sigqueue; prints JSON.
    Bench(BenchArgs),
    /// Checks the watchdog itself: a case that hangs for ever, blocked in
    /// a read with a child blocked likewise, must be reported and bailed
    /// out of after `--seconds` (exit status 1).
    #[command(hide = true)]
    HangSelfTest {
        /// The case's limit.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        seconds: u32,
        /// Stop hanging after this long (the case then passes: exit 0).
        #[arg(long, value_parser = parse_duration)]
        return_after: Option<Duration>,
    },
    /// Where a program and its children, the hotplug helpers and every
    /// blocked task are (what the watchdog prints before it bails out),
    /// for a caller's own deadline.
    #[command(hide = true)]
    HangReport {
        /// The program (default: this one's parent).
        #[arg(long)]
        pid: Option<i32>,
    },
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Rounds; every peer is measured once per round, in turn.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,

    /// Latency samples per peer and round.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(10..=1_000_000))]
    samples: u32,

    /// Length of each throughput measurement, e.g. 300ms.
    #[arg(long, value_parser = parse_duration, default_value = "600ms")]
    window: Duration,

    /// The C baseline's first device node.
    #[arg(long, default_value = "/dev/asyncnc0")]
    c_device: PathBuf,

    /// Unrecorded latency samples at the start of each peer's turn.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1000))]
    warmup: u32,

    /// The method before: latency turns in one fixed order (asyncn first,
    /// every cycle recorded) instead of an order shuffled per cycle after an
    /// unrecorded cycle; with `--warmup 0`, how the tail was charged to
    /// asyncn.
    #[arg(long)]
    fixed_order: bool,

    /// Switch ftrace on (tracefs `tracing_on`) for the recorded latency
    /// samples and mark each peer's turn in the trace; the tracer itself
    /// is set up by the caller (make bench FLAVOUR=trace).
    #[arg(long)]
    trace: bool,

    /// The CPU every subscriber runs on (the writer runs on CPU 0); CPU 0
    /// when the system has no such CPU.
    #[arg(long, default_value_t = 0)]
    subscriber_cpu: usize,
}

#[derive(Args, Debug)]
struct StressArgs {
    #[command(flatten)]
    run: RunArgs,

    /// Run the workers under fault injection (kernels with
    /// CONFIG_FAULT_INJECTION: FLAVOUR=debug): each allocation and user
    /// copy made from the driver fails with this probability, in percent.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    faults: Option<u32>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// How long to run.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86400))]
    seconds: u64,

    /// Worker processes.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    procs: u64,

    /// The run's seed (printed; default: a new one). The same seed gives
    /// each worker the same sequence of operations.
    #[arg(long)]
    seed: Option<u64>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 2s or 500ms"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" => value / 1e6,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    harness::timeouts::set_timeout_scale(cli.timeout_scale);
    if let Some(deadline) = cli.deadline {
        harness::timeouts::set_deadline(deadline);
    }
    if cli.list {
        for case in CASES {
            let rules = match case.rules {
                [] => String::new(),
                rules => format!(" [{}]", rules.join(", ")),
            };
            println!("{:<18} {}{rules}", case.name, case.about);
        }
        return ExitCode::SUCCESS;
    }

    if let Some(command) = &cli.command {
        return run_command(command, &cli.device, cli.sysrq_on_hang);
    }

    let selected: Vec<&cases::Case> = if cli.cases.is_empty() {
        CASES.iter().filter(|c| c.name == "scenario").collect()
    } else if cli.cases.iter().any(|c| c == "all") {
        CASES.iter().collect()
    } else {
        let mut picked = Vec::new();
        for name in &cli.cases {
            match CASES.iter().find(|c| c.name == name) {
                Some(case) => picked.push(case),
                None => {
                    eprintln!("asyncn-test: unknown case {name:?}; see --list");
                    return ExitCode::from(2);
                }
            }
        }
        picked
    };

    let ctx = match context(&cli.device, cli.pace, cli.module) {
        Ok(ctx) => ctx,
        Err(code) => return code,
    };
    if let Err(code) = start_watchdog(cli.sysrq_on_hang) {
        return code;
    }
    let mut tap = begin(&ctx);
    if let Some(cases) = &cli.skips_allowed {
        let cases: Vec<String> = cases
            .split(',')
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(unknown) = cases
            .iter()
            .find(|c| !CASES.iter().any(|k| k.name == c.as_str()))
        {
            eprintln!("asyncn-test: --skips-allowed: unknown case {unknown:?}; see --list");
            return ExitCode::from(2);
        }
        tap.allow_skips_only_in(cases);
    }
    for case in selected {
        tap.case(case.name);
        if let Err(e) = (case.run)(&ctx, &mut tap) {
            tap.check(false, format!("error: {e}"));
        }
    }
    finish(&tap)
}

/// The context of a run, or the exit code when there is no device.
fn context(
    device: &std::path::Path,
    pace: Duration,
    module: Option<PathBuf>,
) -> Result<Context, ExitCode> {
    let params = match ModuleParams::read() {
        Ok(params) => params,
        Err(e) => {
            eprintln!("asyncn-test: {e}");
            return Err(ExitCode::from(EXIT_NO_DEVICE));
        }
    };
    if !device.exists() {
        eprintln!(
            "asyncn-test: {} does not exist (module loaded with devices={}; is devtmpfs mounted?)",
            device.display(),
            params.devices
        );
        return Err(ExitCode::from(EXIT_NO_DEVICE));
    }
    Ok(Context {
        device: device.to_owned(),
        pace,
        module,
        params,
    })
}

/// The watchdog process, before any case runs; with `--sysrq-on-hang` it
/// also asks the kernel for its blocked tasks.
fn start_watchdog(sysrq: bool) -> Result<(), ExitCode> {
    harness::watchdog::start(sysrq).map_err(|e| {
        eprintln!("asyncn-test: cannot start the watchdog: {e}");
        ExitCode::from(EXIT_FAILED)
    })
}

fn begin(ctx: &Context) -> Tap {
    let tap = Tap::begin();
    tap.note(format!(
        "device {} (devices={}, buffer_size={})",
        ctx.device.display(),
        ctx.params.devices,
        ctx.params.buffer_size
    ));
    tap
}

fn finish(tap: &Tap) -> ExitCode {
    if tap.finish() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

/// The subcommands. `stress` and `fuzz`: one long case, watched for its
/// length plus a margin.
fn run_command(command: &Command, device: &std::path::Path, sysrq: bool) -> ExitCode {
    type Run = fn(&Context, &mut Tap, &stress::RunOptions) -> harness::CaseResult;
    let (name, args, run, faults): (&'static str, &RunArgs, Run, _) = match command {
        Command::Stress(args) => ("stress", &args.run, stress::run as Run, args.faults),
        Command::Fuzz(args) => ("fuzz", args, fuzz::run as Run, None),
        Command::Bench(args) => {
            return context(device, Duration::ZERO, None)
                .map_or_else(|code| code, |ctx| run_bench(&ctx, args))
        }
        Command::HangSelfTest {
            seconds,
            return_after,
        } => {
            if let Err(code) = start_watchdog(sysrq) {
                return code;
            }
            let mut tap = Tap::begin();
            tap.case_with_timeout("hang-self-test", *seconds);
            let result = harness::watchdog::hang(*return_after);
            tap.check(
                result.is_ok(),
                format!("returned after {return_after:?}: {result:?}"),
            );
            return finish(&tap);
        }
        Command::HangReport { pid } => {
            let pid = pid.map_or_else(nix::unistd::getppid, nix::unistd::Pid::from_raw);
            harness::hang::report(pid, &[nix::unistd::getpid()]);
            return ExitCode::SUCCESS;
        }
    };
    let ctx = match context(device, Duration::ZERO, None) {
        Ok(ctx) => ctx,
        Err(code) => return code,
    };
    if let Err(code) = start_watchdog(sysrq) {
        return code;
    }
    let mut tap = begin(&ctx);
    let margin = 120 + args.seconds / 2;
    tap.case_with_timeout(
        name,
        u32::try_from(args.seconds + margin).unwrap_or(u32::MAX),
    );
    let options = stress::RunOptions {
        seconds: args.seconds,
        // Bounded by the parser to 1..=256.
        procs: args.procs as usize,
        seed: args.seed.unwrap_or_else(rng::fresh_seed),
        faults,
    };
    if let Err(e) = run(&ctx, &mut tap, &options) {
        tap.check(false, format!("error: {e}"));
    }
    finish(&tap)
}

fn run_bench(ctx: &Context, args: &BenchArgs) -> ExitCode {
    let options = bench::BenchOptions {
        rounds: args.rounds,
        samples: args.samples,
        window: args.window,
        c_device: args.c_device.clone(),
        warmup: args.warmup,
        fixed_order: args.fixed_order,
        trace: args.trace,
        subscriber_cpu: args.subscriber_cpu,
    };
    // The C baseline is a device like asyncn's: missing, it is exit 3.
    if !options.c_device.exists() {
        eprintln!(
            "asyncn-test bench: {} does not exist (load the C baseline asyncn_c.ko; make bench does)",
            options.c_device.display()
        );
        return ExitCode::from(EXIT_NO_DEVICE);
    }
    match bench::run(&ctx.device, ctx.params.buffer_size, &options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("asyncn-test bench: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn case_names_are_unique_and_include_the_scenario() {
        let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
        assert!(names.contains(&"scenario"));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CASES.len());
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
