//! The sign-in page of the authorization endpoint: a user name and password form, labelled and
//! usable by keyboard, with no script. The OAuth request travels in hidden fields (checked
//! again when the form comes back) and the form carries its CSRF token.

use crate::common::html::Escaped;
use std::fmt::Write;

/// What the page shows and sends back.
pub(super) struct SignInPage<'a> {
    /// The app the user signs in to.
    pub app_name: &'a str,
    /// The tenant of the address (`organizations` when the user's tenant is found from them).
    pub tenant: &'a str,
    /// The authorization request's parameters, as they came.
    pub request: &'a [(&'static str, String)],
    pub csrf: &'a str,
    /// The user name to fill in (`login_hint`, or what was typed).
    pub username: &'a str,
    /// Why the last attempt failed.
    pub error: Option<&'a str>,
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f3f4f6;color:#111827;margin:0}\
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;border:1px solid #d1d5db}\
h1{font-size:1.5rem;margin:0 0 .25rem}p{margin:.25rem 0 1rem;color:#374151}\
label{display:block;font-weight:600;margin-top:1rem}\
input{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;border:1px solid #6b7280;border-radius:4px}\
input:focus,button:focus{outline:3px solid #1d4ed8;outline-offset:2px}\
button{margin-top:1.5rem;font:inherit;font-weight:600;padding:.5rem 1.5rem;background:#1d4ed8;color:#fff;border:0;border-radius:4px;cursor:pointer}\
.error{background:#fef2f2;border:1px solid #b91c1c;color:#7f1d1d;padding:.75rem;border-radius:4px}";

impl SignInPage<'_> {
    pub(super) fn render(&self) -> String {
        let mut page = String::with_capacity(4096);
        let tenant = if super::token::TENANT_ALIASES.contains(&self.tenant) {
            "your organization".to_string()
        } else {
            format!("tenant {}", self.tenant)
        };
        let _ = write!(
            page,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Sign in to {app}</title><style>{STYLE}</style></head><body><main>\
<h1>Sign in</h1><p>to <strong>{app}</strong> in {tenant}</p>",
            app = Escaped(self.app_name),
            tenant = Escaped(&tenant),
        );
        if let Some(error) = self.error {
            let _ = write!(
                page,
                "<p class=\"error\" role=\"alert\" id=\"signin-error\">{}</p>",
                Escaped(error)
            );
        }
        let described = if self.error.is_some() {
            " aria-describedby=\"signin-error\" aria-invalid=\"true\""
        } else {
            ""
        };
        let _ = write!(
            page,
            "<form method=\"post\" autocomplete=\"on\">\
<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">",
            csrf = Escaped(self.csrf)
        );
        for (name, value) in self.request {
            let _ = write!(
                page,
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                Escaped(value)
            );
        }
        let _ = write!(
            page,
            "<label for=\"username\">User name</label>\
<input id=\"username\" name=\"username\" type=\"text\" inputmode=\"email\" autocomplete=\"username\" required \
maxlength=\"256\" value=\"{username}\"{described}>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required \
maxlength=\"256\"{described}>\
<button type=\"submit\">Sign in</button></form></main></body></html>",
            username = Escaped(self.username),
        );
        page
    }
}

#[cfg(test)]
mod tests {
    use super::SignInPage;

    #[test]
    fn values_are_escaped_and_the_error_is_announced() {
        let request = [("state", "\"><script>x</script>".to_string())];
        let page = SignInPage {
            app_name: "A & B",
            tenant: "organizations",
            request: &request,
            csrf: "c1",
            username: "ada@example.test",
            error: Some("Wrong <password>"),
        }
        .render();
        assert!(page.contains("value=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(!page.contains("<script>"));
        assert!(page.contains("A &amp; B"));
        assert!(page.contains("role=\"alert\" id=\"signin-error\">Wrong &lt;password&gt;"));
        assert!(page.contains("aria-describedby=\"signin-error\""));
        assert!(page.contains("<label for=\"password\">"));
        assert!(page.contains("in your organization"));
    }
}
