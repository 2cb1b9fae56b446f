//! A test CA, a server certificate for 127.0.0.1 and client certificates,
//! made with OpenSSL for the mTLS interop tests.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::{X509Name, X509NameBuilder, X509};

pub struct Issued {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl Issued {
    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }
    /// PKCS#8, as reqwest's `Identity::from_pkcs8_pem` wants.
    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().unwrap()
    }
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut b = X509NameBuilder::new().unwrap();
    b.append_entry_by_text("C", "US").unwrap();
    b.append_entry_by_text("O", "oidckit").unwrap();
    b.append_entry_by_text("CN", cn).unwrap();
    b.build()
}

fn build(
    subject: &X509Name,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    extend: impl FnOnce(&mut openssl::x509::X509Builder),
) -> X509 {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(subject).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    extend(&mut b);
    match issuer {
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
        None => {
            b.set_issuer_name(subject).unwrap();
            b.sign(key, MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

pub fn ca() -> Issued {
    let key = key();
    let cert = build(&name("oidckit test CA"), &key, None, |b| {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(KeyUsage::new().key_cert_sign().crl_sign().build().unwrap())
            .unwrap();
    });
    Issued { cert, key }
}

/// A server certificate for 127.0.0.1, issued by `ca`.
pub fn server(ca: &Issued) -> Issued {
    let key = key();
    let cert = build(&name("127.0.0.1"), &key, Some((&ca.cert, &ca.key)), |b| {
        let san = SubjectAlternativeName::new()
            .ip("127.0.0.1")
            .build(&b.x509v3_context(Some(&ca.cert), None))
            .unwrap();
        b.append_extension(san).unwrap();
        b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
            .unwrap();
    });
    Issued { cert, key }
}

/// A client certificate `C=US, O=oidckit, CN=<cn>`, issued by `ca`, or
/// self-signed when `ca` is `None`.
pub fn client(cn: &str, ca: Option<&Issued>) -> Issued {
    let key = key();
    let cert = build(&name(cn), &key, ca.map(|c| (&c.cert, &c.key)), |b| {
        b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
            .unwrap();
    });
    Issued { cert, key }
}
