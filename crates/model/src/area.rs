//! Where a household lives: kecamatan, kelurahan, RW and RT, the street, and a map point; and
//! the puskesmas that serves it.
//!
//! Only the 13 kecamatan of Kota Tangerang are code: they are fixed by decree and the city's
//! reports are cut by them. Kelurahan and puskesmas working areas are data the health office
//! manages (a puskesmas area does not follow kecamatan lines), so they are checked for shape
//! only.

use crate::codes::Coded;
use crate::error::{Rule, ValidationError};
use crate::name::{normalise_text, only_letters_and};
use crate::value::{Value, dec_from_json};
use std::fmt;
use std::str::FromStr;

/// The region code of Kota Tangerang (Banten 36, city 71).
pub const CITY_REGION_CODE: &str = "36.71";

/// Declares [`Kecamatan`] and its table once, so that code, JSON name and official name
/// cannot drift apart. Written by hand rather than with `code_enum!` because its `parse`
/// (and so its `Deserialize`) also accepts the official name.
macro_rules! kecamatan {
    ($($variant:ident = $code:literal => $text:literal, $name:literal;)+) => {
        /// A kecamatan (district) of Kota Tangerang, coded as in Kepmendagri
        /// 300.2.2-2138/2025 (36.71.01 to 36.71.13). JSON uses the snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kecamatan { $($variant),+ }

        impl Kecamatan {
            /// Every kecamatan, in code order.
            pub const ALL: &'static [Kecamatan] = &[$(Kecamatan::$variant),+];

            /// The district's code within the city (`12` for Karang Tengah); also the stored
            /// code.
            pub fn code(self) -> u8 {
                match self { $(Kecamatan::$variant => $code),+ }
            }

            /// The kecamatan with this code, if any.
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some(Kecamatan::$variant),)+ _ => None }
            }

            /// The stable name used in JSON (`karang_tengah`).
            pub fn as_str(self) -> &'static str {
                match self { $(Kecamatan::$variant => $text),+ }
            }

            /// The official name (`Karang Tengah`), for people.
            pub fn name(self) -> &'static str {
                match self { $(Kecamatan::$variant => $name),+ }
            }
        }
    };
}

kecamatan! {
    Tangerang = 1 => "tangerang", "Tangerang";
    Jatiuwung = 2 => "jatiuwung", "Jatiuwung";
    Batuceper = 3 => "batuceper", "Batuceper";
    Benda = 4 => "benda", "Benda";
    Cipondoh = 5 => "cipondoh", "Cipondoh";
    Ciledug = 6 => "ciledug", "Ciledug";
    Karawaci = 7 => "karawaci", "Karawaci";
    Periuk = 8 => "periuk", "Periuk";
    Cibodas = 9 => "cibodas", "Cibodas";
    Neglasari = 10 => "neglasari", "Neglasari";
    Pinang = 11 => "pinang", "Pinang";
    KarangTengah = 12 => "karang_tengah", "Karang Tengah";
    Larangan = 13 => "larangan", "Larangan";
}

impl Kecamatan {
    /// The full region code, `36.71.12`.
    pub fn region_code(self) -> String {
        format!("{CITY_REGION_CODE}.{:02}", self.code())
    }

    /// Parses the JSON name (`karang_tengah`) or the official name in any case and spacing
    /// (`Karang Tengah`, `karang  tengah`), which is what imported spreadsheets hold.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        Kecamatan::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == text)
            .or_else(|| Kecamatan::from_name(text))
            .ok_or_else(|| {
                let names: Vec<&str> = Kecamatan::ALL.iter().map(|k| k.as_str()).collect();
                ValidationError::new(
                    "",
                    Rule::Choice,
                    format!(
                        "must be a kecamatan of Kota Tangerang: one of {}",
                        names.join(", ")
                    ),
                )
            })
    }

    /// The kecamatan with this official name, ignoring case and extra whitespace.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = normalise_text(name);
        Kecamatan::ALL
            .iter()
            .copied()
            .find(|k| k.name().eq_ignore_ascii_case(&name))
    }
}

impl Coded for Kecamatan {
    fn code(self) -> u8 {
        Kecamatan::code(self)
    }
    fn from_code(code: u8) -> Option<Self> {
        Kecamatan::from_code(code)
    }
    fn as_str(self) -> &'static str {
        Kecamatan::as_str(self)
    }
    fn parse(text: &str) -> Result<Self, ValidationError> {
        Kecamatan::parse(text)
    }
}

/// The JSON name, as for the other coded sets; use [`Kecamatan::name`] for people.
impl fmt::Display for Kecamatan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kecamatan {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kecamatan::parse(s)
    }
}

impl serde::Serialize for Kecamatan {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Kecamatan {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Kecamatan::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
    }
}

/// `FromStr` and string serde through `parse` for a validated string newtype.
macro_rules! string_serde {
    ($name:ident) => {
        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
            }
        }
    };
}

/// A kelurahan (urban village) name, as written: 2 to 60 letters, spaces, apostrophes, dots and
/// hyphens, trimmed and with single spaces. Which kelurahan exist, and in which kecamatan, is
/// data (the same name can occur twice: "Jatiuwung" is also a kelurahan of Cibodas).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kelurahan(String);

impl Kelurahan {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let name = normalise_text(text);
        let chars = name.chars().count();
        if chars == 0 {
            return Err(ValidationError::new(
                "",
                Rule::Required,
                "must not be empty",
            ));
        }
        if !(2..=60).contains(&chars) {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                "must be 2 to 60 characters",
            ));
        }
        if !only_letters_and(&name, &[' ', '\'', '.', '-']) {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                "may contain only letters, spaces, apostrophes ('), dots and hyphens",
            ));
        }
        Ok(Kelurahan(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_serde!(Kelurahan);

/// A rukun tetangga (neighbourhood unit, a few dozen households) number within its RW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rt(u16);

/// A rukun warga (a group of RTs) number within its kelurahan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rw(u16);

/// RT and RW numbers: 1 to 999 (written 001 to 999 on documents); JSON integers.
macro_rules! unit_number {
    ($name:ident, $what:literal) => {
        impl $name {
            pub fn new(number: i64) -> Result<Self, ValidationError> {
                match u16::try_from(number) {
                    Ok(n) if (1..=999).contains(&n) => Ok($name(n)),
                    _ => Err(ValidationError::new(
                        "",
                        Rule::Range,
                        concat!($what, " must be 1 to 999"),
                    )),
                }
            }

            pub fn get(self) -> u16 {
                self.0
            }
        }

        /// Three digits, as on the Kartu Keluarga (`003`).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:03}", self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u16(self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let number = i64::deserialize(d)?;
                $name::new(number).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
            }
        }
    };
}

unit_number!(Rt, "RT");
unit_number!(Rw, "RW");

/// Longest street line accepted, in characters.
pub const MAX_STREET_CHARS: usize = 200;

/// The street line of an address ("Jl. Mawar No. 12, Gg. Melati"): trimmed, 1 to
/// [`MAX_STREET_CHARS`] characters, one line (no control characters). Free text otherwise:
/// addresses are written many ways. Personal: `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Street(String);

impl Street {
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        let chars = text.chars().count();
        if chars == 0 {
            return Err(ValidationError::new(
                "",
                Rule::Required,
                "must not be empty",
            ));
        }
        if chars > MAX_STREET_CHARS {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                format!("must be at most {MAX_STREET_CHARS} characters"),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                "must be one line without control characters",
            ));
        }
        Ok(Street(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Redacted: a home address must never reach a log through `{:?}`.
impl fmt::Debug for Street {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Street(<redacted>)")
    }
}

string_serde!(Street);

/// A household's address, as the teams record it.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    pub street: Street,
    pub rt: Rt,
    pub rw: Rw,
    pub kelurahan: Kelurahan,
    pub kecamatan: Kecamatan,
}

/// Shows the area only: street, RT and RW together point at a home.
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("street", &self.street)
            .field("rt", &format_args!("<redacted>"))
            .field("rw", &format_args!("<redacted>"))
            .field("kelurahan", &self.kelurahan)
            .field("kecamatan", &self.kecamatan)
            .finish()
    }
}

/// Latitude bounds in micro-degrees: Kota Tangerang with a margin for its edges.
const LAT_E6: std::ops::RangeInclusive<i32> = -6_400_000..=-6_050_000;
/// Longitude bounds in micro-degrees.
const LON_E6: std::ops::RangeInclusive<i32> = 106_450_000..=106_800_000;

/// A home's location in micro-degrees (about 0.1 m; phones are not better), exact so that every
/// replica stores the same number. Only points in and around Kota Tangerang exist, which
/// catches swapped coordinates, a missing minus sign and a phone's stale fix elsewhere.
/// JSON: `{"lat": -6.178306, "lon": 106.631889}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeoPoint {
    lat_e6: i32,
    lon_e6: i32,
}

impl GeoPoint {
    /// Latitude -6.40..=-6.05, longitude 106.45..=106.80; the error's field is `lat` or `lon`.
    pub fn new(lat_e6: i32, lon_e6: i32) -> Result<Self, ValidationError> {
        check_lat(i64::from(lat_e6))?;
        check_lon(i64::from(lon_e6))?;
        Ok(GeoPoint { lat_e6, lon_e6 })
    }

    pub fn lat_e6(self) -> i32 {
        self.lat_e6
    }

    pub fn lon_e6(self) -> i32 {
        self.lon_e6
    }

    /// The stored form, [`Value::Point`].
    pub fn to_value(self) -> Value {
        Value::Point(self.lat_e6, self.lon_e6)
    }
}

fn check_lat(lat_e6: i64) -> Result<i32, ValidationError> {
    in_box(lat_e6, &LAT_E6).ok_or_else(|| {
        ValidationError::new(
            "lat",
            Rule::Range,
            "must be between -6.40 and -6.05 (Kota Tangerang)",
        )
    })
}

fn check_lon(lon_e6: i64) -> Result<i32, ValidationError> {
    in_box(lon_e6, &LON_E6).ok_or_else(|| {
        ValidationError::new(
            "lon",
            Rule::Range,
            "must be between 106.45 and 106.80 (Kota Tangerang)",
        )
    })
}

fn in_box(value: i64, range: &std::ops::RangeInclusive<i32>) -> Option<i32> {
    i32::try_from(value).ok().filter(|v| range.contains(v))
}

/// Redacted: a home's location is personal.
impl fmt::Debug for GeoPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GeoPoint(<redacted>)")
    }
}

impl serde::Serialize for GeoPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("GeoPoint", 2)?;
        st.serialize_field("lat", &Value::dec_to_json(i64::from(self.lat_e6), 6))?;
        st.serialize_field("lon", &Value::dec_to_json(i64::from(self.lon_e6), 6))?;
        st.end()
    }
}

/// Each coordinate checks itself, so that an error's path ends in `.lat` or `.lon`.
struct Coordinate<const LAT: bool>(i32);

impl<'de, const LAT: bool> serde::Deserialize<'de> for Coordinate<LAT> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(d)?;
        let micro = dec_from_json(&number, 6).ok_or_else(|| {
            let err = ValidationError::new(
                "",
                Rule::Format,
                "must be a decimal number with at most 6 decimal places",
            );
            serde::de::Error::custom(err.to_serde_message())
        })?;
        let checked = if LAT {
            check_lat(micro)
        } else {
            check_lon(micro)
        };
        checked
            .map(Coordinate)
            .map_err(|e| serde::de::Error::custom(e.to_serde_message()))
    }
}

impl<'de> serde::Deserialize<'de> for GeoPoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            lat: Coordinate<true>,
            lon: Coordinate<false>,
        }
        let wire = Wire::deserialize(d)?;
        Ok(GeoPoint {
            lat_e6: wire.lat.0,
            lon_e6: wire.lon.0,
        })
    }
}

/// A puskesmas's code as the health office assigns it (`CIPONDOH`, `P3671050101`): 3 to 20
/// characters of A-Z, 0-9 and hyphens, stored uppercase. Which codes exist is data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PuskesmasCode(String);

impl PuskesmasCode {
    /// Trims and uppercases, then checks.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let code = text.trim().to_ascii_uppercase();
        let ok_chars = code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !ok_chars || !(3..=20).contains(&code.len()) {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                "must be 3 to 20 characters of A-Z, 0-9 and hyphens",
            ));
        }
        Ok(PuskesmasCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PuskesmasCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_serde!(PuskesmasCode);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kecamatan_codes_follow_the_decree() {
        assert_eq!(Kecamatan::ALL.len(), 13);
        for (i, k) in Kecamatan::ALL.iter().enumerate() {
            assert_eq!(usize::from(k.code()), i + 1);
            assert_eq!(Kecamatan::from_code(k.code()), Some(*k));
            assert_eq!(Kecamatan::parse(k.as_str()), Ok(*k));
            assert_eq!(Kecamatan::parse(k.name()), Ok(*k));
        }
        // A public seed file swaps these two.
        assert_eq!(Kecamatan::KarangTengah.region_code(), "36.71.12");
        assert_eq!(Kecamatan::Larangan.region_code(), "36.71.13");
        assert_eq!(Kecamatan::Tangerang.region_code(), "36.71.01");
        assert_eq!(Kecamatan::KarangTengah.name(), "Karang Tengah");
        assert_eq!(Kecamatan::from_code(0), None);
        assert_eq!(Kecamatan::from_code(14), None);
    }

    #[test]
    fn kecamatan_accepts_official_names_in_any_case() {
        for text in [
            "karang_tengah",
            "Karang Tengah",
            "karang tengah",
            " KARANG  TENGAH ",
        ] {
            assert_eq!(
                Kecamatan::parse(text),
                Ok(Kecamatan::KarangTengah),
                "{text}"
            );
        }
        let k: Kecamatan = serde_json::from_str("\"Karang Tengah\"").unwrap();
        assert_eq!(k, Kecamatan::KarangTengah);
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"karang_tengah\"");
        let err = Kecamatan::parse("Serpong").unwrap_err();
        assert_eq!(err.rule, Rule::Choice);
        assert!(err.message.contains("karang_tengah"));
        assert_eq!(
            Kecamatan::parse("karangtengah").unwrap_err().rule,
            Rule::Choice
        );
    }

    #[test]
    fn kelurahan_is_normalised_and_checked() {
        let k = Kelurahan::parse("  Poris   Gaga Lama ").unwrap();
        assert_eq!(k.as_str(), "Poris Gaga Lama");
        assert!(Kelurahan::parse("Sudimara Barat").is_ok());
        assert!(Kelurahan::parse("Pd. Bahar").is_ok());
        assert_eq!(Kelurahan::parse("A").unwrap_err().rule, Rule::Format);
        assert_eq!(Kelurahan::parse(" ").unwrap_err().rule, Rule::Required);
        assert_eq!(
            Kelurahan::parse(&"a".repeat(61)).unwrap_err().rule,
            Rule::Format
        );
        assert!(Kelurahan::parse(&"a".repeat(60)).is_ok());
        assert_eq!(Kelurahan::parse("RW 03").unwrap_err().rule, Rule::Format);
        assert_eq!(Kelurahan::parse("Cikokol,").unwrap_err().rule, Rule::Format);
        let json: Kelurahan = serde_json::from_str("\" Cikokol \"").unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), "\"Cikokol\"");
    }

    #[test]
    fn rt_and_rw_are_one_to_999() {
        assert_eq!(Rt::new(1).unwrap().get(), 1);
        assert_eq!(Rw::new(999).unwrap().get(), 999);
        for bad in [0, 1000, -1, i64::MAX] {
            assert_eq!(Rt::new(bad).unwrap_err().rule, Rule::Range);
            assert_eq!(Rw::new(bad).unwrap_err().rule, Rule::Range);
        }
        assert_eq!(Rt::new(3).unwrap().to_string(), "003");
        assert_eq!(serde_json::to_string(&Rt::new(3).unwrap()).unwrap(), "3");
        assert_eq!(serde_json::from_str::<Rw>("12").unwrap().get(), 12);
        assert_eq!(crate::json::parse::<Rt>("0").unwrap_err().rule, Rule::Range);
        assert_eq!(
            crate::json::parse::<Rt>("-5").unwrap_err().rule,
            Rule::Range
        );
        assert_eq!(
            crate::json::parse::<Rt>("\"3\"").unwrap_err().rule,
            Rule::Format
        );
        assert!(crate::json::parse::<Rt>("3.5").is_err());
    }

    #[test]
    fn street_is_one_line_and_redacted() {
        let s = Street::parse("  Jl. Mawar No. 12, Gg. Melati  ").unwrap();
        assert_eq!(s.as_str(), "Jl. Mawar No. 12, Gg. Melati");
        assert_eq!(format!("{s:?}"), "Street(<redacted>)");
        assert_eq!(Street::parse("   ").unwrap_err().rule, Rule::Required);
        assert_eq!(
            Street::parse("Jl. A\nJl. B").unwrap_err().rule,
            Rule::Format
        );
        assert!(Street::parse(&"é".repeat(200)).is_ok());
        assert_eq!(
            Street::parse(&"é".repeat(201)).unwrap_err().rule,
            Rule::Format
        );
    }

    fn address_json() -> &'static str {
        r#"{"street":"Jl. Mawar No. 12","rt":3,"rw":5,"kelurahan":"Cipondoh Indah","kecamatan":"cipondoh"}"#
    }

    #[test]
    fn address_round_trips_and_rejects_unknown_fields() {
        let a: Address = crate::json::parse(address_json()).unwrap();
        assert_eq!(a.kecamatan, Kecamatan::Cipondoh);
        assert_eq!(a.rt.get(), 3);
        assert_eq!(serde_json::to_string(&a).unwrap(), address_json());

        let extra = address_json().replace("}", r#","zip":"15148"}"#);
        let err = crate::json::parse::<Address>(&extra).unwrap_err();
        assert_eq!(err.rule, Rule::Unknown);

        let bad = address_json().replace(r#""rw":5"#, r#""rw":0"#);
        let err = crate::json::parse::<Address>(&bad).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("rw", Rule::Range));
    }

    #[test]
    fn address_debug_shows_only_the_area() {
        let a: Address = crate::json::parse(address_json()).unwrap();
        let debug = format!("{a:?}");
        assert!(!debug.contains("Mawar"));
        assert!(debug.contains("Cipondoh Indah"));
        assert!(!debug.contains("Rt(3)"));
    }

    #[test]
    fn geopoint_json_is_exact() {
        let p: GeoPoint = crate::json::parse(r#"{"lat": -6.178306, "lon": 106.631889}"#).unwrap();
        assert_eq!((p.lat_e6(), p.lon_e6()), (-6_178_306, 106_631_889));
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"lat":-6.178306,"lon":106.631889}"#
        );
        let p: GeoPoint = crate::json::parse(r#"{"lat": -6.2, "lon": 106.6}"#).unwrap();
        assert_eq!((p.lat_e6(), p.lon_e6()), (-6_200_000, 106_600_000));
        assert_eq!(p.to_value(), Value::Point(-6_200_000, 106_600_000));
        assert_eq!(format!("{p:?}"), "GeoPoint(<redacted>)");
    }

    #[test]
    fn geopoint_errors_name_the_coordinate() {
        let err =
            crate::json::parse::<GeoPoint>(r#"{"lat": 6.178306, "lon": 106.631889}"#).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("lat", Rule::Range));
        let err =
            crate::json::parse::<GeoPoint>(r#"{"lat": -6.178306, "lon": 107.0}"#).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("lon", Rule::Range));
        // Swapped coordinates.
        let err =
            crate::json::parse::<GeoPoint>(r#"{"lat": 106.631889, "lon": -6.178306}"#).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("lat", Rule::Range));
        let err = crate::json::parse::<GeoPoint>(r#"{"lat": -6.1783061, "lon": 106.631889}"#)
            .unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("lat", Rule::Format));
        let err = crate::json::parse::<GeoPoint>(r#"{"lat": -6.1, "lon": 106.6, "alt": 12}"#)
            .unwrap_err();
        assert_eq!(err.rule, Rule::Unknown);
        let err = crate::json::parse::<GeoPoint>(r#"{"lat": -6.1}"#).unwrap_err();
        assert_eq!(err.rule, Rule::Required);
        assert_eq!(
            crate::json::parse::<GeoPoint>(r#"{"lat": 1e300, "lon": 106.6}"#)
                .unwrap_err()
                .field,
            "lat"
        );
    }

    #[test]
    fn geopoint_box_edges_are_inclusive() {
        assert!(GeoPoint::new(-6_400_000, 106_450_000).is_ok());
        assert!(GeoPoint::new(-6_050_000, 106_800_000).is_ok());
        assert_eq!(
            GeoPoint::new(-6_400_001, 106_600_000).unwrap_err().field,
            "lat"
        );
        assert_eq!(
            GeoPoint::new(-6_049_999, 106_600_000).unwrap_err().field,
            "lat"
        );
        assert_eq!(
            GeoPoint::new(-6_200_000, 106_449_999).unwrap_err().field,
            "lon"
        );
        assert_eq!(
            GeoPoint::new(-6_200_000, 106_800_001).unwrap_err().field,
            "lon"
        );
    }

    #[test]
    fn puskesmas_code_is_uppercased() {
        let c = PuskesmasCode::parse("  pkm-cipondoh ").unwrap();
        assert_eq!(c.as_str(), "PKM-CIPONDOH");
        assert_eq!(c.to_string(), "PKM-CIPONDOH");
        for bad in ["AB", "", "PKM CIPONDOH", "PKM_1", "ÉTÉ", &"A".repeat(21)] {
            assert_eq!(
                PuskesmasCode::parse(bad).unwrap_err().rule,
                Rule::Format,
                "{bad}"
            );
        }
        assert!(PuskesmasCode::parse(&"A".repeat(20)).is_ok());
        let json: PuskesmasCode = serde_json::from_str("\"p3671050101\"").unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), "\"P3671050101\"");
    }

    proptest! {
        #[test]
        fn geopoint_round_trips(lat in LAT_E6, lon in LON_E6) {
            let p = GeoPoint::new(lat, lon).unwrap();
            let json = serde_json::to_string(&p).unwrap();
            prop_assert_eq!(crate::json::parse::<GeoPoint>(&json), Ok(p));
        }

        #[test]
        fn geopoint_never_panics(lat in any::<f64>(), lon in any::<f64>()) {
            let json = serde_json::json!({"lat": lat, "lon": lon}).to_string();
            let _ = crate::json::parse::<GeoPoint>(&json);
        }

        #[test]
        fn text_parsers_never_panic(text in "\\PC{0,80}") {
            let _ = Kecamatan::parse(&text);
            if let Ok(k) = Kelurahan::parse(&text) {
                prop_assert_eq!(Kelurahan::parse(k.as_str()), Ok(k.clone()));
            }
            if let Ok(s) = Street::parse(&text) {
                prop_assert_eq!(Street::parse(s.as_str()), Ok(s.clone()));
            }
            if let Ok(c) = PuskesmasCode::parse(&text) {
                prop_assert_eq!(PuskesmasCode::parse(c.as_str()), Ok(c.clone()));
            }
        }
    }
}
