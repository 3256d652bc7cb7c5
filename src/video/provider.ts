import type { RegionConfig } from '../config/regions.js';
import { iceServersFor, type IceServer } from './ice.js';
import type { RoomRef } from './rooms.js';

/**
 * How a participant's media travels. Today: peer to peer, the two browsers connected directly or through the
 * region's TURN relay, with our WebSocket carrying only their offers, answers and ICE candidates. An SFU
 * (Janus, LiveKit) implements the same interface and answers `{ mode: 'sfu', … }`; the waiting room, join
 * tokens and admission stay ours either way (docs/video.md, "Plugging in an SFU").
 */
export type MediaPlan = { mode: 'p2p'; iceServers: IceServer[] } | { mode: 'sfu'; iceServers: IceServer[]; url: string; token: string };

export interface VideoProvider {
  readonly kind: string;
  /** What the participant's browser needs to send and receive media in this room. */
  mediaFor(room: RoomRef, region: string, participantId: string): Promise<MediaPlan>;
  /** The visit ended: release whatever the provider holds for the room (an SFU room, its recordings: none). */
  close(room: RoomRef): Promise<void>;
}

export class PeerToPeer implements VideoProvider {
  readonly kind = 'p2p';
  private readonly regions: Map<string, RegionConfig['video']>;

  constructor(
    regions: Pick<RegionConfig, 'id' | 'video'>[],
    private readonly turnSeconds: number,
  ) {
    this.regions = new Map(regions.map((r) => [r.id, r.video]));
  }

  async mediaFor(_room: RoomRef, region: string, participantId: string): Promise<MediaPlan> {
    const config = this.regions.get(region);
    return { mode: 'p2p', iceServers: config ? iceServersFor(config, participantId, this.turnSeconds) : [] };
  }

  async close(): Promise<void> {}
}
