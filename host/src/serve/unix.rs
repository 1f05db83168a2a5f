//! Local callers on the service's Unix socket: the kernel says who the peer is (`SO_PEERCRED`),
//! the system's user database says their name and groups. Nothing the peer sends decides it.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::unistd::{Gid, Group, Uid, User, getgrouplist};
use tokio::net::UnixListener;

use exorun::caller::Caller;

/// Who is on the other end of a connection, as the kernel and the user database say; `None`
/// when the uid has no user name (a caller the rules cannot name, so refused).
#[derive(Clone, Debug)]
pub struct Peer(pub Option<Caller>);

/// The peer of `stream`, as the kernel names it.
pub fn peer_of(stream: &tokio::net::UnixStream) -> Peer {
    Peer(
        stream
            .peer_cred()
            .ok()
            .and_then(|cred| caller_of(cred.uid(), cred.gid(), cred.pid())),
    )
}

/// Serves callers on `listener` with `app` until `stop` changes, each connection knowing its
/// peer (axum's `ConnectInfo<Peer>`) and held to [`super::conn`]'s limits.
pub async fn serve(
    listener: UnixListener,
    app: axum::Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("Unix socket accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let peer = peer_of(&stream);
        let shown = peer.0.as_ref().map_or_else(
            || "an unnamed local user".to_string(),
            |c| c.principal.clone(),
        );
        let app = app
            .clone()
            .layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let stop = stop.clone();
        tokio::spawn(async move {
            super::conn::serve_connection(stream, app, stop, &shown).await;
        });
    }
}

/// The caller with user id `uid`: their name and every group they are in (by name).
pub fn caller_of(uid: u32, gid: u32, pid: Option<i32>) -> Option<Caller> {
    let user = User::from_uid(Uid::from_raw(uid)).ok().flatten()?;
    let name = std::ffi::CString::new(user.name.clone()).ok()?;
    let mut groups: Vec<String> = getgrouplist(&name, Gid::from_raw(gid))
        .unwrap_or_else(|_| vec![Gid::from_raw(gid)])
        .into_iter()
        .filter_map(|g| Group::from_gid(g).ok().flatten().map(|g| g.name))
        .collect();
    groups.sort();
    groups.dedup();
    Some(Caller::unix(&user.name, uid, gid, pid, groups))
}

/// Binds the socket at `path` with file mode `mode` and, if given, group `group` (whose members
/// may then connect): a stale socket left by a killed service is replaced; anything else at the
/// path is an error, never removed.
pub fn bind(path: &Path, mode: u32, group: Option<&str>) -> io::Result<UnixListener> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "{} is in use: another exorun serve is running there",
                        path.display()
                    ),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket: choose another `socket` path",
                    path.display()
                ),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let listener = UnixListener::bind(path)?;
    if let Some(name) = group {
        let gid = Group::from_name(name)
            .ok()
            .flatten()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("socket_group '{name}' is not a group of this machine"),
                )
            })?
            .gid;
        std::os::unix::fs::chown(path, None, Some(gid.as_raw())).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot give the socket to group '{name}' ({e}): the service must be a member of it (SupplementaryGroups= in its unit)"
                ),
            )
        })?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_user_is_named_by_the_user_database() {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let caller = caller_of(uid, gid, None).expect("the test's user has a name");
        assert!(caller.principal.starts_with("unix:"), "{caller:?}");
        assert!(caller.unix_user.is_some());
    }

    #[tokio::test]
    async fn the_socket_is_given_its_group_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exorun.sock");
        let own = Group::from_gid(nix::unistd::getgid()).unwrap().unwrap();
        let _listener = bind(&path, 0o660, Some(&own.name)).unwrap();
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o660);
        assert_eq!(meta.gid(), own.gid.as_raw());
        drop(_listener);
        let err = bind(&path, 0o660, Some("no-such-group-here")).unwrap_err();
        assert!(
            err.to_string()
                .contains("'no-such-group-here' is not a group"),
            "{err}"
        );
    }

    #[test]
    fn a_file_at_the_socket_path_is_never_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exorun.sock");
        std::fs::write(&path, "keep me").unwrap();
        let err = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { bind(&path, 0o660, None).unwrap_err() });
        assert!(err.to_string().contains("is not a socket"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    }
}
