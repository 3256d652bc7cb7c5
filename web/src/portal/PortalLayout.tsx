import '@mantine/dates/styles.css';
import { AppShell, Button, Container, Group, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense } from 'react';
import { Link, Navigate, Route, Routes, useNavigate, useParams } from 'react-router';
import { call } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { usePublicClinic, useClinicAppearance } from '../clinic/public';
import { useI18n } from '../i18n/i18n';
import { BrandMark } from '../ui/brand';
import { LanguagePicker } from '../ui/LanguagePicker';
import { LoadingState } from '../ui/states';
import { PortalProvider, type PortalContext } from './context';
import { patientSession, portalApi, usePatientSession } from './session';

const VisitsPage = lazy(() => import('./VisitsPage'));
const BookPage = lazy(() => import('./BookPage'));
const IntakePage = lazy(() => import('./IntakePage'));
const SummaryPage = lazy(() => import('./SummaryPage'));
const SecurityPage = lazy(() => import('./SecurityPage'));

/**
 * The patient area of a clinic, in the clinic's look: the patient's visits, booking, intake and summaries.
 * Only a patient session of this clinic opens it; anyone else is sent to the clinic's patient sign-in.
 */
export default function PortalLayout() {
  const { slug = '' } = useParams();
  const s = usePatientSession(slug);
  const clinic = usePublicClinic(slug);
  useClinicAppearance(clinic.data);
  if (!s) return <Navigate to={`/c/${slug}/portal/sign-in`} replace />;
  if (clinic.isError) return <NotFoundPage />;
  if (!clinic.data) return <LoadingState />;
  return <Portal ctx={{ slug, clinicId: s.clinicId, clinicName: clinic.data.displayName }} />;
}

function Portal({ ctx }: { ctx: PortalContext }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useQuery({
    queryKey: ['portal', ctx.clinicId, 'me'],
    queryFn: () => call(portalApi.GET('/api/v1/clinics/{clinicId}/portal/me', { params: { path: { clinicId: ctx.clinicId } } })),
  });
  const signOut = async () => {
    await call(portalApi.POST('/api/v1/clinics/{clinicId}/portal/sign-out', { params: { path: { clinicId: ctx.clinicId } } })).catch(
      () => {},
    );
    patientSession.end(ctx.slug);
    queryClient.removeQueries({ queryKey: ['portal', ctx.clinicId] });
    navigate(`/c/${ctx.slug}/portal/sign-in`, { replace: true });
  };
  return (
    <PortalProvider value={ctx}>
      <AppShell header={{ height: 64 }} padding="lg">
        <AppShell.Header>
          <Container size="md" h="100%">
            <Group h="100%" justify="space-between" wrap="nowrap">
              <BrandMark />
              <Group gap="sm" wrap="nowrap">
                {me.data && (
                  <Text size="sm" fw={500} visibleFrom="xs">
                    {me.data.patient.givenName} {me.data.patient.familyName}
                  </Text>
                )}
                <LanguagePicker />
                <Button component={Link} to={`/c/${ctx.slug}/portal/security`} variant="subtle" size="xs">
                  {t('portal.security.nav')}
                </Button>
                <Button variant="default" size="xs" onClick={signOut}>
                  {t('portal.signOut')}
                </Button>
              </Group>
            </Group>
          </Container>
        </AppShell.Header>
        <AppShell.Main>
          <Container size="md" component="main">
            <Suspense fallback={<LoadingState />}>
              <Routes>
                <Route index element={<VisitsPage />} />
                <Route path="book" element={<BookPage />} />
                <Route path="visits/:appointmentId/reschedule" element={<BookPage />} />
                <Route path="visits/:appointmentId/intake" element={<IntakePage />} />
                <Route path="visits/:appointmentId/summary" element={<SummaryPage />} />
                <Route path="security" element={<SecurityPage />} />
                <Route path="*" element={<NotFoundPage />} />
              </Routes>
            </Suspense>
          </Container>
        </AppShell.Main>
      </AppShell>
    </PortalProvider>
  );
}
