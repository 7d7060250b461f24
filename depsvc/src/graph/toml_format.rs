//! Our TOML format for product graphs.
//!
//! One `[[product]]` table per product; its inputs are an array `input` of tables (inline as
//! below, or `[[product.input]]` tables, which is how the writer emits them).
//!
//! ```toml
//! [[product]]
//! instrument = "mag"
//! level = "l1a"
//! descriptor = "all"
//! input = [{ science = "mag l0 raw" }]
//!
//! [[product]]
//! instrument = "swe"
//! level = "l3"
//! descriptor = "sci"
//! input = [
//!   { science = "swe l2 sci" },
//!   { science = "mag l1d norm-dsrf", days_before = 1, days_after = 1, every_day = true },
//!   { ancillary = "swe calibration", relationship = "soft_trigger" },
//!   { spice = ["leapseconds", "spacecraft_clock"], relationship = "hard_no_trigger" },
//! ]
//!
//! [[product]]
//! instrument = "hi"
//! level = "l2"
//! descriptor = "map-1mo"
//! cadence = "monthly"          # daily (default) | monthly | carrington | repointing | 10d | 3mo | 6mo | 1yr
//! input = [{ science = "hi l1c 45sensor-pset", window = "month" }]
//!
//! [[product]]
//! instrument = "swapi"
//! level = "l1"
//! descriptor = "hk"
//! input = [{ science = "swapi l0 raw" }]
//! output = [{ science = "swapi l1a hk", major_version = 1 }]
//! ```
//!
//! Product fields besides the key: `cadence` (the mission's partition: `daily`, `monthly`,
//! `carrington`, `repointing`, `<N>d` blocks, `3mo`/`6mo`/`1yr` map seasons) and `output`, what
//! the job writes (`science = "<instrument> <level> <descriptor>"` or
//! `ancillary = "<instrument> <descriptor>"`, with an optional `major_version`); without
//! `output` a product writes its own key.
//!
//! Input fields:
//! - exactly one source: `science = "<instrument> <level> <descriptor>"`,
//!   `ancillary = "<instrument> <descriptor>"`, `spice = [<kernel type>, ...]` (with
//!   `spice_descriptor = "best"` for the mission's `best` kernels; `historical` by default),
//!   `spin = true`, `repoint = true`;
//! - `relationship`: `hard` (default), `hard_no_trigger`, `soft_trigger`, `soft_no_trigger`;
//! - window: same day by default; `days_before` / `days_after` for N days around the date;
//!   `window = "month"` (calendar month) or `window = "carrington"` (Carrington rotation);
//!   `repointings_before` / `repointings_after` for a span of repointings;
//!   `hours_before` / `hours_after` for hours around the product's period;
//!   `window = "period"` (optionally with `days_before` / `days_after`) for the product's whole
//!   period; `nearest_days = N`, `nearest_repointings = N`, `last = N` for the N nearest days or
//!   repointings that have files, or the N most recent files (see `TimeWindow`);
//! - `every_day = true`: every day (or repointing) of the window needs a file, not just one.

use serde::{Deserialize, Serialize};

use super::GraphError;
use super::model::{
    Cadence, Graph, InputSource, OutputStream, Product, ProductInput, ProductKey, ProductOutput, Relationship,
    SpiceDescriptor, TimeWindow,
};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphFile {
    #[serde(rename = "product", default)]
    products: Vec<ProductEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductEntry {
    instrument: String,
    level: String,
    descriptor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cadence: Option<String>,
    #[serde(rename = "input", default)]
    inputs: Vec<InputEntry>,
    #[serde(rename = "output", default, skip_serializing_if = "Vec::is_empty")]
    outputs: Vec<OutputEntry>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    science: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ancillary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    major_version: Option<u16>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    science: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ancillary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spice: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spice_descriptor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spin: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repoint: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    relationship: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days_before: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days_after: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repointings_before: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repointings_after: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hours_before: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hours_after: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nearest_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nearest_repointings: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    every_day: bool,
}

impl Graph {
    /// Parses our TOML graph format (see the `toml_format` module docs).
    pub fn from_toml_str(text: &str) -> Result<Graph, GraphError> {
        let file: GraphFile = toml::from_str(text).map_err(|error| GraphError::Toml(error.to_string()))?;
        let products = file.products.into_iter().map(product_from_entry).collect::<Result<Vec<_>, _>>()?;
        Ok(Graph::new(products))
    }

    /// Writes the graph in our TOML format; `from_toml_str` reads it back unchanged.
    pub fn to_toml_string(&self) -> Result<String, GraphError> {
        let file = GraphFile { products: self.products().iter().map(entry_from_product).collect() };
        toml::to_string(&file).map_err(|error| GraphError::TomlWrite(error.to_string()))
    }
}

fn product_from_entry(entry: ProductEntry) -> Result<Product, GraphError> {
    let key = ProductKey { instrument: entry.instrument, data_level: entry.level, descriptor: entry.descriptor };
    let invalid = |message: String| GraphError::InvalidProduct { product: key.to_string(), message };
    let cadence = match entry.cadence.as_deref() {
        None => Cadence::Daily,
        Some(text) => Cadence::parse(text).ok_or_else(|| invalid(format!("unknown cadence {text:?}")))?,
    };
    let outputs = convert_each(entry.outputs, "output", output_from_entry, &invalid)?;
    let inputs = convert_each(entry.inputs, "input", input_from_entry, &invalid)?;
    Ok(Product { key, cadence, inputs, outputs })
}

/// Converts each entry; a failing one is named by its kind and position (`input 3: ...`).
fn convert_each<Entry, Item>(
    entries: Vec<Entry>,
    kind: &str,
    convert: impl Fn(Entry) -> Result<Item, String>,
    invalid: &impl Fn(String) -> GraphError,
) -> Result<Vec<Item>, GraphError> {
    entries
        .into_iter()
        .enumerate()
        .map(|(index, entry)| convert(entry).map_err(|message| invalid(format!("{kind} {}: {message}", index + 1))))
        .collect()
}

fn output_from_entry(entry: OutputEntry) -> Result<ProductOutput, String> {
    let stream = match (&entry.science, &entry.ancillary) {
        (Some(text), None) => OutputStream::Science(
            ProductKey::parse_words(text)
                .ok_or_else(|| format!("science output {text:?} is not \"instrument level descriptor\""))?,
        ),
        (None, Some(text)) => {
            let (instrument, descriptor) = instrument_and_descriptor(text)?;
            OutputStream::Ancillary { instrument, descriptor }
        }
        _ => return Err("expected exactly one of science, ancillary".to_string()),
    };
    Ok(ProductOutput { stream, major_version: entry.major_version })
}

fn instrument_and_descriptor(text: &str) -> Result<(String, String), String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [instrument, descriptor] = words.as_slice() else {
        return Err(format!("ancillary {text:?} is not \"instrument descriptor\""));
    };
    Ok((instrument.to_string(), descriptor.to_string()))
}

fn input_from_entry(entry: InputEntry) -> Result<ProductInput, String> {
    let mut sources = Vec::new();
    if let Some(text) = &entry.science {
        let key = ProductKey::parse_words(text)
            .ok_or_else(|| format!("science source {text:?} is not \"instrument level descriptor\""))?;
        sources.push(InputSource::Science(key));
    }
    if let Some(text) = &entry.ancillary {
        let (instrument, descriptor) = instrument_and_descriptor(text)?;
        sources.push(InputSource::Ancillary { instrument, descriptor });
    }
    if let Some(kernel_types) = &entry.spice {
        if kernel_types.is_empty() {
            return Err("spice source lists no kernel type".to_string());
        }
        let descriptor = match entry.spice_descriptor.as_deref() {
            None => SpiceDescriptor::Historical,
            Some(text) => SpiceDescriptor::parse(text)
                .ok_or_else(|| format!("unknown spice_descriptor {text:?} (expected historical or best)"))?,
        };
        sources.push(InputSource::Spice { kernel_types: kernel_types.clone(), descriptor });
    } else if entry.spice_descriptor.is_some() {
        return Err("spice_descriptor without a spice source".to_string());
    }
    if entry.spin == Some(true) {
        sources.push(InputSource::Spin);
    }
    if entry.repoint == Some(true) {
        sources.push(InputSource::Repoint);
    }
    if sources.len() != 1 {
        return Err(format!(
            "expected exactly one source (science, ancillary, spice, spin, repoint), found {}",
            sources.len()
        ));
    }
    let relationship = match entry.relationship.as_deref() {
        None => Relationship::Hard,
        Some(text) => Relationship::parse(text).ok_or_else(|| format!("unknown relationship {text:?}"))?,
    };
    Ok(ProductInput {
        source: sources.remove(0),
        relationship,
        window: window_from_entry(&entry)?,
        every_day: entry.every_day,
    })
}

fn window_from_entry(entry: &InputEntry) -> Result<TimeWindow, String> {
    let pair = |before: Option<u32>, after: Option<u32>| {
        (before.is_some() || after.is_some()).then(|| (before.unwrap_or(0), after.unwrap_or(0)))
    };
    let days = pair(entry.days_before, entry.days_after);
    let repointings = pair(entry.repointings_before, entry.repointings_after);
    let hours = pair(entry.hours_before, entry.hours_after);
    let picks: Vec<TimeWindow> = [
        entry.nearest_days.map(|count| TimeWindow::NearestDays { count }),
        entry.nearest_repointings.map(|count| TimeWindow::NearestRepointings { count }),
        entry.last.map(|count| TimeWindow::LastProcessed { count }),
    ]
    .into_iter()
    .flatten()
    .collect();
    let families =
        usize::from(days.is_some()) + usize::from(repointings.is_some()) + usize::from(hours.is_some()) + picks.len();
    if families > 1 {
        return Err("days, repointings, hours, nearest_days, nearest_repointings and last windows exclude each other"
            .to_string());
    }
    let window = match (entry.window.as_deref(), days, repointings, hours, picks.first()) {
        (None | Some("same_day"), None, None, None, None) => TimeWindow::SameDay,
        (None | Some("days"), Some((before, after)), _, _, _) => TimeWindow::Days { before, after },
        (Some("period"), days, None, None, None) => {
            let (before, after) = days.unwrap_or((0, 0));
            TimeWindow::Period { before, after }
        }
        (None | Some("repointings"), None, Some((before, after)), _, _) => TimeWindow::Repointings { before, after },
        (None | Some("hours"), None, None, Some((before, after)), _) => TimeWindow::Hours { before, after },
        (None, None, None, None, Some(window)) => *window,
        (Some("month"), None, None, None, None) => TimeWindow::CalendarMonth,
        (Some("carrington"), None, None, None, None) => TimeWindow::CarringtonRotation,
        (Some(other), _, _, _, _) => {
            return Err(format!("window {other:?} does not fit the other window fields"));
        }
    };
    Ok(window)
}

fn entry_from_product(product: &Product) -> ProductEntry {
    ProductEntry {
        instrument: product.key.instrument.clone(),
        level: product.key.data_level.clone(),
        descriptor: product.key.descriptor.clone(),
        cadence: (product.cadence != Cadence::Daily).then(|| product.cadence.to_string()),
        inputs: product.inputs.iter().map(entry_from_input).collect(),
        outputs: product.outputs.iter().map(entry_from_output).collect(),
    }
}

fn entry_from_output(output: &ProductOutput) -> OutputEntry {
    let mut entry = OutputEntry { major_version: output.major_version, ..OutputEntry::default() };
    match &output.stream {
        OutputStream::Science(key) => entry.science = Some(key.to_string()),
        OutputStream::Ancillary { instrument, descriptor } => {
            entry.ancillary = Some(format!("{instrument} {descriptor}"))
        }
    }
    entry
}

fn entry_from_input(input: &ProductInput) -> InputEntry {
    let mut entry = InputEntry { every_day: input.every_day, ..InputEntry::default() };
    match &input.source {
        InputSource::Science(key) => entry.science = Some(key.to_string()),
        InputSource::Ancillary { instrument, descriptor } => {
            entry.ancillary = Some(format!("{instrument} {descriptor}"))
        }
        InputSource::Spice { kernel_types, descriptor } => {
            entry.spice = Some(kernel_types.clone());
            if *descriptor != SpiceDescriptor::Historical {
                entry.spice_descriptor = Some(descriptor.as_str().to_string());
            }
        }
        InputSource::Spin => entry.spin = Some(true),
        InputSource::Repoint => entry.repoint = Some(true),
    }
    if input.relationship != Relationship::Hard {
        entry.relationship = Some(input.relationship.as_str().to_string());
    }
    match input.window {
        TimeWindow::SameDay => {}
        TimeWindow::Days { before, after } => {
            entry.days_before = Some(before);
            entry.days_after = Some(after);
        }
        TimeWindow::CalendarMonth => entry.window = Some("month".to_string()),
        TimeWindow::CarringtonRotation => entry.window = Some("carrington".to_string()),
        TimeWindow::Repointings { before, after } => {
            entry.repointings_before = Some(before);
            entry.repointings_after = Some(after);
        }
        TimeWindow::Hours { before, after } => {
            entry.hours_before = Some(before);
            entry.hours_after = Some(after);
        }
        TimeWindow::Period { before, after } => {
            entry.window = Some("period".to_string());
            entry.days_before = (before > 0).then_some(before);
            entry.days_after = (after > 0).then_some(after);
        }
        TimeWindow::NearestDays { count } => entry.nearest_days = Some(count),
        TimeWindow::NearestRepointings { count } => entry.nearest_repointings = Some(count),
        TimeWindow::LastProcessed { count } => entry.last = Some(count),
    }
    entry
}
