import {
  ActionIcon,
  Card,
  ColorInput,
  FileButton,
  Group,
  Image,
  MultiSelect,
  NumberInput,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Button,
} from '@mantine/core';
import type { ReactNode } from 'react';
import { useI18n } from '../i18n/i18n';

/** The part of JSON Schema the settings namespaces produce (zod's `toJSONSchema`, input side). */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  'x-widget'?: 'color' | 'image' | string;
  'x-accept'?: string[];
  'x-max-bytes'?: number;
}

export interface FieldProps {
  schema: JsonSchema;
  value: unknown;
  onChange: (v: unknown) => void;
  label: string;
  description?: string | undefined;
  error?: string | undefined;
  /** Errors of nested fields, by their path below this field (`0.name`). */
  errors?: Record<string, string>;
  disabled?: boolean;
  /** The label is shown around the field already (a settings card's title): name the control, show no label. */
  hideLabel?: boolean;
}

/**
 * One settings value, as a control chosen from its schema: a switch for a boolean, a number input with the
 * schema's bounds, a select for an enum, a multi-select for a list of enum values, tags for a list of text, a
 * colour or image picker where the schema says so, and a list of small forms for a list of objects. Rules are
 * not repeated here: the API checks every value (the page asks it as you type).
 */
export function SchemaField({ schema: raw, value, onChange, label, description, error, errors = {}, disabled, hideLabel }: FieldProps) {
  const { t } = useI18n();
  const schema = nonNull(raw);
  const nullable = raw.anyOf?.some((s) => s.type === 'null') ?? false;
  const type = Array.isArray(schema.type) ? schema.type.find((x) => x !== 'null') : schema.type;
  const common = hideLabel ? { 'aria-label': label, description, error, disabled } : { label, description, error, disabled };

  if (schema['x-widget'] === 'color')
    return (
      <ColorInput
        {...common}
        format="hex"
        value={typeof value === 'string' ? value : ''}
        onChange={(v) => onChange(v)}
        swatches={['#0b6e6e', '#1c4e80', '#7b2cbf', '#b5179e', '#c2410c', '#1f7a4d', '#ffffff', '#111827']}
      />
    );
  if (schema['x-widget'] === 'image')
    return (
      <ImageField
        label={label}
        hideLabel={hideLabel}
        description={description}
        error={error}
        disabled={disabled}
        value={typeof value === 'string' ? value : null}
        onChange={onChange}
        accept={schema['x-accept']}
        nullable={nullable}
      />
    );
  if (type === 'boolean')
    return (
      <Switch
        label={hideLabel ? undefined : label}
        aria-label={label}
        description={description}
        error={error}
        disabled={disabled}
        checked={value === true}
        onChange={(e) => onChange(e.currentTarget.checked)}
      />
    );
  if (type === 'integer' || type === 'number')
    return (
      <NumberInput
        {...common}
        value={typeof value === 'number' ? value : ''}
        onChange={(v) => onChange(typeof v === 'number' ? v : v === '' ? undefined : Number(v))}
        min={schema.minimum}
        max={schema.maximum}
        allowDecimal={type === 'number'}
        w={220}
      />
    );
  if (type === 'string' && schema.enum)
    return (
      <Select
        {...common}
        data={schema.enum.map(String)}
        value={typeof value === 'string' ? value : null}
        onChange={(v) => onChange(v ?? (nullable ? null : undefined))}
        clearable={nullable}
        w={280}
      />
    );
  if (type === 'string')
    return (
      <TextInput
        {...common}
        value={typeof value === 'string' ? value : ''}
        onChange={(e) => onChange(e.currentTarget.value === '' && nullable ? null : e.currentTarget.value)}
        maxLength={schema.maxLength}
      />
    );
  if (type === 'array' && schema.items) {
    const items = Array.isArray(value) ? value : [];
    const item = nonNull(schema.items);
    if (item.enum) return <MultiSelect {...common} data={item.enum.map(String)} value={items.map(String)} onChange={onChange} />;
    if (item.type === 'string') return <TagsInput {...common} value={items.map(String)} onChange={onChange} />;
    if (item.type === 'object' && item.properties)
      return (
        <Stack gap="xs">
          {!hideLabel && (
            <Text size="sm" fw={500}>
              {label}
            </Text>
          )}
          {description && (
            <Text size="xs" c="dimmed">
              {description}
            </Text>
          )}
          {error && (
            <Text size="xs" c="red" role="alert">
              {error}
            </Text>
          )}
          {items.map((entry, i) => (
            <Card key={i} withBorder padding="sm">
              <Group justify="space-between" mb={6}>
                <Text size="xs" c="dimmed" fw={600}>
                  #{i + 1}
                </Text>
                {!disabled && (
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    onClick={() => onChange(items.filter((_, j) => j !== i))}
                    aria-label={`${t('action.remove')} #${i + 1}`}
                  >
                    ×
                  </ActionIcon>
                )}
              </Group>
              <Group align="flex-start" gap="sm">
                {Object.entries(item.properties!).map(([key, sub]) => (
                  <div key={key} style={{ minWidth: 160, flex: sub.type === 'boolean' ? '0 0 auto' : '1 1 160px' }}>
                    <SchemaField
                      schema={sub}
                      label={sub.title ?? humanize(key)}
                      value={(entry as Record<string, unknown>)?.[key]}
                      onChange={(v) => onChange(items.map((x, j) => (j === i ? { ...(x as object), [key]: v } : x)))}
                      error={errors[`${i}.${key}`]}
                      disabled={disabled}
                    />
                  </div>
                ))}
              </Group>
            </Card>
          ))}
          {!disabled && (
            <Button variant="subtle" size="compact-sm" w="fit-content" onClick={() => onChange([...items, defaultsOf(item)])}>
              {t('action.add')}
            </Button>
          )}
        </Stack>
      );
  }
  if (type === 'object' && schema.properties)
    return (
      <Stack gap="xs">
        {!hideLabel && (
          <Text size="sm" fw={500}>
            {label}
          </Text>
        )}
        <Group align="flex-start">
          {Object.entries(schema.properties).map(([key, sub]) => (
            <SchemaField
              key={key}
              schema={sub}
              label={sub.title ?? humanize(key)}
              value={(value as Record<string, unknown> | undefined)?.[key]}
              onChange={(v) => onChange({ ...((value as object) ?? {}), [key]: v })}
              error={errors[key]}
              disabled={disabled}
            />
          ))}
        </Group>
      </Stack>
    );
  return <Text size="sm">{JSON.stringify(value)}</Text>;
}

function ImageField({
  label,
  hideLabel,
  description,
  error,
  disabled,
  value,
  onChange,
  accept,
  nullable,
}: {
  label: string;
  hideLabel?: boolean | undefined;
  description?: string | undefined;
  error?: string | undefined;
  disabled?: boolean | undefined;
  value: string | null;
  onChange: (v: unknown) => void;
  accept?: string[] | undefined;
  nullable: boolean;
}): ReactNode {
  const { t } = useI18n();
  return (
    <Stack gap={6}>
      {!hideLabel && (
        <Text size="sm" fw={500}>
          {label}
        </Text>
      )}
      {description && (
        <Text size="xs" c="dimmed">
          {description}
        </Text>
      )}
      <Group>
        {value ? (
          <Image src={value} h={56} w="auto" fit="contain" alt={label} radius="sm" bg="gray.1" p={4} />
        ) : (
          <Text size="sm" c="dimmed">
            {t('settings.noImage')}
          </Text>
        )}
        {!disabled && (
          <FileButton
            accept={(accept ?? ['image/png', 'image/jpeg', 'image/webp']).join(',')}
            onChange={(file) => {
              if (!file) return;
              const reader = new FileReader();
              reader.onload = () => onChange(reader.result);
              reader.readAsDataURL(file);
            }}
          >
            {(props) => (
              <Button {...props} variant="default" size="xs">
                {t('settings.chooseImage')}
              </Button>
            )}
          </FileButton>
        )}
        {!disabled && value && nullable && (
          <Button variant="subtle" size="xs" color="red" onClick={() => onChange(null)}>
            {t('action.remove')}
          </Button>
        )}
      </Group>
      {error && (
        <Text size="xs" c="red" role="alert">
          {error}
        </Text>
      )}
    </Stack>
  );
}

function nonNull(s: JsonSchema): JsonSchema {
  if (!s.anyOf) return s;
  const rest = s.anyOf.filter((x) => x.type !== 'null');
  return rest.length === 1 ? { ...s, ...rest[0], anyOf: undefined } : s;
}

export function defaultsOf(s: JsonSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, sub] of Object.entries(s.properties ?? {})) if (sub.default !== undefined) out[k] = sub.default;
  return out;
}

export function humanize(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
