//! Writing the report: the whole page to a temporary file beside the target, flushed to disk,
//! then renamed over it, so whoever opens the report (a browser, a mail step, a collector)
//! sees the previous one or the new one, never half of one. The file is readable by its owner
//! only, like the run's journal: it names mailboxes, trustees and errors.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::chart::Chart;
use super::model::RunReport;
use super::render;

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the run report {path} could not be written: {source}\nfix: check that {dir} exists, that \
     you may write there and that it has free space",
    dir = dir(path).display()
)]
pub struct WriteError {
    /// Where it was to go.
    pub path: PathBuf,
    /// Why it could not.
    pub source: io::Error,
}

/// Renders the report of `report` with `charts` and writes it to `path` atomically (a
/// temporary file in the same directory, renamed into place); returns the path written.
pub fn write(path: &Path, report: &RunReport, charts: &[Chart]) -> Result<PathBuf, WriteError> {
    let page = render(report, charts);
    let failed = |source| WriteError {
        path: path.to_path_buf(),
        source,
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".exorun-report-")
        .suffix(".tmp")
        .tempfile_in(dir(path))
        .map_err(failed)?;
    temp.write_all(page.as_bytes()).map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(path).map_err(|e| failed(e.error))?;
    Ok(path.to_path_buf())
}

/// The directory `path` is in (`.` for a bare file name).
fn dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}
