import type { DodoBilling } from "./dodo-billing";
import { verifyWebhook, webhookVerifiers, type VerifyResult } from "./verify";
import type { HandleResult } from "./webhook-inbox";

/**
 * The webhook endpoint as a plain `(Request) => Response` function (web-standard types, no
 * Next): the route file only wires it to the environment. Order: size limit (413), signature
 * over the RAW body (401, nothing stored, one log line without the body), then the domain:
 * 200 for processed / duplicate / ignored / needs-attention, 500 for a failure so Dodo retries.
 */

export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export interface WebhookHandlerOptions {
  /** Webhook secrets (`whsec_…`); any of them may sign (key rotation). */
  keys: readonly string[];
  service: Pick<DodoBilling, "handleWebhook">;
  maxBytes?: number;
  log?: (line: string) => void;
}

/** Rejected deliveries since the process started, by reason (a counter for health pages). */
export const webhookRejections: Record<string, number> = {};

function json(status: number, body: Record<string, unknown>): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

class TooLarge extends Error {}

/** Reads the body as text, refusing (without buffering it all) more than `maxBytes`. */
async function readLimited(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw new TooLarge();
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new TooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function statusFor(result: HandleResult): number {
  return result.status === "failed" ? 500 : 200;
}

export function createWebhookHandler(options: WebhookHandlerOptions): (request: Request) => Promise<Response> {
  const verifiers = webhookVerifiers(options.keys);
  const maxBytes = options.maxBytes ?? MAX_WEBHOOK_BYTES;
  const log = options.log ?? ((line: string) => console.warn(line));
  const reject = (verdict: Exclude<VerifyResult, { ok: true }>, request: Request) => {
    webhookRejections[verdict.reason] = (webhookRejections[verdict.reason] ?? 0) + 1;
    const id = request.headers.get("webhook-id") ?? "-";
    log(`[dodo-webhook] rejected webhook-id=${id.slice(0, 100)} reason=${verdict.reason}: ${verdict.message}`);
    return json(401, { error: "invalid webhook signature", reason: verdict.reason });
  };

  return async (request) => {
    let rawBody: string;
    try {
      rawBody = await readLimited(request, maxBytes);
    } catch (error) {
      if (error instanceof TooLarge) {
        webhookRejections.too_large = (webhookRejections.too_large ?? 0) + 1;
        log(`[dodo-webhook] rejected webhook-id=${request.headers.get("webhook-id") ?? "-"} reason=too_large (over ${maxBytes} bytes)`);
        return json(413, { error: `body larger than ${maxBytes} bytes` });
      }
      throw error;
    }
    const verdict = verifyWebhook(rawBody, request.headers, verifiers);
    if (!verdict.ok) return reject(verdict, request);

    let result: HandleResult;
    try {
      result = await options.service.handleWebhook({ webhookId: verdict.webhookId, rawBody });
    } catch (error) {
      console.error(`[dodo-webhook] webhook-id=${verdict.webhookId} processing error: ${(error as Error).message}`);
      return json(500, { error: "processing failed" });
    }
    if (result.status === "failed") {
      console.error(`[dodo-webhook] webhook-id=${verdict.webhookId} failed: ${result.duplicate ? "" : result.error}`);
    }
    return json(statusFor(result), {
      webhookId: result.webhookId,
      status: result.status,
      duplicate: result.duplicate,
      ...(!result.duplicate && result.error && result.status !== "failed" ? { problem: result.error } : {}),
    });
  };
}
