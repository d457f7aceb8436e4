import superjson from "superjson";

/**
 * The browser side's memory of the proxy's answers: one entry per question (the snapshot,
 * each check), shared by every hook that asks it, fetched once at a time, refreshed on
 * demand. Plain subscribe/getSnapshot, read by `useSyncExternalStore`: no query library.
 */

export interface QueryState<T> {
  data: T | undefined;
  error: BillingProxyError | undefined;
  loading: boolean;
}

/** A non-200 answer from the proxy (401 not signed in, 503 billing unreachable, …). */
export class BillingProxyError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "BillingProxyError";
  }
}

const IDLE: QueryState<never> = { data: undefined, error: undefined, loading: true };

export class BillingStore {
  private readonly states = new Map<string, QueryState<unknown>>();
  private readonly inFlight = new Map<string, Promise<void>>();
  /** The latest request per question: an older answer arriving later is dropped. */
  private readonly latest = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly endpoint: string,
    private readonly fetchImpl: typeof fetch = (...args) => globalThis.fetch(...args),
  ) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get<T>(query: string): QueryState<T> {
    return (this.states.get(query) as QueryState<T> | undefined) ?? IDLE;
  }

  /** Fetch a question unless it is answered or on its way. */
  ensure(query: string): void {
    if (!this.states.has(query) && !this.inFlight.has(query)) void this.load(query);
  }

  /**
   * Ask every known question again (after the app did something that changes usage), those
   * still on their way included: a new request each, since one already sent may predate the
   * change; whichever answer arrives last, the newest request's is kept.
   */
  async refresh(): Promise<void> {
    const queries = new Set([...this.states.keys(), ...this.inFlight.keys()]);
    await Promise.all([...queries].map((query) => this.load(query)));
  }

  private load(query: string): Promise<void> {
    const request = (this.latest.get(query) ?? 0) + 1;
    this.latest.set(query, request);
    const isLatest = () => this.latest.get(query) === request;
    const previous = this.states.get(query);
    if (previous) this.set(query, { ...previous, loading: true });
    const done: Promise<void> = this.fetchAnswer(query)
      .then(
        (data) => {
          if (isLatest()) this.set(query, { data, error: undefined, loading: false });
        },
        (error: unknown) => {
          if (isLatest()) this.set(query, { data: this.states.get(query)?.data, error: asProxyError(error), loading: false });
        },
      )
      .finally(() => {
        if (this.inFlight.get(query) === done) this.inFlight.delete(query);
      });
    this.inFlight.set(query, done);
    return done;
  }

  private async fetchAnswer(query: string): Promise<unknown> {
    const separator = this.endpoint.includes("?") ? "&" : "?";
    const response = await this.fetchImpl(`${this.endpoint}${separator}${query}`, {
      credentials: "same-origin",
      headers: { accept: "application/json" },
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = superjson.parse(text);
    } catch {
      throw new BillingProxyError(
        response.status,
        "bad_response",
        `The billing proxy answered HTTP ${response.status} with no billing body`,
      );
    }
    if (!response.ok) {
      const { error, message } = (body ?? {}) as { error?: string; message?: string };
      throw new BillingProxyError(response.status, error ?? "error", message ?? `HTTP ${response.status}`);
    }
    return body;
  }

  private set(query: string, state: QueryState<unknown>): void {
    this.states.set(query, state);
    for (const listener of this.listeners) listener();
  }
}

function asProxyError(error: unknown): BillingProxyError {
  if (error instanceof BillingProxyError) return error;
  return new BillingProxyError(0, "network_error", error instanceof Error ? error.message : String(error));
}
