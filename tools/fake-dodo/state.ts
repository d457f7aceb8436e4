import type { IngestedEvent } from "./ingest-validation";
import { subscriptionPayload, type DodoSubscription, type SubscriptionInit } from "./payloads";

/** What the fake Dodo holds: its subscriptions, the events it ingested, and the requests it answered. */

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
  events?: number;
}

export class FakeDodoState {
  readonly subscriptions = new Map<string, DodoSubscription>();
  readonly ingested = new Map<string, IngestedEvent>();
  /** How many ingest requests carried each event_id (more than 1: a resend Dodo ignored). */
  readonly deliveries = new Map<string, number>();
  readonly requests: RequestLogEntry[] = [];

  putSubscription(init: SubscriptionInit | DodoSubscription): DodoSubscription {
    const sub = subscriptionPayload(init as SubscriptionInit);
    this.subscriptions.set(sub.subscription_id, sub);
    return sub;
  }

  /** Stores the events not ingested before (like Dodo, which ignores a known event_id); returns how many were new. */
  ingest(events: readonly Omit<IngestedEvent, "received_at">[], receivedAt: string): number {
    let count = 0;
    for (const event of events) {
      this.deliveries.set(event.event_id, (this.deliveries.get(event.event_id) ?? 0) + 1);
      if (this.ingested.has(event.event_id)) continue;
      this.ingested.set(event.event_id, { ...event, received_at: receivedAt });
      count += 1;
    }
    return count;
  }

  /** Forgets everything, in place: whoever holds the maps sees them empty. */
  clear(): void {
    this.subscriptions.clear();
    this.ingested.clear();
    this.deliveries.clear();
    this.requests.length = 0;
  }
}
