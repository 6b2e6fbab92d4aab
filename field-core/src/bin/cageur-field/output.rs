//! Printing results for people (tables) or scripts (`--json`), and errors with exit codes.

use std::io::Write;
use std::process::ExitCode;

use field_core::FieldError;
use field_core::model::ValidationError;
use serde::Serialize;

/// Exit code of a refused input (a rule broken, a record not found).
const EXIT_INVALID: u8 = 2;
/// Exit code of any other failure.
const EXIT_FAILURE: u8 = 1;

/// Writes one line to standard output. A reader that went away (`cageur-field status | head`)
/// ends the program quietly, as SIGPIPE would for a C program, instead of the panic
/// `println!` gives; any change the command made is already committed by then.
pub fn line(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(b"\n"))
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing the output: {e}");
        std::process::exit(i32::from(EXIT_FAILURE));
    }
}

/// [`line`] with `println!`'s arguments.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// Prints a value as pretty JSON.
pub fn json<T: Serialize>(value: &T) {
    say!(
        "{}",
        serde_json::to_string_pretty(value).expect("output serializes")
    );
}

/// Prints rows as aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        say!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Reports an error on standard error and gives the exit code for it.
pub fn report_error(err: &anyhow::Error, json: bool) -> ExitCode {
    let validation =
        err.downcast_ref::<ValidationError>()
            .or_else(|| match err.downcast_ref::<FieldError>() {
                Some(FieldError::Invalid(v)) => Some(v),
                _ => None,
            });
    let not_found = matches!(
        err.downcast_ref::<FieldError>(),
        Some(FieldError::NotFound { .. })
    );
    if json {
        let body = match validation {
            Some(v) => {
                serde_json::json!({"error": {"field": v.field, "rule": v.rule, "message": v.message}})
            }
            None => serde_json::json!({"error": {"message": format!("{err:#}")}}),
        };
        eprintln!("{body}");
    } else {
        match validation {
            Some(v) => eprintln!("error: invalid input: {} ({:?})", v, v.rule),
            None => eprintln!("error: {err:#}"),
        }
    }
    if validation.is_some() || not_found {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::from(EXIT_FAILURE)
    }
}
