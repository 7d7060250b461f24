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
    /// How long a presigned download URL (S3 archive) stays valid; upstream's default.
    pub download_url_seconds: u64,
    /// How often uploads clients PUT straight into an S3 archive are looked for and placed.
    pub staged_upload_poll_millis: u64,
    /// A staged upload this old was left by a gateway that stopped mid-way; the sweeper places it.
    pub abandoned_upload_seconds: u64,
    /// What callers without an API key may see: `all`, or only `released` files.
    pub anonymous_access: crate::release::AnonymousAccess,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            public_url: None,
            upload_url_seconds: 3600,
            max_upload_bytes: 16 * 1024 * 1024 * 1024,
            download_url_seconds: 86_400,
            staged_upload_poll_millis: 1000,
            abandoned_upload_seconds: 3600,
            anonymous_access: crate::release::AnonymousAccess::All,
        }
    }
}
