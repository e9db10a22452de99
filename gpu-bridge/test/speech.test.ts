/**
 * speech.synthesize@1: espeak-ng for real (voices checked, text passed
 * safely), and the remote adapter against a fake OpenAI-style server
 * (request shape, error mapping, a streamed WAV's placeholder sizes).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JOB_TYPES } from "../../worker/contracts/job-types";
import { JobError } from "../src/errors";
import { createSpeechHandler, speechHandler } from "../src/handlers/speech";
import type { Handler, HandlerContext, HandlerResult, ProgressUpdate } from "../src/handlers/types";
import { loadTtsConfig } from "../src/speech/config";
import { espeakVoices, parseVoiceTable } from "../src/speech/espeak";
import { newJob } from "./helpers/fake-api";
import { FakeTtsServer, wavBytes } from "./helpers/fake-tts";
import { must } from "./helpers/must";

const run = promisify(execFile);
const facts = must(JOB_TYPES.synthesize_speech.facts);
const SENTENCE = "The quick brown fox jumps over the lazy dog, then takes a well deserved nap.";
let dir = "";

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "speech-test-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function speak(
  params: Record<string, unknown>,
  handler: Handler = speechHandler,
  progress: ProgressUpdate[] = [],
): Promise<{ result: HandlerResult; output: string }> {
  const context: HandlerContext = {
    job: { ...newJob({}), job_type: "synthesize_speech", params },
    inputs: new Map(),
    scratchDir: await mkdtemp(path.join(dir, "job-")),
    signal: new AbortController().signal,
    progress: (update) => progress.push(update),
  };
  const result = await handler.run(context);
  return { result, output: must(result.outputs?.[0], "an output").path };
}

async function wavInfo(file: string): Promise<{ codec: string; format: string; durationMs: number }> {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-show_entries", "stream=codec_name:format=format_name,duration", "-of", "json", file],
  ]);
  const probe = JSON.parse(stdout) as {
    streams: { codec_name: string }[];
    format: { format_name: string; duration: string };
  };
  return {
    codec: must(probe.streams[0]).codec_name,
    format: probe.format.format_name,
    durationMs: Number(probe.format.duration) * 1000,
  };
}

describe("speech.synthesize@1 with espeak-ng", () => {
  it("detects espeak-ng and says there is no remote TTS", async () => {
    const detection = await createSpeechHandler({}).detect();
    expect(detection.available).toBe(true);
    expect(detection.detail).toMatch(/^eSpeak NG.*; no remote TTS \(GPU_BRIDGE_TTS_URL is not set\)$/);
  });

  it("speaks a sentence as a WAV of plausible length, and says it is not a model", async () => {
    const progress: ProgressUpdate[] = [];
    const { result, output } = await speak({ text: SENTENCE }, speechHandler, progress);
    const parsed = facts.parse(result.facts);
    expect(parsed).toMatchObject({ provider: "local", voice: "en", is_model: false });
    // 15 words at 175 words a minute: about 5 s.
    expect(parsed.duration_ms).toBeGreaterThan(3000);
    expect(parsed.duration_ms).toBeLessThan(9000);
    const info = await wavInfo(output);
    expect(info).toMatchObject({ codec: "pcm_s16le", format: "wav" });
    expect(Math.abs(info.durationMs - parsed.duration_ms)).toBeLessThanOrEqual(1);
    expect(result.outputs).toEqual([{ kind: "audio", path: output, contentType: "audio/wav" }]);
    expect(progress.map((p) => p.stage)).toEqual(["synthesizing", "verifying", "verifying"]);
  });

  it("speaks faster at a higher rate", async () => {
    const [slow, fast] = await Promise.all([
      speak({ text: SENTENCE, speed: 120 }),
      speak({ text: SENTENCE, speed: 350 }),
    ]);
    expect(Number(fast.result.facts?.duration_ms)).toBeLessThan(Number(slow.result.facts?.duration_ms) * 0.6);
  });

  it("takes text that looks like options or shell as plain text", async () => {
    const text = `--help -w /tmp/x 'quoted' "double" $(rm -rf /) \`id\`; echo | cat\nsecond line`;
    const { result } = await speak({ text, voice: "en-us+f3" });
    expect(result.facts).toMatchObject({ voice: "en-us+f3" });
    expect(Number(result.facts?.duration_ms)).toBeGreaterThan(2000);
  });

  it("rejects a voice espeak-ng does not have, not retryable", async () => {
    const error = await speak({ text: "hello", voice: "xx-klingon" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobError);
    expect(error).toMatchObject({ code: "invalid_params", retryable: false });
    expect((error as Error).message).toMatch(/xx-klingon/);
  });

  it("knows languages, names, files and variants from espeak-ng's tables", async () => {
    const voices = await espeakVoices();
    for (const voice of ["en", "en-us", "English_(America)", "gmw/en-US", "en+f3", "de"])
      expect(voices).toContain(voice);
    const table = [
      "Pty Language       Age/Gender VoiceName          File                 Other Languages",
      " 5  cmn             --/M      Chinese_(Mandarin) sit/cmn              (zh-cmn 5)(zh 5)",
    ].join("\n");
    expect(parseVoiceTable(table)).toEqual(["cmn", "Chinese_(Mandarin)", "sit/cmn", "zh-cmn", "zh"]);
  });

  it("rejects an unknown provider, and a remote one this bridge has no configuration for", async () => {
    const unknown = await speak({ text: "hi", provider: "elsewhere" }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: "invalid_params", retryable: false });
    const remote = await speak({ text: "hi", provider: "remote" }, createSpeechHandler({})).catch((e: unknown) => e);
    expect(remote).toMatchObject({ code: "provider_unavailable", retryable: false });
  });
});

describe("speech.synthesize@1 with a remote OpenAI-compatible TTS", () => {
  let server: FakeTtsServer;
  let handler: Handler;
  const env = () => ({
    GPU_BRIDGE_TTS_URL: `${server.url}/`,
    GPU_BRIDGE_TTS_API_KEY: "sk-test-secret",
    GPU_BRIDGE_TTS_MODEL: "tts-test",
    GPU_BRIDGE_TTS_VOICE: "alloy",
  });

  beforeEach(async () => {
    server = await FakeTtsServer.start();
    handler = createSpeechHandler(env());
  });

  afterEach(async () => {
    await server.close();
  });

  it("posts the OpenAI speech request and returns the answer as a verified WAV", async () => {
    const { result, output } = await speak({ text: SENTENCE, provider: "remote", speed: 350 }, handler);
    expect(server.requests).toHaveLength(1);
    const request = must(server.requests[0]);
    expect(request).toMatchObject({ method: "POST", path: "/v1/audio/speech" });
    expect(request.headers.authorization).toBe("Bearer sk-test-secret");
    expect(request.body).toEqual({
      model: "tts-test",
      input: SENTENCE,
      voice: "alloy",
      response_format: "wav",
      speed: 2,
    });
    expect(facts.parse(result.facts)).toEqual({
      duration_ms: 1500,
      provider: "remote",
      voice: "alloy",
      is_model: true,
    });
    expect(result.metrics).toMatchObject({ model: "tts-test" });
    expect(await wavInfo(output)).toMatchObject({ codec: "pcm_s16le", format: "wav" });
  });

  it("passes a named voice through, and rewrites a streamed WAV's placeholder sizes", async () => {
    server.answer = { status: 200, body: wavBytes(2.5, { streamed: true }), contentType: "audio/wav" };
    const { result, output } = await speak({ text: "hi", provider: "remote", voice: "nova" }, handler);
    expect(server.requests[0]?.body).toMatchObject({ voice: "nova", speed: 1 });
    expect(result.facts).toMatchObject({ voice: "nova", duration_ms: 2500 });
    expect((await wavInfo(output)).durationMs).toBe(2500);
    const bytes = await readFile(output);
    expect(bytes.toString("ascii", 36, 40)).toBe("data"); // the plain 44-byte header
    expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
    expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44);
  });

  it("fails a refused key (401) as not retryable, with the server's message but never the key", async () => {
    server.fail(401, "Incorrect API key provided");
    const error = await speak({ text: "hi", provider: "remote" }, handler).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobError);
    expect(error).toMatchObject({ code: "tts_unauthorized", retryable: false });
    expect((error as Error).message).toMatch(/401: Incorrect API key provided/);
    expect((error as Error).message).not.toMatch(/sk-test-secret/);
  });

  it("fails throttling (429) and server errors (5xx) as retryable, a bad request (400) as not", async () => {
    server.fail(429, "Rate limit reached");
    expect(await speak({ text: "hi", provider: "remote" }, handler).catch((e: unknown) => e)).toMatchObject({
      code: "tts_throttled",
      retryable: true,
    });
    server.fail(503, "overloaded");
    expect(await speak({ text: "hi", provider: "remote" }, handler).catch((e: unknown) => e)).toMatchObject({
      code: "tts_unavailable",
      retryable: true,
    });
    server.fail(400, "voice must be one of alloy, nova");
    const rejected = await speak({ text: "hi", provider: "remote" }, handler).catch((e: unknown) => e);
    expect(rejected).toMatchObject({ code: "tts_rejected", retryable: false });
    expect((rejected as Error).message).toMatch(/voice must be one of/);
  });

  it("fails an answer that is not audio as not retryable", async () => {
    server.answer = { status: 200, body: "<html>a login page</html>", contentType: "text/html" };
    const error = await speak({ text: "hi", provider: "remote" }, handler).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "tts_bad_output", retryable: false });
  });

  it("fails an unreachable server as retryable", async () => {
    await server.close();
    const error = await speak({ text: "hi", provider: "remote" }, handler).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "tts_unreachable", retryable: true });
    server = await FakeTtsServer.start(); // afterEach closes it
  });

  it("reads its configuration from the environment, reporting bad variables without the key", () => {
    const bad = loadTtsConfig({
      GPU_BRIDGE_TTS_URL: "ftp://x",
      GPU_BRIDGE_TTS_API_KEY: "sk-secret",
      GPU_BRIDGE_TTS_TIMEOUT_S: "0",
    });
    expect(bad.remote).toBeNull();
    expect(bad.problem).toMatch(/GPU_BRIDGE_TTS_URL: expected an http\(s\) URL/);
    expect(bad.problem).toMatch(/GPU_BRIDGE_TTS_TIMEOUT_S/);
    expect(bad.problem).not.toMatch(/sk-secret/);
    // The key would cross the network in clear: refused, except to loopback or without a key.
    const clear = loadTtsConfig({ GPU_BRIDGE_TTS_URL: "http://tts.example", GPU_BRIDGE_TTS_API_KEY: "sk-secret" });
    expect(clear.remote).toBeNull();
    expect(clear.problem).toMatch(/GPU_BRIDGE_TTS_URL: plain http is only allowed to loopback/);
    expect(
      loadTtsConfig({ GPU_BRIDGE_TTS_URL: "http://127.0.0.1:9", GPU_BRIDGE_TTS_API_KEY: "k" }).remote,
    ).not.toBeNull();
    expect(loadTtsConfig({ GPU_BRIDGE_TTS_URL: "http://tts.example" }).remote).not.toBeNull();
    expect(loadTtsConfig({ GPU_BRIDGE_TTS_URL: "https://tts.example/api/" }).remote).toEqual({
      url: "https://tts.example/api",
      apiKey: undefined,
      model: "tts-1",
      defaultVoice: undefined,
      timeoutMs: 300_000,
    });
  });
});
