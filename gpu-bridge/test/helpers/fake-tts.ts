/**
 * A fake OpenAI-compatible TTS server (`POST /v1/audio/speech`) on a random
 * loopback port: it records each request and answers with what the test set,
 * by default a WAV of a tone.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

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

export class FakeTtsServer {
  readonly requests: RecordedSpeech[] = [];
  /** What the next requests get; change it between calls. */
  answer: FakeAnswer = { status: 200, body: wavBytes(1.5), contentType: "audio/wav" };

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeTtsServer> {
    let fake: FakeTtsServer | undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        fake?.requests.push({
          method: request.method ?? "",
          path: request.url ?? "",
          headers: request.headers,
          body: text === "" ? undefined : JSON.parse(text),
        });
        const answer = fake?.answer ?? { status: 500, body: "not ready" };
        response.writeHead(answer.status, { "content-type": answer.contentType ?? "application/json" });
        response.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    fake = new FakeTtsServer(server, `http://127.0.0.1:${port}`);
    return fake;
  }

  /** An OpenAI-style error answer. */
  fail(status: number, message: string): void {
    this.answer = { status, body: JSON.stringify({ error: { message, type: "error" } }) };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
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
