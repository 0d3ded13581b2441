//! Writing, the single-file primitives the transaction (see [`crate::transaction`]) is
//! made of: where a write lands (through a symbolic link, to the file it names, rather
//! than replacing the link), a new file written and synced under a name no one else
//! holds, with the mode of the file it will replace, and a directory synced so that the
//! names it holds survive a power cut.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file a write of `path` changes: the file a symbolic link names, else `path`.
pub fn write_target(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path),
        _ => Ok(path.to_path_buf()),
    }
}

/// The directory that holds `path` (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to a file `path` that must not exist yet, with `permissions` when
/// given (else those of a new file), and syncs it. A partial file is removed on failure.
pub fn write_new(
    path: &Path,
    bytes: &[u8],
    permissions: Option<&std::fs::Permissions>,
) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let result = file
        .write_all(bytes)
        .and_then(|()| match permissions {
            Some(p) => file.set_permissions(p.clone()),
            None => Ok(()),
        })
        .and_then(|()| file.sync_all());
    if result.is_err() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Syncs a directory, so that the entries renamed, created or removed in it are on
/// disk. (Elsewhere than Unix a directory cannot be opened, and this does nothing.)
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Removes a file; one that is already gone is no error.
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Does `path` exist (as a file, a directory or a link, broken or not)?
pub fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_new_keeps_the_mode_given_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.py");
        let mode = std::fs::Permissions::from_mode(0o750);
        write_new(&p, b"new", Some(&mode)).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o750
        );
        let again = write_new(&p, b"other", None).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
    }

    #[test]
    fn a_link_is_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.py");
        std::fs::write(&real, "x").unwrap();
        let link = dir.path().join("link.py");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(
            write_target(&link).unwrap(),
            std::fs::canonicalize(&real).unwrap()
        );
        assert_eq!(write_target(&real).unwrap(), real);
    }
}
