//! SPICE kernel names (spec 2.5): a fixed, ordered list of patterns, each naming the kernel type.

use std::sync::LazyLock;

use regex_lite::Regex;

use super::{Attempt, FileNameError, check_bare_name, fixed_regex, parse_name_date};
use crate::date::Date;

/// Kernel type names, as the query API and CLI spell them.
pub const SPICE_KERNEL_TYPES: &[&str] = &[
    "attitude_history",
    "attitude_predict",
    "spin",
    "repoint",
    "ephemeris_reconstructed",
    "ephemeris_nominal",
    "ephemeris_predicted",
    "ephemeris_90days",
    "ephemeris_long",
    "ephemeris_launch",
    "planetary_ephemeris",
    "planetary_constants",
    "leapseconds",
    "pointing_attitude",
    "lo_pivot_attitude",
    "spacecraft_clock",
    "imap_frames",
    "science_frames",
    "metakernel",
    "thruster",
    "lagrange_point",
    "earth_attitude",
];

/// The type tokens a pattern may capture, looked up case-sensitively (a case-insensitive pattern can still
/// capture `AH.BC`, which is then refused).
pub const SPICE_TYPE_TOKENS: &[&str] = &[
    "ah.bc",
    "ap.bc",
    "spin.csv",
    "spin",
    "repoint.csv",
    "repoint",
    "recon",
    "nom",
    "pred",
    "90days",
    "long",
    "launch",
    "de",
    "pck",
    "naif",
    "imap_dps",
    "imap_lopivot",
    "imap_sclk_",
    "tf",
    "imap_science",
    "mk",
    "tm",
    "sff",
    "L1_de",
    "bpc",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpiceKernelType {
    AttitudeHistory,
    AttitudePredict,
    Spin,
    Repoint,
    EphemerisReconstructed,
    EphemerisNominal,
    EphemerisPredicted,
    Ephemeris90Days,
    EphemerisLong,
    EphemerisLaunch,
    PlanetaryEphemeris,
    PlanetaryConstants,
    Leapseconds,
    PointingAttitude,
    LoPivotAttitude,
    SpacecraftClock,
    ImapFrames,
    ScienceFrames,
    Metakernel,
    Thruster,
    LagrangePoint,
    EarthAttitude,
}

impl SpiceKernelType {
    pub const ALL: [SpiceKernelType; 22] = [
        SpiceKernelType::AttitudeHistory,
        SpiceKernelType::AttitudePredict,
        SpiceKernelType::Spin,
        SpiceKernelType::Repoint,
        SpiceKernelType::EphemerisReconstructed,
        SpiceKernelType::EphemerisNominal,
        SpiceKernelType::EphemerisPredicted,
        SpiceKernelType::Ephemeris90Days,
        SpiceKernelType::EphemerisLong,
        SpiceKernelType::EphemerisLaunch,
        SpiceKernelType::PlanetaryEphemeris,
        SpiceKernelType::PlanetaryConstants,
        SpiceKernelType::Leapseconds,
        SpiceKernelType::PointingAttitude,
        SpiceKernelType::LoPivotAttitude,
        SpiceKernelType::SpacecraftClock,
        SpiceKernelType::ImapFrames,
        SpiceKernelType::ScienceFrames,
        SpiceKernelType::Metakernel,
        SpiceKernelType::Thruster,
        SpiceKernelType::LagrangePoint,
        SpiceKernelType::EarthAttitude,
    ];

    pub fn as_str(self) -> &'static str {
        // ALL and SPICE_KERNEL_TYPES list the types in the same order.
        let index = SpiceKernelType::ALL.iter().position(|known| *known == self).unwrap_or(0);
        SPICE_KERNEL_TYPES[index]
    }

    /// A kernel type name such as `ephemeris_predicted` (for query parameters).
    pub fn from_name(name: &str) -> Option<SpiceKernelType> {
        SpiceKernelType::ALL.into_iter().find(|known| known.as_str() == name)
    }

    /// The type token a pattern captured, case-sensitively.
    pub fn from_token(token: &str) -> Option<SpiceKernelType> {
        use SpiceKernelType::*;
        Some(match token {
            "ah.bc" => AttitudeHistory,
            "ap.bc" => AttitudePredict,
            "spin.csv" | "spin" => Spin,
            "repoint.csv" | "repoint" => Repoint,
            "recon" => EphemerisReconstructed,
            "nom" => EphemerisNominal,
            "pred" => EphemerisPredicted,
            "90days" => Ephemeris90Days,
            "long" => EphemerisLong,
            "launch" => EphemerisLaunch,
            "de" => PlanetaryEphemeris,
            "pck" => PlanetaryConstants,
            "naif" => Leapseconds,
            "imap_dps" => PointingAttitude,
            "imap_lopivot" => LoPivotAttitude,
            "imap_sclk_" => SpacecraftClock,
            "tf" => ImapFrames,
            "imap_science" => ScienceFrames,
            "mk" | "tm" => Metakernel,
            "sff" => Thruster,
            "L1_de" => LagrangePoint,
            "bpc" => EarthAttitude,
            _ => return None,
        })
    }

    /// Directory under `imap/spice/`.
    pub fn subdir(self) -> &'static str {
        use SpiceKernelType::*;
        match self {
            AttitudeHistory | AttitudePredict | PointingAttitude | LoPivotAttitude => "ck",
            Spin => "spin",
            Repoint => "repoint",
            EphemerisReconstructed
            | EphemerisNominal
            | EphemerisPredicted
            | Ephemeris90Days
            | EphemerisLong
            | EphemerisLaunch
            | PlanetaryEphemeris
            | LagrangePoint => "spk",
            PlanetaryConstants | EarthAttitude => "pck",
            Leapseconds => "lsk",
            SpacecraftClock => "sclk",
            ImapFrames | ScienceFrames => "fk",
            Metakernel => "mk",
            Thruster => "activities",
        }
    }
}

/// The patterns in upstream's order. Like Python's `re.match` they are anchored at the start only (so
/// trailing text is allowed), except the lo-pivot one; all but the SDC metakernel ignore case. The `.`
/// inside `ah.bc|ap.bc|spin.csv|repoint.csv` is unescaped upstream and so matches any character.
/// Named groups: `type` (token), `start_doy`/`end_doy` (`YYYY_DDD`), `start_ymd`/`end_ymd` (`YYYYMMDD`),
/// `start_yymmdd`/`end_yymmdd`/`prediction_yymmdd` (`YYMMDD`), `start_year`, `version`, `repointing`.
const SPICE_PATTERNS: &[&str] = &[
    // attitude history / predict, spin
    r"(?i)^imap_(?P<start_doy>[0-9]{4}_[0-9]{3})_(?P<end_doy>[0-9]{4}_[0-9]{3})_(?P<version>[0-9]+)\.(?P<type>ah.bc|ap.bc|spin.csv|spin)",
    // pointing attitude (DPS)
    r"(?i)^(?P<type>imap_dps)_(?P<start_doy>[0-9]{4}_[0-9]{3})_(?P<end_doy>[0-9]{4}_[0-9]{3})_(?P<version>[0-9]+)\.ah\.bc",
    // Lo pivot attitude, the only end-anchored pattern
    r"(?i)^(?P<type>imap_lopivot)-repoint(?P<repointing>[0-9]{5})_(?P<start_doy>[0-9]{4}_[0-9]{3})_(?P<end_doy>[0-9]{4}_[0-9]{3})_(?P<version>[0-9]+)\.bc$",
    // repoint tables: the single date is the end date
    r"(?i)^imap_(?P<end_doy>[0-9]{4}_[0-9]{3})_(?P<version>[0-9]+)\.(?P<type>repoint.csv|repoint)",
    // spacecraft ephemeris, optional odNNN and optional _v<digits>
    r"(?i)^imap_(?P<type>[a-zA-Z0-9-]+)_(?:od[0-9]{3}_)?(?P<start_ymd>[0-9]{8})_(?P<end_ymd>[0-9]{8})(?:_v(?P<version>[0-9]*))?\.bsp",
    // product + version: planetary ephemeris, lagrange point, constants, leapseconds, clock
    r"(?i)^(?P<type>L1_de|[a-zA-Z_-]+)(?P<version>[0-9]+)\.(?:tls|tpc|bsp|tsc)",
    // IMAP frames
    r"(?i)^imap_(?P<version>[0-9]+)\.(?P<type>tf)",
    // thruster firings
    r"(?i)^imap_(?P<start_doy>[0-9]{4}_[0-9]{3})_(?P<end_doy>[0-9]{4}_[0-9]{3})_[a-zA-Z0-9_-]+_(?P<version>[0-9]{2})\.(?P<type>sff)",
    // SDC metakernel: case-sensitive, date = Jan 1 of the year
    r"^imap_sdc_metakernel_(?P<start_year>[0-9]{4})_v(?P<version>[0-9]{3})\.(?P<type>tm)",
    // MOC attitude metakernel
    r"(?i)^imap_(?P<start_doy>[0-9]{4}_[0-9]{3})_a(?P<version>[0-9]{2})\.spice\.(?P<type>mk)",
    // MOC ephemeris metakernel
    r"(?i)^IMAP_(?P<start_doy>[0-9]{4}_[0-9]{3})_e(?P<version>[0-9]{2})\.(?P<type>mk)",
    // science frames
    r"(?i)^(?P<type>imap_science)_(?P<version>[0-9]+)\.tf",
    // Earth attitude
    r"(?i)^earth_(?P<start_yymmdd>[0-9]{6})_(?P<end_yymmdd>[0-9]{6})_(?P<prediction_yymmdd>[0-9]{6})\.(?P<type>bpc)",
];

static COMPILED_PATTERNS: LazyLock<Vec<Regex>> =
    LazyLock::new(|| SPICE_PATTERNS.iter().map(|pattern| fixed_regex(pattern)).collect());

/// A recognised SPICE kernel name. The name is kept as given: the patterns ignore case, so there is no
/// canonical spelling to rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpiceFileName {
    pub name: String,
    pub kernel_type: SpiceKernelType,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    /// The version digits as written (may be empty for `_v.bsp`); `None` when the pattern has none.
    pub version: Option<String>,
    pub repointing: Option<u32>,
    /// The last suffix only, like Python's `Path.suffix` (`bc` for `x.ah.bc`).
    pub extension: String,
}

impl SpiceFileName {
    pub fn parse(name: &str) -> Result<SpiceFileName, FileNameError> {
        check_bare_name(name)?;
        match match_grammar(name) {
            Ok(parsed) => Ok(parsed),
            Err(Attempt::Invalid(error)) => Err(error),
            Err(Attempt::NoMatch) => Err(FileNameError::Unrecognised {
                name: name.to_string(),
                reason: "matches none of the spice kernel name patterns".to_string(),
            }),
        }
    }

    pub fn file_name(&self) -> &str {
        &self.name
    }

    /// `imap/spice/<subdir>/<name>`.
    pub fn archive_path(&self) -> String {
        format!("imap/spice/{}/{}", self.kernel_type.subdir(), self.name)
    }

    /// Upstream has not implemented coverage checks yet and accepts every date.
    pub fn is_valid_for_start_date(&self, _date: Date) -> bool {
        true
    }
}

/// The first pattern that matches decides; an unknown token or a bad date then fails the whole SPICE
/// grammar without trying later patterns.
pub(crate) fn match_grammar(name: &str) -> Result<SpiceFileName, Attempt> {
    let captures = COMPILED_PATTERNS.iter().find_map(|regex| regex.captures(name)).ok_or(Attempt::NoMatch)?;
    let group = |label: &str| captures.name(label).map(|found| found.as_str());
    let invalid = |error| Attempt::Invalid(error);
    let token = group("type").unwrap_or("");
    let kernel_type = SpiceKernelType::from_token(token)
        .ok_or_else(|| invalid(FileNameError::UnknownSpiceType { name: name.to_string(), token: token.to_string() }))?;

    let year_day = |text: Option<&str>| text.map(|text| parse_year_day(name, text)).transpose();
    let yymmdd = |text: Option<&str>| text.map(|text| parse_yymmdd(name, text)).transpose();
    let yyyymmdd = |text: Option<&str>| text.map(|text| parse_name_date(name, text)).transpose();
    let start_year = group("start_year").map(|year| parse_name_date(name, &format!("{year}0101"))).transpose();
    // Each pattern has at most one start and one end field, so the first present one is the date.
    let start_date =
        [yyyymmdd(group("start_ymd")), yymmdd(group("start_yymmdd")), year_day(group("start_doy")), start_year]
            .into_iter()
            .find_map(Result::transpose)
            .transpose()
            .map_err(invalid)?;
    let end_date = [yyyymmdd(group("end_ymd")), yymmdd(group("end_yymmdd")), year_day(group("end_doy"))]
        .into_iter()
        .find_map(Result::transpose)
        .transpose()
        .map_err(invalid)?;
    // Upstream checks the prediction date too, although it records no field for it.
    yymmdd(group("prediction_yymmdd")).map_err(invalid)?;

    Ok(SpiceFileName {
        name: name.to_string(),
        kernel_type,
        start_date,
        end_date,
        version: group("version").map(str::to_string),
        repointing: group("repointing").and_then(|digits| digits.parse().ok()),
        extension: python_suffix(name).to_string(),
    })
}

/// `YYYY_DDD` as Python's `strptime('%Y_%j')` reads it: day 1..=366 counted from 1 January, so day 366 of a
/// common year is 1 January of the next; year 0 does not exist.
fn parse_year_day(name: &str, text: &str) -> Result<Date, FileNameError> {
    let no_such_day = || FileNameError::NoSuchDay { name: name.to_string(), date: text.to_string() };
    let (year, day) = text.split_once('_').ok_or_else(no_such_day)?;
    let year: i32 = year.parse().map_err(|_| no_such_day())?;
    let day: i32 = day.parse().map_err(|_| no_such_day())?;
    if year < 1 || !(1..=366).contains(&day) {
        return Err(no_such_day());
    }
    let january_first = Date::from_ymd(year, 1, 1).ok_or_else(no_such_day)?;
    Ok(january_first.add_days(day - 1))
}

/// `YYMMDD` as `strptime('%y%m%d')` reads it: years 69..=99 are 19xx, 00..=68 are 20xx.
fn parse_yymmdd(name: &str, text: &str) -> Result<Date, FileNameError> {
    let century = match text.get(..2).and_then(|year| year.parse::<u32>().ok()) {
        Some(69..=99) => "19",
        _ => "20",
    };
    parse_name_date(name, &format!("{century}{text}"))
        .map_err(|_| FileNameError::NoSuchDay { name: name.to_string(), date: text.to_string() })
}

/// Python's `PurePath.suffix` without the dot: text after the last `.`, unless that dot starts or ends the name.
fn python_suffix(name: &str) -> &str {
    match name.rfind('.') {
        Some(index) if index > 0 && index + 1 < name.len() => &name[index + 1..],
        _ => "",
    }
}
