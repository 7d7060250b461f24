//! Moving a batch of inbox files into an archive that is a directory on the same disk: each file
//! is hard-linked under its key (create-only, no bytes copied), then the whole batch is made
//! durable at once instead of a staged copy and two fsyncs per file, one after the other: on Linux
//! by one `syncfs` of the archive's file system, elsewhere by syncing the files' data in parallel
//! and each directory that gained an entry once. Blocking code, run on a blocking thread.

use std::collections::{BTreeSet, HashSet};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Threads syncing a batch at once: the file system folds concurrent syncs into one journal
/// commit, so many in flight cost little more than one.
#[cfg(not(target_os = "linux"))]
const SYNC_THREADS: usize = 32;

/// What linking one file found.
#[derive(Debug, PartialEq, Eq)]
pub enum Linked {
    /// Linked under its key (not yet durable: see [`sync_batch`]).
    New(PathBuf),
    /// The archive already held these exact bytes there (a repeated arrival).
    AlreadyThere(PathBuf),
    /// The archive holds a different file under that key; it was left alone.
    Different,
    /// The file cannot be linked there (another file system, links not supported): copy it.
    NotLinkable,
}

/// Links each `(source, key)` under `root` create-only, creating the key's folders. Returns what
/// each found (in order) and the folders whose entries changed, which [`sync_batch`] syncs.
pub fn link_batch(root: &Path, files: &[(PathBuf, String)]) -> (Vec<std::io::Result<Linked>>, BTreeSet<PathBuf>) {
    let mut known_folders: HashSet<PathBuf> = HashSet::new();
    let mut changed_folders = BTreeSet::new();
    let outcomes = files
        .iter()
        .map(|(source, key)| {
            let target = key.split('/').fold(root.to_path_buf(), |path, part| path.join(part));
            let folder = target.parent().unwrap_or(root).to_path_buf();
            if !known_folders.contains(&folder) {
                create_folders(&folder, &mut changed_folders)?;
                known_folders.insert(folder.clone());
            }
            match std::fs::hard_link(source, &target) {
                Ok(()) => {
                    changed_folders.insert(folder);
                    Ok(Linked::New(target))
                }
                Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                    if same_bytes(source, &target)? {
                        Ok(Linked::AlreadyThere(target))
                    } else {
                        Ok(Linked::Different)
                    }
                }
                Err(error) if cannot_link(&error) => Ok(Linked::NotLinkable),
                Err(error) => Err(error),
            }
        })
        .collect();
    (outcomes, changed_folders)
}

/// How [`sync_batch`] made a batch durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Nothing was new.
    Nothing,
    /// Each file's data and each changed folder, one fsync each (not on Linux).
    #[cfg_attr(target_os = "linux", allow(dead_code))]
    EachFile,
    /// One `syncfs` of the file system holding the archive.
    FileSystem,
}

/// Makes the data of `files` and the entries of `folders` (all under `root`) durable. On Linux that
/// is one `syncfs` of the archive's file system, whatever the batch: thousands of fsyncs (each a
/// journal commit) cost far more than one flush of everything, and for a single arrival the threads
/// that synced its file and folders in parallel waited behind science for a CPU (with science on
/// every CPU, arrival → indexed p50 was 4-7 ms with them and 1 ms with one `syncfs`). Elsewhere each
/// file's data and each folder is fsynced, many at a time.
pub fn sync_batch(root: &Path, files: &[PathBuf], folders: &BTreeSet<PathBuf>) -> std::io::Result<Synced> {
    if files.is_empty() && folders.is_empty() {
        return Ok(Synced::Nothing);
    }
    #[cfg(target_os = "linux")]
    {
        rustix::fs::syncfs(std::fs::File::open(root)?)?;
        Ok(Synced::FileSystem)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = root;
        let sync_data = |path: &PathBuf| std::fs::File::open(path)?.sync_data();
        let sync_folder = |path: &PathBuf| std::fs::File::open(path)?.sync_all();
        sync_in_parallel(files, sync_data)?;
        sync_in_parallel(&folders.iter().cloned().collect::<Vec<_>>(), sync_folder)?;
        Ok(Synced::EachFile)
    }
}

#[cfg(not(target_os = "linux"))]
fn sync_in_parallel(paths: &[PathBuf], sync: impl Fn(&PathBuf) -> std::io::Result<()> + Sync) -> std::io::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    let per_thread = paths.len().div_ceil(SYNC_THREADS);
    std::thread::scope(|scope| {
        let workers: Vec<_> =
            paths.chunks(per_thread).map(|chunk| scope.spawn(|| chunk.iter().try_for_each(&sync))).collect();
        workers
            .into_iter()
            .try_for_each(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// Creates `folder` and its missing parents; every folder whose entries changed (the parent of
/// each folder made) is added to `changed`.
fn create_folders(folder: &Path, changed: &mut BTreeSet<PathBuf>) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut current = folder;
    while !current.is_dir() {
        missing.push(current.to_path_buf());
        match current.parent() {
            Some(parent) => current = parent,
            None => break,
        }
    }
    for made in missing.iter().rev() {
        match std::fs::create_dir(made) {
            Ok(()) => {}
            Err(error) if error.kind() == ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
        if let Some(parent) = made.parent() {
            changed.insert(parent.to_path_buf());
        }
    }
    Ok(())
}

/// Errors that mean "link not possible here", not "something is wrong".
fn cannot_link(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::CrossesDevices | ErrorKind::Unsupported | ErrorKind::PermissionDenied)
}

/// Whether two files hold the same bytes (the same inode trivially does).
fn same_bytes(first: &Path, second: &Path) -> std::io::Result<bool> {
    let (first_meta, second_meta) = (std::fs::metadata(first)?, std::fs::metadata(second)?);
    if first_meta.len() != second_meta.len() {
        return Ok(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (first_meta.dev(), first_meta.ino()) == (second_meta.dev(), second_meta.ino()) {
            return Ok(true);
        }
    }
    let (mut first, mut second) = (std::fs::File::open(first)?, std::fs::File::open(second)?);
    let (mut first_buffer, mut second_buffer) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let read = first.read(&mut first_buffer)?;
        if read == 0 {
            return Ok(true);
        }
        second.read_exact(&mut second_buffer[..read])?;
        if first_buffer[..read] != second_buffer[..read] {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_linked_create_only_and_synced_with_every_folder_that_changed() {
        let home = tempfile::tempdir().expect("create temp dir");
        let (inbox, root) = (home.path().join("inbox"), home.path().join("archive"));
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::create_dir_all(root.join("imap/mag")).unwrap();
        std::fs::write(root.join("imap/mag/taken.cdf"), b"someone else's").unwrap();
        std::fs::write(root.join("imap/mag/same.cdf"), b"same").unwrap();
        for (name, bytes) in [("new", "new"), ("taken", "ours"), ("same", "same")] {
            std::fs::write(inbox.join(name), bytes).unwrap();
        }
        let files = [
            (inbox.join("new"), "imap/swapi/l0/2024/09/new.pkts".to_string()),
            (inbox.join("taken"), "imap/mag/taken.cdf".to_string()),
            (inbox.join("same"), "imap/mag/same.cdf".to_string()),
        ];
        let (outcomes, folders) = link_batch(&root, &files);
        let outcomes: Vec<Linked> = outcomes.into_iter().map(Result::unwrap).collect();
        let new_target = root.join("imap/swapi/l0/2024/09/new.pkts");
        assert_eq!(
            outcomes,
            [Linked::New(new_target.clone()), Linked::Different, Linked::AlreadyThere(root.join("imap/mag/same.cdf"))]
        );
        assert_eq!(std::fs::read(&new_target).unwrap(), b"new");
        assert_eq!(std::fs::read(root.join("imap/mag/taken.cdf")).unwrap(), b"someone else's", "never replaced");
        // The new file's folder and the parent of every folder made for it.
        let expected: BTreeSet<PathBuf> =
            ["imap", "imap/swapi", "imap/swapi/l0", "imap/swapi/l0/2024", "imap/swapi/l0/2024/09"]
                .iter()
                .map(|folder| root.join(folder))
                .collect();
        assert_eq!(folders, expected);
        assert_eq!(sync_batch(&root, &[new_target], &folders).unwrap(), DURABLE_BY);
        // Linking again finds the same file there.
        let (again, _) = link_batch(&root, &files[..1]);
        assert!(matches!(again[0], Ok(Linked::AlreadyThere(_))));
    }

    #[test]
    fn a_missing_source_is_an_error_for_that_file_only() {
        let home = tempfile::tempdir().expect("create temp dir");
        std::fs::write(home.path().join("present"), b"x").unwrap();
        let files =
            [(home.path().join("absent"), "imap/a".to_string()), (home.path().join("present"), "imap/b".to_string())];
        let (outcomes, _) = link_batch(&home.path().join("archive"), &files);
        assert_eq!(outcomes[0].as_ref().unwrap_err().kind(), ErrorKind::NotFound);
        assert!(matches!(outcomes[1], Ok(Linked::New(_))));
    }

    /// How a batch is made durable here.
    const DURABLE_BY: Synced = if cfg!(target_os = "linux") { Synced::FileSystem } else { Synced::EachFile };

    #[test]
    fn a_large_batch_is_made_durable_at_once() {
        let home = tempfile::tempdir().expect("create temp dir");
        let (inbox, root) = (home.path().join("inbox"), home.path().join("archive"));
        std::fs::create_dir_all(&inbox).unwrap();
        let files: Vec<(PathBuf, String)> = (0..100)
            .map(|index| {
                let source = inbox.join(format!("file{index}"));
                std::fs::write(&source, format!("bytes {index}")).unwrap();
                (source, format!("imap/swapi/l0/2024/09/file{index}"))
            })
            .collect();
        let (outcomes, folders) = link_batch(&root, &files);
        let linked: Vec<PathBuf> = outcomes
            .into_iter()
            .map(|outcome| match outcome.unwrap() {
                Linked::New(target) => target,
                other => panic!("expected a new link, found {other:?}"),
            })
            .collect();
        assert_eq!(sync_batch(&root, &linked, &folders).unwrap(), DURABLE_BY);
        assert_eq!(sync_batch(&root, &[], &BTreeSet::new()).unwrap(), Synced::Nothing);
        for (index, target) in linked.iter().enumerate() {
            assert_eq!(std::fs::read_to_string(target).unwrap(), format!("bytes {index}"));
        }
        // The archive's root must exist to be synced: a missing one is an error, not a silent success.
        let missing = home.path().join("no-archive");
        assert_eq!(sync_batch(&missing, &linked, &folders).is_err(), cfg!(target_os = "linux"));
    }
}
