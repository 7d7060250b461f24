//! How people, logs and errors name a product (`swapi l1 sci`) and a product run, which adds the
//! time it covers (`swapi l1 sci 20240924`, `hi l1b 45sensor-de 20250101-repoint00042`). Every
//! such text in the mesh comes from here.

use std::fmt;

use crate::pb::{ProductKey, ProductRun, ProductTime};

/// A product's name from its three parts, for types other than the wire's `ProductKey`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductName<'a> {
    pub instrument: &'a str,
    pub data_level: &'a str,
    pub descriptor: &'a str,
}

impl<'a> ProductName<'a> {
    pub fn new(instrument: &'a str, data_level: &'a str, descriptor: &'a str) -> ProductName<'a> {
        ProductName { instrument, data_level, descriptor }
    }
}

impl fmt::Display for ProductName<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {} {}", self.instrument, self.data_level, self.descriptor)
    }
}

impl ProductKey {
    pub fn name(&self) -> ProductName<'_> {
        ProductName::new(&self.instrument, &self.data_level, &self.descriptor)
    }
}

impl fmt::Display for ProductKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.name().fmt(formatter)
    }
}

/// `YYYYMMDD`, then `-repointNNNNN` for a run that covers a repointing.
impl fmt::Display for ProductTime {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.date)?;
        match self.repointing {
            Some(repointing) => write!(formatter, "-repoint{repointing:05}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for ProductRun {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let product = self.product.as_ref().map(ProductKey::name).unwrap_or(ProductName::new("", "", ""));
        match &self.time {
            Some(time) => write!(formatter, "{product} {time}"),
            None => write!(formatter, "{product} "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_and_runs_read_as_people_name_them() {
        let key = ProductKey { instrument: "hi".into(), data_level: "l1b".into(), descriptor: "45sensor-de".into() };
        assert_eq!(key.to_string(), "hi l1b 45sensor-de");
        assert_eq!(ProductName::new("swapi", "l1", "sci").to_string(), "swapi l1 sci");
        let day = ProductTime { date: "20240924".into(), repointing: None };
        let repointing = ProductTime { date: "20250101".into(), repointing: Some(42) };
        assert_eq!(
            ProductRun { product: Some(key.clone()), time: Some(day) }.to_string(),
            "hi l1b 45sensor-de 20240924"
        );
        let run = ProductRun { product: Some(key), time: Some(repointing) };
        assert_eq!(run.to_string(), "hi l1b 45sensor-de 20250101-repoint00042");
    }
}
