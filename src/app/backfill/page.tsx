import type { Metadata } from "next";
import { NotBuiltYet } from "../_components/not-built-yet";
import { ROADMAP } from "../_lib/roadmap";

export const metadata: Metadata = { title: "Backfill" };

export default function BackfillPage() {
  return (
    <NotBuiltYet
      title="Backfill"
      what="backfill runs moving existing usage onto the ledger, their progress, and the per-organization differences they found"
      tracking={ROADMAP.backfill}
    />
  );
}
