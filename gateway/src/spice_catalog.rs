//! `/spice-query` (spec 1.5): kernels by type, coverage dates, version and ingestion date, with the
//! parameter names the 1.3.0 client sends.

use std::collections::{BTreeMap, HashMap};

use imap_filename::{SPICE_KERNEL_TYPES, SpiceFileName, SpiceKernelType};
use proto::pb::{FileKind, FileRecord, QueryFilesRequest};

use super::catalog::query_date;
use super::error::GatewayError;

const SPICE_PARAMETERS: &[&str] =
    &["type", "start_date", "end_date", "version", "latest", "start_ingest_date", "end_ingest_date", "file_name"];

/// A kernel's version number (if its name has one), its parsed name and its tracker record.
type VersionedKernel<'a> = (Option<u64>, SpiceFileName, &'a FileRecord);

#[derive(Debug, Clone)]
pub struct SpiceQuery {
    pub kernel_type: SpiceKernelType,
    /// What the file tracker can filter on (ingestion days, file name).
    pub filter: QueryFilesRequest,
    /// Kernels covering any day in `[start, end]` (YYYYMMDD; empty = unbounded).
    pub start_date: String,
    pub end_date: String,
    pub version: Option<u64>,
    pub latest: bool,
}

impl SpiceQuery {
    pub fn from_params(params: &HashMap<String, String>) -> Result<SpiceQuery, GatewayError> {
        let given = |name: &str| params.get(name).map(|value| value.trim()).filter(|value| !value.is_empty());
        if let Some(unknown) = params.keys().find(|name| !SPICE_PARAMETERS.contains(&name.as_str())) {
            return Err(invalid(format!(
                "unknown spice-query parameter {unknown:?} (valid: {})",
                SPICE_PARAMETERS.join(", ")
            )));
        }
        let type_name = given("type")
            .ok_or_else(|| invalid("spice-query needs type (a kernel type such as ephemeris_predicted)"))?;
        let kernel_type = SpiceKernelType::from_name(type_name).ok_or_else(|| {
            invalid(format!("unknown kernel type {type_name:?} (valid: {})", SPICE_KERNEL_TYPES.join(", ")))
        })?;
        let mut latest = given("latest").is_some_and(|text| text.eq_ignore_ascii_case("true"));
        let version = match given("version") {
            None => None,
            Some("latest") => {
                latest = true;
                None
            }
            Some(text) => Some(
                text.trim_start_matches('v')
                    .parse()
                    .map_err(|_| invalid(format!("version {text:?}: expected a number")))?,
            ),
        };
        Ok(SpiceQuery {
            kernel_type,
            filter: QueryFilesRequest {
                kind: FileKind::Spice.into(),
                file_name: given("file_name")
                    .map(|name| name.rsplit('/').next().unwrap_or(name))
                    .unwrap_or_default()
                    .into(),
                ingestion_date_min: query_date(given("start_ingest_date"), "start_ingest_date")?,
                ingestion_date_max: query_date(given("end_ingest_date"), "end_ingest_date")?,
                ..Default::default()
            },
            start_date: query_date(given("start_date"), "start_date")?,
            end_date: query_date(given("end_date"), "end_date")?,
            version,
            latest,
        })
    }

    /// The matching kernels as client rows, ordered by file name.
    pub fn rows(&self, records: &[FileRecord]) -> Vec<serde_json::Value> {
        self.matches(records)
            .iter()
            .map(|(root, (version, kernel, record))| spice_row(root, *version, kernel, record))
            .collect()
    }

    /// The matching kernels as rows of the repoint and spin tables (spec 1.8), which `webpoda` reads.
    pub fn table_rows(&self, records: &[FileRecord]) -> Vec<serde_json::Value> {
        self.matches(records)
            .iter()
            .map(|(_, (version, kernel, record))| {
                serde_json::json!({
                    "file_path": record.archive_key,
                    "start_date": day_text(kernel.start_date),
                    "end_date": day_text(kernel.end_date.or(kernel.start_date)),
                    "version": version,
                    "ingestion_date": ingestion_text(record.ingestion_time.as_ref()),
                })
            })
            .collect()
    }

    /// Matching kernels with their file root, ordered by file name; only the newest per root with `latest`.
    fn matches<'a>(&self, records: &'a [FileRecord]) -> Vec<(String, VersionedKernel<'a>)> {
        let mut by_root: BTreeMap<String, Vec<VersionedKernel<'a>>> = BTreeMap::new();
        for record in records {
            let Ok(kernel) = SpiceFileName::parse(&record.file_name) else { continue };
            if kernel.kernel_type != self.kernel_type || !self.covers(&kernel) {
                continue;
            }
            let version = kernel.version.as_deref().and_then(|digits| digits.parse::<u64>().ok());
            if self.version.is_some() && self.version != version {
                continue;
            }
            by_root.entry(file_root(&kernel)).or_default().push((version, kernel, record));
        }
        let mut matches = Vec::new();
        for (root, mut kernels) in by_root {
            kernels.sort_by_key(|(version, _, _)| std::cmp::Reverse(*version));
            let keep = if self.latest { 1 } else { kernels.len() };
            matches.extend(kernels.into_iter().take(keep).map(|kernel| (root.clone(), kernel)));
        }
        matches.sort_by(|left, right| left.1.2.file_name.cmp(&right.1.2.file_name));
        matches
    }

    fn covers(&self, kernel: &SpiceFileName) -> bool {
        let first = kernel.start_date.map(|date| date.yyyymmdd());
        let last = kernel.end_date.map(|date| date.yyyymmdd()).or_else(|| first.clone());
        let ends_before_start =
            !self.start_date.is_empty() && last.as_ref().is_some_and(|last| *last < self.start_date);
        let starts_after_end = !self.end_date.is_empty() && first.as_ref().is_some_and(|first| *first > self.end_date);
        !(ends_before_start || starts_after_end)
    }
}

/// The name without its version: every version of one kernel shares it.
fn file_root(kernel: &SpiceFileName) -> String {
    match &kernel.version {
        Some(version) => kernel.name.replacen(&format!("_v{version}"), "", 1),
        None => kernel.name.clone(),
    }
}

fn spice_row(root: &str, version: Option<u64>, kernel: &SpiceFileName, record: &FileRecord) -> serde_json::Value {
    serde_json::json!({
        "file_name": record.archive_key.trim_start_matches("imap/spice/"),
        "file_root": root,
        "kernel_type": kernel.kernel_type.as_str(),
        "version": version,
        "min_date_datetime": day_text(kernel.start_date),
        "max_date_datetime": day_text(kernel.end_date.or(kernel.start_date)),
        "ingestion_date": ingestion_text(record.ingestion_time.as_ref()),
    })
}

/// `%Y-%m-%d, %H:%M:%S` at midnight, as upstream formats kernel dates.
fn day_text(date: Option<imap_filename::Date>) -> Option<String> {
    date.map(|date| format!("{:04}-{:02}-{:02}, 00:00:00", date.year(), date.month(), date.day()))
}

/// `%Y-%m-%d, %H:%M:%S` from the tracker's RFC 3339 ingestion time.
fn ingestion_text(ingested: Option<&prost_types::Timestamp>) -> String {
    let Some(ingested) = ingested else { return String::new() };
    let rfc3339 = proto::time::rfc3339(ingested);
    format!("{}, {}", &rfc3339[0..10], &rfc3339[11..19])
}

fn invalid(message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel_record(name: &str) -> FileRecord {
        let parsed = SpiceFileName::parse(name).unwrap();
        FileRecord {
            file_name: name.into(),
            archive_key: parsed.archive_path(),
            kind: FileKind::Spice.into(),
            // 2026-11-26T06:19:45.123Z
            ingestion_time: Some(proto::time::timestamp(1_795_673_985_123)),
            ..Default::default()
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Result<SpiceQuery, GatewayError> {
        SpiceQuery::from_params(&pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect())
    }

    #[test]
    fn filters_by_type_coverage_and_latest_version() {
        let records: Vec<FileRecord> = [
            "imap_pred_20250101_20250110_v01.bsp",
            "imap_pred_20250101_20250110_v02.bsp",
            "imap_pred_20250201_20250210_v01.bsp",
            "imap_recon_20250101_20250110_v01.bsp",
        ]
        .into_iter()
        .map(kernel_record)
        .collect();
        let all = query(&[("type", "ephemeris_predicted")]).unwrap().rows(&records);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0]["kernel_type"], "ephemeris_predicted");
        assert_eq!(all[0]["file_name"], "spk/imap_pred_20250101_20250110_v01.bsp");
        assert_eq!(all[0]["min_date_datetime"], "2025-01-01, 00:00:00");
        assert_eq!(all[0]["ingestion_date"], "2026-11-26, 06:19:45");
        let january =
            query(&[("type", "ephemeris_predicted"), ("start_date", "20250105"), ("end_date", "20250106")]).unwrap();
        assert_eq!(january.rows(&records).len(), 2);
        let latest = query(&[("type", "ephemeris_predicted"), ("end_date", "20250131"), ("latest", "true")]).unwrap();
        let rows = latest.rows(&records);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["version"], 2);
        let exact = query(&[("type", "ephemeris_predicted"), ("version", "1")]).unwrap();
        assert_eq!(exact.rows(&records).len(), 2);
    }

    #[test]
    fn repoint_tables_list_the_kernels_webpoda_reads() {
        let records: Vec<FileRecord> =
            ["imap_2025_100_01.repoint.csv", "imap_2025_120_02.repoint.csv"].into_iter().map(kernel_record).collect();
        let rows = query(&[("type", "repoint"), ("start_ingest_date", "20261101")]).unwrap().table_rows(&records);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["file_path"], "imap/spice/repoint/imap_2025_100_01.repoint.csv");
        assert_eq!(rows[0]["ingestion_date"], "2026-11-26, 06:19:45");
        assert!(rows[0]["end_date"].as_str().unwrap().starts_with("2025-04-10"), "{}", rows[0]);
    }

    #[test]
    fn type_is_required_and_checked() {
        assert!(query(&[("start_date", "20250101")]).unwrap_err().to_string().contains("needs type"));
        assert!(query(&[("type", "nonsense")]).unwrap_err().to_string().contains("ephemeris_predicted"));
        assert!(query(&[("type", "leapseconds"), ("colour", "red")]).is_err());
    }
}
