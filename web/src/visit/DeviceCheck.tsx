import { Alert, AspectRatio, Button, Group, Progress, Stack, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useI18n, type MessageKey } from '../i18n/i18n';

/** Why the browser would not give us the devices, in words a patient can act on. */
function explain(err: unknown): { key: MessageKey; reason?: string } {
  const name = err instanceof DOMException ? err.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return { key: 'visit.check.denied' };
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return { key: 'visit.check.missing' };
  if (name === 'NotReadableError' || name === 'AbortError') return { key: 'visit.check.busy' };
  if (!navigator.mediaDevices) return { key: 'visit.check.insecure' };
  return { key: 'visit.check.failed', reason: err instanceof Error ? err.message : String(err) };
}

/**
 * Before joining: the camera's picture and the microphone's level, so a patient finds out here, not in front of
 * the clinician, that the browser was refused a device. The stream it opens is handed on to the call.
 */
export function DeviceCheck({ onReady }: { onReady: (stream: MediaStream) => void }) {
  const { t } = useI18n();
  const video = useRef<HTMLVideoElement>(null);
  const [stream, setStream] = useState<MediaStream | null>(null);
  const [problem, setProblem] = useState<{ key: MessageKey; reason?: string } | null>(null);
  const [level, setLevel] = useState(0);
  const handedOn = useRef(false);

  const ask = useCallback(async () => {
    setProblem(null);
    try {
      if (!navigator.mediaDevices) throw new Error('mediaDevices');
      setStream(await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true }));
    } catch (err) {
      setProblem(explain(err));
    }
  }, []);

  useEffect(() => {
    void ask();
  }, [ask]);

  useEffect(() => {
    if (!stream) return;
    if (video.current) video.current.srcObject = stream;
    // The level meter: an analyser on the microphone, read a few times a second.
    const audio = new AudioContext();
    const analyser = audio.createAnalyser();
    analyser.fftSize = 256;
    if (stream.getAudioTracks().length) audio.createMediaStreamSource(stream).connect(analyser);
    const data = new Uint8Array(analyser.frequencyBinCount);
    const timer = setInterval(() => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
      setLevel(Math.min(100, Math.round((peak / 128) * 200)));
    }, 150);
    return () => {
      clearInterval(timer);
      void audio.close();
      if (!handedOn.current) for (const track of stream.getTracks()) track.stop();
    };
  }, [stream]);

  return (
    <Stack gap="md" maw={560} mx="auto">
      <Title order={1} size="h2">
        {t('visit.check.title')}
      </Title>
      <Text c="dimmed">{t('visit.check.lead')}</Text>
      <AspectRatio ratio={4 / 3} bg="dark.7" style={{ borderRadius: 8, overflow: 'hidden' }}>
        {/* biome-ignore lint/a11y/useMediaCaption: a live camera preview has no speech to caption */}
        <video
          ref={video}
          autoPlay
          playsInline
          muted
          aria-label={t('visit.check.preview')}
          style={{ objectFit: 'cover', transform: 'scaleX(-1)' }}
        />
      </AspectRatio>
      <Stack gap={4}>
        <Text size="sm">{t('visit.check.level')}</Text>
        <Progress.Root size="lg">
          <Progress.Section value={level} aria-label={t('visit.check.level')} />
        </Progress.Root>
      </Stack>
      {problem ? (
        <Alert color="red" variant="light" role="alert">
          {t(problem.key, { reason: problem.reason ?? '' })}
        </Alert>
      ) : stream ? (
        <Text size="sm" fw={600} role="status">
          {t('visit.check.ready')}
        </Text>
      ) : (
        <Text size="sm" c="dimmed" role="status">
          {t('visit.check.asking')}
        </Text>
      )}
      <Group justify="flex-end">
        {problem && (
          <Button variant="default" onClick={() => void ask()}>
            {t('visit.retryDevices')}
          </Button>
        )}
        <Button
          disabled={!stream}
          onClick={() => {
            handedOn.current = true;
            onReady(stream!);
          }}
        >
          {t('visit.join')}
        </Button>
      </Group>
    </Stack>
  );
}
