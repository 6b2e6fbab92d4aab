//! The database key, which the app passes in (from the platform keystore).

/// How the database file is encrypted (SQLCipher 4: AES-256, per-page HMAC).
#[derive(Clone)]
pub enum DatabaseKey {
    /// A random 256-bit key, best wrapped by the platform keystore: opening is instant, and
    /// destroying the wrapped key makes the file unreadable even if deleting it fails.
    Raw([u8; 32]),
    /// A passphrase, stretched with PBKDF2 (SQLCipher's default of 256,000 iterations).
    Passphrase(String),
}

impl DatabaseKey {
    /// 64 hex digits are a raw key; anything else is a passphrase.
    pub fn from_secret(secret: &str) -> Self {
        let mut raw = [0u8; 32];
        match hex::decode_to_slice(secret.trim(), &mut raw) {
            Ok(()) => DatabaseKey::Raw(raw),
            Err(_) => DatabaseKey::Passphrase(secret.to_owned()),
        }
    }

    /// The value of SQLCipher's `PRAGMA key`.
    pub(crate) fn pragma_value(&self) -> String {
        match self {
            DatabaseKey::Raw(raw) => format!("x'{}'", hex::encode(raw)),
            DatabaseKey::Passphrase(p) => p.clone(),
        }
    }
}

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(<secret>)")
    }
}
