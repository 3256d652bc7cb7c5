import { Alert, Button, Group, Modal, Paper, Stack, Text, Textarea, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useSession } from '../../auth/session';
import { useClinic } from '../../clinic/context';
import type { EncounterRecord, Note } from '../../clinic/data';
import { useI18n } from '../../i18n/i18n';
import { applyProblem, notifySaved } from '../../ui/forms';
import { EmptyState } from '../../ui/states';
import { NoteView, SECTIONS } from './NoteView';
import { FormActions } from '../../ui/form-actions';

/**
 * The encounter's SOAP notes: the signed-in clinician's draft is edited here (saved with check-and-set), then
 * signed, after which it never changes and takes addenda only. Others' notes are read.
 */
export function NotesPanel({ record, onChange }: { record: EncounterRecord; onChange: () => void }) {
  const { t } = useI18n();
  const { can } = useClinic();
  const s = useSession();
  const notes = record.notes ?? [];
  const mine = notes.find((n) => n.status === 'draft' && n.authorId === s?.user.id);
  const writable = record.status === 'open' && can('clinical_note.write');
  // An encounter without notes opens straight into the clinician's note: that is what they came to write.
  const [starting, setStarting] = useState(notes.length === 0 && writable);
  return (
    <Stack gap="md">
      {notes
        .filter((n) => n !== mine)
        .map((n) => (
          <Paper p="md" key={n.id}>
            <NoteView note={n} />
            {n.status === 'signed' && can('clinical_note.write') && <AddendumForm note={n} encounterId={record.id} onSaved={onChange} />}
          </Paper>
        ))}
      {mine || starting ? (
        <NoteEditor encounterId={record.id} note={mine} onSaved={onChange} />
      ) : writable ? (
        <Paper p="md">
          <EmptyState title={notes.length ? t('note.another') : t('note.none')}>
            <Button mt="sm" onClick={() => setStarting(true)}>
              {t('note.start')}
            </Button>
          </EmptyState>
        </Paper>
      ) : (
        notes.length === 0 && (
          <Paper p="md">
            <EmptyState title={t('note.none')} />
          </Paper>
        )
      )}
    </Stack>
  );
}

function NoteEditor({ encounterId, note, onSaved }: { encounterId: string; note: Note | undefined; onSaved: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const form = useForm({
    initialValues: {
      subjective: note?.subjective ?? '',
      objective: note?.objective ?? '',
      assessment: note?.assessment ?? '',
      plan: note?.plan ?? '',
    },
  });
  const body = (v: typeof form.values) => ({
    subjective: v.subjective || null,
    objective: v.objective || null,
    assessment: v.assessment || null,
    plan: v.plan || null,
  });

  /** Saves the draft (creating it the first time); returns the saved note. */
  const persist = async (v: typeof form.values): Promise<Note> => {
    if (!note)
      return call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/notes', {
          params: { path: { clinicId, encounterId } },
          body: body(v),
        }),
      );
    return call(
      api.PATCH('/api/v1/clinics/{clinicId}/encounters/{encounterId}/notes/{noteId}', {
        params: { path: { clinicId, encounterId, noteId: note.id } },
        body: { ...body(v), version: note.version },
      }),
    );
  };
  const save = useMutation({
    mutationFn: persist,
    onSuccess: () => {
      form.resetDirty();
      notifySaved(t('note.savedDraft'));
      onSaved();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  const sign = useMutation({
    mutationFn: async (v: typeof form.values) => {
      const saved = form.isDirty() || !note ? await persist(v) : note;
      return call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/notes/{noteId}/sign', {
          params: { path: { clinicId, encounterId, noteId: saved.id } },
        }),
      );
    },
    onSuccess: () => {
      setConfirming(false);
      notifySaved(t('note.signedToast'));
      onSaved();
    },
    onError: (err) => {
      setConfirming(false);
      setError(applyProblem(form, err));
    },
  });
  return (
    <Paper p="md">
      <form onSubmit={form.onSubmit((v) => (setError(null), save.mutate(v)))} noValidate>
        <Stack gap="sm">
          <Group justify="space-between">
            <Title order={2} size="h4">
              {t('note.title')}
            </Title>
            <Text size="xs" c="dimmed">
              {note ? t('note.draftVersion', { version: note.version }) : t('note.unsaved')}
            </Text>
          </Group>
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          {SECTIONS.map((s) => (
            <Textarea
              key={s}
              label={t(`note.${s}`)}
              description={t(`note.${s}Hint`)}
              autosize
              minRows={3}
              maxRows={14}
              {...form.getInputProps(s)}
            />
          ))}
          <Group justify="flex-end">
            <Button type="submit" variant="default" loading={save.isPending}>
              {t('note.saveDraft')}
            </Button>
            <Button onClick={() => setConfirming(true)} disabled={!Object.values(form.values).some((x) => x.trim())}>
              {t('note.sign')}
            </Button>
          </Group>
        </Stack>
      </form>
      <Modal opened={confirming} onClose={() => setConfirming(false)} title={t('note.signConfirmTitle')}>
        <Stack>
          <Text size="sm">{t('note.signConfirm')}</Text>
          <FormActions
            submit={t('note.signNow')}
            onCancel={() => setConfirming(false)}
            onSubmit={() => sign.mutate(form.values)}
            pending={sign.isPending}
          />
        </Stack>
      </Modal>
    </Paper>
  );
}

function AddendumForm({ note, encounterId, onSaved }: { note: Note; encounterId: string; onSaved: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { text: '' } });
  const add = useMutation({
    mutationFn: (text: string) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/notes/{noteId}/addenda', {
          params: { path: { clinicId, encounterId, noteId: note.id } },
          body: { text },
        }),
      ),
    onSuccess: () => {
      form.reset();
      setOpen(false);
      onSaved();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  if (!open)
    return (
      <Button variant="subtle" size="xs" mt="sm" onClick={() => setOpen(true)}>
        {t('note.addAddendum')}
      </Button>
    );
  return (
    <form onSubmit={form.onSubmit((v) => (setError(null), add.mutate(v.text)))} noValidate>
      <Stack gap="xs" mt="sm">
        {error && (
          <Alert color="red" variant="light" role="alert">
            {error}
          </Alert>
        )}
        <Textarea label={t('note.addendum')} autosize minRows={2} {...form.getInputProps('text')} />
        <FormActions submit={t('note.addAddendum')} onCancel={() => setOpen(false)} pending={add.isPending} size="xs" />
      </Stack>
    </form>
  );
}
