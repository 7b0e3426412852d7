//! The public key of an app's registered certificate, to verify its client assertions.
//! A certificate is read only as far as its SubjectPublicKeyInfo; no chain, no validity: like
//! Entra, the registration itself is the trust.

use base64::Engine;
use jsonwebtoken::DecodingKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

/// The DER bodies of every `CERTIFICATE` block in `pem`.
pub fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b64) = body.take() {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
                    out.push(der);
                }
            }
        } else if let Some(b64) = body.as_mut() {
            b64.push_str(line);
        }
    }
    out
}

/// One DER element: (tag, contents, the whole element, what follows it).
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn element(input: &[u8]) -> Option<Element<'_>> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (first as usize, 2)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = input.get(2..2 + count)?;
        (
            bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize),
            2 + count,
        )
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some((tag, whole.get(header..)?, whole, input.get(end..)?))
}

/// The certificate's SubjectPublicKeyInfo, DER.
fn spki(der: &[u8]) -> Option<&[u8]> {
    let (_, certificate, _, _) = element(der)?;
    let (_, tbs, _, _) = element(certificate)?;
    let mut rest = tbs;
    // [0] version is optional; then serial, signature, issuer, validity, subject, spki.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.3;
    }
    for _ in 0..5 {
        rest = element(rest)?.3;
    }
    let (tag, _, whole, _) = element(rest)?;
    (tag == 0x30).then_some(whole)
}

/// The RSA verification keys of the certificates in `pem`.
pub fn rsa_keys(pem: &str) -> Vec<DecodingKey> {
    pem_certificates(pem)
        .iter()
        .filter_map(|der| spki(der))
        .filter_map(|spki| rsa::RsaPublicKey::from_public_key_der(spki).ok())
        .map(|key| {
            DecodingKey::from_rsa_raw_components(&key.n().to_bytes_be(), &key.e().to_bytes_be())
        })
        .collect()
}
