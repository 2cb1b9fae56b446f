//! Discovery, then the client credentials grant.
//!
//! With no arguments it starts an embedded authorization server on 127.0.0.1
//! (no setup, no network):
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Against a real server, give the issuer, client id and secret as flags or
//! in the environment (`OIDCKIT_ISSUER`, `OIDCKIT_CLIENT_ID`,
//! `OIDCKIT_CLIENT_SECRET`, optional `OIDCKIT_SCOPE`):
//!
//! ```text
//! cargo run --example quickstart -- \
//!     --issuer https://as.example.com --client-id my-service --client-secret s3cr3t --scope read
//! ```
//!
//! An `http:` issuer (a local test server) also needs `--allow-insecure`
//! (or `OIDCKIT_ALLOW_INSECURE=1`). `--issuer URL` and `--issuer=URL` both
//! work; an unknown or misspelt flag is an error (`--help` lists them).

use clap::builder::BoolishValueParser;
use clap::Parser;
use oidckit::testing::{MockAuthorizationServer, MockClient};
use oidckit::{client_credentials_grant, discovery, ClientAuth, Url};

/// Discovery, then the client credentials grant: against an embedded
/// authorization server on 127.0.0.1, or against ISSUER when given.
#[derive(Debug, Parser)]
#[command(name = "quickstart")]
struct Args {
    /// A real authorization server (without it: an embedded one on 127.0.0.1)
    #[arg(long, env = "OIDCKIT_ISSUER", requires_all = ["client_id", "client_secret"])]
    issuer: Option<Url>,
    /// The client's id at ISSUER
    #[arg(long, env = "OIDCKIT_CLIENT_ID", requires = "issuer")]
    client_id: Option<String>,
    /// The client's secret (client_secret_basic)
    #[arg(
        long,
        env = "OIDCKIT_CLIENT_SECRET",
        requires = "issuer",
        hide_env_values = true
    )]
    client_secret: Option<String>,
    /// The scope to ask for
    #[arg(long, env = "OIDCKIT_SCOPE", default_value = "read write")]
    scope: String,
    /// Allow an http: ISSUER (local testing only)
    #[arg(long, env = "OIDCKIT_ALLOW_INSECURE", value_parser = BoolishValueParser::new())]
    allow_insecure: bool,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Exits with clap's message on an unknown flag or a missing value.
    let args = Args::parse();
    let scope = args.scope;

    // Keep the embedded server alive until the end of main.
    let (_server, issuer, client_id, secret, insecure) = match args.issuer {
        Some(issuer) => {
            // clap enforces both with --issuer (`requires_all`).
            let client_id = args.client_id.ok_or("--client-id is required")?;
            let secret = args.client_secret.ok_or("--client-secret is required")?;
            (None, issuer, client_id, secret, args.allow_insecure)
        }
        None => {
            let server = MockAuthorizationServer::builder()
                .client(MockClient::client_secret_basic("my-service", "s3cr3t"))
                .start()
                .await?;
            println!("embedded authorization server at {}", server.issuer());
            let issuer = server.issuer();
            (
                Some(server),
                issuer,
                "my-service".into(),
                "s3cr3t".into(),
                true,
            )
        }
    };

    // 1. Discovery: fetch and check the server's metadata.
    let config = discovery(issuer, client_id, ClientAuth::client_secret_basic(secret))
        // The embedded server speaks plain HTTP on loopback; real servers use https.
        .allow_insecure_requests(insecure)
        .await?;
    println!(
        "discovered {} (token endpoint {})",
        config.issuer(),
        config.token_endpoint()?
    );

    // 2. The grant.
    let token = client_credentials_grant(&config, &[("scope", scope.as_str())], None).await?;
    let scopes: Vec<&str> = token
        .scopes()
        .map(|s| s.iter().map(|s| s.as_str()).collect())
        .unwrap_or_default();
    println!("token type: {}", token.token_type());
    println!("scopes:     {scopes:?}");
    println!(
        "expires in: {:?}",
        token
            .expires_in()
            .map(|d| std::time::Duration::from_secs(d.as_secs()))
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::{CommandFactory, FromArgMatches};

    /// Parses `argv` (after the program name) as the example does, but without
    /// the OIDCKIT_* environment variables, so the tests do not depend on them.
    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        let command = Args::command().mut_args(|a| a.env(None));
        let matches = command
            .try_get_matches_from(std::iter::once("quickstart").chain(argv.iter().copied()))?;
        Args::from_arg_matches(&matches)
    }

    #[test]
    fn the_command_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn no_arguments_means_the_embedded_server() {
        let args = parse(&[]).unwrap();
        assert!(args.issuer.is_none());
        assert_eq!(args.scope, "read write");
        assert!(!args.allow_insecure);
    }

    #[test]
    fn flags_with_a_space_or_an_equals_sign() {
        for argv in [
            &[
                "--issuer",
                "https://a.example",
                "--client-id",
                "svc",
                "--client-secret",
                "s",
                "--scope",
                "read",
            ][..],
            &[
                "--issuer=https://a.example",
                "--client-id=svc",
                "--client-secret=s",
                "--scope=read",
            ][..],
        ] {
            let args = parse(argv).unwrap();
            assert_eq!(args.issuer.unwrap().as_str(), "https://a.example/");
            assert_eq!(args.client_id.as_deref(), Some("svc"));
            assert_eq!(args.client_secret.as_deref(), Some("s"));
            assert_eq!(args.scope, "read");
        }
        let args = parse(&[
            "--issuer=http://127.0.0.1:8080",
            "--client-id=a",
            "--client-secret=b",
            "--allow-insecure",
        ])
        .unwrap();
        assert!(args.allow_insecure);
    }

    #[test]
    fn unknown_and_misspelt_flags_are_refused() {
        for argv in [
            &["--isuer", "x"][..],
            &["--isuer=https://a.example"][..],
            &[
                "--issuer",
                "https://a.example",
                "--client-id",
                "a",
                "--client-secret",
                "b",
                "--scopes",
                "read",
            ][..],
            &["--allow-insecure=yes"][..],
            &["stray"][..],
        ] {
            let e = parse(argv).map(|_| ()).unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    clap::error::ErrorKind::UnknownArgument | clap::error::ErrorKind::TooManyValues
                ),
                "{argv:?}: {e}"
            );
        }
    }

    #[test]
    fn a_flag_without_its_value_is_refused() {
        let e = parse(&["--issuer"]).map(|_| ()).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue, "{e}");
    }

    #[test]
    fn an_issuer_that_is_not_a_url_is_refused() {
        let e = parse(&[
            "--issuer",
            "as.example.com",
            "--client-id",
            "a",
            "--client-secret",
            "b",
        ])
        .map(|_| ())
        .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{e}");
    }

    #[test]
    fn an_issuer_needs_the_client_id_and_secret_and_they_need_an_issuer() {
        for argv in [
            &["--issuer", "https://a.example"][..],
            &["--issuer", "https://a.example", "--client-id", "a"][..],
            &["--issuer", "https://a.example", "--client-secret", "b"][..],
            &["--client-id", "a", "--client-secret", "b"][..],
        ] {
            let e = parse(argv).map(|_| ()).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{argv:?}: {e}"
            );
        }
    }

    #[test]
    fn oidckit_allow_insecure_takes_1_0_true_false_yes_no() {
        // The flag's own parsing, from a variable no other test reads.
        const VAR: &str = "OIDCKIT_QUICKSTART_TEST_ALLOW_INSECURE";
        let parse = || {
            let command = Args::command()
                .mut_args(|a| a.env(None))
                .mut_arg("allow_insecure", |a| a.env(VAR));
            Args::from_arg_matches(&command.try_get_matches_from(["quickstart"])?)
        };
        for (v, expected) in [
            ("1", true),
            ("true", true),
            ("yes", true),
            ("0", false),
            ("false", false),
            ("no", false),
        ] {
            std::env::set_var(VAR, v);
            assert_eq!(parse().unwrap().allow_insecure, expected, "{v}");
        }
        std::env::set_var(VAR, "maybe");
        assert!(parse().is_err());
        std::env::remove_var(VAR);
        assert!(!parse().unwrap().allow_insecure);
    }

    #[test]
    fn every_flag_reads_its_oidckit_environment_variable() {
        let command = Args::command();
        let env: Vec<_> = command
            .get_arguments()
            .map(|a| {
                (
                    a.get_id().as_str().to_owned(),
                    a.get_env().map(|e| e.to_str().unwrap().to_owned()),
                )
            })
            .collect();
        assert_eq!(
            env,
            [
                ("issuer", "OIDCKIT_ISSUER"),
                ("client_id", "OIDCKIT_CLIENT_ID"),
                ("client_secret", "OIDCKIT_CLIENT_SECRET"),
                ("scope", "OIDCKIT_SCOPE"),
                ("allow_insecure", "OIDCKIT_ALLOW_INSECURE"),
            ]
            .map(|(id, env)| (id.to_owned(), Some(env.to_owned())))
        );
    }
}
