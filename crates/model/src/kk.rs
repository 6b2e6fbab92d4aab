//! The Kartu Keluarga (family card) number, which identifies a household in the civil
//! registry. Cageur Jasa counts its targets in KK: one visit covers one KK.
//!
//! Sixteen digits: `PPKKDD` (province, regency/city, district where the card was issued),
//! `DDMMYY` (issue date, with no +40 rule) and a 4-digit serial. As with the NIK, families often
//! hold cards issued elsewhere, so the region is checked for structure only.
//!
//! A KK number is personal data: it never appears in `Debug` output or in an error message.

use crate::error::{Rule, ValidationError};
use crate::nik::{check_region, check_serial, date_digits, date_exists, sixteen_digits, to_number};
use std::fmt;
use std::str::FromStr;

/// A well-formed KK number; exists only if [`KkNumber::parse`] accepted it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KkNumber(u64);

impl KkNumber {
    /// Parses a KK number as typed or scanned; whitespace around it is ignored.
    pub fn parse(text: &str) -> Result<KkNumber, ValidationError> {
        let digits = sixteen_digits(text)?;
        check_region(&digits)?;
        let (day, month, year) = date_digits(&digits);
        if !date_exists(day, month, year) {
            return Err(ValidationError::new(
                "",
                Rule::Date,
                "must encode a real issue date as DDMMYY",
            ));
        }
        check_serial(&digits)?;
        let kk = KkNumber(to_number(&digits));
        debug_assert_eq!(kk.as_string(), text.trim());
        Ok(kk)
    }

    /// The 16 digits.
    pub fn as_string(&self) -> String {
        format!("{:016}", self.0)
    }

    /// The 6-digit code of the district that issued the card.
    pub fn region_code(&self) -> String {
        self.as_string()[..6].to_owned()
    }
}

impl fmt::Display for KkNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

/// Redacted: a KK number must never reach a log through `{:?}`.
impl fmt::Debug for KkNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KkNumber(<redacted>)")
    }
}

impl FromStr for KkNumber {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KkNumber::parse(s)
    }
}

impl serde::Serialize for KkNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> serde::Deserialize<'de> for KkNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        KkNumber::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nik::PROVINCE_CODES;
    use chrono::{Datelike, NaiveDate};
    use proptest::prelude::*;

    // Issued in 36.71.12 (Karang Tengah) on 15 August 2016.
    const KK: &str = "3671121508160003";

    #[test]
    fn valid_number_round_trips() {
        let kk = KkNumber::parse(KK).unwrap();
        assert_eq!(kk.as_string(), KK);
        assert_eq!(kk.to_string(), KK);
        assert_eq!(kk.region_code(), "367112");
        assert_eq!(format!(" {KK} ").parse::<KkNumber>(), Ok(kk));
    }

    #[test]
    fn structure_is_checked() {
        for (bad, rule) in [
            ("367112150816000", Rule::Format),
            ("36711215081600x3", Rule::Format),
            ("9971121508160003", Rule::Format), // province 99
            ("3600121508160003", Rule::Format), // regency 00
            ("3671001508160003", Rule::Format), // district 00
            ("3671121508160000", Rule::Format), // serial 0000
        ] {
            assert_eq!(KkNumber::parse(bad).unwrap_err().rule, rule, "{bad}");
        }
    }

    #[test]
    fn issue_date_has_no_plus_forty_and_must_exist() {
        for bad in [
            "3671125508160003", // day 55: the +40 rule is for women's NIKs only
            "3671120008160003", // day 0
            "3671123206160003", // day 32
            "3671123106160003", // 31 June
            "3671122902150003", // 29 February 2015
            "3671121513160003", // month 13
        ] {
            assert_eq!(KkNumber::parse(bad).unwrap_err().rule, Rule::Date, "{bad}");
        }
        assert!(KkNumber::parse("3671122902160003").is_ok()); // 29 February 2016
        assert!(KkNumber::parse("3671122902000003").is_ok()); // 29 February 2000
    }

    #[test]
    fn debug_is_redacted_and_errors_do_not_echo() {
        let kk = KkNumber::parse(KK).unwrap();
        assert_eq!(format!("{kk:?}"), "KkNumber(<redacted>)");
        let err = KkNumber::parse("3671123106160003").unwrap_err();
        assert!(!err.to_string().contains("3671"));
    }

    #[test]
    fn serde_uses_the_digit_string() {
        let kk = KkNumber::parse(KK).unwrap();
        let json = serde_json::to_string(&kk).unwrap();
        assert_eq!(json, format!("\"{KK}\""));
        assert_eq!(serde_json::from_str::<KkNumber>(&json).unwrap(), kk);
        let err = crate::json::parse::<KkNumber>("\"3671123106160003\"").unwrap_err();
        assert_eq!(err.rule, Rule::Date);
    }

    proptest! {
        #[test]
        fn generated_numbers_round_trip(
            province in proptest::sample::select(PROVINCE_CODES),
            regency in 1u8..=99,
            district in 1u8..=99,
            days in 0u64..(200 * 366),
            serial in 1u16..=9999,
        ) {
            let issued = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(days);
            let text = format!(
                "{province:02}{regency:02}{district:02}{:02}{:02}{:02}{serial:04}",
                issued.day(),
                issued.month(),
                issued.year() % 100
            );
            let kk = KkNumber::parse(&text).unwrap();
            prop_assert_eq!(kk.to_string(), text);
            prop_assert_eq!(KkNumber::parse(&kk.to_string()), Ok(kk));
        }

        #[test]
        fn parse_never_panics(text in "\\PC*") {
            let _ = KkNumber::parse(&text);
        }
    }
}
