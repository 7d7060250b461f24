//! The `/query` semantics of the mission's catalogue (spec 1.4 and 6.4), as pure functions: parameters
//! become a file-tracker filter plus version rules, and tracker records become the rows the client reads.

use std::collections::{BTreeMap, HashMap};

use imap_filename::Date;
use imap_filename::{Version, parse_repointing_label};
use prost_types::Timestamp;
use proto::pb::{FileKind, FileRecord, QueryFilesRequest};

use super::error::GatewayError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Science,
    Ancillary,
}

const SCIENCE_PARAMETERS: &[&str] = &[
    "table",
    "instrument",
    "data_level",
    "descriptor",
    "start_date",
    "end_date",
    "ingestion_start_date",
    "ingestion_end_date",
    "repointing",
    "cr",
    "version",
    "major_version",
    "minor_version",
    "extension",
    "latest",
    "file_path",
];
const ANCILLARY_PARAMETERS: &[&str] = &[
    "table",
    "instrument",
    "descriptor",
    "start_date",
    "end_date",
    "ingestion_start_date",
    "ingestion_end_date",
    "repointing",
    "version",
    "extension",
    "latest",
    "file_path",
];

/// How many versions of one file series to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionMode {
    /// The default: every minor version of the series' newest major.
    LatestMajor,
    /// `latest=true`: the single newest version.
    Newest,
    /// An explicit `major_version`: no restriction beyond the filters.
    All,
}

/// A parsed `/query` request.
#[derive(Debug, Clone)]
pub struct CatalogQuery {
    pub table: Table,
    /// What the file tracker can filter on.
    pub filter: QueryFilesRequest,
    pub major_version: Option<u16>,
    pub minor_version: Option<u16>,
    pub mode: VersionMode,
}

impl CatalogQuery {
    pub fn from_params(params: &HashMap<String, String>) -> Result<CatalogQuery, GatewayError> {
        let given = |name: &str| params.get(name).map(|value| value.trim()).filter(|value| !value.is_empty());
        let table = match given("table").unwrap_or("science") {
            "science" => Table::Science,
            "ancillary" => Table::Ancillary,
            "spice" => return Err(invalid("table=spice is served by /spice-query")),
            other => return Err(invalid(format!("unknown table {other:?} (valid: science, ancillary)"))),
        };
        let allowed = if table == Table::Science { SCIENCE_PARAMETERS } else { ANCILLARY_PARAMETERS };
        let mut names: Vec<&String> = params.keys().collect();
        names.sort();
        if let Some(unknown) = names.into_iter().find(|name| !allowed.contains(&name.as_str())) {
            return Err(invalid(format!("unknown query parameter {unknown:?} (valid: {})", allowed.join(", "))));
        }
        let mut filter = QueryFilesRequest {
            kind: if table == Table::Science { FileKind::Science } else { FileKind::Ancillary }.into(),
            instrument: given("instrument").unwrap_or_default().to_string(),
            data_level: given("data_level").unwrap_or_default().to_string(),
            descriptor: given("descriptor").unwrap_or_default().to_string(),
            extension: given("extension").unwrap_or_default().to_string(),
            file_name: given("file_path").map(basename).unwrap_or_default().to_string(),
            start_date_min: query_date(given("start_date"), "start_date")?,
            // The mission matches end_date against the file's start date.
            start_date_max: query_date(given("end_date"), "end_date")?,
            ingestion_date_min: query_date(given("ingestion_start_date"), "ingestion_start_date")?,
            ingestion_date_max: query_date(given("ingestion_end_date"), "ingestion_end_date")?,
            repointing: given("repointing").map(parse_repointing).transpose()?,
            ..Default::default()
        };
        let mut major_version = given("major_version").map(|text| digits(text, "major_version")).transpose()?;
        let mut minor_version = given("minor_version").map(|text| digits(text, "minor_version")).transpose()?;
        let mut latest = given("latest").map(|text| text.eq_ignore_ascii_case("true")).unwrap_or(false);
        match given("version") {
            None => {}
            Some("latest") => latest = true,
            Some(text) if table == Table::Ancillary => filter.version = text.to_string(),
            Some(text) => {
                // `vMMM.mmmm` aliases both columns; the legacy `vXXX` names the minor only.
                let version: Version = text.parse()?;
                major_version = version.major.or(major_version);
                minor_version = Some(version.minor);
            }
        }
        let mode = match (major_version, latest) {
            (Some(_), _) => VersionMode::All,
            (None, true) => VersionMode::Newest,
            (None, false) if table == Table::Ancillary => VersionMode::All,
            (None, false) => VersionMode::LatestMajor,
        };
        Ok(CatalogQuery { table, filter, major_version, minor_version, mode })
    }

    /// Applies the version filters and rules to the tracker's matches, ordered by file path.
    pub fn select(&self, records: Vec<FileRecord>) -> Vec<FileRecord> {
        let mut series: BTreeMap<SeriesKey, Vec<(Version, FileRecord)>> = BTreeMap::new();
        for record in records {
            let Ok(version) = record.version.parse::<Version>() else { continue };
            if self.major_version.is_some_and(|major| version.major != Some(major))
                || self.minor_version.is_some_and(|minor| version.minor != minor)
            {
                continue;
            }
            series.entry(SeriesKey::of(&record)).or_default().push((version, record));
        }
        let mut selected: Vec<FileRecord> = Vec::new();
        for (_, mut versions) in series {
            versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
            let newest = versions[0].0;
            let keep = |version: &Version| match self.mode {
                VersionMode::All => true,
                VersionMode::Newest => *version == newest,
                VersionMode::LatestMajor => version.major == newest.major,
            };
            selected.extend(versions.into_iter().filter(|(version, _)| keep(version)).map(|(_, record)| record));
        }
        selected.sort_by(|left, right| left.archive_key.cmp(&right.archive_key));
        selected
    }

    /// One result row with exactly the fields the client reads for this table.
    pub fn row(&self, record: &FileRecord) -> serde_json::Value {
        match self.table {
            Table::Science => science_row(record),
            Table::Ancillary => ancillary_row(record),
        }
    }
}

/// One file series: every version of "the same" file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    instrument: String,
    data_level: String,
    descriptor: String,
    start_date: String,
    end_date: String,
    repointing: Option<u32>,
    cr: Option<u32>,
    extension: String,
}

impl SeriesKey {
    fn of(record: &FileRecord) -> SeriesKey {
        SeriesKey {
            instrument: record.instrument.clone(),
            data_level: record.data_level.clone(),
            descriptor: record.descriptor.clone(),
            start_date: record.start_date.clone(),
            end_date: record.end_date.clone(),
            repointing: record.repointing,
            cr: record.cr,
            extension: record.extension.clone(),
        }
    }
}

/// Science rows carry `repointing` (maybe null) and never `end_date`: the client tells tables apart by keys.
pub fn science_row(record: &FileRecord) -> serde_json::Value {
    let version = record.version.parse::<Version>().ok();
    serde_json::json!({
        "file_path": record.archive_key,
        "instrument": record.instrument,
        "data_level": record.data_level,
        "descriptor": record.descriptor,
        "start_date": record.start_date,
        "repointing": record.repointing,
        "cr": record.cr,
        "ingestion_date": ingestion_date(record.ingestion_time.as_ref()),
        "major_version": version.and_then(|version| version.major),
        "minor_version": version.map(|version| version.minor),
        "released": record.released,
    })
}

pub fn ancillary_row(record: &FileRecord) -> serde_json::Value {
    serde_json::json!({
        "file_path": record.archive_key,
        "instrument": record.instrument,
        "descriptor": record.descriptor,
        "start_date": record.start_date,
        "end_date": (!record.end_date.is_empty()).then_some(&record.end_date),
        "ingestion_date": ingestion_date(record.ingestion_time.as_ref()),
        "version": record.version,
        "released": record.released,
    })
}

/// `YYYYMMDD HH:MM:SS` (UTC) from the tracker's RFC 3339 time, as upstream formats it.
pub fn ingestion_date(ingested: Option<&Timestamp>) -> String {
    let Some(ingested) = ingested else { return String::new() };
    let rfc3339 = proto::time::rfc3339(ingested);
    format!("{} {}", rfc3339[0..10].replace('-', ""), &rfc3339[11..19])
}

/// A client date (lenient `%Y%m%d`, like Python's strptime) as `YYYYMMDD`, or empty when absent.
pub fn query_date(text: Option<&str>, name: &str) -> Result<String, GatewayError> {
    match text {
        None => Ok(String::new()),
        Some(text) => Date::parse_query_date(text)
            .map(|date| date.yyyymmdd())
            .map_err(|error| invalid(format!("{name}: {error}"))),
    }
}

/// The client sends an integer; `repointNNNNN` is accepted too.
fn parse_repointing(text: &str) -> Result<u32, GatewayError> {
    parse_repointing_label(text)
        .or_else(|| text.parse().ok())
        .ok_or_else(|| invalid(format!("repointing {text:?}: expected an integer or repointNNNNN")))
}

fn digits(text: &str, name: &str) -> Result<u16, GatewayError> {
    text.parse().map_err(|_| invalid(format!("{name} {text:?}: expected digits")))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn invalid(message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest(message.into())
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
