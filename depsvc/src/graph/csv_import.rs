//! Import of the mission's `dependency_config.csv` files, in both of their formats.
//!
//! - The old 8-column format (no header): `primary_instrument, primary_data_level,
//!   primary_descriptor, dependent_instrument, dependent_data_level, dependent_descriptor,
//!   relationship (HARD|SOFT), direction`.
//! - The later format, whose first line names the columns `primary_source, primary_data_type,
//!   primary_descriptor, dependent_source, dependent_data_type, dependent_descriptor,
//!   relationship, dependency_type` (in any order). Primary sources may be SPICE kernel types
//!   (data type `spice`), `spin`, `repoint`, or ancillary descriptors (data type `ancillary`).
//!
//! In both, `", "` is read as `","`, lines starting with `#` and empty lines are skipped, and
//! the direction column is ignored as the mission's loader does: every row says "dependent
//! needs primary". `SOFT` is read as `SOFT_TRIGGER`. Every dependent becomes a product with a
//! same-day input per row; windows do not exist in these formats.

use std::collections::HashMap;

use super::GraphError;
use super::model::{Graph, InputSource, Product, ProductInput, ProductKey, Relationship, SpiceDescriptor, TimeWindow};

const OLD_FORMAT_FIELD_COUNT: usize = 8;
const HEADER_COLUMNS: [&str; 8] = [
    "primary_source",
    "primary_data_type",
    "primary_descriptor",
    "dependent_source",
    "dependent_data_type",
    "dependent_descriptor",
    "relationship",
    "dependency_type",
];

/// One dependency row, in header-column order.
struct Row<'a> {
    line: usize,
    fields: [&'a str; 8],
}

impl Graph {
    /// Reads either mission CSV format; the header line, when present, selects the later one.
    pub fn from_dependency_csv(text: &str) -> Result<Graph, GraphError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
            .peekable();
        let mut column_positions: Option<[usize; 8]> = None;
        let mut expected_field_count = OLD_FORMAT_FIELD_COUNT;
        if let Some(&(line_number, header)) = lines.peek()
            && split_fields(header).first() == Some(&"primary_source")
        {
            let names = split_fields(header);
            column_positions = Some(header_positions(&names, line_number)?);
            expected_field_count = names.len();
            lines.next();
        }
        let mut builder = GraphBuilder::default();
        for (line_number, line) in lines {
            let fields = split_fields(line);
            if fields.len() != expected_field_count {
                return Err(GraphError::Csv {
                    line: line_number,
                    message: format!("expected {expected_field_count} fields, found {}", fields.len()),
                });
            }
            let ordered = match column_positions {
                Some(positions) => positions.map(|position| fields[position]),
                None => std::array::from_fn(|index| fields[index]),
            };
            let row = Row { line: line_number, fields: ordered };
            let later_format = column_positions.is_some();
            builder.add_row(&row, later_format)?;
        }
        Ok(builder.finish())
    }
}

fn split_fields(line: &str) -> Vec<&str> {
    // The mission's loader replaces ", " by ","; trimming every field does that and more.
    line.split(',').map(str::trim).collect()
}

fn header_positions(names: &[&str], line: usize) -> Result<[usize; 8], GraphError> {
    let mut positions = [0; 8];
    for (slot, column) in HEADER_COLUMNS.iter().enumerate() {
        positions[slot] = names
            .iter()
            .position(|name| name == column)
            .ok_or_else(|| GraphError::Csv { line, message: format!("header lacks column {column}") })?;
    }
    Ok(positions)
}

#[derive(Default)]
struct GraphBuilder {
    products: Vec<Product>,
    index_by_key: HashMap<ProductKey, usize>,
}

impl GraphBuilder {
    fn add_row(&mut self, row: &Row<'_>, later_format: bool) -> Result<(), GraphError> {
        let [
            primary_source,
            primary_type,
            primary_descriptor,
            dependent_source,
            dependent_type,
            dependent_descriptor,
            relationship,
            direction,
        ] = row.fields;
        let error = |message: String| GraphError::Csv { line: row.line, message };
        if [primary_source, primary_type, primary_descriptor, dependent_source, dependent_type, dependent_descriptor]
            .iter()
            .any(|field| field.is_empty())
        {
            return Err(error("empty field".to_string()));
        }
        let relationship = parse_relationship(relationship, later_format)
            .ok_or_else(|| error(format!("unknown relationship {relationship:?}")))?;
        if !matches!(direction.to_ascii_uppercase().as_str(), "UPSTREAM" | "DOWNSTREAM") {
            return Err(error(format!("unknown direction {direction:?}")));
        }
        let source = if later_format {
            later_format_source(primary_source, primary_type, primary_descriptor)
        } else {
            InputSource::Science(ProductKey::new(primary_source, primary_type, primary_descriptor))
        };
        if later_format && matches!(dependent_type, "spice" | "spin" | "repoint" | "ancillary") {
            return Err(error(format!("dependent {dependent_source} {dependent_type} is not a science product")));
        }
        let input = ProductInput { source, relationship, window: TimeWindow::SameDay, every_day: false };
        let key = ProductKey::new(dependent_source, dependent_type, dependent_descriptor);
        let index = *self.index_by_key.entry(key.clone()).or_insert_with(|| {
            self.products.push(Product::new(key, Vec::new()));
            self.products.len() - 1
        });
        let inputs = &mut self.products[index].inputs;
        if !inputs.contains(&input) {
            inputs.push(input);
        }
        Ok(())
    }

    fn finish(self) -> Graph {
        Graph::new(self.products)
    }
}

fn parse_relationship(text: &str, later_format: bool) -> Option<Relationship> {
    match (text.to_ascii_uppercase().as_str(), later_format) {
        ("HARD", _) => Some(Relationship::Hard),
        ("SOFT", _) | ("SOFT_TRIGGER", true) => Some(Relationship::SoftTrigger),
        ("HARD_NO_TRIGGER", true) => Some(Relationship::HardNoTrigger),
        ("SOFT_NO_TRIGGER", true) => Some(Relationship::SoftNoTrigger),
        _ => None,
    }
}

fn later_format_source(source: &str, data_type: &str, descriptor: &str) -> InputSource {
    match data_type {
        "ancillary" => InputSource::Ancillary { instrument: source.to_string(), descriptor: descriptor.to_string() },
        // A SPICE descriptor other than `best` (`historical`, or anything older files said) is
        // read as `historical`.
        "spice" => InputSource::Spice {
            kernel_types: vec![source.to_string()],
            descriptor: SpiceDescriptor::parse(descriptor).unwrap_or_default(),
        },
        "spin" => InputSource::Spin,
        "repoint" => InputSource::Repoint,
        level => InputSource::Science(ProductKey::new(source, level, descriptor)),
    }
}
