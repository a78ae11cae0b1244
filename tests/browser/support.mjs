// What the browser tests share: the running local stack's description (.local/stack.env, or
// STACK_ENV=path), plain HTTP calls, the partner configuration, connect keys and the browser.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = new URL('../../', import.meta.url);
export const SHOTS_DIR = fileURLToPath(new URL('test-output/browser/', REPO_ROOT));
const STACK_ENV = process.env.STACK_ENV ?? fileURLToPath(new URL('.local/stack.env', REPO_ROOT));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const VIEWPORT = { width: 600, height: 486 };
const HTTP_TIMEOUT_MS = 20_000;

/** KEY=VALUE lines; one pair of surrounding single quotes is stripped. */
function readStackEnv(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path} (is the local stack running?): ${e.message}`);
  }
  const env = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    env[m[1]] = value;
  }
  return env;
}

export const env = readStackEnv(STACK_ENV);
for (const key of [
  'SR_SIM_URL',
  'SR_API_BASE_URL',
  'LAMBDA_INVOKE_URL_PREFIX',
  'PARTNER_CLIENT_ID',
  'PARTNER_CLIENT_SECRET',
  'VENDOR_API_KEY',
]) {
  if (!env[key]) throw new Error(`${STACK_ENV} has no ${key}`);
}
export const P = env.LAMBDA_INVOKE_URL_PREFIX;
export const CONSENT_URL = `${P}/consent/integration`;

export async function http(method, url, { headers = {}, body } = {}) {
  const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** Registers the partner configuration with the SR simulator (same as the other tests do). */
export async function registerPartnerConfiguration() {
  const token = await http('POST', `${env.SR_SIM_URL}/identity/oauth/token`, {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: env.PARTNER_CLIENT_ID,
      client_secret: env.PARTNER_CLIENT_SECRET,
    }).toString(),
  });
  assert.equal(token.status, 200, `master token: ${token.status} ${token.text}`);
  assert.ok(token.json?.access_token, `master token response has no access_token: ${token.text}`);
  const config = {
    consentUrl: P + '/consent/integration',
    consentDisplayMode: 'POPUP',
    assessmentPackageListUrl: P + '/list-packages/packages',
    singleAssessmentPackageUrl: P + '/get-package/packages/{assessmentPackageId}',
    packageOrderUrl: P + '/create-order/packages/orders',
    inlineAssessmentPackageOrderUrl: P + '/create-inline-order/packages/inline/orders',
    oauthTokenUrl: P + '/oauth-token/oauth/token',
    integrationDisableUrl: P + '/disable-integration/integrations/companies/{companyId}',
    fields: [{ id: 'lens', name: 'Lens', description: 'Which lens the assessment uses' }],
    supportedAssessmentTypes: [
      'VIDEO_INTERVIEW',
      'BEHAVIORAL_ASSESSMENT',
      'BACKGROUND_CHECK',
      'REFERENCE_CHECK',
      'SKILL_TEST',
      'INLINE_ASSESSMENT',
    ],
  };
  const put = await http('PUT', `${env.SR_API_BASE_URL}/partner/configuration`, {
    headers: { authorization: `Bearer ${token.json.access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  assert.ok(put.status >= 200 && put.status < 300, `PUT partner/configuration: ${put.status} ${put.text}`);
}

export async function createConnectKey(organisations) {
  const res = await http('POST', `${P}/vendor-api/assessment/connect-keys`, {
    headers: { authorization: `Bearer ${env.VENDOR_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ organisations }),
  });
  assert.equal(res.status, 201, `create connect key: ${res.status} ${res.text}`);
  const key = res.json?.data?.connect_key;
  assert.match(key ?? '', /^ck_/, `unexpected connect key response: ${res.text}`);
  return key;
}

/** A headless Chromium (a fresh temporary profile, removed on close). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
