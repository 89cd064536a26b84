//! The dashboard at `/_emulator/ui`: a page that shows the request journal, the emulator's
//! state and its invocations live, and changes them through the control-plane routes, the
//! same ones curl uses. It adds no route of its own besides its assets.
//!
//! The assets are compiled into the binary ([`ASSETS`]): plain HTML, CSS and JavaScript, no
//! build step and nothing fetched from elsewhere, so the page works offline and from the
//! scratch container.
//!
//! With `--admin-token`, the assets are behind the token like the rest of the control plane.
//! A browser cannot send a bearer header when it opens a URL, so the asset routes also take the
//! token from the cookie [`TOKEN_COOKIE`] (the only place a cookie is read). Without either,
//! they answer a small self-contained page ([`LOGIN_PAGE`]) instead of the asset: it asks for
//! the token once, keeps it in that cookie (path `/_emulator/ui`, a year) and reloads. The
//! dashboard then sends the token as `Authorization: Bearer` on every control-plane call; the
//! routes behind it never read the cookie.
//!
//! The page that asks is answered 401 like every guarded route, except to a browser opening it
//! (`Accept: text/html`), which gets it with 200: a browser logs every 4xx document as an error
//! in its console, and asking for a token is not an error. Either way no asset and no data is
//! given without the token.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

/// The cookie that carries the admin token to the asset routes.
pub const TOKEN_COOKIE: &str = "ecs_emulator_token";

/// One file of the page.
struct Asset {
    /// Its path under `/_emulator/ui/`; empty for the page itself.
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

/// Every asset of the page, compiled in.
const ASSETS: &[Asset] = &[
    Asset {
        path: "",
        content_type: "text/html; charset=utf-8",
        body: include_str!("assets/index.html"),
    },
    Asset {
        path: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("assets/app.js"),
    },
    Asset {
        path: "style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("assets/style.css"),
    },
];

/// What a request without the token gets instead of an asset: a page that asks for it.
const LOGIN_PAGE: &str = include_str!("assets/login.html");

/// What the page may load: its own assets, and requests to its own origin. No inline script or
/// style runs on the dashboard.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The total size in bytes of the page's assets (README states it; a test keeps it true).
pub fn assets_size() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}

/// The asset routes, merged into the control plane under [`crate::admin::PREFIX`].
pub fn router(state: AppState) -> Router<AppState> {
    let mut router = Router::new().route(
        "/ui/",
        get(|| async { Redirect::permanent("/_emulator/ui") }),
    );
    for asset in ASSETS {
        let path = if asset.path.is_empty() {
            "/ui".to_owned()
        } else {
            format!("/ui/{}", asset.path)
        };
        router = router.route(&path, get(move || async move { serve(asset) }));
    }
    router
        .method_not_allowed_fallback(crate::admin::method_not_allowed)
        .layer(middleware::from_fn_with_state(state, require_token))
}

fn serve(asset: &'static Asset) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        asset.body,
    )
        .into_response();
    if asset.path.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

/// The token a request for an asset carries: the bearer header, else the cookie.
fn given_token(headers: &HeaderMap) -> Option<String> {
    let bearer = crate::admin::bearer_token(headers).map(str::to_owned);
    bearer.or_else(|| {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == TOKEN_COOKIE)
            .map(|(_, value)| {
                percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    })
}

/// True for a browser opening a page: its `Accept` names `text/html`.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// The asset, when the request carries the admin token (or none is set); else [`LOGIN_PAGE`]:
/// 401, or 200 to a browser opening it (see the module's notes).
async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = state.admin_token() else {
        return next.run(request).await;
    };
    let accepted = given_token(request.headers())
        .is_some_and(|t| crate::admin::constant_time_eq(t.as_bytes(), expected.as_bytes()));
    if accepted {
        return next.run(request).await;
    }
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        LOGIN_PAGE,
    )
        .into_response();
    if !wants_html(request.headers()) {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}
