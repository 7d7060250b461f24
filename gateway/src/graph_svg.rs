//! The product graph drawn as a picture: an SVG with one column per processing level and a curve per
//! input, made here so the page needs nothing from outside.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use imap_filename::VALID_DATALEVELS;
use proto::pb::{GetGraphResponse, JobState, Relationship};

const NODE_WIDTH: i32 = 190;
const NODE_HEIGHT: i32 = 20;
const ROW_GAP: i32 = 6;
const COLUMN_GAP: i32 = 56;
const MARGIN: i32 = 20;
const PALETTE: [&str; 8] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"];

/// Fill of a product by the state of its latest job.
fn state_fill(state: JobState) -> Option<&'static str> {
    match state {
        JobState::Queued => Some("#c9ced6"),
        JobState::Running => Some("#8ab8f5"),
        JobState::Succeeded => Some("#9ad8ac"),
        JobState::Failed | JobState::Dead => Some("#f3a5a5"),
        _ => None,
    }
}

/// Renders the graph, or only the products of `instrument` and their inputs when one is given;
/// `latest_states` (product label to the state of its latest job) colours the products that ran.
pub fn render(
    graph: &GetGraphResponse,
    instrument: Option<&str>,
    latest_states: &BTreeMap<String, JobState>,
) -> String {
    let wanted = |product_label: &str| instrument.is_none_or(|name| product_label.split(' ').next() == Some(name));
    let mut edges: Vec<(String, String, Relationship)> = Vec::new();
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    for product in &graph.products {
        let label = product.to_string();
        if wanted(&label) {
            nodes.insert(label);
        }
    }
    for edge in &graph.edges {
        let Some(product) = &edge.product else { continue };
        let target = product.to_string();
        if !wanted(&target) {
            continue;
        }
        nodes.insert(edge.input.clone());
        nodes.insert(target.clone());
        edges.push((edge.input.clone(), target, edge.relationship()));
    }
    let mut columns: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for node in &nodes {
        columns.entry(column_of(node)).or_default().push(node);
    }
    let mut positions: BTreeMap<&str, (i32, i32)> = BTreeMap::new();
    for (column, labels) in &columns {
        for (row, label) in labels.iter().enumerate() {
            let x = MARGIN + *column as i32 * (NODE_WIDTH + COLUMN_GAP);
            let y = MARGIN + 24 + row as i32 * (NODE_HEIGHT + ROW_GAP);
            positions.insert(label.as_str(), (x, y));
        }
    }
    let tallest = columns.values().map(Vec::len).max().unwrap_or(0) as i32;
    let width = MARGIN * 2 + 6 * (NODE_WIDTH + COLUMN_GAP);
    let legend_y = MARGIN + 24 + tallest * (NODE_HEIGHT + ROW_GAP) + 8;
    let height = legend_y + 12 + MARGIN;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" style=\"max-width:{width}px\" viewBox=\"0 0 {width} {height}\" \
         font-family=\"sans-serif\" font-size=\"11\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>"
    );
    for (column, title) in ["inputs, l0", "l1, l1a", "l1b", "l1c, l1d", "l2", "l3"].iter().enumerate() {
        let x = MARGIN + column as i32 * (NODE_WIDTH + COLUMN_GAP);
        let _ = write!(svg, "<text x=\"{x}\" y=\"{}\" font-weight=\"bold\" fill=\"#333\">{title}</text>", MARGIN + 8);
    }
    for (source, target, relationship) in &edges {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (positions.get(source.as_str()), positions.get(target.as_str()))
        else {
            continue;
        };
        let (start_x, start_y, end_x, end_y) = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2, x2, y2 + NODE_HEIGHT / 2);
        let bend = (end_x - start_x).abs() / 2 + 20;
        let dash = if *relationship == Relationship::Hard { "" } else { " stroke-dasharray=\"4 3\"" };
        let _ = write!(
            svg,
            "<path d=\"M{start_x},{start_y} C{},{start_y} {},{end_y} {end_x},{end_y}\" fill=\"none\" stroke=\"{}\" \
             stroke-opacity=\"0.6\"{dash}/>",
            start_x + bend,
            end_x - bend,
            colour(source)
        );
    }
    for (label, (x, y)) in &positions {
        let state = latest_states.get(*label).copied().unwrap_or_default();
        let (fill, opacity) = state_fill(state).map(|fill| (fill, "1")).unwrap_or((colour(label), "0.18"));
        let _ = write!(
            svg,
            "<g><title>{text} {state}</title><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"4\" \
             fill=\"{fill}\" fill-opacity=\"{opacity}\" stroke=\"{}\"/><text x=\"{}\" y=\"{}\" fill=\"#111\">{text}</text></g>",
            colour(label),
            x + 6,
            y + 14,
            text = escape(label)
        );
    }
    for (index, state) in
        [JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Failed].into_iter().enumerate()
    {
        let x = MARGIN + index as i32 * 90;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{legend_y}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{state}</text>",
            state_fill(state).unwrap_or_default(),
            x + 16,
            legend_y + 10
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Column of a node: inputs from outside the science chain and level 0 first, then one per level group.
fn column_of(label: &str) -> usize {
    let tokens: Vec<&str> = label.split_whitespace().collect();
    let level = tokens.iter().find(|token| VALID_DATALEVELS.contains(token)).copied().unwrap_or("");
    match level {
        "l1" | "l1a" => 1,
        "l1b" => 2,
        "l1c" | "l1ca" | "l1cb" | "l1d" => 3,
        level if level.starts_with("l2") => 4,
        level if level.starts_with("l3") => 5,
        _ => 0,
    }
}

/// One colour per instrument (the first word that is not a source type).
fn colour(label: &str) -> &'static str {
    let instrument = label
        .split_whitespace()
        .find(|word| !["science", "ancillary", "spice", "spin", "repoint"].contains(word))
        .unwrap_or("");
    let hash = instrument.bytes().fold(7u32, |hash, byte| hash.wrapping_mul(31).wrapping_add(u32::from(byte)));
    PALETTE[hash as usize % PALETTE.len()]
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::pb::{GraphEdge, ProductKey};

    #[test]
    fn draws_every_product_and_edge_in_level_columns() {
        let product = |instrument: &str, data_level: &str, descriptor: &str| ProductKey {
            instrument: instrument.into(),
            data_level: data_level.into(),
            descriptor: descriptor.into(),
        };
        let graph = GetGraphResponse {
            products: vec![product("swapi", "l1", "all"), product("mag", "l2", "norm<x>")],
            edges: vec![
                GraphEdge {
                    product: Some(product("swapi", "l1", "all")),
                    input: "swapi l0 raw".into(),
                    relationship: Relationship::Hard.into(),
                    window: String::new(),
                },
                GraphEdge {
                    product: Some(product("mag", "l2", "norm<x>")),
                    input: "ancillary mag cal".into(),
                    relationship: Relationship::SoftTrigger.into(),
                    window: String::new(),
                },
            ],
            dot: String::new(),
        };
        let svg = render(&graph, None, &BTreeMap::new());
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 4 + 4);
        assert_eq!(svg.matches("<path").count(), 2);
        assert!(svg.contains("norm&lt;x&gt;"));
        let states = BTreeMap::from([("swapi l1 all".to_string(), JobState::Succeeded)]);
        let only_swapi = render(&graph, Some("swapi"), &states);
        assert_eq!(only_swapi.matches("<rect x=").count(), 2 + 4);
        assert!(only_swapi.contains("fill=\"#9ad8ac\" fill-opacity=\"1\""));
        assert_eq!(column_of("swapi l0 raw"), 0);
        assert_eq!(column_of("mag l1d norm-dsrf"), 3);
        assert_eq!(column_of("hi l3 sky"), 5);
    }
}
