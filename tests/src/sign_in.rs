//! Consent with sign-in, driven as a browser drives it: the consent page (cargo lambda watch)
//! sends the browser to the local OpenID provider (`infra/oidc-provider`, component `idp` of
//! `infra/stack.sh`), whose own HTML forms take the password and the one-time code, and which
//! sends the browser back to the consent page's callback. A real client of the real provider:
//! a cookie jar (by name and path, shared across ports as browsers do), redirects followed by
//! hand so each hop can be checked or replayed.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use url::Url;

use crate::Stack;

/// The local IdP's users (`infra/oidc-provider/server.mjs`).
pub const MFA_USER: &str = "mfa@acme.test";
pub const NO_MFA_USER: &str = "nomfa@acme.test";
pub const TWO_ORGANISATIONS_USER: &str = "multi@acme.test";
pub const NO_ORGANISATION_USER: &str = "noorg@acme.test";
pub const PASSWORD: &str = "local-password";
pub const ONE_TIME_CODE: &str = "123456";

/// One answer: status, where it redirects (absolute), and its body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<Url>,
    pub body: String,
    pub url: Url,
}

/// A browser: one cookie jar, no automatic redirects.
pub struct Browser {
    http: reqwest::Client,
    /// (name, path, value)
    cookies: Vec<(String, String, String)>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    /// The cookie `name` this browser holds, if any.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| v.as_str())
    }

    pub async fn get(&mut self, url: &Url) -> Answer {
        let request = self.http.get(url.clone());
        self.send(url, request).await
    }

    pub async fn post(&mut self, url: &Url, form: &[(&str, &str)]) -> Answer {
        let request = self.http.post(url.clone()).form(form);
        self.send(url, request).await
    }

    /// Follows redirects with GET until an answer is not one, or `stop` says to stop there.
    pub async fn follow(&mut self, mut answer: Answer, stop: impl Fn(&Url) -> bool) -> Answer {
        while let Some(next) = answer.location.clone() {
            if stop(&next) {
                break;
            }
            answer = self.get(&next).await;
        }
        answer
    }

    async fn send(&mut self, url: &Url, request: reqwest::RequestBuilder) -> Answer {
        let path = url.path().to_string();
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .filter(|(_, p, _)| path.starts_with(p.as_str()))
            .map(|(n, _, v)| format!("{n}={v}"))
            .collect();
        let request = if cookies.is_empty() {
            request
        } else {
            request.header(COOKIE, cookies.join("; "))
        };
        let response = request.send().await.expect("reachable");
        for set in response.headers().get_all(SET_COOKIE) {
            self.store(set.to_str().unwrap_or_default());
        }
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| url.join(l).expect("a valid Location"));
        let body = response.text().await.unwrap_or_default();
        Answer {
            status,
            location,
            body,
            url: url.clone(),
        }
    }

    fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return;
        };
        let mut path = "/".to_string();
        let mut delete = false;
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            match key.to_ascii_lowercase().as_str() {
                "path" => path = val.to_string(),
                "max-age" => delete = val.trim() == "0",
                _ => {}
            }
        }
        self.cookies.retain(|(n, p, _)| !(n == name && *p == path));
        if !delete && !value.is_empty() {
            self.cookies
                .push((name.to_string(), path, value.to_string()));
        }
    }
}

/// The consent page's URL for `company`.
pub fn consent_url(stack: &Stack, company: &str) -> Url {
    let mut url = Url::parse(&stack.function_url("consent", "/integration")).unwrap();
    url.query_pairs_mut().append_pair("companyId", company);
    url
}

/// The value of the form field `name` in `html` (`name="…" value="…"`).
pub fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value = tag.split("value=\"").nth(1)?.split('"').next()?;
    Some(value.replace("&amp;", "&"))
}

/// The `action` of the first form in `html`, resolved against `base`.
pub fn form_action(html: &str, base: &Url) -> Url {
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|a| a.split('"').next())
        .unwrap_or_else(|| panic!("a form with an action in {html}"));
    base.join(&action.replace("&amp;", "&")).unwrap()
}

/// Signs `user` in at the IdP, from the consent page's "Sign in" link up to (not including) the
/// consent page's callback: the callback URL the IdP redirects to, carrying `code` and `state`.
pub async fn sign_in_at_idp(
    browser: &mut Browser,
    stack: &Stack,
    company: &str,
    user: &str,
) -> Url {
    let mut start = consent_url(stack, company);
    start.query_pairs_mut().append_pair("signIn", "1");
    let to_idp = browser.get(&start).await;
    assert_eq!(to_idp.status, StatusCode::SEE_OTHER, "{}", to_idp.body);
    assert!(
        browser.cookie("consent_sign_in").is_some(),
        "the sign-in is bound to the browser by a cookie"
    );
    log_in(browser, to_idp, user).await
}

/// From the redirect to the IdP's authorization endpoint: the login form, the one-time code
/// form when the user has MFA, and the redirect back; answers the redirect's target.
pub async fn log_in(browser: &mut Browser, to_idp: Answer, user: &str) -> Url {
    let is_callback = |u: &Url| u.path().ends_with("/integration/callback");
    let login = browser.follow(to_idp, is_callback).await;
    assert_eq!(
        login.status,
        StatusCode::OK,
        "the IdP's login form: {}",
        login.body
    );
    let action = form_action(&login.body, &login.url);
    let mut answer = browser
        .post(&action, &[("email", user), ("password", PASSWORD)])
        .await;
    if answer.status == StatusCode::OK && answer.body.contains("name=\"code\"") {
        let action = form_action(&answer.body, &answer.url);
        answer = browser.post(&action, &[("code", ONE_TIME_CODE)]).await;
    }
    let back = browser.follow(answer, is_callback).await;
    match back.location.clone().filter(is_callback) {
        Some(callback) => callback,
        None => panic!("the IdP redirects back to the consent page: {back:?}"),
    }
}

/// Signs in and comes back: the consent page's answer to the callback, followed to the
/// signed-in page when it redirects there.
pub async fn sign_in(browser: &mut Browser, stack: &Stack, company: &str, user: &str) -> Answer {
    let callback = sign_in_at_idp(browser, stack, company, user).await;
    let answer = browser.get(&callback).await;
    browser.follow(answer, |_| false).await
}

/// "Give consent" on the signed-in page, for `organisation` (the page's only one when `None`).
pub async fn give_consent(
    browser: &mut Browser,
    page: &Answer,
    organisation: Option<&str>,
) -> Answer {
    let csrf = field(&page.body, "csrf").expect("the signed-in page has its CSRF field");
    let company = field(&page.body, "company_id").unwrap();
    let organisation = organisation
        .map(str::to_string)
        .or_else(|| field(&page.body, "organisation"))
        .expect("an organisation");
    browser
        .post(
            &page.url,
            &[
                ("company_id", company.as_str()),
                ("csrf", csrf.as_str()),
                ("step", "signed_in"),
                ("organisation", organisation.as_str()),
            ],
        )
        .await
}
