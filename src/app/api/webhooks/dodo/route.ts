import { dodoWebhookHandler } from "@/server/billing/dodo";

// Dodo Payments webhooks (Standard Webhooks). A thin adapter: the handler reads the RAW
// body (≤ 1 MiB, else 413), verifies the signature with any configured key (else 401),
// and hands the event to DodoBilling (200 processed/duplicate/ignored; 500 on failure,
// so Dodo retries). See src/server/billing/dodo/webhook-handler.ts.
export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export async function POST(request: Request): Promise<Response> {
  return dodoWebhookHandler()(request);
}
