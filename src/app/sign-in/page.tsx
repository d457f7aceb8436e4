import type { Metadata } from "next";
import { redirect } from "next/navigation";

import { currentStaff } from "@/trpc/server";

import { safeNext } from "./safe-next";
import { SignInForm } from "./sign-in-form";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Sign in" };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

export default async function SignInPage({ searchParams }: { searchParams: SearchParams }) {
  const raw = (await searchParams).next;
  const next = safeNext(Array.isArray(raw) ? raw[0] : raw);
  // Already signed in: straight on.
  if (await currentStaff()) redirect(next);
  return (
    <>
      <h1>Sign in</h1>
      <p className="muted">Staff only. Ask an admin for an account.</p>
      <SignInForm next={next} />
    </>
  );
}
