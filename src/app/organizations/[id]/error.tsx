"use client";

import { ErrorPanel } from "../../_components/error-panel";

export default function OrganizationError({ error, retry }: { error: unknown; retry: () => void }) {
  return (
    <>
      <h1>Organization</h1>
      <ErrorPanel title="The organization could not be loaded" error={error} retry={retry} />
    </>
  );
}
