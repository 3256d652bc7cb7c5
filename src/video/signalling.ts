import { randomUUID } from 'node:crypto';
import websocket from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { AppError } from '../errors.js';
import { textFault } from '../http/input-text.js';
import type { Logger } from 'pino';
import type { LocalParticipant, RoomRelay, ServerMessage, WaitingPatient } from './relay.js';
import type { Presence, RoomRef, RoomSnapshot, RoomStore } from './rooms.js';
import type { JoinClaims, VideoTokens, VideoRole } from './tokens.js';
import { SIGNAL_PATH, type VideoVisits } from './visits.js';

/**
 * The signalling socket (`GET /api/v1/video/signal`, WebSocket). The first message is `{type:"join", token}`;
 * the token says which room and as whom, so the URL carries nothing a log could keep. After it:
 *
 *   provider → `admit {patientId}`, `signal {data}`, `chat {text}`, `ping`
 *   patient  → `signal {data}` and `chat {text}` once admitted, `ping`
 *
 * and the server sends `welcome`, `waiting`, `admitted`, `peer`, `signal`, `chat`, `ended`, `error` (relay.ts).
 * A waiting patient can send nothing to the provider but its arrival: offers, candidates and chat from it are
 * refused until it is admitted. Closing codes: 4400 bad message, 4401 bad or expired token, 4404 no such room
 * for this token, 4409 the visit has ended, 4408 no join in time.
 *
 * Sockets of one room may sit on different API nodes: messages go through `RoomRelay` (the bus), state through
 * the `RoomStore` (Redis). A node that restarts drops its sockets; the clients reconnect (with a fresh token) to
 * any node and find the room as it was, admitted patients straight back in the call.
 */
export interface SignallingDeps {
  visits: VideoVisits;
  tokens: VideoTokens;
  rooms: RoomStore;
  relay: RoomRelay;
  log: Logger;
}

const JOIN_WITHIN_MS = 5000;
const HEARTBEAT_MS = 10_000;
const MAX_CHAT_BYTES = 2000;
const MAX_MESSAGE_BYTES = 64 * 1024;

interface Held extends LocalParticipant {
  room: RoomRef;
  presence: Presence;
  admitted: boolean;
  socket: WebSocket;
}

const closeCode = (err: unknown): [number, string] => {
  if (err instanceof AppError) {
    if (err.status === 401) return [4401, err.code];
    if (err.status === 404) return [4404, err.code];
    if (err.status === 409) return [4409, err.code];
    if (err.status === 400) return [4400, err.code];
  }
  return [1011, 'server_error'];
};

export function waitingOf(s: RoomSnapshot): WaitingPatient[] {
  return s.presence
    .filter((p) => p.role === 'patient' && !s.admitted[p.participantId])
    .map((p) => ({ patientId: p.participantId, since: new Date(p.since).toISOString() }));
}

const other = (role: VideoRole): VideoRole => (role === 'provider' ? 'patient' : 'provider');

export const signallingRoutes =
  (d: SignallingDeps): FastifyPluginAsync =>
  async (app) => {
    const held = new Set<Held>();
    await app.register(websocket, {
      options: { maxPayload: MAX_MESSAGE_BYTES },
      // A node shutting down takes its participants out of their rooms itself, while it still reaches Redis, so
      // the other side hears at once that they left; and it says why it closes (1012, "service restart"), so the
      // browsers reconnect to another node straight away. (The plugin's default closes without a code, 1005.)
      preClose(done) {
        const leaving = [...held].map((h) => leave(h).catch((err) => d.log.warn({ err }, 'video leave failed')));
        for (const client of this.websocketServer.clients) client.close(1012, 'server_restart');
        void Promise.allSettled(leaving).then(() => this.websocketServer.close(() => done()));
      },
    });
    // Presence is refreshed while a socket is open, and sockets that stopped answering pings are closed: a
    // participant whose network vanished leaves the room within a heartbeat or two, on every node's view.
    const heartbeat = setInterval(() => {
      const now = Date.now();
      for (const h of held) {
        if ((h.socket as WebSocket & { alive?: boolean }).alive === false) {
          h.socket.terminate();
          continue;
        }
        (h.socket as WebSocket & { alive?: boolean }).alive = false;
        h.socket.ping();
        h.presence.seenAt = now;
        d.rooms.put(h.room, h.presence).catch(() => {});
      }
    }, HEARTBEAT_MS);
    heartbeat.unref();
    app.addHook('onClose', async () => clearInterval(heartbeat));

    app.get(SIGNAL_PATH, { websocket: true, config: { public: true }, schema: { hide: true } }, (socket) => {
      const connection = randomUUID();
      let me: Held | null = null;
      let queue: Promise<void> = Promise.resolve();
      let closing = false;
      const deadline = setTimeout(() => socket.close(4408, 'join_timeout'), JOIN_WITHIN_MS);
      const send = (m: ServerMessage) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m));
      };
      const fail = (err: unknown) => {
        const [code, reason] = closeCode(err);
        if (code === 1011) d.log.error({ err }, 'video signalling failed');
        send({ type: 'error', code: reason });
        socket.close(code, reason);
      };
      (socket as WebSocket & { alive?: boolean }).alive = true;
      socket.on('pong', () => {
        (socket as WebSocket & { alive?: boolean }).alive = true;
      });

      socket.on('message', (raw) => {
        let msg: Record<string, unknown>;
        try {
          const parsed: unknown = JSON.parse(String(raw));
          if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
          msg = parsed as Record<string, unknown>;
        } catch {
          return fail(new AppError(400, 'invalid_message', 'Messages are JSON objects'));
        }
        if (closing) return;
        // One message at a time, in order: what arrives while the join is still being checked waits for it.
        queue = queue
          .then(async () => {
            if (me) return handle(me, msg);
            if (msg.type !== 'join' || typeof msg.token !== 'string' || msg.token.length > 4096)
              throw new AppError(400, 'join_first', 'The first message is {type:"join", token}');
            me = await join(msg.token);
            clearTimeout(deadline);
          })
          .catch((err) => {
            closing = true;
            fail(err);
          });
      });

      socket.on('close', () => {
        clearTimeout(deadline);
        if (me && held.has(me)) leave(me).catch((err) => d.log.warn({ err }, 'video leave failed'));
      });

      async function join(token: string): Promise<Held> {
        const claims: JoinClaims = await d.tokens.verifyJoin(token);
        const room = await d.visits.admitSocket(claims);
        const now = Date.now();
        const before = await d.rooms.get(room, now);
        const earlier = before.presence.find((p) => p.participantId === claims.participantId);
        const admitted = claims.role === 'provider' || Boolean(before.admitted[claims.participantId]);
        const presence: Presence = {
          participantId: claims.participantId,
          role: claims.role,
          state: admitted ? 'admitted' : 'waiting',
          since: earlier?.since ?? now,
          seenAt: now,
          connection,
        };
        if (socket.readyState !== socket.OPEN) throw new AppError(400, 'closed', 'The socket closed while joining');
        await d.rooms.put(room, presence);
        const h: Held = {
          connection,
          participantId: claims.participantId,
          role: claims.role,
          room,
          presence,
          admitted,
          socket,
          send: (m) => {
            if (m.type === 'admitted' && h.role === 'patient') {
              h.admitted = true;
              h.presence.state = 'admitted';
            }
            if (m.type === 'ended') {
              send(m);
              socket.close(4409, 'visit_ended');
              return;
            }
            send(m);
          },
        };
        d.relay.attach(room, h);
        held.add(h);
        const state = await d.rooms.get(room, now);
        const peer = state.presence.find((p) => p.role === other(claims.role));
        const patientIn = state.presence.some((p) => p.role === 'patient' && state.admitted[p.participantId]);
        send({
          type: 'welcome',
          role: claims.role,
          state: admitted ? 'admitted' : 'waiting',
          peerPresent: claims.role === 'provider' ? patientIn : admitted && Boolean(peer),
          waiting: claims.role === 'provider' ? waitingOf(state) : [],
        });
        if (claims.role === 'patient' && !admitted) await d.relay.send(room, 'provider', { type: 'waiting', waiting: waitingOf(state) });
        else await d.relay.send(room, other(claims.role), { type: 'peer', event: 'joined', role: claims.role }, connection);
        // The outbox write does not hold up the participant's next message.
        d.visits
          .record(room.clinicId, 'video.joined', { appointmentId: room.appointmentId, role: claims.role })
          .catch((err) => d.log.warn({ err }, 'video joined event not written'));
        return h;
      }
    });

    async function handle(me: Held, msg: Record<string, unknown>): Promise<void> {
      switch (msg.type) {
        case 'ping':
          return me.send({ type: 'signal', data: { pong: true } });
        case 'signal':
          if (!me.admitted) throw new AppError(409, 'not_admitted', 'Wait to be admitted');
          return d.relay.send(me.room, other(me.role), { type: 'signal', data: msg.data ?? null }, me.connection);
        case 'chat': {
          if (!me.admitted) throw new AppError(409, 'not_admitted', 'Wait to be admitted');
          const text = typeof msg.text === 'string' ? msg.text.trim() : '';
          if (!text || textFault(text, MAX_CHAT_BYTES)) throw new AppError(400, 'invalid_text', 'Chat text must be 1–2000 bytes of text');
          return d.relay.send(me.room, '*', { type: 'chat', from: me.role, text, at: new Date().toISOString() }, me.connection);
        }
        case 'admit': {
          if (me.role !== 'provider') throw new AppError(400, 'not_provider', 'Only the provider admits');
          const now = Date.now();
          const state = await d.rooms.get(me.room, now);
          const patient = state.presence.find((p) => p.role === 'patient' && p.participantId === msg.patientId);
          if (!patient) throw new AppError(409, 'not_waiting', 'That patient is not waiting');
          if (state.admitted[patient.participantId]) return;
          // The appointment is marked under way first: an admission the clinic's record refuses does not happen.
          await d.visits.admitted(me.room, me.participantId, now);
          await d.rooms.admit(me.room, patient.participantId, now);
          await d.relay.send(me.room, 'patient', { type: 'admitted' });
          await d.relay.send(me.room, 'provider', { type: 'waiting', waiting: waitingOf(await d.rooms.get(me.room)) });
          await d.visits.record(me.room.clinicId, 'video.admitted', {
            appointmentId: me.room.appointmentId,
            waitedSeconds: Math.max(0, Math.round((now - patient.since) / 1000)),
          });
          return;
        }
        default:
          throw new AppError(400, 'invalid_message', 'Unknown message type');
      }
    }

    async function leave(me: Held): Promise<void> {
      held.delete(me);
      d.relay.detach(me.room, me.connection);
      // A reconnect elsewhere may already hold this participant's presence: then nobody left.
      if (!(await d.rooms.remove(me.room, me.participantId, me.connection))) return;
      if (me.role === 'patient' && !me.admitted)
        await d.relay.send(me.room, 'provider', { type: 'waiting', waiting: waitingOf(await d.rooms.get(me.room)) });
      else await d.relay.send(me.room, other(me.role), { type: 'peer', event: 'left', role: me.role });
      await d.visits.record(me.room.clinicId, 'video.left', { appointmentId: me.room.appointmentId, role: me.role });
    }
  };
