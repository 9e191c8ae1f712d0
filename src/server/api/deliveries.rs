//! Delivery ids already taken (webhooks' `X-GitHub-Delivery` and
//! `webhook-id`, Slack's signatures): a second delivery with the same id is
//! refused as a replay.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a delivery id is remembered: a second delivery with the same id
/// (`X-GitHub-Delivery`, `webhook-id`) is refused as a replay.
const REMEMBER: Duration = Duration::from_secs(24 * 60 * 60);
/// At most this many delivery ids are remembered; the oldest go first.
const REMEMBER_MAX: usize = 10_000;

/// The delivery ids taken recently, by `(hook, id)`, in memory.
#[derive(Default)]
pub(crate) struct Deliveries(Mutex<HashMap<(String, String), Instant>>);

impl Deliveries {
    /// Takes `id` for `hook`; false when it was already taken.
    pub(crate) fn take(&self, hook: &str, id: &str) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return true;
        };
        let now = Instant::now();
        seen.retain(|_, at| now.duration_since(*at) < REMEMBER);
        if seen.len() >= REMEMBER_MAX
            && let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
        {
            seen.remove(&oldest);
        }
        seen.insert((hook.to_owned(), id.to_owned()), now).is_none()
    }

    /// Forgets `id` (its delivery started nothing, so it may come again).
    pub(crate) fn forget(&self, hook: &str, id: &str) {
        if let Ok(mut seen) = self.0.lock() {
            seen.remove(&(hook.to_owned(), id.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_id_is_taken_once_until_forgotten() {
        let d = Deliveries::default();
        assert!(d.take("gh", "1"));
        assert!(!d.take("gh", "1"));
        assert!(d.take("other", "1"));
        d.forget("gh", "1");
        assert!(d.take("gh", "1"));
    }
}
