//! Tells the tests whether the IMAP mission's level-0 files are here: `cfg(mission_data)` and
//! the folder in `IMAP_SDC_MISSION_DATA` when `$IMAP_SHARED_DIR/data` exists or, without that
//! variable, `shared/data` beside the workspace (any folder above the crate). Tests that need
//! the files are ignored, saying why, without them. The processor crate uses this script too.

use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(mission_data)");
    println!("cargo::rerun-if-env-changed=IMAP_SHARED_DIR");
    let data = match std::env::var_os("IMAP_SHARED_DIR") {
        Some(shared) => {
            let data = PathBuf::from(shared).join("data");
            if !data.is_dir() {
                println!("cargo::warning=IMAP_SHARED_DIR is set but {} is not a folder", data.display());
            }
            data
        }
        None => {
            let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
            match manifest_dir.ancestors().map(|folder| folder.join("shared/data")).find(|data| data.is_dir()) {
                Some(data) => data,
                None => return,
            }
        }
    };
    // Only a folder that exists is watched: cargo reruns a script (and rebuilds the crate) on
    // every build while a watched path is missing.
    if let Ok(data) = data.canonicalize()
        && data.is_dir()
    {
        println!("cargo::rerun-if-changed={}", data.display());
        println!("cargo::rustc-cfg=mission_data");
        println!("cargo::rustc-env=IMAP_SDC_MISSION_DATA={}", data.display());
    }
}
