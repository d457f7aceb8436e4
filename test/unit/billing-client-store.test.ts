import superjson from "superjson";
import { describe, expect, it } from "vitest";

import { BillingStore } from "../../packages/client/src/react/store";

/**
 * The React hooks' store (packages/client/src/react/store.ts) after the app changed usage:
 * `refresh()` must answer with a request sent AFTER the change, even when a request for the
 * same question (sent before it) is still on its way and arrives last. The proxy's answers
 * are released by hand so the order is the test's, not the network's.
 */

interface Pending {
  url: string;
  answer: (body: unknown) => void;
}

function controlledProxy() {
  const pending: Pending[] = [];
  const fetchImpl: typeof fetch = (input) =>
    new Promise<Response>((resolve) => {
      pending.push({ url: String(input), answer: (body) => resolve(new Response(superjson.stringify(body), { status: 200 })) });
    });
  return { pending, fetchImpl };
}

const QUERY = "op=check&action=member.add";

describe("BillingStore.refresh", () => {
  it("re-asks a question whose first answer is still on its way, and keeps the newer answer", async () => {
    const proxy = controlledProxy();
    const store = new BillingStore("/api/billing", proxy.fetchImpl);
    store.ensure(QUERY);
    expect(proxy.pending).toHaveLength(1);

    const refreshed = store.refresh(); // the app just consumed: the first request predates it
    expect(proxy.pending).toHaveLength(2);
    proxy.pending[1]?.answer({ allowed: false });
    await refreshed;
    expect(store.get(QUERY).data).toEqual({ allowed: false });

    proxy.pending[0]?.answer({ allowed: true }); // the stale answer arrives last
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.get(QUERY)).toEqual({ data: { allowed: false }, error: undefined, loading: false });
  });

  it("does not settle for a refresh that was already running before the change", async () => {
    const proxy = controlledProxy();
    const store = new BillingStore("/api/billing", proxy.fetchImpl);
    store.ensure(QUERY);
    proxy.pending[0]?.answer({ used: 1 });
    await new Promise((resolve) => setImmediate(resolve));

    const before = store.refresh(); // e.g. a refresh from another component
    const after = store.refresh(); // the one the app asked for after its change
    expect(proxy.pending).toHaveLength(3);
    proxy.pending[2]?.answer({ used: 2 });
    await after;
    expect(store.get(QUERY).data).toEqual({ used: 2 });
    proxy.pending[1]?.answer({ used: 1 });
    await before;
    expect(store.get(QUERY).data).toEqual({ used: 2 });
  });
});
