//! Who is calling: the route prefix says what credentials are expected (`/api-key` wants the `x-api-key`
//! header, `/authorized` a Bearer token, the bare URL none), and the key found decides what is allowed.
//! A browser may also present a key as the password of HTTP Basic authentication (the status page).
//! Failed attempts are counted per client address ([`FailedAttempts`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts};
use base64::Engine;
use http::request::Parts;
use http::{Extensions, HeaderMap};

use super::attempts::{Client, FailedAttempts};
use super::error::GatewayError;
use super::key_store::{ApiKey, ApiKeyStore, Authentication, Scope};
use super::state::GatewayState;

/// The prefix a request came in under, set by the router on each nested copy of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessPath {
    /// The bare URL: anonymous unless a key is presented anyway.
    Open,
    /// `/api-key/...`: the `x-api-key` header is required.
    ApiKey,
    /// `/authorized/...`: `Authorization: Bearer <token>` is required (an API key secret serves as token).
    Authorized,
}

/// The authenticated caller of a request, or an anonymous one.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Option<ApiKey>,
}

impl Caller {
    /// The caller's key if it carries `scope`: 401 for anonymous callers, 403 for a key without it.
    pub fn require(&self, scope: Scope, action: &str) -> Result<&ApiKey, GatewayError> {
        let Some(key) = &self.key else {
            return Err(GatewayError::Unauthenticated(format!(
                "an api key with the '{scope}' scope is needed to {action}: set IMAP_API_KEY (sent as x-api-key)"
            )));
        };
        if !key.allows(scope) {
            return Err(GatewayError::Forbidden(format!(
                "api key '{}' may not {action}: it lacks the '{scope}' scope (it has: {})",
                key.name,
                key.scope_list()
            )));
        }
        Ok(key)
    }

    pub fn label(&self) -> &str {
        self.key.as_ref().map(|key| key.name.as_str()).unwrap_or("anonymous")
    }
}

/// The secret a request presents: `x-api-key` wins over a Bearer token, as in the client; a Basic
/// password (or, without one, the user name) comes last.
pub fn presented_secret(headers: &HeaderMap) -> Option<String> {
    let api_key = headers.get("x-api-key").and_then(|value| value.to_str().ok()).map(str::trim);
    let authorization = headers.get(http::header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let bearer = authorization
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim);
    let basic = authorization.and_then(|value| value.strip_prefix("Basic ")).and_then(basic_secret);
    api_key.or(bearer).filter(|secret| !secret.is_empty()).map(str::to_string).or(basic)
}

fn basic_secret(encoded: &str) -> Option<String> {
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':').unwrap_or((&text, ""));
    let secret = if password.trim().is_empty() { user } else { password };
    Some(secret.trim().to_string()).filter(|secret| !secret.is_empty())
}

/// The address a request came from, as the transport recorded it.
pub fn client_of(extensions: &Extensions) -> Client {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip()).or_else(|| {
        extensions.get::<tonic::transport::server::TcpConnectInfo>()?.remote_addr.map(|address| address.ip())
    })
}

/// Who presents `headers`. A client past its failed attempts is refused before its key is looked at.
pub async fn identify(
    keys: &ApiKeyStore,
    attempts: &FailedAttempts,
    client: Client,
    path: AccessPath,
    headers: &HeaderMap,
) -> Result<Caller, GatewayError> {
    let secret = presented_secret(headers);
    let Some(secret) = secret else {
        return match path {
            AccessPath::Open => Ok(Caller { key: None }),
            AccessPath::ApiKey => {
                Err(GatewayError::Unauthenticated("routes under /api-key need the x-api-key header".into()))
            }
            AccessPath::Authorized => Err(GatewayError::Unauthenticated(
                "routes under /authorized need an Authorization: Bearer token".into(),
            )),
        };
    };
    attempts.check(client, Instant::now()).map_err(|retry_after| GatewayError::TooManyAttempts { retry_after })?;
    let refusal = match keys.authenticate(&secret, proto::time::now_millis()).await? {
        Authentication::Valid(key) => return Ok(Caller { key: Some(key) }),
        Authentication::Malformed => GatewayError::Unauthenticated(
            "not an api key: keys read imapsdc_<id>_<secret>, as `imap-sdc keys create` prints them".into(),
        ),
        Authentication::Unknown => GatewayError::Unauthenticated("unknown or revoked api key".into()),
        Authentication::Expired { id, at } => GatewayError::Unauthenticated(format!(
            "api key {id} expired at {}; ask an operator for a new one",
            proto::time::rfc3339_millis(at)
        )),
    };
    attempts.record_failure(client, Instant::now());
    tracing::info!(client = ?client, "api key refused");
    Err(refusal)
}

impl FromRequestParts<Arc<GatewayState>> for Caller {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<GatewayState>) -> Result<Caller, GatewayError> {
        let path = parts.extensions.get::<AccessPath>().copied().unwrap_or(AccessPath::Open);
        let client = client_of(&parts.extensions);
        let caller = identify(&state.keys, &state.attempts, client, path, &parts.headers).await?;
        tracing::Span::current().record("caller", caller.label());
        // Every route that looks at its caller is rate limited; health and the OpenAPI document are not.
        state
            .rate_limiter
            .admit(&caller, client, Instant::now())
            .map_err(|retry_after| GatewayError::RateLimited { retry_after })?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    async fn key_store() -> (ApiKeyStore, tempfile::TempDir) {
        let (pool, dir) = mesh_runtime::store::testing::fresh_sqlite().await;
        crate::migrate(&pool).await.unwrap();
        (ApiKeyStore::new(pool), dir)
    }

    #[tokio::test]
    async fn prefixes_demand_their_credentials() {
        let (keys, _dir) = key_store().await;
        let attempts = FailedAttempts::new(100, Duration::from_secs(60));
        let identify = |path, headers| {
            let keys = keys.clone();
            let attempts = &attempts;
            async move { identify(&keys, attempts, None, path, &headers).await }
        };
        let reader = keys.create("reader", &[Scope::Read]).await.unwrap();

        let anonymous = identify(AccessPath::Open, HeaderMap::new()).await.unwrap();
        assert!(anonymous.key.is_none());
        assert!(matches!(anonymous.require(Scope::Upload, "upload"), Err(GatewayError::Unauthenticated(_))));
        assert!(matches!(identify(AccessPath::ApiKey, HeaderMap::new()).await, Err(GatewayError::Unauthenticated(_))));
        assert!(matches!(
            identify(AccessPath::Authorized, HeaderMap::new()).await,
            Err(GatewayError::Unauthenticated(_))
        ));

        let by_header = identify(AccessPath::ApiKey, headers(&[("x-api-key", &reader.secret)])).await.unwrap();
        assert_eq!(by_header.key.as_ref().unwrap().id, reader.key.id);
        let bearer = format!("Bearer {}", reader.secret);
        let by_token = identify(AccessPath::Authorized, headers(&[("authorization", &bearer)])).await.unwrap();
        assert!(by_token.require(Scope::Read, "query").is_ok());
        assert!(matches!(by_token.require(Scope::Upload, "upload"), Err(GatewayError::Forbidden(_))));
        assert!(matches!(by_token.require(Scope::Admin, "reprocess"), Err(GatewayError::Forbidden(_))));
        let basic =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("anyone:{}", reader.secret)));
        let by_browser = identify(AccessPath::Open, headers(&[("authorization", &basic)])).await.unwrap();
        assert_eq!(by_browser.key.unwrap().id, reader.key.id);

        let wrong = identify(AccessPath::ApiKey, headers(&[("x-api-key", "imapsdc_nope")])).await;
        assert!(
            matches!(wrong, Err(GatewayError::Unauthenticated(message)) if message.contains("imapsdc_<id>_<secret>"))
        );
        keys.revoke(&reader.key.id).await.unwrap();
        let revoked = identify(AccessPath::ApiKey, headers(&[("x-api-key", &reader.secret)])).await;
        assert!(matches!(revoked, Err(GatewayError::Unauthenticated(_))));
    }

    #[tokio::test]
    async fn failed_attempts_lock_out_only_their_address() {
        let (keys, _dir) = key_store().await;
        let attempts = FailedAttempts::new(2, Duration::from_secs(60));
        let valid = keys.create("ops", &[Scope::Operator]).await.unwrap().secret;
        let (guesser, colleague): (Client, Client) = (Some([192, 0, 2, 7].into()), Some([192, 0, 2, 8].into()));
        let guess = headers(&[("x-api-key", "imapsdc_0123456789ab_guess")]);
        for _ in 0..2 {
            let refused = identify(&keys, &attempts, guesser, AccessPath::ApiKey, &guess).await;
            assert!(matches!(refused, Err(GatewayError::Unauthenticated(_))));
        }
        // Even the right key waits out the window: the address is refused before any lookup.
        let locked = identify(&keys, &attempts, guesser, AccessPath::ApiKey, &headers(&[("x-api-key", &valid)])).await;
        let Err(GatewayError::TooManyAttempts { retry_after }) = locked else { panic!("{locked:?}") };
        assert!(retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60));
        let response = axum::response::IntoResponse::into_response(GatewayError::TooManyAttempts { retry_after });
        assert_eq!(response.status(), http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "60");
        let other = identify(&keys, &attempts, colleague, AccessPath::ApiKey, &headers(&[("x-api-key", &valid)])).await;
        assert!(other.unwrap().key.is_some());
        // Anonymous calls are not attempts.
        assert!(identify(&keys, &attempts, guesser, AccessPath::Open, &HeaderMap::new()).await.is_ok());
    }
}
