/**
 * A fake OpenAI-compatible TTS server (`POST /v1/audio/speech`) on a random
 * loopback port: it records each request and answers with what the test set,
 * by default a WAV of a tone.
 */
import type { IncomingMessage, Server } from "node:http";
import { listenOnLoopback, RecordingServer } from "./recording-server";

export interface RecordedSpeech {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export interface FakeAnswer {
  status: number;
  body: Buffer | string;
  contentType?: string;
}

export class FakeTtsServer extends RecordingServer<RecordedSpeech> {
  /** What the next requests get; change it between calls. */
  answer: FakeAnswer = { status: 200, body: wavBytes(1.5), contentType: "audio/wav" };

  private constructor(server: Server, url: string) {
    super(server, url);
  }

  static async start(): Promise<FakeTtsServer> {
    const { server, url } = await listenOnLoopback();
    const fake = new FakeTtsServer(server, url);
    server.on("request", (request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        fake.record({
          method: request.method ?? "",
          path: request.url ?? "",
          headers: request.headers,
          body: text === "" ? undefined : JSON.parse(text),
        });
        response.writeHead(fake.answer.status, { "content-type": fake.answer.contentType ?? "application/json" });
        response.end(fake.answer.body);
      });
    });
    return fake;
  }

  /** An OpenAI-style error answer. */
  fail(status: number, message: string): void {
    this.answer = { status, body: JSON.stringify({ error: { message, type: "error" } }) };
  }
}

/**
 * A mono 16-bit PCM WAV of a 440 Hz tone. `streamed` writes the placeholder
 * sizes (0xFFFFFFFF) a server streaming its answer puts in the header, since
 * it cannot know the length when it sends it.
 */
export function wavBytes(seconds: number, options: { sampleRate?: number; streamed?: boolean } = {}): Buffer {
  const sampleRate = options.sampleRate ?? 24_000;
  const samples = Math.round(seconds * sampleRate);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    data.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / sampleRate) * 0.3 * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  const unknown = 0xffffffff;
  header.write("RIFF", 0, "ascii");
  header.writeUInt32LE(options.streamed ? unknown : 36 + data.length, 4);
  header.write("WAVEfmt ", 8, "ascii");
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36, "ascii");
  header.writeUInt32LE(options.streamed ? unknown : data.length, 40);
  return Buffer.concat([header, data]);
}
