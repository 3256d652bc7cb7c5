import { Avatar, Menu, UnstyledButton } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { signOut } from '../auth/signin';
import { useSession } from '../auth/session';
import { LANGUAGES, useI18n, type Language } from '../i18n/i18n';
import { useAppearance } from '../app/appearance';

const NAMES: Record<Language, string> = { en: 'English', de: 'Deutsch' };

/** The person's own corner: who is signed in, their security settings, their language, sign out. */
export function UserMenu() {
  const { t, lang, choose } = useI18n();
  const s = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { languages } = useAppearance();
  const offered = languages?.offered.length ? languages.offered : [...LANGUAGES];
  if (!s) return null;
  const initials = s.user.name
    .split(/\s+/)
    .map((w) => w[0])
    .join('')
    .slice(0, 2)
    .toUpperCase();
  return (
    <Menu position="bottom-end" width={240}>
      <Menu.Target>
        <UnstyledButton aria-label={t('user.menu', { name: s.user.name })}>
          <Avatar color="brand" radius="xl" size={36}>
            {initials}
          </Avatar>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{s.user.email}</Menu.Label>
        <Menu.Item onClick={() => navigate('/account')}>{t('user.security')}</Menu.Item>
        {offered.length > 1 && (
          <>
            <Menu.Divider />
            <Menu.Label>{t('language.label')}</Menu.Label>
            {offered.map((l) => (
              <Menu.Item key={l} onClick={() => choose(l)} fw={l === lang ? 700 : 400} aria-current={l === lang ? 'true' : undefined}>
                {NAMES[l]}
              </Menu.Item>
            ))}
          </>
        )}
        <Menu.Divider />
        <Menu.Item
          color="red"
          onClick={async () => {
            await signOut();
            queryClient.clear();
            navigate('/sign-in', { replace: true });
          }}
        >
          {t('user.signOut')}
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}
