import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { newOrg, testDatabase, uniqueSuffix } from "../helpers/db";
import { envelope, orgState, startProductApi, type ProductApi, type ProductProcedure } from "../helpers/product-api";

/**
 * Regressions of "Hardening the product API", each over HTTP through the real route with a
 * raw body: hostile input is a typed 4xx with a reason, never a 500, and changes nothing.
 */

const { prisma } = testDatabase();
let api: ProductApi;
beforeAll(async () => {
  api = await startProductApi(prisma);
});
afterAll(() => api.close());

const INT64_MAX = 2n ** 63n - 1n;

/** A fresh org (free plan unless `productId`), optionally with some usage already counted. */
async function org(options: { productId?: string; apiCalls?: bigint } = {}): Promise<string> {
  const { id } = await newOrg(prisma);
  if (options.productId) {
    await prisma.subscription.create({
      data: {
        id: `sub_${uniqueSuffix()}`,
        orgId: id,
        productId: options.productId,
        status: "active",
        currentPeriodStart: new Date(Date.now() - 86_400_000),
        currentPeriodEnd: new Date(Date.now() + 29 * 86_400_000),
      },
    });
  }
  if (options.apiCalls) {
    const answer = await api.call(
      "billing.usage.increment",
      envelope(JSON.stringify({ orgId: id, metric: "api_calls", amount: Number(options.apiCalls), reason: "api_call" })),
    );
    expect(answer.status).toBe(200);
  }
  return id;
}

/** Sends `raw`, expects the typed refusal, and proves the orgs' usage did not change. */
async function refused(
  procedure: ProductProcedure,
  raw: string,
  expected: { status: number; code: string; reason: string | RegExp },
  orgIds: string[],
): Promise<{ message?: string }> {
  const before = await orgState(prisma, orgIds);
  const answer = await api.call(procedure, raw);
  expect({ status: answer.status, code: answer.error?.code }).toEqual({ status: expected.status, code: expected.code });
  expect(answer.error?.reason).toMatch(expected.reason);
  expect(await orgState(prisma, orgIds)).toEqual(before);
  return { message: (answer.body as { error?: { json?: { message?: string } } }).error?.json?.message };
}

const BAD_TEXT = { status: 400, code: "BAD_REQUEST", reason: "text_not_storable" };
const BAD_INPUT = { status: 400, code: "BAD_REQUEST", reason: "invalid_input" };

describe("1. text PostgreSQL cannot hold is refused at the edge", () => {
  it("a NUL in idempotencyKey, reason, metadata values or keys, or a lone surrogate: BAD_REQUEST, nothing written", async () => {
    const orgId = await org({ apiCalls: 3n });
    const inc = (fields: string) => envelope(`{"orgId":"${orgId}","metric":"api_calls","amount":1,"reason":"api_call"${fields}}`);
    for (const fields of [
      `,"idempotencyKey":"a\\u0000b"`,
      `,"metadata":{"note":"a\\u0000b"}`,
      `,"metadata":{"a\\u0000b":1}`,
      `,"metadata":{"deep":[{"x":["\\ud800"]}]}`,
      `,"metadata":{"\\udfffkey":1}`,
      `,"idempotencyKey":"x-\\udc00y"`,
    ]) {
      const { message } = await refused("billing.usage.increment", inc(fields), BAD_TEXT, [orgId]);
      expect(message).toMatch(/(idempotencyKey|metadata).*(NUL|UTF-16)/);
    }
    // reason is a stored text field too.
    await refused(
      "billing.usage.increment",
      envelope(`{"orgId":"${orgId}","metric":"api_calls","amount":1,"reason":"api\\u0000call"}`),
      BAD_TEXT,
      [orgId],
    );

    const consume = (fields: string) => envelope(`{"orgId":"${orgId}","action":"api.call"${fields}}`);
    await refused("billing.entitlements.consume", consume(`,"idempotencyKey":"a\\u0000b"`), BAD_TEXT, [orgId]);
    await refused("billing.entitlements.consume", consume(`,"idempotencyKey":"k1","metadata":{"n":"\\u0000"}`), BAD_TEXT, [orgId]);
    await refused("billing.entitlements.consume", consume(`,"idempotencyKey":"k2","metadata":{"n":"\\ud83d"}`), BAD_TEXT, [orgId]);

    const event = (fields: string) => `{"orgId":"${orgId}","metric":"api_calls","amount":1,"reason":"api_call"${fields}}`;
    for (const fields of [`,"idempotencyKey":"a\\u0000b"`, `,"metadata":{"n":"a\\u0000"}`, `,"metadata":{"n":"\\ud800"}`]) {
      // One good event beside the bad one: the request is refused as a whole, so neither is written.
      await refused("billing.usage.incrementMany", envelope(`{"events":[${event("")},${event(fields)}]}`), BAD_TEXT, [orgId]);
    }
  });

  it("two lone-surrogate keys are refused, not both rewritten to U+FFFD (the second would replay the first)", async () => {
    const orgId = await org();
    const inc = (key: string) =>
      envelope(`{"orgId":"${orgId}","metric":"members","amount":1,"reason":"member_added","idempotencyKey":"${key}"}`);
    await refused("billing.usage.increment", inc("x-\\ud800"), BAD_TEXT, [orgId]);
    await refused("billing.usage.increment", inc("x-\\udbff"), BAD_TEXT, [orgId]);
    // A well-formed astral key (a surrogate PAIR) is ordinary text and is stored as sent.
    const ok = await api.call("billing.usage.increment", inc("x-\\ud83d\\ude00"));
    expect(ok.status).toBe(200);
    expect(ok.data).toMatchObject({ entry: { idempotencyKey: "x-\u{1F600}" }, replayed: false });
  });
});

describe("2. one metadata rule for increment, consume and every event of incrementMany", () => {
  const bigintMeta = (path: string) => ({ values: { [path]: ["bigint"] }, v: 1 });

  it("a bigint, a circular reference or a deep array in one event's metadata rejects that event only", async () => {
    const orgId = await org();
    const event = (metadata: string) => `{"orgId":"${orgId}","metric":"api_calls","amount":1,"reason":"api_call","metadata":${metadata}}`;
    const hostile: [string, string, unknown, RegExp][] = [
      ["bigint", `{"n":"12"}`, bigintMeta("events.0.metadata.n"), /metadata\.n: .*JSON/],
      [
        "circular",
        `{"self":null}`,
        { referentialEqualities: { "events.0.metadata": ["events.0.metadata.self"] }, v: 1 },
        /metadata\.self: .*circular/,
      ],
      ["deep array", `{"a":${"[".repeat(40)}1${"]".repeat(40)}}`, undefined, /metadata\.a(\.0)+: .*deeper/],
    ];
    for (const [name, metadata, meta, message] of hostile) {
      const before = await orgState(prisma, [orgId]);
      const answer = await api.call(
        "billing.usage.incrementMany",
        envelope(`{"events":[${event(metadata)},${event(`{"ok":true}`)}]}`, meta),
      );
      expect(answer.status, name).toBe(200);
      const [bad, good] = (answer.data as { results: { status: string; reason?: { code: string; message: string } }[] }).results;
      expect(bad, name).toMatchObject({ status: "rejected", reason: { code: "invalid_input" } });
      expect(bad?.reason?.message, name).toMatch(message);
      expect(good?.status, name).toBe("applied");
      const after = await orgState(prisma, [orgId]);
      expect(after.ledger.length - before.ledger.length, name).toBe(1);
    }
    // atomic: the same bad event rejects the batch and writes nothing.
    await refused(
      "billing.usage.incrementMany",
      envelope(`{"events":[${event(`{"n":"12"}`)},${event("{}")}],"atomic":true}`, bigintMeta("events.0.metadata.n")),
      { status: 400, code: "BAD_REQUEST", reason: "batch_rejected" },
      [orgId],
    );
  });

  it("increment and consume refuse the same metadata with the same rule (BAD_REQUEST, zod path metadata…)", async () => {
    const orgId = await org();
    const cases: [string, unknown][] = [
      [`{"n":"12"}`, bigintMeta("metadata.n")],
      [`{"self":null}`, { referentialEqualities: { metadata: ["metadata.self"] }, v: 1 }],
      [`{"a":${"[".repeat(40)}1${"]".repeat(40)}}`, undefined],
      [`{"big":"${"x".repeat(20_000)}"}`, undefined],
    ];
    for (const [metadata, meta] of cases) {
      for (const [procedure, fields] of [
        ["billing.usage.increment", `"metric":"api_calls","amount":1,"reason":"api_call"`],
        ["billing.entitlements.consume", `"action":"api.call","idempotencyKey":"k-${uniqueSuffix()}"`],
      ] as const) {
        const raw = envelope(`{"orgId":"${orgId}",${fields},"metadata":${metadata}}`, meta);
        const before = await orgState(prisma, [orgId]);
        const answer = await api.call(procedure, raw);
        expect({ status: answer.status, code: answer.error?.code, reason: answer.error?.reason }).toEqual(BAD_INPUT);
        expect(answer.error?.zodIssues?.[0]?.path[0]).toBe("metadata");
        expect(await orgState(prisma, [orgId])).toEqual(before);
      }
    }
  });

  it("input nested deeper than any procedure accepts is refused before it is copied", async () => {
    const orgId = await org();
    const deep = `${"[".repeat(5_000)}1${"]".repeat(5_000)}`;
    await refused(
      "billing.usage.incrementMany",
      envelope(`{"events":[{"orgId":"${orgId}","metric":"api_calls","amount":1,"reason":"api_call","metadata":{"a":${deep}}}]}`),
      { status: 400, code: "BAD_REQUEST", reason: "input_too_deep" },
      [orgId],
    );
  });
});

describe("3. counts stay within 64 bits: one overflow rule", () => {
  it("increment past 2^63-1 is CONFLICT count_out_of_range", async () => {
    const orgId = await org({ apiCalls: 5n });
    const raw = envelope(JSON.stringify({ orgId, metric: "api_calls", amount: INT64_MAX.toString(), reason: "api_call" }));
    await refused("billing.usage.increment", raw, { status: 409, code: "CONFLICT", reason: "count_out_of_range" }, [orgId]);
  });

  it("incrementMany: the event that would overflow is rejected (count_out_of_range); atomic rejects the batch", async () => {
    const orgId = await org();
    const half = (2n ** 62n).toString();
    const events = JSON.stringify([0, 1].map(() => ({ orgId, metric: "api_calls", amount: half, reason: "api_call" })));
    await refused(
      "billing.usage.incrementMany",
      envelope(`{"events":${events},"atomic":true}`),
      { status: 400, code: "BAD_REQUEST", reason: "batch_rejected" },
      [orgId],
    );

    const answer = await api.call("billing.usage.incrementMany", envelope(`{"events":${events}}`));
    expect(answer.status).toBe(200);
    expect((answer.data as { results: unknown[] }).results).toMatchObject([
      { status: "applied" },
      { status: "rejected", reason: { code: "count_out_of_range" } },
    ]);
    const after = await orgState(prisma, [orgId]);
    expect(after.cache.find((c) => c.metric === "api_calls")?.count).toBe(half);
  });

  it("consume past 2^63-1 on a capped plan is a normal denial (limit_exceeded); on an unlimited one, count_out_of_range", async () => {
    const free = await org({ apiCalls: 7n });
    const consume = (orgId: string) =>
      envelope(JSON.stringify({ orgId, action: "api.call", amount: INT64_MAX.toString(), idempotencyKey: `k-${uniqueSuffix()}` }));
    const before = await orgState(prisma, [free]);
    const denied = await api.call("billing.entitlements.consume", consume(free));
    expect(denied.status).toBe(200);
    expect(denied.data).toMatchObject({ allowed: false, reason: { code: "limit_exceeded" }, replayed: false });
    const after = await orgState(prisma, [free]);
    expect({ ...after, denials: before.denials }).toEqual(before);
    expect(after.denials).toBe(before.denials + 1);
    // check agrees with consume.
    const check = await api.call(
      "billing.entitlements.check",
      envelope(JSON.stringify({ orgId: free, action: "api.call", amount: INT64_MAX.toString() })),
    );
    expect(check.data).toMatchObject({ allowed: false, reason: { code: "limit_exceeded" } });

    const unlimited = await org({ productId: "pdt_billing_enterprise", apiCalls: 7n });
    await refused("billing.entitlements.consume", consume(unlimited), { status: 409, code: "CONFLICT", reason: "count_out_of_range" }, [
      unlimited,
    ]);
  });
});

describe("4. one UUID rule, well-formed keys, cheap refusal of malformed superjson", () => {
  it("an upper-case org id is the same org for increment, incrementMany, consume, check and get", async () => {
    const orgId = await org();
    const upper = orgId.toUpperCase();
    const inc = await api.call(
      "billing.usage.increment",
      envelope(JSON.stringify({ orgId: upper, metric: "teams", amount: 1, reason: "team_created" })),
    );
    expect(inc.data).toMatchObject({ entry: { orgId }, count: 1n });
    const many = await api.call(
      "billing.usage.incrementMany",
      envelope(JSON.stringify({ events: [{ orgId: upper, metric: "teams", amount: 1, reason: "team_created", idempotencyKey: "t" }] })),
    );
    expect(many.data).toMatchObject({ results: [{ status: "applied", entry: { orgId } }] });
    // The same key under the lower-case id is the same key: a duplicate, not a second team.
    const again = await api.call(
      "billing.usage.incrementMany",
      envelope(JSON.stringify({ events: [{ orgId, metric: "teams", amount: 1, reason: "team_created", idempotencyKey: "t" }] })),
    );
    expect(again.data).toMatchObject({ results: [{ status: "duplicate", duplicateOf: "history" }] });
    const consumed = await api.call(
      "billing.entitlements.consume",
      envelope(JSON.stringify({ orgId: upper, action: "member.add", idempotencyKey: "m" })),
    );
    expect(consumed.data).toMatchObject({ allowed: true, entry: { orgId } });
    const check = await api.call("billing.entitlements.check", envelope(JSON.stringify({ orgId: upper, action: "team.create" })));
    expect(check.data).toMatchObject({ allowed: false, used: 2n });
    const get = await api.call("billing.usage.get", envelope(JSON.stringify({ orgId: upper })));
    expect(get.data).toMatchObject({ orgId });
  });

  it("malformed superjson meta is BAD_REQUEST malformed_superjson, for mutations and queries, nothing written", async () => {
    const orgId = await org({ apiCalls: 1n });
    const body = `{"orgId":"${orgId}","metric":"api_calls","amount":1,"reason":"api_call"}`;
    // Refused by the shape check, before superjson runs: its message names the meta field.
    // (Given to superjson, the first two recurse until the stack overflows: 5-60 ms of CPU.)
    const badShape: unknown[] = [
      { values: ["custom", "x"] },
      { values: { amount: ["bigint", "x"] } },
      { values: { amount: ["custom", "x"] } },
      { values: { amount: ["class", "Foo"] } },
      { values: { amount: [["symbol", "s"]] } },
      { values: { amount: ["map"] } },
      { values: "bigint" },
      { values: { amount: ["bigint"] }, v: "1" },
      { values: { amount: ["bigint"] }, extra: 1 },
      { referentialEqualities: 5 },
      { referentialEqualities: { orgId: "reason" } },
      ["values"],
    ];
    for (const meta of badShape) {
      const { message } = await refused(
        "billing.usage.increment",
        envelope(body, meta),
        { status: 400, code: "BAD_REQUEST", reason: "malformed_superjson" },
        [orgId],
      );
      expect(message).toMatch(/^Malformed superjson input: meta/);
    }
    // Well-shaped, but superjson cannot apply it to this json.
    for (const meta of [{ values: { "amount.__proto__": ["bigint"] } }, { values: { reason: ["bigint"] } }]) {
      await refused("billing.usage.increment", envelope(body, meta), { status: 400, code: "BAD_REQUEST", reason: "malformed_superjson" }, [
        orgId,
      ]);
    }
    await refused(
      "billing.usage.get",
      envelope(`{"orgId":"${orgId}"}`, { values: ["custom", "x"] }),
      { status: 400, code: "BAD_REQUEST", reason: "malformed_superjson" },
      [orgId],
    );
    // The well-formed meta the typed client sends still works.
    const ok = await api.call(
      "billing.usage.increment",
      envelope(`{"orgId":"${orgId}","metric":"api_calls","amount":"2","reason":"api_call"}`, { values: { amount: ["bigint"] }, v: 1 }),
    );
    expect(ok.data).toMatchObject({ count: 3n });
  });
});
