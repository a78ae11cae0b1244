// Kombo's official TypeScript SDK (@kombo-api/sdk 1.1.3 from npm, pinned by package-lock.json),
// unchanged and with its response validation on, against the local stack's vendor API. Every
// result is followed to the SR simulator.
//
// Needs the local stack (`infra/stack.sh up`; `make test` starts it), `npm ci --prefix
// tests/kombo` and the `kombo-fixture` binary of the tests crate (built by `make build`; `cargo
// run` otherwise). Run: `node --test tests/kombo/`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { Kombo } from "@kombo-api/sdk";
import {
  KomboAtsErrorCode,
  assessmentOrderReceivedWebhookPayloadFromJSON,
  inlineAssessmentOrderReceivedWebhookPayloadFromJSON,
} from "@kombo-api/sdk/models";
import { KomboAtsError } from "@kombo-api/sdk/models/errors";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const REPORT = Buffer.from("%PDF-1.7\n% the TypeScript vendor's report\n");
const RECORDING = Buffer.from("\x00\x00\x00\x18ftypmp42 recorded for the TypeScript test");

/** Where cargo puts build outputs: `target_directory` of `cargo metadata` (honours
 * CARGO_TARGET_DIR), so a global target directory finds the binary `make build` wrote. */
function cargoTargetDir() {
  const metadata = execFileSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(metadata).target_directory;
}

/** `kombo-fixture ARGS` (the built binary, else through cargo): the JSON it prints last. Async,
 * so this process's own HTTP server keeps answering while the fixture calls it. */
async function komboFixture(...args) {
  const binary = path.join(cargoTargetDir(), "debug", "kombo-fixture");
  const [command, prefix] = existsSync(binary)
    ? [binary, []]
    : ["cargo", ["run", "--quiet", "-p", "connector-tests", "--bin", "kombo-fixture", "--"]];
  const { stdout } = await promisify(execFile)(command, [...prefix, ...args], {
    cwd: ROOT,
    timeout: 600_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const lines = stdout.split("\n").filter((l) => l.trim());
  return JSON.parse(lines[lines.length - 1]);
}

/** The SDK exactly as a Kombo customer builds it, pointed at the stack. */
function sdk(company, { v1 = false, apiKey } = {}) {
  return new Kombo({
    api_key: apiKey ?? company.api_key,
    integration_id: company.integration_id,
    server_url: company.server_url + (v1 ? "/v1" : ""),
  });
}

/** The vendor's side on 127.0.0.1: result files for `data_url`, and a webhook endpoint that
 * answers `inline-assessment:order-received` with an assessment URL as Kombo asks. */
function startVendorServer() {
  const webhooks = [];
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/files/recording.mp4") {
      res.writeHead(200, { "content-type": "video/mp4", "content-length": RECORDING.length });
      res.end(RECORDING);
      return;
    }
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      webhooks.push({ headers: req.headers, body });
      const event = JSON.parse(body.toString("utf8"));
      const answer = event.type === "inline-assessment:order-received"
        ? { assessment_url: `https://assess.example.com/ts/${event.data.id}` }
        : {};
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, webhooks, base: `http://127.0.0.1:${server.address().port}` });
    });
  });
}

async function placeOrder(company, packageId) {
  const response = await fetch(
    `${company.simulator_url}/__sim/companies/${company.company_id}/orders`,
    { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ assessmentPackageId: packageId }) },
  );
  const answer = await response.json();
  assert.equal(answer.status, 202, JSON.stringify(answer));
  return answer.orderId;
}

/** What SR (the simulator) holds for the order once `until(order)` holds. */
async function srOrder(company, orderId, until, what) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const response = await fetch(`${company.simulator_url}/__sim/orders/${orderId}`);
    const order = response.ok ? await response.json() : null;
    if (order && until(order)) return order;
    assert.ok(Date.now() < deadline, `SR never got ${what}: ${JSON.stringify(order)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** SR-only parts of a catalog go around the SDK, whose request model knows Kombo's fields only. */
async function putCatalogOverHttp(company, catalog) {
  const response = await fetch(`${company.server_url}/assessment/packages`, {
    method: "PUT",
    headers: { authorization: `Bearer ${company.api_key}`,
      "x-integration-id": company.integration_id, "content-type": "application/json" },
    body: JSON.stringify(catalog),
  });
  assert.equal(response.status, 200, await response.text());
}

const FULL_CATALOG = { packages: [
  { id: "assessed", type: "SKILLS_TEST", name: "Java test", description: "Two parts",
    assessments: [
      { id: "java-coding", name: "Coding exercise", description: "Three tasks" },
      { id: "system-design", name: "System design", description: "20 questions" }] },
  { id: "behavioral", type: "BEHAVIORAL", name: "Culture fit", description: "15 minutes" },
  { id: "quiz", type: "INLINE_ASSESSMENT", name: "Quick quiz", description: "Five minutes",
    inline_url_template: "https://assess.example.com/quiz/{orderId}" },
] };

let company;
let vendor;

before(async () => {
  company = await komboFixture("company");
  vendor = await startVendorServer();
});

after(() => vendor?.server.close());

test("packages of every Kombo type and an inline one are set and read", async () => {
  const kombo = sdk(company, { v1: true });
  const types = ["SKILLS_TEST", "BEHAVIORAL", "VIDEO_INTERVIEW", "BACKGROUND_CHECK", "REFERENCE_CHECK"];
  const set = await kombo.assessment.setPackages({
    packages: types.map((t) => ({ id: `p-${t.toLowerCase()}`, type: t, name: t, description: `A ${t} package` })),
  });
  assert.deepEqual(set.warnings, []);
  const { packages } = (await kombo.assessment.getPackages()).data;
  assert.deepEqual(packages.map((p) => p.type).sort(), [...types].sort());
  assert.ok(packages.every((p) => p.updated_at instanceof Date));

  await putCatalogOverHttp(company, FULL_CATALOG);
  const listed = Object.fromEntries(
    (await sdk(company).assessment.getPackages()).data.packages.map((p) => [p.id, p]),
  );
  assert.deepEqual(Object.keys(listed).sort(), ["assessed", "behavioral", "quiz"]);
  assert.equal(listed.assessed.type, "SKILLS_TEST");
  assert.equal(listed.quiz.type, null, "SR's inline type has no Kombo name");
});

test("orders are listed with each filter and across pages", async () => {
  await putCatalogOverHttp(company, FULL_CATALOG);
  const kombo = sdk(company);
  const first = [];
  for (let i = 0; i < 3; i++) first.push(await placeOrder(company, "behavioral"));
  const between = new Date();
  const later = [await placeOrder(company, "behavioral"), await placeOrder(company, "behavioral")];
  const mine = [...first, ...later];

  const seen = [];
  let pages = 0;
  for await (const page of await kombo.assessment.getAssessmentOrders({ page_size: 2 })) {
    pages += 1;
    seen.push(...page.result.data.results.map((o) => o.id));
  }
  assert.deepEqual(seen.filter((id) => mine.includes(id)), mine);
  assert.ok(pages >= 3, `${pages} pages`);

  // Awaited, the page iterator is the first page.
  const ids = async (request) => (await kombo.assessment.getAssessmentOrders(request))
    .result.data.results.map((o) => o.id).filter((id) => mine.includes(id));
  const one = (await kombo.assessment.getAssessmentOrders({ ids: [mine[0]] }))
    .result.data.results[0];
  assert.equal(one.status, "OPEN");
  assert.equal(one.package_id, "behavioral");
  assert.equal(one.application.remote_id, null);
  assert.ok(one.candidate.email && one.candidate.remote_id && one.job.remote_id);
  assert.deepEqual(await ids({ ids: [mine[4], mine[1]] }), [mine[1], mine[4]]);
  assert.deepEqual(await ids({ created_after: between }), later);
  await kombo.assessment.updateOrderResult({
    assessment_order_id: mine[2], body: { status: "CANCELLED", result_url: "https://v.example.com/r" },
  });
  await srOrder(company, mine[2], (o) => o.result?.status === "REJECTED",
    "REJECTED (SR's word for Kombo's CANCELLED)");
  assert.deepEqual(await ids({ statuses: ["CANCELLED", "COMPLETED"] }), [mine[2]]);
  assert.deepEqual(await ids({ statuses: ["OPEN"], ids: mine }), [mine[0], mine[1], mine[3], mine[4]]);
});

test("OPEN then COMPLETED results reach SR with score, sub-results and files", async () => {
  await putCatalogOverHttp(company, FULL_CATALOG);
  const kombo = sdk(company, { v1: true });
  const orderId = await placeOrder(company, "assessed");

  await kombo.assessment.updateOrderResult({
    assessment_order_id: orderId,
    body: { status: "OPEN", result_url: "https://vendor.example.com/results/9" },
  });
  await srOrder(company, orderId, (o) => o.result?.status === "IN_PROGRESS", "IN_PROGRESS");

  const answer = await kombo.assessment.updateOrderResult({
    assessment_order_id: orderId,
    body: {
      status: "COMPLETED",
      result_url: "https://vendor.example.com/results/9",
      completed_at: new Date("2026-05-02T08:00:00Z"),
      score: 42.5,
      max_score: 50,
      attributes: [
        { type: "TEXT", label: "Communication", value: "Clear" },
        { type: "SUB_RESULT", id: "system-design", label: "System design",
          score: { value: 18, max: 20 }, status: "COMPLETED" },
        { type: "SUB_RESULT", id: "vendor-logic", label: "Logic puzzle",
          score: { value: 7, max: 10 }, status: "CANCELLED" },
      ],
      attachments: [
        { name: "Report.pdf", content_type: "application/pdf", data: REPORT.toString("base64") },
        { name: "Recording.mp4", content_type: "video/mp4", data_url: `${vendor.base}/files/recording.mp4` },
      ],
      remote_fields: { smartrecruiters: { score_label: "Hire" } },
    },
  });
  assert.ok(answer.warnings.some((w) => w.message.includes("vendor-logic")), JSON.stringify(answer));

  const sr = await srOrder(company, orderId,
    (o) => o.result?.status === "COMPLETED" && o.attachments.length === 2, "COMPLETED with two files");
  const result = sr.result;
  assert.deepEqual(result.score, { raw: 43, min: 0, max: 50 }, "an integer score for SR");
  assert.equal(result.scoreLabel, "Hire");
  assert.equal(result.submissionDate, "2026-05-02T08:00:00Z");
  assert.deepEqual(result.assessmentResults.map((r) => r.assessmentId), ["system-design"]);
  assert.deepEqual(result.assessmentResults[0].score, { raw: 18, min: 0, max: 20 });
  assert.equal(result.summary, "Communication: Clear\nLogic puzzle: 7/10, REJECTED");
  const files = Object.fromEntries(sr.attachments.map((f) => [f.fileName, f]));
  const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
  assert.equal(files["Report.pdf"].sha256, sha256(REPORT));
  assert.equal(files["Recording.mp4"].sha256, sha256(RECORDING));
  assert.equal(files["Recording.mp4"].contentType, "video/mp4");
});

test("an invalid submission is the SDK's API error with the message", async () => {
  await putCatalogOverHttp(company, FULL_CATALOG);
  const orderId = await placeOrder(company, "behavioral");
  await assert.rejects(
    sdk(company).assessment.updateOrderResult({
      assessment_order_id: orderId,
      body: { status: "COMPLETED", result_url: "https://v.example.com/r", score: 12, max_score: 10 },
    }),
    (error) => {
      assert.ok(error instanceof KomboAtsError, `${error?.name}: ${error?.message}`);
      assert.equal(error.error.code, "PLATFORM.INPUT_INVALID");
      assert.match(error.message, /score 12 is outside \[0, 10\]/);
      return true;
    },
  );
  const sr = await srOrder(company, orderId, () => true, "the order");
  assert.equal(sr.result, null, "nothing reached SR");
  await assert.rejects(
    sdk(company, { apiKey: "not-the-key" }).assessment.getPackages(),
    (error) => error instanceof KomboAtsError && error.error.code === "PLATFORM.AUTHENTICATION_INVALID",
  );
});

test("every error code the connector answers is one of Kombo's", async () => {
  const { readFile } = await import("node:fs/promises");
  const source = await readFile(path.join(ROOT, "shared/src/kombo/errors.rs"), "utf8");
  const answered = new Set(source.match(/"(?:PLATFORM|INTEGRATION|REMOTE)\.[A-Z_]+"/g).map((c) => JSON.parse(c)));
  assert.ok(answered.size >= 10);
  const kombo = new Set(Object.values(KomboAtsErrorCode));
  for (const code of answered) assert.ok(kombo.has(code), code);
});

/** `X-Kombo-Signature` as README's "Webhooks" documents it. */
function kombosSignatureMatches(secret, header, body) {
  const expected = Buffer.from(createHmac("sha256", secret).update(body).digest("base64url"));
  const given = Buffer.from(String(header).trim().replace(/=+$/, ""));
  return expected.length === given.length && timingSafeEqual(expected, given);
}

test("Kombo webhooks verify and parse with the SDK's models and validateWebhook", async () => {
  vendor.webhooks.length = 0;
  const story = await komboFixture("webhooks", `${vendor.base}/hooks`);
  const kombo = sdk(company);
  const received = new Map();
  for (const { headers, body } of vendor.webhooks) {
    assert.ok(kombosSignatureMatches(story.signing_secret, headers["x-kombo-signature"], body));
    assert.ok(!kombosSignatureMatches(story.signing_secret, headers["x-kombo-signature"],
      Buffer.from(body.toString().replace("OPEN", "DONE"))));
    received.set(JSON.parse(body).data.id, { headers, body });
  }

  const validated = async ({ headers, body }) => {
    // validateWebhook (1.1.3) parses the request text as {"X-Kombo-Signature", body}; no
    // webhook of Kombo's has that shape, so it gets the envelope its own schema describes,
    // built from the request (README "Webhooks").
    const envelope = { "X-Kombo-Signature": headers["x-kombo-signature"], body: JSON.parse(body) };
    return kombo.validateWebhook({ request: {
      body: JSON.stringify(envelope), method: "POST", url: `${vendor.base}/hooks`,
      headers: { "content-type": "application/json" } } });
  };

  const order = received.get(story.order_id);
  // The request as it arrived is refused, as a webhook of Kombo's own is (README): if a later
  // SDK parses real webhooks, this fails and the envelope above can go.
  await assert.rejects(
    kombo.validateWebhook({ request: { body: order.body.toString(), method: "POST",
      url: `${vendor.base}/hooks`, headers: order.headers } }),
    /No matching schema/,
  );
  const parsed = assessmentOrderReceivedWebhookPayloadFromJSON(order.body.toString());
  assert.ok(parsed.ok, String(parsed.error));
  assert.equal(parsed.value.type, "assessment:order-received");
  assert.equal(parsed.value.data.package_id, "assessed");
  assert.equal(parsed.value.data.job.location.country, "SE");
  assert.deepEqual(parsed.value.data.job.hiring_team[0].hiring_team_roles, ["HIRING_MANAGER"]);
  const viaValidate = await validated(order);
  assert.equal(viaValidate.body.type, "assessment:order-received");
  assert.equal(viaValidate.x_kombo_signature, order.headers["x-kombo-signature"]);

  // An order whose enrichment was given up: sent with what SR's order carries, nulls elsewhere.
  const neverEnriched = assessmentOrderReceivedWebhookPayloadFromJSON(
    received.get(story.never_enriched_order_id).body.toString());
  assert.ok(neverEnriched.ok, String(neverEnriched.error));
  assert.equal(neverEnriched.value.data.candidate.first_name, "Ada");
  assert.equal(neverEnriched.value.data.job.location ?? null, null);

  for (const id of [story.inline_order_id, story.asked_order_id]) {
    const inline = received.get(id);
    const payload = inlineAssessmentOrderReceivedWebhookPayloadFromJSON(inline.body.toString());
    assert.ok(payload.ok, String(payload.error));
    assert.equal(payload.value.type, "inline-assessment:order-received");
    assert.equal(payload.value.data.candidate.remote_id, null);
    assert.equal((await validated(inline)).body.type, "inline-assessment:order-received");
  }
  assert.deepEqual(story.asked_order_answer, {
    status: 200, body: { url: `https://assess.example.com/ts/${story.asked_order_id}` },
  });
});
