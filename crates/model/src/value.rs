//! The values a record's fields hold, as stored and merged: compact, exact and identical on
//! every replica (no floating point, so no replica can round differently).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Identifies a field inside a record. Entities number their fields in the model (never
/// reusing a number); a visit's screening values live at `ScreeningSlot` keys (see
/// [`crate::visit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldKey(pub u32);

/// Fields 1-9 mean the same in every kind of record.
impl FieldKey {
    /// Tombstone: `Bool(true)` once the record is removed. Syncs like any edit.
    pub const DELETED: FieldKey = FieldKey(1);
    /// `Id` of the record this one was merged into as a duplicate.
    pub const MERGED_INTO: FieldKey = FieldKey(2);
    /// First key an entity may number its own fields from.
    pub const FIRST_ENTITY_FIELD: u32 = 10;
}

/// One field's value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Value {
    /// Explicitly cleared (an optional field set back to nothing).
    Null,
    Bool(bool),
    Int(i64),
    /// An exact decimal: mantissa and number of decimal places (36.5 is `Dec(365, 1)`).
    Dec(i64, u8),
    Text(String),
    /// A calendar date, as days since 1970-01-01.
    Date(i32),
    /// An instant with the UTC offset of the device that recorded it: milliseconds since the
    /// Unix epoch (UTC) and the offset in minutes.
    Time(i64, i16),
    /// A reference to another record.
    Id(Uuid),
    /// A point in micro-degrees: latitude, longitude.
    Point(i32, i32),
    /// A set of choices from a closed list (indexes into it), sorted and unique.
    Codes(Vec<u16>),
}

impl Value {
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_id(&self) -> Option<Uuid> {
        match self {
            Value::Id(id) => Some(*id),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A decimal as a JSON number with exactly its decimal places (`Dec(365, 1)` is `36.5`).
    pub fn dec_to_json(mantissa: i64, scale: u8) -> serde_json::Value {
        let text = dec_to_string(mantissa, scale);
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    }
}

/// `Dec(365, 1)` as `"36.5"`.
pub fn dec_to_string(mantissa: i64, scale: u8) -> String {
    if scale == 0 {
        return mantissa.to_string();
    }
    let sign = if mantissa < 0 { "-" } else { "" };
    let digits = mantissa.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{frac}")
}

/// A JSON number as a decimal with `scale` places, if it has no more places than that.
///
/// Read from the number's shortest decimal text, digit by digit, so that `36.6` is exactly
/// 366 tenths (never 365.99...); with no allocation, since this runs for every decimal a
/// health worker records.
pub fn dec_from_json(number: &serde_json::Number, scale: u8) -> Option<i64> {
    use std::io::Write as _;
    // The longest text a JSON number prints as is 24 bytes (`-1.7976931348623157e308`).
    let mut buffer = [0u8; 32];
    let length = {
        let mut free = &mut buffer[..];
        write!(free, "{number}").ok()?;
        32 - free.len()
    };
    let text = &buffer[..length];
    if text.iter().any(|b| matches!(b, b'e' | b'E')) {
        return None;
    }
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (whole, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &[][..]),
    };
    let frac = &frac[..frac
        .iter()
        .rposition(|&b| b != b'0')
        .map_or(0, |last| last + 1)];
    let scale = usize::from(scale);
    if frac.len() > scale || whole.is_empty() {
        return None;
    }
    let padding = std::iter::repeat_n(&b'0', scale - frac.len());
    let mut magnitude: i64 = 0;
    for &digit in whole.iter().chain(frac).chain(padding) {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(i64::from(digit - b'0'))?;
    }
    Some(if negative { -magnitude } else { magnitude })
}

/// A record's fields as the user sees them: one value per field.
pub type FieldMap = BTreeMap<FieldKey, Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_print_with_their_places() {
        assert_eq!(dec_to_string(365, 1), "36.5");
        assert_eq!(dec_to_string(5, 2), "0.05");
        assert_eq!(dec_to_string(-5, 1), "-0.5");
        assert_eq!(dec_to_string(140, 0), "140");
    }

    #[test]
    fn decimals_parse_exactly() {
        let n = |s: &str| serde_json::from_str::<serde_json::Number>(s).unwrap();
        assert_eq!(dec_from_json(&n("36.5"), 1), Some(365));
        assert_eq!(dec_from_json(&n("36"), 1), Some(360));
        assert_eq!(dec_from_json(&n("36.50"), 1), Some(365));
        assert_eq!(dec_from_json(&n("36.55"), 1), None);
        assert_eq!(dec_from_json(&n("-0.5"), 1), Some(-5));
        assert_eq!(dec_from_json(&n("1e3"), 0), Some(1000));
        assert_eq!(dec_from_json(&n("1e300"), 0), None);
        assert_eq!(dec_from_json(&n("-9223372036854775808"), 0), None);
        assert_eq!(dec_from_json(&n("9223372036854775807"), 0), Some(i64::MAX));
        assert_eq!(dec_from_json(&n("922337203685477580.8"), 1), None);
    }

    /// The first version: the number's text, padded and parsed. Plain, and kept as the
    /// reference the allocation-free reading must agree with.
    fn dec_from_text(number: &serde_json::Number, scale: u8) -> Option<i64> {
        let text = number.to_string();
        if text.contains(['e', 'E']) {
            return None;
        }
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let frac = frac.trim_end_matches('0');
        if frac.len() > usize::from(scale) {
            return None;
        }
        let padded = format!("{whole}{frac:0<width$}", width = usize::from(scale));
        let magnitude: i64 = padded.parse().ok()?;
        Some(if negative { -magnitude } else { magnitude })
    }

    proptest::proptest! {
        #[test]
        fn decimals_parse_as_their_text_does(
            int in proptest::prelude::any::<i64>(),
            big in proptest::prelude::any::<u64>(),
            float in proptest::prelude::any::<f64>(),
            tenths in -100_000i64..100_000,
            scale in 0u8..6,
        ) {
            let numbers = [
                serde_json::Number::from(int),
                serde_json::Number::from(big),
                serde_json::Number::from_f64(float).unwrap_or_else(|| 0.into()),
                serde_json::Number::from_f64(tenths as f64 / 10.0).unwrap(),
            ];
            for number in numbers {
                proptest::prop_assert_eq!(
                    dec_from_json(&number, scale),
                    dec_from_text(&number, scale),
                    "{} at scale {}", number, scale
                );
            }
        }
    }
}
