import { toNextJsHandler } from "better-auth/next-js";
import { staffAuth } from "@/server/auth";

// better-auth's endpoints (sign-in, sign-out, get-session, …) under /api/auth. The instance
// is created on the first request, never at import (so `next build` needs no database).
export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export const { GET, POST, PATCH, PUT, DELETE } = toNextJsHandler((request: Request) => staffAuth().handler(request));
