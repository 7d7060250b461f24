//! Tells the tests whether Graphviz `dot` is installed (`cfg(graphviz_dot)`), so that the test
//! rendering the DOT output runs where it can and is reported ignored, with the reason, where
//! it cannot. Installing Graphviz later re-runs this (the PATH folders are watched).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(graphviz_dot)");
    println!("cargo::rerun-if-env-changed=PATH");
    let folders: Vec<std::path::PathBuf> =
        std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect()).unwrap_or_default();
    match folders.iter().map(|folder| folder.join("dot")).find(|candidate| candidate.is_file()) {
        Some(dot) => {
            println!("cargo::rerun-if-changed={}", dot.display());
            println!("cargo::rustc-cfg=graphviz_dot");
        }
        None => {
            for folder in folders.iter().filter(|folder| folder.is_dir()) {
                println!("cargo::rerun-if-changed={}", folder.display());
            }
        }
    }
}
