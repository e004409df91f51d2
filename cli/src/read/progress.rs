//! The progress bar of reading a big recording on a terminal: bytes read
//! of the file, whatever its format.

use indicatif::{ProgressBar, ProgressStyle};

/// Files this large get a progress bar (bytes read) on a terminal.
pub const PROGRESS_MIN_BYTES: u64 = 50 * 1_000_000;

/// A progress bar of bytes read, on stderr; hidden unless stderr is a
/// terminal and the file is over [`PROGRESS_MIN_BYTES`].
pub fn progress_bar(size: u64, terminal: bool) -> ProgressBar {
    if !terminal || size <= PROGRESS_MIN_BYTES {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "metascope: reading {bar:40} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)",
    )
    .expect("a valid progress template");
    ProgressBar::new(size).with_style(style)
}
