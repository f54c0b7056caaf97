//! How webhooks are delivered: plain settings, read by `config`.

use std::time::Duration;

/// The delivery engine's settings (`BROADSHEET_WEBHOOK_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Whether webhooks may target loopback, private, link-local and other
    /// inward addresses. Off in production: a webhook is an admin-chosen
    /// URL this server calls, and must not reach what sits behind it.
    pub allow_private_targets: bool,
    /// Time to open a connection to a receiver.
    pub connect_timeout: Duration,
    /// Time for a whole delivery: connect, send, and the response's head.
    pub timeout: Duration,
    /// The first retry waits up to this long; each further one up to twice
    /// the one before (full jitter), never more than `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How long an event may keep failing before the webhook is marked
    /// failing and deliveries stop.
    pub give_up_after: Duration,
    /// How often an instance looks for webhooks with work.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
        }
    }
}

impl WebhookSettings {
    /// How long a claim on a webhook lasts: longer than any delivery may
    /// take, with room for recording it, so that a live instance never loses
    /// its claim mid-delivery while a dead one's claim soon runs out.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(2)
    }
}
