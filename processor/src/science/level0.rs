//! L1A: level-0 CCSDS packet files decoded with the instrument's XTCE definition, one CDF per
//! APID descriptor. Every packet field becomes a variable (raw values under the field's name,
//! calibrated values or enumeration labels under `<NAME>_DERIVED`); the epoch comes from the
//! packet's SHCOARSE mission elapsed time. MAG science packets also give each sensor's
//! vectors their own products (see [`mag_vectors`]). Undecodable packets are kept out of the
//! data but reported: in the `Packet_problems` global attribute, the output notes and the log.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use nasa_cdf::{AttributeEntry, Values};
use xtce::{Column, PacketDefinition, PacketGroup};

use crate::mission::SclkKernel;

use super::mag_vectors;
use super::series::{SeriesVariable, TimeSeries};
use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError, product_globals_at};

/// The field holding the packet's mission elapsed time in seconds.
const MET_FIELD: &str = "SHCOARSE";
/// At most this many problems are listed in a file; the count is always complete.
const LISTED_PROBLEMS: usize = 100;

/// Descriptors the mission uses for APIDs whose L1A product name is known.
fn builtin_apid_descriptors(instrument: &str, apid: u16) -> Option<Vec<String>> {
    let names: &[&str] = match (instrument, apid) {
        ("swapi", 1188) => &["sci"],
        ("swapi", 1184) => &["hk"],
        ("swapi", 1192) => &["aut"],
        // The packet fields; each sensor's vectors go to `<mode>-mago` and `<mode>-magi`.
        ("mag", 1052) => &["norm-raw"],
        ("mag", 1068) => &["burst-raw"],
        ("codice", 1136) => &["hskp"],
        _ => return None,
    };
    Some(names.iter().map(|name| name.to_string()).collect())
}

/// The sub-level the mission names an L1A product at when a job of a level without a sub-level
/// letter makes it: SWAPI's `l1 hk` job writes `imap_swapi_l1a_hk` (its `l1 sci` job
/// `imap_swapi_l1_sci`), and the mission graph's `l1 sci` job reads that `l1a hk`.
fn mission_sublevel(instrument: &str, descriptor: &str, job_level: &str) -> Option<String> {
    let sublevel = match (instrument, descriptor) {
        ("swapi", "hk") => "l1a",
        _ => return None,
    };
    (sublevel != job_level && sublevel.starts_with(job_level)).then(|| sublevel.to_string())
}

/// The packet definitions the project ships in `deploy/xtce`, built into the binary so that
/// level-0 files decode whatever the working directory.
const BUILT_IN_DEFINITIONS: [(&str, &str); 3] = [
    ("codice", include_str!("../../../deploy/xtce/codice.xml")),
    ("mag", include_str!("../../../deploy/xtce/mag.xml")),
    ("swapi", include_str!("../../../deploy/xtce/swapi.xml")),
];

/// The built-in XTCE definition of an instrument (a copy of `deploy/xtce/<instrument>.xml`).
pub fn built_in_definition(instrument: &str) -> Option<&'static str> {
    BUILT_IN_DEFINITIONS.iter().find(|(name, _)| *name == instrument).map(|(_, xml)| *xml)
}

/// Where an instrument's definition comes from: `<xtce_dir>/<instrument>.xml` when that file
/// exists, else the built-in one.
enum DefinitionSource {
    File(PathBuf),
    BuiltIn { instrument: String, xml: &'static str },
}

impl DefinitionSource {
    fn find(xtce_dir: Option<&Path>, instrument: &str) -> Result<DefinitionSource, ScienceError> {
        let file = xtce_dir.map(|folder| folder.join(format!("{instrument}.xml")));
        if let Some(path) = file.as_ref().filter(|path| path.is_file()) {
            return Ok(DefinitionSource::File(path.clone()));
        }
        if let Some(xml) = built_in_definition(instrument) {
            return Ok(DefinitionSource::BuiltIn { instrument: instrument.to_string(), xml });
        }
        let built_in: Vec<&str> = BUILT_IN_DEFINITIONS.iter().map(|(name, _)| *name).collect();
        let looked_for = match file {
            Some(path) => format!("{} does not exist", path.display()),
            None => "processor.xtce_dir is not set".to_string(),
        };
        Err(ScienceError::MissingDefinition {
            instrument: instrument.to_string(),
            reason: format!("{looked_for} and none is built in (built in: {})", built_in.join(", ")),
        })
    }

    fn load(&self) -> Result<PacketDefinition, ScienceError> {
        let loaded = match self {
            DefinitionSource::File(path) => PacketDefinition::from_xtce_file(path),
            DefinitionSource::BuiltIn { xml, .. } => PacketDefinition::from_xtce_str(xml),
        };
        loaded.map_err(|error| ScienceError::BadDefinition { origin: self.to_string(), reason: error.to_string() })
    }
}

impl std::fmt::Display for DefinitionSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefinitionSource::File(path) => write!(formatter, "{}", path.display()),
            DefinitionSource::BuiltIn { instrument, .. } => write!(formatter, "built-in {instrument}.xml"),
        }
    }
}

/// A packet group and the file it came from.
type FileGroup<'a> = (&'a String, &'a PacketGroup);

pub struct DecodeLevel0 {
    /// Folder whose `<instrument>.xml` files override the built-in definitions.
    xtce_dir: Option<PathBuf>,
    apid_descriptors: BTreeMap<String, BTreeMap<u16, Vec<String>>>,
    /// Compiled definitions by instrument, loaded on first use.
    definitions: Mutex<HashMap<String, Arc<PacketDefinition>>>,
    /// The spacecraft clock correlation that times the packets.
    clock: SclkKernel,
}

impl DecodeLevel0 {
    /// Decodes with the built-in definitions, overridden per instrument by the files in
    /// `xtce_dir` when one is given.
    pub fn new(xtce_dir: Option<PathBuf>, apid_descriptors: BTreeMap<String, BTreeMap<u16, Vec<String>>>) -> Self {
        DecodeLevel0 {
            xtce_dir,
            apid_descriptors,
            definitions: Mutex::new(HashMap::new()),
            clock: SclkKernel::nominal(),
        }
    }

    /// Times packets with a flight SCLK kernel instead of the nominal clock.
    pub fn with_clock(mut self, clock: SclkKernel) -> Self {
        self.clock = clock;
        self
    }

    fn definition(&self, instrument: &str) -> Result<Arc<PacketDefinition>, ScienceError> {
        if let Some(definition) = self.definitions.lock().expect("definitions lock").get(instrument) {
            return Ok(definition.clone());
        }
        let source = DefinitionSource::find(self.xtce_dir.as_deref(), instrument)?;
        let definition = source.load()?;
        tracing::info!(instrument, source = %source, "xtce packet definition loaded");
        let definition = Arc::new(definition);
        self.definitions.lock().expect("definitions lock").insert(instrument.to_string(), definition.clone());
        Ok(definition)
    }

    /// The configured or built-in descriptors of an APID, if it has any.
    fn listed_descriptors(&self, instrument: &str, apid: u16) -> Option<Vec<String>> {
        self.apid_descriptors
            .get(instrument)
            .and_then(|table| table.get(&apid).cloned())
            .or_else(|| builtin_apid_descriptors(instrument, apid))
    }

    /// Descriptors per APID: the listed ones, else the last word of the container's name
    /// (`P_SWP_SCI` -> `sci`, as the mission names them), else `apid<N>` when that word is
    /// not a usable descriptor or two APIDs would share it.
    pub(super) fn descriptors_by_apid(
        &self,
        instrument: &str,
        containers: &BTreeMap<u16, String>,
    ) -> BTreeMap<u16, Vec<String>> {
        let mut chosen: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        let mut from_container: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for (&apid, container) in containers {
            if let Some(listed) = self.listed_descriptors(instrument, apid) {
                chosen.insert(apid, listed);
            } else if let Some(word) = container_word(container) {
                from_container.entry(word).or_default().push(apid);
            } else {
                chosen.insert(apid, vec![format!("apid{apid}")]);
            }
        }
        for (word, apids) in from_container {
            let taken = chosen.values().flatten().any(|descriptor| *descriptor == word);
            for &apid in &apids {
                let descriptor = if apids.len() == 1 && !taken { word.clone() } else { format!("apid{apid}") };
                chosen.insert(apid, vec![descriptor]);
            }
        }
        chosen
    }
}

/// The last `_`-separated word of a container name, lowercased, when it can be a descriptor.
fn container_word(container: &str) -> Option<String> {
    let word = container.rsplit('_').next()?.to_ascii_lowercase();
    let usable = !word.is_empty()
        && word.chars().all(|character| character.is_ascii_alphanumeric())
        && word.starts_with(|c: char| c.is_ascii_alphabetic());
    usable.then_some(word)
}

impl Algorithm for DecodeLevel0 {
    fn name(&self) -> &str {
        "xtce-decode-l1a"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let instrument = &context.product.instrument;
        let packet_files: Vec<&InputFile> = inputs.iter().filter(|input| input.record.data_level == "l0").collect();
        if packet_files.is_empty() {
            return Err(ScienceError::MissingInput("l0 packets".into()));
        }
        let definition = self.definition(instrument)?;
        let mut decoded_files = Vec::new();
        let mut problems = Vec::new();
        for input in packet_files {
            context.check_cancelled()?;
            let file_name = &input.record.file_name;
            let decoded = definition.decode(&input.bytes);
            problems.extend(decoded.problems.iter().map(|problem| format!("{file_name}: {problem}")));
            if decoded.packet_count() == 0 {
                let first = problems.first().cloned().unwrap_or_else(|| "the file is empty".into());
                return Err(ScienceError::BadInput {
                    file: file_name.clone(),
                    reason: format!("no packet could be decoded ({first})"),
                });
            }
            decoded_files.push((file_name, decoded));
        }
        // Packets the definition describes only down to the primary header (no container of
        // their APID) have no time and no science: they are reported, not written.
        let (timed, untimed): (Vec<FileGroup>, Vec<FileGroup>) = decoded_files
            .iter()
            .flat_map(|(file_name, decoded)| decoded.groups.iter().map(move |group| (*file_name, group)))
            .partition(|(_, group)| group.field(MET_FIELD).is_some());
        for (file_name, group) in &untimed {
            problems.push(format!(
                "{file_name}: {} packets of apid {} match no container below {} and have no {MET_FIELD}; not written",
                group.len(),
                group.apid,
                group.container
            ));
        }
        if timed.is_empty() {
            let first_problems = problems.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
            return Err(ScienceError::Failed(format!(
                "no packet matches a container with {MET_FIELD}: {first_problems}"
            )));
        }
        let containers: BTreeMap<u16, String> =
            timed.iter().map(|(_, group)| (group.apid, group.container.clone())).collect();
        let descriptors = self.descriptors_by_apid(instrument, &containers);
        let mut series_by_descriptor: BTreeMap<String, Vec<TimeSeries>> = BTreeMap::new();
        for (file_name, group) in timed {
            let series = group_to_series(group, &self.clock)
                .map_err(|reason| ScienceError::BadInput { file: file_name.to_string(), reason })?;
            for descriptor in &descriptors[&group.apid] {
                series_by_descriptor.entry(descriptor.clone()).or_default().push(series.clone());
            }
            if let Some(mode) = mag_vectors::mode_of(instrument, group.apid) {
                let sensors = mag_vectors::split_sensors(group, &self.clock)
                    .map_err(|reason| ScienceError::BadInput { file: file_name.to_string(), reason })?;
                problems.extend(sensors.problems.iter().map(|problem| format!("{file_name}: {problem}")));
                series_by_descriptor.entry(format!("{mode}-mago")).or_default().push(sensors.mago);
                series_by_descriptor.entry(format!("{mode}-magi")).or_default().push(sensors.magi);
            }
        }
        if !problems.is_empty() {
            tracing::warn!(count = problems.len(), first = %problems[0], "packets could not be decoded or have no container");
        }
        let per_descriptor_files = inputs
            .iter()
            .filter(|input| input.record.data_level == "l0")
            .all(|input| input.record.descriptor == context.product.descriptor);
        select_job_descriptors(&context.product.descriptor, per_descriptor_files, &mut series_by_descriptor)?;
        let parents: Vec<String> = inputs.iter().map(|input| input.record.file_name.clone()).collect();
        // Each descriptor's file is written on its own thread of the CPU pool.
        series_by_descriptor
            .into_par_iter()
            .map(|(descriptor, parts)| {
                context.check_cancelled()?;
                let series = concat_same_layout(&descriptor, parts)?;
                let data_level = mission_sublevel(instrument, &descriptor, &context.product.data_level);
                let level = data_level.as_deref().unwrap_or(&context.product.data_level);
                let mut globals = product_globals_at(context, level, &descriptor, &parents);
                globals
                    .extra
                    .push(("Packet_problem_count".into(), vec![AttributeEntry::text(problems.len().to_string())]));
                if !problems.is_empty() {
                    globals.extra.push(("Packet_problems".into(), listed_problems(&problems)));
                }
                Ok(ProductOutput {
                    data_level,
                    bytes: series.into_cdf_bytes(globals)?,
                    descriptor,
                    extension: "cdf".into(),
                    notes: problems.iter().take(LISTED_PROBLEMS).cloned().collect(),
                })
            })
            .collect()
    }
}

/// A job for one descriptor (not `all`) writes just that one. When no APID maps to it, the
/// level-0 files are that descriptor's own (`imap_codice_l0_hskp_...`) and they hold a single
/// layout, that layout is the descriptor's; packets of a `raw` file are never renamed (a SWAPI
/// `l1 hk` job given only science packets fails rather than write them as housekeeping).
fn select_job_descriptors(
    job_descriptor: &str,
    per_descriptor_files: bool,
    series_by_descriptor: &mut BTreeMap<String, Vec<TimeSeries>>,
) -> Result<(), ScienceError> {
    if job_descriptor == "all" {
        return Ok(());
    }
    if series_by_descriptor.contains_key(job_descriptor) {
        series_by_descriptor.retain(|descriptor, _| descriptor == job_descriptor);
        return Ok(());
    }
    if per_descriptor_files && series_by_descriptor.len() == 1 {
        let (_, parts) = series_by_descriptor.pop_first().expect("one entry");
        series_by_descriptor.insert(job_descriptor.to_string(), parts);
        return Ok(());
    }
    let found: Vec<&String> = series_by_descriptor.keys().collect();
    Err(ScienceError::Failed(format!("no apid maps to descriptor {job_descriptor}; the packets map to {found:?}")))
}

fn concat_same_layout(descriptor: &str, parts: Vec<TimeSeries>) -> Result<TimeSeries, ScienceError> {
    let names = |series: &TimeSeries| series.variables.iter().map(|variable| variable.name.clone()).collect::<Vec<_>>();
    if parts.windows(2).any(|pair| names(&pair[0]) != names(&pair[1])) {
        return Err(ScienceError::Failed(format!(
            "packets of different layouts map to descriptor {descriptor}; give their apids distinct descriptors in apid_descriptors"
        )));
    }
    if parts.len() == 1 {
        return Ok(parts.into_iter().next().expect("one part"));
    }
    Ok(TimeSeries::concat(parts))
}

fn listed_problems(problems: &[String]) -> Vec<AttributeEntry> {
    let mut entries: Vec<AttributeEntry> =
        problems.iter().take(LISTED_PROBLEMS).map(|problem| AttributeEntry::text(problem.as_str())).collect();
    if problems.len() > LISTED_PROBLEMS {
        entries.push(AttributeEntry::text(format!("and {} more", problems.len() - LISTED_PROBLEMS)));
    }
    entries
}

/// The packets of one group as a time series in file order, timed by `clock`.
pub fn group_to_series(group: &PacketGroup, clock: &SclkKernel) -> Result<TimeSeries, String> {
    let met = group
        .field(MET_FIELD)
        .and_then(|field| crate::science::series::to_numbers(&column_values(&field.raw).0))
        .ok_or_else(|| {
            format!(
                "packets of apid {} (container {}) have no numeric {MET_FIELD} to time them",
                group.apid, group.container
            )
        })?;
    let epoch = met.into_iter().map(|met| clock.met_to_tt2000(met)).collect();
    let mut variables = Vec::new();
    for field in &group.fields {
        push_column(&mut variables, &field.name, &field.raw, format!("{} raw value", field.name));
        if let Some(derived) = &field.derived {
            let name = format!("{}_DERIVED", field.name);
            push_column(&mut variables, &name, derived, format!("{} calibrated or enumerated", field.name));
        }
    }
    Ok(TimeSeries { epoch, variables })
}

fn push_column(variables: &mut Vec<SeriesVariable>, name: &str, column: &Column, catdesc: String) {
    let (values, dims, lengths) = column_values(column);
    variables.push(SeriesVariable::new(name, values, &dims).with_catdesc(catdesc));
    if let Some(lengths) = lengths {
        let catdesc = format!("bytes of {name} used in each record (the rest is padding)");
        variables
            .push(SeriesVariable::new(format!("{name}_NBYTES"), Values::UInt4(lengths), &[]).with_catdesc(catdesc));
    }
}

/// CDF values of a column, the record shape, and for binary fields of varying length the
/// length of each value (values are zero-padded to the longest).
pub fn column_values(column: &Column) -> (Values, Vec<usize>, Option<Vec<u32>>) {
    match column {
        Column::U64(values) => match values.iter().all(|&value| value <= u32::MAX as u64) {
            true => (Values::UInt4(values.iter().map(|&value| value as u32).collect()), vec![], None),
            false => (Values::Int8(values.iter().map(|&value| value as i64).collect()), vec![], None),
        },
        Column::I64(values) => (Values::Int8(values.clone()), vec![], None),
        Column::F64(values) => (Values::Real8(values.clone()), vec![], None),
        Column::Text(values) => (
            Values::Char((0..values.len()).map(|row| values.get(row).unwrap_or("").to_string()).collect()),
            vec![],
            None,
        ),
        Column::Label(values) => (
            Values::Char((0..values.codes.len()).map(|row| values.get(row).unwrap_or("").to_string()).collect()),
            vec![],
            None,
        ),
        Column::Bytes(values) => {
            let lengths: Vec<u32> = values.offsets.windows(2).map(|pair| (pair[1] - pair[0]) as u32).collect();
            let width = lengths.iter().copied().max().unwrap_or(0).max(1) as usize;
            let mut padded = Vec::with_capacity(width * lengths.len());
            for row in 0..values.len() {
                let value = values.get(row).unwrap_or(&[]);
                padded.extend_from_slice(value);
                padded.resize(padded.len() + width - value.len(), 0);
            }
            let varying = lengths.iter().any(|&length| length as usize != width);
            (Values::UInt1(padded), vec![width], varying.then_some(lengths))
        }
    }
}
