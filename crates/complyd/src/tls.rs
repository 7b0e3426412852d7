//! https: a certificate and key from PEM files, or (`--tls auto`) a local CA and a server
//! certificate made in the data folder and kept for later starts. rustls on ring.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The names a `--tls auto` server certificate always covers.
pub const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
const CA_NAME: &str = "complyd local CA";

/// A server certificate chain and its key, PEM.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_chain_pem: String,
    pub key_pem: String,
    /// The CA file clients should trust, when complyd made it.
    pub ca_path: Option<PathBuf>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("ca_path", &self.ca_path)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// `--tls-cert PEM --tls-key PEM`.
    pub fn from_files(cert: &Path, key: &Path) -> anyhow::Result<Self> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
        };
        Ok(Self {
            cert_chain_pem: read(cert)?,
            key_pem: read(key)?,
            ca_path: None,
        })
    }

    /// `--tls auto`: the CA in `DIR/tls/` (made once), and a server certificate for the loopback
    /// names plus `extra_names`, remade only when the names change.
    pub fn auto(data_dir: &Path, extra_names: &[String]) -> anyhow::Result<Self> {
        let ca = LocalCa::open(data_dir)?;
        let mut names: Vec<String> = LOOPBACK_NAMES.iter().map(|s| s.to_string()).collect();
        for name in extra_names {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let dir = ca.dir();
        let (cert_path, key_path, names_path) = (
            dir.join("server.pem"),
            dir.join("server-key.pem"),
            dir.join("server.names"),
        );
        let wanted = names.join("\n");
        let reusable = std::fs::read_to_string(&names_path).is_ok_and(|n| n == wanted)
            && cert_path.exists()
            && key_path.exists();
        if !reusable {
            let leaf = ca.issue(&names)?;
            write_private(&key_path, &leaf.key_pem)?;
            std::fs::write(&cert_path, &leaf.cert_chain_pem)?;
            std::fs::write(&names_path, &wanted)?;
        }
        Ok(Self {
            cert_chain_pem: std::fs::read_to_string(&cert_path)?,
            key_pem: std::fs::read_to_string(&key_path)?,
            ca_path: Some(ca.cert_path.clone()),
        })
    }

    /// The rustls acceptor for this certificate (http/1.1 only).
    pub fn acceptor(&self) -> anyhow::Result<TlsAcceptor> {
        Ok(TlsAcceptor::from(self.server_config()?))
    }

    /// The rustls server configuration for this certificate (http/1.1 only).
    pub fn server_config(&self) -> anyhow::Result<Arc<rustls::ServerConfig>> {
        let certs = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("TLS certificate: {e}"))?;
        if certs.is_empty() {
            anyhow::bail!("TLS certificate: no CERTIFICATE in the PEM");
        }
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("TLS key: {e}"))?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// complyd's local certificate authority: `DIR/tls/ca.pem` and its key, made on first use and
/// kept, so that a client trusts it once.
pub struct LocalCa {
    /// The CA certificate clients trust (absolute).
    pub cert_path: PathBuf,
    key: KeyPair,
    /// Same subject and key as the CA file: what is signed with it chains to that file.
    issuer: rcgen::Certificate,
}

impl fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCa")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// The CA of the data folder `data_dir`, made there when it has none.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = data_dir.join("tls");
        std::fs::create_dir_all(&dir)?;
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
        let key = match std::fs::read_to_string(&key_path) {
            Ok(pem) if cert_path.exists() => KeyPair::from_pem(&pem)?,
            _ => {
                let key = KeyPair::generate()?;
                let cert = ca_params().self_signed(&key)?;
                write_private(&key_path, &key.serialize_pem())?;
                std::fs::write(&cert_path, cert.pem())?;
                key
            }
        };
        let issuer = ca_params().self_signed(&key)?;
        Ok(Self {
            cert_path: std::fs::canonicalize(&cert_path)?,
            key,
            issuer,
        })
    }

    /// The folder the CA is kept in.
    pub fn dir(&self) -> &Path {
        self.cert_path.parent().unwrap_or(Path::new("."))
    }

    /// A new server certificate (with a new key) for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[String]) -> anyhow::Result<TlsIdentity> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().map_or("complyd", String::as_str),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let cert = params.signed_by(&key, &self.issuer, &self.key)?;
        Ok(TlsIdentity {
            cert_chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_path: Some(self.cert_path.clone()),
        })
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "complyd");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    params
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
