import { Badge, Divider, Group, Stack, Text } from '@mantine/core';
import type { Note } from '../../clinic/data';
import { useI18n } from '../../i18n/i18n';

export const SECTIONS = ['subjective', 'objective', 'assessment', 'plan'] as const;

/** A SOAP note as read: its sections, whether it is signed (and when), and its addenda in order. */
export function NoteView({ note }: { note: Note }) {
  const { t, dateTime } = useI18n();
  return (
    <Stack gap="sm">
      <Group gap="xs">
        <Badge color={note.status === 'signed' ? 'teal' : 'yellow'} variant="light">
          {note.status === 'signed' ? t('note.signed') : t('note.draft')}
        </Badge>
        {note.signedAt && (
          <Text size="xs" c="dimmed">
            {t('note.signedAt', { when: dateTime(note.signedAt) })}
          </Text>
        )}
      </Group>
      {SECTIONS.map((s) =>
        note[s] ? (
          <Stack gap={2} key={s}>
            <Text size="xs" fw={700} tt="uppercase" c="dimmed">
              {t(`note.${s}`)}
            </Text>
            <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
              {note[s]}
            </Text>
          </Stack>
        ) : null,
      )}
      {note.addenda.length > 0 && (
        <>
          <Divider label={t('note.addenda')} labelPosition="left" />
          {note.addenda.map((a) => (
            <Stack gap={2} key={a.id}>
              <Text size="xs" c="dimmed">
                {dateTime(a.createdAt)}
              </Text>
              <Text size="sm" style={{ whiteSpace: 'pre-wrap' }}>
                {a.text}
              </Text>
            </Stack>
          ))}
        </>
      )}
    </Stack>
  );
}
