import { createContext, useContext, useEffect, useMemo, useRef, useSyncExternalStore, type ReactNode } from "react";

import type { Action, Metric } from "../catalogue";
import type { Decision, EntitlementSnapshot, SnapshotMetric } from "../types";
import { BillingStore, type BillingProxyError } from "./store";

const BillingContext = createContext<BillingStore | null>(null);

export interface BillingProviderProps {
  /** The product backend's `createBillingProxy` route, e.g. `/api/billing`. */
  endpoint: string;
  /** For tests or a custom transport; defaults to the browser's fetch. */
  fetch?: typeof fetch;
  children: ReactNode;
}

/**
 * Makes the billing hooks work below it; one per app. Its answers are kept while it lives:
 * give it `key={orgId}` where the signed-in org can change without a page load, so another
 * org's figures are never shown.
 */
export function BillingProvider({ endpoint, fetch: fetchImpl, children }: BillingProviderProps) {
  // The store lives as long as the endpoint: an inline `fetch` prop (a new function on every
  // render) must not throw the answers away, so the store reads the latest one from a ref.
  const fetchRef = useRef(fetchImpl);
  useEffect(() => {
    fetchRef.current = fetchImpl;
  }, [fetchImpl]);
  const store = useMemo(() => new BillingStore(endpoint, (...args) => (fetchRef.current ?? globalThis.fetch)(...args)), [endpoint]);
  return <BillingContext.Provider value={store}>{children}</BillingContext.Provider>;
}

function useStore(): BillingStore {
  const store = useContext(BillingContext);
  if (!store) throw new Error("Billing hooks need a <BillingProvider endpoint=…> above them");
  return store;
}

function useQuery<T>(query: string) {
  const store = useStore();
  useEffect(() => store.ensure(query), [store, query]);
  const state = useSyncExternalStore(
    store.subscribe,
    () => store.get<T>(query),
    () => store.get<T>(query),
  );
  return { ...state, refresh: () => store.refresh() };
}

export interface EntitlementState {
  /** undefined while the first answer is on its way (or when it failed). */
  allowed: boolean | undefined;
  decision: Decision | undefined;
  loading: boolean;
  error: BillingProxyError | undefined;
  /** Ask again (every billing hook on the page refreshes). */
  refresh: () => Promise<void>;
}

/** May the signed-in org do `action`? Decided by the service, through the backend's proxy. */
export function useEntitlement(action: Action, options: { amount?: bigint | number } = {}): EntitlementState {
  const amount = options.amount === undefined ? "" : `&amount=${String(options.amount)}`;
  const { data, error, loading, refresh } = useQuery<Decision>(`op=check&action=${encodeURIComponent(action)}${amount}`);
  return { allowed: data?.allowed, decision: data, loading, error, refresh };
}

export interface UsageState {
  snapshot: EntitlementSnapshot | undefined;
  loading: boolean;
  error: BillingProxyError | undefined;
  /** One metric's figures from the snapshot. */
  metric: (metric: Metric) => SnapshotMetric | undefined;
  refresh: () => Promise<void>;
}

/** The signed-in org's plan, usage and features, as of one read on the service. */
export function useUsage(): UsageState {
  const { data, error, loading, refresh } = useQuery<EntitlementSnapshot>("op=snapshot");
  return { snapshot: data, loading, error, refresh, metric: (metric) => data?.metrics.find((m) => m.metric === metric) };
}
