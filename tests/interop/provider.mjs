// Interop-test authorization server for oidckit, built on oidc-provider (panva).
//
// Usage: node tests/interop/provider.mjs
//   env INTEROP_CLIENTS           JSON array of oidc-provider client metadata (default: [])
//   env INTEROP_DPOP_NONCE        "required" | "offered" | unset
//   env INTEROP_TLS_CERT          } PEM file paths; all three set = HTTPS + mutual TLS
//   env INTEROP_TLS_KEY           } (RFC 8705): server certificate, its key, and the
//   env INTEROP_TLS_CA            } CA that issues tls_client_auth client certificates
//   env INTEROP_REFRESH_ROTATION  "always" | "never" | unset (oidc-provider default)
//
// Prints exactly one line `READY http://127.0.0.1:PORT` (or `READY
// https://127.0.0.1:PORT` in TLS mode) to stdout; all other output goes to
// stderr. Exits when stdin closes, or on SIGTERM / SIGINT.
//
// Besides oidc-provider's own grants it registers token exchange (RFC 8693),
// JWT bearer (RFC 7523) and a test-only `urn:oidckit:grant-type:issue-refresh-token`
// grant; see README.md.

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

const jwks = {
  keys: [
    await signingKey('RS256', 'interop-rs256'),
    await signingKey('ES256', 'interop-es256'),
  ],
};

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

const provider = new Provider(issuer, {
  clients,
  jwks,
  scopes: ['openid', 'offline_access', 'read', 'write'],
  clientAuthMethods: [
    'client_secret_basic',
    'client_secret_post',
    'client_secret_jwt',
    'private_key_jwt',
    'none',
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
    claims: async () => ({ sub }),
  }),
  enabledJWA: {
    clientAuthSigningAlgValues: [
      'HS256', 'HS384', 'HS512',
      'RS256', 'RS384', 'RS512',
      'PS256', 'PS384', 'PS512',
      'ES256', 'ES384', 'ES512',
      'EdDSA', ...ed25519,
    ],
    dPoPSigningAlgValues: [
      'ES256', 'ES384', 'ES512', 'RS256', 'PS256', 'EdDSA', ...ed25519,
    ],
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    dPoP: dpop,
    mTLS,
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
  'end_session.error',
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
// exercise oidc-provider's own refresh_token grant without a login UI. The
// client needs both this grant type and `refresh_token` in grant_types, and
// scope must include offline_access (oidc-provider's issueRefreshToken rule).
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

const callback = provider.callback();
const PLAIN_CLIENT_ENDPOINTS = /^\/token(\/introspection|\/revocation)?(\?|$)/;
handler = tls
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

process.stdout.write(`READY ${issuer}\n`);
