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
//! cadence = "monthly"          # daily (default) | monthly | carrington | repointing
//! input = [{ science = "hi l1c 45sensor-pset", window = "month" }]
//! ```
//!
//! Input fields:
//! - exactly one source: `science = "<instrument> <level> <descriptor>"`,
//!   `ancillary = "<instrument> <descriptor>"`, `spice = [<kernel type>, ...]`, `spin = true`,
//!   `repoint = true`;
//! - `relationship`: `hard` (default), `hard_no_trigger`, `soft_trigger`, `soft_no_trigger`;
//! - window: same day by default; `days_before` / `days_after` for N days around the date;
//!   `window = "month"` (calendar month) or `window = "carrington"` (Carrington rotation);
//!   `repointings_before` / `repointings_after` for a span of repointings;
//! - `every_day = true`: every day (or repointing) of the window needs a file, not just one.

use serde::{Deserialize, Serialize};

use super::GraphError;
use super::model::{Cadence, Graph, InputSource, Product, ProductInput, ProductKey, Relationship, TimeWindow};

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
    let inputs = entry
        .inputs
        .into_iter()
        .enumerate()
        .map(|(index, input)| {
            input_from_entry(input).map_err(|message| invalid(format!("input {}: {message}", index + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Product { key, cadence, inputs })
}

fn input_from_entry(entry: InputEntry) -> Result<ProductInput, String> {
    let mut sources = Vec::new();
    if let Some(text) = &entry.science {
        let key = ProductKey::parse_words(text)
            .ok_or_else(|| format!("science source {text:?} is not \"instrument level descriptor\""))?;
        sources.push(InputSource::Science(key));
    }
    if let Some(text) = &entry.ancillary {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [instrument, descriptor] = words.as_slice() else {
            return Err(format!("ancillary source {text:?} is not \"instrument descriptor\""));
        };
        sources.push(InputSource::Ancillary { instrument: instrument.to_string(), descriptor: descriptor.to_string() });
    }
    if let Some(kernel_types) = &entry.spice {
        if kernel_types.is_empty() {
            return Err("spice source lists no kernel type".to_string());
        }
        sources.push(InputSource::Spice { kernel_types: kernel_types.clone() });
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
    let has_days = entry.days_before.is_some() || entry.days_after.is_some();
    let has_repointings = entry.repointings_before.is_some() || entry.repointings_after.is_some();
    let window = match (entry.window.as_deref(), has_days, has_repointings) {
        (_, true, true) => {
            return Err("days and repointings windows exclude each other".to_string());
        }
        (None | Some("days"), true, false) => {
            TimeWindow::Days { before: entry.days_before.unwrap_or(0), after: entry.days_after.unwrap_or(0) }
        }
        (None | Some("repointings"), false, true) => TimeWindow::Repointings {
            before: entry.repointings_before.unwrap_or(0),
            after: entry.repointings_after.unwrap_or(0),
        },
        (None | Some("same_day"), false, false) => TimeWindow::SameDay,
        (Some("month"), false, false) => TimeWindow::CalendarMonth,
        (Some("carrington"), false, false) => TimeWindow::CarringtonRotation,
        (Some(other), _, _) => {
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
        cadence: (product.cadence != Cadence::Daily).then(|| product.cadence.as_str().to_string()),
        inputs: product.inputs.iter().map(entry_from_input).collect(),
    }
}

fn entry_from_input(input: &ProductInput) -> InputEntry {
    let mut entry = InputEntry { every_day: input.every_day, ..InputEntry::default() };
    match &input.source {
        InputSource::Science(key) => entry.science = Some(key.to_string()),
        InputSource::Ancillary { instrument, descriptor } => {
            entry.ancillary = Some(format!("{instrument} {descriptor}"))
        }
        InputSource::Spice { kernel_types } => entry.spice = Some(kernel_types.clone()),
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
    }
    entry
}
