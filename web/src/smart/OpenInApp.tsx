import { Button } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { notifications } from '@mantine/notifications';
import { problemText } from '../ui/states';

/**
 * The SMART EHR launch from a chart: one "Open in <app>" per app of the clinic registered with a launch URL. A click
 * asks the API for a one-time launch value for this patient (and encounter) and opens the app in a new tab at
 * `<launch URL>?iss=…&launch=…`. The tab is opened at once, before the answer, so the browser does not take it for
 * a pop-up nobody asked for.
 */
export function OpenInApp({ patientId, encounterId }: { patientId: string; encounterId?: string }) {
  const { clinicId, can } = useClinic();
  const apps = useQuery({
    queryKey: [clinicId, 'smart-launch-apps'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/smart-launch-apps', { params: { path: { clinicId } } })),
    enabled: can('patient.read'),
    staleTime: 60_000,
  });
  return (apps.data?.items ?? []).map((a) => <OpenButton key={a.id} app={a} patientId={patientId} encounterId={encounterId} />);
}

function OpenButton({
  app,
  patientId,
  encounterId,
}: {
  app: { id: string; name: string };
  patientId: string;
  encounterId?: string | undefined;
}) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const open = useMutation({
    mutationFn: async () => {
      const tab = window.open('about:blank', '_blank');
      try {
        const launch = await call(
          api.POST('/api/v1/clinics/{clinicId}/smart-launches', {
            params: { path: { clinicId } },
            body: { smartAppId: app.id, patientId, ...(encounterId ? { encounterId } : {}) },
          }),
        );
        if (tab) {
          // The app gets no handle on the chart's window.
          tab.opener = null;
          tab.location.href = launch.url;
        } else window.location.assign(launch.url);
      } catch (err) {
        tab?.close();
        throw err;
      }
    },
    onError: (err) => notifications.show({ color: 'red', message: problemText(err, t) }),
  });
  return (
    <Button variant="default" onClick={() => open.mutate()} loading={open.isPending}>
      {t('smart.openIn', { app: app.name })}
    </Button>
  );
}
