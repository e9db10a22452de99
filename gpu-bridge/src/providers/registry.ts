/**
 * The providers a job can name in `params.provider`: "local" always, the
 * remote ones when their environment configures them.
 */
import { JobError } from "../errors";
import { createComfyUiProvider } from "./comfyui";
import { loadProviderConfig } from "./config";
import { createLocalProvider } from "./local";
import { createReplicateProvider } from "./replicate";
import type { Provider } from "./types";

export interface ProviderRegistry {
  /** The named provider, or JobError provider_unavailable (not retryable) naming those there are. */
  get(name: string): Provider;
  names(): string[];
}

export interface RegistryOptions {
  /** Between polls of remote jobs; tests shorten it. */
  pollIntervalMs?: number;
}

export function createProviderRegistry(env: NodeJS.ProcessEnv, options: RegistryOptions = {}): ProviderRegistry {
  const config = loadProviderConfig(env);
  const remote = { timeoutMs: config.timeoutMs, pollIntervalMs: options.pollIntervalMs };
  const providers = new Map<string, Provider>([["local", createLocalProvider()]]);
  if (config.replicate) providers.set("replicate", createReplicateProvider(config.replicate, remote));
  if (config.comfyui) providers.set("comfyui", createComfyUiProvider(config.comfyui, remote));
  return {
    get(name) {
      const provider = providers.get(name);
      if (provider) return provider;
      const problems = config.problems.filter((p) => p.startsWith(`${name}:`));
      const why =
        problems.length > 0 ? `it is misconfigured (${problems.join("; ")})` : "it is not configured on this bridge";
      throw new JobError(
        "provider_unavailable",
        `provider ${JSON.stringify(name)} is unavailable: ${why}; available: ${[...providers.keys()].join(", ")}`,
        false,
      );
    },
    names: () => [...providers.keys()],
  };
}
