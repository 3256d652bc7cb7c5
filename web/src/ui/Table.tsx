import { DataTable as MantineDataTable, type DataTableProps } from 'mantine-datatable';
import 'mantine-datatable/styles.layer.css';
import { useI18n } from '../i18n/i18n';

/**
 * The app's tables: mantine-datatable with the house defaults (borders, hover, a minimum height so loading
 * and empty states have room, and the empty text in the viewer's language).
 */
export function DataTable<T>(props: DataTableProps<T>) {
  const { t } = useI18n();
  return (
    <MantineDataTable<T>
      withTableBorder
      borderRadius="md"
      highlightOnHover
      verticalSpacing="sm"
      minHeight={props.records?.length ? undefined : 180}
      noRecordsText={t('table.empty')}
      {...(props as DataTableProps<T>)}
    />
  );
}
