//! Every public type can cross threads (DESIGN: public types are
//! `Send + Sync`), including the calls and builders that are awaited.

use oidckit::*;

fn send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Configuration>();
    send_sync::<ConfigurationBuilder>();
    send_sync::<Discovery>();
    send_sync::<ResourceDiscovery>();
    send_sync::<ProtectedResourceMetadata>();
    send_sync::<Call<'static, TokenEndpointResponse>>();
    send_sync::<Call<'static, IntrospectionResponse>>();
    send_sync::<ResourceRequest<'static>>();
    send_sync::<RequestOptions>();
    send_sync::<Error>();
    send_sync::<ErrorKind>();
    send_sync::<OAuthError>();
    send_sync::<EndpointContext<'static>>();
    send_sync::<EndpointRequest>();
    send_sync::<EndpointResponse>();
    send_sync::<ServerMetadata>();
    send_sync::<ClientMetadata>();
    send_sync::<ClientAuth>();
    send_sync::<PrivateKey>();
    send_sync::<DPoPHandle>();
    send_sync::<TokenEndpointResponse>();
    send_sync::<TokenManager>();
    send_sync::<TokenExchange>();
    send_sync::<InMemoryTokenStore>();
    send_sync::<DynamicClientRegistration>();
    send_sync::<Registration>();
    send_sync::<RegisteredClient>();
    send_sync::<Call<'static, RegisteredClient>>();
}

/// The futures of the calls are `Send`, so they can be spawned.
#[test]
fn call_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let config = Configuration::new(
        ServerMetadata::new(
            "https://as.example",
            "https://as.example/t".parse().unwrap(),
        ),
        "c",
        ClientAuth::none(),
    )
    .unwrap();
    let grant = std::future::IntoFuture::into_future(client_credentials_grant(
        &config,
        &[("scope", "read")],
        None,
    ));
    send(&grant);
    let discovery = std::future::IntoFuture::into_future(oidckit::discovery(
        "https://as.example",
        "c",
        ClientAuth::none(),
    ));
    send(&discovery);
    let registration = std::future::IntoFuture::into_future(dynamic_client_registration(
        "https://as.example",
        ClientMetadata::default(),
    ));
    send(&registration);
    let read = std::future::IntoFuture::into_future(read_client_registration(
        &config,
        &RegisteredClient::new(ClientMetadata::new("c")),
    ));
    send(&read);
    let resource =
        std::future::IntoFuture::into_future(discover_protected_resource("https://api.example"));
    send(&resource);
    let introspection =
        std::future::IntoFuture::into_future(token_introspection(&config, "t", None));
    send(&introspection);
}
