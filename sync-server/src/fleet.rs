//! The fleet of tablets as the health office sees it: each device's state, how far behind it
//! is, and which hold the data most at risk. Pure functions of what the store keeps and of
//! "now" (given, so that tests and `--as-of` can look at any day).

use serde::Serialize;

use crate::store::admin::DeviceFacts;

/// Days without a successful sync after which a device is stale, unless asked otherwise.
pub const STALE_AFTER_DAYS: i64 = 3;

const DAY: i64 = 86_400;

/// Where a device stands, most pressing first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Revoked and told to wipe; it has not reported its data deleted yet.
    WipePending,
    /// Revoked and its local data deleted.
    Wiped,
    /// Revoked: every request of it is refused.
    Revoked,
    /// Asked to rebuild its replica on its next sync.
    ResyncRequested,
    /// Enrolled but never finished a sync.
    NeverSynced,
    /// No successful sync for [`DeviceView::days_unsynced`] days.
    Stale,
    /// Synced recently.
    Healthy,
}

impl DeviceState {
    /// Every state, for filters and counts.
    pub const ALL: [DeviceState; 7] = [
        DeviceState::WipePending,
        DeviceState::Wiped,
        DeviceState::Revoked,
        DeviceState::ResyncRequested,
        DeviceState::NeverSynced,
        DeviceState::Stale,
        DeviceState::Healthy,
    ];

    /// The state's name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            DeviceState::WipePending => "wipe_pending",
            DeviceState::Wiped => "wiped",
            DeviceState::Revoked => "revoked",
            DeviceState::ResyncRequested => "resync_requested",
            DeviceState::NeverSynced => "never_synced",
            DeviceState::Stale => "stale",
            DeviceState::Healthy => "healthy",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<DeviceState> {
        DeviceState::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A device with its state, for `device list` and `device show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    #[serde(flatten)]
    pub facts: DeviceFacts,
    pub state: DeviceState,
    /// Whole days since its last successful sync (since enrollment if it never synced).
    pub days_unsynced: i64,
    /// Records of its scope it has not pulled yet.
    pub lag: u64,
    /// What is at stake if the tablet is lost now: days unsynced times pending changes.
    pub risk: u64,
    /// It reported a referral not yet pushed (or, for an app of protocol 1, an urgent
    /// change: referrals and danger signs).
    pub unsent_referral: bool,
}

/// A device's state on `now` (seconds), stale after `stale_days`.
pub fn state_of(facts: &DeviceFacts, now: i64, stale_days: i64) -> DeviceState {
    if facts.revoked_at.is_some() {
        return match (facts.wipe, facts.wiped_at) {
            (_, Some(_)) => DeviceState::Wiped,
            (true, None) => DeviceState::WipePending,
            (false, None) => DeviceState::Revoked,
        };
    }
    if facts.resync_requested_at.is_some() {
        return DeviceState::ResyncRequested;
    }
    match facts.last_sync_at {
        None => DeviceState::NeverSynced,
        Some(_) if days_unsynced(facts, now) >= stale_days => DeviceState::Stale,
        Some(_) => DeviceState::Healthy,
    }
}

/// Whole days since the device's last successful sync, or since it was enrolled.
pub fn days_unsynced(facts: &DeviceFacts, now: i64) -> i64 {
    let since = facts.last_sync_at.unwrap_or(facts.enrolled_at);
    (now - since).max(0) / DAY
}

/// The device seen on `now`, with `lag` records of its scope not pulled.
pub fn view(facts: DeviceFacts, lag: u64, now: i64, stale_days: i64) -> DeviceView {
    let state = state_of(&facts, now, stale_days);
    let days = days_unsynced(&facts, now);
    let pending = facts.pending.unwrap_or(0);
    let unsent_referral = match facts.pending_referrals {
        Some(n) => n > 0,
        None => facts.pending_urgent.unwrap_or(0) > 0,
    };
    // A day's risk is counted from the first: a tablet that synced this morning and holds
    // ten visits is at risk too.
    let risk = (days.unsigned_abs() + 1).saturating_mul(pending);
    DeviceView {
        facts,
        state,
        days_unsynced: days,
        lag,
        risk,
        unsent_referral,
    }
}

/// The devices whose data is most at risk first: any holding an unsent referral, then by
/// risk; devices that no longer hold data (wiped) and those with nothing pending are left out.
pub fn most_at_risk(views: &[DeviceView], top: usize) -> Vec<DeviceView> {
    let mut at_risk: Vec<&DeviceView> = views
        .iter()
        .filter(|v| v.state != DeviceState::Wiped && v.facts.pending.unwrap_or(0) > 0)
        .collect();
    at_risk.sort_by(|a, b| {
        (b.unsent_referral, b.risk, a.facts.id).cmp(&(a.unsent_referral, a.risk, b.facts.id))
    });
    at_risk.into_iter().take(top).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn device(id: u32) -> DeviceFacts {
        DeviceFacts {
            id,
            puskesmas: "P1".into(),
            team: "T1".into(),
            enrolled_at: NOW - 30 * DAY,
            revoked_at: None,
            wipe: false,
            stolen: false,
            wiped_at: None,
            resync_requested_at: None,
            resync_done_at: None,
            replaced_by: None,
            app_version: None,
            schema: None,
            protocol: None,
            pending: None,
            pending_urgent: None,
            pending_referrals: None,
            last_seen_at: None,
            last_sync_at: Some(NOW - DAY / 2),
            cursor: 0,
        }
    }

    #[test]
    fn a_device_is_stale_after_the_days_given_and_healthy_before() {
        let mut d = device(1);
        assert_eq!(state_of(&d, NOW, 3), DeviceState::Healthy);
        d.last_sync_at = Some(NOW - 9 * DAY);
        assert_eq!(state_of(&d, NOW, 3), DeviceState::Stale);
        assert_eq!(days_unsynced(&d, NOW), 9);
        assert_eq!(state_of(&d, NOW, 10), DeviceState::Healthy);
        d.last_sync_at = None;
        assert_eq!(state_of(&d, NOW, 3), DeviceState::NeverSynced);
        assert_eq!(days_unsynced(&d, NOW), 30);
    }

    #[test]
    fn revocation_and_resync_come_before_staleness() {
        let mut d = device(1);
        d.last_sync_at = Some(NOW - 9 * DAY);
        d.resync_requested_at = Some(NOW);
        assert_eq!(state_of(&d, NOW, 3), DeviceState::ResyncRequested);
        d.revoked_at = Some(NOW);
        assert_eq!(state_of(&d, NOW, 3), DeviceState::Revoked);
        d.wipe = true;
        assert_eq!(state_of(&d, NOW, 3), DeviceState::WipePending);
        d.wiped_at = Some(NOW);
        assert_eq!(state_of(&d, NOW, 3), DeviceState::Wiped);
    }

    #[test]
    fn an_unsent_referral_ranks_first_then_days_times_pending() {
        let mut quiet = device(1);
        quiet.pending = Some(0);
        let mut old_many = device(2);
        old_many.last_sync_at = Some(NOW - 9 * DAY);
        old_many.pending = Some(40);
        let mut fresh_few = device(3);
        fresh_few.pending = Some(5);
        let mut referral = device(4);
        referral.pending = Some(1);
        referral.pending_referrals = Some(1);
        let mut old_protocol_urgent = device(5);
        old_protocol_urgent.pending = Some(2);
        old_protocol_urgent.pending_urgent = Some(1);
        let mut wiped = device(6);
        wiped.pending = Some(99);
        wiped.revoked_at = Some(NOW);
        wiped.wiped_at = Some(NOW);
        let views: Vec<DeviceView> = [
            quiet,
            old_many,
            fresh_few,
            referral,
            old_protocol_urgent,
            wiped,
        ]
        .into_iter()
        .map(|d| view(d, 0, NOW, 3))
        .collect();
        let order: Vec<u32> = most_at_risk(&views, 10)
            .iter()
            .map(|v| v.facts.id)
            .collect();
        assert_eq!(order, vec![5, 4, 2, 3]);
        assert_eq!(views[1].risk, 10 * 40);
        assert_eq!(most_at_risk(&views, 1).len(), 1);
    }

    #[test]
    fn state_names_round_trip() {
        for s in DeviceState::ALL {
            assert_eq!(DeviceState::parse(s.name()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.name())
            );
        }
    }
}
