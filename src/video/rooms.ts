import type { Redis } from 'ioredis';
import type { VideoRole } from './tokens.js';

/**
 * Room and waiting-room state, shared by every API node: who is in which room and since when, which patient
 * was admitted, whether the visit has ended. It lives in Redis when the nodes share one (a hash per room, a set
 * of the clinic's rooms), else in this process. Nothing of the call itself is kept: no media, no chat.
 *
 * A participant's presence names the node and connection holding its socket and is refreshed while it is
 * open; one not refreshed for `STALE_MS` (its node died) is ignored, and the participant's reconnect, on any
 * node, simply replaces it. State expires a day after its last change.
 */
export interface Presence {
  participantId: string;
  role: VideoRole;
  state: 'waiting' | 'admitted';
  /** When this participant arrived (kept across reconnects): how long a patient has waited. */
  since: number;
  seenAt: number;
  connection: string;
}

export interface RoomSnapshot {
  presence: Presence[];
  /** Patients let in, with when. */
  admitted: Record<string, number>;
  /** When the first patient was let in: the visit's duration runs from here. */
  startedAt: number | null;
  endedAt: number | null;
}

export interface RoomRef {
  clinicId: string;
  appointmentId: string;
}

export const STALE_MS = 45_000;
const TTL_SECONDS = 24 * 3600;

export interface RoomStore {
  get(room: RoomRef, now?: number): Promise<RoomSnapshot>;
  put(room: RoomRef, presence: Presence): Promise<void>;
  /** Removes a presence if it is still this connection's (a reconnect elsewhere may have replaced it). */
  remove(room: RoomRef, participantId: string, connection: string): Promise<boolean>;
  admit(room: RoomRef, patientId: string, at: number): Promise<void>;
  end(room: RoomRef, at: number): Promise<void>;
  /** The clinic's rooms that have had anyone in them lately. */
  rooms(clinicId: string): Promise<string[]>;
}

const live = (p: Presence, now: number) => now - p.seenAt < STALE_MS;

function snapshotOf(fields: Record<string, string>, now: number): RoomSnapshot {
  const s: RoomSnapshot = { presence: [], admitted: {}, startedAt: null, endedAt: null };
  for (const [k, v] of Object.entries(fields)) {
    if (k.startsWith('p:')) {
      const p = JSON.parse(v) as Presence;
      if (live(p, now)) s.presence.push(p);
    } else if (k.startsWith('admitted:')) s.admitted[k.slice(9)] = Number(v);
    else if (k === 'startedAt') s.startedAt = Number(v);
    else if (k === 'endedAt') s.endedAt = Number(v);
  }
  return s;
}

export class MemoryRoomStore implements RoomStore {
  private readonly state = new Map<string, Map<string, string>>();
  private readonly byClinic = new Map<string, Set<string>>();

  private hash(room: RoomRef): Map<string, string> {
    const key = `${room.clinicId}:${room.appointmentId}`;
    let h = this.state.get(key);
    if (!h) {
      this.state.set(key, (h = new Map()));
      let set = this.byClinic.get(room.clinicId);
      if (!set) this.byClinic.set(room.clinicId, (set = new Set()));
      set.add(room.appointmentId);
    }
    return h;
  }

  async get(room: RoomRef, now = Date.now()): Promise<RoomSnapshot> {
    return snapshotOf(Object.fromEntries(this.state.get(`${room.clinicId}:${room.appointmentId}`) ?? []), now);
  }

  async put(room: RoomRef, p: Presence): Promise<void> {
    this.hash(room).set(`p:${p.participantId}`, JSON.stringify(p));
  }

  async remove(room: RoomRef, participantId: string, connection: string): Promise<boolean> {
    const h = this.hash(room);
    const held = h.get(`p:${participantId}`);
    if (!held || (JSON.parse(held) as Presence).connection !== connection) return false;
    h.delete(`p:${participantId}`);
    return true;
  }

  async admit(room: RoomRef, patientId: string, at: number): Promise<void> {
    const h = this.hash(room);
    h.set(`admitted:${patientId}`, String(at));
    if (!h.has('startedAt')) h.set('startedAt', String(at));
  }

  async end(room: RoomRef, at: number): Promise<void> {
    const h = this.hash(room);
    if (!h.has('endedAt')) h.set('endedAt', String(at));
  }

  async rooms(clinicId: string): Promise<string[]> {
    return [...(this.byClinic.get(clinicId) ?? [])];
  }
}

export class RedisRoomStore implements RoomStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(room: RoomRef): string {
    return `${this.prefix}:video:room:${room.clinicId}:${room.appointmentId}`;
  }

  private async touch(room: RoomRef, write: (m: ReturnType<Redis['multi']>) => void): Promise<void> {
    const key = this.key(room);
    const rooms = `${this.prefix}:video:rooms:${room.clinicId}`;
    const m = this.redis.multi();
    write(m);
    m.expire(key, TTL_SECONDS).sadd(rooms, room.appointmentId).expire(rooms, TTL_SECONDS);
    await m.exec();
  }

  async get(room: RoomRef, now = Date.now()): Promise<RoomSnapshot> {
    return snapshotOf(await this.redis.hgetall(this.key(room)), now);
  }

  async put(room: RoomRef, p: Presence): Promise<void> {
    await this.touch(room, (m) => m.hset(this.key(room), `p:${p.participantId}`, JSON.stringify(p)));
  }

  async remove(room: RoomRef, participantId: string, connection: string): Promise<boolean> {
    // Compare and delete in one step: a reconnect on another node may have just replaced this presence.
    const removed = await this.redis.eval(
      `local v = redis.call('hget', KEYS[1], ARGV[1])
       if v and cjson.decode(v).connection == ARGV[2] then return redis.call('hdel', KEYS[1], ARGV[1]) end
       return 0`,
      1,
      this.key(room),
      `p:${participantId}`,
      connection,
    );
    return removed === 1;
  }

  async admit(room: RoomRef, patientId: string, at: number): Promise<void> {
    await this.touch(room, (m) =>
      m.hset(this.key(room), `admitted:${patientId}`, String(at)).hsetnx(this.key(room), 'startedAt', String(at)),
    );
  }

  async end(room: RoomRef, at: number): Promise<void> {
    await this.touch(room, (m) => m.hsetnx(this.key(room), 'endedAt', String(at)));
  }

  async rooms(clinicId: string): Promise<string[]> {
    return this.redis.smembers(`${this.prefix}:video:rooms:${clinicId}`);
  }
}
