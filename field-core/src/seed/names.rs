//! Person names: Sundanese, Betawi and Javanese, fitting each person's sex and generation.

use cageur_model::Sex;
use cageur_model::name::PersonName;
use chrono::{Datelike, NaiveDate};

use super::{Generator, valid};

/// Given names of people born before about 1992: Sundanese, Betawi and Javanese.
#[rustfmt::skip]
const MALE_CLASSIC: &[&str] = &[
    "Ahmad", "Budi", "Agus", "Asep", "Ujang", "Iwan", "Hendra", "Bambang", "Joko", "Dedi",
    "Yusuf", "Rudi", "Slamet", "Sugeng", "Eko", "Wahyu", "Cecep", "Dadang", "Ade", "Mamat",
    "Rohman", "Saipul", "Rojali", "Mansur", "Zainal", "Abdul", "Jaenudin", "Suparman", "Rahmat",
    "Hasan", "Ismail", "Dede", "Yayan", "Nana", "Endang", "Heri", "Tatang", "Usman",
];
#[rustfmt::skip]
const FEMALE_CLASSIC: &[&str] = &[
    "Siti", "Dewi", "Euis", "Nur", "Rina", "Wati", "Sri", "Neneng", "Yanti", "Tuti", "Ani",
    "Lilis", "Cucu", "Entin", "Iis", "Nining", "Ratna", "Rohayati", "Maesaroh", "Fatimah",
    "Aminah", "Juariah", "Marlina", "Yuyun", "Eti", "Imas", "Popon", "Rosita", "Sumiati",
    "Mulyani", "Nurhasanah", "Oom",
];
/// Given names of younger people.
#[rustfmt::skip]
const MALE_MODERN: &[&str] = &[
    "Muhammad", "Rizky", "Fajar", "Dimas", "Aditya", "Raka", "Bayu", "Farhan", "Arya", "Rafi",
    "Alif", "Gilang", "Daffa", "Naufal", "Azka", "Ilham", "Reza", "Yoga", "Fadli", "Hafiz",
    "Irfan", "Kevin", "Rangga", "Zaki",
];
#[rustfmt::skip]
const FEMALE_MODERN: &[&str] = &[
    "Aulia", "Nabila", "Putri", "Salsabila", "Zahra", "Aisyah", "Nayla", "Keisha", "Alya",
    "Syifa", "Nadia", "Anisa", "Fitri", "Intan", "Citra", "Dinda", "Rahma", "Khansa", "Kirana",
    "Tiara", "Amelia", "Safira", "Nur'aini", "Zaskia",
];
/// Second names (Indonesians often have no family name; many have a second given name).
#[rustfmt::skip]
const MALE_SECOND: &[&str] = &[
    "Santoso", "Hidayat", "Saputra", "Kurniawan", "Setiawan", "Nugroho", "Wijaya", "Permana",
    "Gunawan", "Firmansyah", "Hermawan", "Sulaiman", "Suryadi", "Supriadi", "Sumarna", "Rahman",
    "Hakim", "Maulana", "Pratama", "Ramadhan", "Syahputra", "Wibowo", "Susilo", "Prasetyo",
    "Hidayatullah", "Sobari", "Mulyana", "Fauzi",
];
#[rustfmt::skip]
const FEMALE_SECOND: &[&str] = &[
    "Rahmawati", "Lestari", "Susanti", "Wahyuni", "Handayani", "Kurniasih", "Rahayu", "Suryani",
    "Fitriani", "Nurhayati", "Puspita", "Anggraini", "Maharani", "Safitri", "Permatasari",
    "Wulandari", "Hasanah", "Aminah", "Komariah", "Nurjanah", "Sari", "Oktaviani",
];

impl Generator {
    /// A Sundanese, Betawi or Javanese name fitting the person's sex and generation.
    pub(super) fn name(&mut self, sex: Sex, birth: NaiveDate) -> PersonName {
        let modern = (birth.year() >= 1992) != self.chance(0.15);
        let given = match (sex, modern) {
            (Sex::Male, false) => self.pick(MALE_CLASSIC),
            (Sex::Male, true) => self.pick(MALE_MODERN),
            (Sex::Female, false) => self.pick(FEMALE_CLASSIC),
            (Sex::Female, true) => self.pick(FEMALE_MODERN),
        };
        let single = self.chance(if birth.year() < 1970 { 0.35 } else { 0.1 });
        let text = if single {
            given.to_owned()
        } else {
            let second = match sex {
                Sex::Male => self.pick(MALE_SECOND),
                Sex::Female => self.pick(FEMALE_SECOND),
            };
            format!("{given} {second}")
        };
        valid("name", PersonName::parse(&text))
    }
}
