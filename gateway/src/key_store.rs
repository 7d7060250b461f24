//! API keys: a secret is shown once at creation; only its SHA-256 hash is stored. A secret reads
//! `imapsdc_<id>_<random>`: the key is found by its id, then the hash of what was presented is
//! compared with the stored one in constant time. Keys may expire.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use subtle::ConstantTimeEq;

use super::error::GatewayError;

/// Every secret starts with this, then the key's id, `_`, and the random part.
const SECRET_PREFIX: &str = "imapsdc_";

/// What a key may do. `Admin` implies every other scope, `Operator` implies `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The status API and page; released files only where `anonymous_access = "released"`.
    Read,
    /// Uploads; also sees files no release has made public yet (instrument teams).
    Upload,
    /// Runs the pipeline: everything `read` does on every file, and failing jobs.
    Operator,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Upload, Scope::Operator, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Upload => "upload",
            Scope::Operator => "operator",
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
        Scope::ALL.into_iter().find(|scope| scope.as_str() == text).ok_or_else(|| {
            GatewayError::InvalidRequest(format!("unknown scope {text:?} (valid: read, upload, operator, admin)"))
        })
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
    /// Milliseconds since the epoch; `None` for a key that never expires.
    pub expires_at: Option<i64>,
}

impl ApiKey {
    pub fn allows(&self, scope: Scope) -> bool {
        let implied = match scope {
            Scope::Read => self.scopes.contains(&Scope::Operator),
            _ => false,
        };
        implied || self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// Whether the key sees files no release has made public (where `anonymous_access` hides them).
    pub fn sees_unreleased(&self) -> bool {
        self.allows(Scope::Upload) || self.allows(Scope::Operator)
    }

    pub fn scope_list(&self) -> String {
        self.scopes.iter().map(|scope| scope.as_str()).collect::<Vec<_>>().join(",")
    }

    pub fn expired(&self, now_millis: i64) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now_millis)
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

/// What a presented secret turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    Valid(ApiKey),
    /// Not `imapsdc_<id>_<random>`.
    Malformed,
    /// No such id, a wrong secret, or a revoked key: the caller is not told which.
    Unknown,
    Expired {
        id: String,
        at: i64,
    },
}

#[derive(Debug, Clone)]
pub struct ApiKeyStore {
    pool: AnyPool,
}

impl ApiKeyStore {
    pub fn new(pool: AnyPool) -> ApiKeyStore {
        ApiKeyStore { pool }
    }

    /// A key that never expires.
    pub async fn create(&self, name: &str, scopes: &[Scope]) -> Result<CreatedKey, GatewayError> {
        self.create_expiring(name, scopes, None).await
    }

    /// A key accepted until `expires_at` (milliseconds since the epoch), or forever.
    pub async fn create_expiring(
        &self,
        name: &str,
        scopes: &[Scope],
        expires_at: Option<i64>,
    ) -> Result<CreatedKey, GatewayError> {
        if name.trim().is_empty() {
            return Err(GatewayError::InvalidRequest("an api key needs a name".into()));
        }
        let created_at = proto::time::now_millis();
        if expires_at.is_some_and(|expires_at| expires_at <= created_at) {
            return Err(GatewayError::InvalidRequest("an api key must expire in the future".into()));
        }
        let mut scopes = if scopes.is_empty() { vec![Scope::Read] } else { scopes.to_vec() };
        scopes.sort();
        scopes.dedup();
        let id = random_hex(6);
        let secret = format!("{SECRET_PREFIX}{id}_{}", random_hex(24));
        let key = ApiKey { id, name: name.trim().to_string(), scopes, created_at, revoked: false, expires_at };
        sqlx::query(
            "INSERT INTO gateway_api_keys (id, name, scopes, secret_hash, created_at, revoked_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(key.id.clone())
        .bind(key.name.clone())
        .bind(key.scope_list())
        .bind(hash_secret(&secret))
        .bind(created_at)
        .bind(expires_at.unwrap_or(0))
        .execute(&self.pool)
        .await?;
        Ok(CreatedKey { key, secret })
    }

    pub async fn list(&self) -> Result<Vec<ApiKey>, GatewayError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS} FROM gateway_api_keys ORDER BY created_at, id"
        )))
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

    /// Whose secret this is, at `now_millis`: the key is found by the id the secret carries, and
    /// the hashes are compared in constant time, so timing tells nothing about the stored secret.
    pub async fn authenticate(&self, secret: &str, now_millis: i64) -> Result<Authentication, GatewayError> {
        let Some(id) = key_id_of(secret) else {
            return Ok(Authentication::Malformed);
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS}, secret_hash FROM gateway_api_keys WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let presented = hash_secret(secret);
        let Some(row) = row else {
            // The same work as for a known id.
            let _ = presented.as_bytes().ct_eq(UNKNOWN_KEY_HASH.as_bytes());
            return Ok(Authentication::Unknown);
        };
        let stored: String = row.try_get("secret_hash")?;
        let key = key_from_row(&row)?;
        if !bool::from(presented.as_bytes().ct_eq(stored.as_bytes())) || key.revoked {
            return Ok(Authentication::Unknown);
        }
        match key.expires_at {
            Some(at) if key.expired(now_millis) => Ok(Authentication::Expired { id: key.id, at }),
            _ => Ok(Authentication::Valid(key)),
        }
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

const KEY_COLUMNS: &str = "id, name, scopes, created_at, revoked_at, expires_at";
/// Compared against when a secret names no stored key.
const UNKNOWN_KEY_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The id a secret carries: `imapsdc_<id>_<random>`, the id being hex.
fn key_id_of(secret: &str) -> Option<&str> {
    let (id, random) = secret.strip_prefix(SECRET_PREFIX)?.split_once('_')?;
    let hex_id = !id.is_empty() && id.len() <= 64 && id.bytes().all(|byte| byte.is_ascii_hexdigit());
    (hex_id && !random.is_empty()).then_some(id)
}

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<ApiKey, GatewayError> {
    let scopes: String = row.try_get("scopes")?;
    let revoked_at: i64 = row.try_get("revoked_at")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    Ok(ApiKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: scopes.split(',').filter(|text| !text.is_empty()).filter_map(|text| text.parse().ok()).collect(),
        created_at: row.try_get("created_at")?,
        revoked: revoked_at != 0,
        expires_at: (expires_at != 0).then_some(expires_at),
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
        keys_are_found_by_id_and_expire,
        admin_implies_every_scope_and_default_is_read,
        signing_secret_is_made_once_and_shared,
    );

    /// The key store on a fresh database, its tables made.
    async fn store_on(pool: AnyPool) -> ApiKeyStore {
        crate::migrate(&pool).await.unwrap();
        ApiKeyStore::new(pool)
    }

    fn valid(outcome: Authentication) -> ApiKey {
        match outcome {
            Authentication::Valid(key) => key,
            other => panic!("expected a valid key, got {other:?}"),
        }
    }

    async fn keys_authenticate_until_revoked_and_store_only_hashes(pool: AnyPool) {
        let store = store_on(pool).await;
        let now = proto::time::now_millis();
        let created = store.create("ops", &[Scope::Upload]).await.unwrap();
        let found = valid(store.authenticate(&created.secret, now).await.unwrap());
        assert_eq!(found.id, created.key.id);
        assert!(found.allows(Scope::Upload));
        assert!(!found.allows(Scope::Admin));
        assert_eq!(store.authenticate("imapsdc_wrong", now).await.unwrap(), Authentication::Malformed);
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT secret_hash FROM gateway_api_keys").fetch_all(&store.pool).await.unwrap();
        assert_eq!(stored, vec![hash_secret(&created.secret)]);
        assert!(!stored[0].contains(&created.secret));
        assert!(store.revoke(&created.key.id).await.unwrap());
        assert!(!store.revoke(&created.key.id).await.unwrap());
        assert_eq!(store.authenticate(&created.secret, now).await.unwrap(), Authentication::Unknown);
        assert!(store.list().await.unwrap()[0].revoked);
    }

    async fn keys_are_found_by_id_and_expire(pool: AnyPool) {
        let store = store_on(pool).await;
        let now = proto::time::now_millis();
        let created = store.create_expiring("visitor", &[Scope::Read], Some(now + 60_000)).await.unwrap();
        assert!(created.secret.starts_with(&format!("imapsdc_{}_", created.key.id)));
        assert_eq!(valid(store.authenticate(&created.secret, now).await.unwrap()).expires_at, Some(now + 60_000));
        // The right id with another random part, and an id nobody issued, are both unknown.
        let forged = format!("imapsdc_{}_{}", created.key.id, random_hex(24));
        assert_eq!(store.authenticate(&forged, now).await.unwrap(), Authentication::Unknown);
        let stranger = format!("imapsdc_{}_{}", random_hex(6), random_hex(24));
        assert_eq!(store.authenticate(&stranger, now).await.unwrap(), Authentication::Unknown);
        assert_eq!(
            store.authenticate(&created.secret, now + 60_000).await.unwrap(),
            Authentication::Expired { id: created.key.id.clone(), at: now + 60_000 }
        );
        assert!(store.create_expiring("late", &[], Some(now - 1)).await.is_err());
        for malformed in ["", "imapsdc_", "imapsdc__x", "imapsdc_zz_x", "imapsdc_abc", "secret"] {
            assert_eq!(store.authenticate(malformed, now).await.unwrap(), Authentication::Malformed, "{malformed}");
        }
    }

    async fn admin_implies_every_scope_and_default_is_read(pool: AnyPool) {
        let store = store_on(pool).await;
        let admin = store.create("admin", &[Scope::Admin]).await.unwrap().key;
        assert!(Scope::ALL.iter().all(|scope| admin.allows(*scope)));
        let reader = store.create("reader", &[]).await.unwrap().key;
        assert_eq!(reader.scopes, vec![Scope::Read]);
        assert!(!reader.sees_unreleased());
        let operator = store.create("operator", &[Scope::Operator]).await.unwrap().key;
        assert!(operator.allows(Scope::Read) && operator.sees_unreleased() && !operator.allows(Scope::Admin));
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
