//! Identity numbers: NIKs agreeing with sex and birth date, and KK and JKN numbers.

use cageur_model::area::Kecamatan;
use cageur_model::person::JknNumber;
use cageur_model::{KkNumber, Nik, Sex};
use chrono::{Datelike, NaiveDate};

use super::{Generator, valid};

/// Regions (province, regency, district) of NIKs issued outside Kota Tangerang: Kabupaten
/// Tangerang, Tangerang Selatan, Jakarta, West, Central and East Java, Sumatra and beyond.
#[rustfmt::skip]
const OTHER_REGIONS: &[&str] = &[
    "360301", "360316", "367401", "367405", "317101", "317306", "317402", "317504", "320101",
    "320512", "327101", "327303", "327502", "327601", "330101", "331503", "337402", "340201",
    "350101", "357801", "120101", "127101", "160101", "180101", "520101", "730101",
];

impl Generator {
    /// A NIK unique in the run: mostly issued in the household's kecamatan, sometimes in
    /// another one or another province; the day carries +40 for women.
    pub(super) fn nik(&mut self, kecamatan: Kecamatan, sex: Sex, birth: NaiveDate) -> Nik {
        let region = match self.weighted(&[(0u8, 78), (1, 10), (2, 12)]) {
            0 => format!("3671{:02}", kecamatan.code()),
            1 => {
                let other = self.pick(Kecamatan::ALL);
                format!("3671{:02}", other.code())
            }
            _ => self.pick(OTHER_REGIONS).to_owned(),
        };
        let day = birth.day() + if sex == Sex::Female { 40 } else { 0 };
        let prefix = format!(
            "{region}{day:02}{:02}{:02}",
            birth.month(),
            birth.year().rem_euclid(100)
        );
        for _ in 0..1000 {
            let serial = self.range(1, 9999);
            let nik = valid("NIK", Nik::parse(&format!("{prefix}{serial:04}")));
            let number = nik.as_string().parse::<u64>().expect("16 digits");
            if self.used_niks.insert(number) {
                debug_assert_eq!(nik.sex(), sex);
                debug_assert!(nik.birth_date_matches(birth));
                return nik;
            }
        }
        panic!("seed ran out of NIK serials for one region and birth date");
    }

    pub(super) fn jkn(&mut self) -> JknNumber {
        let number = self.range(1_000_000_000, 3_999_999_999);
        valid("JKN number", JknNumber::parse(&format!("000{number:010}")))
    }

    /// A KK number unique in the run, issued in the kecamatan.
    pub(super) fn kk(&mut self, kecamatan: Kecamatan, issued: NaiveDate) -> KkNumber {
        let prefix = format!(
            "3671{:02}{:02}{:02}{:02}",
            kecamatan.code(),
            issued.day(),
            issued.month(),
            issued.year().rem_euclid(100)
        );
        for _ in 0..1000 {
            let serial = self.range(1, 9999);
            let kk = valid(
                "KK number",
                KkNumber::parse(&format!("{prefix}{serial:04}")),
            );
            if self
                .used_kks
                .insert(kk.as_string().parse::<u64>().expect("16 digits"))
            {
                return kk;
            }
        }
        panic!("seed ran out of KK serials for one kecamatan and issue date");
    }
}
