import type { ScheduleLabelsOverride } from '@mantine/schedule';
import type { Appointment } from '../clinic/data';
import type { I18n } from '../i18n/i18n';

export function statusLabel(t: I18n['t'], status: Appointment['status']): string {
  return t(`status.${status}`);
}

export function scheduleLabels(t: I18n['t']): ScheduleLabelsOverride {
  return {
    day: t('schedule.day'),
    week: t('schedule.week'),
    today: t('schedule.today'),
    next: t('schedule.next'),
    previous: t('schedule.previous'),
    allDay: t('schedule.allDay'),
    noEvents: t('schedule.empty'),
    timeSlot: t('schedule.timeSlot'),
  };
}
