import { BillingProvider, UpgradePrompt, UsageMeter, useUsage } from "@ledger-policy/billing-client/react";
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";

/**
 * The tiny product app's page (bundled by server.ts with esbuild): what a product engineer
 * writes with the SDK's React entry. It talks only to its own backend — the billing proxy at
 * /api/billing and its invite route — never to the billing service, and holds no API key.
 */

/** What POST /api/invite answers (server.ts): the service's decision, in plain JSON. */
interface InviteAnswer {
  allowed: boolean;
  used: string | null;
  limit: string | null;
  message: string | null;
}

function InviteButton({ onInvited }: { onInvited: (answer: InviteAnswer) => void }) {
  const { refresh } = useUsage();
  const [pending, setPending] = useState(false);
  const invite = async () => {
    setPending(true);
    try {
      const response = await fetch("/api/invite", { method: "POST", credentials: "same-origin" });
      onInvited((await response.json()) as InviteAnswer);
      // The invite changed usage: ask the proxy again (every billing hook on the page refreshes).
      await refresh();
    } finally {
      setPending(false);
    }
  };
  return (
    <button type="button" onClick={() => void invite()} disabled={pending}>
      Invite a member
    </button>
  );
}

function App() {
  const [invites, setInvites] = useState<InviteAnswer[]>([]);
  const last = invites.at(-1);
  return (
    <main>
      <h1>Team settings</h1>
      <section aria-label="Members">
        <UsageMeter metric="members" label="Members" />
        <UpgradePrompt action="member.add" upgradeHref="/upgrade">
          <InviteButton onInvited={(answer) => setInvites((all) => [...all, answer])} />
        </UpgradePrompt>
        <p role="status" aria-label="Last invite">
          {last
            ? `Invite ${invites.length}: ${last.allowed ? `allowed, members ${last.used ?? "?"} of ${last.limit ?? "unlimited"}` : `denied (${last.message ?? "no reason"})`}`
            : "No invite yet"}
        </p>
      </section>
      <section aria-label="Single sign-on">
        <UpgradePrompt action="feature.sso" upgradeHref="/upgrade">
          <p>SSO is on for your organization.</p>
        </UpgradePrompt>
      </section>
    </main>
  );
}

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root");
createRoot(root).render(
  <StrictMode>
    <BillingProvider endpoint="/api/billing">
      <App />
    </BillingProvider>
  </StrictMode>,
);
