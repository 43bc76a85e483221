//! [`ExitStatus`]: what `redress` tells the shell, the same condition with the same
//! code in every command.

use std::process::ExitCode;

/// The exit status of every command (`redress --help` lists them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done, and nothing wrong was found.
    Success,
    /// 1: problems found: a policy with errors, a failing or broken test, no test to
    /// run.
    Problems,
    /// 2: bad usage: an unknown option, a missing argument, a value that does not
    /// parse.
    Usage,
    /// 3: a file that cannot be read or written, a port already in use, an internal
    /// error.
    Failure,
}

impl ExitStatus {
    /// The number the shell sees.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Problems => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Failure => 3,
        }
    }

    /// `Success` when nothing was wrong, `Problems` otherwise.
    pub fn problems_if(found: bool) -> Self {
        match found {
            true => ExitStatus::Problems,
            false => ExitStatus::Success,
        }
    }

    /// The status of a command that failed with `error`: a closed pipe is not a
    /// failure (`redress schema | head -1`), a [`UsageError`] is bad usage, anything
    /// else is an I/O or internal failure.
    pub fn of_error(error: &anyhow::Error) -> Self {
        if is_broken_pipe(error) {
            ExitStatus::Success
        } else if error.downcast_ref::<UsageError>().is_some() {
            ExitStatus::Usage
        } else {
            ExitStatus::Failure
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}

/// The `--help` text that lists the exit statuses.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0  success: nothing wrong was found
  1  problems found: a policy with errors, a failing or broken test, no test to run
  2  bad usage: an unknown option, a missing argument, a value that does not parse
  3  failure: a file that cannot be read or written, a port in use, an internal error";

/// An error in how a command was called that clap cannot see (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// True when writing to standard output failed because its reader went away.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_success_and_usage_is_two() {
        let pipe = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing the schema");
        assert_eq!(ExitStatus::of_error(&pipe), ExitStatus::Success);
        let usage = anyhow::Error::from(UsageError("`--run` is empty".into()));
        assert_eq!(ExitStatus::of_error(&usage).code(), 2);
        let io = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(ExitStatus::of_error(&io).code(), 3);
    }

    #[test]
    fn the_help_lists_every_status() {
        for status in [
            ExitStatus::Success,
            ExitStatus::Problems,
            ExitStatus::Usage,
            ExitStatus::Failure,
        ] {
            assert!(EXIT_STATUS_HELP.contains(&format!("  {}  ", status.code())));
        }
    }
}
