//! Deterministic synthetic data (see `seed`).
