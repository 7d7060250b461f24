//! What the gateway needs to know, owned by the gateway.

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// The URL clients reach this gateway at (used in presigned URLs); defaults to the listener.
    pub public_url: Option<String>,
}
