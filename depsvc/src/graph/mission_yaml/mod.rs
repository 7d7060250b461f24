//! The mission's own dependency format: one YAML file per instrument,
//! `imap_<instrument>_dependencies.yaml` (sds-data-manager `orchestration/dependencies/`,
//! documented in imap_processing `docs/source/development/data-dependency.rst`), read directly.
//!
//! ```yaml
//! spice_basic: &spice_basic            # a shared input block: any top-level key that is no job
//!   - source: leapseconds
//!     data_type: spice
//!     descriptor: historical           # spice: historical | best
//!     trigger_job: false
//! (l1, hk):                            # a job of the file's instrument: (level, descriptor)
//!   partition: daily                   # daily | repoint | pointing_attitude | <N>d | 3mo | 6mo | 1yr
//!   inputs:
//!     - *spice_basic                   # an alias of a list is flattened into the inputs
//!     - source: swapi                  # an instrument, a SPICE type, spin or repoint
//!       data_type: l0                  # a level, or ancillary | spice | spin | repoint
//!       descriptor: raw
//!       required: true                 # default true
//!       trigger_job: true              # default true
//!       require_coverage: false        # default false
//!       date_range: ["-1d", "1d"]      # default: the job's own day, repointing or period
//!   outputs:                           # default: the job's own key
//!     - source: swapi
//!       data_type: l1a                 # a level, or ancillary
//!       descriptor: hk
//!       major_version: 1
//! ```
//!
//! How it maps onto the graph: each job is a [`Product`] keyed `(instrument, level,
//! descriptor)`, its partition is the product's [`Cadence`], its outputs the product's outputs;
//! each input becomes a [`ProductInput`] with `required`/`trigger_job` as its [`Relationship`],
//! `require_coverage` as `every_day`, and its `date_range` as a [`TimeWindow`]:
//!
//! | date_range | daily or repoint job | `<N>d`, `3mo`, `6mo`, `1yr` job |
//! |---|---|---|
//! | absent, `[0d, 0d]`, `[0p, 0p]` | the job's day (`SameDay`), or its repointing for science made per repointing (`Repointings 0..0`) | the job's period (`Period 0..0`) |
//! | `[-Nd, Md]` | `Days N..M` around the job's date | `Period` widened by N and M days |
//! | `[-Nh, Mh]` | `Hours N..M` around the job's period: `ceil(N/24)` days before, `ceil(M/24)` after | same |
//! | `[-Np, Mp]` | `Repointings N..M` (per-repointing jobs only, checked by `graph check`) | - |
//! | `["Knd",]` | `NearestDays K`: the K days nearest the period that have files, within K days | same |
//! | `["Knp",]` | `NearestRepointings K`: the K repointings nearest the job's, within K | - |
//! | `["-Kl",]` | `LastProcessed K`: the K most recent files at or before the period's end, within a year | same |
//!
//! Non-science inputs (SPICE, spin, repoint, ancillary) and science made per day are matched by
//! date even in a per-repointing job: their files carry validity ranges or dates, not repointing
//! numbers, and the job's date is its pointing's start date.
//!
//! Every file, job, input and output is checked as it is read: unknown keys, sources, data
//! types, levels, units, malformed job keys or values are errors naming the file, the line, the
//! job and the field. YAML anchors and aliases are resolved by the parser (`saphyr`), which
//! also refuses duplicate keys and bounds alias expansion.

mod date_range;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use self::date_range::{RangeSpec, parse_date_range};
use super::GraphError;
use super::check::{KNOWN_DATA_LEVELS, KNOWN_INSTRUMENTS, KNOWN_KERNEL_TYPES};
use super::model::{
    Cadence, Graph, InputSource, OutputStream, Product, ProductInput, ProductKey, ProductOutput, Relationship,
    SpiceDescriptor, TimeWindow,
};

const JOB_FIELDS: [&str; 3] = ["partition", "inputs", "outputs"];
const INPUT_FIELDS: [&str; 7] =
    ["source", "data_type", "descriptor", "required", "trigger_job", "require_coverage", "date_range"];
const OUTPUT_FIELDS: [&str; 4] = ["source", "data_type", "descriptor", "major_version"];

impl Graph {
    /// Reads a set of the mission's dependency files, given as (file name, text). The file
    /// name gives the instrument (`imap_<instrument>_dependencies.yaml`); files are read
    /// together because a job's default windows depend on how the jobs it reads are made.
    pub fn from_mission_yaml(files: &[(&str, &str)]) -> Result<Graph, GraphError> {
        let mut jobs = Vec::new();
        for (name, text) in files {
            jobs.extend(read_file(name, text)?);
        }
        Ok(Graph::new(fit_windows(jobs)))
    }
}

/// The instrument a dependency file is for, from its name.
pub fn instrument_of_file(name: &str) -> Result<&str, GraphError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let instrument = base
        .strip_prefix("imap_")
        .and_then(|rest| rest.strip_suffix("_dependencies.yaml").or_else(|| rest.strip_suffix("_dependencies.yml")))
        .ok_or_else(|| GraphError::MissionYaml {
            location: name.to_string(),
            message: "a dependency file is named imap_<instrument>_dependencies.yaml".to_string(),
        })?;
    if !KNOWN_INSTRUMENTS.contains(&instrument) {
        return Err(GraphError::MissionYaml {
            location: name.to_string(),
            message: format!("unknown instrument {instrument:?} (expected one of {})", KNOWN_INSTRUMENTS.join(", ")),
        });
    }
    Ok(instrument)
}

/// A job as read, before its inputs' windows are fitted.
struct ReadJob {
    key: ProductKey,
    cadence: Cadence,
    inputs: Vec<ReadInput>,
    outputs: Vec<ProductOutput>,
}

struct ReadInput {
    source: InputSource,
    relationship: Relationship,
    every_day: bool,
    range: Option<RangeSpec>,
}

/// Where in a file something was found, for error messages.
#[derive(Clone, Copy)]
struct Place<'a> {
    file: &'a str,
    job: Option<&'a str>,
}

impl Place<'_> {
    fn error(&self, node: &MarkedYaml<'_>, field: &str, message: impl Into<String>) -> GraphError {
        let mut location = format!("{} line {}", self.file, node.span.start.line());
        if let Some(job) = self.job {
            location.push_str(&format!(", job {job}"));
        }
        if !field.is_empty() {
            location.push_str(&format!(", {field}"));
        }
        GraphError::MissionYaml { location, message: message.into() }
    }
}

fn read_file(name: &str, text: &str) -> Result<Vec<ReadJob>, GraphError> {
    let instrument = instrument_of_file(name)?;
    let documents = MarkedYaml::load_from_str(text).map_err(|error| GraphError::MissionYaml {
        location: format!("{name} line {}", error.marker().line()),
        message: format!("invalid YAML: {}", error.info()),
    })?;
    let place = Place { file: name, job: None };
    let [root] = documents.as_slice() else {
        return Err(GraphError::MissionYaml {
            location: name.to_string(),
            message: format!("expected one YAML document, found {}", documents.len()),
        });
    };
    let entries = mapping_entries(root).map_err(|message| place.error(root, "", message))?;
    let mut jobs = Vec::new();
    for (key_node, key, value) in entries {
        if key.starts_with('(') {
            jobs.push(read_job(instrument, Place { file: name, job: Some(key) }, key_node, key, value)?);
        } else if !matches!(value.data, YamlData::Sequence(_)) {
            return Err(place.error(
                key_node,
                "",
                format!(
                    "top-level key {key:?} is neither a job \"(level, descriptor)\" nor a shared input block (a list)"
                ),
            ));
        }
    }
    Ok(jobs)
}

fn read_job(
    instrument: &str,
    place: Place<'_>,
    key_node: &MarkedYaml<'_>,
    key: &str,
    value: &MarkedYaml<'_>,
) -> Result<ReadJob, GraphError> {
    let (level, descriptor) = parse_job_key(key).map_err(|message| place.error(key_node, "", message))?;
    let fields =
        fields_of(value, &JOB_FIELDS).map_err(|(node, message)| place.error(node.unwrap_or(value), "", message))?;
    let partition_node = fields.get("partition").copied().ok_or_else(|| place.error(value, "partition", "missing"))?;
    let partition = text_of(partition_node).ok_or_else(|| place.error(partition_node, "partition", "must be text"))?;
    let cadence = Cadence::parse(partition).ok_or_else(|| {
        place.error(
            partition_node,
            "partition",
            format!(
                "unknown partition {partition:?} (expected daily, repoint, pointing_attitude, <N>d, 3mo, 6mo or 1yr)"
            ),
        )
    })?;
    let inputs_node = fields.get("inputs").copied().ok_or_else(|| place.error(value, "inputs", "missing"))?;
    let mut input_nodes = Vec::new();
    flatten(inputs_node, &mut input_nodes).map_err(|(node, message)| place.error(node, "inputs", message))?;
    let inputs = input_nodes
        .iter()
        .enumerate()
        .map(|(index, node)| read_input(place, &format!("inputs[{}]", index + 1), node))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs = match fields.get("outputs").copied() {
        None => Vec::new(),
        Some(node) if matches!(node.data, YamlData::Value(Scalar::Null)) => Vec::new(),
        Some(node) => {
            let YamlData::Sequence(items) = &node.data else {
                return Err(place.error(node, "outputs", "must be a list"));
            };
            items
                .iter()
                .enumerate()
                .map(|(index, item)| read_output(place, &format!("outputs[{}]", index + 1), item))
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(ReadJob { key: ProductKey::new(instrument, level, descriptor), cadence, inputs, outputs })
}

/// `(l1a, all)` -> (`l1a`, `all`).
fn parse_job_key(key: &str) -> Result<(&str, &str), String> {
    let inner = key
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("job key {key:?} is not \"(level, descriptor)\""))?;
    let parts: Vec<&str> = inner.split(',').map(str::trim).collect();
    let [level, descriptor] = parts.as_slice() else {
        return Err(format!("job key {key:?} is not \"(level, descriptor)\""));
    };
    if !KNOWN_DATA_LEVELS.contains(level) {
        return Err(format!("job key {key:?}: unknown level {level:?}"));
    }
    if descriptor.is_empty() {
        return Err(format!("job key {key:?} has an empty descriptor"));
    }
    Ok((level, descriptor))
}

/// An input list whose items may be lists themselves (aliases of shared blocks), flattened.
fn flatten<'node, 'input>(
    node: &'node MarkedYaml<'input>,
    found: &mut Vec<&'node MarkedYaml<'input>>,
) -> Result<(), (&'node MarkedYaml<'input>, String)> {
    match &node.data {
        YamlData::Sequence(items) => {
            for item in items {
                match &item.data {
                    YamlData::Sequence(_) => flatten(item, found)?,
                    YamlData::Mapping(_) => found.push(item),
                    _ => return Err((item, "an input must be a mapping (source, data_type, descriptor...)".into())),
                }
            }
            Ok(())
        }
        _ => Err((node, "must be a list".to_string())),
    }
}

fn read_input(place: Place<'_>, field: &str, node: &MarkedYaml<'_>) -> Result<ReadInput, GraphError> {
    let fields =
        fields_of(node, &INPUT_FIELDS).map_err(|(at, message)| place.error(at.unwrap_or(node), field, message))?;
    let (source, data_type, descriptor) = stream_fields(place, field, node, &fields)?;
    let source = input_source(source, data_type, descriptor)
        .map_err(|message| place.error(node, &format!("{field} ({source} {data_type} {descriptor})"), message))?;
    let flag = |name: &str, default: bool| -> Result<bool, GraphError> {
        match fields.get(name) {
            None => Ok(default),
            Some(value) => match &value.data {
                YamlData::Value(Scalar::Boolean(flag)) => Ok(*flag),
                _ => Err(place.error(value, &format!("{field}.{name}"), "must be true or false")),
            },
        }
    };
    let relationship = match (flag("required", true)?, flag("trigger_job", true)?) {
        (true, true) => Relationship::Hard,
        (true, false) => Relationship::HardNoTrigger,
        (false, true) => Relationship::SoftTrigger,
        (false, false) => Relationship::SoftNoTrigger,
    };
    let every_day = flag("require_coverage", false)?;
    let range = match fields.get("date_range") {
        None => None,
        Some(range_node) => {
            let range_field = format!("{field}.date_range");
            let YamlData::Sequence(items) = &range_node.data else {
                return Err(place.error(range_node, &range_field, "must be a list [past, future]"));
            };
            let elements = items
                .iter()
                .map(|item| text_of(item).map(str::to_string))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| place.error(range_node, &range_field, "elements must be text such as \"-1d\""))?;
            parse_date_range(&elements).map_err(|message| place.error(range_node, &range_field, message))?
        }
    };
    if every_day
        && matches!(
            range,
            Some(RangeSpec::NearestDays { .. } | RangeSpec::NearestPointings { .. } | RangeSpec::LastProcessed { .. })
        )
    {
        return Err(place.error(
            node,
            &format!("{field}.require_coverage"),
            "needs a fixed date_range, not a nearest or last-processed one",
        ));
    }
    Ok(ReadInput { source, relationship, every_day, range })
}

fn read_output(place: Place<'_>, field: &str, node: &MarkedYaml<'_>) -> Result<ProductOutput, GraphError> {
    let fields =
        fields_of(node, &OUTPUT_FIELDS).map_err(|(at, message)| place.error(at.unwrap_or(node), field, message))?;
    let (source, data_type, descriptor) = stream_fields(place, field, node, &fields)?;
    let context = format!("{field} ({source} {data_type} {descriptor})");
    if !KNOWN_INSTRUMENTS.contains(&source) {
        return Err(place.error(node, &context, format!("unknown instrument {source:?}")));
    }
    let stream = if data_type == "ancillary" {
        OutputStream::Ancillary { instrument: source.to_string(), descriptor: descriptor.to_string() }
    } else if KNOWN_DATA_LEVELS.contains(&data_type) {
        OutputStream::Science(ProductKey::new(source, data_type, descriptor))
    } else {
        return Err(place.error(
            node,
            &context,
            format!("unknown data_type {data_type:?} (expected a level or ancillary)"),
        ));
    };
    let major_version = match fields.get("major_version") {
        None => None,
        Some(value) => match &value.data {
            YamlData::Value(Scalar::Integer(major)) if (0..=i64::from(u16::MAX)).contains(major) => Some(*major as u16),
            _ => return Err(place.error(value, &format!("{field}.major_version"), "must be a whole number from 0")),
        },
    };
    Ok(ProductOutput { stream, major_version })
}

/// The `source`, `data_type` and `descriptor` every input and output has.
fn stream_fields<'node>(
    place: Place<'_>,
    field: &str,
    node: &MarkedYaml<'_>,
    fields: &HashMap<&str, &'node MarkedYaml<'node>>,
) -> Result<(&'node str, &'node str, &'node str), GraphError> {
    let text = |name: &str| -> Result<&'node str, GraphError> {
        let value = fields.get(name).ok_or_else(|| place.error(node, &format!("{field}.{name}"), "missing"))?;
        text_of(value)
            .filter(|text| !text.trim().is_empty())
            .ok_or_else(|| place.error(value, &format!("{field}.{name}"), "must be non-empty text"))
    };
    Ok((text("source")?, text("data_type")?, text("descriptor")?))
}

/// What an input's source, data type and descriptor name, or why they name nothing.
fn input_source(source: &str, data_type: &str, descriptor: &str) -> Result<InputSource, String> {
    let known_instrument = || {
        if KNOWN_INSTRUMENTS.contains(&source) {
            Ok(())
        } else {
            Err(format!("unknown source {source:?} for data_type {data_type} (expected an instrument)"))
        }
    };
    let historical_only = |what: &str| {
        if source != what {
            Err(format!("data_type {what} takes source {what}, found {source:?}"))
        } else if descriptor != "historical" {
            Err(format!("a {what} input's descriptor is historical, found {descriptor:?}"))
        } else {
            Ok(())
        }
    };
    match data_type {
        "spice" => {
            if !KNOWN_KERNEL_TYPES.contains(&source) || matches!(source, "spin" | "repoint") {
                return Err(format!(
                    "unknown SPICE source {source:?} (expected one of {}; spin and repoint have their own data_type)",
                    KNOWN_KERNEL_TYPES
                        .iter()
                        .filter(|kind| !matches!(**kind, "spin" | "repoint"))
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let descriptor = SpiceDescriptor::parse(descriptor)
                .ok_or_else(|| format!("a SPICE descriptor is historical or best, found {descriptor:?}"))?;
            Ok(InputSource::Spice { kernel_types: vec![source.to_string()], descriptor })
        }
        "spin" => historical_only("spin").map(|()| InputSource::Spin),
        "repoint" => historical_only("repoint").map(|()| InputSource::Repoint),
        "ancillary" => known_instrument()
            .map(|()| InputSource::Ancillary { instrument: source.to_string(), descriptor: descriptor.to_string() }),
        level if KNOWN_DATA_LEVELS.contains(&level) => {
            known_instrument().map(|()| InputSource::Science(ProductKey::new(source, level, descriptor)))
        }
        other => Err(format!("unknown data_type {other:?} (expected a level, ancillary, spice, spin or repoint)")),
    }
}

/// The text of a scalar node, if it is text.
fn text_of<'node>(node: &'node MarkedYaml<'_>) -> Option<&'node str> {
    match &node.data {
        YamlData::Value(Scalar::String(text)) => Some(text),
        _ => None,
    }
}

/// A mapping's (key node, key text, value) entries; keys must be text.
#[allow(clippy::type_complexity)]
fn mapping_entries<'node, 'input>(
    node: &'node MarkedYaml<'input>,
) -> Result<Vec<(&'node MarkedYaml<'input>, &'node str, &'node MarkedYaml<'input>)>, String> {
    let YamlData::Mapping(mapping) = &node.data else {
        return Err("expected a mapping".to_string());
    };
    mapping
        .iter()
        .map(|(key, value)| text_of(key).map(|text| (key, text, value)).ok_or_else(|| "keys must be text".to_string()))
        .collect()
}

/// A mapping's fields by name, refusing names not in `allowed`.
#[allow(clippy::type_complexity)]
fn fields_of<'node, 'input>(
    node: &'node MarkedYaml<'input>,
    allowed: &[&str],
) -> Result<HashMap<&'node str, &'node MarkedYaml<'input>>, (Option<&'node MarkedYaml<'input>>, String)> {
    let entries = mapping_entries(node).map_err(|message| (None, message))?;
    let mut fields = HashMap::new();
    for (key_node, key, value) in entries {
        if !allowed.contains(&key) {
            return Err((Some(key_node), format!("unknown key {key:?} (expected {})", allowed.join(", "))));
        }
        fields.insert(key, value);
    }
    Ok(fields)
}

/// Turns the jobs' date ranges into windows, which needs to know how each science input is made.
fn fit_windows(jobs: Vec<ReadJob>) -> Vec<Product> {
    let mut cadence_of_stream: HashMap<OutputStream, Cadence> = HashMap::new();
    for job in &jobs {
        let own_key = [ProductOutput::science(job.key.clone())];
        let outputs: &[ProductOutput] = if job.outputs.is_empty() { &own_key } else { &job.outputs };
        for output in outputs {
            cadence_of_stream.entry(output.stream.clone()).or_insert(job.cadence);
        }
    }
    jobs.into_iter()
        .map(|job| {
            let inputs = job
                .inputs
                .into_iter()
                .map(|input| {
                    let per_repointing = job.cadence == Cadence::Repointing
                        && match &input.source {
                            InputSource::Science(key) => {
                                cadence_of_stream.get(&OutputStream::Science(key.clone())) == Some(&Cadence::Repointing)
                            }
                            _ => false,
                        };
                    ProductInput {
                        window: window_of(job.cadence, per_repointing, input.range),
                        source: input.source,
                        relationship: input.relationship,
                        every_day: input.every_day,
                    }
                })
                .collect();
            Product { key: job.key, cadence: job.cadence, inputs, outputs: job.outputs }
        })
        .collect()
}

/// The window of an input (see the table in the module docs).
fn window_of(cadence: Cadence, per_repointing: bool, range: Option<RangeSpec>) -> TimeWindow {
    let default = if cadence.is_scheduled() {
        TimeWindow::Period { before: 0, after: 0 }
    } else if per_repointing {
        TimeWindow::Repointings { before: 0, after: 0 }
    } else {
        TimeWindow::SameDay
    };
    match range {
        None | Some(RangeSpec::Days { before: 0, after: 0 }) | Some(RangeSpec::Pointings { before: 0, after: 0 }) => {
            default
        }
        Some(RangeSpec::Days { before, after }) if cadence.is_scheduled() => TimeWindow::Period { before, after },
        Some(RangeSpec::Days { before, after }) => TimeWindow::Days { before, after },
        Some(RangeSpec::Hours { before, after }) => TimeWindow::Hours { before, after },
        Some(RangeSpec::Pointings { before, after }) => TimeWindow::Repointings { before, after },
        Some(RangeSpec::NearestDays { count }) => TimeWindow::NearestDays { count },
        Some(RangeSpec::NearestPointings { count }) => TimeWindow::NearestRepointings { count },
        Some(RangeSpec::LastProcessed { count }) => TimeWindow::LastProcessed { count },
    }
}
