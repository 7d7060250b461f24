//! API keys: created, listed and revoked by operators; only hashes are stored.

use super::error::GatewayError;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        /// read, upload, admin (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

/// Runs a `keys` command against the database at `database_url`.
pub async fn run_keys_command(_database_url: &str, _command: KeysCommand) -> Result<String, GatewayError> {
    Err(GatewayError::NotImplemented("api keys"))
}
