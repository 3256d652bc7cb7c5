import { AppShell, Burger, Button, Center, Group, NavLink, ScrollArea, Stack, Text, Title } from '@mantine/core';
import { DatesProvider } from '@mantine/dates';
import { useDisclosure } from '@mantine/hooks';
import { lazy, Suspense, useMemo, type ReactNode } from 'react';
import { SchedulePage } from '../app/screens';
import { Navigate, NavLink as RouterLink, Route, Routes, useLocation, useParams } from 'react-router';
import '../i18n/dates';
import '@mantine/dates/styles.css';
import { ApiProblem } from '../api/client';
import { useMe } from '../auth/me';
import { NotFoundPage } from '../app/NotFoundPage';
import { firstDayOfWeek } from '../i18n/calendar';
import { useI18n, type MessageKey } from '../i18n/i18n';
import { BrandMark } from '../ui/brand';
import { ErrorState, LoadingState } from '../ui/states';
import { UserMenu } from '../ui/UserMenu';
import { ClinicSwitcher } from './ClinicSwitcher';
import { ClinicProvider, useClinicSelf, type ClinicContextValue, type Permission } from './context';
import { useClinicAppearance, usePublicClinic } from './public';

const PatientsPage = lazy(() => import('../provider/PatientsPage'));
const ChartPage = lazy(() => import('../provider/ChartPage'));
const EncounterPage = lazy(() => import('../provider/EncounterPage'));
const BookingPage = lazy(() => import('../frontdesk/BookingPage'));
const AppointmentPage = lazy(() => import('../frontdesk/AppointmentPage'));
const ProvidersPage = lazy(() => import('../frontdesk/ProvidersPage'));
const ProviderHoursPage = lazy(() => import('../frontdesk/ProviderHoursPage'));
const MembersPage = lazy(() => import('../admin/MembersPage'));
const RolesPage = lazy(() => import('../admin/RolesPage'));
const SsoPage = lazy(() => import('../admin/SsoPage'));
const ScimPage = lazy(() => import('../admin/ScimPage'));
const SmartAppsPage = lazy(() => import('../admin/SmartAppsPage'));
const DomainsPage = lazy(() => import('../admin/DomainsPage'));
const ExportRequestsPage = lazy(() => import('../admin/ExportRequestsPage'));
const SettingsPage = lazy(() => import('../admin/SettingsPage'));
const FeaturesPage = lazy(() => import('../admin/FeaturesPage'));
const AuditPage = lazy(() => import('../admin/AuditPage'));
const IdentityTrailPage = lazy(() => import('../admin/IdentityTrailPage'));
const DashboardPage = lazy(() => import('../analytics/DashboardPage'));
const ReportSchedulesPage = lazy(() => import('../analytics/ReportSchedulesPage'));

interface NavItem {
  to: string;
  label: MessageKey;
  permission: Permission[];
  element: ReactNode;
  /** Routes under the item (a patient's chart under Patients). */
  children?: { path: string; element: ReactNode; permission?: Permission[] }[];
}
interface NavSection {
  label: MessageKey;
  items: NavItem[];
}

/** Every screen of a clinic, grouped as the navigation shows them; each is offered only to roles that may use it. */
const SECTIONS: NavSection[] = [
  {
    label: 'nav.workspace',
    items: [
      { to: 'schedule', label: 'nav.schedule', permission: ['schedule.read'], element: <SchedulePage /> },
      {
        to: 'patients',
        label: 'nav.patients',
        permission: ['patient.read'],
        element: <PatientsPage />,
        children: [
          { path: 'patients/:patientId', element: <ChartPage /> },
          { path: 'encounters/:encounterId', element: <EncounterPage />, permission: ['encounter.read'] },
        ],
      },
    ],
  },
  {
    label: 'nav.frontDesk',
    items: [
      {
        to: 'book',
        label: 'nav.book',
        permission: ['schedule.write'],
        element: <BookingPage />,
        children: [{ path: 'appointments/:appointmentId', element: <AppointmentPage />, permission: ['schedule.read'] }],
      },
      {
        to: 'providers',
        label: 'nav.providers',
        permission: ['provider.read'],
        element: <ProvidersPage />,
        children: [{ path: 'providers/:providerId', element: <ProviderHoursPage /> }],
      },
    ],
  },
  {
    label: 'nav.admin',
    items: [
      { to: 'admin/members', label: 'nav.members', permission: ['user.manage'], element: <MembersPage /> },
      { to: 'admin/roles', label: 'nav.roles', permission: ['user.manage'], element: <RolesPage /> },
      { to: 'admin/sso', label: 'nav.sso', permission: ['user.manage'], element: <SsoPage /> },
      { to: 'admin/scim', label: 'nav.scim', permission: ['user.manage'], element: <ScimPage /> },
      { to: 'admin/smart-apps', label: 'nav.smartApps', permission: ['user.manage'], element: <SmartAppsPage /> },
      { to: 'admin/domains', label: 'nav.domains', permission: ['user.manage'], element: <DomainsPage /> },
      {
        to: 'admin/settings',
        label: 'nav.settings',
        permission: ['settings.read'],
        element: <SettingsPage />,
        children: [{ path: 'admin/settings/:namespace', element: <SettingsPage /> }],
      },
      { to: 'admin/features', label: 'nav.features', permission: ['feature.read'], element: <FeaturesPage /> },
      { to: 'admin/audit', label: 'nav.audit', permission: ['audit.read'], element: <AuditPage /> },
      { to: 'admin/identity-trail', label: 'nav.identityTrail', permission: ['audit.read'], element: <IdentityTrailPage /> },
      { to: 'admin/exports', label: 'nav.exports', permission: ['phi_export.approve'], element: <ExportRequestsPage /> },
    ],
  },
  {
    label: 'nav.insights',
    items: [
      { to: 'analytics', label: 'nav.dashboard', permission: ['analytics.clinic.read'], element: <DashboardPage /> },
      {
        to: 'reports',
        label: 'nav.reports',
        permission: ['analytics.clinic.read', 'analytics.clinic.manage'],
        element: <ReportSchedulesPage />,
      },
    ],
  },
];

/**
 * A clinic's workspace at /c/{slug}: its look, its navigation for the member's role, and its screens. A
 * slug the person is not a member of is "not found", exactly as the API answers for another clinic's data.
 */
export default function ClinicLayout() {
  const { slug } = useParams();
  const me = useMe();
  const membership = me.data?.memberships.find((m) => m.clinicSlug === slug);
  const publicClinic = usePublicClinic(membership ? slug : undefined);
  useClinicAppearance(publicClinic.data);
  const self = useClinicSelf(membership?.clinicId);

  if (me.isPending) return <LoadingState />;
  if (me.isError) return <ErrorState error={me.error} onRetry={() => void me.refetch()} />;
  if (!membership) return <NotFoundPage />;
  if (self.isPending) return <LoadingState />;
  if (self.error instanceof ApiProblem && self.error.code === 'mfa_required') return <MfaRequired clinic={membership.clinicName} />;
  if (self.isError) return <ErrorState error={self.error} onRetry={() => void self.refetch()} />;
  return <ClinicShell ctx={contextOf(membership.clinicId, slug!, self.data)} />;
}

function contextOf(clinicId: string, slug: string, self: ClinicContextValue['self']): ClinicContextValue {
  const held = new Set<string>(self.permissions);
  return { clinicId, slug, self, can: (...any) => any.some((p) => held.has(p)), path: (rest) => `/c/${slug}/${rest.replace(/^\//, '')}` };
}

function ClinicShell({ ctx }: { ctx: ClinicContextValue }) {
  const { t, lang, locale, role } = useI18n();
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const sections = useMemo(
    () => SECTIONS.map((s) => ({ ...s, items: s.items.filter((i) => ctx.can(...i.permission)) })).filter((s) => s.items.length > 0),
    [ctx],
  );
  const first = sections[0]?.items[0];
  return (
    <ClinicProvider value={ctx}>
      <DatesProvider settings={{ locale: lang, firstDayOfWeek: firstDayOfWeek(locale) }}>
        <a href="#main" className="pc-skip-link">
          {t('nav.skip')}
        </a>
        <AppShell header={{ height: 60 }} navbar={{ width: 260, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="lg">
          <AppShell.Header>
            <Group h="100%" px="md" justify="space-between" wrap="nowrap">
              <Group gap="sm" wrap="nowrap">
                <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t('nav.toggle')} />
                <BrandMark />
              </Group>
              <Group gap="sm" wrap="nowrap">
                <ClinicSwitcher current={ctx.slug} />
                <UserMenu />
              </Group>
            </Group>
          </AppShell.Header>
          <AppShell.Navbar p="sm" aria-label={t('nav.label')}>
            <ScrollArea>
              <Stack gap="lg" py="xs">
                {sections.map((s) => (
                  <Stack gap={2} key={s.label}>
                    <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" mb={4}>
                      {t(s.label)}
                    </Text>
                    {s.items.map((i) => (
                      <NavLink
                        key={i.to}
                        component={RouterLink}
                        to={ctx.path(i.to)}
                        label={t(i.label)}
                        active={
                          location.pathname.startsWith(ctx.path(i.to)) ||
                          i.children?.some((c) => matches(location.pathname, ctx.path(c.path)))
                        }
                        onClick={close}
                        style={{ borderRadius: 8 }}
                      />
                    ))}
                  </Stack>
                ))}
              </Stack>
            </ScrollArea>
            <Text size="xs" c="dimmed" px="sm" mt="auto">
              {t('nav.signedInAs', { role: role(ctx.self.role, ctx.self.roleName) })}
            </Text>
          </AppShell.Navbar>
          <AppShell.Main id="main">
            <Suspense fallback={<LoadingState />}>
              <Routes>
                <Route index element={first ? <Navigate to={ctx.path(first.to)} replace /> : <NothingHere />} />
                {sections.flatMap((s) =>
                  s.items.flatMap((i) => [
                    <Route key={i.to} path={i.to} element={i.element} />,
                    ...(i.children ?? [])
                      .filter((c) => !c.permission || ctx.can(...c.permission))
                      .map((c) => <Route key={c.path} path={c.path} element={c.element} />),
                  ]),
                )}
                <Route path="*" element={<NotFoundPage />} />
              </Routes>
            </Suspense>
          </AppShell.Main>
        </AppShell>
      </DatesProvider>
    </ClinicProvider>
  );
}

function matches(pathname: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.replace(/:[^/]+/g, '[^/]+')}(/|$)`);
  return re.test(pathname);
}

/** The clinic requires two-step verification and this session was signed in with a password alone. */
function MfaRequired({ clinic }: { clinic: string }) {
  const { t } = useI18n();
  return (
    <Center mih="70vh" component="main">
      <Stack align="center" ta="center" maw={480} gap="sm" p="md">
        <Title order={1} size="h2">
          {t('mfa.requiredTitle')}
        </Title>
        <Text c="dimmed">{t('mfa.requiredBody', { clinic })}</Text>
        <Button component={RouterLink} to="/account">
          {t('account.enrol')}
        </Button>
      </Stack>
    </Center>
  );
}

function NothingHere() {
  const { t } = useI18n();
  return <ErrorState error={new Error(t('nav.nothing'))} />;
}
