//! People's names, and the normalised key used to find them again.
//!
//! Indonesian names come in every shape: one word ("Suharti"), many words, initials ("M. Yusuf"),
//! apostrophes ("Ma'ruf"), hyphens, and names from other scripts. So a name is any run of
//! letters with a little punctuation, not a first/last pair. Names are personal data: `Debug`
//! redacts them and no error message repeats them.

use crate::error::{Rule, ValidationError};
use std::fmt;
use std::str::FromStr;

/// Longest name accepted, in characters; the civil registry's own field is shorter.
pub const MAX_NAME_CHARS: usize = 100;

/// A person's name: trimmed, with inner whitespace collapsed to single spaces, 1 to
/// [`MAX_NAME_CHARS`] characters of letters, spaces, apostrophes, dots, commas and hyphens.
///
/// Typographic apostrophes (`’`, `‘`, `ʼ`), which phone keyboards insert, are stored as `'`, so
/// that "Ma’ruf" and "Ma'ruf" are the same name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// Normalises and checks a name as typed.
    pub fn parse(text: &str) -> Result<PersonName, ValidationError> {
        let name = normalise_text(text);
        let chars = name.chars().count();
        if chars == 0 {
            return Err(ValidationError::new(
                "",
                Rule::Required,
                "must not be empty",
            ));
        }
        if chars > MAX_NAME_CHARS {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if !only_letters_and(&name, &[' ', '\'', '.', ',', '-']) {
            return Err(ValidationError::new(
                "",
                Rule::Format,
                "may contain only letters, spaces, apostrophes ('), dots, commas and hyphens",
            ));
        }
        Ok(PersonName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key under which the name is found by [`search_key`] prefix search.
    pub fn search_key(&self) -> String {
        search_key(&self.0)
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Redacted: a name must never reach a log through `{:?}`.
impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonName(<redacted>)")
    }
}

impl FromStr for PersonName {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonName::parse(s)
    }
}

impl serde::Serialize for PersonName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PersonName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        PersonName::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
    }
}

/// Normalises a name or a search query for case- and accent-insensitive prefix search:
/// whitespace collapsed, lowercased, common Latin accents folded to ASCII ("Ásíh" and "asih"
/// give the same key), combining accents dropped, typographic apostrophes made `'`.
///
/// A name matches a query when `search_key(name).starts_with(&search_key(query))`. Keys are
/// for matching only, never for display.
pub fn search_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    let mut word = String::new();
    for part in text.split_whitespace() {
        word.clear();
        for c in part.chars().flat_map(char::to_lowercase) {
            fold_into(c, &mut word);
        }
        if word.is_empty() {
            continue;
        }
        if !key.is_empty() {
            key.push(' ');
        }
        key.push_str(&word);
    }
    key
}

/// Appends `c` (already lowercase) to `out`, folded to ASCII where it is a common accented
/// Latin letter.
fn fold_into(c: char, out: &mut String) {
    let folded = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ť' | 'ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'æ' => "ae",
        'œ' => "oe",
        'ß' => "ss",
        '’' | '‘' | 'ʼ' => "'",
        c if is_combining_accent(c) => "",
        c => {
            out.push(c);
            return;
        }
    };
    out.push_str(folded);
}

/// Trims, collapses inner whitespace to single spaces and makes typographic apostrophes `'`.
/// Shared with the other free-text names of the model (kelurahan).
pub(crate) fn normalise_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().map(|c| match c {
            '’' | '‘' | 'ʼ' => '\'',
            c => c,
        }));
    }
    out
}

/// Whether `text` holds only letters (any script), the `allowed` punctuation, and combining
/// accents that follow a letter (names typed in decomposed form, "e" + U+0301).
pub(crate) fn only_letters_and(text: &str, allowed: &[char]) -> bool {
    let mut after_letter = false;
    text.chars().all(|c| {
        if c.is_alphabetic() {
            after_letter = true;
            true
        } else if is_combining_accent(c) {
            after_letter
        } else {
            after_letter = false;
            allowed.contains(&c)
        }
    })
}

/// The Combining Diacritical Marks block.
fn is_combining_accent(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_trimmed_and_collapsed() {
        let name = PersonName::parse("  Siti \t Nur\u{a0}Aisyah \n").unwrap();
        assert_eq!(name.as_str(), "Siti Nur Aisyah");
        assert_eq!(name.to_string(), "Siti Nur Aisyah");
    }

    #[test]
    fn indonesian_name_shapes_are_accepted() {
        for ok in [
            "Suharti",
            "M. Yusuf",
            "Ma'ruf Amin",
            "Siti Nur-Hidayah",
            "Andi, S.Kep",
            "Ásíh",
            "Ta\u{301}ti", // decomposed accent
            "李小龍",
            "X",
        ] {
            assert!(PersonName::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(PersonName::parse("Ma’ruf").unwrap().as_str(), "Ma'ruf");
    }

    #[test]
    fn other_characters_are_refused_without_echoing_the_name() {
        for bad in [
            "Budi2",
            "Budi_S",
            "Budi@rumah",
            "Budi (ayah)",
            "Budi\u{0}",
            "\u{301}Budi",
        ] {
            let err = PersonName::parse(bad).unwrap_err();
            assert_eq!(err.rule, Rule::Format, "{bad:?}");
            assert!(!err.message.contains("Budi"));
            assert!(err.message.contains("letters"));
        }
    }

    #[test]
    fn length_is_bounded() {
        assert_eq!(PersonName::parse("   ").unwrap_err().rule, Rule::Required);
        assert_eq!(PersonName::parse("").unwrap_err().rule, Rule::Required);
        let longest = "é".repeat(MAX_NAME_CHARS);
        assert!(PersonName::parse(&longest).is_ok());
        let err = PersonName::parse(&format!("{longest}a")).unwrap_err();
        assert_eq!(err.rule, Rule::Format);
    }

    #[test]
    fn debug_is_redacted() {
        let name = PersonName::parse("Suharti").unwrap();
        assert_eq!(format!("{name:?}"), "PersonName(<redacted>)");
    }

    #[test]
    fn serde_validates() {
        let name: PersonName = serde_json::from_str("\" Siti  Aisyah \"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"Siti Aisyah\"");
        let err = crate::json::parse::<PersonName>("\"Budi2\"").unwrap_err();
        assert_eq!(err.rule, Rule::Format);
        assert!(!err.message.contains("Budi"));
    }

    #[test]
    fn search_key_ignores_case_accents_and_spacing() {
        assert_eq!(search_key("  Ásíh   NURAINI "), "asih nuraini");
        assert_eq!(search_key("Ta\u{301}ti"), "tati");
        assert_eq!(search_key("Ma’ruf"), "ma'ruf");
        assert_eq!(search_key("Strauß"), "strauss");
        let name = PersonName::parse("Siti Nur Aisyah").unwrap();
        assert!(name.search_key().starts_with(&search_key("SITI nur")));
        assert!(name.search_key().starts_with(&search_key("síti  n")));
        assert!(!name.search_key().starts_with(&search_key("nur")));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_its_own_output(text in "\\PC{0,120}") {
            if let Ok(name) = PersonName::parse(&text) {
                prop_assert_eq!(PersonName::parse(name.as_str()), Ok(name.clone()));
                prop_assert!(name.as_str().chars().count() <= MAX_NAME_CHARS);
            }
        }

        #[test]
        fn generated_names_round_trip(words in proptest::collection::vec("[A-Za-zÀ-ÿ'.,-]{1,10}", 1..6)) {
            let text = words.join(" ");
            prop_assume!(text.chars().all(|c| c.is_alphabetic() || "'.,- ".contains(c)));
            let name = PersonName::parse(&text).unwrap();
            prop_assert_eq!(name.as_str(), text.as_str());
            let json = serde_json::to_string(&name).unwrap();
            prop_assert_eq!(serde_json::from_str::<PersonName>(&json).unwrap(), name);
        }

        #[test]
        fn search_key_is_idempotent(text in "\\PC{0,60}") {
            let key = search_key(&text);
            prop_assert_eq!(search_key(&key), key);
        }

        #[test]
        fn every_prefix_of_an_ascii_name_finds_it(name in "[A-Za-z]{1,8}( [A-Za-z]{1,8}){0,3}", cut in 0usize..40) {
            let cut = cut.min(name.len());
            let query = &name[..cut];
            prop_assert!(search_key(&name).starts_with(&search_key(query)));
        }
    }
}
