//! Identifiers that travel between roles. On the wire they are plain strings; in Rust each is its
//! own type so a job id cannot be passed where a worker id is meant.

use std::borrow::Borrow;
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        /// Lets maps keyed by the id be searched with a wire string.
        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A job of the starter's job table (a UUID v7 text).
    JobId
);

string_id!(
    /// A processor connected to the starter; empty where an operator acts instead of a worker.
    WorkerId
);

impl crate::pb::Job {
    /// The job's id, typed.
    pub fn job_id(&self) -> JobId {
        JobId::from(self.id.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn ids_keep_their_text_and_find_map_entries_by_wire_string() {
        let id = JobId::from("0190a5d2-job");
        assert_eq!((id.as_str(), id.to_string()), ("0190a5d2-job", "0190a5d2-job".to_string()));
        let running = HashMap::from([(id.clone(), 1)]);
        assert_eq!(running.get("0190a5d2-job"), Some(&1));
        assert_eq!(String::from(WorkerId::from("processor-1")), "processor-1");
        assert!(WorkerId::default().is_empty());
    }
}
