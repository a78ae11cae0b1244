//! The consent page's HTML and headers: one layout (the vendor's branding, a 600 px popup's
//! width), the page for each step of the flow (`super`), and the headers every page carries
//! (a strict Content-Security-Policy with a per-response nonce, `no-store` and the other hardening
//! headers).

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::auth::credentials::random_token;
use crate::passthrough::TEMPLATES;
use crate::store::Organisation;

use super::{ConsentApi, Context, CSRF_COOKIE};

/// A page to show, with its status.
pub(super) enum Page {
    KeyForm {
        error: Option<String>,
    },
    ChooseOrganisation {
        session: String,
        organisations: Vec<Organisation>,
    },
    /// Back from the vendor's sign-in: the admin confirms, choosing among several organisations.
    SignedIn {
        /// Who signed in (e-mail, or the subject when the ID token has none).
        email: String,
        organisations: Vec<Organisation>,
    },
    Done,
    AlreadyConnected,
    Problem {
        title: &'static str,
        message: String,
    },
}

impl ConsentApi {
    pub(super) fn render(
        &self,
        status: StatusCode,
        page: Page,
        context: Option<Context>,
    ) -> Response<Body> {
        if let (
            Page::Done,
            Some(Context {
                redirect: Some(to), ..
            }),
        ) = (&page, &context)
        {
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(location) = HeaderValue::from_str(to) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            self.secure_headers(&mut response, "");
            return response;
        }
        let nonce = random_token(16);
        let markup = self.layout(&nonce, self.body(&page, context.as_ref()));
        let mut response = Response::new(Body::Text(markup.into_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        self.secure_headers(&mut response, &nonce);
        if let Some(context) = &context {
            let secure = if self.allow_insecure { "" } else { "; Secure" };
            let cookie = format!(
                "{CSRF_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600{secure}",
                context.csrf
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// CSP: no scripts at all, styles only with this response's nonce, forms only to ourselves
    /// (and, for the post-consent redirect, to SR), never framed.
    pub(super) fn secure_headers(&self, response: &mut Response<Body>, nonce: &str) {
        let mut form_action = vec!["'self'".to_string()];
        for host in &self.redirect_hosts {
            form_action.push(format!("https://{host}"));
            form_action.push(format!("https://*.{host}"));
        }
        if self.allow_insecure {
            form_action.push("http://127.0.0.1:*".into());
            form_action.push("http://localhost:*".into());
        }
        let csp = format!(
            "default-src 'none'; style-src 'nonce-{nonce}'; img-src https: data:; form-action {}; frame-ancestors 'none'; base-uri 'none'",
            form_action.join(" ")
        );
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }

    fn layout(&self, nonce: &str, body: Markup) -> Markup {
        let vendor = &self.branding.vendor_name;
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "Connect " (vendor) " to SmartRecruiters" }
                    style nonce=(nonce) { (PreEscaped(STYLE)) }
                }
                body {
                    main {
                        header {
                            @if let Some(logo) = &self.branding.logo_url {
                                img.logo src=(logo) alt=(vendor);
                            } @else {
                                p.brand { (vendor) }
                            }
                        }
                        section.card { (body) }
                    }
                }
            }
        }
    }

    fn body(&self, page: &Page, context: Option<&Context>) -> Markup {
        let vendor = &self.branding.vendor_name;
        match (page, context) {
            (Page::KeyForm { error }, Some(c)) => html! {
                h1 { "Connect " (vendor) " to SmartRecruiters" }
                p { "SmartRecruiters company " code { (c.company_id) } }
                @if let Some(e) = error {
                    p #error .error role="alert" { (e) }
                } @else {
                    (self.once_connected())
                }
                @if self.mode.oidc() {
                    a #sign-in .button href=(sign_in_href(c)) { "Sign in with " (vendor) }
                }
                @if self.mode.keys() {
                    form #consent-form method="post" {
                        (hidden_fields(c))
                        input type="hidden" name="step" value="key";
                        label for="connect-key" {
                            (if self.mode.oidc() { "Or a connect key from " } else { "Connect key from " }) (vendor)
                        }
                        input #connect-key type="text" name="connect_key" autocomplete="off" spellcheck="false" required;
                        button #give-consent type="submit" { "Give consent" }
                    }
                }
            },
            (
                Page::SignedIn {
                    email,
                    organisations,
                },
                Some(c),
            ) => html! {
                h1 { "Give consent" }
                p #signed-in { "Signed in to " (vendor) " as " strong { (email) } ". SmartRecruiters company " code { (c.company_id) } "." }
                (self.once_connected())
                form #consent-form method="post" {
                    (hidden_fields(c))
                    input type="hidden" name="step" value="signed_in";
                    @if let [only] = organisations.as_slice() {
                        input type="hidden" name="organisation" value=(only.id);
                        p #organisation { "Organisation: " strong { (only.name) } }
                    } @else {
                        fieldset {
                            legend { "Which " (vendor) " organisation should this company use?" }
                            @for (i, o) in organisations.iter().enumerate() {
                                div.option {
                                    input type="radio" name="organisation" id={"org-" (i)} value=(o.id) required checked[i == 0];
                                    label for={"org-" (i)} { (o.name) }
                                }
                            }
                        }
                    }
                    button #give-consent type="submit" { "Give consent" }
                }
            },
            (
                Page::ChooseOrganisation {
                    session,
                    organisations,
                },
                Some(c),
            ) => html! {
                h1 { "Choose your organisation" }
                p { "Your connect key belongs to several " (vendor) " organisations. Which one should SmartRecruiters company " code { (c.company_id) } " use?" }
                form #choose-form method="post" {
                    (hidden_fields(c))
                    input type="hidden" name="step" value="choose";
                    input type="hidden" name="session" value=(session);
                    fieldset {
                        legend { "Organisation" }
                        @for (i, o) in organisations.iter().enumerate() {
                            div.option {
                                input type="radio" name="organisation" id={"org-" (i)} value=(o.id) required checked[i == 0];
                                label for={"org-" (i)} { (o.name) }
                            }
                        }
                    }
                    button #give-consent type="submit" { "Give consent" }
                }
            },
            (Page::Done, _) => html! {
                h1 #done { "Connected" }
                p { "SmartRecruiters and " (vendor) " are now connected. You can close this window." }
            },
            (Page::AlreadyConnected, Some(c)) => html! {
                h1 #done { "Already connected" }
                p { "SmartRecruiters company " code { (c.company_id) } " is already connected to " (vendor) ". You can close this window." }
            },
            (Page::Problem { title, message }, _) => html! {
                h1 { (title) }
                p #error .error role="alert" { (message) }
            },
            (_, None) => html! {
                h1 { "Something went wrong" }
                p #error .error role="alert" { "Please reload the page." }
            },
        }
    }
}

impl ConsentApi {
    /// What connecting allows, both ways.
    fn once_connected(&self) -> Markup {
        let vendor = &self.branding.vendor_name;
        html! {
            p { "Once connected:" }
            ul {
                li { "SmartRecruiters may list the assessment packages " (vendor) " offers, order assessments for candidates (name, e-mail, job) and receive statuses, scores and reports;" }
                li #vendor-reads {
                    (vendor) " may " (if self.passthrough_writes { "read and change" } else { "read" })
                    " in SmartRecruiters, with your company's credentials: " (passthrough_reads()) "."
                }
            }
        }
    }
}

/// The start of the sign-in: this page with `signIn=1` (a link, not a form: the identity
/// provider's page opens in the same window and the CSP's `form-action` stays `'self'`).
fn sign_in_href(c: &Context) -> String {
    let mut query = url::form_urlencoded::Serializer::for_suffix(String::from("?"), 1);
    query.append_pair("companyId", c.company_id.as_str());
    if let Some(r) = &c.redirect {
        query.append_pair("redirect", r);
    }
    query.append_pair("signIn", "1");
    query.finish()
}

/// What the vendor's SR passthrough reaches ([`TEMPLATES`]), in words: "a candidate, a job, …
/// (each by its id), and the list of departments".
fn passthrough_reads() -> String {
    let (by_id, whole): (Vec<_>, Vec<_>) = TEMPLATES.iter().partition(|t| t.template.contains('{'));
    let words = |list: Vec<&crate::passthrough::PathTemplate>| {
        list.iter().map(|t| t.reads).collect::<Vec<_>>().join(", ")
    };
    match (by_id.is_empty(), whole.is_empty()) {
        (false, false) => format!("{} (each by its id), and {}", words(by_id), words(whole)),
        (false, true) => format!("{} (each by its id)", words(by_id)),
        _ => words(whole),
    }
}

fn hidden_fields(c: &Context) -> Markup {
    html! {
        input type="hidden" name="company_id" value=(c.company_id);
        input type="hidden" name="csrf" value=(c.csrf);
        @if let Some(r) = &c.redirect { input type="hidden" name="redirect" value=(r); }
    }
}

pub(super) fn problem(title: &'static str, message: impl Into<String>) -> Page {
    Page::Problem {
        title,
        message: message.into(),
    }
}

pub(super) fn unavailable_page() -> (StatusCode, Page) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        problem(
            "Please try again",
            "SmartRecruiters or our service could not be reached. Nothing was changed; please try again in a moment.",
        ),
    )
}

/// Fits a 600 px popup: fluid widths, nothing fixed wider than the viewport.
const STYLE: &str = "*{box-sizing:border-box}\
body{margin:0;font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2933;background:#f5f7fa}\
main{max-width:560px;margin:0 auto;padding:10px 12px}\
header{margin-bottom:6px}.logo{max-width:100%;max-height:32px}.brand{font-weight:700;font-size:17px;margin:0}\
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.15)}\
h1{font-size:19px;margin:0 0 6px}p{margin:4px 0}ul{padding-left:20px;margin:2px 0 6px}\
code{overflow-wrap:anywhere;background:#eef2f7;padding:0 4px;border-radius:3px}\
label{display:block;font-weight:600;margin:8px 0 4px}\
input[type=text]{width:100%;padding:8px;font-size:16px;border:1px solid #9aa5b1;border-radius:4px}\
fieldset{border:1px solid #d3dae3;border-radius:4px;margin:6px 0;padding:6px 12px}\
.option{display:flex;align-items:center;gap:8px}.option label{display:inline;margin:3px 0;font-weight:400}\
button,.button{display:block;width:100%;margin-top:10px;padding:10px;font-size:16px;font-weight:600;background:#0b6ff4;color:#fff;border:0;border-radius:4px;cursor:pointer;text-align:center;text-decoration:none}\
.error{color:#b42318;font-weight:600}";
