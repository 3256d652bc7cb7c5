import WebSocket from 'ws';

/** A signalling socket in a test: what it received, in order, and a way to wait for the next of a kind. */
export interface TestSocket {
  ws: WebSocket;
  received: Record<string, unknown>[];
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(message: object): void;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Opens the signalling socket of a node listening at `origin` and sends the join message with `token`. */
export function signal(origin: string, token: string): TestSocket {
  const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/api/v1/video/signal`);
  const received: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void }[] = [];
  const consumed = new WeakSet<object>();
  ws.on('open', () => ws.send(JSON.stringify({ type: 'join', token })));
  ws.on('message', (raw) => {
    const m = JSON.parse(String(raw)) as Record<string, unknown>;
    received.push(m);
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) {
      consumed.add(m);
      waiters.splice(i, 1)[0]!.resolve(m);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return {
    ws,
    received,
    closed,
    next(type, timeoutMs = 5000) {
      const seen = received.find((m) => m.type === type && !consumed.has(m));
      if (seen) {
        consumed.add(seen);
        return Promise.resolve(seen);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} within ${timeoutMs} ms; got ${JSON.stringify(received)}`)), timeoutMs);
        waiters.push({
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
        });
      });
    },
    send: (message) => ws.send(JSON.stringify(message)),
    close: () => ws.close(),
  };
}
