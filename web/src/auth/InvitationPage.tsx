import { Alert, Button, Divider, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiProblem, api, call } from '../api/client';
import { useClinicAppearance, usePublicClinic } from '../clinic/public';
import { useI18n } from '../i18n/i18n';
import { applyProblem } from '../ui/forms';
import { LoadingState, problemText } from '../ui/states';
import { session, useSession } from './session';
import { SignInFrame } from './SignInPage';
import { begin } from './signin';

/**
 * An invitation link: the invited person sets a password (a new account), or signs in — with a password or
 * the clinic's single sign-on — and accepts. The link works once and expires.
 */
export default function InvitationPage() {
  const { token } = useParams();
  const { t } = useI18n();
  const invitation = useQuery({
    queryKey: ['invitation', token],
    queryFn: () => call(api.GET('/api/v1/invitations/{token}', { params: { path: { token: token! } } })),
    retry: false,
  });
  const clinic = usePublicClinic(invitation.data?.clinic.slug);
  useClinicAppearance(clinic.data);
  if (invitation.isPending) return <LoadingState />;
  if (invitation.isError)
    return (
      <SignInFrame clinic={undefined}>
        <Stack>
          <Title order={1} size="h3">
            {t('invite.invalidTitle')}
          </Title>
          <Alert color="yellow" variant="light" role="alert">
            {invitation.error instanceof ApiProblem && invitation.error.status === 404
              ? t('invite.invalid')
              : problemText(invitation.error, t)}
          </Alert>
          <Button component={Link} to="/sign-in" variant="default">
            {t('signIn.tryAgain')}
          </Button>
        </Stack>
      </SignInFrame>
    );
  return (
    <SignInFrame clinic={clinic.data}>
      <Accept token={token!} invitation={invitation.data} />
    </SignInFrame>
  );
}

type Invitation = Awaited<ReturnType<typeof loadInvitation>>;
const loadInvitation = (token: string) => call(api.GET('/api/v1/invitations/{token}', { params: { path: { token } } }));

function Accept({ token, invitation }: { token: string; invitation: Invitation }) {
  const { t, date, role } = useI18n();
  const s = useSession();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { name: invitation.name, password: '', confirm: '' } });
  const accept = useMutation({
    mutationFn: (body: { password?: string; name?: string }) =>
      call(api.POST('/api/v1/invitations/{token}/accept', { params: { path: { token } }, body })),
    onSuccess: (r) => {
      if (r.session) begin(r.session);
      void queryClient.invalidateQueries({ queryKey: ['me'] });
      navigate(`/c/${r.clinicSlug}`, { replace: true });
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  const signedInAs = s?.user.email.toLowerCase();
  const isInvitee = signedInAs === invitation.email.toLowerCase();
  const here = `/invitation/${token}`;
  return (
    <Stack gap="md">
      <Stack gap={4}>
        <Title order={1} size="h2">
          {t('invite.title', { clinic: invitation.clinic.name })}
        </Title>
        <Text c="dimmed" size="sm">
          {t('invite.lead', {
            role: role(invitation.role, invitation.roleName),
            email: invitation.email,
            date: date(invitation.expiresAt),
          })}
        </Text>
      </Stack>
      {error && (
        <Alert color="red" variant="light" role="alert">
          {error}
        </Alert>
      )}
      {s && isInvitee ? (
        <Button size="md" onClick={() => accept.mutate({})} loading={accept.isPending}>
          {t('invite.accept')}
        </Button>
      ) : s ? (
        <Alert color="yellow" variant="light">
          {t('invite.otherAccount', { email: s.user.email })}
          <Button mt="sm" size="xs" variant="white" onClick={() => session.end('signed_out')}>
            {t('user.signOut')}
          </Button>
        </Alert>
      ) : invitation.accountExists ? (
        <Button component={Link} to={`/c/${invitation.clinic.slug}/sign-in?next=${encodeURIComponent(here)}`} size="md">
          {t('invite.signInToAccept')}
        </Button>
      ) : (
        <form
          onSubmit={form.onSubmit((v) => {
            setError(null);
            if (v.password !== v.confirm) return form.setFieldError('confirm', t('invite.mismatch'));
            accept.mutate({ password: v.password, name: v.name });
          })}
          noValidate
        >
          <Stack gap="sm">
            <TextInput label={t('field.email')} value={invitation.email} readOnly />
            <TextInput label={t('field.name')} required {...form.getInputProps('name')} />
            <PasswordInput
              label={t('invite.password')}
              description={t('invite.passwordHint')}
              autoComplete="new-password"
              required
              {...form.getInputProps('password')}
            />
            <PasswordInput label={t('invite.confirm')} autoComplete="new-password" required {...form.getInputProps('confirm')} />
            <Button type="submit" size="md" loading={accept.isPending}>
              {t('invite.create')}
            </Button>
          </Stack>
        </form>
      )}
      {!s && invitation.sso.length > 0 && (
        <>
          <Divider label={t('signIn.or')} labelPosition="center" />
          {invitation.sso.map((c) => {
            const url = new URL(c.loginUrl);
            url.searchParams.set('returnTo', `${window.location.origin}/sign-in/sso?next=${encodeURIComponent(here)}`);
            return (
              <Button key={c.id} component="a" href={url.toString()} variant="default">
                {t('signIn.ssoWith', { name: c.name })}
              </Button>
            );
          })}
        </>
      )}
    </Stack>
  );
}
