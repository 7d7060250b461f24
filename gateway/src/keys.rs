//! API keys: created, listed and revoked by operators with `imap-sdc keys ...`; only hashes are stored.

use super::error::GatewayError;
use super::key_store::{ApiKeyStore, Scope};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// read, upload, operator, admin (repeatable, or comma-separated); read when omitted.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// How long the key is accepted (`90d`, `12h`); it never expires when omitted.
        #[arg(long, value_parser = mesh_runtime::config::duration::parse)]
        expires_in: Option<std::time::Duration>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

/// Runs a `keys` command against the database at `database_url`.
pub async fn run_keys_command(database_url: &str, command: KeysCommand) -> Result<String, GatewayError> {
    let pool = mesh_runtime::store::connect(database_url).await?;
    super::migrate(&pool).await?;
    let store = ApiKeyStore::new(pool);
    match command {
        KeysCommand::Create { name, scopes, expires_in } => {
            let scopes = parse_scopes(&scopes)?;
            let expires_at = expires_in.map(|valid_for| {
                proto::time::now_millis().saturating_add(valid_for.as_millis().min(i64::MAX as u128) as i64)
            });
            let created = store.create_expiring(&name, &scopes, expires_at).await?;
            Ok(format!(
                "id      {}\nname    {}\nscopes  {}\nexpires {}\nsecret  {}\n(the secret is shown only now; use it as IMAP_API_KEY)\n",
                created.key.id,
                created.key.name,
                created.key.scope_list(),
                expiry_text(created.key.expires_at),
                created.secret
            ))
        }
        KeysCommand::List => {
            let mut output = format!(
                "{:<14} {:<24} {:<22} {:<26} {:<26} {}\n",
                "ID", "NAME", "SCOPES", "CREATED", "EXPIRES", "STATE"
            );
            let now = proto::time::now_millis();
            for key in store.list().await? {
                let state = if key.revoked {
                    "revoked"
                } else if key.expired(now) {
                    "expired"
                } else {
                    "active"
                };
                output.push_str(&format!(
                    "{:<14} {:<24} {:<22} {:<26} {:<26} {state}\n",
                    key.id,
                    key.name,
                    key.scope_list(),
                    proto::time::rfc3339_millis(key.created_at),
                    expiry_text(key.expires_at),
                ));
            }
            Ok(output)
        }
        KeysCommand::Revoke { id } => {
            if store.revoke(&id).await? {
                Ok(format!("revoked {id}\n"))
            } else {
                Err(GatewayError::NotFound(format!("no active api key with id {id:?}")))
            }
        }
    }
}

fn expiry_text(expires_at: Option<i64>) -> String {
    expires_at.map(proto::time::rfc3339_millis).unwrap_or_else(|| "never".into())
}

/// Scopes from repeated and/or comma-separated arguments.
pub fn parse_scopes(arguments: &[String]) -> Result<Vec<Scope>, GatewayError> {
    arguments
        .iter()
        .flat_map(|argument| argument.split(','))
        .filter(|text| !text.trim().is_empty())
        .map(str::parse)
        .collect()
}
