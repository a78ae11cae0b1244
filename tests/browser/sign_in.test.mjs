// Real-browser test of consent by signing in (SR's 600 x ~486 px popup): the consent page sends
// the browser to the local OpenID provider (infra/oidc-provider, in the same window), whose own
// pages take the password and the one-time code, then back to "Give consent". Runs against the
// local stack (.local/stack.env), which requires MFA. Screenshots go to test-output/browser/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import { CONSENT_URL, P, SHOTS_DIR, VIEWPORT, env, http, launchBrowser, registerPartnerConfiguration } from './support.mjs';

// The local IdP's users (infra/oidc-provider/server.mjs).
const PASSWORD = 'local-password';
const ONE_TIME_CODE = '123456';

describe('consent by signing in, in a 600 px popup', () => {
  const unique = `browser-sso-${Date.now()}-${randomBytes(4).toString('hex')}`;
  let browser;
  /** The connector's own documents (not the IdP's), for the CSP / no-script checks. */
  const documents = [];
  const consoleErrors = [];
  let connected = false;

  before(async () => {
    assert.ok(env.IDP_URL, 'the local stack runs the IdP (component idp)');
    mkdirSync(SHOTS_DIR, { recursive: true });
    await registerPartnerConfiguration();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  async function popup() {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    page.on('response', (response) => {
      const request = response.request();
      if (request.isNavigationRequest() && request.frame() === page.mainFrame() && response.url().startsWith(P)) {
        documents.push({
          url: response.url(),
          status: response.status(),
          csp: response.headers()['content-security-policy'] ?? '',
          body: response.status() === 303 ? Promise.resolve('') : response.text().catch(() => null),
        });
      }
    });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    return page;
  }

  async function assertFits(page, what) {
    const { scrollWidth, clientWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    assert.ok(scrollWidth <= clientWidth, `${what}: horizontal scroll at ${VIEWPORT.width} px (${scrollWidth} > ${clientWidth})`);
    for (const selector of ['#give-consent', '#sign-in']) {
      const button = page.locator(selector).first();
      if (await button.count()) {
        const box = await button.boundingBox();
        assert.ok(box && box.y + box.height <= VIEWPORT.height, `${what}: ${selector} ends below the ${VIEWPORT.height} px popup`);
      }
    }
  }

  /** From the consent page: "Sign in with …", then the IdP's login (and code) pages. */
  async function signIn(page, companyId, email, { code = true } = {}) {
    const first = await page.goto(`${CONSENT_URL}?companyId=${encodeURIComponent(companyId)}`, { waitUntil: 'load' });
    assert.equal(first.status(), 200);
    await assertFits(page, 'start page');
    await Promise.all([page.waitForURL((url) => url.href.startsWith(env.IDP_URL)), page.click('a#sign-in')]);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button#sign-in')]);
    if (code) {
      await page.fill('#code', ONE_TIME_CODE);
      await Promise.all([page.waitForURL((url) => url.href.startsWith(P)), page.click('button#verify')]);
    } else {
      await page.waitForURL((url) => url.href.startsWith(P));
    }
    await page.waitForLoadState('load');
  }

  test('A: sign in with MFA, choose one of two organisations, give consent; SR gets a token', async () => {
    const page = await popup();
    await signIn(page, unique, 'multi@acme.test');
    await page.locator('#signed-in').waitFor();
    assert.match(await page.locator('#signed-in').innerText(), /multi@acme\.test/);
    const radios = page.locator('form#consent-form input[type=radio]');
    assert.equal(await radios.count(), 2);
    assert.equal(await page.locator('label[for="org-1"]').innerText(), 'Acme Norway');
    await assertFits(page, 'signed-in page');
    await page.screenshot({ path: `${SHOTS_DIR}sign-in-1-give-consent.png`, fullPage: true });

    await page.check('#org-1');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#give-consent')]);
    const done = page.locator('h1#done');
    await done.waitFor({ state: 'visible' });
    assert.equal((await done.innerText()).trim(), 'Connected');
    await page.screenshot({ path: `${SHOTS_DIR}sign-in-2-done.png`, fullPage: true });
    connected = true;

    const res = await http('POST', `${env.SR_SIM_URL}/__sim/companies/${encodeURIComponent(unique)}/token`);
    assert.equal(res.json?.status, 200, `the connector's token endpoint answered SR: ${res.text}`);
    assert.ok(res.json?.body?.access_token, `no access_token in: ${res.text}`);
  });

  test('B: a user without MFA is refused when MFA is required', async () => {
    const page = await popup();
    await signIn(page, `${unique}-nomfa`, 'nomfa@acme.test', { code: false });
    const error = page.locator('p#error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.innerText(), /multi-factor/i);
    assert.equal(await page.locator('#give-consent').count(), 0);
    await assertFits(page, 'MFA refusal');
    await page.screenshot({ path: `${SHOTS_DIR}sign-in-3-mfa-required.png`, fullPage: true });
  });

  test('C: strict CSP and no script on the connector pages of the sign-in; no CSP violations', async () => {
    assert.ok(connected, 'needs test A');
    assert.ok(documents.length >= 5, `the connector's documents of A and B, got ${documents.length}`);
    for (const doc of documents) {
      const label = `${doc.url} (HTTP ${doc.status})`;
      assert.match(doc.csp, /(^|;)\s*default-src 'none'\s*(;|$)/, `${label}: ${doc.csp}`);
      assert.match(doc.csp, /(^|;)\s*frame-ancestors 'none'\s*(;|$)/, `${label}: ${doc.csp}`);
      const body = await doc.body;
      assert.equal(typeof body, 'string', `${label}: body not readable`);
      assert.ok(!/<script/i.test(body), `${label}: HTML contains <script`);
    }
    const violations = consoleErrors.filter((m) => /content security policy/i.test(m));
    assert.deepEqual(violations, [], 'the browser reported CSP violations');
  });
});
