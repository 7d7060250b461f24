//! Opening the archive the configuration names: a local directory (the embedded default) or an S3
//! bucket (AWS or any S3-compatible store), the latter with a presigner so clients move bytes to
//! and from the bucket directly.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use gateway::ArchivePresigner;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3CopyIfNotExists};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;

use crate::config::{Config, S3Config};

/// How long a node waits at start for the archive to answer before giving up with a clear error.
const REACHABLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The archive a node works on.
pub struct Archive {
    pub store: Arc<dyn ObjectStore>,
    /// Set for archives clients can reach themselves (S3): uploads and downloads then bypass the gateway.
    pub presigner: Option<ArchivePresigner>,
    /// Where it is, for logs: `file:///...` or `s3://bucket/prefix`.
    pub location: String,
}

/// Where the configuration says the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveLocation {
    Directory(std::path::PathBuf),
    S3 { bucket: String, prefix: String },
}

impl ArchiveLocation {
    pub fn from_config(config: &Config) -> anyhow::Result<ArchiveLocation> {
        let Some(url) = config.archive_url.as_deref().map(str::trim).filter(|url| !url.is_empty()) else {
            return Ok(ArchiveLocation::Directory(config.archive_dir()));
        };
        anyhow::ensure!(
            config.archive_dir.is_none(),
            "archive_dir and archive_url are both set; keep one (archive_url = {url:?})"
        );
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            anyhow::ensure!(!bucket.is_empty(), "archive_url {url:?} names no bucket (expected s3://bucket[/prefix])");
            return Ok(ArchiveLocation::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some(path) = url.strip_prefix("file://") {
            anyhow::ensure!(path.starts_with('/'), "archive_url {url:?} must be an absolute file:/// URL");
            return Ok(ArchiveLocation::Directory(path.into()));
        }
        anyhow::bail!("archive_url {url:?} is neither s3://bucket[/prefix] nor file:///directory")
    }
}

pub fn open(config: &Config) -> anyhow::Result<Archive> {
    match ArchiveLocation::from_config(config)? {
        ArchiveLocation::Directory(directory) => {
            std::fs::create_dir_all(&directory)
                .with_context(|| format!("creating archive directory {}", directory.display()))?;
            let store = LocalFileSystem::new_with_prefix(&directory)?;
            Ok(Archive { store: Arc::new(store), presigner: None, location: format!("file://{}", directory.display()) })
        }
        ArchiveLocation::S3 { bucket, prefix } => open_s3(&config.s3, &bucket, &prefix, AmazonS3Builder::from_env()),
    }
}

/// Credentials come from the standard AWS variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, web identity, instance metadata), never from our config files.
fn open_s3(settings: &S3Config, bucket: &str, prefix: &str, base: AmazonS3Builder) -> anyhow::Result<Archive> {
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
    let store =
        Arc::new(builder(settings.endpoint.as_ref()).build().with_context(|| format!("configuring {location}"))?);
    // Clients may reach the store at another address than the mesh does (e.g. outside a cluster).
    let signer: Arc<dyn object_store::signer::Signer> = match &settings.public_endpoint {
        Some(public) => {
            Arc::new(builder(Some(public)).build().with_context(|| format!("configuring {location} for clients"))?)
        }
        None => store.clone(),
    };
    let key_prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let store: Arc<dyn ObjectStore> = match &key_prefix {
        Some(key_prefix) => Arc::new(PrefixStore::new(store, key_prefix.clone())),
        None => store,
    };
    Ok(Archive { store, presigner: Some(ArchivePresigner::new(signer, key_prefix)), location })
}

/// Fails with a clear error if the archive cannot be listed (wrong bucket, credentials, endpoint),
/// or, for a bucket, if it would let a create-only copy overwrite a file, so a misconfigured node
/// stops before it listens.
pub async fn check_reachable(archive: &Archive) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let mut listing = archive.store.list(Some(&ObjectPath::from("imap")));
    let first = tokio::time::timeout(REACHABLE_TIMEOUT, listing.next())
        .await
        .with_context(|| format!("archive {} did not answer within {REACHABLE_TIMEOUT:?}", archive.location))?;
    if let Some(Err(error)) = first {
        return Err(anyhow::Error::new(error).context(format!("cannot list archive {}", archive.location)));
    }
    if archive.presigner.is_some() {
        check_create_only_copy(archive).await?;
    }
    Ok(())
}

/// Nothing may replace an archive file: uploads are placed with a create-only copy and other
/// writers use create-only puts. An S3-compatible store that ignores either condition would
/// silently overwrite files, so both are tried once on probe objects.
async fn check_create_only_copy(archive: &Archive) -> anyhow::Result<()> {
    use object_store::{ObjectStoreExt, PutMode};
    let probe = format!("probe/create-only-{}-{}", std::process::id(), proto::store::now_millis());
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
    let (puts_refuse, copies_refuse) = outcome.with_context(|| {
        format!("archive {}: create-only writes fail; set [s3] copy_if_not_exists for this store", archive.location)
    })?;
    for (refused, what) in [(puts_refuse, "a create-only put"), (copies_refuse, "a create-only copy")] {
        anyhow::ensure!(
            refused,
            "archive {}: the store let {what} overwrite an object, so files could be overwritten; \
             set [s3] copy_if_not_exists (and object_store's conditional put) to a method this store honours",
            archive.location
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(archive_url: Option<&str>, archive_dir: Option<&str>) -> Config {
        Config {
            archive_url: archive_url.map(String::from),
            archive_dir: archive_dir.map(Into::into),
            ..Config::default()
        }
    }

    #[test]
    fn archive_urls_name_a_directory_or_a_bucket_and_prefix() {
        let parse = |url: &str| ArchiveLocation::from_config(&config_with(Some(url), None));
        assert_eq!(
            parse("s3://imap-archive").unwrap(),
            ArchiveLocation::S3 { bucket: "imap-archive".into(), prefix: "".into() }
        );
        assert_eq!(
            parse("s3://imap-archive/sdc/prod/").unwrap(),
            ArchiveLocation::S3 { bucket: "imap-archive".into(), prefix: "sdc/prod".into() }
        );
        assert_eq!(parse("file:///srv/archive").unwrap(), ArchiveLocation::Directory("/srv/archive".into()));
        let default = ArchiveLocation::from_config(&Config::default()).unwrap();
        assert_eq!(default, ArchiveLocation::Directory(Config::default().data_dir.join("archive")));
    }

    #[test]
    fn bad_archive_urls_are_refused_with_the_reason() {
        let refuse = |url: &str, dir: Option<&str>| {
            ArchiveLocation::from_config(&config_with(Some(url), dir)).unwrap_err().to_string()
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
}
