//! Sign-in with the vendor's OpenID provider on the consent page: the redirect to the provider,
//! its callback, and "Give consent" for a signed-in admin (the operations are in
//! [`crate::onboarding::sign_in`]; this file parses, calls and renders).

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::http::query_param;
use crate::ids::CompanyId;
use crate::oidc::OidcError;
use crate::onboarding;
use crate::onboarding::sign_in::{SignIn, SignInError};
use crate::store::ConnectedBy;

use super::page::{problem, unavailable_page, Page};
use super::{
    cookie, CallbackQuery, ConsentApi, Context, VendorSignIn, CALLBACK_SUFFIX, INVALID_COMPANY_ID,
    SIGNED_IN_COOKIE, SIGN_IN_COOKIE,
};

impl ConsentApi {
    /// `GET {consentUrl}?companyId=…[&redirect=…]&signIn=1`: a 303 to the vendor's identity
    /// provider, with the browser-binding cookie.
    pub(super) async fn start_sign_in(&self, request: &Request) -> Response<Body> {
        let (Some(sign_in), true) = (&self.sign_in, self.mode.oidc()) else {
            return self.render(
                StatusCode::BAD_REQUEST,
                problem(
                    "Use a connect key",
                    format!(
                        "{} connects SmartRecruiters with connect keys, not by signing in.",
                        self.branding.vendor_name
                    ),
                ),
                None,
            );
        };
        let company_id = match query_param(request, "companyId").map(|c| CompanyId::parse(&c)) {
            Some(Ok(id)) => id,
            _ => {
                return self.render(
                    StatusCode::BAD_REQUEST,
                    problem("Something went wrong", INVALID_COMPANY_ID),
                    None,
                )
            }
        };
        let redirect = query_param(request, "redirect");
        if redirect
            .as_deref()
            .is_some_and(|r| !self.redirect_allowed(r))
        {
            return self.render(
                StatusCode::BAD_REQUEST,
                problem(
                    "Something went wrong",
                    "The redirect address does not belong to SmartRecruiters.",
                ),
                None,
            );
        }
        let Some(redirect_uri) = self.redirect_uri(sign_in, request) else {
            return self.render_pair(unavailable_page());
        };
        let started = SignIn {
            store: &self.store,
            secrets: &self.secrets,
            provider: &sign_in.provider,
            policy: &sign_in.policy,
        }
        .start(&company_id, redirect, &redirect_uri, Utc::now())
        .await;
        match started {
            Ok(started) => {
                let mut response = self.see_other(started.authorization_url.as_str());
                self.set_cookie(
                    &mut response,
                    SIGN_IN_COOKIE,
                    &started.browser_binding,
                    onboarding::sign_in::STATE_SECONDS,
                );
                response
            }
            Err(e) => {
                tracing::error!(company_id = %company_id, error = %e, "could not start the sign-in");
                self.render_pair(unavailable_page())
            }
        }
    }

    /// `GET {consentUrl}/callback?code=…&state=…`: the identity provider's answer. Signed in, a
    /// 303 back to the consent page (which then asks for consent); otherwise a page that says
    /// why.
    pub(super) async fn callback(&self, request: &Request) -> Response<Body> {
        let Some(sign_in) = &self.sign_in else {
            return self.render(
                StatusCode::NOT_FOUND,
                problem("Not found", "There is no sign-in here."),
                None,
            );
        };
        let query: CallbackQuery = request
            .uri()
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or(CallbackQuery {
                state: String::new(),
                code: None,
                error: None,
            });
        let vendor = &self.branding.vendor_name;
        let outcome = match (&query.error, &query.code) {
            (Some(error), _) => Err(SignInError::Provider(error.clone())),
            (None, None) => Err(SignInError::UnknownState),
            (None, Some(code)) => match self.redirect_uri(sign_in, request) {
                None => Err(SignInError::Oidc(OidcError::Settings(
                    "no redirect URI".into(),
                ))),
                Some(redirect_uri) => {
                    SignIn {
                        store: &self.store,
                        secrets: &self.secrets,
                        provider: &sign_in.provider,
                        policy: &sign_in.policy,
                    }
                    .finish(
                        &query.state,
                        code,
                        cookie(request, &self.cookie_name(SIGN_IN_COOKIE)).as_deref(),
                        &redirect_uri,
                        Utc::now(),
                    )
                    .await
                }
            },
        };
        let (status, page) = match outcome {
            Ok(signed_in) => {
                let mut back = url::form_urlencoded::Serializer::new(String::new());
                back.append_pair("companyId", &signed_in.session.company_id);
                if let Some(r) = &signed_in.session.redirect {
                    back.append_pair("redirect", r);
                }
                // Relative to `{page}/callback`: the consent page itself.
                let page = request.uri().path().trim_end_matches(CALLBACK_SUFFIX);
                let page = page.rsplit('/').next().unwrap_or_default();
                let mut response = self.see_other(&format!("../{page}?{}", back.finish()));
                self.set_cookie(
                    &mut response,
                    SIGNED_IN_COOKIE,
                    &signed_in.session_cookie,
                    onboarding::sign_in::SIGNED_IN_SECONDS,
                );
                self.set_cookie(&mut response, SIGN_IN_COOKIE, "", 0);
                tracing::info!(company_id = %signed_in.session.company_id, "admin signed in");
                return response;
            }
            Err(SignInError::UnknownState | SignInError::OtherBrowser) => (
                StatusCode::BAD_REQUEST,
                problem("Sign-in expired", "This sign-in link has expired, was used already, or was opened in another browser. Please open this page from SmartRecruiters again."),
            ),
            Err(SignInError::Provider(error)) => {
                tracing::info!(error, "the identity provider ended the sign-in with an error");
                (
                    StatusCode::BAD_REQUEST,
                    problem("Not signed in", format!("{vendor}'s sign-in did not complete ({error}). Nothing was changed; please open this page from SmartRecruiters again.")),
                )
            }
            Err(SignInError::Oidc(OidcError::CodeRefused(reason))) => {
                tracing::warn!(reason, "the identity provider refused the authorization code");
                (
                    StatusCode::BAD_REQUEST,
                    problem("Not signed in", format!("{vendor}'s sign-in could not be confirmed: the sign-in code was already used or not issued for this page. Nothing was changed; please open this page from SmartRecruiters again.")),
                )
            }
            Err(SignInError::Oidc(OidcError::InvalidIdToken(reason))) => {
                tracing::warn!(reason, "ID token refused");
                (
                    StatusCode::BAD_REQUEST,
                    problem("Not signed in", format!("{vendor}'s sign-in could not be verified. Nothing was changed; please open this page from SmartRecruiters again.")),
                )
            }
            Err(SignInError::MfaRequired) => (
                StatusCode::FORBIDDEN,
                problem("Multi-factor sign-in required", format!("{vendor} requires a multi-factor sign-in to connect SmartRecruiters, and your account signed in with a password only. Set up two-step verification for your {vendor} account, then open this page from SmartRecruiters again.")),
            ),
            Err(SignInError::NoOrganisation) => (
                StatusCode::FORBIDDEN,
                problem("No organisation", format!("Your {vendor} account belongs to no organisation that can be connected to SmartRecruiters. Ask your {vendor} administrator to add you to your organisation, then try again.")),
            ),
            Err(e) => {
                tracing::error!(error = %e, "sign-in failed");
                unavailable_page()
            }
        };
        let mut response = self.render(status, page, None);
        self.set_cookie(&mut response, SIGN_IN_COOKIE, "", 0);
        response
    }

    /// The signed-in session of this browser for `company_id`, if any.
    pub(super) async fn signed_in_session(
        &self,
        request: &Request,
        company_id: &CompanyId,
    ) -> Option<crate::store::SignedInSession> {
        let sign_in = self.sign_in.as_ref()?;
        let session_cookie = cookie(request, &self.cookie_name(SIGNED_IN_COOKIE))?;
        self.sign_in_ops(sign_in)
            .session(&session_cookie, company_id, Utc::now())
            .await
            .inspect_err(|e| tracing::error!(error = %e, "signed-in session lookup failed"))
            .ok()
            .flatten()
    }

    /// "Give consent" after signing in: the session (cookie) must be this company's, the
    /// organisation one of the session's; the session is used up, then the company connected.
    pub(super) async fn consent_signed_in(
        &self,
        request: &Request,
        mut context: Context,
        organisation: Option<&str>,
    ) -> (StatusCode, Page, Option<Context>) {
        let expired = |context| {
            (
                StatusCode::BAD_REQUEST,
                Page::KeyForm {
                    error: Some("Your sign-in expired. Please sign in again.".into()),
                },
                Some(context),
            )
        };
        let (Some(sign_in), Some(session_cookie)) = (
            &self.sign_in,
            cookie(request, &self.cookie_name(SIGNED_IN_COOKIE)),
        ) else {
            return expired(context);
        };
        let Some(session) = self.signed_in_session(request, &context.company_id).await else {
            return expired(context);
        };
        // The redirect SR sent when the sign-in started, not the form's.
        context.redirect = session.redirect.clone();
        let Some(chosen) = session
            .organisations
            .iter()
            .find(|o| Some(o.id.as_str()) == organisation)
            .cloned()
        else {
            let page = Page::SignedIn {
                email: session.email.unwrap_or(session.subject),
                organisations: session.organisations,
            };
            return (StatusCode::BAD_REQUEST, page, Some(context));
        };
        match self
            .sign_in_ops(sign_in)
            .take_session(&session_cookie)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => return expired(context),
            Err(e) => {
                tracing::error!(error = %e, "could not use the signed-in session");
                let (status, page) = unavailable_page();
                return (status, page, Some(context));
            }
        }
        let connected_by = ConnectedBy {
            subject: session.subject,
            email: session.email,
            at: Utc::now(),
        };
        let outcome = self
            .onboarding()
            .connect_signed_in(&context.company_id, &chosen.id, connected_by)
            .await;
        let (status, page) = self.connected_page(&context, outcome);
        (status, page, Some(context))
    }

    pub(super) fn sign_in_ops<'a>(&'a self, sign_in: &'a VendorSignIn) -> SignIn<'a> {
        SignIn {
            store: &self.store,
            secrets: &self.secrets,
            provider: &sign_in.provider,
            policy: &sign_in.policy,
        }
    }

    /// The callback URL: configured, or `https://{API Gateway domain}{page}/callback`.
    pub(super) fn redirect_uri(&self, sign_in: &VendorSignIn, request: &Request) -> Option<String> {
        if let Some(url) = &sign_in.redirect_url {
            return Some(url.clone());
        }
        let host = match request.request_context_ref()? {
            RequestContext::ApiGatewayV2(context) => context.domain_name.clone()?,
            RequestContext::ApiGatewayV1(context) => context.domain_name.clone()?,
            _ => return None,
        };
        let page = request.uri().path().trim_end_matches(CALLBACK_SUFFIX);
        Some(format!("https://{host}{page}{CALLBACK_SUFFIX}"))
    }
}
