//! `imap-sdc health`: asks a running node's gRPC health service (`grpc.health.v1`) whether it
//! serves. Container images have no curl or grpc_health_probe, so their healthcheck is the binary
//! itself; exit status 0 means serving.

use std::net::SocketAddr;
use std::time::Duration;

use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long one check may take, connection included: a healthcheck must answer promptly.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Checks `service` (empty: the node as a whole) on the node listening at `listen`; a wildcard
/// listen address is reached on loopback. Returns what to print, as `Ok` only when serving.
pub async fn check(listen: &str, service: &str) -> Result<String, String> {
    let address = match listen.parse::<SocketAddr>() {
        Ok(mut address) => {
            if address.ip().is_unspecified() {
                address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            address.to_string()
        }
        Err(_) => listen.to_string(),
    };
    let what = if service.is_empty() { address.clone() } else { format!("{service} at {address}") };
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .map_err(|error| format!("{address}: not an address: {error}"))?
        .connect_timeout(CHECK_TIMEOUT)
        .timeout(CHECK_TIMEOUT);
    let channel = endpoint.connect().await.map_err(|error| format!("{what}: unreachable: {}", with_causes(&error)))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest { service: service.to_string() })
        .await
        .map_err(|status| format!("{what}: {}: {}", status.code(), status.message()))?;
    match response.into_inner().status() {
        ServingStatus::Serving => Ok(format!("{what}: serving")),
        other => Err(format!("{what}: {}", other.as_str_name().to_ascii_lowercase())),
    }
}

/// An error and its causes, e.g. "transport error: tcp connect error: Connection refused".
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
