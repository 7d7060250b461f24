//! The Gateway gRPC service: API key management for operators (grpcurl). It shares the public
//! listener, so every call needs an admin key in the `x-api-key` metadata (or a Bearer token); the
//! first admin key comes from `imap-sdc keys create --scope admin`.

use proto::pb::gateway_service_server::{GatewayService, GatewayServiceServer};
use proto::pb::{
    ApiKey as WireApiKey, CreateApiKeyRequest, CreateApiKeyResponse, ListApiKeysRequest, ListApiKeysResponse,
    RevokeApiKeyRequest, RevokeApiKeyResponse,
};
use tonic::{Request, Response, Status};

use std::sync::Arc;

use super::attempts::FailedAttempts;
use super::auth::{AccessPath, identify};
use super::error::GatewayError;
use super::key_store::{ApiKey, ApiKeyStore, Scope};
use super::keys::parse_scopes;

pub struct GatewayGrpc {
    keys: ApiKeyStore,
    attempts: Arc<FailedAttempts>,
}

impl GatewayGrpc {
    /// Failed attempts count with the REST routes' (the same addresses, the same keys).
    pub fn server(keys: ApiKeyStore, attempts: Arc<FailedAttempts>) -> GatewayServiceServer<GatewayGrpc> {
        GatewayServiceServer::new(GatewayGrpc { keys, attempts })
    }

    async fn require_admin<T>(&self, request: &Request<T>) -> Result<(), GatewayError> {
        let headers = request.metadata().clone().into_headers();
        let client = request.remote_addr().map(|address| address.ip());
        let caller = identify(&self.keys, &self.attempts, client, AccessPath::ApiKey, &headers).await?;
        caller.require(Scope::Admin, "manage api keys")?;
        Ok(())
    }
}

#[tonic::async_trait]
impl GatewayService for GatewayGrpc {
    #[tracing::instrument(skip_all, name = "gateway.create_api_key")]
    async fn create_api_key(
        &self,
        request: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        self.require_admin(&request).await?;
        let request = request.into_inner();
        let scopes = parse_scopes(&request.scopes)?;
        let expires_at = match request.valid_for {
            None => None,
            Some(valid_for) if valid_for.seconds > 0 && valid_for.nanos >= 0 => {
                Some(proto::time::now_millis().saturating_add(valid_for.seconds.saturating_mul(1000)))
            }
            Some(_) => return Err(GatewayError::InvalidRequest("valid_for must be at least one second".into()).into()),
        };
        let created = self.keys.create_expiring(&request.name, &scopes, expires_at).await?;
        tracing::info!(id = %created.key.id, name = %created.key.name, "api key created");
        Ok(Response::new(CreateApiKeyResponse { id: created.key.id, secret: created.secret }))
    }

    #[tracing::instrument(skip_all, name = "gateway.list_api_keys")]
    async fn list_api_keys(
        &self,
        request: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        self.require_admin(&request).await?;
        let keys = self.keys.list().await?.into_iter().map(wire_key).collect();
        Ok(Response::new(ListApiKeysResponse { keys }))
    }

    #[tracing::instrument(skip_all, name = "gateway.revoke_api_key")]
    async fn revoke_api_key(
        &self,
        request: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        self.require_admin(&request).await?;
        let revoked = self.keys.revoke(&request.into_inner().id).await?;
        Ok(Response::new(RevokeApiKeyResponse { revoked }))
    }
}

fn wire_key(key: ApiKey) -> WireApiKey {
    WireApiKey {
        id: key.id,
        name: key.name,
        scopes: key.scopes.iter().map(|scope| scope.as_str().to_string()).collect(),
        created_at: Some(proto::time::timestamp(key.created_at)),
        revoked: key.revoked,
        expires_at: key.expires_at.map(proto::time::timestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn key_management_needs_an_admin_key() {
        let (pool, _dir) = mesh_runtime::store::testing::fresh_sqlite().await;
        crate::migrate(&pool).await.unwrap();
        let keys = ApiKeyStore::new(pool);
        let admin = keys.create("root", &[Scope::Admin]).await.unwrap();
        let attempts = Arc::new(FailedAttempts::new(100, std::time::Duration::from_secs(60)));
        let service = GatewayGrpc { keys: keys.clone(), attempts };

        let anonymous = service.list_api_keys(Request::new(ListApiKeysRequest {})).await.unwrap_err();
        assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);

        let valid_for = Some(prost_types::Duration { seconds: 3600, nanos: 0 });
        let mut create =
            Request::new(CreateApiKeyRequest { name: "team".into(), scopes: vec!["upload".into()], valid_for });
        create.metadata_mut().insert("x-api-key", admin.secret.parse().unwrap());
        let created = service.create_api_key(create).await.unwrap().into_inner();

        let mut by_uploader = Request::new(ListApiKeysRequest {});
        by_uploader.metadata_mut().insert("x-api-key", created.secret.parse().unwrap());
        assert_eq!(service.list_api_keys(by_uploader).await.unwrap_err().code(), tonic::Code::PermissionDenied);

        let mut revoke = Request::new(RevokeApiKeyRequest { id: created.id.clone() });
        revoke.metadata_mut().insert("x-api-key", admin.secret.parse().unwrap());
        assert!(service.revoke_api_key(revoke).await.unwrap().into_inner().revoked);

        let mut list = Request::new(ListApiKeysRequest {});
        list.metadata_mut().insert("x-api-key", admin.secret.parse().unwrap());
        let listed = service.list_api_keys(list).await.unwrap().into_inner().keys;
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().any(|key| key.id == created.id && key.revoked && key.scopes == ["upload"]));
        assert!(listed.iter().any(|key| key.id == created.id && key.expires_at.is_some()));
        assert!(listed.iter().any(|key| key.id == admin.key.id && key.expires_at.is_none()));
    }
}
