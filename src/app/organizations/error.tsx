"use client";

import { ErrorPanel } from "../_components/error-panel";

export default function OrganizationsError({ error, retry }: { error: unknown; retry: () => void }) {
  return (
    <>
      <h1>Organizations</h1>
      <ErrorPanel title="The organizations could not be loaded" error={error} retry={retry} />
    </>
  );
}
