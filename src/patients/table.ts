import type { Generated } from 'kysely';

/** Row shape of `patients` in every placement (created by tenant migration 1). */
export interface PatientsTable {
  clinic_id: string;
  id: string;
  mrn: string | null;
  given_name: string;
  family_name: string;
  birth_date: string;
  sex: 'female' | 'male' | 'other' | 'unknown';
  email: string | null;
  phone: string | null;
  version: Generated<number>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
