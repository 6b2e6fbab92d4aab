//! The places of Kota Tangerang: kelurahan, streets, map points, puskesmas and hospitals.

/// The kelurahan of each kecamatan, in kecamatan code order (36.71.01 to 36.71.13).
#[rustfmt::skip]
pub(super) const KELURAHAN: [&[&str]; 13] = [
    &["Babakan", "Buaran Indah", "Cikokol", "Kelapa Indah", "Sukaasih", "Sukarasa", "Sukasari",
      "Tanah Tinggi"],
    &["Alam Jaya", "Gandasari", "Jatake", "Keroncong", "Manis Jaya", "Pasir Jaya"],
    &["Batuceper", "Batujaya", "Batusari", "Kebon Besar", "Poris Gaga", "Poris Gaga Baru",
      "Poris Jaya"],
    &["Belendung", "Benda", "Jurumudi", "Jurumudi Baru", "Pajang"],
    &["Cipondoh", "Cipondoh Indah", "Cipondoh Makmur", "Gondrong", "Kenanga", "Ketapang", "Petir",
      "Poris Plawad", "Poris Plawad Indah", "Poris Plawad Utara"],
    &["Paninggilan", "Paninggilan Utara", "Parung Serab", "Sudimara Barat", "Sudimara Jaya",
      "Sudimara Selatan", "Sudimara Timur", "Tajur"],
    &["Bojong Jaya", "Bugel", "Cimone", "Cimone Jaya", "Gerendeng", "Karawaci", "Karawaci Baru",
      "Koang Jaya", "Margasari", "Nambo Jaya", "Nusa Jaya", "Pabuaran", "Pabuaran Tumpeng",
      "Pasar Baru", "Sukajadi", "Sumur Pancing"],
    &["Gebang Raya", "Gembor", "Periuk", "Periuk Jaya", "Sangiang Jaya"],
    &["Cibodas", "Cibodas Baru", "Cibodasari", "Jatiuwung", "Panunggangan Barat", "Uwung Jaya"],
    &["Karang Anyar", "Karang Sari", "Kedaung Baru", "Kedaung Wetan", "Mekarsari", "Neglasari",
      "Selapajang Jaya"],
    &["Cipete", "Kunciran", "Kunciran Indah", "Kunciran Jaya", "Nerogtog", "Pakojan",
      "Panunggangan", "Panunggangan Timur", "Panunggangan Utara", "Pinang", "Sudimara Pinang"],
    &["Karang Mulya", "Karang Tengah", "Karang Timur", "Parung Jaya", "Pedurenan", "Pondok Bahar",
      "Pondok Pucung"],
    &["Cipadu", "Cipadu Jaya", "Gaga", "Kreo", "Kreo Selatan", "Larangan Indah",
      "Larangan Selatan", "Larangan Utara"],
];

/// Puskesmas serving each kecamatan (referral destinations), in kecamatan code order.
#[rustfmt::skip]
pub(super) const PUSKESMAS: [&[&str]; 13] = [
    &["Puskesmas Tanah Tinggi", "Puskesmas Cikokol", "Puskesmas Sukasari"],
    &["Puskesmas Manis Jaya", "Puskesmas Gandasari"],
    &["Puskesmas Batuceper", "Puskesmas Poris Gaga Lama"],
    &["Puskesmas Benda", "Puskesmas Jurumudi Baru"],
    &["Puskesmas Cipondoh", "Puskesmas Petir", "Puskesmas Ketapang"],
    &["Puskesmas Ciledug", "Puskesmas Paninggilan", "Puskesmas Tajur"],
    &["Puskesmas Karawaci Baru", "Puskesmas Pabuaran Tumpeng", "Puskesmas Pasar Baru"],
    &["Puskesmas Periuk Jaya", "Puskesmas Gembor"],
    &["Puskesmas Cibodasari", "Puskesmas Jatiuwung"],
    &["Puskesmas Kedaung Wetan", "Puskesmas Neglasari"],
    &["Puskesmas Panunggangan", "Puskesmas Kunciran"],
    &["Puskesmas Pondok Bahar", "Puskesmas Karang Tengah"],
    &["Puskesmas Larangan Utara", "Puskesmas Kreo"],
];

/// Hospitals patients are referred to, with weights.
pub(super) const HOSPITALS: &[(&str, u32)] = &[
    ("RSUD Kota Tangerang", 6),
    ("RSU Kabupaten Tangerang", 3),
    ("RSUP Dr. Sitanala", 1),
];

/// Approximate centre of each kecamatan in micro-degrees (latitude, longitude), for map points.
#[rustfmt::skip]
pub(super) const CENTRES: [(i32, i32); 13] = [
    (-6_178_000, 106_632_000), (-6_190_000, 106_585_000), (-6_160_000, 106_655_000),
    (-6_125_000, 106_670_000), (-6_190_000, 106_690_000), (-6_230_000, 106_712_000),
    (-6_190_000, 106_612_000), (-6_165_000, 106_575_000), (-6_205_000, 106_600_000),
    (-6_150_000, 106_622_000), (-6_222_000, 106_672_000), (-6_215_000, 106_718_000),
    (-6_238_000, 106_735_000),
];

/// The box every generated map point lies in, in micro-degrees.
pub(super) const LAT_BOX: (i32, i32) = (-6_300_000, -6_100_000);
pub(super) const LON_BOX: (i32, i32) = (106_550_000, 106_750_000);

/// Street names, for addresses and the lanes (gang) off them.
#[rustfmt::skip]
pub(super) const STREETS: &[&str] = &[
    "Melati", "Mawar", "Kenanga", "Anggrek", "Flamboyan", "Cempaka", "Dahlia", "Kamboja",
    "Beringin", "Mangga", "Rambutan", "Nangka", "Jambu", "Teratai", "Kemuning",
    "KH. Hasyim Ashari", "Imam Bonjol", "Daan Mogot", "Perintis Kemerdekaan", "Gatot Subroto",
    "Raden Saleh", "Pembangunan", "Merdeka", "Masjid Al-Ikhlas", "Swadaya", "Bhakti", "Karya",
    "Hasanudin", "Sudirman", "Irigasi",
];
