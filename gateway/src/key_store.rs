//! API keys: a secret is shown once at creation; only its SHA-256 hash is stored, and a request's
//! key is found by hashing what it presents.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use super::error::GatewayError;

/// What a key may do. `Admin` implies every other scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Upload,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Upload, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Upload => "upload",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = GatewayError;

    fn from_str(text: &str) -> Result<Scope, GatewayError> {
        let text = text.trim().to_ascii_lowercase();
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text)
            .ok_or_else(|| GatewayError::InvalidRequest(format!("unknown scope {text:?} (valid: read, upload, admin)")))
    }
}

/// A key as stored, never with its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    #[serde(serialize_with = "serialize_scopes")]
    pub scopes: Vec<Scope>,
    /// Milliseconds since the epoch.
    pub created_at: i64,
    pub revoked: bool,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    pub fn scope_list(&self) -> String {
        self.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(",")
    }
}

fn serialize_scopes<S: serde::Serializer>(scopes: &[Scope], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(scopes.iter().map(|scope| scope.as_str()))
}

/// A newly created key and its secret (shown once).
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Debug, Clone)]
pub struct ApiKeyStore {
    pool: AnyPool,
}

impl ApiKeyStore {
    pub fn new(pool: AnyPool) -> ApiKeyStore {
        ApiKeyStore { pool }
    }

    pub async fn create(&self, name: &str, scopes: &[Scope]) -> Result<CreatedKey, GatewayError> {
        if name.trim().is_empty() {
            return Err(GatewayError::InvalidRequest("an api key needs a name".into()));
        }
        let mut scopes = if scopes.is_empty() { vec![Scope::Read] } else { scopes.to_vec() };
        scopes.sort();
        scopes.dedup();
        let id = random_hex(6);
        let secret = format!("imapsdc_{id}_{}", random_hex(24));
        let created_at = proto::time::now_millis();
        let key = ApiKey { id, name: name.trim().to_string(), scopes, created_at, revoked: false };
        sqlx::query(
            "INSERT INTO gateway_api_keys (id, name, scopes, secret_hash, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, 0)",
        )
        .bind(key.id.clone())
        .bind(key.name.clone())
        .bind(key.scope_list())
        .bind(hash_secret(&secret))
        .bind(created_at)
        .execute(&self.pool)
        .await?;
        Ok(CreatedKey { key, secret })
    }

    pub async fn list(&self) -> Result<Vec<ApiKey>, GatewayError> {
        let rows = sqlx::query(
            "SELECT id, name, scopes, created_at, revoked_at FROM gateway_api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// True when a valid key was revoked now; false when it was unknown or already revoked.
    pub async fn revoke(&self, id: &str) -> Result<bool, GatewayError> {
        let affected = sqlx::query("UPDATE gateway_api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0")
            .bind(proto::time::now_millis())
            .bind(id.to_string())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(affected == 1)
    }

    /// The valid key whose secret this is.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>, GatewayError> {
        let row = sqlx::query(
            "SELECT id, name, scopes, created_at, revoked_at FROM gateway_api_keys \
             WHERE secret_hash = $1 AND revoked_at = 0",
        )
        .bind(hash_secret(secret))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// The gateway-wide secret that signs upload URLs, created by whichever replica asks first.
    pub async fn signing_secret(&self) -> Result<Vec<u8>, GatewayError> {
        sqlx::query("INSERT INTO gateway_settings (name, value) VALUES ('upload_signing_key', $1) ON CONFLICT (name) DO NOTHING")
            .bind(random_hex(32))
            .execute(&self.pool)
            .await?;
        let value: String = sqlx::query_scalar("SELECT value FROM gateway_settings WHERE name = 'upload_signing_key'")
            .fetch_one(&self.pool)
            .await?;
        Ok(value.into_bytes())
    }
}

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKey, GatewayError> {
    let scopes: String = row.try_get("scopes")?;
    let revoked_at: i64 = row.try_get("revoked_at")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: scopes.split(',').filter(|text| !text.is_empty()).filter_map(|text| text.parse().ok()).collect(),
        created_at: row.try_get("created_at")?,
        revoked: revoked_at != 0,
    })
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `bytes` random bytes from the operating system, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source");
    hex::encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    mesh_runtime::on_both_backends!(
        keys_authenticate_until_revoked_and_store_only_hashes,
        admin_implies_every_scope_and_default_is_read,
        signing_secret_is_made_once_and_shared,
    );

    /// The key store on a fresh database, its tables made.
    async fn store_on(pool: AnyPool) -> ApiKeyStore {
        crate::migrate(&pool).await.unwrap();
        ApiKeyStore::new(pool)
    }

    async fn keys_authenticate_until_revoked_and_store_only_hashes(pool: AnyPool) {
        let store = store_on(pool).await;
        let created = store.create("ops", &[Scope::Upload]).await.unwrap();
        let found = store.authenticate(&created.secret).await.unwrap().expect("key found");
        assert_eq!(found.id, created.key.id);
        assert!(found.allows(Scope::Upload));
        assert!(!found.allows(Scope::Admin));
        assert!(store.authenticate("imapsdc_wrong").await.unwrap().is_none());
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT secret_hash FROM gateway_api_keys").fetch_all(&store.pool).await.unwrap();
        assert_eq!(stored, vec![hash_secret(&created.secret)]);
        assert!(!stored[0].contains(&created.secret));
        assert!(store.revoke(&created.key.id).await.unwrap());
        assert!(!store.revoke(&created.key.id).await.unwrap());
        assert!(store.authenticate(&created.secret).await.unwrap().is_none());
        assert!(store.list().await.unwrap()[0].revoked);
    }

    async fn admin_implies_every_scope_and_default_is_read(pool: AnyPool) {
        let store = store_on(pool).await;
        let admin = store.create("admin", &[Scope::Admin]).await.unwrap().key;
        assert!(Scope::ALL.iter().all(|scope| admin.allows(*scope)));
        let reader = store.create("reader", &[]).await.unwrap().key;
        assert_eq!(reader.scopes, vec![Scope::Read]);
        assert!("bogus".parse::<Scope>().is_err());
        assert!(store.create("  ", &[]).await.is_err());
    }

    async fn signing_secret_is_made_once_and_shared(pool: AnyPool) {
        let store = store_on(pool).await;
        let first = store.signing_secret().await.unwrap();
        assert_eq!(first, store.signing_secret().await.unwrap());
        assert_eq!(first.len(), 64);
    }
}
