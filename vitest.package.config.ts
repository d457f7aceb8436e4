import { configDefaults, defineConfig } from "vitest/config";

import base from "./vitest.config";

// The client package as a stranger installs it (test/package/): build, pack, install, tsc
// under three module modes, then the app against the real route. Its own step of `npm test`
// (`npm run test:package`), not part of `test:unit`: it checks the package, not a database,
// so CI runs it once rather than again on the second database target. The base's settings
// (aliases, the fresh database, limits) with its own files: replaced, not merged.
export default defineConfig({
  ...base,
  test: { ...base.test, include: ["test/package/**/*.test.ts"], exclude: [...configDefaults.exclude] },
});
