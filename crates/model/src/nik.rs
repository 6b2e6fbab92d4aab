//! The NIK (Nomor Induk Kependudukan), the 16-digit national identity number that identifies a
//! person in the civil registry and in SATUSEHAT.
//!
//! A NIK is `PPKKDD` (province, regency/city, district where it was issued), `DDMMYY` (birth
//! date, with 40 added to the day for women) and a 4-digit serial. Many residents of Kota
//! Tangerang hold NIKs issued elsewhere, so only the structure and the date are checked, never
//! that the region is 36.71.
//!
//! A NIK is specific personal data (Law 27/2022): it never appears in `Debug` output or in an
//! error message.
//!
//! The structure checks shared with the Kartu Keluarga number ([`crate::kk`]) live here as
//! crate-private helpers.

use crate::codes::Sex;
use crate::error::{Rule, ValidationError};
use chrono::{Datelike, NaiveDate};
use std::fmt;
use std::str::FromStr;

/// A well-formed NIK. It exists only if [`Nik::parse`] accepted it: 16 digits, a real
/// province, non-zero regency and district, a birth date that exists, and a non-zero serial.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nik(u64);

impl Nik {
    /// Parses a NIK as typed or scanned; whitespace around it is ignored, inside it is not.
    pub fn parse(text: &str) -> Result<Nik, ValidationError> {
        let digits = sixteen_digits(text)?;
        check_region(&digits)?;
        let (day, month, year) = date_digits(&digits);
        let day = if day > 40 { day - 40 } else { day };
        // A raw day of 32..=40 falls through as 32..=40 and fails the calendar check below;
        // so does a raw day of 0 or over 71.
        if !date_exists(day, month, year) {
            return Err(ValidationError::new(
                "",
                Rule::Date,
                "must encode a real birth date as DDMMYY (day plus 40 for women)",
            ));
        }
        check_serial(&digits)?;
        let nik = Nik(to_number(&digits));
        debug_assert_eq!(nik.as_string(), text.trim());
        Ok(nik)
    }

    /// The 16 digits.
    pub fn as_string(&self) -> String {
        format!("{:016}", self.0)
    }

    /// The 6-digit code of the district that issued the number (`367105` for Cipondoh).
    pub fn region_code(&self) -> String {
        self.as_string()[..6].to_owned()
    }

    /// Sex as registered: women have 40 added to the day of birth.
    pub fn sex(&self) -> Sex {
        if self.raw_day() > 40 {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    /// Whether `date` agrees with the birth date the NIK encodes (day, month and two-digit
    /// year; the century is not encoded). Used to catch a NIK typed against the wrong person.
    pub fn birth_date_matches(&self, date: NaiveDate) -> bool {
        let raw = self.raw_day();
        let day = if raw > 40 { raw - 40 } else { raw };
        let (_, month, year) = date_digits(&digits_of(self.0));
        u32::from(day) == date.day()
            && u32::from(month) == date.month()
            && i32::from(year) == date.year().rem_euclid(100)
    }

    fn raw_day(&self) -> u8 {
        date_digits(&digits_of(self.0)).0
    }
}

impl fmt::Display for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

/// Redacted: a NIK must never reach a log through `{:?}`.
impl fmt::Debug for Nik {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nik(<redacted>)")
    }
}

impl FromStr for Nik {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Nik::parse(s)
    }
}

impl serde::Serialize for Nik {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> serde::Deserialize<'de> for Nik {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Nik::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
    }
}

/// Province codes in use (BPS / Kemendagri), Aceh (11) to the Papua provinces (9x).
pub(crate) const PROVINCE_CODES: &[u8] = &[
    11, 12, 13, 14, 15, 16, 17, 18, 19, // Sumatra
    21, // Riau Islands
    31, 32, 33, 34, 35, 36, // Java (36: Banten)
    51, 52, 53, // Bali and Nusa Tenggara
    61, 62, 63, 64, 65, // Kalimantan
    71, 72, 73, 74, 75, 76, // Sulawesi
    81, 82, // Maluku
    91, 92, 93, 94, 95, 96, // Papua
];

/// The 16 digits of `text` (trimmed), each 0-9.
pub(crate) fn sixteen_digits(text: &str) -> Result<[u8; 16], ValidationError> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() != 16 || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(ValidationError::new("", Rule::Format, "must be 16 digits"));
    }
    let mut digits = [0u8; 16];
    for (d, b) in digits.iter_mut().zip(bytes) {
        *d = b - b'0';
    }
    Ok(digits)
}

/// Province must exist; regency/city and district must not be `00`.
pub(crate) fn check_region(digits: &[u8; 16]) -> Result<(), ValidationError> {
    let province = two(digits, 0);
    if !PROVINCE_CODES.contains(&province) {
        return Err(ValidationError::new(
            "",
            Rule::Format,
            "must start with an Indonesian province code (11 to 96)",
        ));
    }
    if two(digits, 2) == 0 || two(digits, 4) == 0 {
        return Err(ValidationError::new(
            "",
            Rule::Format,
            "regency and district codes (digits 3 to 6) must not be 00",
        ));
    }
    Ok(())
}

/// The last four digits are a serial that starts at 0001.
pub(crate) fn check_serial(digits: &[u8; 16]) -> Result<(), ValidationError> {
    if two(digits, 12) == 0 && two(digits, 14) == 0 {
        return Err(ValidationError::new(
            "",
            Rule::Format,
            "serial number (last 4 digits) must not be 0000",
        ));
    }
    Ok(())
}

/// Digits 7-12 as (day, month, two-digit year), day as written (women's +40 included).
pub(crate) fn date_digits(digits: &[u8; 16]) -> (u8, u8, u8) {
    (two(digits, 6), two(digits, 8), two(digits, 10))
}

/// Whether `day`/`month`/`yy` is a real date in 19YY or in 20YY: the century is not encoded, so
/// 29 February 00 is accepted (2000 was a leap year) while 29 February 01 is not.
pub(crate) fn date_exists(day: u8, month: u8, yy: u8) -> bool {
    let (day, month, yy) = (u32::from(day), u32::from(month), i32::from(yy));
    NaiveDate::from_ymd_opt(1900 + yy, month, day).is_some()
        || NaiveDate::from_ymd_opt(2000 + yy, month, day).is_some()
}

pub(crate) fn to_number(digits: &[u8; 16]) -> u64 {
    digits.iter().fold(0u64, |n, d| n * 10 + u64::from(*d))
}

pub(crate) fn digits_of(mut number: u64) -> [u8; 16] {
    debug_assert!(number < 10_u64.pow(16));
    let mut digits = [0u8; 16];
    for d in digits.iter_mut().rev() {
        // A remainder of 10 always fits in a u8.
        *d = (number % 10) as u8;
        number /= 10;
    }
    digits
}

fn two(digits: &[u8; 16], at: usize) -> u8 {
    digits[at] * 10 + digits[at + 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Region 36.71.05 (Cipondoh), born 7 March 1985.
    const MAN: &str = "3671050703850001";
    const WOMAN: &str = "3671054703850002";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn valid_nik_round_trips() {
        let nik = Nik::parse(MAN).unwrap();
        assert_eq!(nik.as_string(), MAN);
        assert_eq!(nik.to_string(), MAN);
        assert_eq!(nik.region_code(), "367105");
        assert_eq!(MAN.parse::<Nik>(), Ok(nik));
    }

    #[test]
    fn surrounding_whitespace_is_ignored_but_inner_is_not() {
        assert_eq!(
            Nik::parse(&format!("  {MAN}\n")).unwrap(),
            Nik::parse(MAN).unwrap()
        );
        let err = Nik::parse("3671 050703850001").unwrap_err();
        assert_eq!(err.rule, Rule::Format);
    }

    #[test]
    fn wrong_length_or_non_digits_is_a_format_error() {
        for bad in [
            "",
            "367105070385000",
            "36710507038500012",
            "36710507038500a1",
            "３６71050703850001",
        ] {
            let err = Nik::parse(bad).unwrap_err();
            assert_eq!(err.rule, Rule::Format, "{bad:?}");
            assert_eq!(err.message, "must be 16 digits");
        }
    }

    #[test]
    fn unknown_province_is_refused() {
        for province in [
            "00", "10", "20", "22", "30", "37", "41", "54", "66", "77", "83", "97",
        ] {
            let text = format!("{province}{}", &MAN[2..]);
            assert_eq!(Nik::parse(&text).unwrap_err().rule, Rule::Format, "{text}");
        }
        for province in PROVINCE_CODES {
            let text = format!("{province}{}", &MAN[2..]);
            assert!(Nik::parse(&text).is_ok(), "{text}");
        }
    }

    #[test]
    fn zero_regency_or_district_is_refused() {
        assert_eq!(
            Nik::parse("3600050703850001").unwrap_err().rule,
            Rule::Format
        );
        assert_eq!(
            Nik::parse("3671000703850001").unwrap_err().rule,
            Rule::Format
        );
    }

    #[test]
    fn zero_serial_is_refused() {
        let err = Nik::parse("3671050703850000").unwrap_err();
        assert_eq!(err.rule, Rule::Format);
        assert!(Nik::parse("3671050703851000").is_ok());
    }

    #[test]
    fn birth_date_must_exist() {
        for bad in [
            "3671050003850001", // day 0
            "3671053203850001", // day 32
            "3671054003850001", // day 40
            "3671057203850001", // day 72 (women: 32)
            "3671050700850001", // month 0
            "3671050713850001", // month 13
            "3671053104850001", // 31 April
            "3671057104850001", // 31 April, woman
            "3671053002850001", // 30 February
            "3671052902010001", // 29 February 1901 / 2001
        ] {
            let err = Nik::parse(bad).unwrap_err();
            assert_eq!(err.rule, Rule::Date, "{bad}");
        }
        for good in [
            "3671050101000001", // 1 January 00
            "3671053112990001", // 31 December 99
            "3671054101000001", // woman, day 1
            "3671057112990001", // woman, day 31
            "3671052902000001", // 29 February 2000
            "3671056902000001", // 29 February 2000, woman
            "3671052902840001", // 29 February 1984
        ] {
            assert!(Nik::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn sex_comes_from_the_day() {
        assert_eq!(Nik::parse(MAN).unwrap().sex(), Sex::Male);
        assert_eq!(Nik::parse(WOMAN).unwrap().sex(), Sex::Female);
    }

    #[test]
    fn birth_date_matches_day_month_and_two_digit_year() {
        let man = Nik::parse(MAN).unwrap();
        let woman = Nik::parse(WOMAN).unwrap();
        for nik in [man, woman] {
            assert!(nik.birth_date_matches(date(1985, 3, 7)));
            assert!(nik.birth_date_matches(date(2085, 3, 7)));
            assert!(!nik.birth_date_matches(date(1985, 3, 8)));
            assert!(!nik.birth_date_matches(date(1985, 4, 7)));
            assert!(!nik.birth_date_matches(date(1986, 3, 7)));
        }
        // Day 47 must not be compared as 47.
        assert!(!woman.birth_date_matches(date(1985, 3, 17)));
    }

    #[test]
    fn debug_is_redacted_and_errors_do_not_echo() {
        let nik = Nik::parse(MAN).unwrap();
        assert_eq!(format!("{nik:?}"), "Nik(<redacted>)");
        assert_eq!(format!("{:?}", Some(nik)), "Some(Nik(<redacted>))");
        let err = Nik::parse("3671053203850001").unwrap_err();
        assert!(!err.to_string().contains("3671"));
        assert!(!format!("{err:?}").contains("3671"));
    }

    #[test]
    fn serde_uses_the_digit_string() {
        let nik = Nik::parse(MAN).unwrap();
        let json = serde_json::to_string(&nik).unwrap();
        assert_eq!(json, format!("\"{MAN}\""));
        assert_eq!(serde_json::from_str::<Nik>(&json).unwrap(), nik);
        // A number is not a NIK: leading zeros and precision would be at risk.
        assert!(serde_json::from_str::<Nik>("3671050703850001").is_err());
    }

    #[test]
    fn serde_errors_keep_their_rule_and_path() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Person {
            nik: Nik,
        }
        let err = crate::json::parse::<Person>(r#"{"nik":"3671053203850001"}"#).unwrap_err();
        assert_eq!((err.field.as_str(), err.rule), ("nik", Rule::Date));
        assert!(!err.message.contains("3671"));
    }

    fn valid_nik() -> impl Strategy<Value = (String, NaiveDate, Sex)> {
        (
            proptest::sample::select(PROVINCE_CODES),
            1u8..=99,
            1u8..=99,
            0i32..(200 * 366),
            any::<bool>(),
            1u16..=9999,
        )
            .prop_map(|(province, regency, district, days, female, serial)| {
                let born = date(1900, 1, 1) + chrono::Days::new(days as u64);
                let day = born.day() + if female { 40 } else { 0 };
                let text = format!(
                    "{province:02}{regency:02}{district:02}{day:02}{:02}{:02}{serial:04}",
                    born.month(),
                    born.year() % 100
                );
                let sex = if female { Sex::Female } else { Sex::Male };
                (text, born, sex)
            })
    }

    proptest! {
        #[test]
        fn generated_niks_round_trip((text, born, sex) in valid_nik()) {
            let nik = Nik::parse(&text).unwrap();
            prop_assert_eq!(nik.to_string(), text.clone());
            prop_assert_eq!(Nik::parse(&nik.to_string()), Ok(nik));
            prop_assert_eq!(nik.sex(), sex);
            prop_assert!(nik.birth_date_matches(born));
            prop_assert_eq!(nik.region_code(), &text[..6]);
        }

        #[test]
        fn parse_never_panics(text in "\\PC*") {
            let _ = Nik::parse(&text);
        }

        #[test]
        fn parse_of_any_sixteen_digits_never_panics_and_round_trips(text in "[0-9]{16}") {
            if let Ok(nik) = Nik::parse(&text) {
                prop_assert_eq!(nik.as_string(), text);
            }
        }
    }
}
