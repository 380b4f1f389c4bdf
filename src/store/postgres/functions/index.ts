import { claimDeliveries } from './claimDeliveries.ts';
import { completeDeliveries } from './completeDeliveries.ts';
import { markLanesReady } from './markLanesReady.ts';
import { publishEvents } from './publishEvents.ts';
import { repairLanes } from './repairLanes.ts';
import { requeueDeliveries } from './requeueDeliveries.ts';
import type { Routine } from './routine.ts';

/** Every server-side function, in the order they are created. */
export const ROUTINES: Routine[] = [markLanesReady, publishEvents, claimDeliveries, completeDeliveries, repairLanes, requeueDeliveries];
