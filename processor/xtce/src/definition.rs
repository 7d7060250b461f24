//! Loading of the XTCE XML into the model, checking every element against the subset this
//! module supports: the document structure, parameters and containers.

use std::collections::HashMap;

use roxmltree::Node;

use crate::XtceError;
use crate::encoding::load_parameter_type;
use crate::model::{CompareOp, ComparisonModel, ContainerModel, Entry, Model};
use crate::xml::{bool_attribute, check_children, required, significant, unsupported, unsupported_value};

pub(crate) fn load_model(xml: &str) -> Result<Model, XtceError> {
    let document = roxmltree::Document::parse(xml)?;
    let root = document.root_element();
    if root.tag_name().name() != "SpaceSystem" {
        return Err(unsupported(root, "the document root"));
    }
    let mut model = Model { parameter_types: HashMap::new(), parameters: HashMap::new(), containers: Vec::new() };
    for child in significant(root) {
        match child.tag_name().name() {
            "TelemetryMetaData" => load_telemetry(child, &mut model)?,
            // Commands are never decoded from telemetry packets.
            "CommandMetaData" => {}
            _ => return Err(unsupported(child, "SpaceSystem")),
        }
    }
    Ok(model)
}

fn load_telemetry(node: Node, model: &mut Model) -> Result<(), XtceError> {
    for set in significant(node) {
        match set.tag_name().name() {
            "ParameterTypeSet" => {
                for type_node in significant(set) {
                    let parameter_type = load_parameter_type(type_node)?;
                    let name = parameter_type.name.clone();
                    if model.parameter_types.insert(name.clone(), parameter_type).is_some() {
                        return Err(XtceError::Duplicate { kind: "parameter type", name });
                    }
                }
            }
            "ParameterSet" => {
                for parameter in significant(set) {
                    let (name, type_name) = load_parameter(parameter)?;
                    if model.parameters.insert(name.clone(), type_name).is_some() {
                        return Err(XtceError::Duplicate { kind: "parameter", name });
                    }
                }
            }
            "ContainerSet" => {
                for container in significant(set) {
                    model.containers.push(load_container(container)?);
                }
            }
            _ => return Err(unsupported(set, "TelemetryMetaData")),
        }
    }
    Ok(())
}

fn load_parameter(node: Node) -> Result<(String, String), XtceError> {
    if node.tag_name().name() != "Parameter" {
        return Err(unsupported(node, "ParameterSet"));
    }
    let name = required(node, "name", "ParameterSet")?.to_string();
    let context = format!("parameter \"{name}\"");
    check_children(node, &[], &context)?;
    let type_name = required(node, "parameterTypeRef", &context)?.to_string();
    Ok((name, type_name))
}

fn load_container(node: Node) -> Result<ContainerModel, XtceError> {
    if node.tag_name().name() != "SequenceContainer" {
        return Err(unsupported(node, "ContainerSet"));
    }
    let name = required(node, "name", "ContainerSet")?.to_string();
    let context = format!("container \"{name}\"");
    let is_abstract = bool_attribute(node, "abstract", false, &context)?;
    let mut container = ContainerModel { name, is_abstract, base: None, criteria: Vec::new(), entries: Vec::new() };
    for child in significant(node) {
        match child.tag_name().name() {
            "EntryList" => {
                for entry in significant(child) {
                    container.entries.push(load_entry(entry, &context)?);
                }
            }
            "BaseContainer" if container.base.is_none() => {
                container.base = Some(required(child, "containerRef", &context)?.to_string());
                for criteria in significant(child) {
                    if criteria.tag_name().name() != "RestrictionCriteria" {
                        return Err(unsupported(criteria, &context));
                    }
                    container.criteria.extend(load_criteria(criteria, &context)?);
                }
            }
            _ => return Err(unsupported(child, &context)),
        }
    }
    Ok(container)
}

fn load_entry(node: Node, context: &str) -> Result<Entry, XtceError> {
    // Location, repeat and include-condition children change decoding and are not supported.
    check_children(node, &[], context)?;
    match node.tag_name().name() {
        "ParameterRefEntry" => Ok(Entry::Parameter(required(node, "parameterRef", context)?.to_string())),
        "ContainerRefEntry" => Ok(Entry::Container(required(node, "containerRef", context)?.to_string())),
        _ => Err(unsupported(node, context)),
    }
}

fn load_criteria(node: Node, context: &str) -> Result<Vec<ComparisonModel>, XtceError> {
    let mut comparisons = Vec::new();
    for child in significant(node) {
        match child.tag_name().name() {
            "Comparison" => comparisons.push(load_comparison(child, context)?),
            "ComparisonList" => {
                for comparison in significant(child) {
                    if comparison.tag_name().name() != "Comparison" {
                        return Err(unsupported(comparison, context));
                    }
                    comparisons.push(load_comparison(comparison, context)?);
                }
            }
            _ => return Err(unsupported(child, context)),
        }
    }
    Ok(comparisons)
}

fn load_comparison(node: Node, context: &str) -> Result<ComparisonModel, XtceError> {
    check_children(node, &[], context)?;
    let operator = node.attribute("comparisonOperator").unwrap_or("==");
    let op = match operator {
        "==" => CompareOp::Equal,
        "!=" => CompareOp::NotEqual,
        "<" | "&lt;" => CompareOp::Less,
        "<=" | "&lt;=" => CompareOp::LessOrEqual,
        ">" | "&gt;" => CompareOp::Greater,
        ">=" | "&gt;=" => CompareOp::GreaterOrEqual,
        other => return Err(unsupported_value("comparison operator", other, context)),
    };
    Ok(ComparisonModel {
        parameter: required(node, "parameterRef", context)?.to_string(),
        op,
        value: required(node, "value", context)?.to_string(),
        use_calibrated: bool_attribute(node, "useCalibratedValue", true, context)?,
    })
}
