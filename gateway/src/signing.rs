//! Presigned URLs. For the local archive the gateway signs `(archive key, expiry)` with HMAC-SHA256
//! and later accepts a PUT only with a matching, unexpired signature; for an S3 archive the store
//! signs real S3 URLs, and the bytes never pass through the gateway.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::GatewayError;

type HmacSha256 = Hmac<Sha256>;

/// Query parameters of a presigned upload URL.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct UploadGrant {
    /// Unix seconds after which the URL is refused.
    pub expires: u64,
    /// Hex HMAC-SHA256 of the key and the expiry.
    pub signature: String,
}

#[derive(Clone)]
pub struct UploadSigner {
    secret: Vec<u8>,
}

impl UploadSigner {
    pub fn new(secret: Vec<u8>) -> UploadSigner {
        UploadSigner { secret }
    }

    pub fn grant(&self, archive_key: &str, expires: u64) -> UploadGrant {
        let signature = hex::encode(self.mac(archive_key, expires).finalize().into_bytes());
        UploadGrant { expires, signature }
    }

    /// Accepts the grant if it was made by this signer for this key and has not expired at `now`.
    pub fn verify(&self, archive_key: &str, grant: &UploadGrant, now: u64) -> Result<(), GatewayError> {
        let signature = hex::decode(&grant.signature)
            .map_err(|_| GatewayError::Forbidden("upload url signature is not hex".into()))?;
        self.mac(archive_key, grant.expires)
            .verify_slice(&signature)
            .map_err(|_| GatewayError::Forbidden(format!("upload url signature does not match {archive_key}")))?;
        if now > grant.expires {
            return Err(GatewayError::Forbidden(format!(
                "upload url expired {} s ago; ask for a new one",
                now - grant.expires
            )));
        }
        Ok(())
    }

    fn mac(&self, archive_key: &str, expires: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("hmac accepts any key length");
        mac.update(b"PUT\n");
        mac.update(archive_key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "imap/swapi/l0/2024/09/imap_swapi_l0_raw_20240924_v001.0001.pkts";

    #[test]
    fn a_grant_is_accepted_until_it_expires() {
        let signer = UploadSigner::new(b"secret".to_vec());
        let grant = signer.grant(KEY, 1_000);
        assert!(signer.verify(KEY, &grant, 999).is_ok());
        assert!(signer.verify(KEY, &grant, 1_000).is_ok());
        let expired = signer.verify(KEY, &grant, 1_001).unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
    }

    #[test]
    fn a_grant_is_bound_to_its_key_expiry_and_secret() {
        let signer = UploadSigner::new(b"secret".to_vec());
        let grant = signer.grant(KEY, 1_000);
        assert!(signer.verify("imap/swapi/l0/2024/09/other.pkts", &grant, 0).is_err());
        let extended = UploadGrant { expires: 2_000, signature: grant.signature.clone() };
        assert!(signer.verify(KEY, &extended, 0).is_err());
        assert!(UploadSigner::new(b"other".to_vec()).verify(KEY, &grant, 0).is_err());
        let garbage = UploadGrant { expires: 1_000, signature: "zz".into() };
        assert!(matches!(signer.verify(KEY, &garbage, 0), Err(GatewayError::Forbidden(_))));
    }
}
