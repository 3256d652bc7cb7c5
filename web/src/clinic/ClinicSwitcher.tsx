import { Button, Menu } from '@mantine/core';
import { useNavigate } from 'react-router';
import { useMe } from '../auth/me';
import { useI18n } from '../i18n/i18n';

/** For people who work in several clinics: each is a separate workspace with its own look and role. */
export function ClinicSwitcher({ current }: { current: string }) {
  const { t } = useI18n();
  const me = useMe();
  const navigate = useNavigate();
  const memberships = me.data?.memberships ?? [];
  const here = memberships.find((m) => m.clinicSlug === current);
  if (memberships.length < 2) return null;
  return (
    <Menu position="bottom-end" width={260}>
      <Menu.Target>
        <Button
          variant="default"
          size="sm"
          rightSection={<span aria-hidden="true">▾</span>}
          aria-label={t('switcher.label', { clinic: here?.clinicName ?? '' })}
        >
          {here?.clinicName ?? t('switcher.choose')}
        </Button>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{t('switcher.title')}</Menu.Label>
        {memberships.map((m) => (
          <Menu.Item
            key={m.clinicId}
            onClick={() => navigate(`/c/${m.clinicSlug}`)}
            aria-current={m.clinicSlug === current ? 'true' : undefined}
            fw={m.clinicSlug === current ? 700 : 400}
          >
            {m.clinicName}
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );
}
