import { Box, Container, Group, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useCallback, useState } from 'react';
import { Navigate, useLocation, useNavigate, useParams } from 'react-router';
import { api, call } from '../api/client';
import { useMe } from '../auth/me';
import { useSession } from '../auth/session';
import { portalApi, usePatientSession } from '../portal/session';
import { useClinicAppearance, usePublicClinic } from '../clinic/public';
import { patientName } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { BrandMark } from '../ui/brand';
import { ErrorState, LoadingState } from '../ui/states';
import type { Grant } from './call';
import { CallScreen } from './CallScreen';
import { DeviceCheck } from './DeviceCheck';

const LINK_KEY = (appointmentId: string) => `polyclinic.visit-link.${appointmentId}`;

/**
 * `/c/<slug>/visit/<appointmentId>`: a video visit, for the patient (who arrives by the visit link, the link in
 * the address's fragment so no server log sees it, and needs no account) or for signed-in staff. Device check
 * first, then the waiting room or the call. A patient signed in to the clinic's portal arrives here from the visits
 * list and gets a join token from the same issuer (`VideoVisits.grant`) through the portal's own route.
 */
export default function VisitPage() {
  const { slug = '', appointmentId = '' } = useParams();
  const location = useLocation();
  const session = useSession();
  const clinic = usePublicClinic(slug);
  useClinicAppearance(clinic.data);
  const { t } = useI18n();
  const [link] = useState(() => {
    const fromHash = /(?:^#|&)link=([^&]+)/.exec(location.hash)?.[1];
    if (fromHash) {
      sessionStorage.setItem(LINK_KEY(appointmentId), fromHash);
      // The link stays out of the address bar (and of screenshots and shared screens) once read.
      window.history.replaceState(null, '', location.pathname);
      return fromHash;
    }
    return sessionStorage.getItem(LINK_KEY(appointmentId));
  });
  const [stream, setStream] = useState<MediaStream | null>(null);
  const patient = usePatientSession(slug);

  // Someone with neither a link nor a session is most likely the patient (staff open visits from their workspace,
  // signed in): the clinic's patient sign-in, which brings them back here and links to the staff sign-in too.
  if (!link && !session && !patient)
    return <Navigate to={`/c/${slug}/portal/sign-in?next=${encodeURIComponent(location.pathname)}`} replace />;
  return (
    <Box mih="100vh" bg="var(--mantine-color-body)">
      <Box component="header" px="md" py="sm" style={{ borderBottom: '1px solid var(--mantine-color-default-border)' }}>
        <Group justify="space-between">
          <BrandMark />
          <Text size="sm" c="dimmed">
            {clinic.data ? t('visit.atClinic', { clinic: clinic.data.displayName }) : t('visit.title')}
          </Text>
        </Group>
      </Box>
      <Container size="lg" py="lg" component="main">
        {!stream ? (
          <DeviceCheck onReady={setStream} />
        ) : link ? (
          <PatientVisit link={link} stream={stream} />
        ) : patient && !session ? (
          <PortalPatientVisit clinicId={patient.clinicId} appointmentId={appointmentId} stream={stream} />
        ) : (
          <ProviderVisit slug={slug} appointmentId={appointmentId} stream={stream} />
        )}
      </Container>
    </Box>
  );
}

function PatientVisit({ link, stream }: { link: string; stream: MediaStream }) {
  const grant = useCallback(async () => (await call(api.POST('/api/v1/video/visit-links/redeem', { body: { link } }))) as Grant, [link]);
  return <CallScreen side="patient" stream={stream} grant={grant} />;
}

/** A patient signed in to the clinic's portal joins their own visit; the portal asks the same issuer for the token. */
function PortalPatientVisit({ clinicId, appointmentId, stream }: { clinicId: string; appointmentId: string; stream: MediaStream }) {
  const grant = useCallback(
    async () =>
      (await call(
        portalApi.POST('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/video/join', {
          params: { path: { clinicId, appointmentId } },
        }),
      )) as Grant,
    [clinicId, appointmentId],
  );
  return <CallScreen side="patient" stream={stream} grant={grant} />;
}

function ProviderVisit({ slug, appointmentId, stream }: { slug: string; appointmentId: string; stream: MediaStream }) {
  const me = useMe();
  const { t } = useI18n();
  const navigate = useNavigate();
  const clinicId = me.data?.memberships.find((m) => m.clinicSlug === slug)?.clinicId;
  const params = { path: { clinicId: clinicId ?? '', appointmentId } };
  const appointment = useQuery({
    queryKey: [clinicId, 'appointments', appointmentId],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/appointments/{appointmentId}', { params })),
    enabled: Boolean(clinicId),
  });
  const patientId = appointment.data?.patientId;
  const patient = useQuery({
    queryKey: [clinicId, 'patients', patientId],
    queryFn: () =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/patients/{patientId}', { params: { path: { clinicId: clinicId!, patientId: patientId! } } }),
      ),
    enabled: Boolean(clinicId && patientId),
    retry: false,
  });
  const grant = useCallback(
    async () => (await call(api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/video/join', { params }))) as Grant,
    // biome-ignore lint/correctness/useExhaustiveDependencies: params is rebuilt each render from these two
    [clinicId, appointmentId],
  );
  const end = useCallback(async () => {
    const ended = await call(api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/video/end', { params }));
    for (const track of stream.getTracks()) track.stop();
    navigate(`/c/${slug}/encounters/${ended.encounterId}`);
    // biome-ignore lint/correctness/useExhaustiveDependencies: params is rebuilt each render from these two
  }, [clinicId, appointmentId, stream, navigate, slug]);

  if (me.isLoading || appointment.isLoading) return <LoadingState />;
  if (!clinicId) return <Navigate to="/" replace />;
  if (appointment.error) return <ErrorState error={appointment.error} onRetry={() => void appointment.refetch()} />;
  return (
    <>
      <Title order={1} size="h3" mb="md">
        {patient.data ? t('visit.with', { name: patientName(patient.data) }) : t('visit.title')}
      </Title>
      <CallScreen
        side="provider"
        stream={stream}
        grant={grant}
        patientName={patient.data ? patientName(patient.data) : undefined}
        onEnd={end}
      />
    </>
  );
}
