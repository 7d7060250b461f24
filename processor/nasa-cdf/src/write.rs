//! Serialises a [`Cdf`] into CDF v3 bytes: row-major, IBMPC (little-endian)
//! values, single file, zVariables only.
//!
//! Record order: magic, CDR, GDR, then each attribute's ADR followed by its
//! entries, then each variable's zVDR, CPR (if compressed), VXRs and data
//! records. Offsets that are only known later (next-record links, end of file)
//! are patched in place.

use crate::layout::*;
use crate::model::{AttributeEntry, Cdf, Compression};
use crate::values::{Endian, Values};
use crate::write_variable::{gzip, write_cpr, write_variable};
use crate::{CdfError, Result};
use std::collections::HashSet;

const CDF_VERSION: i32 = 3;
const CDF_RELEASE: i32 = 9;
/// Date of the last leap second in the table used for TT2000 (YYYYMMDD).
const LEAP_SECOND_LAST_UPDATED: i32 = 20170101;

/// Serialises `cdf` to the bytes of a CDF v3 file. The caller writes them to
/// disk (atomically, if it wants).
pub fn write_cdf(cdf: &Cdf) -> Result<Vec<u8>> {
    let attributes = plan_attributes(cdf)?;
    let mut out = Output { bytes: Vec::with_capacity(estimated_size(cdf, &attributes)) };
    out.u32(MAGIC_V3);
    out.u32(MAGIC_UNCOMPRESSED);
    write_cdr(&mut out);
    let gdr_at = out.len();
    write_gdr(&mut out, attributes.len(), cdf.variables.len());

    let mut link_to_patch = gdr_at + 28; // GDR.ADRhead
    for (attribute_number, attribute) in attributes.iter().enumerate() {
        out.patch_i64(link_to_patch, out.len());
        link_to_patch = out.len() + 12; // ADR.ADRnext
        write_attribute(&mut out, attribute_number, attribute)?;
    }

    link_to_patch = gdr_at + 20; // GDR.zVDRhead
    for (variable_number, variable) in cdf.variables.iter().enumerate() {
        out.patch_i64(link_to_patch, out.len());
        link_to_patch = out.len() + 12; // VDR.VDRnext
        write_variable(&mut out, variable_number, variable)?;
    }
    out.patch_i64(gdr_at + 36, out.len()); // GDR.eof

    match cdf.file_compression {
        Compression::None => Ok(out.bytes),
        Compression::Gzip { level } => compress_file(&out.bytes, level),
    }
}

/// About the uncompressed file's size, so its buffer is allocated once rather than grown
/// (each growth copies everything written so far).
fn estimated_size(cdf: &Cdf, attributes: &[PlannedAttribute]) -> usize {
    const PER_VARIABLE: usize = ZVDR_BASE_SIZE + 10 * 8 + 8 + VXR_BASE_SIZE + 16 + VVR_HEADER_SIZE;
    let values: usize = cdf.variables.iter().map(|variable| variable.record_size() * variable.num_records()).sum();
    let entries: usize = attributes
        .iter()
        .flat_map(|attribute| &attribute.entries)
        .map(|(_, entry)| AEDR_HEADER_SIZE + entry.values.len() * entry.data_type.element_size().max(8))
        .sum();
    8 + CDR_SIZE + GDR_SIZE + attributes.len() * ADR_SIZE + entries + cdf.variables.len() * PER_VARIABLE + values
}

/// Big-endian writer for header fields, with in-place patching.
#[derive(Default)]
pub(crate) struct Output {
    pub(crate) bytes: Vec<u8>,
}

impl Output {
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
    pub(crate) fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }
    pub(crate) fn i32(&mut self, value: i32) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }
    pub(crate) fn count(&mut self, value: usize) {
        self.i32(i32::try_from(value).expect("counts are validated to fit i32"));
    }
    pub(crate) fn i64(&mut self, value: i64) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }
    pub(crate) fn offset(&mut self, value: usize) {
        self.i64(value as i64);
    }
    /// Record size and type, the common header of every internal record.
    pub(crate) fn header(&mut self, size: usize, record_type: i32) {
        self.offset(size);
        self.i32(record_type);
    }
    /// A NUL-padded fixed-width name field.
    pub(crate) fn fixed_text(&mut self, text: &str, width: usize) {
        let bytes = &text.as_bytes()[..text.len().min(width)];
        self.bytes.extend_from_slice(bytes);
        self.bytes.resize(self.bytes.len() + width - bytes.len(), 0);
    }
    pub(crate) fn patch_i64(&mut self, at: usize, value: usize) {
        self.bytes[at..at + 8].copy_from_slice(&(value as i64).to_be_bytes());
    }
}

fn write_cdr(out: &mut Output) {
    out.header(CDR_SIZE, CDR);
    out.offset(8 + CDR_SIZE); // GDR follows the CDR
    out.i32(CDF_VERSION);
    out.i32(CDF_RELEASE);
    out.i32(ENCODING_IBMPC);
    out.i32(CDR_FLAG_ROW_MAJOR | CDR_FLAG_SINGLE_FILE);
    out.i32(0); // rfuA
    out.i32(0); // rfuB
    out.i32(0); // increment
    out.i32(2); // identifier, as the NASA library writes it
    out.i32(-1); // rfuE
    let copyright = "\nCommon Data Format (CDF)\nhttps://cdf.gsfc.nasa.gov\nSpace Physics Data Facility\n\
                     NASA/Goddard Space Flight Center\nGreenbelt, Maryland 20771 USA\n";
    out.fixed_text(copyright, COPYRIGHT_LEN);
}

fn write_gdr(out: &mut Output, num_attributes: usize, num_zvariables: usize) {
    out.header(GDR_SIZE, GDR);
    out.i64(0); // rVDRhead: no rVariables
    out.i64(0); // zVDRhead, patched
    out.i64(0); // ADRhead, patched
    out.i64(0); // eof, patched
    out.i32(0); // NrVars
    out.count(num_attributes);
    out.i32(-1); // rMaxRec
    out.i32(0); // rNumDims
    out.count(num_zvariables);
    out.i64(0); // UIRhead
    out.i32(0); // rfuC
    out.i32(LEAP_SECOND_LAST_UPDATED);
    out.i32(-1); // rfuE
}

/// An attribute with its entries keyed by entry number (global) or variable
/// number (variable scope).
struct PlannedAttribute<'a> {
    name: &'a str,
    is_global: bool,
    entries: Vec<(usize, &'a AttributeEntry)>,
}

/// Numbers attributes: globals first, then variable attributes in order of
/// first appearance. Also validates names and entries.
fn plan_attributes(cdf: &Cdf) -> Result<Vec<PlannedAttribute<'_>>> {
    let mut variable_names = HashSet::new();
    for variable in &cdf.variables {
        variable.validate()?;
        if !variable_names.insert(variable.name.as_str()) {
            return Err(CdfError::InvalidVariable {
                name: variable.name.clone(),
                reason: "duplicate name".to_string(),
            });
        }
    }
    let mut planned: Vec<PlannedAttribute> = Vec::new();
    for attribute in &cdf.global_attributes {
        check_attribute_name(&attribute.name, &planned)?;
        for entry in &attribute.entries {
            entry.validate(&attribute.name)?;
        }
        planned.push(PlannedAttribute {
            name: &attribute.name,
            is_global: true,
            entries: attribute.entries.iter().enumerate().collect(),
        });
    }
    for (variable_number, variable) in cdf.variables.iter().enumerate() {
        for (name, entry) in &variable.attributes {
            match planned.iter_mut().find(|attribute| attribute.name == name) {
                Some(attribute) if attribute.is_global => {
                    let reason = "used both as a global and a variable attribute".to_string();
                    return Err(CdfError::InvalidAttribute { name: name.clone(), reason });
                }
                Some(attribute) => attribute.entries.push((variable_number, entry)),
                None => {
                    check_attribute_name(name, &planned)?;
                    // Variable attributes usually have an entry for most variables.
                    let mut entries = Vec::with_capacity(cdf.variables.len() - variable_number);
                    entries.push((variable_number, entry));
                    planned.push(PlannedAttribute { name, is_global: false, entries });
                }
            }
        }
    }
    if i32::try_from(planned.len()).is_err() {
        return Err(CdfError::InvalidAttribute { name: String::new(), reason: "too many attributes".to_string() });
    }
    Ok(planned)
}

fn check_attribute_name(name: &str, planned: &[PlannedAttribute]) -> Result<()> {
    let invalid = |reason: &str| CdfError::InvalidAttribute { name: name.to_string(), reason: reason.to_string() };
    if name.is_empty() || name.len() > NAME_LEN {
        return Err(invalid("name must have 1 to 256 bytes"));
    }
    if planned.iter().any(|attribute| attribute.name == name) {
        return Err(invalid("duplicate name"));
    }
    Ok(())
}

fn write_attribute(out: &mut Output, attribute_number: usize, attribute: &PlannedAttribute) -> Result<()> {
    let adr_at = out.len();
    let first_entry_at = if attribute.entries.is_empty() { 0 } else { adr_at + ADR_SIZE };
    let max_entry = attribute.entries.iter().map(|(number, _)| *number as i64).max().unwrap_or(-1);
    let entry_count = attribute.entries.len();
    out.header(ADR_SIZE, ADR);
    out.i64(0); // ADRnext, patched by the next attribute
    if attribute.is_global {
        out.offset(first_entry_at); // AgrEDRhead
        out.i32(SCOPE_GLOBAL);
        out.count(attribute_number);
        out.count(entry_count);
        out.i32(max_entry as i32);
        out.i32(0); // rfuA
        out.i64(0); // AzEDRhead
        out.i32(0);
        out.i32(-1);
    } else {
        out.i64(0); // AgrEDRhead
        out.i32(SCOPE_VARIABLE);
        out.count(attribute_number);
        out.i32(0);
        out.i32(-1);
        out.i32(0); // rfuA
        out.offset(first_entry_at); // AzEDRhead
        out.count(entry_count);
        out.i32(max_entry as i32);
    }
    out.i32(-1); // rfuE
    out.fixed_text(attribute.name, NAME_LEN);

    let entry_type = if attribute.is_global { AGR_EDR } else { AZ_EDR };
    let mut value = Vec::new();
    for (index, (entry_number, entry)) in attribute.entries.iter().enumerate() {
        value.clear();
        let (num_elems, num_strings) = encode_entry(entry, &mut value);
        let size = AEDR_HEADER_SIZE + value.len();
        let is_last = index + 1 == attribute.entries.len();
        out.header(size, entry_type);
        out.offset(if is_last { 0 } else { out.len() + size - 12 }); // AEDRnext
        out.count(attribute_number);
        out.i32(entry.data_type.code());
        out.count(*entry_number);
        out.count(num_elems);
        out.count(num_strings);
        out.i32(0); // rfuB
        out.i32(0); // rfuC
        out.i32(-1); // rfuD
        out.i32(-1); // rfuE
        out.bytes.extend_from_slice(&value);
    }
    Ok(())
}

/// Appends one entry's value bytes to `value`; returns its NumElems and NumStrings.
fn encode_entry(entry: &AttributeEntry, value: &mut Vec<u8>) -> (usize, usize) {
    match &entry.values {
        Values::Char(strings) => {
            for (index, string) in strings.iter().enumerate() {
                if index > 0 {
                    value.extend_from_slice(MULTI_STRING_SEPARATOR.as_bytes());
                }
                value.extend_from_slice(string.as_bytes());
            }
            // An empty text is stored as one NUL: NumElems must be at least 1.
            if value.is_empty() {
                value.push(0);
            }
            (value.len(), strings.len())
        }
        numbers => {
            numbers.encode(1, Endian::Little, value);
            (numbers.len(), 0)
        }
    }
}

/// Wraps a finished uncompressed file into the compressed-file layout:
/// magic, CCR holding the GZIP of everything after the magic, then a CPR.
fn compress_file(uncompressed: &[u8], level: u32) -> Result<Vec<u8>> {
    let body = &uncompressed[8..];
    let compressed = gzip(body, level)?;
    let mut out = Output::default();
    out.u32(MAGIC_V3);
    out.u32(MAGIC_COMPRESSED);
    out.header(CCR_HEADER_SIZE + compressed.len(), CCR);
    out.offset(8 + CCR_HEADER_SIZE + compressed.len()); // CPRoffset
    out.offset(body.len()); // uSize
    out.i32(0); // rfuA
    out.bytes.extend_from_slice(&compressed);
    write_cpr(&mut out, level);
    Ok(out.bytes)
}
