//! For test suites that start many emulators: key material made once and copied into each new
//! state directory, so tests do not pay for RSA key generation again and again (the emulator
//! reloads the keys it finds in its state directory).

use std::path::Path;

use crate::SimConfig;

/// Fills `target` with the state of a default emulator, made once under `cache` (e.g. Cargo's
/// `CARGO_TARGET_TMPDIR`) and reused across test processes and runs.
pub fn prepare_state_dir(cache: &Path, target: &Path) -> std::io::Result<()> {
    let template = cache.join("sim-template");
    if !template.join("contoso").is_dir() {
        // Built beside the final place and renamed, so parallel test processes never see half.
        static STAGING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STAGING.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let staging = template.with_extension(format!("staging-{}-{n}", std::process::id()));
        let made = staging.clone();
        // Its own thread and runtime: callers are often inside a runtime, which cannot nest.
        std::thread::spawn(move || -> std::io::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let sim = crate::start(SimConfig::new(&made))
                    .await
                    .map_err(std::io::Error::other)?;
                sim.shutdown().await;
                Ok(())
            })
        })
        .join()
        .map_err(|_| std::io::Error::other("building the template emulator panicked"))??;
        if std::fs::rename(&staging, &template).is_err() {
            // Another caller won the race; use its copy.
            let _ = std::fs::remove_dir_all(&staging);
        }
    }
    copy_dir(&template, target)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
