// A real OpenID Connect provider for the tests and for `make run` experiments: the `oidc-provider`
// package (panva/node-oidc-provider, OpenID Certified) with a small configuration, on loopback.
//
//   OIDC_MODULES=var/oidc-provider/node_modules OP_CONFIG='{"port": 9400, "clients": [...]}' node tests/oidc/op.mjs
//
// OP_CONFIG: {port, host, clients: [{client_id, client_secret, redirect_uris}], accounts: {login: claims}}.
// `host` names the issuer (default 127.0.0.1); the provider listens on 127.0.0.1 whatever it is.
// Any login signs in with any password (the package's development sign-in and consent pages); the
// login is the subject, and the e-mail when it has an @. `accounts` adds claims (given_name,
// family_name, groups, email_verified) per login.
//
// Two logins make the provider misbehave on purpose, for the relying party's checks: `wrong-aud@...`
// gets an ID token for another audience and `expired@...` one that expired an hour ago. Both are
// signed with the provider's own key, so only the claim is wrong.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = path.resolve(process.env.OIDC_MODULES || 'var/oidc-provider/node_modules');
const load = (name, file) => import(pathToFileURL(path.join(modules, name, file)).href);
const { default: Provider } = await load('oidc-provider', 'lib/index.js');
const jose = await load('jose', 'dist/webapi/index.js');

const config = JSON.parse(process.env.OP_CONFIG || '{}');
const port = Number(config.port || 9400);
const issuer = `http://${config.host || '127.0.0.1'}:${port}`;
const accounts = config.accounts || {};

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

function claimsOf(login) {
  const extra = accounts[login] || {};
  const local = login.split('@')[0];
  return {
    sub: login,
    ...(login.includes('@') ? { email: login, email_verified: true } : {}),
    given_name: local.charAt(0).toUpperCase() + local.slice(1),
    family_name: 'Tester',
    name: `${local} Tester`,
    ...extra,
  };
}

const provider = new Provider(issuer, {
  clients: (config.clients || []).map((client) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...client,
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: ['deeplens-test-op-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['given_name', 'family_name', 'name', 'groups'],
  },
  // The claims go into the ID token (as Azure AD and Google put e-mail and names there).
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return claimsOf(id); } };
  },
});
provider.proxy = false;

// The deliberate faults: re-sign the ID token of the token response with one claim wrong.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || !ctx.body || typeof ctx.body !== 'object' || !ctx.body.id_token) return;
  const payload = jose.decodeJwt(ctx.body.id_token);
  const now = Math.floor(Date.now() / 1000);
  if (String(payload.sub).startsWith('wrong-aud')) {
    payload.aud = 'some-other-application';
  } else if (String(payload.sub).startsWith('expired')) {
    payload.iat = now - 7200;
    payload.exp = now - 3600;
  } else {
    return;
  }
  ctx.body = {
    ...ctx.body,
    id_token: await new jose.SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .sign(privateKey),
  };
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
