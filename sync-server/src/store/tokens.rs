//! Credentials: random secrets handed out once, stored only as hashes.
//!
//! The secrets are 256 random bits, so a fast hash (BLAKE3) is enough: there is nothing to
//! brute-force that a slow password hash would protect.

use rand::RngCore;

/// A secret to hand out, with the prefix that tells what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl Secret {
    /// A new device credential.
    pub fn device() -> Self {
        Self(format!("cjd_{}", random_hex()))
    }

    /// A new admin credential.
    pub fn admin() -> Self {
        Self(format!("cja_{}", random_hex()))
    }

    /// A new enrollment code: 12 letters and digits in groups of four, easy to read out and
    /// type on a tablet (no 0/O, 1/I/L).
    pub fn enrollment_code() -> Self {
        const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
        let mut rng = rand::rng();
        let chars: Vec<char> = (0..12)
            .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
            .collect();
        let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
        Self(groups.join("-"))
    }
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The stored form of a secret. Enrollment codes are compared without their dashes and case,
/// as people type them.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    let normal: String = if secret.starts_with("cj") {
        secret.to_owned()
    } else {
        secret
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    blake3::hash(normal.as_bytes()).as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_distinct_and_prefixed() {
        let (a, b) = (Secret::device(), Secret::device());
        assert_ne!(a, b);
        assert!(a.0.starts_with("cjd_") && a.0.len() == 68);
        assert!(Secret::admin().0.starts_with("cja_"));
    }

    #[test]
    fn an_enrollment_code_matches_however_it_is_typed() {
        let code = Secret::enrollment_code().0;
        assert_eq!(code.len(), 14);
        let typed = code.replace('-', " ").to_lowercase();
        assert_eq!(hash_secret(&typed), hash_secret(&code));
        assert_ne!(hash_secret(&code), hash_secret("AAAA-BBBB-CCCC"));
    }
}
