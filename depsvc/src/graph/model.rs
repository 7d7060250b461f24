//! The graph's data model: products, their inputs and windows, and the graph itself.

use std::collections::HashMap;
use std::fmt;

use super::Date;
use super::file_record::SourceKey;

/// A data product: what one processing job writes (`imap_<instrument>_<level>_<descriptor>_...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductKey {
    pub instrument: String,
    pub data_level: String,
    pub descriptor: String,
}

impl ProductKey {
    pub fn new(instrument: &str, data_level: &str, descriptor: &str) -> ProductKey {
        ProductKey {
            instrument: instrument.to_string(),
            data_level: data_level.to_string(),
            descriptor: descriptor.to_string(),
        }
    }

    /// Parses `"instrument level descriptor"` (whitespace separated).
    pub fn parse_words(text: &str) -> Option<ProductKey> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [instrument, data_level, descriptor] => Some(ProductKey::new(instrument, data_level, descriptor)),
            _ => None,
        }
    }

    /// Whether files of this key come from level-0 telemetry rather than from a product.
    pub fn is_level_zero(&self) -> bool {
        self.data_level == "l0" || self.descriptor == "raw"
    }
}

impl fmt::Display for ProductKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        proto::product::ProductName::new(&self.instrument, &self.data_level, &self.descriptor).fmt(formatter)
    }
}

/// Where an input's files come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InputSource {
    /// Science files of that instrument, level and descriptor.
    Science(ProductKey),
    /// Ancillary files (calibration tables...), matched by their validity range.
    Ancillary { instrument: String, descriptor: String },
    /// SPICE kernels of any of these types, matched by coverage range; each type is needed.
    Spice { kernel_types: Vec<String> },
    /// The spin table.
    Spin,
    /// The repoint table.
    Repoint,
}

impl fmt::Display for InputSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputSource::Science(key) => write!(formatter, "science {key}"),
            InputSource::Ancillary { instrument, descriptor } => {
                write!(formatter, "ancillary {instrument} {descriptor}")
            }
            InputSource::Spice { kernel_types } => {
                write!(formatter, "spice {}", kernel_types.join("+"))
            }
            InputSource::Spin => formatter.write_str("spin"),
            InputSource::Repoint => formatter.write_str("repoint"),
        }
    }
}

/// How an input constrains and triggers its product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Relationship {
    /// Required, and a new file triggers the product.
    #[default]
    Hard,
    /// Required, but a new file never triggers (leapseconds, frames: they rarely change).
    HardNoTrigger,
    /// Optional, and a new file triggers (e.g. a calibration that changes the output).
    SoftTrigger,
    /// Optional and never triggers (the later mission CSV's `SOFT_NO_TRIGGER`).
    SoftNoTrigger,
}

impl Relationship {
    pub fn is_required(self) -> bool {
        matches!(self, Relationship::Hard | Relationship::HardNoTrigger)
    }

    pub fn triggers(self) -> bool {
        matches!(self, Relationship::Hard | Relationship::SoftTrigger)
    }

    /// The name used in our TOML format.
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::Hard => "hard",
            Relationship::HardNoTrigger => "hard_no_trigger",
            Relationship::SoftTrigger => "soft_trigger",
            Relationship::SoftNoTrigger => "soft_no_trigger",
        }
    }

    pub fn parse(text: &str) -> Option<Relationship> {
        match text {
            "hard" => Some(Relationship::Hard),
            "hard_no_trigger" => Some(Relationship::HardNoTrigger),
            "soft_trigger" => Some(Relationship::SoftTrigger),
            "soft_no_trigger" => Some(Relationship::SoftNoTrigger),
            _ => None,
        }
    }
}

/// Which input files a product at date `D` (or repointing `R`) uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimeWindow {
    /// Files of day `D` only.
    #[default]
    SameDay,
    /// Files of `D - before ..= D + after`.
    Days { before: u32, after: u32 },
    /// Files of the calendar month containing `D`.
    CalendarMonth,
    /// Files of the Carrington rotation containing `D`.
    CarringtonRotation,
    /// Files of repointings `R - before ..= R + after` (repointing-based products).
    Repointings { before: u32, after: u32 },
}

/// The cadence of a product: which dates are canonical product dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cadence {
    /// One product per day.
    #[default]
    Daily,
    /// One product per calendar month, dated the first of the month.
    Monthly,
    /// One product per Carrington rotation, dated the rotation's first day.
    CarringtonRotation,
    /// One product per repointing.
    Repointing,
}

impl Cadence {
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Monthly => "monthly",
            Cadence::CarringtonRotation => "carrington",
            Cadence::Repointing => "repointing",
        }
    }

    pub fn parse(text: &str) -> Option<Cadence> {
        match text {
            "daily" => Some(Cadence::Daily),
            "monthly" => Some(Cadence::Monthly),
            "carrington" => Some(Cadence::CarringtonRotation),
            "repointing" => Some(Cadence::Repointing),
            _ => None,
        }
    }
}

/// One input of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductInput {
    pub source: InputSource,
    pub relationship: Relationship,
    pub window: TimeWindow,
    /// For a multi-day window of a required input: every day (or repointing) of the window
    /// needs a file, instead of at least one file somewhere in it.
    pub every_day: bool,
}

impl ProductInput {
    /// A required, triggering, same-day science input: the common case.
    pub fn science(instrument: &str, data_level: &str, descriptor: &str) -> ProductInput {
        ProductInput {
            source: InputSource::Science(ProductKey::new(instrument, data_level, descriptor)),
            relationship: Relationship::Hard,
            window: TimeWindow::SameDay,
            every_day: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub key: ProductKey,
    pub cadence: Cadence,
    pub inputs: Vec<ProductInput>,
}

/// When a product is made for: a date, and for repointing-based products the repointing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductTime {
    pub date: Date,
    pub repointing: Option<u32>,
}

impl ProductTime {
    pub fn on(date: Date) -> ProductTime {
        ProductTime { date, repointing: None }
    }
}

/// The product graph, with lookup tables built once.
#[derive(Debug, Clone)]
pub struct Graph {
    products: Vec<Product>,
    /// First product of each key (duplicates are reported by `check`).
    index_by_key: HashMap<ProductKey, usize>,
    /// For each file stream, the (product index, input index) pairs it triggers.
    triggers_by_source: HashMap<SourceKey, Vec<(usize, usize)>>,
}

impl Graph {
    pub fn new(products: Vec<Product>) -> Graph {
        let mut index_by_key = HashMap::new();
        let mut triggers_by_source: HashMap<SourceKey, Vec<(usize, usize)>> = HashMap::new();
        for (product_index, product) in products.iter().enumerate() {
            index_by_key.entry(product.key.clone()).or_insert(product_index);
            for (input_index, input) in product.inputs.iter().enumerate() {
                if !input.relationship.triggers() {
                    continue;
                }
                for source_key in input.source.source_keys() {
                    triggers_by_source.entry(source_key).or_default().push((product_index, input_index));
                }
            }
        }
        Graph { products, index_by_key, triggers_by_source }
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn product(&self, key: &ProductKey) -> Option<&Product> {
        self.index_by_key.get(key).map(|&index| &self.products[index])
    }

    /// The product's own date when `date` is another date of its period (a monthly product
    /// asked for the 17th is dated the 1st); `None` when `date` is the product's date.
    pub fn canonical_date_if_other(&self, key: &ProductKey, date: Date) -> Option<Date> {
        let canonical = self.product(key)?.cadence.canonical_date(date);
        (canonical != date).then_some(canonical)
    }

    pub(super) fn triggered_by(&self, source_key: &SourceKey) -> &[(usize, usize)] {
        self.triggers_by_source.get(source_key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The product whose jobs write files of `key`: the exact product, or the level's `all`
    /// product (an `l1a all` job writes every `l1a` descriptor).
    pub fn producer_of(&self, key: &ProductKey) -> Option<&Product> {
        self.product(key).or_else(|| self.product(&ProductKey::new(&key.instrument, &key.data_level, "all")))
    }
}
