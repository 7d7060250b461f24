//! The product dependency graph used by `depsvc`.
//!
//! A [`Graph`] lists products (instrument, level, descriptor) and, for each, the inputs it
//! needs: science files of any instrument and level, ancillary files, SPICE kernels, spin and
//! repoint tables, each with a relationship (required or optional, triggering or not) and a
//! time window relative to the product's date (same day, N days around it, its calendar
//! month, its Carrington rotation, or a span of repointings).
//!
//! It answers the two questions of the service:
//! - "what is downstream of this file?" ([`Graph::downstream`]): the products, and the product
//!   dates, that a newly arrived file triggers;
//! - "for product P at time T, which exact files are its inputs, or what is missing?", in two
//!   pure phases so that the file lookup can be local or remote and async:
//!   [`Graph::input_queries`] says what to look for, [`Graph::select`] decides from the
//!   candidates found. [`resolve`] runs both over a [`Catalog`] such as [`MemoryCatalog`].
//!
//! A product is a processing job: the mission's `(instrument, level, descriptor)` job, which
//! may write several products (its [`ProductOutput`]s, by default its own key), on a cadence
//! (the mission's "partition": daily, per repointing, N-day blocks, map seasons).
//!
//! Graphs come from our own TOML format ([`toml_format`]), from the mission's YAML dependency
//! files ([`mission_yaml`], [`Graph::from_mission_yaml`], the vendored set in
//! [`Graph::mission_yaml`]), from the mission's older dependency CSV files
//! ([`Graph::from_dependency_csv`]), or from the project's built-in TOML graph
//! ([`Graph::project`]). The mission's YAML files are the default. [`check`] finds cycles, unknown names, dangling inputs, duplicates and breaches of
//! the mission's documented rules; [`Graph::to_text`] and [`Graph::to_dot`] show it.

mod catalog;
mod check;
mod csv_import;
mod downstream;
mod file_record;
mod mission;
pub mod mission_yaml;
mod model;
mod resolve;
mod show;
pub mod toml_format;
mod window;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_mission_semantics;
#[cfg(test)]
mod tests_validity;

/// The only place that names the calendar date type; siblings use `super::Date`.
pub(crate) use imap_filename::Date;

pub use catalog::{Catalog, MemoryCatalog};
pub use check::{GraphProblem, KNOWN_DATA_LEVELS, KNOWN_INSTRUMENTS, KNOWN_KERNEL_TYPES, check};
pub use downstream::downstream_with_science;
pub use file_record::{FileKind, FileRecord, Version};
pub use mission::{MISSION_GRAPH_TOML, MISSION_YAML_FILES};
pub use model::{
    Cadence, Graph, InputSource, MapSeason, OutputStream, Product, ProductInput, ProductKey, ProductOutput,
    ProductTime, Relationship, SpiceDescriptor, TimeWindow,
};
pub use resolve::{Absent, InputQuery, MissingInput, QueryRange, Resolution, ResolvedInput, resolve};
pub use window::{
    DateRange, LAST_PROCESSED_LOOKBACK_DAYS, RepointingRange, carrington_rotation, carrington_rotation_days,
};

/// Everything that can go wrong while reading a graph or resolving against it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("invalid graph toml: {0}")]
    Toml(String),
    #[error("cannot write graph toml: {0}")]
    TomlWrite(String),
    #[error("product {product}: {message}")]
    InvalidProduct { product: String, message: String },
    #[error("dependency csv line {line}: {message}")]
    Csv { line: usize, message: String },
    /// In one of the mission's YAML files: `location` names the file, line, job and field.
    #[error("{location}: {message}")]
    MissionYaml { location: String, message: String },
    #[error("unknown product {0}")]
    UnknownProduct(ProductKey),
    #[error("product {product} has a repointing window but the requested time has no repointing")]
    RepointingRequired { product: ProductKey },
    #[error("expected candidates for {expected} queries, got {got}")]
    CandidateCountMismatch { expected: usize, got: usize },
}
