//! HTTP routing: SR's API surface, the Customer API fixtures and the `/__sim` admin API.

pub mod admin;
pub mod customer;
pub mod identity;
pub mod partner;
pub mod results;

use axum::routing::{any, get, patch, post, put};
use axum::{middleware, Router};

use crate::acting_as_sr;
use crate::error::SrError;
use crate::gate;
use crate::state::AppState;

/// Path prefix of SR's Assessment Partner API v202010.
pub const API_PREFIX: &str = "/assessment-api/v202010";

async fn not_found() -> SrError {
    SrError::not_found("No such endpoint")
}

/// Builds the complete router over `state`.
pub fn router(state: AppState) -> Router {
    let sr = Router::new()
        .route(
            "/partner/configuration",
            get(partner::get_configuration).put(partner::put_configuration),
        )
        .route(
            "/integration/company/{companyId}",
            post(partner::integrate_company),
        )
        .route("/orders/{orderId}/results", patch(results::patch_result))
        .route(
            "/orders/{orderId}/results/attachment",
            post(results::add_attachment).layer(results::attachment_body_limit()),
        );

    let admin = Router::new()
        .route("/state", get(admin::state))
        .route("/reset", post(admin::reset))
        .route(
            "/faults",
            post(admin::add_faults)
                .get(admin::list_faults)
                .delete(admin::clear_faults),
        )
        .route("/rate-limit", post(admin::set_rate_limit))
        .route(
            "/orders",
            post(admin::register_order).get(admin::list_orders),
        )
        .route("/orders/{orderId}", get(admin::get_order))
        .route("/requests", get(admin::requests))
        .route("/tokens/expire", post(admin::expire_tokens))
        .route(
            "/clients/{clientId}/token-lifetime",
            post(admin::set_token_lifetime),
        )
        .route(
            "/fixtures/{kind}/{id}",
            put(admin::fixture).delete(admin::fixture),
        )
        .route("/inline-complete/{orderId}", any(admin::inline_complete))
        .route("/companies/{companyId}/consent", post(admin::set_consent))
        .route(
            "/companies/{companyId}/customer-token",
            post(admin::customer_token),
        )
        .route("/companies/{companyId}/token", post(acting_as_sr::token))
        .route(
            "/companies/{companyId}/packages",
            post(acting_as_sr::list_packages),
        )
        .route(
            "/companies/{companyId}/packages/{packageId}",
            post(acting_as_sr::get_package),
        )
        .route(
            "/companies/{companyId}/orders",
            post(acting_as_sr::place_order),
        )
        .route("/companies/{companyId}/raw", post(acting_as_sr::raw))
        .route(
            "/companies/{companyId}/disable",
            post(acting_as_sr::disable_integration),
        )
        .route(
            "/companies/{companyId}/credentials",
            get(acting_as_sr::partner_credentials),
        );

    Router::new()
        .route(gate::TOKEN_PATH, post(identity::token))
        .route("/candidates/{id}", get(customer::candidate))
        .route("/jobs/{id}", get(customer::job))
        .route("/jobs/{id}/hiring-team", get(customer::hiring_team))
        .route("/attachments/{id}", get(results::download_attachment))
        .nest(API_PREFIX, sr)
        .nest("/__sim", admin)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), gate::gate))
        .with_state(state)
}
