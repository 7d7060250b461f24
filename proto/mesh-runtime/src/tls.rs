//! The mesh's certificates. One CA signs a certificate per caller (each role, and `operator` for
//! people and tools); the caller's name is in the certificate as the URI
//! `imap-sdc:role/<name>` (and as its common name). Every certificate is valid for the one server
//! name [`MESH_SERVER_NAME`] (plus any hosts asked for), so a client checks "signed by our CA"
//! whatever address it dialled.
//!
//! A folder holds `ca.pem`, `ca.key` and `<caller>.pem`, `<caller>.key` for each caller;
//! [`init`] makes it (`imap-sdc certs init`, or a laptop node on first start).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::authz::Caller;

/// The name every mesh certificate is valid for and every mesh client expects.
pub const MESH_SERVER_NAME: &str = "imap-sdc-mesh";
/// How a certificate names its caller: this prefix, then the caller's name.
pub const CALLER_URI_PREFIX: &str = "imap-sdc:role/";
const CA_COMMON_NAME: &str = "imap-sdc mesh CA";

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("making certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path} is missing: make the mesh's certificates with `imap-sdc certs init --dir {dir}`")]
    Missing { path: PathBuf, dir: PathBuf },
}

/// The certificates of one caller, as PEM: what it presents and the CA it trusts.
#[derive(Clone)]
pub struct MeshIdentity {
    pub caller: Caller,
    ca: String,
    cert: String,
    key: String,
}

impl std::fmt::Debug for MeshIdentity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("MeshIdentity").field("caller", &self.caller).finish_non_exhaustive()
    }
}

impl MeshIdentity {
    /// Reads `caller`'s certificate and key and the CA from `dir`.
    pub fn load(dir: &Path, caller: Caller) -> Result<MeshIdentity, TlsError> {
        let read = |file: String| {
            let path = dir.join(file);
            std::fs::read_to_string(&path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => TlsError::Missing { path, dir: dir.to_path_buf() },
                _ => TlsError::Io { path, source },
            })
        };
        Ok(MeshIdentity {
            caller,
            ca: read("ca.pem".into())?,
            cert: read(format!("{caller}.pem"))?,
            key: read(format!("{caller}.key"))?,
        })
    }

    /// The internal listener: presents this certificate and verifies callers' against the CA.
    /// A caller without one still connects, so it is told why it is refused (UNAUTHENTICATED)
    /// instead of seeing a failed handshake.
    pub fn server_tls(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert, &self.key))
            .client_ca_root(Certificate::from_pem(&self.ca))
            .client_auth_optional(true)
    }

    /// Outbound calls to `https://` peers: presents this certificate, trusts only the mesh CA.
    pub fn client_tls(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .identity(Identity::from_pem(&self.cert, &self.key))
            .domain_name(MESH_SERVER_NAME)
    }
}

/// Makes a CA in `dir` unless one is there, then a certificate for each of `callers` that lacks
/// one, valid for [`MESH_SERVER_NAME`] and `hosts` (DNS names or IP addresses). Returns the files
/// written. Keys are readable by their owner only.
pub fn init(dir: &Path, callers: &[Caller], hosts: &[String]) -> Result<Vec<PathBuf>, TlsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut written = Vec::new();
    let (ca_cert, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let ca_key_pair = if ca_key.exists() {
        KeyPair::from_pem(&std::fs::read_to_string(&ca_key).map_err(io(&ca_key))?)?
    } else {
        let key = KeyPair::generate()?;
        let cert = ca_params().self_signed(&key)?;
        write_private(&ca_key, &key.serialize_pem())?;
        std::fs::write(&ca_cert, cert.pem()).map_err(io(&ca_cert))?;
        written.extend([ca_cert, ca_key]);
        key
    };
    // The CA's parameters are fixed, so they name the same issuer as the certificate on disk.
    let issuer = Issuer::new(ca_params(), ca_key_pair);
    for caller in callers {
        let (cert_path, key_path) = (dir.join(format!("{caller}.pem")), dir.join(format!("{caller}.key")));
        if cert_path.exists() && key_path.exists() {
            continue;
        }
        let mut names = vec![MESH_SERVER_NAME.to_string()];
        names.extend(hosts.iter().cloned());
        let mut params = CertificateParams::new(names)?;
        params.subject_alt_names.push(SanType::URI(format!("{CALLER_URI_PREFIX}{caller}").try_into()?));
        params.distinguished_name.push(DnType::CommonName, caller.to_string());
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &issuer)?;
        write_private(&key_path, &key.serialize_pem())?;
        std::fs::write(&cert_path, cert.pem()).map_err(io(&cert_path))?;
        written.extend([cert_path, key_path]);
    }
    Ok(written)
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

fn write_private(path: &Path, text: &str) -> Result<(), TlsError> {
    let io = |source| TlsError::Io { path: path.to_path_buf(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path).map_err(io)?, text.as_bytes()).map_err(io)
}

/// The caller a certificate (already verified against the CA by the TLS handshake) names, if any.
pub fn caller_of(certificate_der: &[u8]) -> Option<Caller> {
    let (_, certificate) = X509Certificate::from_der(certificate_der).ok()?;
    let names = certificate.subject_alternative_name().ok()??;
    names.value.general_names.iter().find_map(|name| match name {
        GeneralName::URI(uri) => uri.strip_prefix(CALLER_URI_PREFIX)?.parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_certificate_names_its_caller_and_init_keeps_what_exists() {
        let dir = tempfile::tempdir().unwrap();
        let written = init(dir.path(), &Caller::ALL, &["10.0.0.5".into(), "indexer.mesh".into()]).unwrap();
        assert_eq!(written.len(), 2 + 2 * Caller::ALL.len());
        for caller in Caller::ALL {
            let pem = std::fs::read_to_string(dir.path().join(format!("{caller}.pem"))).unwrap();
            let der = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
            assert_eq!(caller_of(&der), Some(caller));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("ca.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the CA key is private");
        }
        let ca_before = std::fs::read(dir.path().join("ca.pem")).unwrap();
        std::fs::remove_file(dir.path().join("processor.pem")).unwrap();
        let again = init(dir.path(), &Caller::ALL, &[]).unwrap();
        assert_eq!(again, vec![dir.path().join("processor.pem"), dir.path().join("processor.key")]);
        assert_eq!(std::fs::read(dir.path().join("ca.pem")).unwrap(), ca_before, "the CA is kept");
    }

    #[test]
    fn a_missing_certificate_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let error = MeshIdentity::load(dir.path(), Caller::Gateway).unwrap_err();
        assert!(error.to_string().contains("imap-sdc certs init --dir"), "{error}");
    }
}
