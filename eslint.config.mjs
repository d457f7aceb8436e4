import js from "@eslint/js";
import tseslint from "typescript-eslint";

/** Imports of these top-level folders (any depth), e.g. "../../scripts/lib/args" or "../tools". */
const folders = (...names) => names.flatMap((name) => [`**/${name}`, `**/${name}/**`]);

// What never ships (tools/index.ts says why each folder exists): the app in src/ imports
// none of scripts/, tools/ or test/; a ruled file gets this pattern beside its own.
const NOT_SHIPPED = {
  group: folders("scripts", "tools", "test"),
  message: "src/ is the app: it must not import scripts/, tools/ or test/ (they import it).",
};

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      ".next/",
      ".next-*/",
      "test-results-*/",
      ".data/",
      "src/generated/",
      "test-results/",
      "playwright-report/",
      "next-env.d.ts",
      "packages/client/dist/",
      "packages/client/build/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": "off",
    },
  },
  {
    files: ["src/**/*.{ts,tsx}"],
    rules: { "no-restricted-imports": ["error", { patterns: [NOT_SHIPPED] }] },
  },
  {
    // One look for every list page (issue 16): tables and filter forms come from the shared
    // components, which the e2e check (e2e/list-pages-consistent.spec.ts) finds by data-ui.
    files: ["src/app/**/*.tsx"],
    ignores: ["src/app/_components/data-table.tsx", "src/app/_components/filter-form.tsx"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "JSXOpeningElement[name.name='table']",
          message: "Render tables with DataTable (src/app/_components/data-table.tsx): one table style for every page.",
        },
        {
          selector: "JSXOpeningElement[name.name='form']:has(JSXAttribute[name.name='role'][value.value='search'])",
          message: "Render filters with FilterForm (src/app/_components/filter-form.tsx): one filter form for every list page.",
        },
      ],
    },
  },
  {
    // The client package is installed into other apps: it carries nothing of this repository
    // (no `@/` alias, no path out of the package) and no server library.
    files: ["packages/client/src/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@/*", "../../*", "../../../*"],
              message: "packages/client is installed elsewhere: it cannot import the repository's sources.",
            },
            {
              group: ["@trpc/*", "@prisma/*", "zod", "next", "next/*", "pg"],
              message: "packages/client depends on superjson (and react) only.",
            },
          ],
        },
      ],
    },
  },
  {
    // tools/ serves both the scripts and the tests, so it imports neither.
    files: ["tools/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ group: folders("scripts", "test"), message: "tools/ is shared by scripts/ and test/: it imports neither." }] },
      ],
    },
  },
  {
    // The layers (ARCHITECTURE.md): the domain, the database and auth know nothing of the
    // transport (tRPC), the framework (Next) or the pages; only src/server/api may.
    files: ["src/server/**/*.{ts,tsx}"],
    ignores: ["src/server/api/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "next", message: "The domain does not know Next: keep it in src/server/api or src/app." }],
          patterns: [
            { group: ["@trpc/*"], message: "The domain does not know tRPC: throw a BillingError and let src/server/api map it." },
            { group: ["next/*"], message: "The domain does not know Next: keep it in src/server/api or src/app." },
            {
              group: ["@/server/api", "@/server/api/*", "**/server/api/**", "../api/*", "../../api/*"],
              message: "The domain must not import the API layer (it imports the domain).",
            },
            { group: ["@/app", "@/app/*", "@/trpc", "@/trpc/*"], message: "The domain must not import pages or the React tRPC client." },
            // This block replaces the src/** one for these files: keep its pattern.
            NOT_SHIPPED,
          ],
        },
      ],
    },
  },
);
