/**
 * Tests that run in Node, not workerd: the GPU bridge's unit and runner tests,
 * and the end-to-end tests that start the Worker beside real bridge
 * processes. Files run one at a time: they spawn processes and ffmpeg, and the
 * machine has two cores.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["gpu-bridge/test/**/*.test.ts", "test/e2e/**/*.test.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
