//! Human views of a graph: a text listing and Graphviz DOT.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::model::{
    Graph, InputSource, OutputStream, Product, ProductInput, Relationship, SpiceDescriptor, TimeWindow,
};

impl Graph {
    /// A listing grouped by instrument (alphabetically; products in graph order): one line per
    /// product with its cadence (the mission's partition), one `->` line per declared output
    /// with its major version (or the major version on the product's line when it writes only
    /// its own key), one `<-` line per input with whether it is required, whether it triggers,
    /// and its window.
    pub fn to_text(&self) -> String {
        let mut instruments: Vec<&str> =
            self.products().iter().map(|product| product.key.instrument.as_str()).collect();
        instruments.sort_unstable();
        instruments.dedup();
        let mut text = String::new();
        for instrument in instruments {
            let products: Vec<&Product> =
                self.products().iter().filter(|product| product.key.instrument == instrument).collect();
            let _ = writeln!(text, "# {instrument} ({} products)", products.len());
            for product in products {
                let writes_itself_only = matches!(product.outputs.as_slice(),
                    [output] if output.stream == OutputStream::Science(product.key.clone()));
                match (writes_itself_only, product.outputs.first().and_then(|output| output.major_version)) {
                    (true, Some(major)) => {
                        let _ = writeln!(text, "{} ({}, major {major})", product.key, product.cadence);
                    }
                    _ => {
                        let _ = writeln!(text, "{} ({})", product.key, product.cadence);
                    }
                }
                for output in product.outputs.iter().filter(|_| !writes_itself_only) {
                    let major = output.major_version.map(|major| format!(" (major {major})")).unwrap_or_default();
                    let _ = writeln!(text, "  -> {}{major}", output.stream);
                }
                for (source, description) in input_lines(product) {
                    let _ = writeln!(text, "  <- {source} [{description}]");
                }
            }
            text.push('\n');
        }
        text
    }

    /// A `digraph` with one node per product (boxes) plus one per outside source (ellipses:
    /// level 0, ancillary, SPICE, spin, repoint), and one edge per input, drawn from the
    /// product that writes it. Edge style: hard solid, hard-no-trigger dashed, soft-trigger
    /// dotted, soft-no-trigger dotted grey. When the writing product is not the key read (a
    /// level's `all` product, a job with several outputs), the key read labels the edge: its
    /// descriptor, with its level when that differs from the job's. The outside SPICE and
    /// ancillary inputs of a product that share a relationship are drawn as one node and edge
    /// (`spice leapseconds+spacecraft_clock`), which keeps the mission's graph renderable.
    pub fn to_dot(&self) -> String {
        let mut dot = String::from("digraph products {\n  rankdir=LR;\n  node [shape=box];\n");
        for product in self.products() {
            let _ = writeln!(dot, "  {};", quoted(&product.key.to_string()));
        }
        let mut outside_sources = BTreeSet::new();
        let mut edges = String::new();
        for product in self.products() {
            let target = quoted(&product.key.to_string());
            let mut edge = |from: &str, relationship: Relationship, label: Option<String>| {
                let mut attributes = vec![edge_style(relationship).to_string()];
                if let Some(label) = label {
                    attributes.push(format!("label={}", quoted(&label)));
                }
                let _ = writeln!(edges, "  {} -> {target} [{}];", quoted(from), attributes.join(", "));
            };
            // (node prefix, relationship) -> names merged into one outside node.
            let mut merged: Vec<(String, Relationship, Vec<String>)> = Vec::new();
            let mut merge = |prefix: String, relationship: Relationship, names: Vec<String>| match merged
                .iter_mut()
                .find(|(known, known_relationship, _)| *known == prefix && *known_relationship == relationship)
            {
                Some((_, _, known_names)) => known_names.extend(names),
                None => merged.push((prefix, relationship, names)),
            };
            for input in &product.inputs {
                match (&input.source, self.producer_of_source(&input.source)) {
                    (InputSource::Science(key), Some(producer)) if producer.key == *key => {
                        edge(&key.to_string(), input.relationship, None)
                    }
                    // A job writing other keys labels the edge with the key read.
                    (InputSource::Science(key), Some(producer)) if producer.key.data_level == key.data_level => {
                        edge(&producer.key.to_string(), input.relationship, Some(key.descriptor.clone()))
                    }
                    (InputSource::Science(key), Some(producer)) => edge(
                        &producer.key.to_string(),
                        input.relationship,
                        Some(format!("{} {}", key.data_level, key.descriptor)),
                    ),
                    (InputSource::Ancillary { descriptor, .. }, Some(producer)) => {
                        edge(&producer.key.to_string(), input.relationship, Some(format!("ancillary {descriptor}")))
                    }
                    (InputSource::Spice { kernel_types, descriptor }, _) => {
                        let best = if *descriptor == SpiceDescriptor::Best { "(best)" } else { "" };
                        let names = kernel_types.iter().map(|kernel_type| format!("{kernel_type}{best}")).collect();
                        merge("spice".to_string(), input.relationship, names);
                    }
                    (InputSource::Ancillary { instrument, descriptor }, None) => {
                        merge(format!("ancillary {instrument}"), input.relationship, vec![descriptor.clone()]);
                    }
                    // Level 0 is named by its key, spin and repoint by their kind.
                    (InputSource::Science(key), None) => {
                        outside_sources.insert(key.to_string());
                        edge(&key.to_string(), input.relationship, None);
                    }
                    (other, _) => {
                        outside_sources.insert(other.to_string());
                        edge(&other.to_string(), input.relationship, None);
                    }
                }
            }
            for (prefix, relationship, names) in merged {
                let node = format!("{prefix} {}", names.join("+"));
                edge(&node, relationship, None);
                outside_sources.insert(node);
            }
        }
        for source in outside_sources {
            let _ = writeln!(dot, "  {} [shape=ellipse];", quoted(&source));
        }
        dot.push_str(&edges);
        dot.push_str("}\n");
        dot
    }
}

/// One (source, description) line per input, except that SPICE inputs with the same
/// description share one line (`spice leapseconds, spacecraft_clock`), at the first one's place.
fn input_lines(product: &Product) -> Vec<(String, String)> {
    let mut lines: Vec<(String, String)> = Vec::new();
    for input in &product.inputs {
        let description = describe_input(input);
        if let InputSource::Spice { kernel_types, descriptor } = &input.source {
            let best = if *descriptor == SpiceDescriptor::Best { " (best)" } else { "" };
            let names: Vec<String> = kernel_types.iter().map(|kernel_type| format!("{kernel_type}{best}")).collect();
            match lines.iter_mut().find(|(source, known)| source.starts_with("spice ") && *known == description) {
                Some((source, _)) => source.push_str(&format!(", {}", names.join(", "))),
                None => lines.push((format!("spice {}", names.join(", ")), description)),
            }
        } else {
            lines.push((input.source.to_string(), description));
        }
    }
    lines
}

fn describe_input(input: &ProductInput) -> String {
    let required = if input.relationship.is_required() { "required" } else { "optional" };
    let triggers = if input.relationship.triggers() { "triggers" } else { "no trigger" };
    let window = match input.window {
        TimeWindow::SameDay => "same day".to_string(),
        TimeWindow::Days { before, after } => format!("days -{before}..+{after}"),
        TimeWindow::CalendarMonth => "calendar month".to_string(),
        TimeWindow::CarringtonRotation => "carrington rotation".to_string(),
        TimeWindow::Repointings { before: 0, after: 0 } => "same repointing".to_string(),
        TimeWindow::Repointings { before, after } => format!("repointings -{before}..+{after}"),
        TimeWindow::Hours { before, after } => format!("period, hours -{before}..+{after}"),
        TimeWindow::Period { before: 0, after: 0 } => "period".to_string(),
        TimeWindow::Period { before, after } => format!("period, days -{before}..+{after}"),
        TimeWindow::NearestDays { count } => format!("nearest {count} days with files"),
        TimeWindow::NearestRepointings { count } => format!("nearest {count} repointings with files"),
        TimeWindow::LastProcessed { count } => format!("last {count} processed"),
    };
    let every_day = if input.every_day { ", every day" } else { "" };
    format!("{required}, {triggers}, {window}{every_day}")
}

fn edge_style(relationship: Relationship) -> &'static str {
    match relationship {
        Relationship::Hard => "style=solid",
        Relationship::HardNoTrigger => "style=dashed",
        Relationship::SoftTrigger => "style=dotted",
        Relationship::SoftNoTrigger => "style=dotted, color=grey",
    }
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}
