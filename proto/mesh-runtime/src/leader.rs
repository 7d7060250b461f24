//! One writer per role that must have one (the indexer, the starter), with standbys ready to take
//! over: a lease row per role in the shared PostgreSQL database (`leader_leases`: name, holder,
//! token, expires_at in the database's own clock, so replicas' clocks do not matter).
//!
//! The leader renews every third of the lease; a standby tries to take the row every third of the
//! lease once it has expired, so a dead leader is replaced within 1⅓ leases (under twice the lease).
//! Each takeover increases the **fencing token**, and every write transaction of a leader first
//! checks, inside that transaction, that the row still carries its token ([`Leadership::fence`]):
//! PostgreSQL's `FOR SHARE` row lock makes a takeover wait for the writes in flight and makes any
//! later write of the deposed leader fail. A leader that sees its token gone (or cannot renew for
//! a whole lease) is [`LeaderState::Deposed`] for good: the node exits and its supervisor starts
//! it again as a standby, so no in-memory state of the old term survives.
//!
//! SQLite is the single-node default: there the lease is held by the only node ([`Leadership::sole`]).

use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::error::RuntimeError;
use crate::shutdown::Shutdown;

/// Milliseconds since the epoch on the database server's clock.
const DATABASE_NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/// Where a replica stands for one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderState {
    /// Another replica holds the lease (or none yet and this one has not taken it).
    Standby,
    /// This replica holds the lease; its writes carry `token`.
    Leader { token: i64 },
    /// This replica held the lease and lost it; it must not write again and should exit.
    Deposed,
}

/// One role's place in its election; cheap to clone.
#[derive(Clone)]
pub struct Leadership {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    holder: String,
    /// `None` for a sole leader (SQLite, tests): always leader, fencing a no-op.
    pool: Option<AnyPool>,
    lease: Duration,
    state: watch::Sender<LeaderState>,
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Leadership")
            .field("name", &self.inner.name)
            .field("holder", &self.inner.holder)
            .field("state", &self.state())
            .finish()
    }
}

impl Leadership {
    /// The only replica there is: leader from the start, nothing to fence.
    pub fn sole(name: &str) -> Leadership {
        let (state, _) = watch::channel(LeaderState::Leader { token: 0 });
        Leadership {
            inner: Arc::new(Inner {
                name: name.to_string(),
                holder: holder_id(),
                pool: None,
                lease: Duration::MAX,
                state,
            }),
        }
    }

    /// Joins the election for `name` on `pool`: elected (PostgreSQL) or sole (SQLite). An elected
    /// replica starts as a standby; [`Leadership::run`] campaigns and renews.
    pub async fn join(pool: &AnyPool, name: &str, lease: Duration) -> Result<Leadership, RuntimeError> {
        let mut connection = pool.acquire().await.map_err(RuntimeError::Lease)?;
        if connection.backend_name() != "PostgreSQL" {
            return Ok(Leadership::sole(name));
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS leader_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, \
             token BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
        )
        .execute(&mut *connection)
        .await
        .map_err(RuntimeError::Lease)?;
        sqlx::query(
            "INSERT INTO leader_leases (name, holder, token, expires_at) VALUES ($1, '', 0, 0) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.to_string())
        .execute(&mut *connection)
        .await
        .map_err(RuntimeError::Lease)?;
        let (state, _) = watch::channel(LeaderState::Standby);
        Ok(Leadership {
            inner: Arc::new(Inner {
                name: name.to_string(),
                holder: holder_id(),
                pool: Some(pool.clone()),
                lease,
                state,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Who this replica is in the lease row (host, process, a random part).
    pub fn holder(&self) -> &str {
        &self.inner.holder
    }

    pub fn state(&self) -> LeaderState {
        *self.inner.state.borrow()
    }

    pub fn is_leader(&self) -> bool {
        matches!(self.state(), LeaderState::Leader { .. })
    }

    pub fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.inner.state.subscribe()
    }

    /// Waits until this replica leads (true) or will never lead: deposed, or shutdown (false).
    pub async fn wait_until_leader(&self, shutdown: &Shutdown) -> bool {
        let mut state = self.subscribe();
        tokio::select! {
            reached = state.wait_for(|state| *state != LeaderState::Standby) =>
                matches!(reached.as_deref(), Ok(LeaderState::Leader { .. })),
            _ = shutdown.wait() => false,
        }
    }

    /// Resolves once this replica has been deposed.
    pub async fn deposed(&self) {
        let mut state = self.subscribe();
        let _ = state.wait_for(|state| *state == LeaderState::Deposed).await;
    }

    /// The check every write transaction of a leader makes first, on its own connection: the lease
    /// row still carries this replica's token. It holds a share lock on the row until the
    /// transaction ends, so a takeover waits for it, and a write after a takeover is refused.
    pub async fn fence(&self, transaction: &mut AnyConnection) -> Result<(), RuntimeError> {
        let LeaderState::Leader { token } = self.state() else {
            return Err(RuntimeError::NotLeader { name: self.inner.name.clone() });
        };
        if self.inner.pool.is_none() {
            return Ok(());
        }
        let current: Option<i64> = sqlx::query_scalar("SELECT token FROM leader_leases WHERE name = $1 FOR SHARE")
            .bind(self.inner.name.clone())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(RuntimeError::Lease)?;
        if current != Some(token) {
            self.depose(format!("fencing token {token} is stale (now {current:?})"));
            return Err(RuntimeError::NotLeader { name: self.inner.name.clone() });
        }
        Ok(())
    }

    fn depose(&self, why: String) {
        let was = self.inner.state.send_replace(LeaderState::Deposed);
        if was != LeaderState::Deposed {
            tracing::error!(lease = %self.inner.name, holder = %self.inner.holder, %why, "deposed: this replica no longer leads");
        }
    }

    /// Campaigns for the lease and renews it until shutdown (then gives it up, so a standby takes
    /// over at once) or deposition. A sole leader returns at once.
    pub async fn run(self, shutdown: Shutdown) {
        let Some(pool) = self.inner.pool.clone() else { return };
        let period = (self.inner.lease / 3).max(Duration::from_millis(50));
        let mut last_renewed = Instant::now();
        loop {
            let attempt_started = Instant::now();
            match self.state() {
                LeaderState::Deposed => return,
                LeaderState::Standby => match self.try_take(&pool).await {
                    Ok(Some(token)) => {
                        last_renewed = attempt_started;
                        tracing::info!(lease = %self.inner.name, holder = %self.inner.holder, token, "took the lease: leading");
                        self.inner.state.send_replace(LeaderState::Leader { token });
                    }
                    Ok(None) => {}
                    Err(error) => tracing::warn!(lease = %self.inner.name, %error, "lease campaign failed"),
                },
                LeaderState::Leader { token } => match self.renew(&pool, token).await {
                    Ok(true) => last_renewed = attempt_started,
                    Ok(false) => self.depose("the lease row carries another token".into()),
                    Err(error) if attempt_started.duration_since(last_renewed) >= self.inner.lease => {
                        self.depose(format!("could not renew for a whole lease: {error}"));
                    }
                    Err(error) => tracing::warn!(lease = %self.inner.name, %error, "lease renewal failed, retrying"),
                },
            }
            tokio::select! {
                _ = tokio::time::sleep_until(attempt_started + period) => {}
                _ = shutdown.wait() => {
                    if let LeaderState::Leader { token } = self.state() {
                        self.give_up(&pool, token).await;
                    }
                    return;
                }
            }
        }
    }

    async fn try_take(&self, pool: &AnyPool) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "UPDATE leader_leases SET holder = $2, token = token + 1, expires_at = {DATABASE_NOW} + $3 \
             WHERE name = $1 AND expires_at < {DATABASE_NOW} RETURNING token"
        )))
        .bind(self.inner.name.clone())
        .bind(self.inner.holder.clone())
        .bind(self.inner.lease.as_millis() as i64)
        .fetch_optional(pool)
        .await
    }

    async fn renew(&self, pool: &AnyPool, token: i64) -> Result<bool, sqlx::Error> {
        let renewed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE leader_leases SET expires_at = {DATABASE_NOW} + $3 WHERE name = $1 AND token = $2"
        )))
        .bind(self.inner.name.clone())
        .bind(token)
        .bind(self.inner.lease.as_millis() as i64)
        .execute(pool)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Ends the lease now; writes still in flight keep their token and stay valid until a standby
    /// takes over (which fences them).
    async fn give_up(&self, pool: &AnyPool, token: i64) {
        let result = sqlx::query("UPDATE leader_leases SET expires_at = 0 WHERE name = $1 AND token = $2")
            .bind(self.inner.name.clone())
            .bind(token)
            .execute(pool)
            .await;
        match result {
            Ok(_) => tracing::info!(lease = %self.inner.name, token, "gave the lease up at shutdown"),
            Err(error) => tracing::warn!(lease = %self.inner.name, %error, "could not give the lease up; it expires"),
        }
    }
}

fn holder_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|text| text.trim().to_string()))
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "host".into());
    // The tail of a v7 UUID is random.
    let random = uuid::Uuid::now_v7().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &random[24..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sole_leader_leads_and_fences_nothing() {
        let directory = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", directory.path().join("lease.sqlite").display());
        let pool = crate::store::connect(&url).await.unwrap();
        let leadership = Leadership::join(&pool, "indexer", Duration::from_secs(5)).await.unwrap();
        assert_eq!(leadership.state(), LeaderState::Leader { token: 0 });
        assert!(leadership.wait_until_leader(&Shutdown::never()).await);
        let mut transaction = pool.begin().await.unwrap();
        leadership.fence(&mut transaction).await.unwrap();
        transaction.rollback().await.unwrap();
        pool.close().await;
    }
}
