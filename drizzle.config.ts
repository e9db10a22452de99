import { defineConfig } from "drizzle-kit";

// drizzle-kit only generates SQL; wrangler applies it (see wrangler.toml migrations_dir).
export default defineConfig({
  dialect: "sqlite",
  schema: "./worker/db/schema.ts",
  out: "./migrations",
});
