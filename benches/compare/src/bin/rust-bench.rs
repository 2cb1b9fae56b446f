//! Client credentials grants per second from the Rust clients, against a
//! token endpoint given on the command line (normally `static-token-server`).
//!
//! ```text
//! rust-bench bench TOKEN_URL [--seq N] [--conc N] [--rounds R] [--pass P] [--modes sequential|concurrency32|both]
//! rust-bench rss   TOKEN_URL [--client oidckit|oidckit-dpop|reqwest|oauth2] [--total N]
//! rust-bench single TOKEN_URL [--client ...] [--total N] [--concurrency C]
//! ```
//!
//! `bench` runs, for each client, rounds of N grants one after the other
//! ("sequential") and of N grants spread over 32 tasks ("concurrency 32");
//! DPoP rounds do N/4 (a DPoP grant costs about four Bearer ones). A round is
//! cut into 20 slices and the clients take turns slice by slice (the order
//! rotating), so that drift hits them all alike (`RUST_BENCH_SLICES`
//! changes the 20). One JSON document on stdout.
//!
//! `rss` does N grants (default 100,000) at concurrency 32 with one client in
//! a fresh process and reports VmRSS before the first grant (the clients
//! built), after 1k, 10k, 50k, 100k, 200k, 500k, 1M (those up to N) and N
//! grants, and VmHWM (peak) at the end, from /proc/self/status. One JSON
//! document on stdout.
//!
//! `single` does N grants with one client at concurrency C, for profiling
//! (`perf record`, `perf stat`) one client at a time.
//!
//! The clients, all with the same settings (no redirects, 30 s timeout,
//! keep-alive pool) and the same request (client_secret_basic,
//! `grant_type=client_credentials&scope=read`, `Accept: application/json`):
//! - `oidckit`: `client_credentials_grant(&config, &[("scope", "read")], None)`;
//! - `oidckit` DPoP: the same with `Some(&dpop)`, an ES256 `DPoPHandle`;
//! - `reqwest`: a bare reqwest 0.13 POST and a `serde_json::Value` parse;
//! - `oauth2`: the `oauth2` crate 5, `BasicClient::exchange_client_credentials()`
//!   over its reqwest 0.12 client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{EndpointNotSet, EndpointSet, Scope, TokenResponse as _};
use oidckit::{
    client_credentials_grant, ClientAuth, Configuration, DPoPHandle, JwsAlgorithm, ServerMetadata,
};
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

const CLIENT_ID: &str = "bench-client";
const CLIENT_SECRET: &str = "bench-secret";
const ACCESS_TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA";
const TIMEOUT: Duration = Duration::from_secs(30);
const CONCURRENCY: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Oidckit,
    OidckitDpop,
    Reqwest,
    ReqwestDpop,
    Oauth2,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Oidckit,
        Kind::OidckitDpop,
        Kind::Reqwest,
        Kind::ReqwestDpop,
        Kind::Oauth2,
    ];

    fn client(self) -> &'static str {
        match self {
            Kind::Oidckit | Kind::OidckitDpop => "oidckit",
            Kind::Reqwest | Kind::ReqwestDpop => "reqwest",
            Kind::Oauth2 => "oauth2",
        }
    }

    fn token_type(self) -> &'static str {
        match self {
            Kind::OidckitDpop | Kind::ReqwestDpop => "DPoP",
            _ => "Bearer",
        }
    }

    fn parse(name: &str) -> Kind {
        match name {
            "oidckit" => Kind::Oidckit,
            "oidckit-dpop" => Kind::OidckitDpop,
            "reqwest" => Kind::Reqwest,
            "reqwest-dpop" => Kind::ReqwestDpop,
            "oauth2" => Kind::Oauth2,
            _ => usage(&format!("unknown client `{name}`")),
        }
    }
}

type Oauth2Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

struct Clients {
    config: Configuration,
    dpop: DPoPHandle,
    reqwest: reqwest::Client,
    url: reqwest::Url,
    basic: HeaderValue,
    oauth2: Oauth2Client,
    oauth2_http: oauth2::reqwest::Client,
    bare_dpop: BareDpop,
    /// CPU work added to each bare reqwest grant (`BARE_EXTRA_NS`; zero by default).
    bare_extra_work: Duration,
}

/// The least a DPoP client must do per grant, written by hand for the
/// "bare reqwest DPoP" baseline: the RFC 9449 §4.2 claims with `format!`,
/// SHA-256 and one P-256 signature with OpenSSL (the library oidckit signs
/// with), base64url. No nonce cache, no validation, no error handling.
struct BareDpop {
    key: EcKey<Private>,
    header_b64: String,
    htu: String,
    jti: AtomicUsize,
}

impl BareDpop {
    fn new(url: &reqwest::Url) -> BareDpop {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
        let key = EcKey::generate(&group).expect("P-256 key");
        let mut ctx = BigNumContext::new().expect("bn ctx");
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        key.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .expect("coordinates");
        let coord = |n: &BigNum| b64(&n.to_vec_padded(32).unwrap());
        let header = json!({
            "typ": "dpop+jwt",
            "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": coord(&x), "y": coord(&y)},
        });
        let mut htu = url.clone();
        htu.set_query(None);
        BareDpop {
            key,
            header_b64: b64(header.to_string().as_bytes()),
            htu: htu.to_string(),
            jti: AtomicUsize::new(0),
        }
    }

    fn proof(&self) -> String {
        let iat = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let jti = self.jti.fetch_add(1, Ordering::Relaxed);
        let claims = format!(
            r#"{{"jti":"b-{jti}","htm":"POST","htu":"{}","iat":{iat}}}"#,
            self.htu
        );
        let mut jws = format!("{}.{}", self.header_b64, b64(claims.as_bytes()));
        let sig = EcdsaSig::sign(&openssl::sha::sha256(jws.as_bytes()), &self.key).unwrap();
        let mut rs = sig.r().to_vec_padded(32).unwrap();
        rs.extend(sig.s().to_vec_padded(32).unwrap());
        jws.push('.');
        jws.push_str(&b64(&rs));
        jws
    }
}

/// Busy for `work` of CPU time on this thread (no yield, no sleep).
fn spin_for(work: Duration) {
    let started = Instant::now();
    while started.elapsed() < work {
        std::hint::spin_loop();
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Clients {
    fn new(token_url: &str) -> Clients {
        let url: oidckit::Url = token_url.parse().unwrap_or_else(|_| usage("bad token URL"));
        let issuer = url.origin().ascii_serialization();
        let config = Configuration::builder(
            ServerMetadata::new(issuer, url.clone()),
            CLIENT_ID,
            ClientAuth::client_secret_basic(CLIENT_SECRET),
        )
        .allow_insecure_requests(true)
        .build()
        .expect("oidckit configuration");
        let dpop = DPoPHandle::generate(&config, JwsAlgorithm::ES256).expect("DPoP key");

        // oidckit's own client settings, spelled out: no redirects, 30 s timeout.
        let reqwest = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .expect("reqwest client");
        // RFC 6749 §2.3.1: form-encode id and secret, then Base64 (nothing to
        // encode in these two).
        let basic = {
            use base64::Engine as _;
            let mut v = HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            ))
            .unwrap();
            v.set_sensitive(true);
            v
        };

        let oauth2 = BasicClient::new(oauth2::ClientId::new(CLIENT_ID.into()))
            .set_client_secret(oauth2::ClientSecret::new(CLIENT_SECRET.into()))
            .set_token_uri(oauth2::TokenUrl::new(token_url.into()).expect("token URL"));
        let oauth2_http = oauth2::reqwest::Client::builder()
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .build()
            .expect("reqwest 0.12 client");

        let bare_dpop = BareDpop::new(&url);
        // BARE_EXTRA_NS: CPU work added to every bare reqwest grant, to see
        // how client CPU per grant grows with client cost when the server
        // has a core of its own (README.md, "The server-idle cliff").
        let bare_extra_work = std::env::var("BARE_EXTRA_NS")
            .ok()
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| usage("BARE_EXTRA_NS: nanoseconds"))
            })
            .map_or(Duration::ZERO, Duration::from_nanos);
        Clients {
            bare_extra_work,
            config,
            dpop,
            reqwest,
            url,
            basic,
            oauth2,
            oauth2_http,
            bare_dpop,
        }
    }

    /// One grant; panics on anything unexpected.
    async fn grant(&self, kind: Kind) {
        match kind {
            Kind::Oidckit => {
                let token = client_credentials_grant(&self.config, &[("scope", "read")], None)
                    .await
                    .expect("oidckit grant");
                assert_eq!(token.access_token().secret(), ACCESS_TOKEN);
                assert!(token.token_type().is_bearer());
            }
            Kind::OidckitDpop => {
                let token =
                    client_credentials_grant(&self.config, &[("scope", "read")], Some(&self.dpop))
                        .await
                        .expect("oidckit DPoP grant");
                assert_eq!(token.access_token().secret(), ACCESS_TOKEN);
                assert!(token.token_type().is_dpop());
            }
            Kind::Reqwest | Kind::ReqwestDpop => {
                if !self.bare_extra_work.is_zero() {
                    spin_for(self.bare_extra_work);
                }
                let mut request = self.reqwest.post(self.url.clone());
                if kind == Kind::ReqwestDpop {
                    request = request.header("dpop", self.bare_dpop.proof());
                }
                let response = request
                    .header(AUTHORIZATION, self.basic.clone())
                    .header(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/x-www-form-urlencoded"),
                    )
                    .header(ACCEPT, HeaderValue::from_static("application/json"))
                    .body("grant_type=client_credentials&scope=read")
                    .send()
                    .await
                    .expect("reqwest send");
                assert_eq!(response.status(), 200);
                let body = response.bytes().await.expect("reqwest body");
                let json: Value = serde_json::from_slice(&body).expect("JSON");
                assert_eq!(json["access_token"].as_str(), Some(ACCESS_TOKEN));
                assert_eq!(json["token_type"].as_str(), Some(kind.token_type()));
            }
            Kind::Oauth2 => {
                let token = self
                    .oauth2
                    .exchange_client_credentials()
                    .add_scope(Scope::new("read".into()))
                    .request_async(&self.oauth2_http)
                    .await
                    .expect("oauth2 grant");
                assert_eq!(token.access_token().secret(), ACCESS_TOKEN);
            }
        }
    }
}

/// `n` grants with `concurrency` tasks taking the next grant from a shared
/// counter until `n` have been started (so no task idles while others still
/// have a queue: the tail of a batch is at most one grant long); the wall time.
async fn run(clients: &Arc<Clients>, kind: Kind, n: usize, concurrency: usize) -> Duration {
    let started_grants = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let clients = clients.clone();
            let started_grants = started_grants.clone();
            tokio::spawn(async move {
                while started_grants.fetch_add(1, Ordering::Relaxed) < n {
                    clients.grant(kind).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("bench task");
    }
    started.elapsed()
}

struct Opts {
    command: String,
    url: String,
    seq: usize,
    conc: usize,
    rounds: usize,
    pass: usize,
    client: Kind,
    total: usize,
    concurrency: usize,
    modes: Vec<String>,
}

fn usage(msg: &str) -> ! {
    eprintln!("rust-bench: {msg}");
    eprintln!("usage: rust-bench bench TOKEN_URL [--seq N] [--conc N] [--rounds R] [--pass P] [--modes sequential|concurrency32|both]");
    eprintln!("       rust-bench rss TOKEN_URL [--client oidckit|oidckit-dpop|reqwest|oauth2] [--total N]");
    eprintln!("       rust-bench single TOKEN_URL [--client ...] [--total N] [--concurrency C]");
    std::process::exit(2)
}

fn parse_args() -> Opts {
    let mut it = std::env::args().skip(1);
    let command = it.next().unwrap_or_else(|| usage("missing command"));
    let url = it.next().unwrap_or_else(|| usage("missing token URL"));
    let mut o = Opts {
        command,
        url,
        seq: 40_000,
        conc: 64_000,
        rounds: 3,
        pass: 1,
        client: Kind::Oidckit,
        total: 100_000,
        concurrency: CONCURRENCY,
        modes: vec!["sequential".into(), "concurrency 32".into()],
    };
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = || -> usize {
            value
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| usage(&format!("bad {flag}")))
        };
        match flag.as_str() {
            "--seq" => o.seq = num(),
            "--conc" => o.conc = num(),
            "--rounds" => o.rounds = num().max(1),
            "--pass" => o.pass = num(),
            "--total" => o.total = num(),
            "--concurrency" => o.concurrency = num().max(1),
            "--client" => o.client = Kind::parse(&value),
            "--modes" => {
                o.modes = match value.as_str() {
                    "sequential" => vec!["sequential".into()],
                    "concurrency32" | "c32" => vec!["concurrency 32".into()],
                    "both" => vec!["sequential".into(), "concurrency 32".into()],
                    _ => usage("--modes is sequential, concurrency32 or both"),
                }
            }
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    o
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

/// Each round is cut into this many slices, and the clients take turns slice
/// by slice: on a VM the latency of a loopback round trip can change for
/// seconds at a time (idle vCPUs halting, host load), and turns of a few tens
/// of milliseconds let every client see the same conditions.
const DEFAULT_SLICES: usize = 20;

/// `RUST_BENCH_SLICES` overrides the number of slices (1: no turns).
fn slices() -> usize {
    std::env::var("RUST_BENCH_SLICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SLICES)
        .max(1)
}

/// Grants per slice. A DPoP grant costs about four Bearer ones, so DPoP
/// slices do a quarter of the count and last about as long.
fn per_slice(kind: Kind, n: usize) -> usize {
    let n = match kind {
        Kind::OidckitDpop | Kind::ReqwestDpop => n / 4,
        _ => n,
    };
    (n / slices()).max(1)
}

async fn bench(o: &Opts) -> Value {
    let clients = Arc::new(Clients::new(&o.url));
    let modes: Vec<(&str, usize, usize)> = [
        ("sequential", 1usize, o.seq),
        ("concurrency 32", CONCURRENCY, o.conc),
    ]
    .into_iter()
    .filter(|&(mode, _, _)| o.modes.iter().any(|m| m == mode))
    .collect();

    // Warm-up: open the connections, fill the pools, fault in the code.
    for kind in Kind::ALL {
        for &(_, concurrency, _) in &modes {
            run(&clients, kind, 500 * concurrency.min(4), concurrency).await;
        }
    }

    let kinds = Kind::ALL.len();
    let mut times: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); kinds]; modes.len()];
    for round in 0..o.rounds {
        for (m, &(_, concurrency, n)) in modes.iter().enumerate() {
            let mut round_times = vec![0.0; kinds];
            for slice in 0..slices() {
                for i in 0..kinds {
                    let k = (i + slice + round + o.pass) % kinds;
                    let kind = Kind::ALL[k];
                    let elapsed = run(&clients, kind, per_slice(kind, n), concurrency).await;
                    round_times[k] += elapsed.as_secs_f64();
                }
            }
            for k in 0..kinds {
                times[m][k].push(round_times[k]);
            }
        }
    }

    let mut results = Vec::new();
    for (m, &(mode, concurrency, n)) in modes.iter().enumerate() {
        for (k, kind) in Kind::ALL.iter().enumerate() {
            let n = per_slice(*kind, n) * slices();
            let rates: Vec<f64> = times[m][k].iter().map(|t| n as f64 / t).collect();
            results.push(json!({
                "client": kind.client(),
                "token_type": kind.token_type(),
                "mode": mode,
                "concurrency": concurrency,
                "grants_per_round": n,
                "seconds": times[m][k],
                "grants_per_s": rates,
                "median_grants_per_s": median(&rates),
            }));
        }
    }
    json!({
        "runner": "rust",
        "pass": o.pass,
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "results": results,
    })
}

/// `n` grants with one client at the given concurrency (for profiling), with
/// the CPU time and the context switches of this process during the run.
async fn single(o: &Opts) -> Value {
    let clients = Arc::new(Clients::new(&o.url));
    run(&clients, o.client, 500, 1).await;
    let (cpu_before, switches_before) = (cpu_seconds(), context_switches());
    let elapsed = run(&clients, o.client, o.total, o.concurrency).await;
    let (cpu, switches) = (
        cpu_seconds() - cpu_before,
        context_switches() - switches_before,
    );
    json!({
        "runner": "rust-single",
        "client": o.client.client(),
        "token_type": o.client.token_type(),
        "concurrency": o.concurrency,
        "grants": o.total,
        "seconds": elapsed.as_secs_f64(),
        "grants_per_s": o.total as f64 / elapsed.as_secs_f64(),
        "cpu_seconds": cpu,
        "cpu_us_per_grant": cpu * 1e6 / o.total as f64,
        "context_switches_per_grant": switches as f64 / o.total as f64,
    })
}

/// User + system CPU time of this process (all threads), from
/// /proc/self/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name (field 2) is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("stat") + 2..]
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> f64 { fields[i - 3].parse().expect("ticks") };
    (ticks(14) + ticks(15)) / 100.0
}

/// Voluntary + involuntary context switches of every thread of this process.
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .map(|status| {
            status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum()
}

/// (VmRSS, VmHWM) in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn rss(o: &Opts) -> Value {
    let (start_rss, _) = memory();
    let clients = Arc::new(Clients::new(&o.url));
    let mut checkpoints = vec![json!({"grants": 0, "vm_rss_kib": memory().0})];
    let mut done = 0;
    let started = Instant::now();
    for target in [
        1_000, 10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, o.total,
    ] {
        if target <= done || target > o.total {
            continue;
        }
        run(&clients, o.client, target - done, CONCURRENCY).await;
        done = target;
        checkpoints.push(json!({"grants": done, "vm_rss_kib": memory().0}));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (end_rss, hwm) = memory();
    json!({
        "runner": "rust-rss",
        "client": o.client.client(),
        "token_type": o.client.token_type(),
        "concurrency": CONCURRENCY,
        "grants": done,
        "seconds": elapsed,
        "vm_rss_kib_at_start": start_rss,
        "checkpoints": checkpoints,
        "vm_rss_kib_at_end": end_rss,
        "vm_hwm_kib": hwm,
    })
}

fn main() {
    let o = parse_args();
    // Tokio's default (one worker per CPU) unless RUST_BENCH_WORKERS says
    // otherwise (for the CPU-accounting experiments in README.md).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = std::env::var("RUST_BENCH_WORKERS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&w| w > 0)
    {
        builder.worker_threads(workers);
    }
    let runtime = builder.enable_all().build().expect("tokio runtime");
    // Bounded: every measurement is a fixed count; a stuck server would hit
    // the 30 s request timeout and fail the run.
    let out = runtime.block_on(async {
        match o.command.as_str() {
            "bench" => bench(&o).await,
            "rss" => rss(&o).await,
            "single" => single(&o).await,
            other => usage(&format!("unknown command `{other}`")),
        }
    });
    println!("{out}");
}
