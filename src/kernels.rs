//! The two time kernels every L1A job of the mission's graph requires (leapseconds and the
//! spacecraft clock, `deploy/kernels`), shipped in the binary so that a new node with the
//! mission graph makes products from level-0 files with no other step.
//!
//! A node that runs the indexer puts each into its inbox on start, before the indexer takes
//! the inbox, when its archive holds no kernel of that type: the indexer then archives and
//! indexes it like any arrival, ahead of or together with the first level-0 files (the mission
//! marks these kernels `trigger_job: false`, so a kernel arriving after the level-0 file would
//! not wake the job waiting for it). An archive that already has a kernel of the type (a flight
//! kernel, or this one from an earlier start) is left alone, so starting again changes nothing.

use std::path::Path;

use anyhow::Context;
use futures_util::StreamExt;
use imap_filename::{SpiceFileName, SpiceKernelType};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

/// (file name, contents) of the kernels shipped in the binary.
pub const DEFAULT_KERNELS: [(&str, &[u8]); 2] = [
    ("naif0012.tls", include_bytes!("../deploy/kernels/naif0012.tls")),
    ("imap_sclk_0000.tsc", include_bytes!("../deploy/kernels/imap_sclk_0000.tsc")),
];

/// What became of one default kernel at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSeed {
    /// Written into the inbox, for the indexer to archive and index.
    Placed { file_name: String },
    /// The archive holds a kernel of this type already (the named one, maybe this very file).
    AlreadyKnown { file_name: String, kernel_type: SpiceKernelType, present: String },
}

/// Puts each default kernel whose type the archive lacks into `inbox`. The file is written under
/// a hidden name, dated an hour back (so the indexer's settle time does not hold it behind a
/// level-0 file dropped at once) and renamed into place, so the indexer never sees it half written.
pub async fn seed_default_kernels(archive: &dyn ObjectStore, inbox: &Path) -> anyhow::Result<Vec<KernelSeed>> {
    let mut seeds = Vec::with_capacity(DEFAULT_KERNELS.len());
    for (file_name, bytes) in DEFAULT_KERNELS {
        let name = SpiceFileName::parse(file_name).expect("the shipped kernels have mission names");
        if let Some(present) = kernel_of_type(archive, name.kernel_type).await? {
            seeds.push(KernelSeed::AlreadyKnown {
                file_name: file_name.to_string(),
                kernel_type: name.kernel_type,
                present,
            });
            continue;
        }
        place_in_inbox(inbox, file_name, bytes)
            .with_context(|| format!("putting the default kernel {file_name} into {}", inbox.display()))?;
        seeds.push(KernelSeed::Placed { file_name: file_name.to_string() });
    }
    Ok(seeds)
}

/// The name of an archived kernel of `kernel_type`, if there is one.
async fn kernel_of_type(archive: &dyn ObjectStore, kernel_type: SpiceKernelType) -> anyhow::Result<Option<String>> {
    let folder = ObjectPath::from(format!("imap/spice/{}", kernel_type.subdir()));
    let mut listing = archive.list(Some(&folder));
    while let Some(item) = listing.next().await {
        let meta = item.with_context(|| format!("listing {folder} in the archive"))?;
        let Some(file_name) = meta.location.filename() else { continue };
        if SpiceFileName::parse(file_name).is_ok_and(|name| name.kernel_type == kernel_type) {
            return Ok(Some(file_name.to_string()));
        }
    }
    Ok(None)
}

fn place_in_inbox(inbox: &Path, file_name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(inbox)?;
    let hidden = inbox.join(format!(".{file_name}.default-kernel"));
    std::fs::write(&hidden, bytes)?;
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&hidden)?.set_modified(an_hour_ago)?;
    std::fs::rename(&hidden, inbox.join(file_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn kernels_go_to_the_inbox_once_and_never_beside_another_of_their_type() {
        let home = tempfile::tempdir().unwrap();
        let archive = object_store::local::LocalFileSystem::new_with_prefix(home.path()).unwrap();
        let inbox = home.path().join("inbox");

        let seeds = seed_default_kernels(&archive, &inbox).await.unwrap();
        assert_eq!(
            seeds,
            [
                KernelSeed::Placed { file_name: "naif0012.tls".into() },
                KernelSeed::Placed { file_name: "imap_sclk_0000.tsc".into() }
            ]
        );
        for (file_name, bytes) in DEFAULT_KERNELS {
            assert_eq!(std::fs::read(inbox.join(file_name)).unwrap(), bytes);
        }
        let hidden: Vec<_> = std::fs::read_dir(&inbox)
            .unwrap()
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "no temporary left behind: {hidden:?}");

        // Once archived (as the indexer does), a second start places nothing; another
        // leapseconds kernel keeps its place too.
        std::fs::remove_dir_all(&inbox).unwrap();
        for (key, bytes) in [
            ("imap/spice/lsk/naif0013.tls", b"newer".to_vec()),
            ("imap/spice/sclk/imap_sclk_0000.tsc", DEFAULT_KERNELS[1].1.to_vec()),
        ] {
            mesh_runtime::archive::put_new(&archive, &ObjectPath::from(key), bytes).await.unwrap();
        }
        let seeds = seed_default_kernels(&archive, &inbox).await.unwrap();
        assert_eq!(
            seeds,
            [
                KernelSeed::AlreadyKnown {
                    file_name: "naif0012.tls".into(),
                    kernel_type: SpiceKernelType::Leapseconds,
                    present: "naif0013.tls".into()
                },
                KernelSeed::AlreadyKnown {
                    file_name: "imap_sclk_0000.tsc".into(),
                    kernel_type: SpiceKernelType::SpacecraftClock,
                    present: "imap_sclk_0000.tsc".into()
                }
            ]
        );
        assert!(!inbox.join("naif0012.tls").exists());
    }
}
