//! `complyd env` and `complyd hosts`: what a shell or a machine needs to send tools that only
//! know Microsoft's names to complyd.

use crate::cli::{EnvArgs, EnvFormat, HostsArgs};
use complyd::tls::LocalCa;
use std::path::{Path, PathBuf};

/// Where systems keep their bundle of trusted CAs (Debian/Ubuntu/Alpine, Fedora/RHEL, macOS and
/// others, openSUSE); the first found is joined to complyd's CA.
const SYSTEM_BUNDLES: [&str; 4] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];
/// What never goes through the proxy: this machine.
const NO_PROXY: &str = "localhost,127.0.0.1,::1";

pub fn env(args: &EnvArgs) -> anyhow::Result<()> {
    let ca = LocalCa::open(&args.data)?;
    let bundle = write_bundle(&ca)?;
    let proxy = format!("http://{}", args.proxy);
    let text = |p: &Path| p.display().to_string();
    let vars = variables(&proxy, &text(&ca.cert_path), &text(&bundle));
    let mut out = String::new();
    for (name, value) in vars {
        out.push_str(&line(args.format, name, &value)?);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// The variables, in order: the proxy for every client that reads the usual names, then the CA
/// for each client's own variable. Replacing bundles (Python, curl, OpenSSL) get complyd's CA
/// joined to the system's, so that other https hosts still verify (pass-through); Node adds
/// `NODE_EXTRA_CA_CERTS` to its own.
fn variables(proxy: &str, ca: &str, bundle: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HTTPS_PROXY", proxy.to_string()),
        ("https_proxy", proxy.to_string()),
        ("NO_PROXY", NO_PROXY.to_string()),
        ("no_proxy", NO_PROXY.to_string()),
        // Node 24 and later: its built-in fetch reads the proxy variables with this set.
        ("NODE_USE_ENV_PROXY", "1".to_string()),
        ("NODE_EXTRA_CA_CERTS", ca.to_string()),
        ("REQUESTS_CA_BUNDLE", bundle.to_string()),
        ("SSL_CERT_FILE", bundle.to_string()),
        ("CURL_CA_BUNDLE", bundle.to_string()),
    ]
}

fn line(format: EnvFormat, name: &str, value: &str) -> anyhow::Result<String> {
    if value.contains(['\n', '\r']) {
        anyhow::bail!("{name}: a value with a line break cannot be printed ({value:?})");
    }
    Ok(match format {
        EnvFormat::Sh => format!("export {name}='{}'", value.replace('\'', r"'\''")),
        EnvFormat::Powershell => format!("$env:{name} = '{}'", value.replace('\'', "''")),
        EnvFormat::Dotenv => format!("{name}={value}"),
    })
}

/// `DIR/tls/ca-bundle.pem`: complyd's CA, then the system's bundle when one is found. Rewritten
/// only when it changed.
fn write_bundle(ca: &LocalCa) -> anyhow::Result<PathBuf> {
    let mut text = std::fs::read_to_string(&ca.cert_path)?;
    if let Some(system) = SYSTEM_BUNDLES
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
    {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&system);
    }
    let path = ca.dir().join("ca-bundle.pem");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&path, text)?;
    }
    Ok(path)
}

pub fn hosts(args: &HostsArgs) -> anyhow::Result<()> {
    let ca = LocalCa::open(&args.data)?;
    let data = std::fs::canonicalize(&args.data)?;
    let exe =
        std::env::current_exe().map_or_else(|_| "complyd".to_string(), |p| p.display().to_string());
    print!("{}", hosts_text(args.address, &exe, &data, &ca.cert_path));
    Ok(())
}

/// The `/etc/hosts` lines for every name complyd serves, led by the steps as comments (so that
/// the whole text may be appended to the file).
fn hosts_text(address: std::net::IpAddr, exe: &str, data: &Path, ca: &Path) -> String {
    let names: Vec<&str> = complyd::proxy::served_hosts().collect();
    let listen = std::net::SocketAddr::new(address, 443);
    let mut out = String::new();
    out.push_str("# complyd: Microsoft's names on this machine, for tools that ignore proxies.\n");
    out.push_str(
        "# 1. Add these lines to /etc/hosts (as root):  complyd hosts | sudo tee -a /etc/hosts\n",
    );
    out.push_str(
        "# 2. Serve on port 443 under those names (as root, or with CAP_NET_BIND_SERVICE):\n",
    );
    out.push_str(&format!(
        "#    sudo {} serve --listen {listen} --data {} --tls auto --tls-name {}\n",
        shell_word(exe),
        shell_word(&data.display().to_string()),
        names.join(","),
    ));
    out.push_str(&format!(
        "# 3. Trust the CA {} (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS, or the\n",
        ca.display()
    ));
    out.push_str(
        "#    system store: /usr/local/share/ca-certificates/ and update-ca-certificates).\n",
    );
    out.push_str("# Remove the lines again to reach Microsoft's services.\n");
    for name in names {
        out.push_str(&format!("{address} {name}\n"));
    }
    out
}

/// `word` as one shell word.
fn shell_word(word: &str) -> String {
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_format_quotes_what_its_shell_would_misread() {
        let v = "/data/o'brien/ca.pem";
        assert_eq!(
            line(EnvFormat::Sh, "SSL_CERT_FILE", v).ok().as_deref(),
            Some(r"export SSL_CERT_FILE='/data/o'\''brien/ca.pem'")
        );
        assert_eq!(
            line(EnvFormat::Powershell, "SSL_CERT_FILE", v)
                .ok()
                .as_deref(),
            Some("$env:SSL_CERT_FILE = '/data/o''brien/ca.pem'")
        );
        assert_eq!(
            line(EnvFormat::Dotenv, "SSL_CERT_FILE", v).ok().as_deref(),
            Some("SSL_CERT_FILE=/data/o'brien/ca.pem")
        );
        assert!(line(EnvFormat::Dotenv, "X", "a\nb").is_err());
    }

    #[test]
    fn the_variables_name_the_proxy_and_a_ca_for_each_client() {
        let vars = variables("http://127.0.0.1:8888", "/d/ca.pem", "/d/b.pem");
        let get = |n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("HTTPS_PROXY"), Some("http://127.0.0.1:8888"));
        assert_eq!(get("NO_PROXY"), Some(NO_PROXY));
        assert_eq!(get("NODE_EXTRA_CA_CERTS"), Some("/d/ca.pem"));
        for name in ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"] {
            assert_eq!(get(name), Some("/d/b.pem"), "{name}");
        }
    }

    #[test]
    fn the_hosts_text_is_comments_and_one_line_per_name() {
        let text = hosts_text(
            "127.0.0.1".parse().unwrap(),
            "/opt/complyd",
            Path::new("/srv/my data"),
            Path::new("/srv/my data/tls/ca.pem"),
        );
        let entries: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            entries,
            complyd::proxy::served_hosts()
                .map(|h| format!("127.0.0.1 {h}"))
                .collect::<Vec<_>>()
        );
        let names: Vec<&str> = complyd::proxy::served_hosts().collect();
        let serve = format!(
            "sudo /opt/complyd serve --listen 127.0.0.1:443 --data '/srv/my data' --tls auto --tls-name {}",
            names.join(",")
        );
        assert!(text.contains(&serve), "{text}");
        let v6 = hosts_text(
            "::1".parse().unwrap(),
            "c",
            Path::new("/d"),
            Path::new("/d/ca"),
        );
        assert!(v6.contains("--listen [::1]:443") && v6.contains("\n::1 graph.microsoft.com\n"));
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("/srv/complyd-data"), "/srv/complyd-data");
        assert_eq!(shell_word("/my data/x"), "'/my data/x'");
    }
}
