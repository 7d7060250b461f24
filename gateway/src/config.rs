//! What the gateway needs to know, owned by the gateway.

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// The URL clients reach this gateway at (used in presigned URLs); defaults to the `Host` the
    /// request came to.
    pub public_url: Option<String>,
    /// How long a presigned upload URL stays valid.
    pub upload_url_seconds: u64,
    /// Largest accepted upload; a larger one is refused with 413.
    pub max_upload_bytes: u64,
    /// What callers without an API key may see: `all`, or only `released` files.
    pub anonymous_access: crate::release::AnonymousAccess,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            public_url: None,
            upload_url_seconds: 3600,
            max_upload_bytes: 16 * 1024 * 1024 * 1024,
            anonymous_access: crate::release::AnonymousAccess::All,
        }
    }
}
