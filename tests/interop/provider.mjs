// Interop-test authorization server for oidckit, built on oidc-provider (panva).
//
// Usage: node tests/interop/provider.mjs
//   env INTEROP_CLIENTS           JSON array of oidc-provider client metadata (default: [])
//   env INTEROP_DPOP_NONCE        "required" | "offered" | unset
//   env INTEROP_TLS_CERT          } PEM file paths; all three set = HTTPS + mutual TLS
//   env INTEROP_TLS_KEY           } (RFC 8705): server certificate, its key, and the
//   env INTEROP_TLS_CA            } CA that issues tls_client_auth client certificates
//   env INTEROP_REFRESH_ROTATION  "always" | "never" | unset (oidc-provider default)
//   env INTEROP_JWKS_UNPUBLISHED  comma-separated signing key ids left out of /jwks
//                                 until POST /oidckit/jwks/publish-all (key rotation)
//   env INTEROP_PAR_REQUIRED      "true": every client must use pushed authorization
//                                 requests (discovery: require_pushed_authorization_requests)
//   env INTEROP_INITIAL_ACCESS_TOKEN  the initial access token dynamic client registration
//                                 (RFC 7591, /reg) requires (default: oidckit-initial-access-token)
//   env INTEROP_FAPI              "2.0": the FAPI 2.0 Security Profile for every client
//                                 (oidc-provider's features.fapi, plus PAR required,
//                                 private_key_jwt or mTLS only, sender-constrained clients
//                                 only, PS256/ES256/EdDSA only, response_type code only).
//                                 "1.0 Final": oidc-provider's FAPI 1.0 profile alone (its
//                                 hybrid ID Tokens then carry s_hash). Unset: no profile.
//   env INTEROP_RESOURCE_SERVERS  JSON object: more resource indicators (RFC 8707), each
//                                 {"<resource>": <oidc-provider resource server info>},
//                                 e.g. a test's own resource server on a loopback port
//
// Response types: code, code id_token (hybrid) and id_token (implicit sign-in),
// for clients that register them (with grant_types authorization_code and/or
// implicit); web clients of the implicit or hybrid flow may register http
// loopback redirect URIs here.
//
// Dynamic client registration (RFC 7591) at /reg with a fixed initial access token,
// and its management (RFC 7592) at /reg/:client_id, the registration access token
// rotated with each update.
//
// Pushed authorization requests (RFC 9126, /request), request objects (RFC 9101,
// `request` alone or pushed; signed ES256, PS256, RS256 or EdDSA with a key of the
// client's `jwks`) and JWT Secured Authorization Responses (JARM: response_mode
// jwt, query.jwt, form_post.jwt, fragment.jwt; signed with the client's
// authorization_signed_response_alg, default RS256) are on. A client can require
// PAR for itself with `require_pushed_authorization_requests: true`.
//
// Prints exactly one line `READY http://127.0.0.1:PORT` (or `READY
// https://127.0.0.1:PORT` in TLS mode) to stdout; all other output goes to
// stderr. Exits when stdin closes, or on SIGTERM / SIGINT.
//
// Besides oidc-provider's own grants it registers token exchange (RFC 8693),
// JWT bearer (RFC 7523) and a test-only `urn:oidckit:grant-type:issue-refresh-token`
// grant; see README.md.
//
// Sign-in (authorization code flow) has its own interaction pages, plain
// HTML forms with stable ids that a test drives over HTTP:
//   GET  /interaction/:uid          login page (<form id="login">) or consent page
//                                   (<form id="consent">), depending on the prompt
//   POST /interaction/:uid/login    login=<account id> (any non-empty value), password (ignored)
//   POST /interaction/:uid/consent  grants what the request asked for
//   POST /interaction/:uid/abort    access_denied back to the client
// RP-Initiated Logout shows <form id="logout"> (button id="submit" signs out).
// Test-only admin routes (loopback peers only):
//   POST /oidckit/jwks/publish-all  publish every signing key from now on
//   GET  /oidckit/jwks/requests     {"count": N}: GET /jwks requests served so far
//   GET  /oidckit/requests          {"<route>": {"<client_id>": N}}: requests per
//                                   oidc-provider route and client, to show that a
//                                   request never reached the server
//   GET  /oidckit/assertions        {"<client_id>": ["<jti>", ...]}: the jti of every
//                                   client assertion a token request authenticated
//                                   with, in order (which platform token was sent)
//   GET  /oidckit/ciba/pending      the CIBA requests awaiting the user's decision
//   POST /oidckit/ciba/:id/approve  the user approves (CIBA poll mode), or
//   POST /oidckit/ciba/:id/deny     denies (access_denied)
//
// The device flow (RFC 8628: /device/auth, the user at /device) and CIBA in
// poll mode (/backchannel; any login_hint is an account) are on.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

// oidc-provider prints notices with console.info (stdout). Keep stdout for the
// READY line only: route every console stdout method to stderr *before*
// oidc-provider is loaded (hence the dynamic imports below).
for (const m of ['log', 'info', 'debug']) {
  console[m] = (...args) => console.error(...args);
}

const { default: Provider, errors } = await import('oidc-provider');
const { generateKeyPair, exportJWK, createLocalJWKSet, jwtVerify } = await import('jose');
// oidc-provider's own grant building blocks (pinned version; no "exports" map).
const grantHelpers = await import('oidc-provider/lib/helpers/grants.js');
const { applyDpopBinding, applyMtlsBinding, issueIdToken } = await import(
  'oidc-provider/lib/helpers/grant_common.js'
);

function log(...args) {
  console.error('[interop-provider]', ...args);
}

// ---- process lifetime -------------------------------------------------------

let server;
function shutdown(reason) {
  log(`shutting down (${reason})`);
  try {
    server?.closeAllConnections?.();
    server?.close();
  } catch {}
  process.exit(0);
}
process.stdin.on('end', () => shutdown('stdin end'));
process.stdin.on('close', () => shutdown('stdin close'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

// ---- configuration inputs ---------------------------------------------------

let clients = [];
if (process.env.INTEROP_CLIENTS) {
  try {
    clients = JSON.parse(process.env.INTEROP_CLIENTS);
  } catch (err) {
    log('INTEROP_CLIENTS is not valid JSON:', err.message);
    process.exit(2);
  }
  if (!Array.isArray(clients)) {
    log('INTEROP_CLIENTS must be a JSON array');
    process.exit(2);
  }
}

// Federated workload credentials: a client registered with
// `oidckit_reusable_assertions: true` may send the same client assertion
// again while it is valid (and without a jti). A platform such as Kubernetes
// hands a workload one signed token for its whole lifetime, and servers that
// accept federated credentials take it for every request until its exp;
// oidc-provider by default takes RFC 7523 §3's option to accept each jti
// once. The member is oidckit's, not oidc-provider's: removed here.
const reusableAssertionClients = new Set();
for (const client of clients) {
  if (client && client.oidckit_reusable_assertions === true) {
    reusableAssertionClients.add(client.client_id);
  }
  if (client) delete client.oidckit_reusable_assertions;
}

// HTTPS + mutual TLS: all three or none.
const TLS_VARS = ['INTEROP_TLS_CERT', 'INTEROP_TLS_KEY', 'INTEROP_TLS_CA'];
const tlsSet = TLS_VARS.filter((name) => process.env[name]);
if (tlsSet.length !== 0 && tlsSet.length !== TLS_VARS.length) {
  log(`set all of ${TLS_VARS.join(', ')} or none (got only ${tlsSet.join(', ')})`);
  process.exit(2);
}
let tls;
if (tlsSet.length) {
  try {
    tls = {
      cert: fs.readFileSync(process.env.INTEROP_TLS_CERT),
      key: fs.readFileSync(process.env.INTEROP_TLS_KEY),
      ca: fs.readFileSync(process.env.INTEROP_TLS_CA),
    };
  } catch (err) {
    log('cannot read TLS files:', err.message);
    process.exit(2);
  }
}

// RFC 7591 §3: registration needs this token as `Authorization: Bearer`.
const initialAccessToken = process.env.INTEROP_INITIAL_ACCESS_TOKEN || 'oidckit-initial-access-token';

let rotateRefreshToken;
switch (process.env.INTEROP_REFRESH_ROTATION) {
  case undefined:
  case '':
    break;
  case 'always':
    rotateRefreshToken = true;
    break;
  case 'never':
    rotateRefreshToken = false;
    break;
  default:
    log('INTEROP_REFRESH_ROTATION must be "always", "never" or unset');
    process.exit(2);
}

let parRequired;
switch (process.env.INTEROP_PAR_REQUIRED) {
  case undefined:
  case '':
  case 'false':
    parRequired = false;
    break;
  case 'true':
    parRequired = true;
    break;
  default:
    log('INTEROP_PAR_REQUIRED must be "true", "false" or unset');
    process.exit(2);
}

// INTEROP_FAPI: "2.0" turns on oidc-provider's FAPI 2.0 profile for every
// client (PKCE required, client assertion `aud` must be the issuer, request
// objects need exp/nbf/aud, redirect_uri never omitted, no access tokens in
// the query) and the rules it leaves to the deployment (see fapi2 below).
// "1.0 Final" is oidc-provider's FAPI 1.0 profile alone.
const FAPI_PROFILES = ['2.0', '1.0 Final'];
let fapiProfile;
if (process.env.INTEROP_FAPI) {
  if (!FAPI_PROFILES.includes(process.env.INTEROP_FAPI)) {
    log(`INTEROP_FAPI must be ${FAPI_PROFILES.map((p) => `"${p}"`).join(' or ')}, or unset`);
    process.exit(2);
  }
  fapiProfile = process.env.INTEROP_FAPI;
}
const fapi2 = fapiProfile === '2.0';

// FAPI 2.0 Security Profile §5.3.1: only sender-constrained access tokens.
// oidc-provider enforces binding per client, so every client must register
// it (DPoP, or a certificate in TLS mode).
if (fapi2) {
  for (const client of clients) {
    if (client?.dpop_bound_access_tokens !== true
      && client?.tls_client_certificate_bound_access_tokens !== true) {
      log(`INTEROP_FAPI=2.0: client ${client?.client_id} must register dpop_bound_access_tokens: true or tls_client_certificate_bound_access_tokens: true`);
      process.exit(2);
    }
  }
}

const dpop = { enabled: true };
switch (process.env.INTEROP_DPOP_NONCE) {
  case 'required':
    dpop.nonceSecret = crypto.randomBytes(32);
    dpop.requireNonce = () => true;
    break;
  case 'offered':
    dpop.nonceSecret = crypto.randomBytes(32);
    dpop.requireNonce = () => false;
    break;
  default:
    break;
}

// Ed25519 is the fully-specified JWS alg name; only list it if this
// oidc-provider version knows it.
const { clientAuthSigningAlgValues: knownAlgs } = await import(
  'oidc-provider/lib/consts/jwa.js'
).catch(() => ({ clientAuthSigningAlgValues: [] }));
const ed25519 = knownAlgs.includes('Ed25519') ? ['Ed25519'] : [];

// ---- signing keys -----------------------------------------------------------

async function signingKey(alg, kid) {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid, use: 'sig', alg };
}

// One key per ID Token / userinfo signing alg; a client picks one with
// id_token_signed_response_alg (default RS256) or userinfo_signed_response_alg.
// Each key is restricted to its alg, so the kid names the alg.
const jwks = {
  keys: [
    await signingKey('RS256', 'interop-rs256'),
    await signingKey('ES256', 'interop-es256'),
    await signingKey('PS256', 'interop-ps256'),
    await signingKey('EdDSA', 'interop-eddsa'),
  ],
};

// Key rotation: keys listed here are in oidc-provider's keystore (it signs
// with them) but left out of the served JWK Set until
// POST /oidckit/jwks/publish-all, so a client first sees a `kid` it does not
// know, then finds it only by fetching the set again.
const unpublishedKids = new Set(
  (process.env.INTEROP_JWKS_UNPUBLISHED ?? '').split(',').map((kid) => kid.trim()).filter(Boolean),
);
for (const kid of unpublishedKids) {
  if (!jwks.keys.some((key) => key.kid === kid)) {
    log(`INTEROP_JWKS_UNPUBLISHED: unknown key id ${kid} (known: ${jwks.keys.map((k) => k.kid).join(', ')})`);
    process.exit(2);
  }
}
let jwksRequests = 0;

// ---- resource servers -------------------------------------------------------

const RESOURCE_SERVERS = {
  'urn:oidckit:api': {
    scope: 'read write',
    audience: 'urn:oidckit:api',
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'ES256' } },
  },
  'urn:oidckit:opaque': {
    scope: 'read write',
    accessTokenFormat: 'opaque',
  },
};

// A test's own resource servers (INTEROP_RESOURCE_SERVERS), e.g. one that
// publishes RFC 9728 metadata naming this issuer.
if (process.env.INTEROP_RESOURCE_SERVERS) {
  let extra;
  try {
    extra = JSON.parse(process.env.INTEROP_RESOURCE_SERVERS);
  } catch (err) {
    log('INTEROP_RESOURCE_SERVERS is not valid JSON:', err.message);
    process.exit(2);
  }
  if (!extra || typeof extra !== 'object' || Array.isArray(extra)) {
    log('INTEROP_RESOURCE_SERVERS must be a JSON object');
    process.exit(2);
  }
  Object.assign(RESOURCE_SERVERS, extra);
}

// ---- listen first, then build the provider with the real issuer -------------

let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
if (tls) {
  // Client certificates are requested but not required at the TLS layer:
  // oidc-provider decides per client (tls_client_auth needs a CA-validated
  // certificate, self_signed_tls_client_auth any certificate in the jwks).
  server = https.createServer(
    { ...tls, requestCert: true, rejectUnauthorized: false },
    (req, res) => handler(req, res),
  );
} else {
  server = http.createServer((req, res) => handler(req, res));
}
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

// ---- mutual TLS (RFC 8705) --------------------------------------------------

// oidc-provider 9 accepts a crypto.X509Certificate (or a PEM string).
function peerCertificate(ctx) {
  const socket = ctx.req.socket;
  return socket.getPeerX509Certificate?.() ?? undefined;
}

// Attribute/value pairs of a DN, order-insensitive. Accepts RFC 4514 strings
// ("CN=client,O=oidckit,C=US", as registered in tls_client_auth_subject_dn)
// and Node's X509Certificate#subject format (one "TYPE=value" per line).
function dnPairs(dn, separator) {
  const parts = [];
  let current = '';
  for (let i = 0; i < dn.length; i += 1) {
    const c = dn[i];
    if (c === '\\' && i + 1 < dn.length) {
      current += dn[i + 1];
      i += 1;
    } else if (separator.test(c)) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=');
      return eq === -1 ? part : `${part.slice(0, eq).trim().toUpperCase()}=${part.slice(eq + 1).trim()}`;
    })
    .sort();
}

function subjectAltNames(cert, type) {
  // "DNS:a.example, IP Address:127.0.0.1, URI:https://x, email:a@b"
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .map((entry) => {
      const colon = entry.indexOf(':');
      return [entry.slice(0, colon), entry.slice(colon + 1)];
    })
    .filter(([t]) => t === type)
    .map(([, v]) => v);
}

function certificateSubjectMatches(ctx, property, expected) {
  const cert = peerCertificate(ctx);
  if (!cert) return false;
  switch (property) {
    case 'tls_client_auth_subject_dn': {
      const actual = dnPairs(cert.subject, /\n/);
      const wanted = dnPairs(expected, /[,;\n]/);
      return actual.length === wanted.length && actual.every((v, i) => v === wanted[i]);
    }
    case 'tls_client_auth_san_dns':
      return subjectAltNames(cert, 'DNS').includes(expected);
    case 'tls_client_auth_san_ip':
      return subjectAltNames(cert, 'IP Address').includes(expected);
    case 'tls_client_auth_san_uri':
      return subjectAltNames(cert, 'URI').includes(expected);
    case 'tls_client_auth_san_email':
      return subjectAltNames(cert, 'email').includes(expected);
    default:
      return false;
  }
}

const mTLS = tls
  ? {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: peerCertificate,
    // Verified by the TLS layer against INTEROP_TLS_CA (rejectUnauthorized is
    // off, so a failed verification only shows up here).
    certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
    certificateSubjectMatches,
  }
  : { enabled: false };

// oidc-provider has no built-in mtls_endpoint_aliases; its `discovery` option
// adds static members to the discovery document. The aliases live under
// /mtls/ (mapped onto the same handlers below), and the plain token,
// introspection and revocation endpoints refuse requests that present a
// client certificate, so a test passes only if the client uses the aliases.
const MTLS_PREFIX = '/mtls';
const discovery = tls
  ? {
    mtls_endpoint_aliases: {
      token_endpoint: `${issuer}${MTLS_PREFIX}/token`,
      introspection_endpoint: `${issuer}${MTLS_PREFIX}/token/introspection`,
      revocation_endpoint: `${issuer}${MTLS_PREFIX}/token/revocation`,
      userinfo_endpoint: `${issuer}${MTLS_PREFIX}/me`,
      pushed_authorization_request_endpoint: `${issuer}${MTLS_PREFIX}/request`,
    },
  }
  : undefined;

// ---- HTML pages (sign-in, consent, logout) ----------------------------------

// Stable markup on purpose: tests find forms, inputs and buttons by id/name.
function escapeHtml(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body>
<h1 id="title">${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

function loginPage(uid, clientId, error) {
  const action = `/interaction/${encodeURIComponent(uid)}`;
  return page('Sign-in', `<p id="client">${escapeHtml(clientId)}</p>
${error ? `<p id="error">${escapeHtml(error)}</p>\n` : ''}<form id="login" method="post" action="${action}/login">
<input type="text" name="login" id="login-name" autocomplete="username">
<input type="password" name="password" id="login-password" autocomplete="current-password">
<button type="submit" id="submit">Sign in</button>
</form>
<form id="abort" method="post" action="${action}/abort">
<button type="submit" id="cancel">Cancel</button>
</form>`);
}

function consentPage(uid, clientId, accountId, details) {
  const action = `/interaction/${encodeURIComponent(uid)}`;
  const scopes = details.missingOIDCScope ?? [];
  const claims = details.missingOIDCClaims ?? [];
  const resources = Object.entries(details.missingResourceScopes ?? {});
  const items = [
    ...scopes.map((scope) => `<li class="scope">${escapeHtml(scope)}</li>`),
    ...claims.map((claim) => `<li class="claim">${escapeHtml(claim)}</li>`),
    ...resources.map(([resource, list]) => `<li class="resource">${escapeHtml(resource)}: ${escapeHtml(list.join(' '))}</li>`),
  ];
  return page('Authorize', `<p id="client">${escapeHtml(clientId)}</p>
<p id="account">${escapeHtml(accountId)}</p>
<ul id="requested">
${items.join('\n')}
</ul>
<form id="consent" method="post" action="${action}/consent">
<button type="submit" id="submit">Allow</button>
</form>
<form id="abort" method="post" action="${action}/abort">
<button type="submit" id="cancel">Deny</button>
</form>`);
}

// RP-Initiated Logout confirmation. oidc-provider hands a ready form
// (id "op.logoutForm"); ours posts the same fields to the same action, with
// the buttons inside the form so that submitting it needs no script.
async function logoutSource(ctx) {
  const action = ctx.oidc.urlFor('end_session_confirm');
  const xsrf = ctx.oidc.session.state.secret;
  ctx.type = 'html';
  ctx.body = page('Sign out', `<p id="client">${escapeHtml(ctx.oidc.client?.clientId ?? '')}</p>
<form id="logout" method="post" action="${escapeHtml(action)}">
<input type="hidden" name="xsrf" value="${escapeHtml(xsrf)}">
<button type="submit" id="submit" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" id="stay">No, stay signed in</button>
</form>`);
}

// Device flow (RFC 8628) pages at /device: oidc-provider hands ready forms
// (id "op.deviceInputForm", "op.deviceConfirmForm"); the buttons here name
// them (form attribute), so a test submits them without script.
async function userCodeInputSource(ctx, form, out, err) {
  ctx.type = 'html';
  const error = err
    ? `<p id="error">${escapeHtml(err.name === 'AbortedError' ? 'aborted' : (err.userCode ? 'unknown code' : 'error'))}</p>\n`
    : '';
  ctx.body = page('Device sign-in', `${error}${form}
<button type="submit" id="submit" form="op.deviceInputForm">Continue</button>`);
}

async function userCodeConfirmSource(ctx, form, client, deviceInfo, userCode) {
  ctx.type = 'html';
  ctx.body = page('Confirm device', `<p id="client">${escapeHtml(client.clientId)}</p>
<p id="user-code">${escapeHtml(userCode)}</p>
${form}
<button type="submit" id="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" id="abort" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`);
}

async function deviceSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Device signed in', `<p id="success">${escapeHtml(ctx.oidc.client?.clientId ?? '')}</p>`);
}

// CIBA (poll mode): the requests oidc-provider has asked the "authentication
// device" to show, by auth_req_id, until a test decides them through
// POST /oidckit/ciba/:authReqId/approve or /deny.
const cibaPending = new Map();

async function postLogoutSuccessSource(ctx) {
  ctx.type = 'html';
  ctx.body = page('Signed out', `<p id="client">${escapeHtml(ctx.oidc.client?.clientId ?? '')}</p>`);
}

// Claims of an account, by scope (see `claims` below). Any login is an
// account; its claims derive from its id.
function accountClaims(sub) {
  return {
    sub,
    email: `${sub}@interop.example`,
    email_verified: true,
    name: `Interop User ${sub}`,
  };
}

// FAPI 2.0 Security Profile §5.4.1: PS256, ES256 and EdDSA (Ed25519) only,
// for every JWT either side signs. Outside FAPI 2.0 the lists stay as given.
const FAPI2_ALGS = new Set(['PS256', 'ES256', 'EdDSA', 'Ed25519']);
function jwsAlgs(list) {
  return fapi2 ? list.filter((alg) => FAPI2_ALGS.has(alg)) : list;
}

// The authorization code flow, the hybrid flow (`code id_token`) and the
// implicit flow's sign-in (`id_token`), for clients that register them;
// FAPI 2.0 (§5.3.1) allows `code` only. No response type returns an access
// token from the authorization endpoint.
const responseTypes = fapi2 ? ['code'] : ['code', 'code id_token', 'id_token', 'none'];

const provider = new Provider(issuer, {
  clients,
  jwks,
  responseTypes,
  // oidc-provider's defaults (client_secret_basic, RS256 ID Tokens) are not
  // allowed under FAPI 2.0; clients that leave these out get FAPI ones.
  ...(fapi2 ? {
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'PS256',
      authorization_signed_response_alg: 'PS256',
      // jwtIntrospection gives every client this member (RS256 by default).
      introspection_signed_response_alg: 'PS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
    },
  } : {}),
  scopes: ['openid', 'offline_access', 'email', 'profile', 'read', 'write'],
  claims: {
    acr: null,
    sid: null,
    auth_time: null,
    iss: null,
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Claims of the granted scopes go into the ID Token too (not only into
  // userinfo), so a sign-in test can assert them on the ID Token.
  conformIdTokenClaims: false,
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  // FAPI 2.0 §5.3.1: private_key_jwt or mutual TLS only.
  clientAuthMethods: [
    ...(fapi2 ? [] : ['client_secret_basic', 'client_secret_post', 'client_secret_jwt']),
    'private_key_jwt',
    ...(fapi2 ? [] : ['none']),
    ...(tls ? ['tls_client_auth', 'self_signed_tls_client_auth'] : []),
  ],
  ...(discovery ? { discovery } : {}),
  ...(rotateRefreshToken === undefined ? {} : { rotateRefreshToken }),
  // Any account id is a valid account (refresh tokens from the test-only
  // issue-refresh-token grant carry one).
  // Keep claims the custom grants put in `extra` (sub, act); oidc-provider
  // otherwise replaces token.extra with this function's result when saving.
  // Tokens from the built-in grants have no `extra`, so nothing changes there.
  extraTokenClaims: async (ctx, token) => token.extra,
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => accountClaims(sub),
  }),
  // Under FAPI 2.0 each list keeps only PS256, ES256 and EdDSA (jwsAlgs).
  enabledJWA: {
    clientAuthSigningAlgValues: jwsAlgs([
      'HS256', 'HS384', 'HS512',
      'RS256', 'RS384', 'RS512',
      'PS256', 'PS384', 'PS512',
      'ES256', 'ES384', 'ES512',
      'EdDSA', ...ed25519,
    ]),
    dPoPSigningAlgValues: jwsAlgs([
      'ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA', ...ed25519,
    ]),
    // One signing key each (see jwks above).
    idTokenSigningAlgValues: jwsAlgs(['RS256', 'PS256', 'ES256', 'EdDSA']),
    userinfoSigningAlgValues: jwsAlgs(['RS256', 'PS256', 'ES256', 'EdDSA']),
    // JWT introspection responses (RFC 9701, the client's
    // introspection_signed_response_alg), same keys.
    introspectionSigningAlgValues: jwsAlgs(['RS256', 'PS256', 'ES256', 'EdDSA']),
    // JARM responses (client's authorization_signed_response_alg), same keys.
    authorizationSigningAlgValues: jwsAlgs(['RS256', 'PS256', 'ES256', 'EdDSA']),
    // Request objects, verified with the client's registered jwks (no HS256:
    // a request object here is always signed with a client key).
    requestObjectSigningAlgValues: jwsAlgs(['ES256', 'PS256', 'RS256', 'EdDSA']),
  },
  features: {
    // Our own interaction routes below instead.
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    // RFC 9701: a client that registers introspection_signed_response_alg and
    // sends Accept: application/token-introspection+jwt gets a signed answer.
    jwtIntrospection: { enabled: true },
    revocation: { enabled: true },
    dPoP: dpop,
    mTLS,
    // RFC 9126 at /request; INTEROP_PAR_REQUIRED (or INTEROP_FAPI=2.0, §5.3.1)
    // makes it mandatory for every client, `require_pushed_authorization_requests`
    // for one client.
    pushedAuthorizationRequests: {
      enabled: true,
      requirePushedAuthorizationRequests: parRequired || fapi2,
      allowUnregisteredRedirectUris: false,
    },
    // RFC 9101: `request` at /auth or pushed to /request. Not required
    // unless a client registers `require_signed_request_object: true`.
    requestObjects: { enabled: true, requireSignedRequestObject: false },
    // JARM: response_mode jwt, query.jwt, fragment.jwt, form_post.jwt.
    jwtResponseModes: { enabled: true },
    // RFC 8628 at /device/auth; the user enters the code at /device.
    deviceFlow: {
      enabled: true,
      userCodeInputSource,
      userCodeConfirmSource,
      successSource: deviceSuccessSource,
    },
    // CIBA Core 1.0, poll mode only, at /backchannel. Any login_hint is an
    // account; login_hint_token and user_code are not supported. The
    // authentication device is the test: see the admin routes.
    ciba: {
      enabled: true,
      deliveryModes: ['poll'],
      processLoginHint: async (ctx, loginHint) => loginHint,
      processLoginHintToken: async () => {
        throw new errors.InvalidRequest('login_hint_token is not supported by this server');
      },
      verifyUserCode: async (ctx, account, userCode) => {
        if (userCode) throw new errors.InvalidRequest('user_code is not supported by this server');
      },
      validateBindingMessage: async (ctx, bindingMessage) => {
        if (bindingMessage !== undefined && !/^[a-zA-Z0-9-._+/!?# ]{1,20}$/.test(bindingMessage)) {
          throw new errors.InvalidBindingMessage('binding_message must be 1 to 20 letters, digits, spaces or -._+/!?#');
        }
      },
      validateRequestContext: async () => {},
      triggerAuthenticationDevice: async (ctx, request, account, client) => {
        const authReqId = ctx.body.auth_req_id;
        cibaPending.set(authReqId, {
          auth_req_id: authReqId,
          client_id: client.clientId,
          account: account.accountId,
          scope: request.scope,
          binding_message: request.params.binding_message ?? null,
        });
        log('ciba request', client.clientId, account.accountId);
      },
    },
    // RFC 7591 at /reg, only with the initial access token; RFC 7592 at
    // /reg/:client_id, a new registration access token with every update.
    registration: { enabled: true, initialAccessToken },
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
    // INTEROP_FAPI: oidc-provider's own FAPI profile checks, for every client.
    fapi: fapiProfile ? { enabled: true, profile: fapiProfile } : { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        const info = RESOURCE_SERVERS[resourceIndicator];
        if (!info) {
          throw new errors.InvalidTarget(`unknown resource ${resourceIndicator}`);
        }
        return structuredClone(info);
      },
    },
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    BackchannelAuthenticationRequest: 600,
    DeviceCode: 600,
    ClientCredentials: 600,
    Grant: 3600,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 86400,
    Session: 3600,
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
});

// Plain http on loopback: no proxy / TLS termination involved.
provider.proxy = false;

// See reusableAssertionClients above: `iss` of a client assertion is the
// client_id; a reusable one is not recorded as seen.
{
  const { ReplayDetection } = provider;
  const { unique } = ReplayDetection;
  ReplayDetection.unique = async function uniqueUnlessReusable(iss, jti, exp) {
    if (reusableAssertionClients.has(iss)) return true;
    return unique.call(this, iss, jti, exp);
  };
}

// oidc-provider wants https (and no localhost) redirect URIs for web clients
// of the implicit and hybrid flows. The tests' redirect URIs are http on a
// loopback address and never requested, so let those through (oidc-provider's
// own recipe: skip these two checks by their codes), loopback only.
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const { invalidate } = provider.Client.Schema.prototype;
provider.Client.Schema.prototype.invalidate = function invalidateUnlessLoopback(message, code) {
  if (code === 'implicit-force-https' || code === 'implicit-forbid-localhost') {
    const uris = [...(this.redirect_uris ?? []), ...(this.post_logout_redirect_uris ?? [])];
    if (uris.every((uri) => LOOPBACK_HOSTS.has(URL.parse(uri)?.hostname))) return;
  }
  invalidate.call(this, message, code);
};

// Requests per route and client (GET /oidckit/requests): those that got as
// far as naming a client oidc-provider knows, whatever their outcome. A test
// shows with it that a client refused to send something.
const requestCounts = {};
const assertionJtis = {};
provider.use(async (ctx, next) => {
  await next();
  const route = ctx.oidc?.route;
  const clientId = ctx.oidc?.client?.clientId;
  if (!route || !clientId) return;
  requestCounts[route] ??= {};
  requestCounts[route][clientId] = (requestCounts[route][clientId] ?? 0) + 1;
  const assertion = ctx.oidc?.params?.client_assertion;
  if (route === 'token' && ctx.status === 200 && typeof assertion === 'string') {
    try {
      const { jti } = JSON.parse(Buffer.from(assertion.split('.')[1], 'base64url'));
      assertionJtis[clientId] ??= [];
      assertionJtis[clientId].push(jti);
    } catch { /* not a JWT: it did not authenticate anything */ }
  }
});

// The served JWK Set leaves out INTEROP_JWKS_UNPUBLISHED until
// POST /oidckit/jwks/publish-all, and every GET /jwks is counted (for
// GET /oidckit/jwks/requests).
provider.use(async (ctx, next) => {
  await next();
  if (ctx.method !== 'GET' || ctx.path !== '/jwks' || ctx.status !== 200) return;
  jwksRequests += 1;
  if (unpublishedKids.size) {
    ctx.body = { keys: ctx.body.keys.filter((key) => !unpublishedKids.has(key.kid)) };
  }
});

// oidc-provider's error_description is generic; error_detail holds the reason.
function describe(ctx, err) {
  const detail = err?.error_detail ? ` detail=${err.error_detail}` : '';
  const desc = err?.error_description ? ` description=${err.error_description}` : '';
  return `${ctx?.method ?? ''} ${ctx?.path ?? ''} ${err?.error ?? err?.name ?? 'error'}${desc}${detail}`;
}
provider.on('server_error', (ctx, err) => {
  log('server_error', describe(ctx, err));
  if (err?.stack) log(err.stack);
});
for (const event of [
  'grant.error',
  'introspection.error',
  'revocation.error',
  'discovery.error',
  'jwks.error',
  'userinfo.error',
  'authorization.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'registration_read.error',
  'registration_update.error',
  'registration_delete.error',
  'end_session.error',
  'device_authorization.error',
  'backchannel_authentication.error',
  'code_verification.error',
]) {
  provider.on(event, (ctx, err) => log(event, describe(ctx, err)));
}
provider.on('grant.success', (ctx) => log('grant.success', ctx.oidc?.client?.clientId ?? ''));

// ---- custom grants ----------------------------------------------------------

const AT_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const GT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const GT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const GT_ISSUE_REFRESH = 'urn:oidckit:grant-type:issue-refresh-token';

// invalid_grant with the reason in error_description (oidc-provider's own
// InvalidGrant only says "grant request is invalid").
function invalidGrant(description) {
  return new errors.CustomOIDCProviderError('invalid_grant', description);
}

function requireParams(ctx, ...names) {
  const missing = names.filter((name) => !ctx.oidc.params[name]);
  if (missing.length) {
    throw new errors.InvalidRequest(`missing required parameter(s) ${missing.join(', ')}`);
  }
}

// Like oidc-provider's client_credentials handler: an opaque (or, for
// resource=urn:oidckit:api, JWT) access token for the authenticated client,
// honouring `resource`, `scope`, DPoP and certificate binding. `extra` is
// stored with the token and shown by introspection (e.g. sub, act).
async function issueClientToken(ctx, { scopes, extra, audience }) {
  const { client } = ctx.oidc;
  const dPoP = await grantHelpers.validateDpop(provider, ctx);
  const resourceServers = await grantHelpers.resolveRequestedResources(provider, ctx);
  const allowed = [...grantHelpers.validateClientScope(provider, ctx, scopes)];

  const token = new provider.ClientCredentials({
    client,
    scope: allowed.join(' ') || undefined,
    extra,
  });

  const { 0: resourceServer, length } = resourceServers;
  if (resourceServer) {
    if (length !== 1) {
      throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
    }
    token.resourceServer = resourceServer;
    token.scope = allowed.filter(Set.prototype.has.bind(resourceServer.scopes)).join(' ') || undefined;
  } else if (audience !== undefined) {
    token.setAudience(audience);
  }

  const cert = grantHelpers.checkMtlsCert(provider, ctx);
  if (cert) token.setThumbprint('x5t', cert);
  await applyDpopBinding(provider, ctx, dPoP, token);
  grantHelpers.checkDpopRequired(provider, ctx, dPoP);

  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  return { value, token };
}

// An active access token issued by this provider: opaque only (JWT access
// tokens are not stored and cannot be looked up). client_credentials tokens
// are a separate model (ClientCredentials) from user access tokens.
async function findIssuedAccessToken(value) {
  const token = (await provider.AccessToken.find(value))
    ?? (await provider.ClientCredentials.find(value));
  if (!token?.isValid) return undefined;
  if (token.grantId) {
    const grant = await provider.Grant.find(token.grantId);
    if (!grant || grant.clientId !== token.clientId || grant.accountId !== token.accountId) {
      return undefined;
    }
  }
  return token;
}

// RFC 8693 token exchange: access token in, new opaque access token out.
provider.registerGrantType(GT_TOKEN_EXCHANGE, async (ctx) => {
  const { params } = ctx.oidc;
  requireParams(ctx, 'subject_token', 'subject_token_type');
  if (params.subject_token_type !== AT_TYPE) {
    throw new errors.InvalidRequest(`unsupported subject_token_type (only ${AT_TYPE})`);
  }
  if (params.requested_token_type !== undefined && params.requested_token_type !== AT_TYPE) {
    throw new errors.InvalidRequest(`unsupported requested_token_type (only ${AT_TYPE})`);
  }
  if (!!params.actor_token !== !!params.actor_token_type) {
    throw new errors.InvalidRequest('actor_token and actor_token_type must be used together');
  }
  if (params.actor_token_type !== undefined && params.actor_token_type !== AT_TYPE) {
    throw new errors.InvalidRequest(`unsupported actor_token_type (only ${AT_TYPE})`);
  }

  const subject = await findIssuedAccessToken(params.subject_token);
  if (!subject) {
    throw invalidGrant('subject_token is not an active opaque access token issued by this server');
  }
  let actor;
  if (params.actor_token) {
    actor = await findIssuedAccessToken(params.actor_token);
    if (!actor) {
      throw invalidGrant('actor_token is not an active opaque access token issued by this server');
    }
  }

  // Scope: at most the subject token's scope; defaults to all of it.
  const subjectScopes = subject.scopes;
  let scopes = subjectScopes;
  if (params.scope) {
    scopes = ctx.oidc.requestParamScopes;
    const missing = [...scopes].filter((scope) => !subjectScopes.has(scope));
    if (missing.length) {
      throw new errors.InvalidScope('requested scope exceeds the subject_token scope', missing.join(' '));
    }
  }

  const extra = {
    sub: subject.accountId ?? subject.clientId,
    ...(actor ? { act: { sub: actor.accountId ?? actor.clientId } } : {}),
  };
  const { value, token } = await issueClientToken(ctx, {
    scopes,
    extra,
    audience: params.audience,
  });

  ctx.body = grantHelpers.buildTokenResponse(provider, {
    accessToken: value,
    issuedTokenType: AT_TYPE,
    expiresIn: token.expiration,
    scope: token.scope || undefined,
    tokenType: token.tokenType,
  });
}, [
  'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
  'requested_token_type', 'audience', 'resource', 'scope',
], ['resource', 'audience']);

// RFC 7523 §2.1 JWT bearer grant: assertion signed by a key in the client's
// registered jwks, iss = client_id, aud = issuer (or the token endpoint URL).
provider.registerGrantType(GT_JWT_BEARER, async (ctx) => {
  const { client, params } = ctx.oidc;
  requireParams(ctx, 'assertion');
  if (!client.jwks?.keys?.length) {
    throw invalidGrant('client has no registered jwks to verify the assertion with');
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(params.assertion, createLocalJWKSet(client.jwks), {
      issuer: client.clientId,
      audience: [provider.issuer, `${provider.issuer}/token`],
      requiredClaims: ['sub', 'exp'],
      clockTolerance: 5,
    }));
  } catch (err) {
    throw invalidGrant(`assertion invalid: ${err.code ?? err.name}: ${err.message}`);
  }
  if (typeof payload.sub !== 'string' || !payload.sub) {
    throw invalidGrant('assertion invalid: sub must be a non-empty string');
  }

  const { value, token } = await issueClientToken(ctx, {
    scopes: ctx.oidc.requestParamScopes,
    extra: { sub: payload.sub },
  });

  ctx.body = grantHelpers.buildTokenResponse(provider, {
    accessToken: value,
    expiresIn: token.expiration,
    scope: token.scope || undefined,
    tokenType: token.tokenType,
  });
}, ['assertion', 'resource', 'scope'], ['resource']);

// TEST-ONLY grant (not a standard): hands the authenticated client a real
// refresh token (plus access token) for a synthetic account, so tests can
// exercise oidc-provider's own refresh_token grant without driving the
// login pages. The client needs both this grant type and `refresh_token` in
// grant_types, and scope must include offline_access (oidc-provider's
// issueRefreshToken rule).
provider.registerGrantType(GT_ISSUE_REFRESH, async (ctx) => {
  const { client, params } = ctx.oidc;
  const accountId = params.account_id || 'interop-user';

  if (!client.grantTypeAllowed('refresh_token')) {
    throw new errors.UnauthorizedClient('client must also be allowed the refresh_token grant type');
  }

  const dPoP = await grantHelpers.validateDpop(provider, ctx);
  const resourceServers = await grantHelpers.resolveRequestedResources(provider, ctx);
  const scopes = grantHelpers.validateClientScope(provider, ctx);
  if (!scopes.has('offline_access')) {
    throw new errors.InvalidScope('scope must include offline_access to issue a refresh token', 'offline_access');
  }
  const { 0: resourceServer, length } = resourceServers;
  if (length > 1) {
    throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
  }
  const resource = resourceServer?.identifier();

  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(scopes);
  if (resourceServer) {
    grant.addResourceScope(resource, [...scopes].filter(Set.prototype.has.bind(resourceServer.scopes)));
  }
  const grantId = await grant.save();

  const account = await grantHelpers.findAccount(provider, ctx, accountId);
  ctx.oidc.entity('Grant', grant);
  ctx.oidc.entity('Account', account);

  const now = Math.floor(Date.now() / 1000);
  const rt = new provider.RefreshToken({
    accountId,
    authTime: now,
    client,
    grantId,
    gty: GT_ISSUE_REFRESH,
    resource,
    rotations: 0,
    scope: [...scopes].join(' '),
  });
  if (!await grantHelpers.shouldIssueRefreshToken(provider, ctx, rt)) {
    throw new errors.InvalidRequest('issueRefreshToken policy declined to issue a refresh token');
  }

  const at = new provider.AccessToken({
    accountId,
    client,
    grantId,
    gty: GT_ISSUE_REFRESH,
  });
  if (resourceServer) {
    at.resourceServer = resourceServer;
    at.scope = grant.getResourceScopeFiltered(
      resource,
      [...scopes].filter(Set.prototype.has.bind(resourceServer.scopes)),
    );
  } else {
    at.scope = grant.getOIDCScopeFiltered(scopes);
  }
  applyMtlsBinding(at, grantHelpers.checkMtlsCert(provider, ctx));
  await applyDpopBinding(provider, ctx, dPoP, at);
  grantHelpers.checkDpopRequired(provider, ctx, dPoP);
  await grantHelpers.applyRefreshTokenBindings(provider, ctx, at, rt);

  ctx.oidc.entity('AccessToken', at);
  const accessToken = await at.save();
  ctx.oidc.entity('RefreshToken', rt);
  const refreshToken = await rt.save();
  const idToken = await issueIdToken(provider, ctx, rt, at, grant);

  ctx.body = grantHelpers.buildTokenResponse(provider, {
    accessToken,
    expiresIn: at.expiration,
    idToken,
    refreshToken,
    scope: at.scope || undefined,
    tokenType: at.tokenType,
  });
}, ['scope', 'resource', 'account_id'], ['resource']);

// Static clients are validated lazily (on first use) by oidc-provider; load
// them now so bad metadata fails fast at startup instead of per request.
for (const { client_id: clientId } of clients) {
  try {
    if (!(await provider.Client.find(String(clientId)))) throw new Error('not found');
  } catch (err) {
    log(`invalid client metadata for ${clientId}: ${err.error_description ?? err.message}`);
    process.exit(2);
  }
}

// ---- interaction routes and test-only admin routes --------------------------

function send(res, status, type, body) {
  res.statusCode = status;
  res.setHeader('cache-control', 'no-store');
  if (type) res.setHeader('content-type', type);
  res.end(body);
}

function sendText(res, status, text) {
  send(res, status, 'text/plain; charset=utf-8', `${text}\n`);
}

function sendHtml(res, status, html) {
  send(res, status, 'text/html; charset=utf-8', html);
}

async function readForm(req) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    const err = new Error('expected an application/x-www-form-urlencoded body');
    err.statusCode = 415;
    throw err;
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) {
      const err = new Error('form body too large');
      err.statusCode = 413;
      throw err;
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// GET /interaction/:uid shows the page for the current prompt; the POSTs
// finish the interaction with oidc-provider, which answers 303 to its resume
// URL (/auth/:uid). The interaction is found through the browser's
// `_interaction` cookie and must be the one named in the path.
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (details.uid !== uid) {
    sendText(res, 400, 'this interaction is not the one of the browser\'s interaction cookie');
    return;
  }
  const clientId = params.client_id;

  if (action === undefined) {
    if (req.method !== 'GET') {
      sendText(res, 405, 'GET only');
    } else if (prompt.name === 'login') {
      sendHtml(res, 200, loginPage(uid, clientId));
    } else if (prompt.name === 'consent') {
      sendHtml(res, 200, consentPage(uid, clientId, session?.accountId, prompt.details));
    } else {
      sendText(res, 501, `prompt ${prompt.name} is not implemented`);
    }
    return;
  }
  if (req.method !== 'POST') {
    sendText(res, 405, 'POST only');
    return;
  }
  const form = await readForm(req);

  switch (action) {
    case 'login': {
      if (prompt.name !== 'login') {
        sendText(res, 400, `the interaction's prompt is ${prompt.name}, not login`);
        return;
      }
      // Any non-empty login is an account; the password is not checked.
      const login = (form.get('login') ?? '').trim();
      if (!login) {
        sendHtml(res, 400, loginPage(uid, clientId, 'enter a login'));
        return;
      }
      await provider.interactionFinished(req, res, {
        login: { accountId: login },
      }, { mergeWithLastSubmission: false });
      log('interaction login', clientId, login);
      return;
    }
    case 'consent': {
      if (prompt.name !== 'consent') {
        sendText(res, 400, `the interaction's prompt is ${prompt.name}, not consent`);
        return;
      }
      // Grant everything the request is still missing.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId });
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, {
        consent: details.grantId ? {} : { grantId },
      }, { mergeWithLastSubmission: true });
      log('interaction consent', clientId, session.accountId);
      return;
    }
    case 'abort':
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
      log('interaction abort', clientId);
      return;
    default:
      sendText(res, 404, 'no such interaction action');
  }
}

function isLoopback(req) {
  const address = req.socket.remoteAddress ?? '';
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

// Test-only admin routes; loopback peers only.
function admin(req, res, path) {
  if (!isLoopback(req)) {
    sendText(res, 403, 'loopback only');
    return;
  }
  if (path === '/oidckit/jwks/publish-all' && req.method === 'POST') {
    log('publishing every signing key (was hiding', [...unpublishedKids].join(', ') || 'none', ')');
    unpublishedKids.clear();
    send(res, 204);
  } else if (path === '/oidckit/jwks/requests' && req.method === 'GET') {
    send(res, 200, 'application/json', JSON.stringify({ count: jwksRequests }));
  } else if (path === '/oidckit/requests' && req.method === 'GET') {
    send(res, 200, 'application/json', JSON.stringify(requestCounts));
  } else if (path === '/oidckit/assertions' && req.method === 'GET') {
    send(res, 200, 'application/json', JSON.stringify(assertionJtis));
  } else if (path === '/oidckit/ciba/pending' && req.method === 'GET') {
    send(res, 200, 'application/json', JSON.stringify([...cibaPending.values()]));
  } else if (CIBA_DECISION.test(path) && req.method === 'POST') {
    const [, authReqId, decision] = CIBA_DECISION.exec(path);
    return cibaDecide(res, decodeURIComponent(authReqId), decision);
  } else {
    sendText(res, 404, 'no such admin route');
  }
}

// The user's decision on their authentication device (CIBA Core §8): approve
// grants what the request asked (its scope) to the hinted account; deny ends
// it with access_denied. 204, or 404 for an unknown or decided request.
const CIBA_DECISION = /^\/oidckit\/ciba\/([^/]+)\/(approve|deny)$/;
async function cibaDecide(res, authReqId, decision) {
  const request = await provider.BackchannelAuthenticationRequest.find(authReqId);
  if (!request || !cibaPending.has(authReqId)) {
    sendText(res, 404, 'no such pending backchannel authentication request');
    return;
  }
  cibaPending.delete(authReqId);
  if (decision === 'approve') {
    const grant = new provider.Grant({ accountId: request.accountId, clientId: request.clientId });
    grant.addOIDCScope(request.scope);
    await grant.save();
    await provider.backchannelResult(request, grant, { authTime: Math.floor(Date.now() / 1000) });
  } else {
    await provider.backchannelResult(request, new errors.AccessDenied('the end-user denied the request'));
  }
  log('ciba', decision, request.clientId, request.accountId);
  send(res, 204);
}

const INTERACTION_PATH = /^\/interaction\/([^/]+)(?:\/(login|consent|abort))?$/;

// Our own routes, or undefined for oidc-provider's.
function ownRoute(req) {
  const path = (req.url ?? '').split('?')[0];
  if (path.startsWith('/oidckit/')) {
    return (res) => admin(req, res, path);
  }
  const match = INTERACTION_PATH.exec(path);
  if (match) {
    return (res) => interaction(req, res, decodeURIComponent(match[1]), match[2]);
  }
  return undefined;
}

const callback = provider.callback();
const PLAIN_CLIENT_ENDPOINTS = /^\/token(\/introspection|\/revocation)?(\?|$)/;
const toProvider = tls
  ? (req, res) => {
    if (req.url.startsWith(`${MTLS_PREFIX}/`)) {
      req.url = req.url.slice(MTLS_PREFIX.length);
    } else if (PLAIN_CLIENT_ENDPOINTS.test(req.url)
      && Object.keys(req.socket.getPeerCertificate?.() ?? {}).length > 0) {
      res.statusCode = 400;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({
        error: 'invalid_request',
        error_description: 'a client presenting a certificate must use the mtls_endpoint_aliases',
      }));
      return;
    }
    callback(req, res);
  }
  : callback;
handler = (req, res) => {
  const route = ownRoute(req);
  if (!route) {
    toProvider(req, res);
    return;
  }
  Promise.resolve()
    .then(() => route(res))
    .catch((err) => {
      const status = err.statusCode ?? err.status ?? 500;
      log('route error', req.method, req.url, status, err.error ?? err.name, err.error_description ?? err.message);
      if (!res.headersSent) {
        sendText(res, status, `${err.error ?? err.name}: ${err.error_description ?? err.message}`);
      } else {
        res.end();
      }
    });
};

process.stdout.write(`READY ${issuer}\n`);
