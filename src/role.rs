//! The typed set of roles one process can run.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A responsibility of the mesh; one process runs any subset of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Role {
    /// Validates and records every archive file and streams FileIndexed events.
    Indexer,
    /// Owns the product graph and resolves inputs.
    Depsvc,
    /// Decides what runs, owns the job queue and leases jobs to processors.
    Starter,
    /// Runs the science of leased jobs in a CPU pool.
    Processor,
    /// The REST facade for people.
    Gateway,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Indexer, Role::Depsvc, Role::Starter, Role::Processor, Role::Gateway];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Indexer => "indexer",
            Role::Depsvc => "depsvc",
            Role::Starter => "starter",
            Role::Processor => "processor",
            Role::Gateway => "gateway",
        }
    }
}

impl Role {
    /// The caller this role's certificate names, and so its row in the authorisation table.
    pub fn caller(self) -> mesh_runtime::authz::Caller {
        use mesh_runtime::authz::Caller;
        match self {
            Role::Indexer => Caller::Indexer,
            Role::Depsvc => Caller::Depsvc,
            Role::Starter => Caller::Starter,
            Role::Processor => Caller::Processor,
            Role::Gateway => Caller::Gateway,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (valid: all, indexer, depsvc, starter, processor, gateway)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL.into_iter().find(|role| role.as_str() == text.trim()).ok_or_else(|| UnknownRole(text.to_string()))
    }
}

/// The roles a node runs: `all`, or a comma-separated list such as `indexer,depsvc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSet(BTreeSet<Role>);

impl RoleSet {
    pub fn all() -> RoleSet {
        RoleSet(Role::ALL.into_iter().collect())
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }
}

impl Default for RoleSet {
    fn default() -> Self {
        RoleSet::all()
    }
}

impl FromStr for RoleSet {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<RoleSet, UnknownRole> {
        let mut roles = BTreeSet::new();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            if part == "all" {
                roles.extend(Role::ALL);
            } else {
                roles.insert(part.parse()?);
            }
        }
        if roles.is_empty() {
            return Err(UnknownRole(text.to_string()));
        }
        Ok(RoleSet(roles))
    }
}

impl fmt::Display for RoleSet {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() == Role::ALL.len() {
            return formatter.write_str("all");
        }
        let names: Vec<&str> = self.0.iter().map(|role| role.as_str()).collect();
        formatter.write_str(&names.join(","))
    }
}

impl serde::Serialize for RoleSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for RoleSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RoleSet, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Text {
            One(String),
            Many(Vec<String>),
        }
        let text = match Text::deserialize(deserializer)? {
            Text::One(text) => text,
            Text::Many(parts) => parts.join(","),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_text() {
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>().unwrap(), role);
        }
    }

    #[test]
    fn role_sets_parse_all_and_lists() {
        assert_eq!("all".parse::<RoleSet>().unwrap(), RoleSet::all());
        let pair: RoleSet = "indexer, depsvc".parse().unwrap();
        assert!(pair.contains(Role::Indexer) && pair.contains(Role::Depsvc) && !pair.contains(Role::Gateway));
        assert_eq!(pair.to_string(), "indexer,depsvc");
        let error = "indexer,cooker".parse::<RoleSet>().unwrap_err();
        assert!(error.to_string().contains("valid: all, indexer"), "{error}");
        assert!("".parse::<RoleSet>().is_err());
    }
}
