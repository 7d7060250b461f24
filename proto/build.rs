//! Generates the gRPC contracts at build time with protox: no system protoc needed. The messages
//! the gateway's status API returns as JSON derive `serde::Serialize`, with enums and instants
//! written as text by the helpers in `src/json.rs`.

use prost::Message;

/// Messages serialized as REST JSON, with every field under its protobuf name.
const JSON_MESSAGES: &[&str] = &[
    "FileRecord",
    "ProductKey",
    "GraphEdge",
    "GetGraphResponse",
    "InstrumentQueue",
    "CampaignProgress",
    "QuarantinedFile",
    "ProcessorStatus",
    "DeadEvaluation",
    "ProductTime",
];

/// Fields of those messages that need a text form: (message.field, helper in `crate::json`).
const JSON_FIELDS: &[(&str, &str)] = &[
    ("FileRecord.kind", "file_kind"),
    ("FileRecord.ingestion_time", "timestamp"),
    ("FileRecord.released_at", "timestamp"),
    ("GraphEdge.relationship", "relationship"),
    ("CampaignProgress.created_at", "timestamp"),
    ("QuarantinedFile.recorded_at", "timestamp"),
    ("DeadEvaluation.recorded_at", "timestamp"),
];

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
    let mut builder = tonic_prost_build::configure();
    for message in JSON_MESSAGES {
        builder = builder.type_attribute(format!(".imap.sdc.v1.{message}"), "#[derive(serde::Serialize)]");
    }
    for (field, helper) in JSON_FIELDS {
        builder = builder.field_attribute(
            format!(".imap.sdc.v1.{field}"),
            format!("#[serde(serialize_with = \"crate::json::{helper}\")]"),
        );
    }
    builder.compile_fds(descriptors)?;
    Ok(())
}
