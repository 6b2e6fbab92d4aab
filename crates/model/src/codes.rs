//! Small closed sets of the domain (sex, relation, visit outcome, referral status, ...).
//!
//! Each member has a stable numeric code, used in stored record states (compact, and safe to
//! rename in JSON), and a stable snake_case name, used in JSON. A code is never reused.

use crate::error::{Rule, ValidationError};

/// A closed set with stable codes and names; lets field tables treat them alike.
pub trait Coded: Sized + Copy + 'static {
    fn code(self) -> u8;
    fn from_code(code: u8) -> Option<Self>;
    fn as_str(self) -> &'static str;
    fn parse(text: &str) -> Result<Self, ValidationError>;
}

/// Declares a coded enum: `Name = code => "json_name"`.
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every member, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable numeric code stored in record states.
            pub fn code(self) -> u8 {
                match self { $($name::$variant => $code),+ }
            }

            /// The member with this stored code, if any.
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            /// The stable name used in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the JSON name; the error lists the allowed names.
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ValidationError::new(
                        "",
                        Rule::Choice,
                        format!("must be one of {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl $crate::codes::Coded for $name {
            fn code(self) -> u8 { $name::code(self) }
            fn from_code(code: u8) -> Option<Self> { $name::from_code(code) }
            fn as_str(self) -> &'static str { $name::as_str(self) }
            fn parse(text: &str) -> Result<Self, ValidationError> { $name::parse(text) }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&text).map_err(|e| serde::de::Error::custom(e.to_serde_message()))
            }
        }
    };
}
pub(crate) use code_enum;

code_enum! {
    /// The kinds of record a replica holds.
    RecordKind {
        Household = 1 => "household",
        Person = 2 => "person",
        Visit = 3 => "visit",
        Referral = 4 => "referral",
        FollowUp = 5 => "followup",
    }
}

code_enum! {
    /// Sex as registered on the NIK.
    Sex { Male = 1 => "male", Female = 2 => "female" }
}

code_enum! {
    /// A member's relation to the head of the household, as on the Kartu Keluarga.
    Relation {
        Head = 1 => "head",
        Spouse = 2 => "spouse",
        Child = 3 => "child",
        ChildInLaw = 4 => "child_in_law",
        Grandchild = 5 => "grandchild",
        Parent = 6 => "parent",
        ParentInLaw = 7 => "parent_in_law",
        OtherFamily = 8 => "other_family",
        Other = 9 => "other",
    }
}

code_enum! {
    /// The health worker's role in a Cageur Jasa team.
    Role { Doctor = 1 => "doctor", Nurse = 2 => "nurse", Midwife = 3 => "midwife" }
}

code_enum! {
    /// What happened at the door.
    VisitOutcome { Visited = 1 => "visited", NobodyHome = 2 => "nobody_home", Refused = 3 => "refused" }
}

code_enum! {
    /// Where a referral sends the patient.
    DestinationKind { Puskesmas = 1 => "puskesmas", Hospital = 2 => "hospital" }
}

code_enum! {
    /// How soon the patient must be seen.
    Urgency { Routine = 1 => "routine", Urgent = 2 => "urgent", Emergency = 3 => "emergency" }
}

code_enum! {
    /// Why a patient is referred, for the disease maps; the free-text reason says the rest.
    ReferralCategory {
        Tuberculosis = 1 => "tuberculosis",
        Hypertension = 2 => "hypertension",
        MentalHealth = 3 => "mental_health",
        Maternal = 4 => "maternal",
        Child = 5 => "child",
        Other = 6 => "other",
    }
}

code_enum! {
    /// A referral's progress. Only moves forward (see [`ReferralStatus::can_move_to`]).
    ReferralStatus {
        Created = 1 => "created",
        Sent = 2 => "sent",
        Arrived = 3 => "arrived",
        Completed = 4 => "completed",
        Cancelled = 5 => "cancelled",
    }
}

impl ReferralStatus {
    /// Position on the forward path created -> sent -> arrived -> completed; `None` for
    /// cancelled, which leaves the path.
    pub fn progress(self) -> Option<u8> {
        match self {
            ReferralStatus::Cancelled => None,
            other => Some(other.code()),
        }
    }

    /// Whether the referral is still open (the patient has not been seen to the end).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ReferralStatus::Created | ReferralStatus::Sent | ReferralStatus::Arrived
        )
    }

    /// A status only moves forward: to a later step, or to cancelled from an open one.
    pub fn can_move_to(self, next: ReferralStatus) -> bool {
        match (self.progress(), next.progress()) {
            (Some(now), Some(then)) => then > now,
            (Some(_), None) => self.is_open(),
            (None, _) => false,
        }
    }
}

code_enum! {
    /// How a patient is doing at a follow-up after referral or discharge.
    FollowUpOutcome {
        Improved = 1 => "improved",
        Unchanged = 2 => "unchanged",
        Worse = 3 => "worse",
        ReferredAgain = 4 => "referred_again",
        Died = 5 => "died",
        LostToFollowUp = 6 => "lost_to_follow_up",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        for s in ReferralStatus::ALL {
            assert_eq!(ReferralStatus::from_code(s.code()), Some(*s));
            assert_eq!(ReferralStatus::parse(s.as_str()), Ok(*s));
        }
        assert_eq!(Relation::from_code(0), None);
    }

    #[test]
    fn referral_status_only_moves_forward() {
        use ReferralStatus::*;
        assert!(Created.can_move_to(Sent));
        assert!(Created.can_move_to(Completed));
        assert!(Arrived.can_move_to(Cancelled));
        assert!(!Sent.can_move_to(Created));
        assert!(!Sent.can_move_to(Sent));
        assert!(!Completed.can_move_to(Cancelled));
        assert!(!Cancelled.can_move_to(Sent));
    }

    #[test]
    fn unknown_name_lists_the_choices() {
        let err = VisitOutcome::parse("gone").unwrap_err();
        assert_eq!(err.rule, Rule::Choice);
        assert!(err.message.contains("visited, nobody_home, refused"));
    }
}
