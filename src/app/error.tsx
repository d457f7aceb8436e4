"use client";

import { ErrorPanel } from "./_components/error-panel";

export default function RootError({ error, retry }: { error: unknown; retry: () => void }) {
  return <ErrorPanel title="This page could not be loaded" error={error} retry={retry} />;
}
