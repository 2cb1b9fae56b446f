//! Mutual TLS ([RFC 8705](https://www.rfc-editor.org/rfc/rfc8705)): HTTP
//! clients with a client certificate, and certificate thumbprints.
//!
//! With `tls_client_auth` or `self_signed_tls_client_auth`, the certificate
//! in the TLS handshake authenticates the client; with any method, a server
//! may bind access tokens to it (`cnf` with `x5t#S256`, §3). The certificate
//! lives on the configuration's HTTP client.

use crate::config::http_client_builder;
use crate::error::{Error, Result};
use crate::jose::{b64url, sha256};

/// An HTTP client builder (this crate's defaults) presenting the client
/// certificate `cert_pem` (the certificate chain, leaf first) with its
/// PKCS#8 private key `key_pem` (`-----BEGIN PRIVATE KEY-----`).
///
/// ```no_run
/// use oidckit::{ClientAuth, ClientMetadata, DiscoveryOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let http = oidckit::mtls_client_builder_from_pem(
///     &std::fs::read("client-cert.pem")?,
///     &std::fs::read("client-key.pem")?,
/// )?
/// // .add_root_certificate(…) for a private CA
/// .build()?;
/// let config = oidckit::discovery_with(
///     "https://as.example.com".parse()?,
///     "my-service",
///     ClientAuth::tls_client_auth(),
///     DiscoveryOptions::new()
///         .http_client(http)
///         .client_metadata(ClientMetadata { use_mtls_endpoint_aliases: true, ..Default::default() }),
/// ).await?;
/// # Ok(()) }
/// ```
pub fn mtls_client_builder_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<reqwest::ClientBuilder> {
    let identity = reqwest::Identity::from_pkcs8_pem(cert_pem, key_pem).map_err(|e| {
        Error::InvalidConfiguration(format!("unusable client certificate or key: {e}"))
    })?;
    Ok(http_client_builder().identity(identity))
}

/// Like [`mtls_client_builder_from_pem`], from a PKCS#12 (`.p12` / `.pfx`)
/// archive and its password.
pub fn mtls_client_builder_from_pkcs12(
    der: &[u8],
    password: &str,
) -> Result<reqwest::ClientBuilder> {
    let identity = reqwest::Identity::from_pkcs12_der(der, password)
        .map_err(|e| Error::InvalidConfiguration(format!("unusable PKCS#12 archive: {e}")))?;
    Ok(http_client_builder().identity(identity))
}

/// The `x5t#S256` thumbprint of a certificate (RFC 8705 §3.1):
/// base64url(SHA-256(DER)). Compare it with a certificate-bound token's
/// `cnf["x5t#S256"]`. Takes the first certificate of a PEM text, or DER.
///
/// ```
/// # let pem = {
/// #     use openssl::{asn1::Asn1Time, ec::*, nid::Nid, pkey::PKey, x509::*};
/// #     let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
/// #     let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
/// #     let mut b = X509Builder::new()?; b.set_pubkey(&key)?;
/// #     let (from, to) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(1)?);
/// #     b.set_not_before(&from)?; b.set_not_after(&to)?;
/// #     b.sign(&key, openssl::hash::MessageDigest::sha256())?; b.build().to_pem()?
/// # };
/// let thumbprint = oidckit::certificate_thumbprint(&pem)?;
/// assert_eq!(thumbprint.len(), 43);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub fn certificate_thumbprint(certificate: &[u8]) -> Result<String> {
    let der = if certificate.starts_with(b"-----") {
        openssl::x509::X509::from_pem(certificate)
            .and_then(|c| c.to_der())
            .map_err(|e| Error::InvalidInput(format!("not a PEM certificate: {e}")))?
    } else {
        certificate.to_vec()
    };
    Ok(b64url(&sha256(&der)?))
}
