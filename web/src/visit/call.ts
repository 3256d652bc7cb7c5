/**
 * The browser's side of a video visit: the signalling socket (reconnecting with a fresh join token after a
 * network drop or a server restart) and the peer connection. Media goes peer to peer (or through the region's
 * TURN relay); the server only carries offers, answers, ICE candidates, admission and chat. Nothing is recorded.
 *
 * Who offers: the provider, always. The patient says `ready` whenever it is in the call (admitted, back after a
 * reconnect, or the provider came back), and the provider answers each `ready` with a fresh connection and
 * offer, so either side can drop and return without any other coordination.
 */
export interface Grant {
  token: string;
  role: 'provider' | 'patient';
  signalPath: string;
  media: { mode: 'p2p' | 'sfu'; iceServers: RTCIceServer[] };
}

export interface WaitingPatient {
  patientId: string;
  since: string;
}

export interface ChatLine {
  from: 'provider' | 'patient' | 'me';
  text: string;
  at: string;
}

export type Phase = 'connecting' | 'waiting' | 'in-call' | 'reconnecting' | 'ended' | 'refused';

export interface CallEvents {
  phase(phase: Phase, detail?: string): void;
  remote(stream: MediaStream | null): void;
  waiting(list: WaitingPatient[]): void;
  chat(line: ChatLine): void;
  peer(present: boolean): void;
}

/** Closing codes after which trying again cannot help. */
const FINAL = new Set([4401, 4404, 4409]);

export class VisitCall {
  private socket: WebSocket | null = null;
  private pc: RTCPeerConnection | null = null;
  private grant: Grant | null = null;
  private admitted = false;
  private stopped = false;
  private attempts = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly fetchGrant: () => Promise<Grant>,
    private readonly local: MediaStream,
    private readonly on: CallEvents,
  ) {}

  async start(): Promise<void> {
    this.on.phase('connecting');
    await this.connect();
  }

  admit(patientId: string): void {
    this.send({ type: 'admit', patientId });
  }

  say(text: string): void {
    this.send({ type: 'chat', text });
    this.on.chat({ from: 'me', text, at: new Date().toISOString() });
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close(1000);
    this.closePeer();
  }

  private async connect(): Promise<void> {
    try {
      this.grant = await this.fetchGrant();
    } catch (err) {
      return this.retry(err instanceof Error ? err.message : 'grant');
    }
    const url = new URL(this.grant.signalPath, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'join', token: this.grant!.token }));
    socket.onmessage = (e) => {
      const message = JSON.parse(String(e.data)) as Record<string, unknown>;
      this.queue = this.queue.then(() => this.handle(message)).catch(() => {});
    };
    socket.onclose = (e) => {
      if (this.socket !== socket || this.stopped) return;
      if (e.code === 4409) return this.finish('ended');
      if (FINAL.has(e.code)) {
        this.stopped = true;
        this.closePeer();
        return this.on.phase('refused', e.reason);
      }
      void this.retry(e.reason);
    };
  }

  private async retry(reason: string): Promise<void> {
    if (this.stopped) return;
    this.on.phase('reconnecting', reason);
    const delay = Math.min(8000, 500 * 2 ** this.attempts++);
    await new Promise((r) => setTimeout(r, delay));
    if (!this.stopped) await this.connect();
  }

  private send(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private async handle(m: Record<string, unknown>): Promise<void> {
    const role = this.grant?.role;
    switch (m.type) {
      case 'welcome':
        this.attempts = 0;
        this.admitted = m.state === 'admitted';
        if (role === 'provider') this.on.waiting((m.waiting as WaitingPatient[]) ?? []);
        this.on.phase(this.admitted ? 'in-call' : 'waiting');
        this.on.peer(Boolean(m.peerPresent));
        if (role === 'patient' && this.admitted) this.send({ type: 'signal', data: { ready: true } });
        return;
      case 'waiting':
        return this.on.waiting((m.waiting as WaitingPatient[]) ?? []);
      case 'admitted':
        this.admitted = true;
        this.on.phase('in-call');
        this.send({ type: 'signal', data: { ready: true } });
        return;
      case 'peer':
        this.on.peer(m.event === 'joined');
        if (m.event === 'left') {
          this.closePeer();
          this.on.remote(null);
        } else if (role === 'patient' && this.admitted) this.send({ type: 'signal', data: { ready: true } });
        return;
      case 'signal':
        return this.onSignal((m.data ?? {}) as Record<string, unknown>);
      case 'chat':
        return this.on.chat({ from: m.from as ChatLine['from'], text: String(m.text), at: String(m.at) });
      case 'ended':
        return this.finish('ended');
    }
  }

  private async onSignal(data: Record<string, unknown>): Promise<void> {
    if (data.ready && this.grant?.role === 'provider') {
      this.on.peer(true);
      const pc = this.newPeer();
      await pc.setLocalDescription(await pc.createOffer());
      this.send({ type: 'signal', data: { description: pc.localDescription } });
      return;
    }
    const description = data.description as RTCSessionDescriptionInit | undefined;
    if (description?.type === 'offer') {
      const pc = this.newPeer();
      await pc.setRemoteDescription(description);
      await pc.setLocalDescription(await pc.createAnswer());
      this.send({ type: 'signal', data: { description: pc.localDescription } });
    } else if (description?.type === 'answer') await this.pc?.setRemoteDescription(description);
    else if (data.candidate && this.pc) await this.pc.addIceCandidate(data.candidate as RTCIceCandidateInit).catch(() => {});
  }

  private newPeer(): RTCPeerConnection {
    this.closePeer();
    const pc = new RTCPeerConnection({ iceServers: this.grant?.media.iceServers ?? [] });
    this.pc = pc;
    for (const track of this.local.getTracks()) pc.addTrack(track, this.local);
    pc.onicecandidate = (e) => {
      if (e.candidate) this.send({ type: 'signal', data: { candidate: e.candidate.toJSON() } });
    };
    pc.ontrack = (e) => this.on.remote(e.streams[0] ?? new MediaStream([e.track]));
    // A network change that ICE cannot ride out: the patient asks again, the provider answers with a new offer.
    pc.oniceconnectionstatechange = () => {
      if (pc === this.pc && pc.iceConnectionState === 'failed' && this.grant?.role === 'patient')
        this.send({ type: 'signal', data: { ready: true } });
    };
    return pc;
  }

  private closePeer(): void {
    this.pc?.close();
    this.pc = null;
  }

  private finish(phase: Phase): void {
    this.stopped = true;
    this.closePeer();
    this.on.remote(null);
    this.on.phase(phase);
  }
}
