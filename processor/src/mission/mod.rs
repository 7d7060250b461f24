//! The IMAP mission's conventions on top of the generic CDF library: packet times (mission
//! elapsed time through the spacecraft clock kernel, [`met`]) and the ISTP global attributes
//! and time range every IMAP product carries.

use nasa_cdf::{IstpGlobals, utc_to_tt2000};

pub mod met;

pub use met::{IMAP_MET_EPOCH_TT2000, InvalidSclk, SclkKernel, met_to_tt2000, tt2000_to_met};

/// The IMAP ISTP globals of `imap_<instrument>_<level>_<descriptor>_<YYYYMMDD>_v<NNN>`.
pub fn imap_globals(instrument: &str, level: &str, descriptor: &str, start_date: &str, version: &str) -> IstpGlobals {
    let logical_source = format!("imap_{instrument}_{level}_{descriptor}");
    IstpGlobals {
        project: "STP>Solar-Terrestrial Probes".to_string(),
        source_name: "IMAP>Interstellar Mapping and Acceleration Probe".to_string(),
        discipline: "Solar Physics>Heliospheric Physics".to_string(),
        data_type: format!(
            "{}_{descriptor}>Level-{} {descriptor}",
            level.to_uppercase(),
            level.trim_start_matches('l').to_uppercase()
        ),
        descriptor: format!("{}>IMAP {instrument}", instrument.to_uppercase()),
        data_version: version.to_string(),
        logical_file_id: format!("{logical_source}_{start_date}_{version}"),
        logical_source_description: format!("IMAP {instrument} {level} {descriptor}"),
        logical_source,
        mission_group: "IMAP".to_string(),
        pi_name: "Dr. David J. McComas".to_string(),
        pi_affiliation: "Princeton University".to_string(),
        text: "The Interstellar Mapping and Acceleration Probe (IMAP)".to_string(),
        instrument_type: "Particles (space)".to_string(),
        ..IstpGlobals::default()
    }
}

/// VALIDMIN and VALIDMAX (TT2000) of IMAP time variables: from MET 0 (2010-01-01 UTC, where
/// the spacecraft clock starts) to 2100-01-01 UTC.
pub fn imap_valid_times() -> (i64, i64) {
    let last = utc_to_tt2000(2100, 1, 1, 0, 0, 0, 0).expect("a valid date");
    (IMAP_MET_EPOCH_TT2000, last)
}

#[cfg(test)]
mod tests;
