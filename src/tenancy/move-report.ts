import type { Clinic } from '../controlplane/clinics.js';
import type { PlacementModel, Placement } from './naming.js';
import type { TableChecksum } from './placement/copy.js';

/** What `moveClinic` (`move.ts`) answers and records, and the seams it offers. */

export interface MoveReport {
  id: string;
  from: PlacementModel;
  to: PlacementModel;
  /** The clinic's data region before and after the move (the same for a move inside its region). */
  fromRegion: string;
  toRegion: string;
  frozenMs: number;
  /** Verified in a snapshot just before the freeze; what was written after it was verified row by row. */
  tables: TableChecksum[];
  /** False when the copy the clinic left could not be removed; it is fenced, and the next move there clears it. */
  sourceRemoved: boolean;
  /** Changes the clinic made during the copy, replayed onto the target before and during the freeze. */
  replayed: { beforeFreeze: number; inFreeze: number };
  /** What a move to another region carried besides the store (its PHI audit trail); null inside a region. */
  handover: HandoverReport | null;
}

/** One step of a move as the operator console shows it while the move runs (kept in `placement_moves.detail`). */
export interface MoveStep {
  step: 'prepare' | 'freeze' | 'copy' | 'verify' | 'switch' | 'cleanup' | 'done' | 'failed';
  at: string;
  table: string | null;
  rows: number | null;
}
export interface MoveProgress {
  percent: number;
  steps: MoveStep[];
}

/**
 * Seams for tests: write while the bulk is copied (after its first table, inside the copy's snapshot), act while
 * writes are frozen, or tamper with the copy before it is verified.
 */
export interface MoveHooks {
  duringCopy?: () => Promise<void>;
  /** After the full verification, before the freeze: writes here reach the target only through the freeze's tail. */
  beforeFreeze?: () => Promise<void>;
  duringFreeze?: () => Promise<void>;
  beforeVerify?: (target: { url: string; placement: Placement }) => Promise<void>;
}

/**
 * A move to another region of the clinic's jurisdiction: the region, and what else the clinic owns there
 * beside its store. That state (the PHI audit trail) belongs to a domain above tenancy, so the regions domain
 * supplies it (`regions/move.ts`) and the move drives it at its steps, under the same freeze and epochs.
 */
export interface RegionChange {
  region: string;
  /** Called under the move's lock with the clinic as it is now; throws (an `AppError`) to refuse the move. */
  handover(clinic: Clinic): RegionHandover;
}

export interface RegionHandover {
  /** While the clinic is served, before the freeze: the bulk, copied to the target region. */
  prepare(): Promise<void>;
  /**
   * In the freeze, once the store's tail is verified: the rest, copied and verified; from here until
   * `switched` (or `abandon`) the source takes nothing more (writers wait, they are not refused).
   */
  beforeSwitch(): Promise<void>;
  /** Right after the control plane names the target region: the source refuses from now on. */
  switched(): Promise<void>;
  /** The move failed before its switch: the source takes writes again; the target's partial copy goes. */
  abandon(): Promise<void>;
  /** The clinic is served again: verify at the target, remove the source's copy. */
  finish(): Promise<HandoverReport>;
}

export interface HandoverReport {
  /** What was handed over ("audit trail"). */
  what: string;
  records: number;
  /** Verified at the target after the switch (for the trail: its hash chain, from the first record). */
  verified: boolean;
  sourceRemoved: boolean;
}

export type MoveResult = { clinic: Clinic; move: MoveReport };
