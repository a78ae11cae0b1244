//! The vendor API's routes: one row per (method, path template) → handler, with who may call it
//! and how large its body may be. `template.yaml` sends `ANY /assessment/{proxy+}` and
//! `ANY /v1/assessment/{proxy+}` (Kombo's SDKs' base URL ends in `/v1`) to the one vendor-api
//! function; a path is matched from its `assessment` segment on, so every row answers under both
//! prefixes (and under an API Gateway stage, `/prod/assessment/…`).
//!
//! A plain static table rather than axum's `Router`: axum is not in the vendor-api binary today
//! (only the tests and the SR simulator link it), so adopting it would add its crates to every
//! cold start, while fourteen rows matched segment by segment cost nothing to build. The handlers
//! keep `lambda_http`'s `Request`, and the order of the checks (body size, key, integration, key
//! scope, route) stays what `openapi.yaml` documents.

use lambda_http::http::Method;

use crate::http::{body_limits, decode_segment, segments_after};

/// What a route runs (`super::VendorApi`'s methods of the same name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handler {
    CreateConnectKey,
    /// Create, list and revoke (`{keyId}`) per-integration keys.
    VendorKeys,
    ListEvents,
    PutPackages,
    GetPackages,
    ListOrders,
    /// `{orderId}`.
    GetOrder,
    /// `{orderId}`.
    SubmitResult,
    Passthrough,
    /// Erase one candidate's personal data (by SR candidate id or e-mail).
    EraseCandidate,
    /// Everything held for one candidate.
    ExportCandidate,
    /// `{orderId}`: erase one order's personal data.
    EraseOrder,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// The admin key, for no integration in particular (a connect key may span several).
    Admin,
    /// The admin key, for the `X-Integration-Id` integration.
    AdminOfIntegration,
    /// The admin key or that integration's own key, for the `X-Integration-Id` integration.
    Integration,
}

/// One route of the vendor API.
#[derive(Debug, PartialEq)]
pub(super) struct Route {
    pub(super) method: Method,
    /// After `/assessment` (or `/v1/assessment`); `{name}` matches one segment.
    pub(super) path: &'static str,
    pub(super) handler: Handler,
    pub(super) access: Access,
    /// The largest body accepted, in bytes ([`body_limits`]).
    pub(super) body_limit: usize,
}

impl Route {
    /// Whether another method on this route's path answers 405 `METHOD_NOT_ALLOWED` rather than
    /// 404 `ROUTE_NOT_FOUND`: every path but `/connect-keys` and `/events`, which answered 404
    /// before the routes were a table (kept: behaviour unchanged, and `openapi.yaml` documents
    /// no 405).
    pub(super) fn other_methods_are_405(&self) -> bool {
        !matches!(
            self.handler,
            Handler::CreateConnectKey | Handler::ListEvents
        )
    }
}

const fn route(
    method: Method,
    path: &'static str,
    handler: Handler,
    access: Access,
    body_limit: usize,
) -> Route {
    Route {
        method,
        path,
        handler,
        access,
        body_limit,
    }
}

/// Every route, as `openapi.yaml` lists them under `/assessment`.
pub(super) static ROUTES: [Route; 14] = {
    use body_limits::{CATALOG, CONNECT_KEY, NO_BODY, PASSTHROUGH, RESULT};
    use Access::*;
    use Handler::*;
    [
        route(
            Method::POST,
            "/connect-keys",
            CreateConnectKey,
            Admin,
            CONNECT_KEY,
        ),
        route(
            Method::POST,
            "/vendor-keys",
            VendorKeys,
            AdminOfIntegration,
            NO_BODY,
        ),
        route(
            Method::GET,
            "/vendor-keys",
            VendorKeys,
            AdminOfIntegration,
            NO_BODY,
        ),
        route(
            Method::DELETE,
            "/vendor-keys/{keyId}",
            VendorKeys,
            AdminOfIntegration,
            NO_BODY,
        ),
        route(Method::GET, "/events", ListEvents, Integration, NO_BODY),
        route(Method::PUT, "/packages", PutPackages, Integration, CATALOG),
        route(Method::GET, "/packages", GetPackages, Integration, NO_BODY),
        route(Method::GET, "/orders", ListOrders, Integration, NO_BODY),
        route(
            Method::GET,
            "/orders/{orderId}",
            GetOrder,
            Integration,
            NO_BODY,
        ),
        route(
            Method::PUT,
            "/orders/{orderId}/result",
            SubmitResult,
            Integration,
            RESULT,
        ),
        route(
            Method::POST,
            "/passthrough/sr",
            Passthrough,
            Integration,
            PASSTHROUGH,
        ),
        route(
            Method::POST,
            "/candidates/erase",
            EraseCandidate,
            Integration,
            NO_BODY,
        ),
        route(
            Method::POST,
            "/candidates/export",
            ExportCandidate,
            Integration,
            NO_BODY,
        ),
        route(
            Method::POST,
            "/orders/{orderId}/erase",
            EraseOrder,
            Integration,
            NO_BODY,
        ),
    ]
};

/// What a request's method and path found.
#[derive(Debug, PartialEq)]
pub(super) enum Lookup {
    /// The route, and its path parameter (`{orderId}`, `{keyId}`), percent-decoded.
    Found(&'static Route, Option<String>),
    /// The path is a route's, the method none of them (see [`Route::other_methods_are_405`]).
    WrongMethod(&'static Route),
    NotFound,
}

impl Lookup {
    /// The largest body this request may carry: its route's, else that of a bodiless request.
    pub(super) fn body_limit(&self) -> usize {
        match self {
            Self::Found(route, _) => route.body_limit,
            _ => body_limits::NO_BODY,
        }
    }
}

/// The route of `method` and `path` (the whole request path, whatever precedes `assessment`).
pub(super) fn lookup(method: &Method, path: &str) -> Lookup {
    let Some(segments) = segments_after(path, "assessment") else {
        return Lookup::NotFound;
    };
    let mut same_path = None;
    for route in &ROUTES {
        let Some(param) = matches(route.path, &segments) else {
            continue;
        };
        if route.method == *method {
            return Lookup::Found(route, param.map(decode_segment));
        }
        same_path.get_or_insert(route);
    }
    match same_path {
        Some(route) => Lookup::WrongMethod(route),
        None => Lookup::NotFound,
    }
}

/// `Some(parameter)` when `segments` fit `template`.
fn matches<'a>(template: &str, segments: &[&'a str]) -> Option<Option<&'a str>> {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut param = None;
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            param = Some(*segment);
        } else if part != segment {
            return None;
        }
    }
    Some(param)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_answers_under_assessment_v1_and_a_stage() {
        for route in &ROUTES {
            let path = route
                .path
                .replace("{orderId}", "o%201")
                .replace("{keyId}", "k1");
            for prefix in ["/assessment", "/v1/assessment", "/prod/assessment"] {
                let found = lookup(&route.method, &format!("{prefix}{path}"));
                let Lookup::Found(found, param) = found else {
                    panic!("{} {prefix}{path}: {found:?}", route.method);
                };
                assert!(std::ptr::eq(found, route), "{} {path}", route.method);
                let expected = route.path.contains('{').then(|| {
                    if route.path.contains("orderId") {
                        "o 1"
                    } else {
                        "k1"
                    }
                    .to_string()
                });
                assert_eq!(param, expected);
            }
        }
    }

    #[test]
    fn a_known_path_with_another_method_is_told_from_an_unknown_path() {
        assert!(matches!(
            lookup(&Method::DELETE, "/assessment/orders/o1"),
            Lookup::WrongMethod(route) if route.handler == Handler::GetOrder
                && route.other_methods_are_405()
        ));
        assert!(matches!(
            lookup(&Method::POST, "/assessment/events"),
            Lookup::WrongMethod(route) if !route.other_methods_are_405()
        ));
        assert_eq!(
            lookup(&Method::GET, "/assessment/orders/o1/files"),
            Lookup::NotFound
        );
        assert_eq!(lookup(&Method::GET, "/assessment"), Lookup::NotFound);
        assert_eq!(lookup(&Method::GET, "/packages"), Lookup::NotFound);
    }

    #[test]
    fn bodies_are_bounded_by_their_route() {
        let limit = |method, path| lookup(&method, path).body_limit();
        assert_eq!(
            limit(Method::PUT, "/prod/assessment/orders/o%201/result"),
            body_limits::RESULT
        );
        assert_eq!(
            limit(Method::PUT, "/v1/assessment/packages"),
            body_limits::CATALOG
        );
        assert_eq!(
            limit(Method::GET, "/assessment/orders"),
            body_limits::NO_BODY
        );
        assert_eq!(
            limit(Method::POST, "/assessment/orders"),
            body_limits::NO_BODY
        );
    }
}
