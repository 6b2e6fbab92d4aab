//! The domain's settle policy: which concurrent values need no person to choose.
//!
//! Device and server must settle alike, or their exports would differ; so the policy lives
//! here, beside the record it reads.

use cageur_model::{FieldKey, RecordKind, ReferralStatus, Value, referral};

use crate::record::SettlePolicy;

/// The settle policy of a kind of record.
#[derive(Debug, Clone, Copy)]
pub struct DomainPolicy {
    kind: RecordKind,
}

/// The policy for records of `kind`.
pub fn policy(kind: RecordKind) -> DomainPolicy {
    DomainPolicy { kind }
}

impl SettlePolicy for DomainPolicy {
    fn settle(&self, field: FieldKey, candidates: &[&Value]) -> Option<Value> {
        if self.kind == RecordKind::Referral && field == FieldKey(referral::field::STATUS) {
            return settle_referral_status(candidates);
        }
        None
    }
}

/// A referral's status only moves forward, so concurrent steps along the path settle on the
/// furthest. Cancelled against a step is a real disagreement: a person decides.
fn settle_referral_status(candidates: &[&Value]) -> Option<Value> {
    let mut furthest: Option<(u8, &Value)> = None;
    for value in candidates {
        let status = value
            .as_int()
            .and_then(|c| u8::try_from(c).ok())
            .and_then(ReferralStatus::from_code)?;
        let step = status.progress()?;
        if furthest.is_none_or(|(best, _)| step > best) {
            furthest = Some((step, value));
        }
    }
    furthest.map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: ReferralStatus) -> Value {
        Value::Int(i64::from(s.code()))
    }

    #[test]
    fn forward_steps_settle_on_the_furthest() {
        let p = policy(RecordKind::Referral);
        let key = FieldKey(referral::field::STATUS);
        let (sent, arrived) = (
            status(ReferralStatus::Sent),
            status(ReferralStatus::Arrived),
        );
        assert_eq!(p.settle(key, &[&sent, &arrived]), Some(arrived.clone()));
        let cancelled = status(ReferralStatus::Cancelled);
        assert_eq!(p.settle(key, &[&cancelled, &arrived]), None);
        assert_eq!(
            policy(RecordKind::Person).settle(key, &[&sent, &arrived]),
            None
        );
    }
}
