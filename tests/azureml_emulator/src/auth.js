// The token side: an Azure AD v2 token endpoint for the client-credentials grant of one
// configured service principal, and the bearer check the resource manager makes on every
// call. Tokens are opaque random strings kept with their expiry; `expireAll` makes every
// token issued so far expired (the client must get a new one), as a test asks for it.
'use strict';

const crypto = require('crypto');
const { HttpError } = require('./errors');

const SCOPES = new Set([
  'https://management.azure.com/.default',
  'https://management.azure.com//.default',
  'https://management.core.windows.net/.default',
  'https://management.core.windows.net//.default',
  'https://ml.azure.com/.default',
]);

class Tokens {
  constructor({ tenant, clientId, clientSecret, lifetimeS = 3599 }) {
    Object.assign(this, { tenant, clientId, clientSecret, lifetimeS });
    this.issued = new Map(); // token -> expiry (ms since epoch)
    this.scopes = new Set(SCOPES);
  }

  // The emulator is its own resource manager: a client told AMLFLOW_ARM_ENDPOINT=<its URL>
  // asks for "<its URL>/.default", as it would for a sovereign cloud's resource manager.
  acceptResource(baseUrl) {
    this.scopes.add(`${baseUrl}/.default`);
    this.scopes.add(`${baseUrl}//.default`);
  }

  // Answers POST /{tenant}/oauth2/v2.0/token: returns {status, body} in AAD's shapes.
  issue(tenant, form) {
    const aad = (status, error, code, text) => ({
      status, body: { error, error_description: `AADSTS${code}: ${text}`, error_codes: [code] },
    });
    if (tenant !== this.tenant) return aad(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') {
      return aad(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${form.get('grant_type')}'.`);
    }
    if (form.get('client_id') !== this.clientId) {
      return aad(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory '${tenant}'.`);
    }
    if (form.get('client_secret') !== this.clientSecret) {
      return aad(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    }
    const scope = form.get('scope') || '';
    if (!this.scopes.has(scope)) {
      return aad(400, 'invalid_scope', 500011, `The resource principal named '${scope}' was not found in the tenant.`);
    }
    const token = `emu.${crypto.randomBytes(24).toString('base64url')}`;
    this.issued.set(token, Date.now() + this.lifetimeS * 1000);
    return { status: 200, body: { token_type: 'Bearer', expires_in: this.lifetimeS, ext_expires_in: this.lifetimeS, access_token: token } };
  }

  // A token for a job's processes (MLFLOW_TRACKING_TOKEN), valid as long as a job may run.
  issueInternal() {
    const token = `emu.${crypto.randomBytes(24).toString('base64url')}`;
    this.issued.set(token, Date.now() + 7 * 24 * 3600 * 1000);
    return token;
  }

  expireAll() {
    const past = Date.now() - 1000;
    for (const token of this.issued.keys()) this.issued.set(token, past);
  }

  // Throws the resource manager's 401 unless the request carries a live token.
  check(req, forceExpired = false) {
    const header = req.headers.authorization || '';
    const challenge = { 'WWW-Authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/${this.tenant}", error="invalid_token"` };
    if (!header) {
      throw new HttpError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", { headers: challenge });
    }
    const match = /^Bearer (\S+)$/.exec(header);
    const expiry = match ? this.issued.get(match[1]) : undefined;
    if (expiry === undefined) {
      throw new HttpError(401, 'InvalidAuthenticationToken', 'The access token is invalid.', { headers: challenge });
    }
    if (forceExpired || expiry <= Date.now()) {
      const when = new Date(Math.min(expiry, Date.now() - 1000)).toISOString();
      throw new HttpError(401, 'ExpiredAuthenticationToken',
                          `The access token expiry UTC time '${when}' is earlier than current UTC time '${new Date().toISOString()}'.`,
                          { headers: challenge });
    }
  }
}

module.exports = { Tokens };
