//! Human views of a graph: a text listing and Graphviz DOT.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::model::{Cadence, Graph, InputSource, ProductInput, Relationship, TimeWindow};

impl Graph {
    /// One line per product, then one indented line per input.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for product in self.products() {
            let cadence = match product.cadence {
                Cadence::Daily => String::new(),
                other => format!(" ({})", other.as_str()),
            };
            let _ = writeln!(text, "{}{cadence}", product.key);
            for input in &product.inputs {
                let _ = writeln!(text, "  <- {} [{}]", input.source, describe_input(input));
            }
        }
        text
    }

    /// A `digraph` with one node per product (boxes) plus one per outside source (ellipses:
    /// level 0, ancillary, SPICE, spin, repoint), and one edge per input, drawn from the
    /// product that writes it. Edge style: hard solid, hard-no-trigger dashed, soft-trigger
    /// dotted, soft-no-trigger dotted grey. A descriptor written by a level's `all` product
    /// labels its edge.
    pub fn to_dot(&self) -> String {
        let mut dot = String::from("digraph products {\n  rankdir=LR;\n  node [shape=box];\n");
        for product in self.products() {
            let _ = writeln!(dot, "  {};", quoted(&product.key.to_string()));
        }
        let mut outside_sources = BTreeSet::new();
        let mut edges = String::new();
        for product in self.products() {
            for input in &product.inputs {
                let (from, label) = match &input.source {
                    InputSource::Science(key) => match self.producer_of(key) {
                        Some(producer) if producer.key == *key => (key.to_string(), None),
                        Some(producer) => (producer.key.to_string(), Some(key.descriptor.clone())),
                        None => {
                            outside_sources.insert(key.to_string());
                            (key.to_string(), None)
                        }
                    },
                    other => {
                        outside_sources.insert(other.to_string());
                        (other.to_string(), None)
                    }
                };
                let mut attributes = vec![edge_style(input.relationship).to_string()];
                if let Some(label) = label {
                    attributes.push(format!("label={}", quoted(&label)));
                }
                let _ = writeln!(
                    edges,
                    "  {} -> {} [{}];",
                    quoted(&from),
                    quoted(&product.key.to_string()),
                    attributes.join(", ")
                );
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

fn describe_input(input: &ProductInput) -> String {
    let relationship = match input.relationship {
        Relationship::Hard => "hard",
        Relationship::HardNoTrigger => "hard, no trigger",
        Relationship::SoftTrigger => "soft, triggers",
        Relationship::SoftNoTrigger => "soft, no trigger",
    };
    let window = match input.window {
        TimeWindow::SameDay => "same day".to_string(),
        TimeWindow::Days { before, after } => format!("days -{before}..+{after}"),
        TimeWindow::CalendarMonth => "calendar month".to_string(),
        TimeWindow::CarringtonRotation => "carrington rotation".to_string(),
        TimeWindow::Repointings { before, after } => format!("repointings -{before}..+{after}"),
    };
    let every_day = if input.every_day { ", every day" } else { "" };
    format!("{relationship}, {window}{every_day}")
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
