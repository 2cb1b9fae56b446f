// Interop-test authorization server for oidckit, built on oidc-provider (panva).
//
// Usage: node tests/interop/provider.mjs
//   env INTEROP_CLIENTS     JSON array of oidc-provider client metadata (default: [])
//   env INTEROP_DPOP_NONCE  "required" | "offered" | unset
//
// Prints exactly one line `READY http://127.0.0.1:PORT` to stdout; all other
// output goes to stderr. Exits when stdin closes, or on SIGTERM / SIGINT.

import crypto from 'node:crypto';
import http from 'node:http';

// oidc-provider prints notices with console.info (stdout). Keep stdout for the
// READY line only: route every console stdout method to stderr *before*
// oidc-provider is loaded (hence the dynamic imports below).
for (const m of ['log', 'info', 'debug']) {
  console[m] = (...args) => console.error(...args);
}

const { default: Provider, errors } = await import('oidc-provider');
const { generateKeyPair, exportJWK } = await import('jose');

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
server = http.createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

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
  ],
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
handler = callback;

process.stdout.write(`READY ${issuer}\n`);
