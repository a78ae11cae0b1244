// Real-browser test of the consent page (SR opens it in a 600 x ~486 px popup), run against the
// running local stack described by .local/stack.env (override the file with STACK_ENV=path, the
// browser with CHROMIUM_PATH=path). Set up once with `bash infra/install-browser.sh`, then run
// `node --test tests/browser/` from the repo root. Screenshots go to test-output/browser/.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

import {
  CONSENT_URL,
  SHOTS_DIR,
  VIEWPORT,
  createConnectKey,
  env,
  http,
  launchBrowser,
  registerPartnerConfiguration,
} from './support.mjs';

describe('consent page in a 600 px popup', () => {
  const unique = `browser-${Date.now()}-${randomBytes(4).toString('hex')}`;
  const companyId = unique;
  const organisations = [
    { id: `${unique}-a`, name: 'Acme Sweden' },
    { id: `${unique}-b`, name: 'Acme Norway' },
  ];
  const pageUrl = `${CONSENT_URL}?companyId=${encodeURIComponent(companyId)}`;
  let connectKey;
  let browser;
  let page;
  let connected = false;
  /** Every main-frame document the browser received, for the CSP / no-script checks. */
  const documents = [];
  /** Console errors (a CSP violation, e.g. a blocked style, is reported here). */
  const consoleErrors = [];

  before(async () => {
    mkdirSync(SHOTS_DIR, { recursive: true });
    await registerPartnerConfiguration();
    connectKey = await createConnectKey(organisations);
    browser = await launchBrowser();
    // Its own client address (local stacks read X-Forwarded-For, as every local caller is
    // 127.0.0.1), so wrong keys other tests sent from 127.0.0.1 never count against this one.
    const address = `10.${randomBytes(3).join('.')}`;
    const context = await browser.newContext({
      viewport: VIEWPORT,
      extraHTTPHeaders: { 'x-forwarded-for': address },
    });
    page = await context.newPage();
    page.on('response', (response) => {
      const request = response.request();
      if (request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        documents.push({
          url: response.url(),
          status: response.status(),
          csp: response.headers()['content-security-policy'] ?? '',
          body: response.text().catch(() => null),
        });
      }
    });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  });

  after(async () => {
    await browser?.close();
  });

  async function assertNoHorizontalScroll(what) {
    const { scrollWidth, clientWidth } = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    assert.ok(
      scrollWidth <= clientWidth,
      `${what}: horizontal scroll at ${VIEWPORT.width} px (scrollWidth ${scrollWidth} > clientWidth ${clientWidth})`,
    );
    // The popup is only ~45% of the screen tall: the action must be visible without scrolling.
    const button = page.locator('#give-consent');
    if (await button.count()) {
      const box = await button.boundingBox();
      assert.ok(
        box && box.y + box.height <= VIEWPORT.height,
        `${what}: "Give consent" ends at ${box && box.y + box.height} px, below the ${VIEWPORT.height} px popup`,
      );
    }
  }

  async function screenshot(name) {
    await page.screenshot({ path: `${SHOTS_DIR}${name}`, fullPage: true });
  }

  /** Clicks "Give consent" and waits until the next page has loaded. */
  async function giveConsent() {
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#give-consent')]);
  }

  test('A: wrong key, then the real key, choose an organisation, connected', async () => {
    const first = await page.goto(pageUrl, { waitUntil: 'load' });
    assert.equal(first.status(), 200);
    await page.locator('form#consent-form').waitFor();
    assert.equal(await page.locator('input#connect-key').getAttribute('name'), 'connect_key');
    // The admin sees what the vendor will read in SR on the company's behalf.
    const reads = page.locator('#vendor-reads');
    assert.ok(await reads.isVisible(), 'the list of what the vendor reads is visible');
    assert.match(await reads.innerText(), /may read in SmartRecruiters.*candidate.*list of departments/s);
    await assertNoHorizontalScroll('key page');
    await screenshot('consent-1-key.png');

    await page.fill('#connect-key', `ck_wrong${randomBytes(8).toString('hex')}`);
    await giveConsent();
    const error = page.locator('p#error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.innerText(), /not valid/i);
    await page.locator('form#consent-form').waitFor();
    await assertNoHorizontalScroll('error page');
    await screenshot('consent-2-error.png');

    await page.fill('#connect-key', connectKey);
    await giveConsent();
    await page.locator('form#choose-form').waitFor();
    const radios = page.locator('form#choose-form input[type=radio]');
    assert.equal(await radios.count(), 2);
    for (const [i, org] of organisations.entries()) {
      assert.equal(await page.locator(`label[for="org-${i}"]`).innerText(), org.name);
      assert.equal(await page.locator(`#org-${i}`).getAttribute('value'), org.id);
    }
    await assertNoHorizontalScroll('organisation choice page');
    await screenshot('consent-3-choose.png');

    await page.check('#org-1');
    await giveConsent();
    const done = page.locator('h1#done');
    await done.waitFor({ state: 'visible' });
    assert.equal((await done.innerText()).trim(), 'Connected');
    await assertNoHorizontalScroll('done page');
    await screenshot('consent-4-done.png');
    connected = true;
  });

  test('B: SR can get a connector token for the company after consent', async () => {
    assert.ok(connected, 'needs test A to have connected the company');
    const res = await http('POST', `${env.SR_SIM_URL}/__sim/companies/${encodeURIComponent(companyId)}/token`);
    assert.equal(res.status, 200, `sim token call: ${res.status} ${res.text}`);
    assert.equal(res.json?.status, 200, `connector token endpoint answered: ${res.text}`);
    assert.ok(res.json?.body?.access_token, `no access_token in: ${res.text}`);
  });

  test('C: the page again shows only the key form; a valid key then says "Already connected"', async () => {
    assert.ok(connected, 'needs test A to have connected the company');
    const response = await page.goto(pageUrl, { waitUntil: 'load' });
    assert.equal(response.status(), 200);
    // Without a key the page says nothing of the company's state.
    await page.locator('form#consent-form').waitFor();
    assert.equal(await page.locator('h1#done').count(), 0);
    const another = await createConnectKey([{ id: `${unique}-c`, name: 'Acme Finland' }]);
    await page.fill('#connect-key', another);
    await giveConsent();
    const done = page.locator('h1#done');
    await done.waitFor({ state: 'visible' });
    assert.equal((await done.innerText()).trim(), 'Already connected');
    await assertNoHorizontalScroll('already connected page');
    await screenshot('consent-5-already-connected.png');
  });

  test("D: strict CSP, no script, no CSP violations on any page", async () => {
    // A fresh GET outside the browser, plus every document the browser loaded above.
    const fresh = await http('GET', `${CONSENT_URL}?companyId=${encodeURIComponent(`${unique}-csp`)}`);
    assert.equal(fresh.status, 200);
    const pages = [
      { url: 'fresh GET', status: fresh.status, csp: fresh.headers.get('content-security-policy') ?? '', body: fresh.text },
      ...documents,
    ];
    assert.ok(pages.length >= 7, `expected the 6 browser documents plus the fresh GET, got ${pages.length}`);
    for (const doc of pages) {
      const label = `${doc.url} (HTTP ${doc.status})`;
      assert.match(doc.csp, /(^|;)\s*default-src 'none'\s*(;|$)/, `${label}: CSP lacks default-src 'none': ${doc.csp}`);
      assert.match(doc.csp, /(^|;)\s*frame-ancestors 'none'\s*(;|$)/, `${label}: CSP lacks frame-ancestors 'none': ${doc.csp}`);
      const body = await doc.body;
      assert.equal(typeof body, 'string', `${label}: body not readable`);
      assert.ok(!/<script/i.test(body), `${label}: HTML contains <script`);
    }
    const violations = consoleErrors.filter((m) => /content security policy/i.test(m));
    assert.deepEqual(violations, [], 'the browser reported CSP violations');
  });
});
