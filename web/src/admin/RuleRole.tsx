import { ActionIcon, Select } from '@mantine/core';
import { useI18n } from '../i18n/i18n';

/**
 * The end of a mapping rule's row, the same for SSO claims and SCIM groups: the role it grants and the button that
 * removes the rule. Only the first row shows the column label; every row keeps it for screen readers.
 */
export function RuleRole({
  roles,
  role,
  first,
  onRole,
  onRemove,
}: {
  roles: { value: string; label: string }[];
  role: string;
  first: boolean;
  onRole: (role: string) => void;
  onRemove: () => void;
}) {
  const { t } = useI18n();
  return (
    <>
      <Select
        label={first ? t('field.role') : undefined}
        aria-label={t('field.role')}
        data={roles}
        value={role}
        onChange={(v) => v && onRole(v)}
        allowDeselect={false}
        w={180}
      />
      <ActionIcon variant="subtle" color="red" size="lg" onClick={onRemove} aria-label={t('sso.removeRule')}>
        ×
      </ActionIcon>
    </>
  );
}
