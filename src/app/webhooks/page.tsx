import type { Metadata } from "next";
import { NotBuiltYet } from "../_components/not-built-yet";
import { ROADMAP } from "../_lib/roadmap";

export const metadata: Metadata = { title: "Webhooks" };

export default function WebhooksPage() {
  return (
    <NotBuiltYet
      title="Webhooks"
      what="Dodo Payments webhook deliveries, their processing status, errors and retries"
      tracking={ROADMAP.dodo}
    />
  );
}
