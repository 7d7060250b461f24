//! Generates the gRPC contracts at build time with protox: no system protoc needed.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["common", "indexer", "depsvc", "starter", "processor", "gateway"]
        .map(|name| format!("imap/sdc/v1/{name}.proto"));
    for file in &files {
        println!("cargo:rerun-if-changed=proto/{file}");
    }
    let descriptors = protox::compile(&files, ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    // compile_fds writes no descriptor set of its own; reflection needs one.
    std::fs::write(out_dir.join("imap_sdc_descriptor.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(descriptors)?;
    Ok(())
}
