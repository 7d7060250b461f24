//! Sizes in config files and the environment, written as people write them: `4GiB`, `512MiB`,
//! `64MB`, `1.5GiB`, Kubernetes' `4Gi`; a bare integer means bytes. Written back in the largest
//! binary unit that keeps the size exact (`67108864` reads as `64MiB`). A unit is required past
//! bytes because `4G` means GB to some tools and GiB to others.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

const BINARY_UNITS: [(&str, u64); 5] =
    [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("B", 1)];
const DECIMAL_UNITS: [(&str, u64); 4] =
    [("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000)];
/// Kubernetes writes binary units without the `B`.
const KUBERNETES_UNITS: [(&str, u64); 4] = [("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];

impl ByteSize {
    pub const fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let invalid = || {
            format!(
                "invalid size {text:?}: expected a number and a unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB), e.g. \"4GiB\" or \"512MiB\"; a bare integer means bytes"
            )
        };
        if let Ok(bytes) = text.parse::<u64>() {
            return Ok(ByteSize(bytes));
        }
        let split =
            text.find(|character: char| !(character.is_ascii_digit() || character == '.')).ok_or_else(invalid)?;
        let (number, unit) = text.split_at(split);
        let unit = unit.trim();
        let per_unit = BINARY_UNITS
            .iter()
            .chain(&DECIMAL_UNITS)
            .chain(&KUBERNETES_UNITS)
            .find(|(name, _)| name.eq_ignore_ascii_case(unit))
            .map(|(_, per_unit)| *per_unit)
            .ok_or_else(invalid)?;
        let number: f64 = number.parse().map_err(|_| invalid())?;
        let bytes = number * per_unit as f64;
        if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 / 2.0 {
            return Err(invalid());
        }
        Ok(ByteSize(bytes.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that keeps the size exact: `64MiB`, `1536KiB`, `100B`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, per_unit) = BINARY_UNITS
            .iter()
            .find(|(_, per_unit)| self.0 != 0 && self.0.is_multiple_of(*per_unit))
            .unwrap_or(&("B", 1));
        write!(formatter, "{}{unit}", self.0 / per_unit)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Bytes(u64),
            Text(String),
        }
        match Written::deserialize(deserializer) {
            Ok(Written::Bytes(bytes)) => Ok(ByteSize(bytes)),
            Ok(Written::Text(text)) => text.parse().map_err(serde::de::Error::custom),
            Err(_) => Err(serde::de::Error::custom(
                "expected a size such as \"4GiB\" or \"512MiB\" (a bare integer means bytes)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteSize;

    #[test]
    fn sizes_read_as_people_write_them() {
        for (text, bytes) in [
            ("4GiB", 4 << 30),
            ("512MiB", 512 << 20),
            ("64 MiB", 64 << 20),
            ("1.5GiB", 3 << 29),
            ("64MB", 64_000_000),
            ("2Gi", 2 << 30),
            ("8kib", 8192),
            ("100", 100),
            ("100B", 100),
        ] {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
        }
        for bad in ["", "4G", "4 gigs", "GiB", "-1MiB", "1.2.3MiB", "1e30TiB"] {
            let error = bad.parse::<ByteSize>().expect_err(bad);
            assert!(error.contains("a bare integer means bytes"), "{error}");
        }
    }

    #[test]
    fn sizes_are_written_in_the_largest_exact_binary_unit_and_read_back() {
        for (bytes, text) in [(0, "0B"), (100, "100B"), (64 << 20, "64MiB"), (1536 << 10, "1536KiB"), (4 << 40, "4TiB")]
        {
            assert_eq!(ByteSize(bytes).to_string(), text);
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)));
        }
    }
}
