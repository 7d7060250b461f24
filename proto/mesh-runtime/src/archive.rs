//! The archive every role reads and writes: opening the location the configuration names (a local
//! directory, the embedded default, or an S3 bucket with a presigner so clients move bytes to and
//! from the bucket directly), and writing without ever replacing a file that is already there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::signer::{Method, Signer};
use object_store::{ObjectStore, ObjectStoreExt, PutMode};

use proto::error::ErrorCode;

use crate::error::RuntimeError;

/// How long a node waits at start for the archive to answer before giving up with a clear error.
const REACHABLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach an S3 archive. Unset fields keep the AWS defaults and `AWS_*` variables;
/// credentials only ever come from those variables (or the platform), never from this file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// An S3-compatible endpoint, e.g. `http://minio:9000`; AWS when unset.
    pub endpoint: Option<String>,
    /// The endpoint clients are sent to in presigned URLs, when they reach the store at another
    /// address than the mesh does.
    pub public_endpoint: Option<String>,
    pub region: Option<String>,
    /// Allow plain `http://` endpoints (local and test stores).
    pub allow_http: Option<bool>,
    /// `bucket.host` URLs instead of `host/bucket`. With an `endpoint` (or `public_endpoint`),
    /// that endpoint must then name the bucket itself, e.g. `https://imap-archive.s3.example.org`.
    pub virtual_hosted_style: Option<bool>,
    /// How the store does a create-only copy (object_store's `aws_copy_if_not_exists` syntax);
    /// `multipart` (AWS's conditional completion) when unset.
    pub copy_if_not_exists: Option<String>,
}

/// The archive a node works on.
pub struct Archive {
    pub store: Arc<dyn ObjectStore>,
    /// Set for archives clients can reach themselves (S3): uploads and downloads then bypass the gateway.
    pub presigner: Option<ArchivePresigner>,
    /// Where it is, for logs: `file:///...` or `s3://bucket/prefix`.
    pub location: String,
    /// The folder, for an archive that is a local directory: files already on that disk (the
    /// inbox) can then be hard-linked in instead of copied.
    pub directory: Option<PathBuf>,
}

/// Where an archive error sits in the mesh's error table: a store that does not answer (network,
/// S3 throttling, anything object_store cannot name) is transient; a missing object, a refused
/// write or a bad path is not.
pub fn error_code(error: &object_store::Error) -> ErrorCode {
    match error {
        object_store::Error::NotFound { .. } => ErrorCode::NotFound,
        object_store::Error::AlreadyExists { .. } => ErrorCode::AlreadyExists,
        object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
            ErrorCode::FailedPrecondition
        }
        object_store::Error::InvalidPath { .. } => ErrorCode::InvalidArgument,
        object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented { .. } => {
            ErrorCode::Unimplemented
        }
        object_store::Error::PermissionDenied { .. } => ErrorCode::PermissionDenied,
        object_store::Error::Unauthenticated { .. } => ErrorCode::Unauthenticated,
        object_store::Error::UnknownConfigurationKey { .. } => ErrorCode::InvalidArgument,
        object_store::Error::JoinError { .. } => ErrorCode::Internal,
        _ => ErrorCode::Unavailable,
    }
}

/// Where the configuration says the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveLocation {
    Directory(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl ArchiveLocation {
    /// The archive named by `archive_url` (`s3://bucket[/prefix]` or `file:///directory`), else the
    /// directory `archive_dir`, else `default_dir`; a URL and a directory together are refused.
    pub fn parse(
        archive_url: Option<&str>,
        archive_dir: Option<&Path>,
        default_dir: &Path,
    ) -> Result<ArchiveLocation, RuntimeError> {
        let Some(url) = archive_url.map(str::trim).filter(|url| !url.is_empty()) else {
            return Ok(ArchiveLocation::Directory(archive_dir.unwrap_or(default_dir).to_path_buf()));
        };
        let refuse = |reason: String| Err(RuntimeError::ArchiveLocation(reason));
        if archive_dir.is_some() {
            return refuse(format!("archive_dir and archive_url are both set; keep one (archive_url = {url:?})"));
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return refuse(format!("archive_url {url:?} names no bucket (expected s3://bucket[/prefix])"));
            }
            return Ok(ArchiveLocation::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return refuse(format!("archive_url {url:?} must be an absolute file:/// URL"));
            }
            return Ok(ArchiveLocation::Directory(path.into()));
        }
        refuse(format!("archive_url {url:?} is neither s3://bucket[/prefix] nor file:///directory"))
    }
}

/// Opens the archive at `location`; `s3` applies when it is a bucket.
pub fn open(location: &ArchiveLocation, s3: &S3Config) -> Result<Archive, RuntimeError> {
    match location {
        ArchiveLocation::Directory(directory) => {
            std::fs::create_dir_all(directory)
                .map_err(|source| RuntimeError::ArchiveDirectory { path: directory.clone(), source })?;
            let store = LocalFileSystem::new_with_prefix(directory).map_err(|source| RuntimeError::Archive {
                context: format!("opening archive directory {}", directory.display()),
                source,
            })?;
            // A write returns once the file and its directory entry are on disk: the inbox
            // deletes an upload's original once the archived copy is indexed, and a crash must
            // not leave an indexed file that was never written.
            let store = store.with_fsync(true);
            Ok(Archive {
                store: Arc::new(store),
                presigner: None,
                location: format!("file://{}", directory.display()),
                directory: Some(directory.clone()),
            })
        }
        ArchiveLocation::S3 { bucket, prefix } => open_s3(s3, bucket, prefix, AmazonS3Builder::from_env()),
    }
}

/// Credentials come from the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, web identity, instance metadata), never from our config files.
fn open_s3(settings: &S3Config, bucket: &str, prefix: &str, base: AmazonS3Builder) -> Result<Archive, RuntimeError> {
    let location = if prefix.is_empty() { format!("s3://{bucket}") } else { format!("s3://{bucket}/{prefix}") };
    let builder = |endpoint: Option<&String>| {
        let mut builder = base.clone().with_bucket_name(bucket);
        if let Some(endpoint) = endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some(allow_http) = settings.allow_http {
            builder = builder.with_allow_http(allow_http);
        }
        if let Some(virtual_hosted) = settings.virtual_hosted_style {
            builder = builder.with_virtual_hosted_style_request(virtual_hosted);
        }
        // Uploads are placed with a create-only copy, so no replica ever overwrites a file.
        // AWS S3 (and moto, MinIO) do it natively through a conditional multipart completion.
        match &settings.copy_if_not_exists {
            Some(mode) => builder.with_config(AmazonS3ConfigKey::CopyIfNotExists, mode),
            None if builder.get_config_value(&AmazonS3ConfigKey::CopyIfNotExists).is_none() => {
                builder.with_copy_if_not_exists(S3CopyIfNotExists::Multipart)
            }
            None => builder,
        }
    };
    let configuring = |what: String| move |source| RuntimeError::Archive { context: what, source };
    let store =
        Arc::new(builder(settings.endpoint.as_ref()).build().map_err(configuring(format!("configuring {location}")))?);
    // Clients may reach the store at another address than the mesh does (e.g. outside a cluster).
    let signer: Arc<dyn Signer> = match &settings.public_endpoint {
        Some(public) => {
            Arc::new(builder(Some(public)).build().map_err(configuring(format!("configuring {location} for clients")))?)
        }
        None => store.clone(),
    };
    let key_prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let store: Arc<dyn ObjectStore> = match &key_prefix {
        Some(key_prefix) => Arc::new(PrefixStore::new(store, key_prefix.clone())),
        None => store,
    };
    Ok(Archive { store, presigner: Some(ArchivePresigner::new(signer, key_prefix)), location, directory: None })
}

/// Fails with a clear error if the archive cannot be listed (wrong bucket, credentials, endpoint),
/// or, for a bucket, if it would let a create-only copy overwrite a file, so a misconfigured node
/// stops before it listens.
pub async fn check_reachable(archive: &Archive) -> Result<(), RuntimeError> {
    use futures_util::StreamExt;
    let mut listing = archive.store.list(Some(&ObjectPath::from("imap")));
    let first = tokio::time::timeout(REACHABLE_TIMEOUT, listing.next())
        .await
        .map_err(|_| RuntimeError::ArchiveTimeout { location: archive.location.clone(), timeout: REACHABLE_TIMEOUT })?;
    if let Some(Err(source)) = first {
        return Err(RuntimeError::Archive { context: format!("cannot list archive {}", archive.location), source });
    }
    if archive.presigner.is_some() {
        check_create_only_copy(archive).await?;
    }
    Ok(())
}

/// Nothing may replace an archive file: uploads are placed with a create-only copy and other
/// writers use create-only puts. An S3-compatible store that ignores either condition would
/// silently overwrite files, so both are tried once on probe objects.
async fn check_create_only_copy(archive: &Archive) -> Result<(), RuntimeError> {
    let probe = format!("probe/create-only-{}-{}", std::process::id(), proto::time::now_millis());
    let (source, copy) = (ObjectPath::from(format!("{probe}/source")), ObjectPath::from(format!("{probe}/copy")));
    let store = archive.store.as_ref();
    let refused_twice = |first: object_store::Result<()>, second: object_store::Result<()>| match (first, second) {
        (Ok(()), Err(object_store::Error::AlreadyExists { .. })) => Ok(true),
        (Ok(()), Ok(())) => Ok(false),
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    let outcome = async {
        let put =
            || async { store.put_opts(&source, "create-only probe".into(), PutMode::Create.into()).await.map(|_| ()) };
        let puts_refuse = refused_twice(put().await, put().await)?;
        let copies_refuse = refused_twice(
            store.copy_if_not_exists(&source, &copy).await,
            store.copy_if_not_exists(&source, &copy).await,
        )?;
        Ok::<_, object_store::Error>((puts_refuse, copies_refuse))
    }
    .await;
    for location in [&source, &copy] {
        if let Err(error) = store.delete(location).await {
            tracing::warn!(%location, %error, "could not delete an archive probe object");
        }
    }
    let (puts_refuse, copies_refuse) = outcome.map_err(|source| RuntimeError::Archive {
        context: format!(
            "archive {}: create-only writes fail; set [s3] copy_if_not_exists for this store",
            archive.location
        ),
        source,
    })?;
    for (refused, what) in [(puts_refuse, "a create-only put"), (copies_refuse, "a create-only copy")] {
        if !refused {
            return Err(RuntimeError::ArchiveUnsafe(format!(
                "archive {}: the store let {what} overwrite an object, so files could be overwritten; \
                 set [s3] copy_if_not_exists (and object_store's conditional put) to a method this store honours",
                archive.location
            )));
        }
    }
    Ok(())
}

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
    location: &ObjectPath,
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

/// Signs URLs of an archive clients can reach themselves (S3): uploads PUT and downloads GET the
/// bucket directly.
#[derive(Clone, Debug)]
pub struct ArchivePresigner {
    signer: Arc<dyn Signer>,
    /// Where the archive's keys start inside the bucket.
    key_prefix: Option<ObjectPath>,
}

impl ArchivePresigner {
    pub fn new(signer: Arc<dyn Signer>, key_prefix: Option<ObjectPath>) -> ArchivePresigner {
        ArchivePresigner { signer, key_prefix }
    }

    pub async fn upload_url(&self, location: &ObjectPath, valid_for: Duration) -> object_store::Result<String> {
        self.sign(Method::PUT, location, valid_for).await
    }

    pub async fn download_url(&self, key: &str, valid_for: Duration) -> object_store::Result<String> {
        self.sign(Method::GET, &ObjectPath::from(key), valid_for).await
    }

    async fn sign(&self, method: Method, location: &ObjectPath, valid_for: Duration) -> object_store::Result<String> {
        let in_bucket = match &self.key_prefix {
            Some(prefix) => prefix.parts().chain(location.parts()).collect(),
            None => location.clone(),
        };
        Ok(self.signer.signed_url(method, &in_bucket, valid_for).await?.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_archives_sync_each_write_to_disk_before_it_returns() {
        let directory = tempfile::tempdir().unwrap();
        let archive = open(&ArchiveLocation::Directory(directory.path().into()), &S3Config::default()).unwrap();
        // object_store syncs the file and its parent directories inside put when asked to.
        assert!(format!("{:?}", archive.store).contains("fsync: true"), "{:?}", archive.store);
        let location = ObjectPath::from("imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.pkts");
        assert_eq!(put_new(archive.store.as_ref(), &location, b"packets".to_vec()).await.unwrap(), NewObject::Stored);
        let written = directory.path().join(location.as_ref());
        assert_eq!(std::fs::read(written).unwrap(), b"packets");
    }

    #[test]
    fn archive_urls_name_a_directory_or_a_bucket_and_prefix() {
        let default_dir = Path::new("./data/archive");
        let parse = |url: &str| ArchiveLocation::parse(Some(url), None, default_dir);
        assert_eq!(
            parse("s3://imap-archive").unwrap(),
            ArchiveLocation::S3 { bucket: "imap-archive".into(), prefix: "".into() }
        );
        assert_eq!(
            parse("s3://imap-archive/sdc/prod/").unwrap(),
            ArchiveLocation::S3 { bucket: "imap-archive".into(), prefix: "sdc/prod".into() }
        );
        assert_eq!(parse("file:///srv/archive").unwrap(), ArchiveLocation::Directory("/srv/archive".into()));
        let default = ArchiveLocation::parse(None, None, default_dir).unwrap();
        assert_eq!(default, ArchiveLocation::Directory(default_dir.into()));
        let chosen = ArchiveLocation::parse(Some(" "), Some(Path::new("/srv/a")), default_dir).unwrap();
        assert_eq!(chosen, ArchiveLocation::Directory("/srv/a".into()));
    }

    #[test]
    fn bad_archive_urls_are_refused_with_the_reason() {
        let refuse = |url: &str, dir: Option<&str>| {
            ArchiveLocation::parse(Some(url), dir.map(Path::new), Path::new("d")).unwrap_err().to_string()
        };
        assert!(refuse("s3://", None).contains("no bucket"));
        assert!(refuse("gs://bucket", None).contains("neither"));
        assert!(refuse("file://relative/dir", None).contains("absolute"));
        assert!(refuse("s3://bucket", Some("/srv/archive")).contains("both set"));
    }

    #[tokio::test]
    async fn an_s3_archive_presigns_keys_under_its_prefix_without_network() {
        let settings = S3Config {
            endpoint: Some("http://127.0.0.1:9".into()),
            public_endpoint: Some("https://archive.example.org".into()),
            region: Some("us-west-2".into()),
            allow_http: Some(true),
            ..S3Config::default()
        };
        let credentials =
            AmazonS3Builder::new().with_access_key_id("AKIDEXAMPLE").with_secret_access_key("example-secret");
        let archive = open_s3(&settings, "imap-archive", "sdc", credentials).unwrap();
        assert_eq!(archive.location, "s3://imap-archive/sdc");
        let presigner = archive.presigner.unwrap();
        let url = presigner.download_url("imap/swe/l1a/2024/09/x.cdf", Duration::from_secs(60)).await.unwrap();
        assert!(url.starts_with("https://archive.example.org/imap-archive/sdc/imap/swe/l1a/2024/09/x.cdf?"), "{url}");
        assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=60"), "{url}");
    }

    #[tokio::test]
    async fn a_create_only_write_never_replaces_a_file() {
        let archive = object_store::memory::InMemory::new();
        let location = ObjectPath::from("imap/swe/l0/2024/09/x.pkts");
        assert_eq!(put_new(&archive, &location, b"first".to_vec()).await.unwrap(), NewObject::Stored);
        assert_eq!(put_new(&archive, &location, b"first".to_vec()).await.unwrap(), NewObject::AlreadyThere);
        assert_eq!(put_new(&archive, &location, b"second".to_vec()).await.unwrap(), NewObject::Different);
        assert_eq!(archive.get(&location).await.unwrap().bytes().await.unwrap().as_ref(), b"first");
    }
}
