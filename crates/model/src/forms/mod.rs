//! Screening forms: versioned definitions that are data (JSON), not code, so the health office
//! can add or change a screening without a new app build.
//!
//! - [`FormDefinition`] says what a form asks ([`FieldDef`]s) and which flags it derives
//!   ([`FlagDef`]s, such as raised blood pressure); [`FormDefinition::check`] says whether a
//!   definition is itself valid.
//! - A screening records the [`FormRef`] (id and version) it used, and its values as
//!   `(field_index, Value)` pairs: the index is the field's position in
//!   [`FormDefinition::fields`]. Published versions never change ([`FormRegistry::add`]
//!   refuses a different definition under a published id and version), so indexes stay
//!   meaningful for ever. A change to a form is a new version.
//! - [`FormDefinition::validate_values`] turns what a health worker entered into those pairs;
//!   [`FormDefinition::values_to_json`] turns them back.
//! - Flags are computed from the values on read ([`FormDefinition::flags`]), never stored.
//!   Urgent flags are danger signs that make a visit a priority.
//! - The built-in forms live in `builtin/*.json` and are compiled in ([`builtin_forms`]).
//!
//! A definition in JSON (see [`field`] for every field type and [`flags`] for conditions):
//!
//! ```json
//! {
//!   "id": "vital-signs", "version": 1, "title": "Tanda Vital",
//!   "description": "Vital signs",
//!   "applies_to": {"sex": "female", "min_age_months": 120, "max_age_months": 720},
//!   "fields": [
//!     {"name": "systolic", "label": "Sistolik", "unit": "mmHg", "type": "integer", "min": 50, "max": 300},
//!     {"name": "temperature", "label": "Suhu", "unit": "°C", "type": "decimal", "scale": 1, "min": 30.0, "max": 45.0}
//!   ],
//!   "flags": [
//!     {"name": "raised_bp", "label": "Tekanan darah tinggi", "urgent": false,
//!      "when": {"field": "systolic", "gte": 140}}
//!   ]
//! }
//! ```

pub mod definition;
pub mod field;
pub mod flags;
pub mod registry;
mod values;

pub use definition::{Applicability, FlagDef, FormDefinition, FormRef};
pub use field::{FieldDef, FieldKind};
pub use flags::{Comparison, Condition, Threshold};
pub use registry::{FormRegistry, builtin_forms};
