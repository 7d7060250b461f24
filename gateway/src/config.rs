//! What the gateway needs to know, owned by the gateway.

use std::num::{NonZeroU32, NonZeroU64};
use std::time::Duration;

use mesh_runtime::config::{Problems, duration};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// The URL clients reach this gateway at (used in presigned URLs); defaults to the `Host` the
    /// request came to.
    pub public_url: Option<String>,
    /// How long a presigned upload URL stays valid.
    #[serde(with = "duration")]
    pub upload_url_lifetime: Duration,
    /// Largest accepted upload; a larger one is refused with 413.
    pub max_upload_bytes: NonZeroU64,
    /// How long a presigned download URL (S3 archive) stays valid; upstream's default.
    #[serde(with = "duration")]
    pub download_url_lifetime: Duration,
    /// How often uploads clients PUT straight into an S3 archive are looked for and placed.
    #[serde(with = "duration")]
    pub staged_upload_poll: Duration,
    /// A staged upload this old was left by a gateway that stopped mid-way; the sweeper places it
    /// (at least a minute, so an upload still in flight on another replica is left alone).
    #[serde(with = "duration")]
    pub abandoned_upload_age: Duration,
    /// What callers without an API key may see: `all`, or only `released` files.
    pub anonymous_access: crate::release::AnonymousAccess,
    /// Who may use the status API (`/api/*` but health and the OpenAPI document) and the page:
    /// `keys` (a key with the `read` or `operator` scope) or `open` (anyone, still seeing only
    /// what `anonymous_access` allows).
    pub status_access: StatusAccess,
    /// Failed authentications one client address may make per `auth_failure_window` before it is
    /// refused (429) until the window ends.
    pub auth_failure_limit: NonZeroU32,
    #[serde(with = "duration")]
    pub auth_failure_window: Duration,
    /// The most files `/query`, `/spice-query` and the kernel tables gather for one answer (the
    /// client reads one list); a query matching more is refused (400) with a request to narrow it.
    pub max_query_files: NonZeroU32,
    /// Requests per caller (`[gateway.rate_limit]`): per api key, per client address for
    /// anonymous callers; per replica.
    pub rate_limit: crate::rate_limit::RateLimitConfig,
}

/// Who may use the status API and the page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusAccess {
    /// Callers with a key carrying the `read` or `operator` scope.
    #[default]
    Keys,
    /// Anyone; anonymous callers see what `anonymous_access` allows.
    Open,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            public_url: None,
            upload_url_lifetime: Duration::from_secs(3600),
            max_upload_bytes: NonZeroU64::new(16 * 1024 * 1024 * 1024).expect("not zero"),
            download_url_lifetime: Duration::from_secs(86_400),
            staged_upload_poll: Duration::from_secs(1),
            abandoned_upload_age: Duration::from_secs(3600),
            anonymous_access: crate::release::AnonymousAccess::All,
            status_access: StatusAccess::Keys,
            auth_failure_limit: NonZeroU32::new(20).expect("not zero"),
            auth_failure_window: Duration::from_secs(60),
            max_query_files: NonZeroU32::new(50_000).expect("not zero"),
            rate_limit: crate::rate_limit::RateLimitConfig::default(),
        }
    }
}

impl GatewayConfig {
    /// What the types cannot say: URLs that live at least a second, a poll that is not a spin.
    pub fn validate(&self, problems: &mut Problems) {
        for (key, lifetime) in [
            ("gateway.upload_url_lifetime", self.upload_url_lifetime),
            ("gateway.download_url_lifetime", self.download_url_lifetime),
        ] {
            problems.check(lifetime >= Duration::from_secs(1), key, || "must be at least 1s".into());
        }
        problems.check(self.auth_failure_window >= Duration::from_secs(1), "gateway.auth_failure_window", || {
            "must be at least 1s".into()
        });
        problems.check(self.staged_upload_poll >= Duration::from_millis(50), "gateway.staged_upload_poll", || {
            "must be at least 50ms".into()
        });
        if let Some(url) = &self.public_url {
            problems.check(url.starts_with("http://") || url.starts_with("https://"), "gateway.public_url", || {
                format!("{url:?} is not an http:// or https:// URL")
            });
        }
    }
}
