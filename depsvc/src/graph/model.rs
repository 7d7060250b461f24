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
    Spice { kernel_types: Vec<String>, descriptor: SpiceDescriptor },
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
            InputSource::Spice { kernel_types, descriptor } => {
                write!(formatter, "spice {}", kernel_types.join("+"))?;
                match descriptor {
                    SpiceDescriptor::Historical => Ok(()),
                    SpiceDescriptor::Best => formatter.write_str(" (best)"),
                }
            }
            InputSource::Spin => formatter.write_str("spin"),
            InputSource::Repoint => formatter.write_str("repoint"),
        }
    }
}

impl InputSource {
    /// SPICE kernels of one type, `historical` (the common case).
    pub fn spice(kernel_type: &str) -> InputSource {
        InputSource::Spice { kernel_types: vec![kernel_type.to_string()], descriptor: SpiceDescriptor::Historical }
    }
}

/// Which kernels of a type a SPICE input accepts: the mission's `descriptor` of a SPICE input.
/// Kept for the later version-selection phase; resolution does not yet tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SpiceDescriptor {
    /// Kernels of what happened (reconstructed, definitive): the default.
    #[default]
    Historical,
    /// The best kernels available, predicted ones included.
    Best,
}

impl SpiceDescriptor {
    pub fn as_str(self) -> &'static str {
        match self {
            SpiceDescriptor::Historical => "historical",
            SpiceDescriptor::Best => "best",
        }
    }

    pub fn parse(text: &str) -> Option<SpiceDescriptor> {
        match text {
            "historical" => Some(SpiceDescriptor::Historical),
            "best" => Some(SpiceDescriptor::Best),
            _ => None,
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
///
/// The "period" of a product is the span its cadence gives its date: the day itself for daily and
/// repointing products, the month, the Carrington rotation, the N-day block or the map season.
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
    /// Files of `before` hours before the product's period to `after` hours after it. Files are
    /// dated by day, so any part of a day makes the whole day needed: `ceil(hours / 24)` days.
    Hours { before: u32, after: u32 },
    /// Files of the product's whole period, widened by `before` days before and `after` after.
    Period { before: u32, after: u32 },
    /// The `count` days nearest to the product's period that have files, looked for within
    /// `count` days on either side; the period's own days come first, ties go to the earlier day.
    NearestDays { count: u32 },
    /// The `count` repointings nearest to `R` that have files, looked for within `count`
    /// repointings on either side; `R` first, ties go to the earlier repointing.
    NearestRepointings { count: u32 },
    /// The `count` most recent files (by start date) starting at or before the end of the
    /// product's period, looked for within the year (366 days) before it.
    LastProcessed { count: u32 },
}

impl TimeWindow {
    /// For windows that choose files by repointing number: how many repointings before and
    /// after the product's they look at.
    pub fn repointing_reach(self) -> Option<(u32, u32)> {
        match self {
            TimeWindow::Repointings { before, after } => Some((before, after)),
            TimeWindow::NearestRepointings { count } => Some((count, count)),
            _ => None,
        }
    }

    /// Whether the files used depend on which files exist (nearest, last processed) rather than
    /// being all the files of a fixed range; `every_day` means nothing for those.
    pub fn picks_among_files(self) -> bool {
        matches!(
            self,
            TimeWindow::NearestDays { .. } | TimeWindow::NearestRepointings { .. } | TimeWindow::LastProcessed { .. }
        )
    }
}

/// The cadence of a product, or the mission's "partition" of a job: which dates are canonical
/// product dates, and which span (period) each stands for.
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
    /// One product per block of this many days, blocks counted from 1970-01-01 and dated by their
    /// first day (the mission's `10d` and `30d` IDEX partitions; the mission takes those block
    /// boundaries from a table of its own, so ours need not coincide with them).
    DayBlocks(u16),
    /// One product per ENA map season (the mission's `3mo`, `6mo`, `1yr` partitions).
    MapSeason(MapSeason),
}

/// The mission's ENA map windows. Seasons start on 17 January, 18 April, 18 July and 17 October
/// (`3mo`), on 17 January and 18 July (`6mo`), or on 17 January (`1yr`), and end the day before the
/// next one starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapSeason {
    ThreeMonths,
    SixMonths,
    OneYear,
}

impl Cadence {
    /// Products made when their period is over (the mission starts them on a schedule) rather
    /// than on the arrival of a file: they need no triggering input.
    pub fn is_scheduled(self) -> bool {
        matches!(self, Cadence::DayBlocks(_) | Cadence::MapSeason(_))
    }

    /// Reads our names (`daily`, `monthly`, `carrington`, `repointing`) and the mission's
    /// partitions (`daily`, `repoint`, `pointing_attitude`, `<N>d`, `3mo`, `6mo`, `1yr`).
    pub fn parse(text: &str) -> Option<Cadence> {
        match text {
            "daily" | "1d" => Some(Cadence::Daily),
            "monthly" => Some(Cadence::Monthly),
            "carrington" => Some(Cadence::CarringtonRotation),
            // The mission runs `pointing_attitude` jobs once per new pointing, as `repoint` ones.
            "repointing" | "repoint" | "pointing_attitude" => Some(Cadence::Repointing),
            "3mo" => Some(Cadence::MapSeason(MapSeason::ThreeMonths)),
            "6mo" => Some(Cadence::MapSeason(MapSeason::SixMonths)),
            "1yr" => Some(Cadence::MapSeason(MapSeason::OneYear)),
            other => {
                let days: u16 = other.strip_suffix('d')?.parse().ok()?;
                (days >= 2).then_some(Cadence::DayBlocks(days))
            }
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cadence::Daily => formatter.write_str("daily"),
            Cadence::Monthly => formatter.write_str("monthly"),
            Cadence::CarringtonRotation => formatter.write_str("carrington"),
            Cadence::Repointing => formatter.write_str("repointing"),
            Cadence::DayBlocks(days) => write!(formatter, "{days}d"),
            Cadence::MapSeason(MapSeason::ThreeMonths) => formatter.write_str("3mo"),
            Cadence::MapSeason(MapSeason::SixMonths) => formatter.write_str("6mo"),
            Cadence::MapSeason(MapSeason::OneYear) => formatter.write_str("1yr"),
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
    /// needs a file, instead of at least one file somewhere in it (the mission's
    /// `require_coverage`).
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

/// A file stream a job can write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutputStream {
    Science(ProductKey),
    /// Ancillary files (GLOWS L3b writes ancillary tables beside its science products).
    Ancillary {
        instrument: String,
        descriptor: String,
    },
}

impl OutputStream {
    /// The same stream as an input source, which is how consumers name it.
    pub fn as_source(&self) -> InputSource {
        match self {
            OutputStream::Science(key) => InputSource::Science(key.clone()),
            OutputStream::Ancillary { instrument, descriptor } => {
                InputSource::Ancillary { instrument: instrument.clone(), descriptor: descriptor.clone() }
            }
        }
    }

    pub fn instrument(&self) -> &str {
        match self {
            OutputStream::Science(key) => &key.instrument,
            OutputStream::Ancillary { instrument, .. } => instrument,
        }
    }
}

impl fmt::Display for OutputStream {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputStream::Science(key) => write!(formatter, "{key}"),
            OutputStream::Ancillary { instrument, descriptor } => {
                write!(formatter, "{instrument} ancillary {descriptor}")
            }
        }
    }
}

/// One file stream a job writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductOutput {
    pub stream: OutputStream,
    /// The major version of the files written; `None` when the configuration does not say.
    pub major_version: Option<u16>,
}

impl ProductOutput {
    pub fn science(key: ProductKey) -> ProductOutput {
        ProductOutput { stream: OutputStream::Science(key), major_version: None }
    }

    /// The major version, 1 when unsaid (as the mission's dependency reader assumes).
    pub fn major_version_or_default(&self) -> u16 {
        self.major_version.unwrap_or(1)
    }
}

/// A processing job: the mission's `(instrument, level, descriptor)` job, or one of our products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub key: ProductKey,
    /// The mission's "partition": which dates (or repointings) are jobs.
    pub cadence: Cadence,
    pub inputs: Vec<ProductInput>,
    /// What the job writes, possibly at other levels (SWAPI's `l1 hk` job writes `l1a hk`).
    /// Empty means the job writes files of its own key only.
    pub outputs: Vec<ProductOutput>,
}

impl Product {
    /// A daily product writing its own key, with these inputs.
    pub fn new(key: ProductKey, inputs: Vec<ProductInput>) -> Product {
        Product { key, cadence: Cadence::Daily, inputs, outputs: Vec::new() }
    }

    /// The declared outputs, or the product's own key when none are declared.
    pub fn effective_outputs(&self) -> Vec<ProductOutput> {
        if self.outputs.is_empty() { vec![ProductOutput::science(self.key.clone())] } else { self.outputs.clone() }
    }
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
    /// The first product writing each stream (several writers are reported by `check`).
    producer_by_stream: HashMap<SourceKey, usize>,
}

impl Graph {
    pub fn new(products: Vec<Product>) -> Graph {
        let mut index_by_key = HashMap::new();
        let mut triggers_by_source: HashMap<SourceKey, Vec<(usize, usize)>> = HashMap::new();
        let mut producer_by_stream = HashMap::new();
        for (product_index, product) in products.iter().enumerate() {
            index_by_key.entry(product.key.clone()).or_insert(product_index);
            for output in product.effective_outputs() {
                for source_key in output.stream.as_source().source_keys() {
                    producer_by_stream.entry(source_key).or_insert(product_index);
                }
            }
            for (input_index, input) in product.inputs.iter().enumerate() {
                if !input.relationship.triggers() {
                    continue;
                }
                for source_key in input.source.source_keys() {
                    triggers_by_source.entry(source_key).or_default().push((product_index, input_index));
                }
            }
        }
        Graph { products, index_by_key, triggers_by_source, producer_by_stream }
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

    /// The product whose jobs write files of `key`: the one declaring it as an output (a product
    /// without declared outputs writes its own key), else, by our older convention, the level's
    /// `all` product when that one declares no outputs (an `l1a all` job writes every `l1a`
    /// descriptor).
    pub fn producer_of(&self, key: &ProductKey) -> Option<&Product> {
        self.producer_of_source(&InputSource::Science(key.clone()))
    }

    /// The product writing a stream, for the sources jobs can write (science and ancillary).
    pub fn producer_of_source(&self, source: &InputSource) -> Option<&Product> {
        match source {
            InputSource::Science(key) => self
                .producer_by_stream
                .get(&SourceKey::Science(key.clone()))
                .map(|&index| &self.products[index])
                .or_else(|| self.producer_of_legacy_all(key)),
            InputSource::Ancillary { .. } => source
                .source_keys()
                .first()
                .and_then(|source_key| self.producer_by_stream.get(source_key))
                .map(|&index| &self.products[index]),
            InputSource::Spice { .. } | InputSource::Spin | InputSource::Repoint => None,
        }
    }

    fn producer_of_legacy_all(&self, key: &ProductKey) -> Option<&Product> {
        self.product(&ProductKey::new(&key.instrument, &key.data_level, "all"))
            .filter(|all_product| all_product.outputs.is_empty())
    }
}
