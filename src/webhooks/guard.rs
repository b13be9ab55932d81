//! Which receiver URLs are allowed, checked when subscribing (literal
//! addresses, spellings, allowlist) and again at every delivery, where the
//! guarded client resolves the host itself and connects only to vetted
//! public addresses (`crate::net`).

use crate::config::WebhooksConfig;
use crate::net::{FetchError, Outbound};

/// Why a receiver URL is refused: `(code, message)` for a 422.
pub fn check(
    outbound: &Outbound,
    config: &WebhooksConfig,
    raw: &str,
) -> Result<url::Url, (&'static str, String)> {
    if raw.len() > 2048 {
        return Err(("invalid_webhook_url", "the URL is longer than 2048 characters".into()));
    }
    let url = outbound.check_url(raw).map_err(|e| match e {
        FetchError::Forbidden => {
            ("webhook_url_forbidden", "the URL points to a private, local or reserved address".to_owned())
        }
        other => ("invalid_webhook_url", other.to_string()),
    })?;
    if !config.allowed_domains.is_empty() {
        let host = url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase();
        let allowed = config.allowed_domains.iter().any(|d| {
            let d = d.trim_start_matches('.').to_ascii_lowercase();
            host == d || host.ends_with(&format!(".{d}"))
        });
        if !allowed {
            return Err(("webhook_url_forbidden", format!("{host} is not in webhooks.allowed_domains")));
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(domains: &[&str]) -> WebhooksConfig {
        let mut c = crate::config::Config::from_figment(crate::config::Config::defaults()).unwrap().webhooks;
        c.allowed_domains = domains.iter().map(|d| d.to_string()).collect();
        c
    }

    #[test]
    fn every_forbidden_class_is_refused() {
        let out = Outbound::new(Duration::from_secs(1), 0, false).unwrap();
        let c = config(&[]);
        for url in [
            "http://127.0.0.1/h",
            "http://localhost.localdomain.invalid.127.0.0.1.nip/h#not-literal",
            "http://2130706433/h",
            "http://0x7f000001/h",
            "http://017700000001/h",
            "http://127.1/h",
            "http://10.0.0.5/h",
            "http://172.16.1.1/h",
            "http://192.168.0.1/h",
            "http://169.254.169.254/latest",
            "http://100.64.0.1/h",
            "http://224.0.0.1/h",
            "http://0.0.0.0/h",
            "http://255.255.255.255/h",
            "http://192.0.2.1/h",
            "http://[::1]/h",
            "http://[fd00::1]/h",
            "http://[fe80::1]/h",
            "http://[::ffff:127.0.0.1]/h",
            "http://[::127.0.0.1]/h",
            "http://[2001:db8::1]/h",
        ] {
            let r = check(&out, &c, url);
            if url.contains("nip/h") {
                // A hostname: allowed here, resolved and checked at delivery.
                assert!(r.is_ok(), "{url}");
                continue;
            }
            assert_eq!(r.map(|_| ()).unwrap_err().0, "webhook_url_forbidden", "{url}");
        }
        for (url, code) in [
            ("ftp://example.com/h", "invalid_webhook_url"),
            ("http://user:pw@example.com/h", "invalid_webhook_url"),
            ("not a url", "invalid_webhook_url"),
        ] {
            assert_eq!(check(&out, &c, url).map(|_| ()).unwrap_err().0, code, "{url}");
        }
        assert!(check(&out, &c, "https://hooks.example.com/wa").is_ok());
    }

    #[test]
    fn the_allowlist_takes_hosts_and_subdomains() {
        let out = Outbound::new(Duration::from_secs(1), 0, false).unwrap();
        let c = config(&["example.com"]);
        assert!(check(&out, &c, "https://example.com/h").is_ok());
        assert!(check(&out, &c, "https://hooks.example.com/h").is_ok());
        assert_eq!(check(&out, &c, "https://example.com.evil.net/h").unwrap_err().0, "webhook_url_forbidden");
        assert_eq!(check(&out, &c, "https://notexample.com/h").unwrap_err().0, "webhook_url_forbidden");
    }
}
