//! API keys: created, listed and revoked by operators with `imap-sdc keys ...`; only hashes are stored.

use super::error::GatewayError;
use super::key_store::{ApiKeyStore, Scope};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// read, upload, admin (repeatable, or comma-separated); read when omitted.
        #[arg(long = "scope")]
        scopes: Vec<String>,
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
        KeysCommand::Create { name, scopes } => {
            let scopes = parse_scopes(&scopes)?;
            let created = store.create(&name, &scopes).await?;
            Ok(format!(
                "id      {}\nname    {}\nscopes  {}\nsecret  {}\n(the secret is shown only now; use it as IMAP_API_KEY)\n",
                created.key.id,
                created.key.name,
                created.key.scope_list(),
                created.secret
            ))
        }
        KeysCommand::List => {
            let mut output = format!("{:<14} {:<24} {:<18} {:<26} {}\n", "ID", "NAME", "SCOPES", "CREATED", "STATE");
            for key in store.list().await? {
                let state = if key.revoked { "revoked" } else { "active" };
                output.push_str(&format!(
                    "{:<14} {:<24} {:<18} {:<26} {state}\n",
                    key.id,
                    key.name,
                    key.scope_list(),
                    proto::time::rfc3339_millis(key.created_at)
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

/// Scopes from repeated and/or comma-separated arguments.
pub fn parse_scopes(arguments: &[String]) -> Result<Vec<Scope>, GatewayError> {
    arguments
        .iter()
        .flat_map(|argument| argument.split(','))
        .filter(|text| !text.trim().is_empty())
        .map(str::parse)
        .collect()
}
