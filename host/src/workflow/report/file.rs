//! Writing the report: the whole page to a temporary file beside the target, flushed to disk,
//! then renamed over it, so whoever opens the report (a browser, a mail step, a collector)
//! sees the previous one or the new one, never half of one. The file is readable by its owner
//! only, like the run's journal: it names mailboxes, trustees and errors.

use std::io;
use std::path::{Path, PathBuf};

use super::chart::Chart;
use super::model::RunReport;
use super::render;

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
#[error(
    "the run report {path} could not be written: {source}\nfix: check that {dir} exists, that \
     you may write there and that it has free space",
    dir = crate::atomic_file::directory(path).display()
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
    crate::atomic_file::replace(path, page.as_bytes(), crate::atomic_file::Access::Private)
        .map_err(failed)?;
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use chrono::Utc;

    use super::*;

    fn run() -> RunReport {
        RunReport {
            workflow: "w".into(),
            description: None,
            run_id: "r".into(),
            started: Utc::now(),
            ended: Utc::now(),
            dry_run: false,
            shard: None,
            tenants: vec![],
        }
    }

    #[test]
    fn the_report_replaces_the_old_one_whole_and_only_its_owner_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.html");
        std::fs::write(&path, "old").unwrap();
        assert_eq!(write(&path, &run(), &[]).unwrap(), path);
        let page = std::fs::read_to_string(&path).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.html"], "no temporary file is left");
    }

    #[test]
    fn a_missing_directory_says_what_to_check() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/report.html");
        let e = write(&path, &run(), &[]).unwrap_err();
        assert_eq!(e.path, path);
        let text = e.to_string();
        assert!(text.contains("could not be written"), "{text}");
        assert!(
            text.contains(&format!(
                "fix: check that {} exists",
                dir.path().join("no/such").display()
            )),
            "{text}"
        );
    }
}
