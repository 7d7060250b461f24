//! The Gateway gRPC service: API key management for operators (grpcurl). It shares the public
//! listener, so every call needs an admin key in the `x-api-key` metadata (or a Bearer token); the
//! first admin key comes from `imap-sdc keys create --scope admin`.

use proto::pb::gateway_service_server::{GatewayService, GatewayServiceServer};
use proto::pb::{
    ApiKey as WireApiKey, CreateApiKeyRequest, CreateApiKeyResponse, ListApiKeysRequest, ListApiKeysResponse,
    RevokeApiKeyRequest, RevokeApiKeyResponse,
};
use tonic::{Request, Response, Status};

use super::auth::{AccessPath, identify};
use super::error::GatewayError;
use super::key_store::{ApiKey, ApiKeyStore, Scope};
use super::keys::parse_scopes;

pub struct GatewayGrpc {
    keys: ApiKeyStore,
}

impl GatewayGrpc {
    pub fn server(keys: ApiKeyStore) -> GatewayServiceServer<GatewayGrpc> {
        GatewayServiceServer::new(GatewayGrpc { keys })
    }

    async fn require_admin<T>(&self, request: &Request<T>) -> Result<(), GatewayError> {
        let headers = request.metadata().clone().into_headers();
        let caller = identify(&self.keys, AccessPath::ApiKey, &headers).await?;
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
        let created = self.keys.create(&request.name, &scopes).await?;
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
        let service = GatewayGrpc { keys: keys.clone() };

        let anonymous = service.list_api_keys(Request::new(ListApiKeysRequest {})).await.unwrap_err();
        assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);

        let mut create = Request::new(CreateApiKeyRequest { name: "team".into(), scopes: vec!["upload".into()] });
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
    }
}
