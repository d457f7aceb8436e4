import type { Metadata } from "next";
import { NotBuiltYet } from "../_components/not-built-yet";
import { ROADMAP } from "../_lib/roadmap";

export const metadata: Metadata = { title: "Ledger" };

export default function LedgerPage() {
  return (
    <NotBuiltYet
      title="Ledger"
      what="the usage ledger history per organization and metric, with filters and CSV export for finance"
      tracking={ROADMAP.staffDashboard}
    />
  );
}
