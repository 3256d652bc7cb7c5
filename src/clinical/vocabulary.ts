/**
 * The prescription vocabulary: the dose and dispense units, routes and sig frequencies a prescription may use.
 * Plain constants without dependencies, so the API's validation (schemas.ts) and the web app's forms
 * (web/src/provider/encounter/format.ts) read the one list.
 */

export const DOSE_UNITS = [
  'mg',
  'g',
  'mcg',
  'mL',
  'IU',
  'unit',
  'tablet',
  'capsule',
  'puff',
  'drop',
  'spray',
  'patch',
  'application',
  'suppository',
] as const;
export const DISPENSE_UNITS = [
  'tablet',
  'capsule',
  'mL',
  'g',
  'patch',
  'inhaler',
  'vial',
  'pen',
  'bottle',
  'tube',
  'package',
  'suppository',
  'unit',
] as const;
export const ROUTES = [
  'oral',
  'sublingual',
  'buccal',
  'topical',
  'transdermal',
  'inhalation',
  'nasal',
  'ophthalmic',
  'otic',
  'rectal',
  'vaginal',
  'subcutaneous',
  'intramuscular',
  'intravenous',
  'intradermal',
] as const;
/** Common sig frequencies: once, daily, twice/three/four times daily, every N hours, at bedtime, every other day, weekly, monthly. */
export const FREQUENCIES = ['once', 'daily', 'bid', 'tid', 'qid', 'q4h', 'q6h', 'q8h', 'q12h', 'qhs', 'qod', 'weekly', 'monthly'] as const;
