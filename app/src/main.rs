//! asyncn-test: proves and measures the asyncn device on a target.
//!
//! Exit status: 0 every check passed, 1 a check failed, 2 bad command
//! line, 3 the device or module is not there.

mod asyncio;
mod cases;
mod device;
mod fanout;
mod module;
mod proc;
mod readiness;
mod rtsig;
mod sigio;
mod sysfs;
mod tap;
mod tracing;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use cases::{Context, CASES};
use device::ModuleParams;
use tap::Tap;

const EXIT_FAILED: u8 = 1;
const EXIT_NO_DEVICE: u8 = 3;

/// Exercise the asyncn signal-driven notification device.
///
/// Without a CASE, runs the scenario: a reader process subscribed with
/// F_SETOWN + O_ASYNC is notified by SIGIO of each message a writer
/// process sends. Output is TAP, one line per check.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// Cases to run ("all" for every case); see --list.
    #[arg(value_name = "CASE")]
    cases: Vec<String>,

    /// List the cases and exit.
    #[arg(long)]
    list: bool,

    /// The first device node.
    #[arg(long, default_value = "/dev/asyncn0")]
    device: PathBuf,

    /// Pause between the scenario's writes, e.g. 2s or 500ms (a visible demo).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    pace: Duration,

    /// The module file, for the cases that unload and reload it.
    #[arg(long)]
    module: Option<PathBuf>,
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
    if cli.list {
        for case in CASES {
            println!("{:<18} {}", case.name, case.about);
        }
        return ExitCode::SUCCESS;
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

    let params = match ModuleParams::read() {
        Ok(params) => params,
        Err(e) => {
            eprintln!("asyncn-test: {e}");
            return ExitCode::from(EXIT_NO_DEVICE);
        }
    };
    if !cli.device.exists() {
        eprintln!(
            "asyncn-test: {} does not exist (module loaded with devices={}; is devtmpfs mounted?)",
            cli.device.display(),
            params.devices
        );
        return ExitCode::from(EXIT_NO_DEVICE);
    }

    let ctx = Context {
        device: cli.device,
        pace: cli.pace,
        module: cli.module,
        params,
    };
    let mut tap = Tap::begin();
    tap.note(format!(
        "device {} (devices={}, buffer_size={})",
        ctx.device.display(),
        ctx.params.devices,
        ctx.params.buffer_size
    ));
    for case in selected {
        tap.case(case.name);
        if let Err(e) = (case.run)(&ctx, &mut tap) {
            tap.check(false, format!("error: {e}"));
        }
    }
    if tap.finish() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
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
    fn scenario_ends_with_stop_reading() {
        assert_eq!(cases::SCENARIO_MESSAGES.last(), Some(&"stop reading"));
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
