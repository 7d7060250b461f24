//! Parses CDF v3 bytes into a [`Cdf`]: zVariables (uncompressed or GZIP),
//! global and variable attributes, whole-file GZIP compression, either byte
//! order of values and either majority. Every error names the offset of the
//! record or field that is wrong.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;

use flate2::read::GzDecoder;

use crate::layout::*;
use crate::model::{AttributeEntry, Cdf, Compression, GlobalAttribute};
use crate::read_variable::read_variable;
use crate::values::{DataType, Endian, Values};
use crate::{CdfError, Result};

/// Deflate cannot expand data more than about 1032 times; a header claiming more is a bomb or garbage.
pub const MAX_INFLATION_RATIO: u64 = 1032;

/// What a file may make the reader allocate. Every size and count read from a file is checked
/// against these and against what the file itself can hold before anything is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Most bytes a whole-file decompression may produce, and most bytes all variables together may
    /// materialise (each variable is also limited to [`MAX_INFLATION_RATIO`] times the file size).
    pub max_decoded_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits { max_decoded_bytes: 1 << 30 }
    }
}

/// Parses the bytes of a CDF v3 file within [`ReadLimits::default`].
pub fn read_cdf(bytes: &[u8]) -> Result<Cdf> {
    read_cdf_with_limits(bytes, ReadLimits::default())
}

/// Parses the bytes of a CDF v3 file, refusing files that would need more than `limits`.
pub fn read_cdf_with_limits(bytes: &[u8], limits: ReadLimits) -> Result<Cdf> {
    read_cdf_selected(bytes, limits, &|_, _| true)
}

/// Parses the bytes of a CDF v3 file keeping only the variables `keep` accepts, by name and data
/// type (e.g. `|_, data_type| !data_type.is_char()` for numbers and times only). Past its name
/// and type, a refused variable is neither checked, inflated nor decoded, and its attribute
/// entries are skipped, so it costs next to nothing; what is kept reads exactly as
/// [`read_cdf_with_limits`] reads it.
pub fn read_cdf_selected(bytes: &[u8], limits: ReadLimits, keep: &dyn Fn(&str, DataType) -> bool) -> Result<Cdf> {
    let file = File { bytes };
    if file.u32_at(0)? != MAGIC_V3 {
        let feature = "cdf version other than 3 (first magic number is not 0xcdf30001)".to_string();
        return Err(CdfError::Unsupported { offset: 0, feature });
    }
    let (image, file_compression): (Cow<[u8]>, Compression) = match file.u32_at(4)? {
        MAGIC_UNCOMPRESSED => (Cow::Borrowed(bytes), Compression::None),
        MAGIC_COMPRESSED => {
            let (image, compression) = decompress_file(&file, limits)?;
            (Cow::Owned(image), compression)
        }
        other => {
            return Err(malformed(4, format!("unknown second magic number {other:#010x}")));
        }
    };
    let mut cdf = read_image(&File { bytes: &image }, limits, keep)?;
    cdf.file_compression = file_compression;
    Ok(cdf)
}

/// `bytes` as text, invalid UTF-8 replaced; valid text (nearly all) takes the faster check.
pub(crate) fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

pub(crate) fn malformed(offset: u64, reason: impl Into<String>) -> CdfError {
    CdfError::Malformed { offset, reason: reason.into() }
}

pub(crate) fn unsupported(offset: u64, feature: impl Into<String>) -> CdfError {
    CdfError::Unsupported { offset, feature: feature.into() }
}

/// Bounds-checked big-endian access to the file image.
pub(crate) struct File<'a> {
    pub(crate) bytes: &'a [u8],
}

impl<'a> File<'a> {
    pub(crate) fn slice(&self, offset: u64, len: u64) -> Result<&'a [u8]> {
        let end = offset.checked_add(len).filter(|&end| end <= self.bytes.len() as u64);
        match end {
            Some(end) => Ok(&self.bytes[offset as usize..end as usize]),
            None => Err(malformed(offset, format!("{len} bytes needed but the file has {}", self.bytes.len()))),
        }
    }
    pub(crate) fn u32_at(&self, offset: u64) -> Result<u32> {
        Ok(u32::from_be_bytes(self.slice(offset, 4)?.try_into().expect("4 bytes")))
    }
    pub(crate) fn i32_at(&self, offset: u64) -> Result<i32> {
        Ok(i32::from_be_bytes(self.slice(offset, 4)?.try_into().expect("4 bytes")))
    }
    pub(crate) fn i64_at(&self, offset: u64) -> Result<i64> {
        Ok(i64::from_be_bytes(self.slice(offset, 8)?.try_into().expect("8 bytes")))
    }
    /// A non-negative count field.
    pub(crate) fn count_at(&self, offset: u64) -> Result<usize> {
        let value = self.i32_at(offset)?;
        usize::try_from(value).map_err(|_| malformed(offset, format!("negative count {value}")))
    }
    /// An offset field; 0 means "none".
    pub(crate) fn offset_at(&self, offset: u64) -> Result<u64> {
        let value = self.i64_at(offset)?;
        u64::try_from(value).map_err(|_| malformed(offset, format!("negative offset {value}")))
    }
    pub(crate) fn name_at(&self, offset: u64) -> Result<String> {
        let field = self.slice(offset, NAME_LEN as u64)?;
        let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
        Ok(text_of(&field[..end]))
    }
    /// Checks the record header at `offset`; returns its type and size.
    pub(crate) fn record(&self, offset: u64, allowed_types: &[i32], what: &str) -> Result<(i32, u64)> {
        if offset < 8 {
            return Err(malformed(offset, format!("{what} offset points into the magic number")));
        }
        let size = self.i64_at(offset)?;
        let record_type = self.i32_at(offset + 8)?;
        if !allowed_types.contains(&record_type) {
            return Err(malformed(
                offset,
                format!("expected {what} (record type {allowed_types:?}), found type {record_type}"),
            ));
        }
        let size = u64::try_from(size).ok().filter(|&size| size >= 12);
        let Some(size) = size else {
            return Err(malformed(offset, format!("{what} has an invalid size")));
        };
        self.slice(offset, size)?;
        Ok((record_type, size))
    }
}

/// Inflates at most `max_len + 1` bytes, so a caller comparing the length with
/// `max_len` sees oversized (or garbage) streams without inflating them fully.
pub(crate) fn gunzip(compressed: &[u8], offset: u64, max_len: u64) -> Result<Vec<u8>> {
    let mut inflated = Vec::new();
    GzDecoder::new(compressed)
        .take(max_len + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| malformed(offset, format!("gzip data does not inflate: {error}")))?;
    Ok(inflated)
}

pub(crate) fn read_compression(file: &File, cpr_at: u64) -> Result<Compression> {
    file.record(cpr_at, &[CPR], "cpr")?;
    let compression_type = file.i32_at(cpr_at + 12)?;
    if compression_type != COMPRESSION_GZIP {
        return Err(unsupported(cpr_at, format!("compression type {compression_type} (only gzip is supported)")));
    }
    let level = if file.i32_at(cpr_at + 20)? >= 1 { file.i32_at(cpr_at + 24)? } else { 6 };
    Ok(Compression::Gzip { level: level.clamp(0, 9) as u32 })
}

/// Inflates a compressed file (CCR) into the image of the uncompressed file.
fn decompress_file(file: &File, limits: ReadLimits) -> Result<(Vec<u8>, Compression)> {
    let (_, ccr_size) = file.record(8, &[CCR], "ccr")?;
    let cpr_at = file.offset_at(8 + 12)?;
    let uncompressed_size = file.offset_at(8 + 20)?;
    let compression = read_compression(file, cpr_at)?;
    let data_len = ccr_size.checked_sub(CCR_HEADER_SIZE as u64).ok_or_else(|| malformed(8, "ccr is too small"))?;
    let compressed = file.slice(8 + CCR_HEADER_SIZE as u64, data_len)?;
    // Refused before inflating anything: the header's size is what the decoder is allowed to produce.
    let most_deflate_can_give = data_len.saturating_mul(MAX_INFLATION_RATIO);
    if uncompressed_size > most_deflate_can_give || uncompressed_size > limits.max_decoded_bytes {
        return Err(malformed(
            8 + 20,
            format!(
                "ccr claims {uncompressed_size} bytes from {data_len} compressed bytes: refused as a gzip bomb \
                 (at most {MAX_INFLATION_RATIO} times the compressed size and {} bytes)",
                limits.max_decoded_bytes
            ),
        ));
    }
    let body = gunzip(compressed, 8 + CCR_HEADER_SIZE as u64, uncompressed_size)?;
    if body.len() as u64 != uncompressed_size {
        return Err(malformed(8, format!("ccr inflates to {} bytes, header says {uncompressed_size}", body.len())));
    }
    let mut image = Vec::with_capacity(body.len() + 8);
    image.extend_from_slice(&MAGIC_V3.to_be_bytes());
    image.extend_from_slice(&MAGIC_UNCOMPRESSED.to_be_bytes());
    image.extend_from_slice(&body);
    Ok((image, compression))
}

/// What the CDR says about how values are laid out, how many bytes variables may still take, and
/// which variables the caller wants.
pub(crate) struct Layout<'a> {
    pub(crate) endian: Endian,
    pub(crate) row_major: bool,
    pub(crate) budget: DecodeBudget,
    pub(crate) keep: &'a dyn Fn(&str, DataType) -> bool,
}

/// Bytes the remaining variables may materialise, so many variables sharing one huge record
/// cannot add up to more than one file's worth.
pub(crate) struct DecodeBudget {
    remaining: Cell<u64>,
    /// What one variable may need: what the image could hold after the best possible compression.
    pub(crate) per_variable: u64,
}

impl DecodeBudget {
    fn new(image_len: u64, limits: ReadLimits) -> Self {
        let per_variable = image_len.saturating_mul(MAX_INFLATION_RATIO).min(limits.max_decoded_bytes);
        DecodeBudget { remaining: Cell::new(limits.max_decoded_bytes), per_variable }
    }

    /// Takes `bytes` from the budget or says why the variable at `offset` (`what`) is refused.
    pub(crate) fn take(&self, bytes: u64, offset: u64, what: impl FnOnce() -> String) -> Result<()> {
        let remaining = self.remaining.get();
        if bytes > self.per_variable || bytes > remaining {
            return Err(malformed(
                offset,
                format!(
                    "{} would need {bytes} bytes, more than the file can hold ({} per variable, {remaining} left)",
                    what(),
                    self.per_variable
                ),
            ));
        }
        self.remaining.set(remaining - bytes);
        Ok(())
    }
}

/// Remembers the records a chain has visited, so a chain that points back is refused.
pub(crate) struct Visited(HashSet<u64, BuildHasherDefault<OffsetHasher>>);

/// Hashes record offsets with one multiplication. A file read is a file's own offsets, so
/// SipHash's protection against chosen keys buys nothing, and it was a tenth of reading a file
/// of many small attribute entries.
#[derive(Default)]
pub(crate) struct OffsetHasher(u64);

impl Hasher for OffsetHasher {
    fn finish(&self) -> u64 {
        // The product's high bits are well mixed; the table's bucket index also uses the low ones.
        self.0 ^ (self.0 >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Visited {
    pub(crate) fn new() -> Self {
        Visited(HashSet::default())
    }
    pub(crate) fn first_visit(&mut self, offset: u64, what: &str) -> Result<()> {
        match self.0.insert(offset) {
            true => Ok(()),
            false => Err(malformed(offset, format!("{what} chain loops back to this record"))),
        }
    }
}

fn read_image(file: &File, limits: ReadLimits, keep: &dyn Fn(&str, DataType) -> bool) -> Result<Cdf> {
    file.record(8, &[CDR], "cdr")?;
    let gdr_at = file.offset_at(8 + 12)?;
    let version = file.i32_at(8 + 20)?;
    if version != 3 {
        return Err(unsupported(8 + 20, format!("cdf version {version}")));
    }
    let encoding = file.i32_at(8 + 28)?;
    let endian = match encoding {
        4 | 6 | 13 | 16 | 17 => Endian::Little,
        1 | 2 | 5 | 7 | 9 | 11 | 12 | 18 => Endian::Big,
        other => {
            return Err(unsupported(8 + 28, format!("encoding {other} (non-ieee floats)")));
        }
    };
    let budget = DecodeBudget::new(file.bytes.len() as u64, limits);
    let layout = Layout { endian, row_major: file.i32_at(8 + 32)? & CDR_FLAG_ROW_MAJOR != 0, budget, keep };

    file.record(gdr_at, &[GDR], "gdr")?;
    if file.i32_at(gdr_at + 44)? > 0 {
        return Err(unsupported(gdr_at + 44, "rvariables"));
    }
    let num_attributes = file.count_at(gdr_at + 48)?;
    let num_zvariables = file.count_at(gdr_at + 60)?;
    // Each count is checked against how many records of its kind the file has room for.
    if num_attributes > file.bytes.len() / ADR_SIZE {
        return Err(malformed(
            gdr_at + 48,
            format!("gdr announces {num_attributes} attributes, more than the file holds"),
        ));
    }
    if num_zvariables > file.bytes.len() / ZVDR_BASE_SIZE {
        return Err(malformed(
            gdr_at + 60,
            format!("gdr announces {num_zvariables} zvariables, more than the file holds"),
        ));
    }

    let mut numbered_variables = Vec::with_capacity(num_zvariables);
    let mut vdr_at = file.offset_at(gdr_at + 20)?;
    let mut visited_vdrs = Visited::new();
    while vdr_at != 0 && numbered_variables.len() < num_zvariables {
        visited_vdrs.first_visit(vdr_at, "zvdr")?;
        numbered_variables.push(read_variable(file, vdr_at, &layout)?);
        vdr_at = file.offset_at(vdr_at + 12)?;
    }
    if numbered_variables.len() != num_zvariables {
        return Err(malformed(
            gdr_at + 60,
            format!("gdr announces {num_zvariables} zvariables, chain has {}", numbered_variables.len()),
        ));
    }
    numbered_variables.sort_by_key(|(number, _)| *number);
    let variable_index = |number: usize| numbered_variables.binary_search_by_key(&number, |(n, _)| *n).ok();
    let is_kept = |number: usize| variable_index(number).is_none_or(|index| numbered_variables[index].1.is_some());

    let mut cdf = Cdf::new();
    // Per variable, (attribute number, name, entry), for sorting by attribute number.
    let mut variable_attributes: Vec<Vec<(usize, String, AttributeEntry)>> =
        numbered_variables.iter().map(|_| Vec::new()).collect();
    let mut adr_at = file.offset_at(gdr_at + 28)?;
    let mut attributes_seen = 0;
    let mut visited_adrs = Visited::new();
    let mut visited_aedrs = Visited::new();
    while adr_at != 0 && attributes_seen < num_attributes {
        visited_adrs.first_visit(adr_at, "adr")?;
        file.record(adr_at, &[ADR], "adr")?;
        let scope = file.i32_at(adr_at + 28)?;
        let attribute_number = file.count_at(adr_at + 32)?;
        let name = file.name_at(adr_at + 68)?;
        match scope {
            SCOPE_GLOBAL | SCOPE_GLOBAL_ASSUMED => {
                let chain = |head| Chain { head, expected: 0, wanted: |_| true };
                let mut entries = read_entries(file, chain(file.offset_at(adr_at + 20)?), &layout, &mut visited_aedrs)?;
                entries.extend(read_entries(file, chain(file.offset_at(adr_at + 48)?), &layout, &mut visited_aedrs)?);
                entries.sort_by_key(|(number, _)| *number);
                let entries = entries.into_iter().map(|(_, entry)| entry).collect();
                cdf.global_attributes.push(GlobalAttribute { name, entries });
            }
            SCOPE_VARIABLE | SCOPE_VARIABLE_ASSUMED => {
                let az_head = file.offset_at(adr_at + 48)?;
                let expected = usize::try_from(file.i32_at(adr_at + 56)?).unwrap_or(0);
                let chain = Chain { head: az_head, expected, wanted: is_kept };
                for (variable_number, entry) in read_entries(file, chain, &layout, &mut visited_aedrs)? {
                    let Some(index) = variable_index(variable_number) else {
                        let reason = format!("attribute {name} has an entry for missing zvariable {variable_number}");
                        return Err(malformed(az_head, reason));
                    };
                    variable_attributes[index].push((attribute_number, name.clone(), entry));
                }
            }
            other => {
                return Err(malformed(adr_at + 28, format!("unknown attribute scope {other}")));
            }
        }
        attributes_seen += 1;
        adr_at = file.offset_at(adr_at + 12)?;
    }

    cdf.variables = numbered_variables
        .into_iter()
        .zip(variable_attributes)
        .filter_map(|((_, variable), mut attributes)| {
            let mut variable = variable?;
            // Files list attributes in number order, so this is nearly always sorted already.
            if !attributes.is_sorted_by_key(|(attribute_number, _, _)| *attribute_number) {
                attributes.sort_by_key(|(attribute_number, _, _)| *attribute_number);
            }
            variable.attributes = attributes.into_iter().map(|(_, name, entry)| (name, entry)).collect();
            Some(variable)
        })
        .collect();
    Ok(cdf)
}

/// One AEDR chain to read: where it starts, how many entries its ADR announces (a capacity hint,
/// bounded by what the file can hold), and which entry numbers are wanted.
struct Chain<F> {
    head: u64,
    expected: usize,
    wanted: F,
}

/// Reads an AEDR chain; returns (entry number, entry) pairs, of the entry numbers the chain wants
/// (the others are checked but not decoded). `visited` spans every chain of the file, so no entry
/// record is read twice.
fn read_entries(
    file: &File,
    chain: Chain<impl Fn(usize) -> bool>,
    layout: &Layout,
    visited: &mut Visited,
) -> Result<Vec<(usize, AttributeEntry)>> {
    let Chain { head, expected, wanted } = chain;
    let mut entries = Vec::with_capacity(expected.min(file.bytes.len() / AEDR_HEADER_SIZE));
    let mut aedr_at = head;
    while aedr_at != 0 {
        visited.first_visit(aedr_at, "aedr")?;
        let (_, size) = file.record(aedr_at, &[AGR_EDR, AZ_EDR], "aedr")?;
        let code = file.i32_at(aedr_at + 24)?;
        let data_type =
            DataType::from_code(code).ok_or_else(|| unsupported(aedr_at + 24, format!("data type {code}")))?;
        let entry_number = file.count_at(aedr_at + 28)?;
        let num_elems = file.count_at(aedr_at + 32)?;
        let num_strings = file.i32_at(aedr_at + 36)?;
        let value_len = (num_elems * data_type.element_size()) as u64;
        if AEDR_HEADER_SIZE as u64 + value_len > size {
            return Err(malformed(aedr_at, format!("entry value of {value_len} bytes exceeds the aedr")));
        }
        let value = file.slice(aedr_at + AEDR_HEADER_SIZE as u64, value_len)?;
        if !wanted(entry_number) {
            aedr_at = file.offset_at(aedr_at + 12)?;
            continue;
        }
        let values = if data_type.is_char() {
            let Values::Char(strings) = Values::decode(data_type, num_elems, 1, layout.endian, value) else {
                unreachable!("char data decodes to strings")
            };
            let text = strings.into_iter().next().unwrap_or_default();
            match num_strings > 1 {
                true => Values::Char(text.split(MULTI_STRING_SEPARATOR).map(str::to_string).collect()),
                false => Values::Char(vec![text]),
            }
        } else {
            Values::decode(data_type, 1, num_elems, layout.endian, value)
        };
        entries.push((entry_number, AttributeEntry { data_type, values }));
        aedr_at = file.offset_at(aedr_at + 12)?;
    }
    Ok(entries)
}
