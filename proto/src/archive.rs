//! Writing into the archive without ever replacing a file that is already there.

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode};

/// What a create-only write found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewObject {
    Stored,
    /// The archive already held exactly these bytes: a repeated write.
    AlreadyThere,
    /// The archive holds a different file under that key; it was left alone.
    Different,
}

/// Writes `bytes` at `location` only if nothing is there (a conditional write, so two writers
/// racing cannot both succeed); an existing object is compared instead of replaced.
pub async fn put_new(
    archive: &dyn ObjectStore,
    location: &Path,
    bytes: Vec<u8>,
) -> Result<NewObject, object_store::Error> {
    match archive.put_opts(location, bytes.clone().into(), PutMode::Create.into()).await {
        Ok(_) => Ok(NewObject::Stored),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let existing = archive.get(location).await?.bytes().await?;
            Ok(if existing.as_ref() == bytes.as_slice() { NewObject::AlreadyThere } else { NewObject::Different })
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_create_only_write_never_replaces_a_file() {
        let archive = object_store::memory::InMemory::new();
        let location = Path::from("imap/swe/l0/2024/09/x.pkts");
        assert_eq!(put_new(&archive, &location, b"first".to_vec()).await.unwrap(), NewObject::Stored);
        assert_eq!(put_new(&archive, &location, b"first".to_vec()).await.unwrap(), NewObject::AlreadyThere);
        assert_eq!(put_new(&archive, &location, b"second".to_vec()).await.unwrap(), NewObject::Different);
        assert_eq!(archive.get(&location).await.unwrap().bytes().await.unwrap().as_ref(), b"first");
    }
}
