import { randomUUID } from 'node:crypto';
import type { InvalidationBus } from '../platform/bus.js';
import type { RoomRef } from './rooms.js';
import type { VideoRole } from './tokens.js';

/** What the server sends a participant's socket (docs/video.md lists every message). */
export type ServerMessage =
  | { type: 'welcome'; role: VideoRole; state: 'waiting' | 'admitted'; peerPresent: boolean; waiting: WaitingPatient[] }
  | { type: 'waiting'; waiting: WaitingPatient[] }
  | { type: 'admitted' }
  | { type: 'peer'; event: 'joined' | 'left'; role: VideoRole }
  | { type: 'signal'; data: unknown }
  | { type: 'chat'; from: VideoRole; text: string; at: string }
  | { type: 'ended' }
  | { type: 'error'; code: string };

export interface WaitingPatient {
  patientId: string;
  since: string;
}

/** A socket this node holds. */
export interface LocalParticipant {
  connection: string;
  participantId: string;
  role: VideoRole;
  send(message: ServerMessage): void;
}

interface Envelope {
  room: string;
  /** Deliver to this role only, or to everyone in the room. */
  to: VideoRole | '*';
  /** Never to this connection (the sender). */
  except?: string;
  message: ServerMessage;
}

/**
 * Fan-out of room messages to sockets, wherever they are connected. A node keeps the sockets it holds per room;
 * every message goes out on the bus's `video` topic (Redis pub/sub between nodes, in-process otherwise) and each
 * node delivers it to its own sockets in that room. The sender's node hears its own publication like any other,
 * so there is one path for local and remote peers.
 */
export class RoomRelay {
  readonly node = randomUUID();
  private readonly local = new Map<string, Map<string, LocalParticipant>>();
  private readonly unsubscribe: () => void;

  constructor(private readonly bus: InvalidationBus) {
    this.unsubscribe = bus.subscribe('video', (key) => this.deliver(key));
  }

  static roomKey(room: RoomRef): string {
    return `${room.clinicId}:${room.appointmentId}`;
  }

  attach(room: RoomRef, p: LocalParticipant): void {
    const key = RoomRelay.roomKey(room);
    let set = this.local.get(key);
    if (!set) this.local.set(key, (set = new Map()));
    set.set(p.connection, p);
  }

  detach(room: RoomRef, connection: string): void {
    const key = RoomRelay.roomKey(room);
    const set = this.local.get(key);
    set?.delete(connection);
    if (set?.size === 0) this.local.delete(key);
  }

  /** Every socket this node holds, by room (for the presence heartbeat). */
  *held(): Generator<[string, LocalParticipant]> {
    for (const [room, set] of this.local) for (const p of set.values()) yield [room, p];
  }

  async send(room: RoomRef, to: VideoRole | '*', message: ServerMessage, except?: string): Promise<void> {
    const envelope: Envelope = { room: RoomRelay.roomKey(room), to, message, ...(except ? { except } : {}) };
    await this.bus.publish('video', JSON.stringify(envelope));
  }

  private deliver(key: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(key) as Envelope;
    } catch {
      return;
    }
    for (const p of this.local.get(envelope.room)?.values() ?? [])
      if ((envelope.to === '*' || envelope.to === p.role) && p.connection !== envelope.except) p.send(envelope.message);
  }

  close(): void {
    this.unsubscribe();
    this.local.clear();
  }
}
