// A minimal QMP client for the sandbox VM's monitor socket: enough to run HMP commands
// (`info registers -a`, `info cpus`, `x/8i $pc`) through `human-monitor-command` when the
// VM stalls. QMP rather than HMP on the socket: replies are framed JSON, not a prompt to scrape.
import { connect, type Socket } from 'node:net';

export class QmpError extends Error {
  readonly code = 'SCHEDVM_QMP';
  constructor(message: string) {
    super(message);
    this.name = 'QmpError';
  }
}

interface QmpReply {
  return?: unknown;
  error?: { class: string; desc: string };
  event?: string;
  QMP?: unknown;
}

export class QmpClient {
  private buffered = '';
  private waiting: Array<(reply: QmpReply) => void> = [];
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new QmpError('the QMP socket closed')));
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, timeoutMs: number): Promise<QmpClient> {
    const socket = connect(path);
    const client = new QmpClient(socket);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      timeoutMs,
      `connecting to ${path}`,
    );
    await withTimeout(client.next(), timeoutMs, 'the QMP greeting');
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return client;
  }

  /** Runs a QMP command and resolves to its `return` value. */
  async execute(command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<unknown> {
    this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args } : { execute: command })}\n`);
    for (;;) {
      let reply: QmpReply;
      try {
        reply = await withTimeout(this.next(), timeoutMs, `QMP ${command}`);
      } catch (err) {
        // A late reply would answer the next command: the connection is done for.
        this.close();
        throw err;
      }
      if (reply.event !== undefined) continue;
      if (reply.error) throw new QmpError(`QMP ${command}: ${reply.error.class}: ${reply.error.desc}`);
      return reply.return;
    }
  }

  /** An HMP command's text output. */
  async human(commandLine: string, timeoutMs: number): Promise<string> {
    const out = await this.execute('human-monitor-command', { 'command-line': commandLine }, timeoutMs);
    return typeof out === 'string' ? out : '';
  }

  close(): void {
    this.socket.destroy();
  }

  private next(): Promise<QmpReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private onData(chunk: string): void {
    this.buffered += chunk;
    for (let eol = this.buffered.indexOf('\n'); eol >= 0; eol = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, eol).trim();
      this.buffered = this.buffered.slice(eol + 1);
      if (!line) continue;
      let reply: QmpReply;
      try {
        reply = JSON.parse(line) as QmpReply;
      } catch {
        continue;
      }
      // Replies nobody waits for (an event between commands) are dropped.
      this.waiting.shift()?.(reply);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QmpError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
