import { Alert, AspectRatio, Badge, Box, Button, Card, Grid, Group, Paper, ScrollArea, Stack, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { useI18n } from '../i18n/i18n';
import { type ChatLine, type Grant, type Phase, VisitCall, type WaitingPatient } from './call';

/**
 * The visit itself, for either side: the waiting room (patient) or the waiting list with Admit (provider), then
 * the call with both pictures, mute and camera switches and the chat. `onEnd` is the provider's End button.
 */
export function CallScreen({
  side: role,
  stream,
  grant,
  patientName,
  onEnd,
  onEnded,
}: {
  side: 'provider' | 'patient';
  stream: MediaStream;
  grant: () => Promise<Grant>;
  patientName?: string | undefined;
  onEnd?: () => Promise<void>;
  onEnded?: () => void;
}) {
  const { t, time } = useI18n();
  const [phase, setPhase] = useState<Phase>('connecting');
  const [waiting, setWaiting] = useState<WaitingPatient[]>([]);
  const [remote, setRemote] = useState<MediaStream | null>(null);
  const [peer, setPeer] = useState(false);
  const [chat, setChat] = useState<ChatLine[]>([]);
  const [draft, setDraft] = useState('');
  const [muted, setMuted] = useState(false);
  const [cameraOff, setCameraOff] = useState(false);
  const [ending, setEnding] = useState(false);
  const [now, setNow] = useState(Date.now());
  const call = useRef<VisitCall | null>(null);
  const self = useRef<HTMLVideoElement>(null);
  const other = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    const c = new VisitCall(grant, stream, {
      phase: setPhase,
      remote: setRemote,
      waiting: setWaiting,
      chat: (line) => setChat((lines) => [...lines, line]),
      peer: setPeer,
    });
    call.current = c;
    void c.start();
    const tick = setInterval(() => setNow(Date.now()), 15_000);
    return () => {
      clearInterval(tick);
      c.stop();
    };
  }, [grant, stream]);

  useEffect(() => {
    if (phase === 'ended') {
      for (const track of stream.getTracks()) track.stop();
      onEnded?.();
    }
  }, [phase, stream, onEnded]);

  useEffect(() => {
    if (self.current) self.current.srcObject = stream;
    if (other.current) other.current.srcObject = remote;
  });

  const send = (e: FormEvent) => {
    e.preventDefault();
    const text = draft.trim();
    if (!text) return;
    call.current?.say(text);
    setDraft('');
  };
  const toggle = (kind: 'audio' | 'video') => {
    const tracks = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    const enabled = !(tracks[0]?.enabled ?? true);
    for (const track of tracks) track.enabled = enabled;
    if (kind === 'audio') setMuted(!enabled);
    else setCameraOff(!enabled);
  };
  const minutesSince = (iso: string) => Math.max(0, Math.floor((now - Date.parse(iso)) / 60_000));

  if (phase === 'refused')
    return (
      <Alert color="red" variant="light" role="alert" title={t('visit.refused.title')} maw={560} mx="auto">
        {t('visit.refused.body')}
      </Alert>
    );
  if (phase === 'ended')
    return (
      <Paper p="xl" maw={560} mx="auto" withBorder>
        <Title order={1} size="h2">
          {t('visit.ended.title')}
        </Title>
        <Text mt="sm">{t('visit.ended.body')}</Text>
      </Paper>
    );

  const selfView = (
    <AspectRatio ratio={4 / 3} bg="dark.7" style={{ borderRadius: 8, overflow: 'hidden' }}>
      {/* biome-ignore lint/a11y/useMediaCaption: a live camera picture has no captions */}
      <video
        ref={self}
        autoPlay
        playsInline
        muted
        aria-label={t('visit.selfVideo')}
        style={{ objectFit: 'cover', transform: 'scaleX(-1)' }}
      />
    </AspectRatio>
  );

  if (role === 'patient' && phase !== 'in-call')
    return (
      <Stack maw={560} mx="auto" gap="md">
        <Title order={1} size="h2">
          {t('visit.waiting.title')}
        </Title>
        <Text role="status" aria-live="polite">
          {phase === 'waiting' ? t('visit.waiting.body') : phase === 'reconnecting' ? t('visit.reconnecting') : t('visit.connecting')}
        </Text>
        {selfView}
      </Stack>
    );

  return (
    <Grid gap="md">
      <Grid.Col span={{ base: 12, md: 8 }}>
        <Stack gap="sm">
          {phase === 'reconnecting' && (
            <Alert color="yellow" variant="light" role="status">
              {t('visit.reconnecting')}
            </Alert>
          )}
          <Box pos="relative">
            <AspectRatio ratio={16 / 9} bg="dark.8" style={{ borderRadius: 8, overflow: 'hidden' }}>
              {/* biome-ignore lint/a11y/useMediaCaption: a live call has no captions to offer */}
              <video
                ref={other}
                autoPlay
                playsInline
                aria-label={t('visit.remoteVideo')}
                data-testid="remote-video"
                style={{ objectFit: 'contain' }}
              />
            </AspectRatio>
            {!remote && (
              <Text c="gray.2" pos="absolute" top="45%" w="100%" ta="center">
                {peer ? t('visit.connecting') : t('visit.peerAway')}
              </Text>
            )}
            <Box pos="absolute" right={12} bottom={12} w={{ base: 120, sm: 180 }}>
              {selfView}
            </Box>
          </Box>
          <Group justify="center" gap="sm">
            <Button
              variant={muted ? 'filled' : 'default'}
              color={muted ? 'red' : undefined}
              onClick={() => toggle('audio')}
              aria-pressed={muted}
            >
              {muted ? t('visit.unmute') : t('visit.mute')}
            </Button>
            <Button
              variant={cameraOff ? 'filled' : 'default'}
              color={cameraOff ? 'red' : undefined}
              onClick={() => toggle('video')}
              aria-pressed={cameraOff}
            >
              {cameraOff ? t('visit.cameraOn') : t('visit.cameraOff')}
            </Button>
            {role === 'provider' && onEnd ? (
              <Button
                color="red"
                loading={ending}
                onClick={() => {
                  setEnding(true);
                  onEnd().finally(() => setEnding(false));
                }}
              >
                {t('visit.end')}
              </Button>
            ) : (
              <Button color="red" variant="light" onClick={() => (call.current?.stop(), setPhase('ended'))}>
                {t('visit.leave')}
              </Button>
            )}
          </Group>
        </Stack>
      </Grid.Col>
      <Grid.Col span={{ base: 12, md: 4 }}>
        <Stack gap="md">
          {role === 'provider' && (
            <Card withBorder component="section" aria-labelledby="waiting-room-title">
              <Title order={2} size="h4" id="waiting-room-title" mb="xs">
                {t('visit.waitingRoom')}
              </Title>
              {waiting.length === 0 ? (
                <Text size="sm" c="dimmed">
                  {t('visit.waitingRoom.empty')}
                </Text>
              ) : (
                <Stack gap="xs">
                  {waiting.map((w) => (
                    <Group key={w.patientId} justify="space-between" wrap="nowrap">
                      <Stack gap={0}>
                        <Text fw={600}>{patientName ?? t('visit.waitingRoom.patient')}</Text>
                        <Text size="sm" c="dimmed">
                          {t('visit.waiting.since', { minutes: minutesSince(w.since) })} · {time(w.since)}
                        </Text>
                      </Stack>
                      <Button
                        onClick={() => call.current?.admit(w.patientId)}
                        aria-label={t('visit.admitName', { name: patientName ?? '' })}
                      >
                        {t('visit.admit')}
                      </Button>
                    </Group>
                  ))}
                </Stack>
              )}
            </Card>
          )}
          <Card withBorder component="section" aria-labelledby="chat-title">
            <Group justify="space-between" mb="xs">
              <Title order={2} size="h4" id="chat-title">
                {t('visit.chat')}
              </Title>
              {phase !== 'in-call' && <Badge variant="light">{t('visit.connecting')}</Badge>}
            </Group>
            <ScrollArea h={220} type="auto">
              <Stack gap={6} role="log" aria-live="polite" data-testid="chat-log">
                {chat.length === 0 && (
                  <Text size="sm" c="dimmed">
                    {t('visit.chat.empty')}
                  </Text>
                )}
                {chat.map((line, i) => (
                  <Text key={`${line.at}-${i}`} size="sm">
                    <b>
                      {line.from === 'me'
                        ? t('visit.chat.you')
                        : line.from === 'provider'
                          ? t('visit.chat.provider')
                          : t('visit.chat.patient')}
                      :
                    </b>{' '}
                    {line.text}
                  </Text>
                ))}
              </Stack>
            </ScrollArea>
            <form onSubmit={send}>
              <Group gap="xs" mt="sm" wrap="nowrap" align="flex-end">
                <TextInput
                  label={t('visit.chat.message')}
                  value={draft}
                  onChange={(e) => setDraft(e.currentTarget.value)}
                  maxLength={1000}
                  disabled={phase !== 'in-call'}
                  style={{ flex: 1 }}
                />
                <Button type="submit" disabled={phase !== 'in-call' || !draft.trim()}>
                  {t('visit.chat.send')}
                </Button>
              </Group>
            </form>
          </Card>
        </Stack>
      </Grid.Col>
    </Grid>
  );
}
