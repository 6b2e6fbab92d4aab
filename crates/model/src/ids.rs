//! Typed record ids: a person's id cannot be passed where a household's is expected.

use uuid::Uuid;

macro_rules! record_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id. UUIDv7: time-ordered, so new rows land at the end of indexes (about
            /// twice as fast to insert); unique from its random bits, whatever the clock says.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Uuid::nil())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::error::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| {
                    crate::error::ValidationError::new(
                        "",
                        crate::error::Rule::Format,
                        "must be a UUID such as 0192f0c4-5b1e-7c3a-9d2e-1f2a3b4c5d6e",
                    )
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

record_id!(
    /// A household (keluarga, one Kartu Keluarga).
    HouseholdId
);
record_id!(
    /// A person.
    PersonId
);
record_id!(
    /// A visit to a household.
    VisitId
);
record_id!(
    /// A referral of a person to a puskesmas or hospital.
    ReferralId
);
record_id!(
    /// A follow-up of a person after referral or discharge.
    FollowUpId
);
