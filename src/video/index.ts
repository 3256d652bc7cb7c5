import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { InvalidationBus } from '../platform/bus.js';
import { RedisBus } from '../platform/redis-bus.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { TenantStores } from '../tenancy/stores.js';
import { PeerToPeer, type VideoProvider } from './provider.js';
import { RoomRelay } from './relay.js';
import { MemoryRoomStore, RedisRoomStore, type RoomStore } from './rooms.js';
import { VideoTokens } from './tokens.js';
import { VideoVisits } from './visits.js';

/** The video domain's services, as the composition root builds them. */
export interface Video {
  tokens: VideoTokens;
  rooms: RoomStore;
  relay: RoomRelay;
  provider: VideoProvider;
  visits: VideoVisits;
  close(): void;
}

// Nodes that share one in-process bus (tests, a single process) share its room state too.
const memoryStores = new WeakMap<InvalidationBus, MemoryRoomStore>();

export function openVideo(
  config: Pick<Config, 'instance' | 'video' | 'webAppUrl' | 'regions'> & { secret: string },
  deps: {
    bus: InvalidationBus;
    stores: Pick<TenantStores, 'transaction' | 'regionDb'>;
    clinics: Pick<ClinicDirectory, 'get' | 'fresh'>;
    log: Pick<Logger, 'error'>;
  },
): Video {
  const { bus } = deps;
  let rooms: RoomStore;
  if (bus instanceof RedisBus) rooms = new RedisRoomStore(bus.commands, config.instance);
  else {
    let memory = memoryStores.get(bus);
    if (!memory) memoryStores.set(bus, (memory = new MemoryRoomStore()));
    rooms = memory;
  }
  const tokens = new VideoTokens(config.regions, config.secret);
  const provider = new PeerToPeer(config.regions, config.video.turnCredentialSeconds);
  const relay = new RoomRelay(bus);
  const trail = { stores: deps.stores, clinics: deps.clinics, log: deps.log };
  const visits = new VideoVisits({ stores: deps.stores, clinics: deps.clinics, rooms, provider, tokens, config, trail });
  return { tokens, rooms, relay, provider, visits, close: () => relay.close() };
}
