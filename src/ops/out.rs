//! Standard output of the commands: every report line goes through
//! [`outln!`], not `println!`, which panics when the reader has gone
//! (`chatd audit | head -1`: Rust ignores SIGPIPE, so the write fails with
//! `EPIPE`). A reader that stops reading ends the output, not the command:
//! the rest of the lines are dropped, the command finishes its work (a
//! `doctor` run still cleans up after itself) and exits with its own
//! status. Any other write error ends the output too, and [`finish`] turns
//! it into the command's error.
//!
//! Standard error goes through [`errln!`]: `eprintln!` panics too when
//! standard error is a pipe nobody reads any more (`chatd ... 2>&1 | head
//! -0`), and a message nobody can read is no reason to end with a panic
//! (status 101) instead of the command's status.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Set once a line could not be written: later lines are dropped.
static STOPPED: AtomicBool = AtomicBool::new(false);

/// Why, when it was not a reader that went away.
static FAILED: OnceLock<String> = OnceLock::new();

/// Prints a line on standard output like `println!`, through [`print_line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::ops::out::print_line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// Prints a line on standard error like `eprintln!`, through
/// [`print_error_line`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::ops::out::print_error_line(format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// Writes `args` and a newline to standard error; a failed write is
/// dropped (there is nowhere left to report it). `main` prints its
/// one-line errors with it too.
pub fn print_error_line(args: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{args}");
}

/// Writes `args` and a newline to standard output, unless an earlier line
/// could not be written.
pub fn print_line(args: fmt::Arguments<'_>) {
    if STOPPED.load(Ordering::Relaxed) {
        return;
    }
    if let Err(error) = writeln!(std::io::stdout().lock(), "{args}") {
        STOPPED.store(true, Ordering::Relaxed);
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = FAILED.set(error.to_string());
        }
    }
}

/// Fails when a line was lost for another reason than a reader that
/// stopped reading (a full disk under `chatd audit > file`).
pub fn finish() -> anyhow::Result<()> {
    match FAILED.get() {
        Some(error) => anyhow::bail!("cannot write to standard output: {error}"),
        None => Ok(()),
    }
}
