import { cancelPending } from './cancelPending.ts';
import { claimDeliveries } from './claimDeliveries.ts';
import { completeDeliveries } from './completeDeliveries.ts';
import { leaseDue } from './leaseDue.ts';
import { markLanesReady } from './markLanesReady.ts';
import { pruneHistory } from './pruneHistory.ts';
import { publishEvents } from './publishEvents.ts';
import { releaseLeases } from './releaseLeases.ts';
import { repairLanes } from './repairLanes.ts';
import type { Routine } from './routine.ts';

/** Every server-side function, in the order they are created (a LANGUAGE sql body must find the ones it calls). */
export const ROUTINES: Routine[] = [markLanesReady, cancelPending, publishEvents, leaseDue, claimDeliveries, completeDeliveries, repairLanes, releaseLeases, pruneHistory];
