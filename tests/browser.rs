//! The `web_sign_in` example's application, driven end to end in a real
//! headless Chromium against oidc-provider: open the app, click "Sign in",
//! log in and consent on the provider's pages, see the claims, sign out
//! through the provider's end-session page. A screenshot of the signed-in
//! page is saved as `target/browser/signed-in.png`.

#[path = "../examples/web_sign_in/app.rs"]
mod app;
#[path = "support/oidc_provider.rs"]
mod oidc_provider;
mod support;

use oidckit::{discovery, ClientAuth, Url};
use serde_json::json;
use support::browser::Browser;

const SECRET: &str = "web-app-secret-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_and_out_in_a_real_browser() {
    // The application's address first: the provider must know its redirect URIs.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let base: Url = format!("http://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    let provider = oidc_provider::OidcProvider::start_with_env(
        vec![json!({
            "client_id": "web-app",
            "client_secret": SECRET,
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "redirect_uris": [app::redirect_uri(&base).as_str()],
            "post_logout_redirect_uris": [app::post_logout_redirect_uri(&base).as_str()],
            "id_token_signed_response_alg": "ES256",
        })],
        &[],
    );
    let config = discovery(
        provider.issuer.clone(),
        "web-app",
        ClientAuth::client_secret_basic(SECRET),
    )
    .allow_insecure_requests(true)
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app::router(config, base.clone(), "openid email profile");
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    let browser = Browser::start().await;
    browser.client.goto(base.as_str()).await.unwrap();
    browser.click("#sign-in").await;

    // The provider's login page, then its consent page.
    browser
        .find("#login-name")
        .await
        .send_keys("alice")
        .await
        .unwrap();
    browser
        .find("#login-password")
        .await
        .send_keys("any password")
        .await
        .unwrap();
    browser.click("form#login #submit").await;
    browser.click("form#consent #submit").await;

    // Back in the application, signed in, with the validated claims.
    let heading = browser.text("#signed-in").await;
    assert_eq!(heading, "Signed in as alice");
    assert_eq!(browser.text("#claim-sub").await, "alice");
    assert_eq!(
        browser.text("#claim-iss").await,
        provider.issuer.as_str().trim_end_matches('/')
    );
    assert_eq!(browser.text("#claim-aud").await, "web-app");
    assert!(!browser.text("#claim-nonce").await.is_empty());
    assert!(browser.url().await.starts_with(base.as_str()));
    save_screenshot(&browser, "signed-in.png").await;

    // Sign out: the provider asks for confirmation, then sends the browser
    // back to the application's post-logout page.
    browser.click("#sign-out").await;
    browser.click("form#logout #submit").await;
    assert_eq!(browser.text("#signed-out").await, "Signed out");
    assert!(browser.url().await.starts_with(base.as_str()));
    // The application's session is gone too.
    browser.client.goto(base.as_str()).await.unwrap();
    browser.find("#sign-in").await;

    browser.close().await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

async fn save_screenshot(browser: &Browser, name: &str) {
    let png = browser.client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}
