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
/// use oidckit::{ClientAuth, ClientMetadata};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let http = oidckit::mtls_client_builder_from_pem(
///     &std::fs::read("client-cert.pem")?,
///     &std::fs::read("client-key.pem")?,
/// )?
/// // .add_root_certificate(…) for a private CA
/// .build()?;
/// let config = oidckit::discovery("https://as.example.com", "my-service", ClientAuth::tls_client_auth())
///     .http_client(http)
///     .client_metadata(ClientMetadata::default().with_mtls_endpoint_aliases())
///     .await?;
/// # Ok(()) }
/// ```
pub fn mtls_client_builder_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<reqwest::ClientBuilder> {
    let identity = reqwest::Identity::from_pkcs8_pem(cert_pem, key_pem).map_err(|e| {
        Error::invalid_configuration("unusable client certificate or key").with_source(e)
    })?;
    Ok(http_client_builder().identity(identity))
}

/// Like [`mtls_client_builder_from_pem`], from a PKCS#12 (`.p12` / `.pfx`)
/// archive and its password.
pub fn mtls_client_builder_from_pkcs12(
    der: &[u8],
    password: &str,
) -> Result<reqwest::ClientBuilder> {
    // reqwest's own message is "builder error"; the cause (wrong password,
    // not PKCS#12, …) is in its source, which the error's Display shows.
    let identity = reqwest::Identity::from_pkcs12_der(der, password)
        .map_err(|e| Error::invalid_configuration("unusable PKCS#12 archive").with_source(e))?;
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
    // Parsed either way, so arbitrary bytes are an error, not a wrong
    // thumbprint; PEM may come with leading text (OpenSSL's "Bag Attributes").
    let is_pem = certificate
        .windows(b"-----BEGIN".len())
        .any(|w| w == b"-----BEGIN");
    let parsed = if is_pem {
        openssl::x509::X509::from_pem(certificate)
    } else {
        openssl::x509::X509::from_der(certificate)
    };
    let der = parsed
        .and_then(|c| c.to_der())
        .map_err(|e| Error::invalid_input(format!("not an X.509 certificate: {e}")))?;
    Ok(b64url(&sha256(&der)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::{
        asn1::Asn1Time, ec::*, hash::MessageDigest, nid::Nid, pkcs12::Pkcs12, pkey::PKey, x509::*,
    };

    fn self_signed() -> (X509, PKey<openssl::pkey::Private>) {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "client").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    }

    #[test]
    fn thumbprint_of_pem_der_and_prefixed_pem_agree_and_garbage_fails() {
        let (cert, _) = self_signed();
        let der = cert.to_der().unwrap();
        let expected = b64url(&sha256(&der));
        assert_eq!(certificate_thumbprint(&der).unwrap(), expected);
        assert_eq!(
            certificate_thumbprint(&cert.to_pem().unwrap()).unwrap(),
            expected
        );
        let mut prefixed = b"Bag Attributes\n    localKeyID: 01\n".to_vec();
        prefixed.extend(cert.to_pem().unwrap());
        assert_eq!(certificate_thumbprint(&prefixed).unwrap(), expected);
        assert!(certificate_thumbprint(b"hello").is_err());
    }

    #[test]
    fn client_builders_load_pem_and_pkcs12_and_refuse_bad_input() {
        let (cert, key) = self_signed();
        let pem = cert.to_pem().unwrap();
        let key_pem = key.private_key_to_pem_pkcs8().unwrap();
        assert!(mtls_client_builder_from_pem(&pem, &key_pem)
            .unwrap()
            .build()
            .is_ok());
        assert!(mtls_client_builder_from_pem(&pem, b"not a key").is_err());
        let p12 = Pkcs12::builder()
            .name("client")
            .pkey(&key)
            .cert(&cert)
            .build2("pw")
            .unwrap()
            .to_der()
            .unwrap();
        assert!(mtls_client_builder_from_pkcs12(&p12, "pw")
            .unwrap()
            .build()
            .is_ok());
        let wrong = mtls_client_builder_from_pkcs12(&p12, "wrong").and_then(|b| {
            b.build()
                .map_err(|e| Error::invalid_configuration(e.to_string()))
        });
        assert!(wrong.is_err());
    }
}
