//! Who is calling: the route prefix says what credentials are expected (`/api-key` wants the `x-api-key`
//! header, `/authorized` a Bearer token, the bare URL none), and the key found decides what is allowed.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;

use super::error::GatewayError;
use super::key_store::{ApiKey, ApiKeyStore, Scope};
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
                "{action} needs an api key with the '{scope}' scope: set IMAP_API_KEY (sent as x-api-key)"
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

/// The secret a request presents: `x-api-key` wins over a Bearer token, as in the client.
pub fn presented_secret(headers: &HeaderMap) -> Option<String> {
    let api_key = headers.get("x-api-key").and_then(|value| value.to_str().ok()).map(str::trim);
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim);
    api_key.or(bearer).filter(|secret| !secret.is_empty()).map(str::to_string)
}

pub async fn identify(keys: &ApiKeyStore, path: AccessPath, headers: &HeaderMap) -> Result<Caller, GatewayError> {
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
    match keys.authenticate(&secret).await? {
        Some(key) => Ok(Caller { key: Some(key) }),
        None => Err(GatewayError::Unauthenticated("unknown or revoked api key".into())),
    }
}

impl FromRequestParts<Arc<GatewayState>> for Caller {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<GatewayState>) -> Result<Caller, GatewayError> {
        let path = parts.extensions.get::<AccessPath>().copied().unwrap_or(AccessPath::Open);
        let caller = identify(&state.keys, path, &parts.headers).await?;
        tracing::Span::current().record("caller", caller.label());
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    #[tokio::test]
    async fn prefixes_demand_their_credentials() {
        let (pool, _dir) = mesh_runtime::store::testing::fresh_sqlite().await;
        crate::migrate(&pool).await.unwrap();
        let keys = ApiKeyStore::new(pool);
        let reader = keys.create("reader", &[Scope::Read]).await.unwrap();

        let anonymous = identify(&keys, AccessPath::Open, &HeaderMap::new()).await.unwrap();
        assert!(anonymous.key.is_none());
        assert!(matches!(anonymous.require(Scope::Upload, "upload"), Err(GatewayError::Unauthenticated(_))));
        assert!(matches!(
            identify(&keys, AccessPath::ApiKey, &HeaderMap::new()).await,
            Err(GatewayError::Unauthenticated(_))
        ));
        assert!(matches!(
            identify(&keys, AccessPath::Authorized, &HeaderMap::new()).await,
            Err(GatewayError::Unauthenticated(_))
        ));

        let by_header = identify(&keys, AccessPath::ApiKey, &headers(&[("x-api-key", &reader.secret)])).await.unwrap();
        assert_eq!(by_header.key.as_ref().unwrap().id, reader.key.id);
        let bearer = format!("Bearer {}", reader.secret);
        let by_token = identify(&keys, AccessPath::Authorized, &headers(&[("authorization", &bearer)])).await.unwrap();
        assert!(by_token.require(Scope::Read, "query").is_ok());
        assert!(matches!(by_token.require(Scope::Upload, "upload"), Err(GatewayError::Forbidden(_))));
        assert!(matches!(by_token.require(Scope::Admin, "reprocess"), Err(GatewayError::Forbidden(_))));

        let wrong = identify(&keys, AccessPath::ApiKey, &headers(&[("x-api-key", "imapsdc_nope")])).await;
        assert!(matches!(wrong, Err(GatewayError::Unauthenticated(_))));
        keys.revoke(&reader.key.id).await.unwrap();
        let revoked = identify(&keys, AccessPath::ApiKey, &headers(&[("x-api-key", &reader.secret)])).await;
        assert!(matches!(revoked, Err(GatewayError::Unauthenticated(_))));
    }
}
