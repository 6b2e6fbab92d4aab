//! Progress bars for long operations, on stderr and only for people: with `--json` or when
//! stderr is not a terminal they stay hidden, so scripts and logs see only the result.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` items (records), labelled `what`.
pub fn bar(json: bool, what: &str, total: u64) -> ProgressBar {
    styled(
        json,
        what,
        total,
        "{msg:<12} [{bar:40}] {pos}/{len} records ({eta})",
    )
}

/// A bar of bytes, labelled `what` (its length set once known).
pub fn bytes_bar(json: bool, what: &str) -> ProgressBar {
    styled(
        json,
        what,
        0,
        "{msg:<12} [{bar:40}] {bytes}/{total_bytes} ({eta})",
    )
}

fn styled(json: bool, what: &str, total: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if json || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}
