/**
 * Starting a generation: quota, capacity, the reference images into R2, then
 * the task and its one job written to D1 and handed to the engine
 * (dispatchTask persists before it dispatches). The job must start within the
 * type's queue limit (the board fails it as not_started otherwise); the
 * shorter "no live bridge" limit and the stall limit are judged on read
 * (deadlines.ts).
 */
import { configFrom } from "../../config";
import type { Database, PrincipalRow } from "../../db/client";
import { ApiError } from "../../errors/api-error";
import { dispatchTask, handOff } from "../jobs/dispatch";
import { discardArtifacts } from "../media/artifacts";
import { capacityFor, checkQuota } from "./capacity";
import { storeImages } from "./images";
import { JOB_TYPE_OF, planGeneration, providerRoute, queueLimitS, settleSeed } from "./plan";
import type { GenerationRequest } from "./request";
import { SURFACE } from "./tasks";

interface Started {
  taskId: string;
  seed: number;
}

export async function startGeneration(
  env: Env,
  db: Database,
  owner: PrincipalRow,
  request: GenerationRequest,
  defer: (work: Promise<unknown>) => void,
  now = Date.now(),
): Promise<Started> {
  const config = configFrom(env);
  // Both asked at once; a quota refusal (a rejection) wins over no capacity.
  const [, capacity] = await Promise.all([
    checkQuota(db, owner, now),
    capacityFor(env, JOB_TYPE_OF[request.type], now),
  ]);
  if (!capacity.live) {
    throw new ApiError("no_ready_accounts", `No GPU bridge that can run ${request.model} is online`, {
      userAction: `No GPU capacity can make ${request.type === "video" ? "videos" : "images"} right now: retry in a few minutes, or ask an admin to deploy a capacity account.`,
      details: { model: request.model, type: request.type },
    });
  }
  const seed = settleSeed(request.params.seed);
  const images = await storeImages(env, db, owner.id, request.images);
  const { job, record } = planGeneration(request, seed, providerRoute(config, request.model), images);
  try {
    const { taskId } = await dispatchTask(
      env,
      {
        ownerPrincipalId: owner.id,
        surface: SURFACE,
        jobs: [job],
        startDeadlineAt: new Date(now + queueLimitS(config, request.type) * 1000),
        request: { ...record },
        // Straight to the board when a bridge has a free slot; the queue's batches otherwise.
        direct: capacity.free,
      },
      handOff,
      defer,
    );
    return { taskId, seed };
  } catch (error) {
    // Nothing was written: the images stored for it have no task to belong to.
    await discardArtifacts(env, db, images.stored).catch(() => undefined);
    throw error;
  }
}
