//! Loading of parameter types: data encodings, calibrators and enumerations.

use roxmltree::Node;

use crate::XtceError;
use crate::model::{
    DynamicSize, Encoding, EnumerationEntry, FloatFormat, ParameterType, Polynomial, SizeSpec, StringBuffer,
    StringContent,
};
use crate::xml::{
    attribute_or, bool_attribute, check_children, missing, parse, parse_hex, required, significant, single_child,
    unsupported, unsupported_value,
};

pub(crate) fn load_parameter_type(node: Node) -> Result<ParameterType, XtceError> {
    let name = required(node, "name", "ParameterTypeSet")?.to_string();
    let context = format!("parameter type \"{name}\"");
    let kind = node.tag_name().name();
    let (allowed_encodings, has_enumeration): (&[&str], bool) = match kind {
        "IntegerParameterType" => (&["IntegerDataEncoding"], false),
        "FloatParameterType" => (&["FloatDataEncoding", "IntegerDataEncoding"], false),
        "EnumeratedParameterType" => (&["IntegerDataEncoding"], true),
        "BinaryParameterType" => (&["BinaryDataEncoding"], false),
        "StringParameterType" => (&["StringDataEncoding"], false),
        _ => return Err(unsupported(node, &context)),
    };
    let mut encoding = None;
    let mut calibrator = None;
    let mut enumeration = None;
    for child in significant(node) {
        let child_name = child.tag_name().name();
        if allowed_encodings.contains(&child_name) && encoding.is_none() {
            let (loaded, loaded_calibrator) = load_encoding(child, &context)?;
            encoding = Some(loaded);
            calibrator = loaded_calibrator;
        } else if has_enumeration && child_name == "EnumerationList" && enumeration.is_none() {
            enumeration = Some(load_enumeration(child, &context)?);
        } else {
            return Err(unsupported(child, &context));
        }
    }
    let encoding = encoding.ok_or_else(|| missing("a data encoding", &context))?;
    if has_enumeration && enumeration.is_none() {
        return Err(missing("EnumerationList", &context));
    }
    if has_enumeration && calibrator.is_some() {
        // The reference decoder's behaviour for a calibrated enumeration is not defined.
        let element = "DefaultCalibrator".to_string();
        return Err(XtceError::UnsupportedElement { element, context });
    }
    Ok(ParameterType { name, encoding, calibrator, enumeration })
}

fn load_encoding(node: Node, context: &str) -> Result<(Encoding, Option<Polynomial>), XtceError> {
    match node.tag_name().name() {
        "IntegerDataEncoding" => {
            let bits = attribute_or(node, "sizeInBits", 8, context)?;
            if !(1..=64).contains(&bits) {
                return Err(unsupported_value("integer size in bits", bits, context));
            }
            let signed = match node.attribute("encoding").unwrap_or("unsigned") {
                "unsigned" => false,
                "signed" | "twosComplement" | "twosCompliment" => true,
                other => return Err(unsupported_value("integer encoding", other, context)),
            };
            let little_endian = byte_order(node, context)?;
            let calibrator = load_default_calibrator(node, context)?;
            Ok((Encoding::Integer { bits, signed, little_endian }, calibrator))
        }
        "FloatDataEncoding" => {
            let bits = attribute_or(node, "sizeInBits", 32, context)?;
            let format = match node.attribute("encoding").unwrap_or("IEEE754_1985") {
                "IEEE754_1985" | "IEEE754" if matches!(bits, 16 | 32 | 64) => FloatFormat::Ieee754,
                "MILSTD_1750A" if bits == 32 => FloatFormat::MilStd1750a,
                other => {
                    let value = format!("{other} ({bits} bits)");
                    return Err(unsupported_value("float encoding", value, context));
                }
            };
            let little_endian = byte_order(node, context)?;
            let calibrator = load_default_calibrator(node, context)?;
            Ok((Encoding::Float { bits, format, little_endian }, calibrator))
        }
        "BinaryDataEncoding" => {
            let bit_order = node.attribute("bitOrder").unwrap_or("mostSignificantBitFirst");
            if bit_order != "mostSignificantBitFirst" {
                return Err(unsupported_value("bit order", bit_order, context));
            }
            let size_node = single_child(node, "SizeInBits", context)?;
            let mut size = None;
            for child in significant(size_node) {
                size = Some(match child.tag_name().name() {
                    "FixedValue" if size.is_none() => {
                        SizeSpec::Fixed(parse(child.text().unwrap_or(""), "FixedValue", context)?)
                    }
                    "DynamicValue" if size.is_none() => SizeSpec::Dynamic(load_dynamic(child, context)?),
                    _ => return Err(unsupported(child, context)),
                });
            }
            let size = size.ok_or_else(|| missing("FixedValue or DynamicValue", context))?;
            Ok((Encoding::Binary { size }, None))
        }
        "StringDataEncoding" => Ok((load_string_encoding(node, context)?, None)),
        _ => Err(unsupported(node, context)),
    }
}

fn load_string_encoding(node: Node, context: &str) -> Result<Encoding, XtceError> {
    let ascii_only = match node.attribute("encoding").unwrap_or("UTF-8") {
        "UTF-8" => false,
        "US-ASCII" => true,
        other => return Err(unsupported_value("string encoding", other, context)),
    };
    let size_node = significant(node).next().ok_or_else(|| missing("SizeInBits or Variable", context))?;
    check_children(node, &[size_node.tag_name().name()], context)?;
    let is_variable = match size_node.tag_name().name() {
        "SizeInBits" => false,
        "Variable" => true,
        _ => return Err(unsupported(size_node, context)),
    };
    let mut declared_buffer = None;
    let mut content = StringContent::Whole;
    for child in significant(size_node) {
        match (child.tag_name().name(), is_variable) {
            ("Fixed", false) => {
                let fixed_value = single_child(child, "FixedValue", context)?;
                let bits = parse(fixed_value.text().unwrap_or(""), "FixedValue", context)?;
                declared_buffer = Some(StringBuffer::Fixed(bits));
            }
            ("DynamicValue", true) => {
                declared_buffer = Some(StringBuffer::Dynamic(load_dynamic(child, context)?));
            }
            ("TerminationChar", _) => {
                let hex = child.text().unwrap_or("");
                content = StringContent::Terminated(parse_hex(hex, context)?);
            }
            ("LeadingSize", _) => {
                let bits = attribute_or(child, "sizeInBitsOfSizeTag", 16, context)?;
                if !(1..=64).contains(&bits) {
                    return Err(unsupported_value("leading size tag bits", bits, context));
                }
                content = StringContent::LeadingSize(bits);
            }
            _ => return Err(unsupported(child, context)),
        }
    }
    let buffer = match (declared_buffer, &content) {
        (Some(buffer), _) => buffer,
        (None, StringContent::LeadingSize(bits)) => StringBuffer::LeadingSizeOnly(*bits),
        (None, StringContent::Terminated(_)) => {
            let max_bits = size_node.attribute("maxSizeInBits").map(|v| parse(v, "maxSizeInBits", context));
            StringBuffer::TerminatorOnly { max_bits: max_bits.transpose()? }
        }
        (None, StringContent::Whole) => return Err(missing("a string buffer size", context)),
    };
    Ok(Encoding::String { buffer, content, ascii_only })
}

fn load_dynamic(node: Node, context: &str) -> Result<DynamicSize, XtceError> {
    let mut reference = None;
    let (mut slope, mut intercept) = (1.0, 0.0);
    for child in significant(node) {
        match child.tag_name().name() {
            "ParameterInstanceRef" if reference.is_none() => reference = Some(child),
            "LinearAdjustment" => {
                slope = attribute_or(child, "slope", 1.0, context)?;
                intercept = attribute_or(child, "intercept", 0.0, context)?;
            }
            _ => return Err(unsupported(child, context)),
        }
    }
    let reference = reference.ok_or_else(|| missing("ParameterInstanceRef", context))?;
    Ok(DynamicSize {
        parameter: required(reference, "parameterRef", context)?.to_string(),
        use_calibrated: bool_attribute(reference, "useCalibratedValue", true, context)?,
        slope,
        intercept,
    })
}

fn load_default_calibrator(node: Node, context: &str) -> Result<Option<Polynomial>, XtceError> {
    let mut calibrator = None;
    for child in significant(node) {
        if child.tag_name().name() != "DefaultCalibrator" || calibrator.is_some() {
            return Err(unsupported(child, context));
        }
        let polynomial = single_child(child, "PolynomialCalibrator", context)?;
        let mut terms = Vec::new();
        for term in significant(polynomial) {
            if term.tag_name().name() != "Term" {
                return Err(unsupported(term, context));
            }
            let coefficient = required(term, "coefficient", context)?;
            let coefficient = parse(coefficient, "coefficient", context)?;
            let exponent = required(term, "exponent", context)?;
            let exponent = exponent.trim().parse::<i32>().map_err(|_| XtceError::InvalidAttribute {
                attribute: "exponent",
                value: exponent.into(),
                context: context.into(),
            })?;
            terms.push((coefficient, exponent));
        }
        calibrator = Some(Polynomial { terms });
    }
    Ok(calibrator)
}

fn load_enumeration(node: Node, context: &str) -> Result<Vec<EnumerationEntry>, XtceError> {
    let mut entries = Vec::new();
    for child in significant(node) {
        if child.tag_name().name() != "Enumeration" {
            return Err(unsupported(child, context));
        }
        let label = required(child, "label", context)?.to_string();
        let value = parse(required(child, "value", context)?, "value", context)?;
        let max_value = match child.attribute("maxValue") {
            Some(max) => parse(max, "maxValue", context)?,
            None => value,
        };
        entries.push(EnumerationEntry { label, value, max_value });
    }
    Ok(entries)
}

fn byte_order(node: Node, context: &str) -> Result<bool, XtceError> {
    match node.attribute("byteOrder").unwrap_or("mostSignificantByteFirst") {
        "mostSignificantByteFirst" => Ok(false),
        "leastSignificantByteFirst" => Ok(true),
        other => Err(unsupported_value("byte order", other, context)),
    }
}
