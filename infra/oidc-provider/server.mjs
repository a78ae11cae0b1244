// The local stack's OpenID provider: a real, certified provider (npm `oidc-provider`) standing in
// for the vendor's IdP (Auth0, Okta, Entra ID, …) on loopback, for `make dev` and the tests.
//
// Sign-in is this file's own minimal interaction: a password form, then for users with MFA a
// one-time code form. The ID token's `amr` says what was checked (["pwd"] or ["pwd", "otp"]) and
// users with MFA get `acr` "urn:acme:mfa"; the `organisations` claim lists the vendor
// organisations the user may connect ({id, name} objects).
//
// Usage: node server.mjs --port 5332 --redirect-uri http://127.0.0.1:9000/lambda-url/consent/integration/callback
// Environment: IDP_CLIENT_SECRET (the connector's client secret, default local-idp-secret).
// Two clients: `connector-local` (the connector) and `other-app` (another application of the
// same vendor, whose codes and ID tokens the connector must refuse), both confidential, PKCE.
import { generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '5332' },
    host: { type: 'string', default: '127.0.0.1' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
  },
});

export const PASSWORD = 'local-password';
export const ONE_TIME_CODE = '123456';
const ORGS = {
  se: { id: 'acme-se', name: 'Acme Sweden' },
  no: { id: 'acme-no', name: 'Acme Norway' },
};
// Users by login (their e-mail); `sub` is stable, as an IdP's subject is.
const USERS = {
  'mfa@acme.test': { sub: 'user-mfa', mfa: true, organisations: [ORGS.se] },
  'nomfa@acme.test': { sub: 'user-nomfa', mfa: false, organisations: [ORGS.se] },
  'multi@acme.test': { sub: 'user-multi', mfa: true, organisations: [ORGS.se, ORGS.no] },
  'noorg@acme.test': { sub: 'user-noorg', mfa: true, organisations: [] },
};
const BY_SUB = Object.fromEntries(Object.entries(USERS).map(([email, u]) => [u.sub, { ...u, email }]));
const MFA_ACR = 'urn:acme:mfa';

const issuer = `http://${args.host}:${args.port}`;
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const client = (id, secret) => ({
  client_id: id,
  client_secret: secret,
  redirect_uris: args['redirect-uri'],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const provider = new Provider(issuer, {
  clients: [
    client('connector-local', process.env.IDP_CLIENT_SECRET || 'local-idp-secret'),
    client('other-app', 'other-app-secret'),
  ],
  jwks: { keys: [{ ...signingKey, kid: 'local-1', use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [Math.random().toString(36).slice(2) + Date.now()] },
  // PKCE for every client, confidential ones too (the connector always sends S256).
  pkce: { required: () => true },
  acrValues: [MFA_ACR],
  claims: {
    // `amr` and `acr` in every ID token: the connector checks them when the vendor requires MFA.
    openid: ['sub', 'amr', 'acr', 'auth_time'],
    email: ['email', 'email_verified'],
    organisations: ['organisations'],
  },
  // The claims the scopes ask for go into the ID token itself, not only the userinfo endpoint.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  async findAccount(_ctx, sub) {
    const user = BY_SUB[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: user.email, email_verified: true, organisations: user.organisations };
      },
    };
  },
  // First-party clients: every scope is granted without a consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email organisations');
    grant.addOIDCClaims(['email', 'email_verified', 'organisations']);
    await grant.save();
    return grant;
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const equal = (a, b) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title></head>
<body><main style="max-width:400px;margin:20px auto;font-family:sans-serif"><h1>${escape(title)}</h1>${body}</main></body></html>`);
}

function loginForm(res, uid, error) {
  page(res, error ? 401 : 200, 'Acme sign-in', `${error ? `<p id="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/login">
<label for="email">E-mail</label><input id="email" name="email" type="email" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button id="sign-in" type="submit">Sign in</button></form>`);
}

function codeForm(res, uid, error) {
  page(res, error ? 401 : 200, 'Acme two-step verification', `${error ? `<p id="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${uid}/otp">
<label for="code">One-time code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required autofocus>
<button id="verify" type="submit">Verify</button></form>`);
}

async function form(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

// Who passed the password and waits for the code, per interaction (this process's memory: the
// interaction itself lives only minutes).
const awaitingCode = new Map();

async function interaction(req, res) {
  const [, , uid, step] = new URL(req.url, issuer).pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return page(res, 400, 'Sign-in expired', '<p>Please start again.</p>');
  if (req.method === 'GET') return loginForm(res, uid);
  const fields = await form(req);
  if (step === 'login') {
    const user = USERS[(fields.email || '').trim().toLowerCase()];
    if (!user || !equal(fields.password || '', PASSWORD)) return loginForm(res, uid, 'Wrong e-mail or password.');
    if (!user.mfa) {
      return provider.interactionFinished(req, res, { login: { accountId: user.sub, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
    }
    awaitingCode.set(uid, user.sub);
    return codeForm(res, uid);
  }
  if (step === 'otp') {
    const sub = awaitingCode.get(uid);
    if (!sub) return loginForm(res, uid, 'Please sign in first.');
    if (!equal((fields.code || '').trim(), ONE_TIME_CODE)) return codeForm(res, uid, 'Wrong code.');
    awaitingCode.delete(uid);
    return provider.interactionFinished(req, res, { login: { accountId: sub, amr: ['pwd', 'otp'], acr: MFA_ACR } }, { mergeWithLastSubmission: false });
  }
  return page(res, 404, 'Not found', '');
}

const callback = provider.callback();
http
  .createServer((req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((error) => {
        console.error(error);
        page(res, 400, 'Sign-in failed', `<p>${escape(error.message)}</p>`);
      });
      return;
    }
    callback(req, res);
  })
  .listen(Number(args.port), args.host, () => {
    console.log(`oidc-provider listening on ${issuer} (redirect URIs: ${args['redirect-uri'].join(', ')})`);
  });
