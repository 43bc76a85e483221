//! Terminal concerns in one place: whether to colour (`--color`, `NO_COLOR`, a
//! terminal or not) and the few styles the commands use.

use std::io::IsTerminal;

/// `--color`: when to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour, even into a pipe.
    Always,
    /// Never colour.
    Never,
}

/// Whether each output stream is coloured, decided once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colors {
    /// Colour standard output.
    pub stdout: bool,
    /// Colour standard error.
    pub stderr: bool,
}

impl Colors {
    /// Decides from the choice, the `NO_COLOR` variable (<https://no-color.org>: set
    /// and not empty means no colour) and whether each stream is a terminal.
    pub fn new(choice: ColorChoice) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Colors::decide(
            choice,
            no_color,
            std::io::stdout().is_terminal(),
            std::io::stderr().is_terminal(),
        )
    }

    fn decide(choice: ColorChoice, no_color: bool, stdout_tty: bool, stderr_tty: bool) -> Self {
        match choice {
            ColorChoice::Always => Colors {
                stdout: true,
                stderr: true,
            },
            ColorChoice::Never => Colors {
                stdout: false,
                stderr: false,
            },
            ColorChoice::Auto => Colors {
                stdout: stdout_tty && !no_color,
                stderr: stderr_tty && !no_color,
            },
        }
    }
}

/// A style for a word of output.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// Passed, sound.
    Good,
    /// Failed, broken.
    Bad,
}

/// `text` in `style` when `color`, as it is otherwise.
pub fn paint(text: &str, style: Style, color: bool) -> String {
    if !color {
        return text.to_string();
    }
    let code = match style {
        Style::Good => "32",
        Style::Bad => "1;31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_a_terminal_but_not_over_always() {
        let cases = [
            (ColorChoice::Auto, false, true, true),
            (ColorChoice::Auto, true, true, false),
            (ColorChoice::Auto, false, false, false),
            (ColorChoice::Always, true, false, true),
            (ColorChoice::Never, false, true, false),
        ];
        for (choice, no_color, tty, expected) in cases {
            let colors = Colors::decide(choice, no_color, tty, tty);
            assert_eq!(
                colors.stdout, expected,
                "{choice:?} NO_COLOR={no_color} tty={tty}"
            );
            assert_eq!(colors.stderr, expected);
        }
    }

    #[test]
    fn paint_adds_escapes_only_when_colouring() {
        assert_eq!(paint("ok", Style::Good, false), "ok");
        assert_eq!(paint("ok", Style::Good, true), "\x1b[32mok\x1b[0m");
    }
}
