//! Small helpers over roxmltree for walking XTCE elements and reading their attributes,
//! with errors that name the element and where it was found.

use std::str::FromStr;

use roxmltree::Node;

use crate::XtceError;

/// Elements that only document the definition and never change how bits are decoded.
pub(crate) const DOCUMENTATION: &[&str] = &[
    "ShortDescription",
    "LongDescription",
    "AliasSet",
    "AncillaryDataSet",
    "UnitSet",
    "ParameterProperties",
    "DefaultRateInStream",
    "Header",
];

pub(crate) fn elements<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(|child| child.is_element())
}

/// Element children that can change decoding, i.e. all but documentation.
pub(crate) fn significant<'a, 'input>(node: Node<'a, 'input>) -> impl Iterator<Item = Node<'a, 'input>> {
    elements(node).filter(|child| !DOCUMENTATION.contains(&child.tag_name().name()))
}

pub(crate) fn check_children(node: Node, allowed: &[&str], context: &str) -> Result<(), XtceError> {
    match significant(node).find(|child| !allowed.contains(&child.tag_name().name())) {
        Some(child) => Err(unsupported(child, context)),
        None => Ok(()),
    }
}

/// The one significant child, which must be named `name`.
pub(crate) fn single_child<'a, 'input>(
    node: Node<'a, 'input>,
    name: &str,
    context: &str,
) -> Result<Node<'a, 'input>, XtceError> {
    let mut children = significant(node);
    let child = children.next().ok_or_else(|| missing(name, context))?;
    if child.tag_name().name() != name {
        return Err(unsupported(child, context));
    }
    match children.next() {
        Some(extra) => Err(unsupported(extra, context)),
        None => Ok(child),
    }
}

pub(crate) fn unsupported(node: Node, context: &str) -> XtceError {
    let element = node.tag_name().name().to_string();
    XtceError::UnsupportedElement { element, context: context.to_string() }
}

pub(crate) fn unsupported_value(what: &'static str, value: impl ToString, context: &str) -> XtceError {
    let value = value.to_string();
    XtceError::UnsupportedValue { what, value, context: context.to_string() }
}

pub(crate) fn unknown(kind: &'static str, name: &str, context: &str) -> XtceError {
    let name = name.to_string();
    XtceError::UnknownReference { kind, name, context: context.to_string() }
}

pub(crate) fn missing(what: &str, context: &str) -> XtceError {
    XtceError::Missing { what: what.to_string(), context: context.to_string() }
}

fn invalid(attribute: &'static str, value: &str, context: &str) -> XtceError {
    let value = value.to_string();
    XtceError::InvalidAttribute { attribute, value, context: context.to_string() }
}

pub(crate) fn required<'a>(node: Node<'a, '_>, attribute: &str, context: &str) -> Result<&'a str, XtceError> {
    node.attribute(attribute).ok_or_else(|| {
        let element = node.tag_name().name();
        missing(&format!("attribute \"{attribute}\" on \"{element}\""), context)
    })
}

/// Parses an attribute (or element text) value, naming it in the error.
pub(crate) fn parse<T: FromStr>(text: &str, attribute: &'static str, context: &str) -> Result<T, XtceError> {
    text.trim().parse().map_err(|_| invalid(attribute, text, context))
}

pub(crate) fn attribute_or<T: FromStr>(
    node: Node,
    attribute: &'static str,
    default: T,
    context: &str,
) -> Result<T, XtceError> {
    node.attribute(attribute).map_or(Ok(default), |text| parse(text, attribute, context))
}

pub(crate) fn bool_attribute(
    node: Node,
    attribute: &'static str,
    default: bool,
    context: &str,
) -> Result<bool, XtceError> {
    match node.attribute(attribute) {
        None => Ok(default),
        Some(text) if text.eq_ignore_ascii_case("true") || text == "1" => Ok(true),
        Some(text) if text.eq_ignore_ascii_case("false") || text == "0" => Ok(false),
        Some(text) => Err(invalid(attribute, text, context)),
    }
}

/// Bytes of a hexadecimal string such as a `TerminationChar`.
pub(crate) fn parse_hex(text: &str, context: &str) -> Result<Vec<u8>, XtceError> {
    let digits = text.trim();
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    let bytes: Option<Vec<u8>> =
        (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok()).collect();
    match bytes {
        Some(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(invalid("TerminationChar", text, context)),
    }
}
