/**
 * Tests run inside workerd through @cloudflare/vitest-plugin, against the real
 * wrangler.toml bindings (D1, R2, Durable Objects) with the real migrations
 * applied in test/setup.ts. Secrets here are test-only values.
 */
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            JWT_SECRET: "test-jwt-secret-at-least-32-characters-long",
            EXCHANGE_SECRET: "test-exchange-secret-at-least-32-characters",
            // Retries become claimable at once, so retry tests wait on events, not on backoff.
            JOB_BACKOFF_BASE_MS: "1",
            JOB_BACKOFF_MAX_MS: "5",
            // The smallest part R2 multipart allows, and a cap a test can exceed without sending bytes.
            UPLOAD_PART_BYTES: String(5 * 1024 * 1024),
            UPLOAD_MAX_BYTES: String(64 * 1024 * 1024),
            // Seals capacity-account credentials (32 bytes, base64url); a test-only key.
            ACCOUNTS_ENCRYPTION_KEY: "dGVzdC1vbmx5LWFjY291bnRzLWtleS0zMi1ieXRlcyE",
            // RunPod's API in tests is the fake in test/helpers/fake-runpod.ts, answering at this origin.
            RUNPOD_API_URL: "https://runpod.fake/v1",
            // Where deployed bridges connect (a RunPod deploy requires it); the tests' own origin.
            PUBLIC_URL: "https://edge.test",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      // End-to-end tests drive real processes from Node: vitest.node.config.ts runs them.
      exclude: ["test/e2e/**"],
      setupFiles: ["./test/setup.ts"],
    },
  };
});
